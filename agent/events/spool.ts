/**
 * The event spool: every event is a file on disk (written atomically) until the server has
 * acknowledged it, so nothing is lost across restarts or long offline periods. The spool is
 * bounded: when full, the oldest events are dropped, counted, and the count is reported as an
 * `events-dropped` event. An event that cannot be written at all (a full disk, an I/O error) is
 * counted the same way, never thrown at the caller (`record`): losing one event must not stop
 * enforcement or the cycle. Damaged files found in the spool are set aside (renamed `.bad`),
 * kept, and reported. Only the agent (which holds the state-directory lock) uses it.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

import { counted } from '../../policies/plural.js';
import { fsyncDirectory } from '../state/atomic.js';
import { readJsonFile, writeJsonFile } from '../state/json-file.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../state/paths.js';
import { AgentEvent, newEvent, stableEventId } from './event.js';

const DEFAULT_MAX_SPOOLED_EVENTS = 10_000;
const NAME = /^(\d{12})-([0-9a-f-]{36})\.json$/;
/** Above the largest valid event (50 details of 4096 characters, each up to 6 bytes once escaped): larger is damage. */
const MAX_EVENT_FILE_BYTES = 2 * 1024 * 1024;

/**
 * Events lost and not yet reported. `unreported` counts events dropped because the spool was
 * full; `unwritable` those that could not be written; `setAside` damaged files renamed `.bad`.
 */
const DropCount = Type.Object(
  {
    unreported: Type.Integer({ minimum: 0 }),
    total: Type.Integer({ minimum: 0 }),
    unwritable: Type.Optional(Type.Integer({ minimum: 0 })),
    setAside: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
type DropCount = Static<typeof DropCount>;

export interface SpooledEvent {
  file: string;
  event: AgentEvent;
}

/** Something that went wrong with the spool, for the agent's log and health report. */
export interface SpoolTrouble {
  kind: 'unwritable' | 'set-aside' | 'count-unsaved';
  message: string;
}

export interface EventSpoolOptions {
  /** Most events kept; beyond it the oldest are dropped (and counted). */
  maxEvents?: number;
  /**
   * Where the loss counter lives. Best outside the spool folder, so a spool on a full file
   * system can still count what it loses; default `<dir>/dropped.json`.
   */
  dropFile?: string;
  /** Told of every loss (unwritable event, damaged file set aside). Must not throw. */
  onTrouble?: (trouble: SpoolTrouble) => void;
}

const zero = (): DropCount => ({ unreported: 0, total: 0, unwritable: 0, setAside: 0 });

export class EventSpool {
  private files: string[] | null = null;
  private nextSeq = 1;
  readonly maxEvents: number;
  private readonly dropFile: string;
  private readonly legacyDropFile: string;
  private readonly onTrouble: (trouble: SpoolTrouble) => void;
  /** Losses counted in memory because the counter file could not be written either. */
  private unsaved: DropCount = zero();

  constructor(
    readonly dir: string,
    options: EventSpoolOptions | number = {},
  ) {
    const opts = typeof options === 'number' ? { maxEvents: options } : options;
    this.maxEvents = opts.maxEvents ?? DEFAULT_MAX_SPOOLED_EVENTS;
    this.legacyDropFile = join(dir, 'dropped.json');
    this.dropFile = opts.dropFile ?? this.legacyDropFile;
    this.onTrouble = opts.onTrouble ?? (() => undefined);
  }

  /** The spooled event files, oldest first (read once, then kept in memory). */
  private async list(): Promise<string[]> {
    if (this.files) return this.files;
    await mkdir(this.dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    const names = (await readdir(this.dir)).filter((name) => NAME.test(name)).sort();
    const last = names.at(-1);
    if (last) this.nextSeq = Math.max(this.nextSeq, Number(NAME.exec(last)![1]) + 1);
    this.files = names;
    return names;
  }

  /** How many events wait, read from disk (another process, `restore --all` say, may have sent some). */
  async count(): Promise<number> {
    this.files = null;
    return (await this.list()).length;
  }

  /** Appends an event durably; drops the oldest first if the spool is full. Throws on I/O errors. */
  async append(event: AgentEvent, options: { mayExceedBound?: boolean } = {}): Promise<void> {
    if (!Value.Check(AgentEvent, event))
      throw new TypeError(
        `refusing to spool an invalid event: ${Value.Errors(AgentEvent, event).First()?.message ?? 'invalid'}`,
      );
    const count = (await this.list()).length;
    if (!options.mayExceedBound && count >= this.maxEvents) await this.dropOldest(count - this.maxEvents + 1);
    const name = `${String(this.nextSeq++).padStart(12, '0')}-${event.id}.json`;
    await writeJsonFile(join(this.dir, name), event, PRIVATE_FILE_MODE);
    (await this.list()).push(name);
  }

  /**
   * Appends an event, never throwing: an event that cannot be written (ENOSPC, EIO, an invalid
   * event) is counted as lost and reported later as `events-dropped`. Returns whether it was spooled.
   */
  async record(event: AgentEvent): Promise<boolean> {
    try {
      await this.append(event);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      this.onTrouble({
        kind: 'unwritable',
        message: `a ${event.type} event could not be spooled: ${code ?? (error as Error).message}`,
      });
      await this.countLoss({ unwritable: 1 });
      return false;
    }
  }

  /** Up to `limit` events, oldest first. Damaged files are set aside (renamed `.bad`), never sent. */
  async pending(limit: number): Promise<SpooledEvent[]> {
    const files = await this.list();
    const out: SpooledEvent[] = [];
    for (const name of [...files]) {
      if (out.length >= limit) break;
      const read = await readEventFile(join(this.dir, name));
      if (read === 'missing') {
        this.forget([name]);
        continue;
      }
      if (typeof read === 'string' || !Value.Check(AgentEvent, read.value)) {
        const reason =
          typeof read === 'string'
            ? read
            : `not a valid event (${Value.Errors(AgentEvent, read.value).First()?.message ?? 'invalid'})`;
        await this.setAside([name], 'bad');
        this.onTrouble({
          kind: 'set-aside',
          message: `damaged spool file ${name} set aside as ${name}.bad: ${reason}`,
        });
        await this.countLoss({ setAside: 1 });
        continue;
      }
      out.push({ file: name, event: read.value as AgentEvent });
    }
    return out;
  }

  /** The server has stored these: remove them. */
  async acknowledge(files: readonly string[]): Promise<void> {
    await Promise.all(files.map((name) => rm(join(this.dir, name), { force: true })));
    await fsyncDirectory(this.dir);
    this.forget(files);
  }

  /**
   * Keeps these files aside, out of the queue: damaged (`bad`), or refused for good by the
   * server (`rejected`, also counted as lost so the server hears of it).
   */
  async setAside(files: readonly string[], suffix: 'bad' | 'rejected'): Promise<void> {
    await Promise.all(
      files.map((name) => rename(join(this.dir, name), join(this.dir, `${name}.${suffix}`)).catch(() => undefined)),
    );
    this.forget(files);
    if (suffix === 'rejected' && files.length > 0) {
      this.onTrouble({
        kind: 'set-aside',
        message: `${counted(files.length, 'event')} refused by the server set aside as .rejected: ${files.join(', ')}`,
      });
      await this.countLoss({ setAside: files.length });
    }
  }

  /** How many events were lost (dropped, unwritable, set aside) since enrollment. */
  async droppedTotal(): Promise<number> {
    return (await this.readCount()).total;
  }

  /** Losses not yet reported to the server (spooled as `events-dropped`). */
  async unreportedLosses(): Promise<number> {
    const count = await this.readCount();
    return count.unreported + (count.unwritable ?? 0) + (count.setAside ?? 0);
  }

  /**
   * Turns losses not yet reported into one `events-dropped` event. Its id is derived from the
   * running total, so a crash between spooling it and clearing the count cannot report twice.
   * Returns how many losses it reported; throws if the event cannot be spooled (the count stays).
   */
  async reportDrops(nowMs: number): Promise<number> {
    const count = await this.readCount();
    const full = count.unreported;
    const unwritable = count.unwritable ?? 0;
    const setAside = count.setAside ?? 0;
    const lost = full + unwritable + setAside;
    if (lost === 0) return 0;
    const id = stableEventId(`events-dropped:${this.dir}:${count.total}`, (text) =>
      createHash('sha256').update(text).digest('hex'),
    );
    const parts: string[] = [];
    if (full)
      parts.push(
        `${counted(full, 'event')} ${full === 1 ? 'was' : 'were'} dropped because the agent's spool was full (${this.maxEvents} events) while the server was out of reach`,
      );
    if (unwritable)
      parts.push(`${counted(unwritable, 'event')} could not be written to the spool (disk full or an I/O error)`);
    if (setAside)
      parts.push(
        `${counted(setAside, 'spooled event')} ${setAside === 1 ? 'was' : 'were'} set aside unsent, damaged or refused by the server (kept as .bad or .rejected in ${this.dir})`,
      );
    const event = newEvent(
      'events-dropped',
      nowMs,
      {
        message: parts.join('; '),
        details: { dropped: lost, totalDropped: count.total, spoolFull: full, unwritable, setAside },
      },
      id,
    );
    await this.append(event, { mayExceedBound: true });
    this.unsaved = zero();
    await this.saveCount({ unreported: 0, total: count.total, unwritable: 0, setAside: 0 });
    return lost;
  }

  private async readCount(): Promise<DropCount> {
    let read = await readJsonFile(this.dropFile, DropCount);
    // Counts kept in the spool folder by earlier versions.
    if (!read.ok && read.missing && this.dropFile !== this.legacyDropFile)
      read = await readJsonFile(this.legacyDropFile, DropCount);
    const saved = read.ok ? read.value : zero();
    return {
      unreported: saved.unreported + this.unsaved.unreported,
      total: saved.total + this.unsaved.total,
      unwritable: (saved.unwritable ?? 0) + (this.unsaved.unwritable ?? 0),
      setAside: (saved.setAside ?? 0) + (this.unsaved.setAside ?? 0),
    };
  }

  /** Writes the counter; on failure the difference stays in memory (and is retried with the next loss). */
  private async saveCount(count: DropCount): Promise<boolean> {
    try {
      await writeJsonFile(this.dropFile, count, PRIVATE_FILE_MODE);
      if (this.dropFile !== this.legacyDropFile) await rm(this.legacyDropFile, { force: true }).catch(() => undefined);
      return true;
    } catch (error) {
      this.onTrouble({
        kind: 'count-unsaved',
        message: `cannot save the count of lost events in ${this.dropFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      });
      return false;
    }
  }

  private async countLoss(add: { unreported?: number; unwritable?: number; setAside?: number }): Promise<void> {
    const n = (add.unreported ?? 0) + (add.unwritable ?? 0) + (add.setAside ?? 0);
    const before = await this.readCount();
    const after: DropCount = {
      unreported: before.unreported + (add.unreported ?? 0),
      total: before.total + n,
      unwritable: (before.unwritable ?? 0) + (add.unwritable ?? 0),
      setAside: (before.setAside ?? 0) + (add.setAside ?? 0),
    };
    const memory = this.unsaved;
    this.unsaved = zero();
    if (!(await this.saveCount(after))) {
      this.unsaved = {
        unreported: memory.unreported + (add.unreported ?? 0),
        total: memory.total + n,
        unwritable: (memory.unwritable ?? 0) + (add.unwritable ?? 0),
        setAside: (memory.setAside ?? 0) + (add.setAside ?? 0),
      };
    }
  }

  private async dropOldest(count: number): Promise<void> {
    const files = await this.list();
    const victims = files.slice(0, count);
    // Count first: a crash after counting and before removing over-counts, never hides a loss.
    await this.countLoss({ unreported: victims.length });
    await this.acknowledge(victims);
  }

  private forget(names: readonly string[]): void {
    if (!this.files) return;
    const gone = new Set(names);
    this.files = this.files.filter((name) => !gone.has(name));
  }
}

/**
 * Reads one spool file: a regular file only, opened without following a link and without
 * blocking (a FIFO put in its place must not hang the agent), size-bounded.
 */
async function readEventFile(path: string): Promise<{ value: unknown } | 'missing' | string> {
  try {
    const info = await lstat(path);
    if (!info.isFile()) return 'not a regular file';
    if (info.size > MAX_EVENT_FILE_BYTES) return 'too large';
    const handle = await open(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
    try {
      const opened = await handle.stat();
      if (!opened.isFile() || opened.ino !== info.ino || opened.size > MAX_EVENT_FILE_BYTES)
        return 'changed while being read';
      // One byte more than the file's size: a file that grew meanwhile is caught, not cut.
      const buffer = Buffer.alloc(Math.min(opened.size, MAX_EVENT_FILE_BYTES) + 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      if (bytesRead >= buffer.length) return 'changed while being read';
      try {
        return { value: JSON.parse(buffer.subarray(0, bytesRead).toString('utf8')) };
      } catch {
        return 'not JSON';
      }
    } finally {
      await handle.close();
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    return `cannot read it: ${(error as Error).message}`;
  }
}
