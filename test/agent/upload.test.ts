/**
 * Sending the spool when batches are too large for the server (HTTP 413): a batch is halved until
 * it fits; a single event that is still too large is sent once with its texts cut short, and set
 * aside (and reported as lost) if even that does not fit. Nothing is retried forever. Real
 * servers on 127.0.0.1 (one with the default 1 MiB event body limit, one with a small one).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { enrollDevice } from '../../agent/enroll.js';
import { newEvent } from '../../agent/events/event.js';
import { EventSpool } from '../../agent/events/spool.js';
import { uploadEvents } from '../../agent/events/upload.js';
import { DeviceHttp } from '../../agent/net/device-http.js';
import { loadConfig } from '../../agent/state/config.js';
import { loadDeviceKey } from '../../agent/state/device-key.js';
import { statePaths } from '../../agent/state/paths.js';
import { createEnrollSecret, startTestServer, tempDir, type TestServer } from './helpers.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let roomy: TestServer;
let tight: TestServer;

async function device(
  server: TestServer,
  name: string,
): Promise<{ http: DeviceHttp; deviceId: string; spoolDir: string }> {
  const stateDir = join(dir.path, name);
  await enrollDevice({
    server: server.url,
    secret: await createEnrollSecret(server.admin),
    stateDir,
    insecureHttp: false,
    force: false,
    facts: { hostname: name, os: 'linux', osVersion: '6', arch: 'x64', users: [] },
  });
  const paths = statePaths(stateDir);
  const config = await loadConfig(paths.config, stateDir);
  const key = (await loadDeviceKey(paths.deviceKey))!;
  return {
    http: new DeviceHttp({
      serverUrl: config.serverUrl,
      deviceId: config.deviceId,
      audience: config.audience,
      privateKey: key.privateKey,
    }),
    deviceId: config.deviceId,
    spoolDir: paths.spoolDir,
  };
}

/** Spools `count` blocked-launch events of about 2.5 KB each; returns their ids. */
async function spoolLaunches(spool: EventSpool, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const event = newEvent('blocked-launch', Date.now(), {
      toolId: 'claude-code',
      message: `launch ${i} `.padEnd(2500, 'x'),
    });
    ids.push(event.id);
    await spool.append(event);
  }
  return ids;
}

beforeAll(async () => {
  dir = await tempDir('aigate-upload-');
  roomy = await startTestServer(join(dir.path, 'roomy'));
  tight = await startTestServer(join(dir.path, 'tight'), { bodyLimits: { events: 8 * 1024 } });
});
afterAll(async () => {
  await roomy?.close();
  await tight?.close();
  await dir?.remove();
});

describe('event upload', () => {
  it('sends 600 events of 2.5 KB (more than one request may carry) in requests that fit, each event once', async () => {
    const agent = await device(roomy, 'split');
    const spool = new EventSpool(agent.spoolDir);
    const ids = await spoolLaunches(spool, 600);
    const result = await uploadEvents(agent.http, spool, Date.now());
    expect(result).toMatchObject({ sent: 600, rejected: 0, truncated: 0, remaining: 0 });
    const stored = roomy.app.aigate.stores.events.recentForDevice(agent.deviceId, 1000);
    expect(stored.map((event) => event.id).sort()).toEqual([...ids].sort());
    expect((await readdir(agent.spoolDir)).filter((name) => name.endsWith('.json'))).toEqual([]);
  });

  it('halves a batch a server set below the protocol limit refuses (HTTP 413) until each part fits', async () => {
    const agent = await device(tight, 'halve');
    const spool = new EventSpool(agent.spoolDir);
    const ids = await spoolLaunches(spool, 20);
    const result = await uploadEvents(agent.http, spool, Date.now());
    expect(result).toMatchObject({ sent: 20, rejected: 0, truncated: 0, remaining: 0 });
    expect(
      tight.app.aigate.stores.events
        .recentForDevice(agent.deviceId, 100)
        .map((event) => event.id)
        .sort(),
    ).toEqual([...ids].sort());
  });

  it('cuts a single too-large event short once, sets aside one that still does not fit, and reports it', async () => {
    const agent = await device(tight, 'single');
    const troubles: string[] = [];
    const spool = new EventSpool(agent.spoolDir, { onTrouble: (trouble) => troubles.push(trouble.message) });
    const wide = (keys: number) =>
      Object.fromEntries(Array.from({ length: keys }, (_, i) => [`k${i}`, 'y'.repeat(4000)]));
    const small = newEvent('tamper', Date.now(), { toolId: 'claude-code', message: 'small' });
    const shrinkable = newEvent('tamper', Date.now(), {
      toolId: 'claude-code',
      message: 'z'.repeat(4000),
      details: wide(10),
    });
    const hopeless = newEvent('tamper', Date.now(), { toolId: 'claude-code', message: 'too wide', details: wide(50) });
    for (const event of [small, shrinkable, hopeless]) await spool.append(event);

    const result = await uploadEvents(agent.http, spool, Date.now());
    expect(result).toMatchObject({ sent: 3, rejected: 1, truncated: 1, remaining: 0, unreportedLosses: 0 });
    const stored = tight.app.aigate.stores.events.recentForDevice(agent.deviceId, 100);
    expect(stored.find((event) => event.id === small.id)?.message).toBe('small');
    const cut = stored.find((event) => event.id === shrinkable.id)!;
    expect(cut.message!.length).toBeLessThanOrEqual(500);
    expect(cut.details).toMatchObject({ truncated: true });
    expect(stored.find((event) => event.id === hopeless.id)).toBeUndefined();
    const lost = stored.filter((event) => event.type === 'events-dropped');
    expect(lost).toHaveLength(1);
    expect(lost[0]!.details).toMatchObject({ dropped: 1, setAside: 1 });
    expect(troubles).toEqual([expect.stringContaining('refused by the server set aside as .rejected')]);
    expect((await readdir(agent.spoolDir)).filter((name) => name.endsWith('.rejected'))).toHaveLength(1);

    // Nothing is left to retry: a second upload sends nothing.
    expect(await uploadEvents(agent.http, spool, Date.now())).toMatchObject({ sent: 0, rejected: 0, remaining: 0 });
  });
});
