/**
 * Group commit: writes submitted in the same turn of the event loop run in one SQLite
 * transaction, each inside its own savepoint, so one failing write rolls back alone while the
 * commit (the expensive part of a small write) is shared. Every caller's promise settles only
 * after the shared commit, so nothing is acknowledged before it is durable.
 */
import type Database from 'better-sqlite3';

interface Job {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export class WriteBatcher {
  private queue: Job[] = [];
  private scheduled = false;

  constructor(
    private readonly db: Database.Database,
    /** Most writes in one transaction; more wait for the next turn. */
    private readonly maxBatch = 256,
  ) {}

  /** Runs `write` in a savepoint of the next shared transaction; resolves after the commit. */
  submit<T>(write: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run: write, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Writes everything queued now (before the database closes, say). */
  flushNow(): void {
    while (this.queue.length > 0) this.flush();
  }

  private flush(): void {
    const batch = this.queue.splice(0, this.maxBatch);
    if (batch.length === 0) return;
    this.scheduled = this.queue.length > 0;
    if (this.scheduled) setImmediate(() => this.flush());

    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    try {
      this.db.transaction(() => {
        for (const job of batch) {
          try {
            // A nested better-sqlite3 transaction is a savepoint: a throw undoes just this write.
            outcomes.push({ ok: true, value: this.db.transaction(job.run)() });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
      })();
    } catch (error) {
      // The commit itself failed: nothing of this batch is stored.
      for (const job of batch) job.reject(error);
      return;
    }
    batch.forEach((job, index) => {
      const outcome = outcomes[index]!;
      if (outcome.ok) job.resolve(outcome.value);
      else job.reject(outcome.error);
    });
  }
}
