/**
 * One agent per state directory. The lock is a file holding the owner's pid, created with an
 * atomic link(2) so two agents starting together cannot both win. A lock left by a process that
 * no longer exists (a crash, a kill -9) is taken over.
 */
import { randomBytes } from 'node:crypto';
import { link, readFile, rename, rm, writeFile } from 'node:fs/promises';

import { isAlive } from '../pid.js';

export class LockHeldError extends Error {
  constructor(
    readonly path: string,
    readonly pid: number,
  ) {
    super(
      `another aigate agent (pid ${pid}) is using this state directory (${path}); stop it first, or pass another --state-dir`,
    );
    this.name = 'LockHeldError';
  }
}

export interface AgentLock {
  readonly path: string;
  release(): Promise<void>;
}

async function readOwner(path: string): Promise<number | null> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as { pid?: unknown };
    return typeof parsed.pid === 'number' && Number.isInteger(parsed.pid) && parsed.pid > 0 ? parsed.pid : null;
  } catch {
    return null;
  }
}

export async function acquireLock(path: string): Promise<AgentLock> {
  const content = `${JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() })}\n`;
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(temp, content, { mode: 0o644 });
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(temp, path);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = await readOwner(path);
      if (owner !== null && isAlive(owner)) throw new LockHeldError(path, owner);
      // Stale (or unreadable): replace it atomically, then make sure nobody else did the same.
      await rename(temp, path);
      await writeFile(temp, content, { mode: 0o644 });
      if ((await readOwner(path)) === process.pid) break;
    }
    if ((await readOwner(path)) !== process.pid) throw new LockHeldError(path, (await readOwner(path)) ?? 0);
  } finally {
    await rm(temp, { force: true });
  }
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      if ((await readOwner(path)) === process.pid) await rm(path, { force: true });
    },
  };
}
