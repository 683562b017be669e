/**
 * The process list of this machine, in one shape for every OS and every reader (the inventory's
 * "running" marks, the enforcement's stop step, the sentinel):
 *
 * - Linux: /proc (proc-fs.ts), read without following anything a user controls;
 * - macOS: `ps` (ps.ts), two calls joined by pid and start time;
 * - Windows: the CIM process list through PowerShell (cim.ts).
 *
 * Every field may be unknown (null) where the OS does not give it or the read failed; readers
 * that act on a process (stop it) treat unknown as "do nothing".
 */
import { execFile, execFileSync } from 'node:child_process';
import * as path from 'node:path';

import { CIM_COMMAND, cimOneCommand, parseCimProcesses } from './cim.js';
import { hostOs } from './os.js';
import { listPids, readProcFs } from './proc-fs.js';
import { joinPsLists, PS_ARGS, PS_COMM, psArgsFor } from './ps.js';

/** One process, as far as the OS tells. */
export interface ProcessInfo {
  pid: number;
  /** Parent pid, or null when unknown. */
  ppid: number | null;
  /** Real uid; null when unknown (Windows has no uids: its processes are never stopped by uid rules). */
  uid: number | null;
  /** Effective uid; null when unknown. */
  euid: number | null;
  /**
   * The executable: Linux the kernel's `/proc/<pid>/exe` link (` (deleted)` removed), macOS the
   * path `ps -o comm` gives, Windows `ExecutablePath`. Null when unknown (kernel thread, denied).
   */
  exe: string | null;
  /** Device+inode of the executable (Linux, and only when asked for); null otherwise. */
  exeId: { dev: string; ino: string } | null;
  /** argv: Linux exact (at most 64 KiB), macOS `ps` args split on spaces, Windows CommandLine split. */
  argv: string[];
  /** Working folder (Linux `/proc/<pid>/cwd`), for a relative script argument; null elsewhere. */
  cwd: string | null;
  /**
   * When the process started, to tell a reused pid apart; compared for equality only. Linux:
   * clock ticks since boot (`/proc/<pid>/stat` field 22); macOS: seconds of `ps -o lstart`
   * (read as UTC: only equality matters); Windows: milliseconds of `CreationDate` since 1970.
   */
  startTicks: number | null;
  /**
   * Which program image the process runs since its last exec (Linux, read with `exeId`, as root):
   * the addresses of its argument and environment areas (`/proc/<pid>/stat` fields 48 and 51; an
   * exec lays them out anew, at random places under ASLR; `process.title` rewrites the text in
   * place and leaves them) and the executable's device+inode. Equal keys for the same pid and start
   * time mean no exec happened between two reads, even if the command line now shows a title.
   * Null or absent when unknown (not root, not Linux).
   */
  imageKey?: string | null;
}

/** A listing and how many executables could not be read for lack of permission (Linux, not root). */
export interface ProcessList {
  processes: ProcessInfo[];
  exeDenied: number;
}

/** Upper bound on listed processes (a fork bomb must not make the agent's work unbounded). */
const MAX_PROCESSES = 100_000;
const LIST_TIMEOUT_MS = 10_000;
const LIST_MAX_BYTES = 64 * 1024 * 1024;
/** argv entries looked at for a program path (the runtime, then the script it runs). */
const ARGS_CONSIDERED = 3;

/**
 * Every process now running. Linux reads /proc (with executable identities when `exeId`), yielding
 * to the event loop now and then; macOS runs `ps` twice; Windows runs PowerShell once.
 * Throws when the list cannot be had at all (no /proc, `ps` or PowerShell failing).
 */
export async function listProcesses(options: { exeId?: boolean } = {}): Promise<ProcessList> {
  switch (hostOs()) {
    case 'linux': {
      const processes: ProcessInfo[] = [];
      let exeDenied = 0;
      const pids = listPids('/proc').slice(0, MAX_PROCESSES);
      for (let i = 0; i < pids.length; i++) {
        const read = readProcFs(pids[i]!, '/proc', options.exeId === true);
        if (read) {
          processes.push(read.info);
          if (read.exeDenied) exeDenied++;
        }
        // A few thousand small reads: let timers and sockets run between batches.
        if (i % 256 === 255) await new Promise((resolve) => setImmediate(resolve));
      }
      return { processes, exeDenied };
    }
    case 'darwin': {
      const [args, comm] = await Promise.all([run('ps', PS_ARGS), run('ps', PS_COMM)]);
      return { processes: joinPsLists(args, comm).slice(0, MAX_PROCESSES), exeDenied: 0 };
    }
    case 'windows':
      return {
        processes: parseCimProcesses(await run('powershell.exe', CIM_COMMAND)).slice(0, MAX_PROCESSES),
        exeDenied: 0,
      };
  }
}

/**
 * One process, read now, or null when it is gone (or cannot be read). Linux reads /proc (or
 * `procRoot`); macOS runs `ps -p`; Windows runs PowerShell for that one process (slow: used
 * only right before a signal).
 */
export function readProcess(pid: number, options: { procRoot?: string; exeId?: boolean } = {}): ProcessInfo | null {
  const os = hostOs();
  if (os === 'linux' || options.procRoot !== undefined)
    return readProcFs(pid, options.procRoot ?? '/proc', options.exeId === true)?.info ?? null;
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  try {
    if (os === 'darwin') {
      const [args, comm] = psArgsFor(pid).map((argv) => runSync('ps', argv));
      return joinPsLists(args!, comm!).find((p) => p.pid === pid) ?? null;
    }
    return parseCimProcesses(runSync('powershell.exe', cimOneCommand(pid))).find((p) => p.pid === pid) ?? null;
  } catch {
    // `ps -p` exits 1 when the pid is gone
    return null;
  }
}

/**
 * The absolute paths that name a process's program: its executable and the absolute ones among
 * its first arguments (the script a runtime such as node runs), options skipped. `os` chooses
 * what "absolute" means (a drive or UNC path on Windows).
 */
export function programPaths(info: Pick<ProcessInfo, 'exe' | 'argv'>, os = hostOs()): string[] {
  const isAbsolute = os === 'windows' ? isWindowsAbsolute : path.posix.isAbsolute;
  const out = new Set<string>();
  if (info.exe && isAbsolute(info.exe)) out.add(info.exe);
  for (const arg of argvPaths(info.argv, isAbsolute)) out.add(arg);
  return [...out];
}

/** Absolute paths among the first few argv entries (skipping options such as `--inspect`). */
export function argvPaths(argv: readonly string[], isAbsolute: (p: string) => boolean): string[] {
  const out: string[] = [];
  for (const arg of argv.slice(0, ARGS_CONSIDERED))
    if (arg !== '' && !arg.startsWith('-') && isAbsolute(arg)) out.push(arg);
  return out;
}

function isWindowsAbsolute(p: string): boolean {
  return /^[A-Za-z]:[\\/]|^\\\\/.test(p);
}

// Outside commands run with a fixed locale: `ps -o lstart` is then in English and C format.
const COMMAND_ENV = { ...process.env, LC_ALL: 'C', LANG: 'C' };

function run(file: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { timeout: LIST_TIMEOUT_MS, maxBuffer: LIST_MAX_BYTES, windowsHide: true, encoding: 'utf8', env: COMMAND_ENV },
      (error, stdout) => (error ? reject(error) : resolve(stdout)),
    );
  });
}

function runSync(file: string, args: readonly string[]): string {
  return execFileSync(file, args, {
    timeout: LIST_TIMEOUT_MS,
    maxBuffer: LIST_MAX_BYTES,
    windowsHide: true,
    encoding: 'utf8',
    env: COMMAND_ENV,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
}
