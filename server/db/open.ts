/** Open (creating if needed) the server's SQLite file, configured for a busy single writer. */
import Database from 'better-sqlite3';
import { runMigrations } from './migrations.js';

export interface OpenedDatabase {
  db: Database.Database;
  /** Migration versions applied by this open (empty when the schema was current). */
  migrated: number[];
}

export function openDatabase(file: string): OpenedDatabase {
  const db = new Database(file);
  try {
    // WAL: readers never block the writer. synchronous=NORMAL in WAL mode keeps every commit
    // safe from a process crash; only an OS crash or power loss can lose the last commits.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    db.pragma('temp_store = MEMORY');
    const migrated = runMigrations(db);
    return { db, migrated };
  } catch (error) {
    db.close();
    throw error;
  }
}
