/**
 * The event spool: every event is a file on disk (written atomically) until the server has
 * acknowledged it, so nothing is lost across restarts or long offline periods. The spool is
 * bounded: when full, the oldest events are dropped, counted, and the count is reported as an
 * `events-dropped` event. Only the agent (which holds the state-directory lock) uses it.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { fsyncDirectory } from '../state/atomic.js';
import { readJsonFile, writeJsonFile } from '../state/json-file.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../state/paths.js';
import { AgentEvent, newEvent, stableEventId } from './event.js';

export const DEFAULT_MAX_SPOOLED_EVENTS = 10_000;
const NAME = /^(\d{12})-([0-9a-f-]{36})\.json$/;
const MAX_EVENT_FILE_BYTES = 64 * 1024;

const DropCount = Type.Object({ unreported: Type.Integer({ minimum: 0 }), total: Type.Integer({ minimum: 0 }) }, { additionalProperties: false });

export interface SpooledEvent {
  file: string;
  event: AgentEvent;
}

export class EventSpool {
  private files: string[] | null = null;
  private nextSeq = 1;

  constructor(
    readonly dir: string,
    readonly maxEvents = DEFAULT_MAX_SPOOLED_EVENTS,
  ) {}

  private get dropFile(): string {
    return join(this.dir, 'dropped.json');
  }

  /** The spooled event files, oldest first (read once, then kept in memory). */
  private async list(): Promise<string[]> {
    if (this.files) return this.files;
    await mkdir(this.dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    const names = (await readdir(this.dir)).filter((name) => NAME.test(name)).sort();
    const last = names.at(-1);
    if (last) this.nextSeq = Number(NAME.exec(last)![1]) + 1;
    this.files = names;
    return names;
  }

  async count(): Promise<number> {
    return (await this.list()).length;
  }

  /** Appends an event durably; drops the oldest first if the spool is full. */
  async append(event: AgentEvent, options: { mayExceedBound?: boolean } = {}): Promise<void> {
    if (!Value.Check(AgentEvent, event)) throw new TypeError(`refusing to spool an invalid event: ${Value.Errors(AgentEvent, event).First()?.message ?? 'invalid'}`);
    const count = (await this.list()).length;
    if (!options.mayExceedBound && count >= this.maxEvents) await this.dropOldest(count - this.maxEvents + 1);
    const name = `${String(this.nextSeq++).padStart(12, '0')}-${event.id}.json`;
    await writeJsonFile(join(this.dir, name), event, PRIVATE_FILE_MODE);
    (await this.list()).push(name);
  }

  /** Up to `limit` events, oldest first. Damaged files are set aside (renamed `.bad`), never sent. */
  async pending(limit: number): Promise<SpooledEvent[]> {
    const files = await this.list();
    const out: SpooledEvent[] = [];
    for (const name of [...files]) {
      if (out.length >= limit) break;
      const path = join(this.dir, name);
      let event: unknown;
      try {
        const bytes = await readFile(path);
        if (bytes.length > MAX_EVENT_FILE_BYTES) throw new Error('too large');
        event = JSON.parse(bytes.toString('utf8'));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          this.forget([name]);
          continue;
        }
        event = undefined;
      }
      if (!Value.Check(AgentEvent, event)) {
        await this.setAside([name], 'bad');
        continue;
      }
      out.push({ file: name, event });
    }
    return out;
  }

  /** The server has stored these: remove them. */
  async acknowledge(files: readonly string[]): Promise<void> {
    await Promise.all(files.map((name) => rm(join(this.dir, name), { force: true })));
    await fsyncDirectory(this.dir);
    this.forget(files);
  }

  /** The server refuses these for good (an older server, say): keep them aside, out of the queue. */
  async setAside(files: readonly string[], suffix: 'bad' | 'rejected'): Promise<void> {
    await Promise.all(files.map((name) => rename(join(this.dir, name), join(this.dir, `${name}.${suffix}`)).catch(() => undefined)));
    this.forget(files);
  }

  /** How many events were dropped because the spool was full (total since enrollment). */
  async droppedTotal(): Promise<number> {
    const read = await readJsonFile(this.dropFile, DropCount);
    return read.ok ? read.value.total : 0;
  }

  /**
   * Turns drops not yet reported into one `events-dropped` event. Its id is derived from the
   * running total, so a crash between spooling it and clearing the count cannot report twice.
   */
  async reportDrops(nowMs: number): Promise<number> {
    const read = await readJsonFile(this.dropFile, DropCount);
    if (!read.ok || read.value.unreported === 0) return 0;
    const { unreported, total } = read.value;
    const id = stableEventId(`events-dropped:${this.dir}:${total}`, (text) => createHash('sha256').update(text).digest('hex'));
    const event = newEvent(
      'events-dropped',
      nowMs,
      { message: `${unreported} event(s) were dropped because the agent's spool was full (${this.maxEvents} events) while the server was out of reach`, details: { dropped: unreported, totalDropped: total } },
      id,
    );
    await this.append(event, { mayExceedBound: true });
    await writeJsonFile(this.dropFile, { unreported: 0, total }, PRIVATE_FILE_MODE);
    return unreported;
  }

  private async dropOldest(count: number): Promise<void> {
    const files = await this.list();
    const victims = files.slice(0, count);
    const read = await readJsonFile(this.dropFile, DropCount);
    const before = read.ok ? read.value : { unreported: 0, total: 0 };
    // Count first: a crash after counting and before removing over-counts, never hides a loss.
    await writeJsonFile(this.dropFile, { unreported: before.unreported + victims.length, total: before.total + victims.length }, PRIVATE_FILE_MODE);
    await this.acknowledge(victims);
  }

  private forget(names: readonly string[]): void {
    if (!this.files) return;
    const gone = new Set(names);
    this.files = this.files.filter((name) => !gone.has(name));
  }
}
