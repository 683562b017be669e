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
 * time are read again, so a recycled pid is not hit. The process list is the host's
 * (agent/host/processes.ts): Linux reads /proc; macOS uses `ps` (uids and start time included,
 * no exe identity); Windows gives no owner, so nothing is stopped there.
 */
import { lstat, realpath } from 'node:fs/promises';
import * as path from 'node:path';

import { listProcesses as listHostProcesses, type ProcessInfo, readProcess } from '../host/processes.js';
import { isAlive } from '../pid.js';
import { identityOf, sameIdentity } from './fs-facts.js';
import { isWithin } from './guard.js';

export type { ProcessInfo } from '../host/processes.js';

const INTERPRETERS = /^(node|nodejs|bun|deno|python[0-9.]*|pypy[0-9.]*|ruby|java|electron|sh|bash|dash|zsh)(\.exe)?$/i;

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

/** Every process, with executable identities (Linux); [] when the list cannot be had. */
export async function listProcesses(): Promise<ProcessInfo[]> {
  try {
    return (await listHostProcesses({ exeId: true })).processes;
  } catch {
    return [];
  }
}

/** The script an interpreter runs: its first non-option argument, made absolute. */
function scriptOf(info: ProcessInfo): string | null {
  const program = path.basename(info.exe ?? info.argv[0] ?? '');
  if (!INTERPRETERS.test(program) && !INTERPRETERS.test(path.basename(info.argv[0] ?? ''))) return null;
  const script = info.argv.slice(1).find((arg) => !arg.startsWith('-'));
  if (!script) return null;
  if (path.isAbsolute(script)) return path.normalize(script);
  return info.cwd ? path.resolve(info.cwd, script) : null;
}

/** The spec's folders and files that are still the recorded objects (checked without following symlinks). */
async function verifiedSpec(spec: StopSpec): Promise<{ folders: Identified[]; files: Identified[] }> {
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
  if (info.uid === null || info.euid === null) return { kind: 'skip', reason: `${why}, but its owner is unknown` };
  if (!spec.owners) return { kind: 'skip', reason: `${why}, but the ledger entry records no owner` };
  if (!spec.owners.includes(info.uid) || !spec.owners.includes(info.euid)) {
    return {
      kind: 'skip',
      reason: `${why}, but it runs as uid ${info.uid}/${info.euid}, not the instance's owner (${spec.owners.join(', ')})`,
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

/** The same process still (uids and start time unchanged, both known)? */
function unchanged(info: ProcessInfo): boolean {
  const now = readProcess(info.pid);
  return (
    now !== null &&
    now.startTicks !== null &&
    now.startTicks === info.startTicks &&
    now.uid === info.uid &&
    now.euid === info.euid
  );
}

/** Stops every process of the instance (see the module comment). Windows: not supported yet. */
export async function stopProcesses(spec: StopSpec): Promise<StopResult> {
  const result: StopResult = { terminated: [], killed: [], failed: [], skipped: [] };
  const { stop, skipped } = await findInstanceProcesses(spec);
  result.skipped = skipped;
  const signal = async (info: ProcessInfo, sig: NodeJS.Signals, into: number[]) => {
    if (!unchanged(info)) return;
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
