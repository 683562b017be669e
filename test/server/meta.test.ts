/**
 * First-day details of the HTTP server: the bare address sends a browser to the dashboard, and
 * every JSON log line a working session writes has unique keys (a duplicate key is ambiguous:
 * most JSON parsers keep the last one, log pipelines differ).
 */
import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { duplicateKeys } from '../support/json-keys.js';
import { BAN_POLICY, type RunningServer, serverWithSecret } from './harness.js';
import { eightInstances, tempDir, verdictFor } from './helpers.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: RunningServer;
let setup: Awaited<ReturnType<typeof serverWithSecret>>;

beforeAll(async () => {
  dir = await tempDir();
  setup = await serverWithSecret(dir.path);
  server = setup.server;
});
afterAll(async () => {
  await server?.close();
  await dir?.remove();
});

describe('the bare address', () => {
  it('redirects GET / to the dashboard', async () => {
    const response = await fetch(`${server.url}/`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/ui');
  });
});

describe('log lines', () => {
  it('finds duplicates the way a strict reader would', () => {
    expect(duplicateKeys('{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}')).toEqual([]);
    expect(duplicateKeys('{"name":"x","msg":"a \\"name\\": y","name":"y"}')).toEqual(['name']);
  });

  it('have unique keys through a working session (enroll, publish, check-in, events, requests, errors)', async () => {
    const { admin, enrollDevice } = setup;
    await admin.post('/policies', { source: BAN_POLICY });
    const device = await enrollDevice();
    const inventory = eightInstances('alice');
    expect(
      (
        await device.checkin({
          policyRevision: 1,
          agentVersion: '0.4.0',
          inventory,
          verdicts: inventory.map((i) => verdictFor(i, 'allow')),
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await device.events([
          { id: randomUUID(), type: 'blocked-launch', at: new Date().toISOString(), toolId: 'claude-code' },
        ])
      ).status,
    ).toBe(200);
    const asked = await device.requestException({ toolId: 'claude-code', user: 'alice', reason: 'review' });
    await admin.post(`/exception-requests/${asked.body.id}/approve`, {});
    await fetch(`${server.url}/v1/nothing`);
    await fetch(`${server.url}/v1/checkin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{',
    });
    await server.app.reports.rollups.runNow();
    expect(server.logs.length).toBeGreaterThan(10);
    const bad = server.logs.filter((line) => duplicateKeys(line).length > 0);
    expect(bad).toEqual([]);
  });
});
