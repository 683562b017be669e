/** Open (creating if needed) the server's SQLite file, configured for a busy single writer. */
import Database from 'better-sqlite3';

import { runMigrations } from './migrations.js';

export interface OpenedDatabase {
  db: Database.Database;
  /** Migration versions applied by this open (empty when the schema was current). */
  migrated: number[];
}

/** The database file is damaged (or not a database): the server refuses to start on it. */
class DatabaseDamagedError extends Error {}

/** Problems `PRAGMA quick_check` reports at most (it stops after this many). */
const MAX_CHECK_PROBLEMS = 10;

function damaged(file: string, detail: string): DatabaseDamagedError {
  return new DatabaseDamagedError(
    `the database ${file} is damaged (${detail}); the server will not start on it, so nothing is written to a broken file. ` +
      'Stop here and restore the file from a backup (see README: the server\'s data); sqlite3\'s ".recover" command can save what is readable.',
  );
}

/**
 * Open `file`, check it (`PRAGMA quick_check`: every page and index entry is well formed, in
 * time linear in the file's size), and apply pending migrations. Throws DatabaseDamagedError for
 * a damaged file or one that is not a SQLite database, MigrationError for a newer schema.
 */
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
    const problems = (db.pragma(`quick_check(${MAX_CHECK_PROBLEMS})`) as { quick_check: string }[]).map(
      (row) => row.quick_check,
    );
    if (problems.length !== 1 || problems[0] !== 'ok')
      throw damaged(file, `PRAGMA quick_check: ${problems.join('; ')}`);
    const migrated = runMigrations(db);
    return { db, migrated };
  } catch (error) {
    db.close();
    const code = (error as { code?: unknown }).code;
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') throw damaged(file, (error as Error).message);
    throw error;
  }
}
