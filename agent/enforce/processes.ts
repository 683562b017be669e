/**
 * Stopping the running processes of a blocked instance: SIGTERM, then SIGKILL for those still
 * alive after a grace period. A process is stopped only when BOTH hold:
 *
 * - it runs the instance: its executable (/proc/<pid>/exe, as the kernel resolved it) lies inside
 *   a quarantined folder whose device+inode is still the one recorded, or is a kept original
 *   (same device+inode); or it is an interpreter (node, python, ...) whose script — the first
 *   non-option argument, resolved against its working folder — lies inside the quarantined
 *   folder or the install folder it came from, or is one of the instance's launchers or kept
 *   originals;
 * - its real and effective uid (/proc/<pid>/status) are among the instance's owners: the home's
 *   user for an install in a home, root (and the install folder's owner) for a system prefix.
 *
 * Anything matching by path but owned by someone else is skipped and reported, never signalled;
 * so are this agent, its parent and pid 1. Just before each signal the process's uid and start
 * time are read again, so a recycled pid is not hit. Linux reads /proc; macOS uses `ps` (uid
 * included) and has no exe identity; Windows is not supported yet.
 */
import { execFile } from 'node:child_process';
import { lstat, readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';

import { isAlive } from '../pid.js';
import { identityOf, sameIdentity } from './fs-facts.js';
import { isWithin } from './guard.js';

const run = promisify(execFile);

const INTERPRETERS = /^(node|nodejs|bun|deno|python[0-9.]*|pypy[0-9.]*|ruby|java|electron|sh|bash|dash|zsh)(\.exe)?$/i;

export interface ProcessInfo {
  pid: number;
  exe: string | null;
  /** Device+inode of the executable, when known (Linux). */
  exeId: { dev: string; ino: string } | null;
  cwd: string | null;
  args: string[];
  /** Real and effective uid; null when unknown (then the process is never stopped). */
  uids: { real: number; effective: number } | null;
  /** Start time in clock ticks since boot (Linux), to recognise a recycled pid. */
  startTime: string | null;
}

/** A folder or file of the instance, with the identity it must still have. */
export interface Identified {
  path: string;
  dev?: string;
  ino?: string;
  /** For a quarantined folder: where it was before (scripts started there keep that path). */
  from?: string;
}

/** What a stop-processes step names (see ledger.ts). */
export interface StopSpec {
  /** Paths, for messages (and older ledgers). */
  roots: readonly string[];
  graceMs: number;
  /** Allowed process owners; absent (an older ledger): nothing is stopped. */
  owners?: readonly number[];
  /** Quarantined (or still in place) install folders. */
  folders?: readonly Identified[];
  /** Launchers and kept originals. */
  files?: readonly Identified[];
}

function parseStatus(text: string): ProcessInfo['uids'] {
  const line = /^Uid:\s+(\d+)\s+(\d+)/m.exec(text);
  return line ? { real: Number(line[1]), effective: Number(line[2]) } : null;
}

function parseStartTime(text: string): string | null {
  // Field 22 of /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return rest[19] ?? null;
}

async function procInfo(pid: number): Promise<ProcessInfo | null> {
  const dir = `/proc/${pid}`;
  const [exe, exeStat, cwd, cmdline, status, statText] = await Promise.all([
    readlink(`${dir}/exe`).catch(() => null),
    stat(`${dir}/exe`, { bigint: true }).catch(() => null),
    readlink(`${dir}/cwd`).catch(() => null),
    readFile(`${dir}/cmdline`).catch(() => null),
    readFile(`${dir}/status`, 'utf8').catch(() => null),
    readFile(`${dir}/stat`, 'utf8').catch(() => null),
  ]);
  if (cmdline === null && exe === null) return null;
  // The reads above are not atomic: if the pid ended and was reused meanwhile, the fields may
  // mix two processes (one's executable, the other's owner and start time) and the start-time
  // check before a signal would then pass for the wrong one. Read the start time again and drop
  // the entry when it changed (the next listing sees the new process whole).
  const startTime = statText ? parseStartTime(statText) : null;
  const again = await readFile(`${dir}/stat`, 'utf8').catch(() => null);
  if (startTime === null || again === null || parseStartTime(again) !== startTime) return null;
  const args = cmdline
    ? cmdline
        .subarray(0, 64 * 1024)
        .toString('utf8')
        .split('\0')
        .filter(Boolean)
    : [];
  return {
    pid,
    exe: exe?.replace(/ \(deleted\)$/, '') ?? null,
    exeId: exeStat ? identityOf(exeStat) : null,
    cwd,
    args,
    uids: status ? parseStatus(status) : null,
    startTime,
  };
}

async function linuxProcesses(): Promise<ProcessInfo[]> {
  let names: string[];
  try {
    names = await readdir('/proc');
  } catch {
    return [];
  }
  const all = await Promise.all(names.filter((name) => /^\d+$/.test(name)).map((name) => procInfo(Number(name))));
  return all.filter((info): info is ProcessInfo => info !== null);
}

async function psProcesses(): Promise<ProcessInfo[]> {
  try {
    const { stdout } = await run('ps', ['-axo', 'pid=,ruid=,uid=,command='], { maxBuffer: 32 * 1024 * 1024 });
    return stdout
      .split('\n')
      .map((line) => /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(.*)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({
        pid: Number(m[1]),
        exe: null,
        exeId: null,
        cwd: null,
        args: m[4]!.split(/\s+/),
        uids: { real: Number(m[2]), effective: Number(m[3]) },
        startTime: null,
      }));
  } catch {
    return [];
  }
}

export async function listProcesses(): Promise<ProcessInfo[]> {
  if (process.platform === 'linux') return linuxProcesses();
  if (process.platform === 'darwin') return psProcesses();
  return [];
}

/** The script an interpreter runs: its first non-option argument, made absolute. */
export function scriptOf(info: ProcessInfo): string | null {
  const program = path.basename(info.exe ?? info.args[0] ?? '');
  if (!INTERPRETERS.test(program) && !INTERPRETERS.test(path.basename(info.args[0] ?? ''))) return null;
  const script = info.args.slice(1).find((arg) => !arg.startsWith('-'));
  if (!script) return null;
  if (path.isAbsolute(script)) return path.normalize(script);
  return info.cwd ? path.resolve(info.cwd, script) : null;
}

/** The spec's folders and files that are still the recorded objects (checked without following symlinks). */
export async function verifiedSpec(spec: StopSpec): Promise<{ folders: Identified[]; files: Identified[] }> {
  const check = async (item: Identified): Promise<Identified | null> => {
    if (item.dev === undefined || item.ino === undefined) return null;
    try {
      const info = await lstat(item.path, { bigint: true });
      return sameIdentity(identityOf(info), item) ? item : null;
    } catch {
      return null;
    }
  };
  const folders = (await Promise.all((spec.folders ?? []).map(check))).filter((x): x is Identified => x !== null);
  // Files: an unverified launcher path still names the instance for a script argument; only
  // identities are needed for the executable check.
  return { folders, files: [...(spec.files ?? [])] };
}

export type ProcessMatch = { kind: 'stop' } | { kind: 'skip'; reason: string } | { kind: 'none' };

/** Does the process run the instance, and may it be stopped? (See the module comment.) */
export function matchProcess(
  info: ProcessInfo,
  spec: { owners?: readonly number[]; folders: readonly Identified[]; files: readonly Identified[] },
  realScript?: string | null,
): ProcessMatch {
  const inFolder = (p: string | null, withFrom: boolean) =>
    p !== null &&
    spec.folders.some(
      (folder) => isWithin(p, folder.path) || (withFrom && folder.from !== undefined && isWithin(p, folder.from)),
    );
  const isFile = (p: string | null) => p !== null && spec.files.some((file) => file.path === p);
  let why: string | null = null;
  if (inFolder(info.exe, false)) why = `its executable ${info.exe} lies in the quarantined instance`;
  else if (info.exeId && spec.files.some((file) => sameIdentity(info.exeId!, file)))
    why = `its executable is the instance's kept original`;
  else {
    const script = scriptOf(info);
    if (script && (inFolder(script, true) || isFile(script))) why = `its script ${script} belongs to the instance`;
    else if (realScript && inFolder(realScript, false)) why = `its script resolves into the quarantined instance`;
  }
  if (!why) return { kind: 'none' };
  if (!info.uids) return { kind: 'skip', reason: `${why}, but its owner is unknown` };
  if (!spec.owners) return { kind: 'skip', reason: `${why}, but the ledger entry records no owner` };
  if (!spec.owners.includes(info.uids.real) || !spec.owners.includes(info.uids.effective)) {
    return {
      kind: 'skip',
      reason: `${why}, but it runs as uid ${info.uids.real}/${info.uids.effective}, not the instance's owner (${spec.owners.join(', ')})`,
    };
  }
  return { kind: 'stop' };
}

function protectedPids(): Set<number> {
  return new Set([0, 1, process.pid, process.ppid]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface StopResult {
  terminated: number[];
  killed: number[];
  failed: { pid: number; error: string }[];
  /** Processes that looked like the instance's but were left alone, and why. */
  skipped: { pid: number; reason: string }[];
}

/** The processes `spec` would stop, and those it leaves alone (see the module comment). */
export async function findInstanceProcesses(
  spec: StopSpec,
  processes?: ProcessInfo[],
): Promise<{ stop: ProcessInfo[]; skipped: { pid: number; reason: string }[] }> {
  const verified = await verifiedSpec(spec);
  const match = { ...(spec.owners ? { owners: spec.owners } : {}), ...verified };
  const skip = protectedPids();
  const stop: ProcessInfo[] = [];
  const skipped: { pid: number; reason: string }[] = [];
  if (verified.folders.length === 0 && verified.files.length === 0) return { stop, skipped };
  for (const info of processes ?? (await listProcesses())) {
    if (skip.has(info.pid)) continue;
    const script = scriptOf(info);
    const realScript = script ? await realpath(script).catch(() => null) : null;
    const result = matchProcess(info, match, realScript);
    if (result.kind === 'stop') stop.push(info);
    else if (result.kind === 'skip') skipped.push({ pid: info.pid, reason: result.reason });
  }
  return { stop, skipped };
}

/** The same process still (uid and start time unchanged)? */
async function unchanged(info: ProcessInfo): Promise<boolean> {
  if (process.platform !== 'linux') return isAlive(info.pid);
  const now = await procInfo(info.pid);
  return (
    now !== null &&
    now.startTime === info.startTime &&
    now.uids?.real === info.uids?.real &&
    now.uids?.effective === info.uids?.effective
  );
}

/** Stops every process of the instance (see the module comment). Windows: not supported yet. */
export async function stopProcesses(spec: StopSpec): Promise<StopResult> {
  const result: StopResult = { terminated: [], killed: [], failed: [], skipped: [] };
  const { stop, skipped } = await findInstanceProcesses(spec);
  result.skipped = skipped;
  const signal = async (info: ProcessInfo, sig: NodeJS.Signals, into: number[]) => {
    if (!(await unchanged(info))) return;
    try {
      process.kill(info.pid, sig);
      into.push(info.pid);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH')
        result.failed.push({ pid: info.pid, error: (error as Error).message });
    }
  };
  for (const info of stop) await signal(info, 'SIGTERM', result.terminated);
  const deadline = Date.now() + spec.graceMs;
  while (result.terminated.some(isAlive) && Date.now() < deadline) await sleep(Math.min(100, spec.graceMs));
  const left = new Set(result.terminated.filter(isAlive));
  for (const info of stop.filter((p) => left.has(p.pid))) await signal(info, 'SIGKILL', result.killed);
  return result;
}
