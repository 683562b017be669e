/**
 * Sending the spool to the server: batches of up to 500, removed from disk only after the
 * server answered 200. A batch the server refuses as invalid (400) is retried one event at a
 * time, so one event an older server does not understand cannot hold back the others; those
 * refused alone are set aside, kept on disk, and counted. Batches are cut to the protocol's body
 * limit (MAX_EVENTS_BODY_BYTES); one still refused as too large (413, a server set lower) is
 * halved and sent again, down to single events; a single event still too large is sent once more
 * with its long texts cut short, and set aside if even that is refused: nothing is retried forever.
 */
import { EventsReply, MAX_EVENTS_BODY_BYTES, MAX_EVENTS_PER_BATCH } from '../../policies/protocol.js';
import { checkReply, ContactError, errorCode, errorMessage } from '../net/contact.js';
import type { DeviceHttp } from '../net/device-http.js';
import type { AgentEvent } from './event.js';
import type { EventSpool, SpooledEvent } from './spool.js';

/** What a too-large event is cut down to: the message, and each detail string. */
const SHRUNK_MESSAGE_CHARS = 500;
const SHRUNK_DETAIL_CHARS = 200;

export interface UploadResult {
  sent: number;
  duplicates: number;
  /** Events the server refused for good (set aside as `.rejected`). */
  rejected: number;
  /** Events sent with their texts cut short because the server found them too large. */
  truncated: number;
  remaining: number;
  /** Lost events not yet reported to the server (their report could not be spooled). */
  unreportedLosses: number;
  /** Why the loss report could not be spooled, if it could not. */
  reportError: string | null;
}

/** The server did not take the events (one of the agent's contact errors). */
class EventUploadError extends ContactError {
  constructor(message: string, status: number | null = null, code: ReturnType<typeof errorCode> = null) {
    super(message, status, code);
    this.name = 'EventUploadError';
  }
}

async function send(http: DeviceHttp, events: readonly AgentEvent[]) {
  return http.request('POST', '/v1/events', { body: { events }, timeoutMs: 60_000 });
}

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** The event with its long texts cut short, marked as such (same id: the server keeps one). */
function shrinkEvent(event: AgentEvent): AgentEvent {
  const details: NonNullable<AgentEvent['details']> = {};
  for (const [key, value] of Object.entries(event.details ?? {}))
    details[key] = typeof value === 'string' ? clip(value, SHRUNK_DETAIL_CHARS) : value;
  details.truncated = true;
  const shrunk: AgentEvent = { ...event, details };
  if (shrunk.message !== undefined) shrunk.message = clip(shrunk.message, SHRUNK_MESSAGE_CHARS);
  if (shrunk.installPath !== undefined) shrunk.installPath = clip(shrunk.installPath, 1024);
  return shrunk;
}

/**
 * Cuts a batch into requests that fit the protocol's default body limit (bytes of JSON), so the
 * usual case needs no refused request first; a server configured lower still answers 413.
 */
function chunkBySize<T extends { event: AgentEvent }>(batch: readonly T[], maxBytes = MAX_EVENTS_BODY_BYTES): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = '{"events":[]}'.length;
  for (const item of batch) {
    const bytes = Buffer.byteLength(JSON.stringify(item.event)) + 1;
    if (current.length > 0 && size + bytes > maxBytes) {
      chunks.push(current);
      current = [];
      size = '{"events":[]}'.length;
    }
    current.push(item);
    size += bytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** Sends everything spooled. Throws ServerUnreachable / EventUploadError; what was sent stays sent. */
export async function uploadEvents(http: DeviceHttp, spool: EventSpool, nowMs: number): Promise<UploadResult> {
  const result: UploadResult = {
    sent: 0,
    duplicates: 0,
    rejected: 0,
    truncated: 0,
    remaining: 0,
    unreportedLosses: 0,
    reportError: null,
  };
  // Losses are reported first; if even that report cannot be spooled (a full disk), the events
  // already spooled are still sent (freeing space), and the report is tried again at the end.
  const report = async () => {
    try {
      await spool.reportDrops(nowMs);
      result.reportError = null;
    } catch (error) {
      result.reportError = `the events-dropped report could not be spooled: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
    }
  };
  await report();
  const fail = (status: number, reply: Parameters<typeof errorMessage>[0]) =>
    new EventUploadError(
      `the server did not take the events (HTTP ${status}): ${errorMessage(reply)}`,
      status,
      errorCode(reply.body),
    );

  const stored = async (batch: readonly SpooledEvent[], body: unknown) => {
    const counts = checkReply(EventsReply, 'POST /v1/events', { status: 200, body });
    result.sent += counts.accepted;
    result.duplicates += counts.duplicates;
    await spool.acknowledge(batch.map((item) => item.file));
  };

  /** One event on its own: sent, cut short and sent, or set aside. */
  const sendAlone = async (item: SpooledEvent): Promise<void> => {
    const reply = await send(http, [item.event]);
    if (reply.status === 200) return stored([item], reply.body);
    if (reply.status === 400) {
      result.rejected++;
      return spool.setAside([item.file], 'rejected');
    }
    if (reply.status !== 413) throw fail(reply.status, reply);
    const shrunk = await send(http, [shrinkEvent(item.event)]);
    if (shrunk.status === 200) {
      result.truncated++;
      return stored([item], shrunk.body);
    }
    if (shrunk.status === 400 || shrunk.status === 413) {
      result.rejected++;
      return spool.setAside([item.file], 'rejected');
    }
    throw fail(shrunk.status, shrunk);
  };

  /** A batch: sent whole, or split when too large, or event by event when refused as invalid. */
  const sendBatch = async (batch: readonly SpooledEvent[]): Promise<void> => {
    if (batch.length === 1) return sendAlone(batch[0]!);
    const reply = await send(
      http,
      batch.map((item) => item.event),
    );
    if (reply.status === 200) return stored(batch, reply.body);
    if (reply.status === 413) {
      const half = Math.ceil(batch.length / 2);
      await sendBatch(batch.slice(0, half));
      return sendBatch(batch.slice(half));
    }
    if (reply.status !== 400) throw fail(reply.status, reply);
    for (const item of batch) await sendAlone(item);
  };

  let reportedAgain = false;
  for (;;) {
    const batch = await spool.pending(MAX_EVENTS_PER_BATCH);
    if (batch.length === 0) {
      // Files set aside during this upload are reported in it too (once: an events-dropped the
      // server refuses is not re-reported in a loop).
      if (reportedAgain || (await spool.unreportedLosses()) === 0) break;
      reportedAgain = true;
      await report();
      continue;
    }
    for (const chunk of chunkBySize(batch)) await sendBatch(chunk);
  }
  result.remaining = await spool.count();
  result.unreportedLosses = await spool.unreportedLosses();
  return result;
}
