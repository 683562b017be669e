/**
 * One server process per data directory: the server keeps caches (device keys, the current
 * policy, the replay cache) that a second writer would silently make stale. The lock is a file
 * holding the owner's pid, created exclusively; a lock left by a process that no longer exists
 * is taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync, constants } from 'node:fs';
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

export interface DataDirLock {
  release(): void;
}

export function lockDataDir(dataDir: string): DataDirLock {
  const file = resolve(join(dataDir, LOCK_FILE));
  if (heldInThisProcess.has(file)) throw new DataDirLockedError(`the data directory ${dataDir} is already in use by a server in this process`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      writeSync(fd, `${process.pid}\n`);
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
      try {
        pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
      } catch {
        // Unreadable or vanished: treat as stale below.
      }
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new DataDirLockedError(`the data directory ${dataDir} is in use by another aigate-server (pid ${pid}); stop it first`);
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
