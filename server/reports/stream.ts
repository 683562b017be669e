/**
 * A report as a Readable: rows are pulled from the database iterator only when the consumer
 * asks for more (`_read`), a batch at a time, so a slow client holds back the query instead of
 * filling memory. Closing (end, error, or the client going away) releases the iterator and the
 * report's database connection exactly once.
 */
import { Readable } from 'node:stream';

import type { Row } from './columns.js';
import type { FormatWriter } from './writers.js';

/** Rows per chunk: large enough to keep per-chunk overhead small, small enough to stay light. */
const BATCH_ROWS = 500;

export class ReportStream extends Readable {
  private started = false;
  private finished = false;
  private released = false;
  private readonly rows: Iterator<Row>;

  constructor(
    rows: Iterable<Row>,
    private readonly writer: FormatWriter,
    private readonly release: () => void,
  ) {
    super({ highWaterMark: 64 * 1024 });
    this.rows = rows[Symbol.iterator]();
  }

  override _read(): void {
    try {
      let chunk = '';
      if (!this.started) {
        this.started = true;
        chunk += this.writer.start();
      }
      const batch: Row[] = [];
      let done = false;
      while (batch.length < BATCH_ROWS) {
        const next = this.rows.next();
        if (next.done) {
          done = true;
          break;
        }
        batch.push(next.value);
      }
      chunk += this.writer.rows(batch);
      if (done) {
        chunk += this.writer.end();
        this.finished = true;
        this.releaseOnce();
        if (chunk.length > 0) this.push(chunk);
        this.push(null);
        return;
      }
      this.push(chunk);
    } catch (error) {
      this.destroy(error as Error);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.finished) {
      try {
        this.rows.return?.();
      } catch {
        // The connection is closed next anyway.
      }
    }
    this.releaseOnce();
    callback(error);
  }

  private releaseOnce(): void {
    if (this.released) return;
    this.released = true;
    this.release();
  }
}
