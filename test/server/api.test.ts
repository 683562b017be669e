/**
 * The whole path over HTTP against a real server and database file: enroll -> publish -> policy
 * (200, 304, long-poll woken by a publish) -> check-in -> events -> exception request and
 * approval -> restart -> everything still there.
 */
import { calculateJwkThumbprint, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { verifyBundle } from '../../policies/bundle.js';
import { builtinCatalog } from '../../policies/catalog/index.js';
import { compilePolicy } from '../../policies/compile.js';
import { evaluate } from '../../policies/evaluate.js';
import { loadPolicy } from '../../policies/load.js';
import { verifyServerTime } from '../../policies/signed-time.js';
import { AdminClient } from '../../server/client/admin-client.js';
import { DeviceClient, type EnrollResult } from '../support/device-client.js';
import { ALLOW_ALL_POLICY, BAN_POLICY, FACTS, type RunningServer, startServer } from './harness.js';
import { eightInstances, tempDir } from './helpers.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: RunningServer;
let admin: AdminClient;
let adminToken: string;
let device: DeviceClient;
let enrollment: EnrollResult;
let secret: string;
/** Log lines of every server process this file started. */
const earlierLogs: string[] = [];

function verdictsFor(source: string, instances: ReturnType<typeof eightInstances>) {
  const loaded = loadPolicy(source);
  if (!loaded.ok) throw new Error('test policy invalid');
  return evaluate(
    compilePolicy(loaded.policy, builtinCatalog),
    instances,
    { os: 'linux', group: 'engineering' },
    Date.now(),
  );
}

beforeAll(async () => {
  dir = await tempDir();
  server = await startServer(dir.path);
  adminToken = server.bootstrapToken!;
  admin = new AdminClient(server.url, adminToken);
});
afterAll(async () => {
  await server?.close();
  await dir.remove();
});

describe('first start', () => {
  it('creates a bootstrap admin token, once, that works', async () => {
    expect(adminToken).toMatch(/^aigt_/);
    expect(server.app.aigate.takeBootstrapToken()).toBeNull();
    await expect(admin.get('/whoami')).resolves.toMatchObject({
      name: 'bootstrap',
      role: 'admin',
      policyKeyFingerprint: server.app.aigate.policyKeyFingerprint,
    });
  });

  it('serves the OpenAPI document at /docs', async () => {
    const response = await fetch(`${server.url}/docs/json`);
    expect(response.status).toBe(200);
    const doc = (await response.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of [
      '/v1/enroll',
      '/v1/policy',
      '/v1/checkin',
      '/v1/events',
      '/v1/exception-requests',
      '/v1/admin/policies/preview',
    ]) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
    const page = await fetch(`${server.url}/docs/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('upgrade-insecure-requests');
  });
});

describe('enrollment', () => {
  it('creates an enroll secret shown once and stored hashed', async () => {
    const created = await admin.post<{ id: string; secret: string; group: string; expiresAt: string }>(
      '/enroll-secrets',
      { group: 'engineering', maxUses: 10, note: 'laptops' },
    );
    secret = created.secret;
    expect(secret).toMatch(/^aiges_/);
    expect(Date.parse(created.expiresAt) - Date.now()).toBeGreaterThan(6 * 86_400_000);
    const listed = await admin.get<{ secrets: Record<string, unknown>[] }>('/enroll-secrets');
    expect(JSON.stringify(listed)).not.toContain(secret);
  });

  it('registers the device key and returns the policy key', async () => {
    device = DeviceClient.generate(server.url);
    const result = await device.enroll(secret, FACTS);
    expect(result.status).toBe(201);
    enrollment = result.body;
    expect(enrollment).toMatchObject({ group: 'engineering', created: true });
    expect(enrollment.policyKey.fingerprint).toBe(
      await calculateJwkThumbprint(enrollment.policyKey.jwk as JWK, 'sha256'),
    );
    expect(enrollment.policyKey.fingerprint).toBe(server.app.aigate.policyKeyFingerprint);
    expect(enrollment.policyKey.jwk).not.toHaveProperty('d');
  });

  it('is idempotent for the same key (same id, no extra use of the secret)', async () => {
    const again = await device.enroll(secret, { ...FACTS, agentVersion: '0.1.1' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ deviceId: enrollment.deviceId, created: false });
    const secrets = await admin.get<{ secrets: { uses: number; note: string | null }[] }>('/enroll-secrets');
    expect(secrets.secrets.find((s) => s.note === 'laptops')!.uses).toBe(1);
    const shown = await admin.get<{ device: { agentVersion: string } }>(`/devices/${enrollment.deviceId}`);
    expect(shown.device.agentVersion).toBe('0.1.1');
  });
});

describe('policy distribution', () => {
  let etag1: string;

  it('answers 404 before any publish', async () => {
    const response = await device.getPolicy();
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ error: 'no_policy' });
  });

  it('publishes, then serves the signed bundle with an ETag', async () => {
    const published = await admin.post<{ revision: number; etag: string }>('/policies', {
      source: BAN_POLICY,
      comment: 'first',
    });
    expect(published.revision).toBe(1);
    const response = await device.getPolicy();
    expect(response.status).toBe(200);
    expect(response.headers.get('etag')).toBe(published.etag);
    etag1 = published.etag;
    const verified = await verifyBundle(response.body.bundle, {
      trustedKeys: [enrollment.policyKey.jwk],
      lastRevision: null,
      issuer: enrollment.audience,
    });
    expect(verified.ok).toBe(true);
    if (verified.ok) {
      expect(verified.payload.revision).toBe(1);
      expect(verified.payload.policy.metadata.name).toBe('test-ban');
    }
  });

  it('answers 304 with an empty body to a matching If-None-Match', async () => {
    const response = await device.getPolicy({ etag: etag1 });
    expect(response.status).toBe(304);
    expect(response.text).toBe('');
    expect(response.headers.get('etag')).toBe(etag1);
  });

  it('holds a long poll until the next publish, then answers with the new revision', async () => {
    let settled = false;
    const poll = device.getPolicy({ etag: etag1, wait: 30 }).finally(() => {
      settled = true;
    });
    // Let the request reach the server and start waiting.
    for (let i = 0; i < 100 && server.app.aigate.channel.waiting === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(server.app.aigate.channel.waiting).toBe(1);
    expect(settled).toBe(false);
    const published = await admin.post<{ revision: number; etag: string }>('/policies', {
      source: ALLOW_ALL_POLICY,
      comment: 'second',
    });
    const response = await poll;
    expect(response.status).toBe(200);
    expect(response.body.revision).toBe(2);
    expect(response.headers.get('etag')).toBe(published.etag);
    expect(response.headers.get('preference-applied')).toBe('wait=30');
  });

  it('ends a long poll with 304 when nothing is published in time', async () => {
    const current = await device.getPolicy();
    const response = await device.getPolicy({ etag: current.body.etag, wait: 1 });
    expect(response.status).toBe(304);
    expect(response.headers.get('preference-applied')).toBe('wait=1');
  });

  it('rolls back by publishing the old content as a new revision', async () => {
    const rolled = await admin.post<{ revision: number }>('/policies/1/rollback', { comment: 'back to the ban' });
    expect(rolled.revision).toBe(3);
    const history = await admin.get<{
      revisions: { revision: number; rollbackOf: number | null; current: boolean; comment: string | null }[];
    }>('/policies');
    expect(history.revisions.map((r) => [r.revision, r.rollbackOf, r.current])).toEqual([
      [3, 1, true],
      [2, null, false],
      [1, null, false],
    ]);
    const shown = await admin.get<{ source: string; revision: number }>('/policies/3');
    expect(shown.source).toBe(BAN_POLICY);
  });
});

describe('check-in and events', () => {
  const instances = eightInstances('alice');

  it('stores inventory and verdicts, and replies with a signed server time for this device', async () => {
    const verdicts = verdictsFor(BAN_POLICY, instances);
    const response = await device.checkin({
      policyRevision: 3,
      agentVersion: '0.1.1',
      inventory: instances,
      verdicts,
      users: ['alice'],
    });
    expect(response.status).toBe(200);
    expect(response.body.changes).toEqual({ appeared: 8, changed: 0, disappeared: 0, unchanged: 0 });
    const current = await admin.get<{ etag: string }>('/policies/current');
    expect(response.body.policy).toEqual({ revision: 3, etag: current.etag });
    const time = await verifyServerTime(response.body.serverTime, {
      trustedKeys: [enrollment.policyKey.jwk],
      deviceId: enrollment.deviceId,
    });
    expect(time.ok).toBe(true);
    if (time.ok) expect(Math.abs(time.timeMs - Date.parse(response.body.receivedAt))).toBeLessThan(1000);
    const other = await verifyServerTime(response.body.serverTime, {
      trustedKeys: [enrollment.policyKey.jwk],
      deviceId: 'another-device',
    });
    expect(other.ok).toBe(false);
  });

  it('records changes on the next check-in', async () => {
    const changed = instances.slice(1).map((i) => (i.toolId === 'gemini-cli' ? { ...i, version: '0.22.0' } : i));
    const verdicts = verdictsFor(BAN_POLICY, changed);
    const response = await device.checkin({ policyRevision: 3, agentVersion: '0.1.1', inventory: changed, verdicts });
    expect(response.body.changes).toEqual({ appeared: 0, changed: 1, disappeared: 1, unchanged: 6 });
    const shown = await admin.get<{
      instances: {
        instance: { toolId: string; installPath: string };
        present: boolean;
        verdict: { action: string } | null;
        violationSince: string | null;
      }[];
      history: { change: string; toolId: string }[];
    }>(`/devices/${enrollment.deviceId}`);
    const native = shown.instances.find((i) => i.instance.installPath.includes('.local/share/claude'))!;
    expect(native.verdict?.action).toBe('block');
    expect(native.violationSince).not.toBeNull();
    expect(shown.instances.filter((i) => !i.present).map((i) => i.instance.toolId)).toEqual(['claude-code']);
    expect(shown.history.map((h) => h.change)).toEqual(
      expect.arrayContaining(['appeared', 'disappeared', 'version-changed']),
    );
  });

  it('accepts events once and ignores repeated ids', async () => {
    const events = [
      {
        id: crypto.randomUUID(),
        type: 'blocked-launch',
        at: new Date().toISOString(),
        toolId: 'claude-code',
        user: 'alice',
        policyRevision: 3,
      },
      {
        id: crypto.randomUUID(),
        type: 'quarantined',
        at: new Date().toISOString(),
        toolId: 'claude-code',
        installPath: '/home/alice/.local/share/claude/versions/2.1.92',
      },
      {
        id: crypto.randomUUID(),
        type: 'policy-applied',
        at: new Date().toISOString(),
        policyRevision: 3,
        details: { previous: 2, took_ms: 12 },
      },
    ];
    const first = await device.events(events);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ accepted: 3, duplicates: 0 });
    const again = await device.events([
      ...events,
      { id: crypto.randomUUID(), type: 'tamper', at: new Date().toISOString(), message: 'stub replaced' },
    ]);
    expect(again.body).toEqual({ accepted: 1, duplicates: 3 });
  });

  it('previews a draft against the stored inventory', async () => {
    const preview = await admin.post<{
      devices: number;
      instances: number;
      totals: Record<string, { devices: number; users: number; instances: number }>;
      rows: { toolId: string; action: string; devices: number; users: number; changed: number }[];
    }>('/policies/preview', {
      source: BAN_POLICY.replace('effective: 2020-01-01', 'effective: 2020-01-01\n      until: 2021-01-01'),
    });
    expect(preview.devices).toBe(1);
    expect(preview.instances).toBe(7);
    // The ban ended in 2021 in this draft, so the stored block verdict would change to allow.
    const claude = preview.rows.find((r) => r.toolId === 'claude-code')!;
    expect(claude).toMatchObject({ action: 'allow', devices: 1, users: 1, changed: 1 });
    expect(preview.rows.find((r) => r.toolId === 'openai-codex-cli')).toMatchObject({
      action: 'warn',
      devices: 1,
      users: 1,
      changed: 0,
    });
    expect(preview.totals.warn).toEqual({ devices: 1, users: 1, instances: 1 });
  });
});

describe('exception requests', () => {
  let requestId: string;

  it('lets a device ask, and an admin approve into a new revision', async () => {
    const clientId = crypto.randomUUID();
    const asked = await device.requestException({
      id: clientId,
      toolId: 'claude-code',
      user: 'alice',
      reason: 'Red-team evaluation, SEC-1234',
      until: '2030-01-01',
    });
    expect(asked.status).toBe(201);
    requestId = asked.body.id;
    const repeated = await device.requestException({
      id: clientId,
      toolId: 'claude-code',
      user: 'alice',
      reason: 'Red-team evaluation, SEC-1234',
      until: '2030-01-01',
    });
    expect(repeated.status).toBe(200);
    expect(repeated.body.id).toBe(requestId);

    const pending = await admin.get<{ requests: { id: string; hostname: string }[] }>(
      '/exception-requests?status=pending',
    );
    expect(pending.requests.map((r) => r.id)).toEqual([requestId]);
    expect(pending.requests[0]!.hostname).toBe(FACTS.hostname);

    const approved = await admin.post<{ revision: number; request: { status: string; policyRevision: number } }>(
      `/exception-requests/${requestId}/approve`,
      { reason: 'ok for Q1' },
    );
    expect(approved.revision).toBe(4);
    expect(approved.request).toMatchObject({ status: 'approved', policyRevision: 4 });
    const policy = await admin.get<{
      source: string;
      document: { spec: { exceptions: { devices: string[]; until: string; tools: string[] }[] } };
    }>('/policies/current');
    expect(policy.source).toContain('# test policy');
    expect(policy.document.spec.exceptions).toEqual([
      expect.objectContaining({ tools: ['claude-code'], devices: [enrollment.deviceId], until: '2030-01-01' }),
    ]);

    const status = await device.send<{ status: string; policyRevision: number }>(
      'GET',
      `/v1/exception-requests/${requestId}`,
    );
    expect(status.body).toMatchObject({ status: 'approved', policyRevision: 4 });
    const twice = await fetch(`${server.url}/v1/admin/exception-requests/${requestId}/deny`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'too late' }),
    });
    expect(twice.status).toBe(409);
  });

  it('lets an admin deny with a reason', async () => {
    const asked = await device.requestException({ toolId: 'gemini-cli', reason: 'want to try it' });
    const denied = await admin.post<{ status: string; decisionReason: string }>(
      `/exception-requests/${asked.body.id}/deny`,
      { reason: 'use Qwen Code' },
    );
    expect(denied).toMatchObject({ status: 'denied', decisionReason: 'use Qwen Code' });
  });
});

describe('audit and restart', () => {
  it('audits every admin action in an intact chain', async () => {
    const audit = await admin.get<{ entries: { action: string; actorName: string }[] }>('/audit');
    expect(audit.entries.map((e) => e.action)).toEqual([
      'token.create',
      'enroll-secret.create',
      'policy.publish',
      'policy.publish',
      'policy.rollback',
      'exception.approve',
      'exception.deny',
    ]);
    await expect(admin.get('/audit/verify')).resolves.toMatchObject({ ok: true, entries: 7 });
  });

  it('finds everything still there after a restart', async () => {
    const before = await admin.get<{ etag: string; revision: number }>('/policies/current');
    await server.close();
    earlierLogs.push(...server.logs);
    server = await startServer(dir.path);
    expect(server.bootstrapToken).toBeNull();
    admin = new AdminClient(server.url, adminToken);
    await expect(admin.get('/whoami')).resolves.toMatchObject({ name: 'bootstrap' });

    const restarted = DeviceClient.generate(server.url);
    // The same device (same key) against the new process: same enrollment, fresh tokens.
    const again = new DeviceClient(server.url, device.privateKey, device.publicJwk);
    again.adopt(enrollment);
    const policy = await again.getPolicy({ etag: before.etag });
    expect(policy.status).toBe(304);
    const full = await again.getPolicy();
    expect(full.body.revision).toBe(4);
    expect(restarted.deviceId).toBeNull();

    const shown = await admin.get<{
      device: { lastCheckinAt: string | null; policyRevision: number };
      instances: unknown[];
    }>(`/devices/${enrollment.deviceId}`);
    expect(shown.device.policyRevision).toBe(3);
    expect(shown.device.lastCheckinAt).not.toBeNull();
    expect(shown.instances).toHaveLength(8);
    const history = await admin.get<{ revisions: unknown[] }>('/policies');
    expect(history.revisions).toHaveLength(4);
    await expect(admin.get('/audit/verify')).resolves.toMatchObject({ ok: true, entries: 7 });
    const requests = await admin.get<{ requests: { status: string }[] }>('/exception-requests');
    expect(requests.requests.map((r) => r.status).sort()).toEqual(['approved', 'denied']);
    // A token from before the restart cannot be replayed into the new process.
    const oldToken = again.token({ iat: Math.floor(Date.now() / 1000) - 30 });
    const replay = await again.send('GET', '/v1/policy', { token: oldToken });
    expect(replay.status).toBe(401);
    expect(replay.body).toMatchObject({ error: 'token_too_old' });
  });

  it('never logged a token or secret', () => {
    const logs = [...earlierLogs, ...server.logs].join('\n');
    expect(logs).toContain('policy published');
    expect(logs).not.toContain(adminToken);
    expect(logs).not.toContain(secret);
  });
});
