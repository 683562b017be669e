/**
 * Authorization matrix: every route x {no token, bad token, device, auditor, admin, revoked
 * token, revoked device} against a real server. Plus: a device cannot act as another, and the
 * per-device and per-token rate limits answer 429 in the JSON error shape.
 */
import { randomBytes } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AdminClient } from '../../server/client/admin-client.js';
import type { DeviceClient } from '../support/device-client.js';
import { BAN_POLICY, serverWithSecret } from './harness.js';
import { npmInstance, tempDir } from './helpers.js';

type Identity = 'none' | 'bad' | 'device' | 'auditor' | 'admin' | 'revoked-token' | 'revoked-device';
const IDENTITIES: Identity[] = ['none', 'bad', 'device', 'auditor', 'admin', 'revoked-token', 'revoked-device'];

type Setup = Awaited<ReturnType<typeof serverWithSecret>>;
let setup: Setup;
let dir: Awaited<ReturnType<typeof tempDir>>;
let device: DeviceClient;
let revokedDevice: DeviceClient;
let auditorToken: string;
let revokedToken: string;
let ownRequestId: string;

interface Route {
  method: 'GET' | 'POST';
  path: string;
  kind: 'device' | 'read' | 'write';
  /** Builds the concrete path and body; may create a fresh target so each success is real. */
  prepare?: () => Promise<{ path?: string; body?: unknown }>;
  body?: unknown;
  ok: number;
}

async function freshDeviceId(): Promise<string> {
  return (await setup.enrollDevice({ hostname: 'fresh' })).deviceId!;
}
/** A fingerprint `device` reports now (after a check-in listing the tool it belongs to). */
async function freshFingerprint(): Promise<string> {
  const claude = npmInstance('claude-code', '@anthropic-ai/claude-code', '2.1.91', 'alice');
  await device.checkin({ policyRevision: null, agentVersion: '0.1.0', inventory: [claude], verdicts: [] });
  const sha256 = randomBytes(32).toString('hex');
  const body = { fingerprints: [{ sha256, size: 5000, toolId: 'claude-code', version: '2.1.91', kind: 'entry' }] };
  const reply = await device.send('POST', '/v1/fingerprints', { body });
  if (reply.status !== 200) throw new Error(`report failed: ${reply.text}`);
  return sha256;
}
async function freshRequestId(): Promise<string> {
  const asker = await setup.enrollDevice({ hostname: 'asker' });
  return (await asker.requestException({ toolId: 'claude-code', reason: 'please' })).body.id;
}

const ROUTES: Route[] = [
  { method: 'GET', path: '/v1/policy', kind: 'device', ok: 200 },
  {
    method: 'POST',
    path: '/v1/checkin',
    kind: 'device',
    body: { policyRevision: null, agentVersion: '0.1.0', inventory: [], verdicts: [] },
    ok: 200,
  },
  {
    method: 'POST',
    path: '/v1/events',
    kind: 'device',
    body: { events: [{ id: '7f1b6c53-0a55-4b0e-9d1c-3f58c0f4a111', type: 'tamper', at: '2026-06-01T00:00:00Z' }] },
    ok: 200,
  },
  {
    method: 'POST',
    path: '/v1/exception-requests',
    kind: 'device',
    body: { toolId: 'claude-code', reason: 'need it' },
    ok: 201,
  },
  {
    method: 'GET',
    path: '/v1/exception-requests/:own',
    kind: 'device',
    prepare: async () => ({ path: `/v1/exception-requests/${ownRequestId}` }),
    ok: 200,
  },

  { method: 'GET', path: '/v1/admin/whoami', kind: 'read', ok: 200 },
  { method: 'POST', path: '/v1/admin/policies/validate', kind: 'read', body: { source: BAN_POLICY }, ok: 200 },
  { method: 'POST', path: '/v1/admin/policies/preview', kind: 'read', body: { source: BAN_POLICY }, ok: 200 },
  { method: 'GET', path: '/v1/admin/policies', kind: 'read', ok: 200 },
  { method: 'GET', path: '/v1/admin/policies/current', kind: 'read', ok: 200 },
  { method: 'GET', path: '/v1/admin/policies/1', kind: 'read', ok: 200 },
  { method: 'GET', path: '/v1/admin/devices', kind: 'read', ok: 200 },
  {
    method: 'GET',
    path: '/v1/admin/devices/:id',
    kind: 'read',
    prepare: async () => ({ path: `/v1/admin/devices/${device.deviceId}` }),
    ok: 200,
  },
  { method: 'GET', path: '/v1/admin/groups', kind: 'read', ok: 200 },
  { method: 'GET', path: '/v1/admin/enroll-secrets', kind: 'read', ok: 200 },
  { method: 'GET', path: '/v1/admin/exception-requests', kind: 'read', ok: 200 },
  {
    method: 'GET',
    path: '/v1/admin/exception-requests/:id',
    kind: 'read',
    prepare: async () => ({ path: `/v1/admin/exception-requests/${ownRequestId}` }),
    ok: 200,
  },
  { method: 'GET', path: '/v1/admin/tokens', kind: 'read', ok: 200 },
  { method: 'GET', path: '/v1/admin/audit', kind: 'read', ok: 200 },
  { method: 'GET', path: '/v1/admin/audit/verify', kind: 'read', ok: 200 },
  { method: 'GET', path: '/v1/reports', kind: 'read', ok: 200 },
  { method: 'GET', path: '/v1/reports/overview', kind: 'read', ok: 200 },
  { method: 'GET', path: '/v1/reports/rollups', kind: 'read', ok: 200 },
  {
    method: 'GET',
    path: '/v1/reports/attestation',
    kind: 'read',
    prepare: async () => ({ path: `/v1/reports/attestation?at=${new Date(Date.now() - 1000).toISOString()}` }),
    ok: 200,
  },
  ...['inventory', 'violations', 'events', 'coverage', 'usage', 'policies', 'audit', 'compliance'].map((kind) => ({
    method: 'GET' as const,
    path: `/v1/reports/${kind}`,
    kind: 'read' as const,
    ok: 200,
  })),

  { method: 'POST', path: '/v1/admin/policies', kind: 'write', body: { source: BAN_POLICY }, ok: 201 },
  { method: 'POST', path: '/v1/admin/policies/1/rollback', kind: 'write', body: {}, ok: 201 },
  {
    method: 'POST',
    path: '/v1/admin/devices/:id/revoke',
    kind: 'write',
    prepare: async () => ({ path: `/v1/admin/devices/${await freshDeviceId()}/revoke` }),
    ok: 200,
  },
  { method: 'POST', path: '/v1/admin/enroll-secrets', kind: 'write', body: { group: 'ops' }, ok: 201 },
  {
    method: 'POST',
    path: '/v1/admin/enroll-secrets/:id/revoke',
    kind: 'write',
    prepare: async () => ({
      path: `/v1/admin/enroll-secrets/${(await setup.admin.post<{ id: string }>('/enroll-secrets', { group: 'tmp' })).id}/revoke`,
    }),
    ok: 200,
  },
  {
    method: 'POST',
    path: '/v1/admin/exception-requests/:id/approve',
    kind: 'write',
    prepare: async () => ({ path: `/v1/admin/exception-requests/${await freshRequestId()}/approve`, body: {} }),
    ok: 200,
  },
  {
    method: 'POST',
    path: '/v1/admin/exception-requests/:id/deny',
    kind: 'write',
    prepare: async () => ({
      path: `/v1/admin/exception-requests/${await freshRequestId()}/deny`,
      body: { reason: 'no' },
    }),
    ok: 200,
  },
  {
    method: 'POST',
    path: '/v1/fingerprints',
    kind: 'device',
    prepare: async () => {
      await freshFingerprint();
      const sha256 = randomBytes(32).toString('hex');
      return {
        body: { fingerprints: [{ sha256, size: 5000, toolId: 'claude-code', version: '2.1.91', kind: 'entry' }] },
      };
    },
    ok: 200,
  },
  { method: 'GET', path: '/v1/admin/fingerprints', kind: 'read', ok: 200 },
  {
    method: 'POST',
    path: '/v1/admin/fingerprints/:sha/approve',
    kind: 'write',
    prepare: async () => ({ path: `/v1/admin/fingerprints/${await freshFingerprint()}/approve` }),
    ok: 200,
  },
  {
    method: 'POST',
    path: '/v1/admin/fingerprints/:sha/revoke',
    kind: 'write',
    prepare: async () => ({ path: `/v1/admin/fingerprints/${await freshFingerprint()}/revoke` }),
    ok: 200,
  },
  { method: 'POST', path: '/v1/admin/tokens', kind: 'write', body: { name: 'ci', role: 'auditor' }, ok: 201 },
  { method: 'POST', path: '/v1/reports/rollups/run', kind: 'write', ok: 200 },
  {
    method: 'POST',
    path: '/v1/admin/tokens/:id/revoke',
    kind: 'write',
    prepare: async () => ({
      path: `/v1/admin/tokens/${(await setup.admin.post<{ id: string }>('/tokens', { name: 'tmp', role: 'auditor' })).id}/revoke`,
    }),
    ok: 200,
  },
];

function expected(route: Route, identity: Identity): number {
  if (route.kind === 'device') {
    if (identity === 'device') return route.ok;
    return identity === 'revoked-device' ? 403 : 401;
  }
  if (identity === 'admin') return route.ok;
  if (identity === 'auditor') return route.kind === 'read' ? route.ok : 403;
  return 401;
}

function authorization(identity: Identity): string | undefined {
  switch (identity) {
    case 'none':
      return undefined;
    case 'bad':
      return 'Bearer not-a-real-token';
    case 'device':
      return `Bearer ${device.token()}`;
    case 'revoked-device':
      return `Bearer ${revokedDevice.token()}`;
    case 'auditor':
      return `Bearer ${auditorToken}`;
    case 'admin':
      return `Bearer ${setup.server.bootstrapToken}`;
    case 'revoked-token':
      return `Bearer ${revokedToken}`;
  }
}

beforeAll(async () => {
  dir = await tempDir();
  setup = await serverWithSecret(dir.path, { rateLimits: { tokenPerMinute: 100_000, devicePerMinute: 100_000 } });
  const { admin } = setup;
  await admin.post('/policies', { source: BAN_POLICY });
  device = await setup.enrollDevice();
  revokedDevice = await setup.enrollDevice({ hostname: 'stolen-laptop' });
  await admin.post(`/devices/${revokedDevice.deviceId}/revoke`);
  auditorToken = (await admin.post<{ token: string }>('/tokens', { name: 'auditor', role: 'auditor' })).token;
  const revoked = await admin.post<{ id: string; token: string }>('/tokens', { name: 'former admin', role: 'admin' });
  await admin.post(`/tokens/${revoked.id}/revoke`);
  revokedToken = revoked.token;
  ownRequestId = (await device.requestException({ toolId: 'claude-code', reason: 'setup' })).body.id;
});
afterAll(async () => {
  await setup?.server.close();
  await dir.remove();
});

describe('authorization matrix', () => {
  const cells = ROUTES.flatMap((route) =>
    IDENTITIES.map((identity) => ({ route, identity, label: `${route.method} ${route.path} as ${identity}` })),
  );
  it.each(cells)('$label', async ({ route, identity }) => {
    const prepared = route.prepare ? await route.prepare() : {};
    const path = prepared.path ?? route.path;
    const body = prepared.body ?? route.body;
    const headers: Record<string, string> = {};
    const auth = authorization(identity);
    if (auth) headers.authorization = auth;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(setup.server.url + path, {
      method: route.method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const want = expected(route, identity);
    const text = await response.text();
    expect(response.status, `${route.method} ${path} as ${identity}: ${text}`).toBe(want);
    if (want >= 400) {
      const error = JSON.parse(text) as { error: string; message: string };
      expect(error.error).toMatch(/^[a-z_]+$/);
      expect(error.message.length).toBeGreaterThan(5);
    }
  });

  it('covers every route in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${setup.server.url}/docs/json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const normalize = (path: string) =>
      path
        .replace(/\{[^}]+\}|:[a-z]+|\/1(?=\/|$)/g, '/X')
        .replace(/\/\/X/g, '/X')
        .replace(/(.)\/$/, '$1');
    const inMatrix = new Set(ROUTES.map((r) => `${r.method} ${normalize(r.path)}`));
    const served = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${normalize(path)}`),
    );
    // Open to anyone by design: health, enrollment (its secret is the credential) and the key proof.
    const outside = ['GET /healthz', 'POST /v1/enroll', 'GET /v1/policy-key'];
    expect(served.length).toBeGreaterThan(20);
    for (const route of served)
      if (!outside.includes(route)) expect(inMatrix, `${route} is missing from the matrix`).toContain(route);
  });
});

describe('a device cannot act as another device', () => {
  it('refuses a token that names another device but is signed by this key', async () => {
    const other = await setup.enrollDevice({ hostname: 'other' });
    const forged = device.token({ sub: other.deviceId! });
    const response = await device.send('POST', '/v1/checkin', {
      token: forged,
      body: { policyRevision: null, agentVersion: '1', inventory: [], verdicts: [] },
    });
    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({ error: 'invalid_token' });
  });

  it('refuses a body that names a device', async () => {
    const other = await setup.enrollDevice({ hostname: 'other-2' });
    const response = await device.checkin({
      deviceId: other.deviceId,
      policyRevision: null,
      agentVersion: '1',
      inventory: [],
      verdicts: [],
    });
    expect(response.status).toBe(400);
    expect((response.body as unknown as { message: string }).message).toMatch(/body\.deviceId is not a known field/);
  });

  it("hides another device's exception request", async () => {
    const other = await setup.enrollDevice({ hostname: 'other-3' });
    const response = await other.send('GET', `/v1/exception-requests/${ownRequestId}`);
    expect(response.status).toBe(404);
  });
});

describe('rate limits', () => {
  it('limits each device separately, and each token', async () => {
    const limitedDir = await tempDir();
    const limited = await serverWithSecret(limitedDir.path, { rateLimits: { devicePerMinute: 3, tokenPerMinute: 5 } });
    try {
      const a = await limited.enrollDevice({ hostname: 'a' });
      const b = await limited.enrollDevice({ hostname: 'b' });
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await a.getPolicy()).status);
      expect(statuses).toEqual([404, 404, 404, 429]);
      const limitedResponse = await a.getPolicy();
      expect(limitedResponse.body).toMatchObject({ error: 'rate_limited' });
      expect(limitedResponse.headers.get('retry-after')).toMatch(/^\d+$/);
      expect((await b.getPolicy()).status).toBe(404);

      const admin = new AdminClient(limited.server.url, limited.server.bootstrapToken!);
      // serverWithSecret already used the token once.
      const results: number[] = [];
      for (let i = 0; i < 5; i++)
        results.push(
          await admin.get('/whoami').then(
            () => 200,
            (e: { status: number }) => e.status,
          ),
        );
      expect(results).toEqual([200, 200, 200, 200, 429]);
    } finally {
      await limited.server.close();
      await limitedDir.remove();
    }
  });
});
