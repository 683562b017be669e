/**
 * One server process per data directory: the server keeps caches (device keys, the current
 * policy, the replay cache) that a second writer would silently make stale. The lock is a file
 * holding the owner's pid and that process's start time, created exclusively. A lock is stale,
 * and taken over, when its pid no longer exists or now belongs to another process (pids are
 * reused after a reboot or a crash): on Linux the start time in `/proc/<pid>/stat` must match
 * the one recorded, and a lock without one must name a process whose command line mentions
 * aigate. Elsewhere a live pid holds the lock.
 */
import { closeSync, constants, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const LOCK_FILE = 'aigate-server.lock';

export class DataDirLockedError extends Error {}

const heldInThisProcess = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The start time of process `pid` in clock ticks since boot (field 22 of `/proc/<pid>/stat`,
 * see proc(5)); null where there is no /proc or the process is gone.
 */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may itself contain spaces and ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = fields[19];
    return start && /^\d+$/.test(start) ? start : null;
  } catch {
    return null;
  }
}

function commandLine(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return null;
  }
}

/** Is the lock's owner (pid, recorded start time) still the process holding it? */
function holderIsRunning(pid: number, recordedStart: string | null): boolean {
  if (!alive(pid)) return false;
  const start = processStartTime(pid);
  if (start === null) return true; // No /proc: a live pid is taken to hold the lock.
  if (recordedStart !== null) return start === recordedStart;
  // A lock written without a start time: the pid must at least be an aigate server.
  const command = commandLine(pid);
  return command === null || /aigate/i.test(command);
}

export interface DataDirLock {
  release(): void;
}

export function lockDataDir(dataDir: string): DataDirLock {
  const file = resolve(join(dataDir, LOCK_FILE));
  if (heldInThisProcess.has(file))
    throw new DataDirLockedError(`the data directory ${dataDir} is already in use by a server in this process`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      writeSync(fd, `${process.pid}\n${processStartTime(process.pid) ?? ''}\n`);
      closeSync(fd);
      heldInThisProcess.add(file);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          heldInThisProcess.delete(file);
          try {
            unlinkSync(file);
          } catch {
            // Already gone: nothing to release.
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let pid = NaN;
      let recordedStart: string | null = null;
      try {
        const [pidLine, startLine] = readFileSync(file, 'utf8').split('\n');
        pid = Number.parseInt(pidLine?.trim() ?? '', 10);
        recordedStart = startLine?.trim() || null;
      } catch {
        // Unreadable or vanished: treat as stale below.
      }
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && holderIsRunning(pid, recordedStart)) {
        throw new DataDirLockedError(
          `the data directory ${dataDir} is in use by another aigate-server (pid ${pid}); stop it first`,
        );
      }
      try {
        unlinkSync(file);
      } catch {
        // Someone else removed it first; retry the exclusive create.
      }
    }
  }
  throw new DataDirLockedError(`could not lock the data directory ${dataDir}`);
}
