/**
 * Streaming: a large report is produced as the client reads it, on its own database
 * connection, so check-ins keep working while it streams; a client that goes away releases the
 * connection; too many exports at once are refused.
 */
import { type ClientRequest, get, type IncomingMessage } from 'node:http';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DATABASE_FILE } from '../../server/context.js';
import { developerTools, Fleet, type FleetDevice } from '../ui/fleet.js';
import { tempDir } from './helpers.js';

const BULK = 100_000;

let dir: Awaited<ReturnType<typeof tempDir>>;
let fleet: Fleet;
let a: FleetDevice;
let b: FleetDevice;

beforeAll(async () => {
  dir = await tempDir('aigate-reports-stream-');
  fleet = await Fleet.start(dir.path);
  await fleet.publish();
  a = await fleet.enroll('bulk-a', { user: 'alice' });
  b = await fleet.enroll('bulk-b', { user: 'bob' });
  await fleet.checkin(a, developerTools('alice'));
  // Enough rows that the report cannot fit in socket buffers: written straight into the file.
  const raw = new Database(join(dir.path, DATABASE_FILE));
  try {
    const insert = raw.prepare(
      `INSERT INTO instances (device_id, instance_key, group_name, tool_id, name, version, channel, install_path, owner, detail, action, digest, present, first_seen_at, changed_at)
       VALUES (?, ?, 'engineering', 'aider', 'aider-chat', '0.86.1', 'pipx', ?, 'alice', '{"launchers":[],"evidence":[]}', 'allow', 'x', 1, ?, ?)`,
    );
    raw.transaction(() => {
      for (let i = 0; i < BULK; i++) {
        const path = `/home/alice/.local/share/pipx/venvs/aider-chat-copy-${String(i).padStart(6, '0')}`;
        insert.run(a.id, `aider\u0000${path}`, path, fleet.clock.ms, fleet.clock.ms);
      }
    })();
  } finally {
    raw.close();
  }
});

afterAll(async () => {
  await fleet?.close();
  await dir?.remove();
});

/** Start a report, read its first chunk, then stop reading (a slow client) until `cancel`. */
function openReport(path: string): Promise<{ status: number; first: string; cancel: () => void }> {
  return new Promise((resolve, reject) => {
    const request: ClientRequest = get(
      `${fleet.url}/v1/reports${path}`,
      { headers: { authorization: `Bearer ${fleet.adminToken}` } },
      (response: IncomingMessage) => {
        response.once('data', (chunk: Buffer) => {
          response.pause();
          resolve({ status: response.statusCode ?? 0, first: chunk.toString('utf8'), cancel: () => request.destroy() });
        });
      },
    );
    request.on('error', (error) => {
      if ((error as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(error);
    });
  });
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('streaming reports', () => {
  it('streams every row', async () => {
    const result = await fleet.report('/inventory?format=ndjson');
    expect(result.status).toBe(200);
    expect(result.text.trimEnd().split('\n')).toHaveLength(BULK + 5);
    expect(fleet.server.app.reports.service.running).toBe(0);
  });

  it('keeps check-ins working while a report is streaming, and releases it when the client goes away', async () => {
    const open = await openReport('/inventory?format=csv');
    expect(open.status).toBe(200);
    expect(open.first.startsWith('device_id,hostname,group,user,tool_id')).toBe(true);
    // The client is not reading: the report waits for it instead of running to the end.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(fleet.server.app.reports.service.running).toBe(1);
    // A write on the server's own connection while the report's statement is mid-iteration.
    await fleet.checkin(b, developerTools('bob'));
    const device = await fleet.admin.get<{ instances: unknown[] }>(`/devices/${b.id}`);
    expect(device.instances).toHaveLength(5);
    open.cancel();
    await until(() => fleet.server.app.reports.service.running === 0);
  });

  it('refuses a fifth export while four are streaming', async () => {
    const open = await Promise.all([1, 2, 3, 4].map(() => openReport('/inventory?format=json')));
    const fifth = await fleet.report('/inventory?format=csv');
    expect(fifth.status).toBe(429);
    expect(JSON.parse(fifth.text)).toMatchObject({ error: 'too_many_reports' });
    expect(fifth.headers.get('retry-after')).toBe('5');
    for (const o of open) o.cancel();
    await until(() => fleet.server.app.reports.service.running === 0);
    expect((await fleet.report('/coverage?format=csv')).status).toBe(200);
  });

  it('ends exports in progress when the server shuts down', async () => {
    const open = await openReport('/inventory?format=ndjson');
    expect(fleet.server.app.reports.service.running).toBe(1);
    const started = Date.now();
    await fleet.close();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(fleet.server.app.reports.service.running).toBe(0);
    open.cancel();
  });
});
