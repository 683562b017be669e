/**
 * Read-only connections for long reads (report streams, the rollup job's passes). A
 * better-sqlite3 connection is busy for as long as a statement is being iterated, so a report
 * streamed to a slow client on the server's own connection would make every check-in fail.
 * Each long read gets its own connection instead; in WAL mode it reads a consistent snapshot
 * (from its first read to `release`) while the server keeps writing.
 */
import Database from 'better-sqlite3';

export interface ReadConnection {
  db: Database.Database;
  /** End the snapshot and close the connection. Safe to call more than once. */
  release(): void;
}

export function openReadConnection(file: string): ReadConnection {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    // Sorts and temporary tables spill to temporary files rather than growing memory.
    db.pragma('temp_store = FILE');
    db.pragma('cache_size = -8000');
    db.exec('BEGIN');
  } catch (error) {
    db.close();
    throw error;
  }
  let released = false;
  return {
    db,
    release() {
      if (released) return;
      released = true;
      try {
        if (db.inTransaction) db.exec('COMMIT');
      } catch {
        // A read-only snapshot has nothing to lose; closing ends it.
      }
      db.close();
    },
  };
}
