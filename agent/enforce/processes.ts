/**
 * Stopping the running processes of a blocked instance: SIGTERM, then SIGKILL for those still
 * alive after a grace period. A process counts when its executable, or a path among its
 * arguments, lies inside the instance's folders (its old place or the quarantine), or when an
 * interpreter (node, python, ...) runs with its working folder there. A shell that merely sits
 * in such a folder is left alone, and so are this agent, its parent and pid 1.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { isAlive } from '../pid.js';
import { isWithin } from './guard.js';

const run = promisify(execFile);

const INTERPRETERS = /^(node|nodejs|bun|deno|python[0-9.]*|pypy[0-9.]*|ruby|java|electron)(\.exe)?$/i;

export interface ProcessInfo {
  pid: number;
  exe: string | null;
  cwd: string | null;
  args: string[];
}

async function linuxProcesses(): Promise<ProcessInfo[]> {
  const out: ProcessInfo[] = [];
  let names: string[];
  try {
    names = await readdir('/proc');
  } catch {
    return out;
  }
  await Promise.all(
    names
      .filter((name) => /^\d+$/.test(name))
      .map(async (name) => {
        const dir = `/proc/${name}`;
        const [exe, cwd, cmdline] = await Promise.all([
          readlink(`${dir}/exe`).catch(() => null),
          readlink(`${dir}/cwd`).catch(() => null),
          readFile(`${dir}/cmdline`).catch(() => null),
        ]);
        if (cmdline === null && exe === null) return;
        const args = cmdline ? cmdline.toString('utf8').split('\0').filter(Boolean) : [];
        out.push({ pid: Number(name), exe: exe?.replace(/ \(deleted\)$/, '') ?? null, cwd, args });
      }),
  );
  return out;
}

async function psProcesses(): Promise<ProcessInfo[]> {
  try {
    const { stdout } = await run('ps', ['-axo', 'pid=,command='], { maxBuffer: 32 * 1024 * 1024 });
    return stdout
      .split('\n')
      .map((line) => /^\s*(\d+)\s+(.*)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ pid: Number(m[1]), exe: null, cwd: null, args: m[2]!.split(/\s+/) }));
  } catch {
    return [];
  }
}

export async function listProcesses(): Promise<ProcessInfo[]> {
  if (process.platform === 'linux') return linuxProcesses();
  if (process.platform === 'darwin') return psProcesses();
  return [];
}

export function belongsTo(info: ProcessInfo, roots: readonly string[]): boolean {
  const inside = (p: string | null) => p !== null && path.isAbsolute(p) && roots.some((root) => isWithin(p, root));
  if (inside(info.exe)) return true;
  if (info.args.some((arg) => inside(arg))) return true;
  const program = path.basename(info.exe ?? info.args[0] ?? '');
  return INTERPRETERS.test(program) && inside(info.cwd);
}

function protectedPids(): Set<number> {
  return new Set([0, 1, process.pid, process.ppid]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface StopResult {
  terminated: number[];
  killed: number[];
  failed: { pid: number; error: string }[];
}

/** Stops every process of the instance (see the module comment). Windows: not supported yet. */
export async function stopProcesses(roots: readonly string[], graceMs: number): Promise<StopResult> {
  const result: StopResult = { terminated: [], killed: [], failed: [] };
  if (roots.length === 0) return result;
  const skip = protectedPids();
  const targets = (await listProcesses()).filter((info) => !skip.has(info.pid) && belongsTo(info, roots)).map((info) => info.pid);
  for (const pid of targets) {
    try {
      process.kill(pid, 'SIGTERM');
      result.terminated.push(pid);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') result.failed.push({ pid, error: (error as Error).message });
    }
  }
  const deadline = Date.now() + graceMs;
  while (result.terminated.some(isAlive) && Date.now() < deadline) await sleep(Math.min(100, graceMs));
  for (const pid of result.terminated.filter(isAlive)) {
    try {
      process.kill(pid, 'SIGKILL');
      result.killed.push(pid);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') result.failed.push({ pid, error: (error as Error).message });
    }
  }
  return result;
}
