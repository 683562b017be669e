/**
 * Sending the spool to the server: batches of up to 500, removed from disk only after the
 * server answered 200. A batch the server refuses as invalid (400) is retried one event at a
 * time, so one event an older server does not understand cannot hold back the others; those
 * refused alone are set aside, kept on disk, and counted.
 */
import type { DeviceHttp } from '../net/device-http.js';
import { errorMessage } from '../net/device-http.js';
import type { EventSpool, SpooledEvent } from './spool.js';

export const MAX_EVENTS_PER_BATCH = 500;

export interface UploadResult {
  sent: number;
  duplicates: number;
  rejected: number;
  remaining: number;
}

export class EventUploadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventUploadError';
  }
}

async function send(http: DeviceHttp, batch: readonly SpooledEvent[]) {
  return http.request('POST', '/v1/events', { body: { events: batch.map((item) => item.event) }, timeoutMs: 60_000 });
}

/** Sends everything spooled. Throws ServerUnreachable / EventUploadError; what was sent stays sent. */
export async function uploadEvents(http: DeviceHttp, spool: EventSpool, nowMs: number): Promise<UploadResult> {
  await spool.reportDrops(nowMs);
  const result: UploadResult = { sent: 0, duplicates: 0, rejected: 0, remaining: 0 };
  for (;;) {
    const batch = await spool.pending(MAX_EVENTS_PER_BATCH);
    if (batch.length === 0) break;
    const reply = await send(http, batch);
    if (reply.status === 200) {
      const body = reply.body as { accepted?: number; duplicates?: number };
      result.sent += body.accepted ?? 0;
      result.duplicates += body.duplicates ?? 0;
      await spool.acknowledge(batch.map((item) => item.file));
      continue;
    }
    if (reply.status !== 400) throw new EventUploadError(`the server did not take the events (HTTP ${reply.status}): ${errorMessage(reply)}`);
    for (const item of batch) {
      const single = await send(http, [item]);
      if (single.status === 200) {
        const body = single.body as { accepted?: number; duplicates?: number };
        result.sent += body.accepted ?? 0;
        result.duplicates += body.duplicates ?? 0;
        await spool.acknowledge([item.file]);
      } else if (single.status === 400) {
        result.rejected++;
        await spool.setAside([item.file], 'rejected');
      } else {
        throw new EventUploadError(`the server did not take the events (HTTP ${single.status}): ${errorMessage(single)}`);
      }
    }
  }
  result.remaining = await spool.count();
  return result;
}
