/**
 * Is the server able to write? A full disk makes SQLite fail writes with SQLITE_FULL (and file
 * writes with ENOSPC). Such a failure is not a bug: the request gets 503 `storage_full` with
 * Retry-After, and /healthz reports the server as unable to write, with the reason, until a
 * write succeeds again (probed by /healthz itself) .
 */
import { statfsSync } from 'node:fs';

import type Database from 'better-sqlite3';

/** Seconds a client should wait before retrying a write refused for a full disk. */
export const STORAGE_FULL_RETRY_AFTER_S = 60;

/** True for the errors a full disk produces (better-sqlite3's SqliteError, Node's ErrnoException). */
export function isStorageFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_FULL' || code === 'ENOSPC';
}

export interface StorageStatus {
  ok: boolean;
  /** Why the server cannot write, for people (null when ok). */
  problem: string | null;
  /** When the first refused write of the current spell happened (ms since the epoch), if any. */
  fullSince: number | null;
}

export class StorageHealth {
  private fullSince: number | null = null;
  private lastError = '';

  constructor(
    private readonly db: Database.Database,
    private readonly dataDir: string,
    private readonly now: () => number,
  ) {}

  /** A write failed because the disk is full. */
  noteFull(error: unknown): void {
    this.fullSince ??= this.now();
    this.lastError = error instanceof Error ? error.message : String(error);
  }

  /**
   * The current state. After a refused write, probe with a tiny write (it clears the state when
   * space is back); otherwise only ask the file system how much space is left (no database work).
   */
  check(): StorageStatus {
    if (this.fullSince !== null) {
      try {
        this.db
          .prepare(
            "INSERT INTO meta (key, value) VALUES ('storage_probe', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
          )
          .run(String(this.now()));
        this.fullSince = null;
      } catch (error) {
        if (!isStorageFull(error)) throw error;
        return {
          ok: false,
          problem: `the disk holding ${this.dataDir} is full: writes fail (${this.lastError}); free space there`,
          fullSince: this.fullSince,
        };
      }
    }
    const free = freeBytes(this.dataDir);
    if (free === 0)
      return {
        ok: false,
        problem: `the disk holding ${this.dataDir} has no free space left; writes will fail until space is freed`,
        fullSince: null,
      };
    return { ok: true, problem: null, fullSince: null };
  }
}

/** Bytes available to this process on the file system of `dir`; null when unknown. */
function freeBytes(dir: string): number | null {
  try {
    const stats = statfsSync(dir);
    return stats.bavail * stats.bsize;
  } catch {
    return null;
  }
}
