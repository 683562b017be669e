/**
 * Bad input, table-driven: malformed JSON, wrong types, missing and unknown fields, oversize
 * bodies, expired / replayed / forged device tokens. Each must get a 4xx with a JSON error that
 * names the problem, never a 5xx, and must leave the database exactly as it was.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';

import type Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { DeviceClient } from '../support/device-client.js';
import { BAN_POLICY, serverWithSecret } from './harness.js';
import { eightInstances, tempDir, verdictFor } from './helpers.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let setup: Awaited<ReturnType<typeof serverWithSecret>>;
let device: DeviceClient;
let db: Database.Database;

/** A digest of every row of every table: equal digests mean nothing was written. */
function snapshot(): string {
  const hash = createHash('sha256');
  const tables = db
    .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .all();
  for (const { name } of tables) {
    hash.update(name);
    for (const row of db.prepare(`SELECT * FROM "${name}"`).all()) hash.update(JSON.stringify(row));
  }
  return hash.digest('hex');
}

const instances = eightInstances('bob');
const goodCheckin = () => ({
  policyRevision: 1,
  agentVersion: '0.1.0',
  inventory: instances,
  verdicts: instances.map((i) => verdictFor(i, 'allow')),
});
const event = (overrides: Record<string, unknown> = {}) => ({
  id: crypto.randomUUID(),
  type: 'blocked-launch',
  at: '2026-06-01T10:00:00Z',
  ...overrides,
});

interface Case {
  name: string;
  send: () => Promise<{ status: number; body: unknown }>;
  status: number;
  error: string;
  message: RegExp;
}

const raw = async (
  method: string,
  path: string,
  init: { body?: string; headers?: Record<string, string>; device?: boolean; admin?: boolean } = {},
) => {
  const headers: Record<string, string> = { ...init.headers };
  if (init.device) headers.authorization = `Bearer ${device.token()}`;
  if (init.admin) headers.authorization = `Bearer ${setup.server.bootstrapToken}`;
  const response = await fetch(setup.server.url + path, {
    method,
    headers,
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as unknown) : null };
};
const json = (body: unknown) => ({ body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

const CASES: Case[] = [
  // A URL Fastify cannot decode is refused before routing, with our code (not FST_ERR_BAD_URL)
  ...['/v1/%E0%A4%A', '/ui/%E0%A4%A', '/%E0%A4%A'].map((path): Case => ({
    name: `an undecodable URL ${path}`,
    send: () => raw('GET', path),
    status: 400,
    error: 'bad_url',
    message: /.+/,
  })),
  // Body syntax and shape
  {
    name: 'malformed JSON',
    send: () =>
      raw('POST', '/v1/checkin', {
        device: true,
        body: '{"policyRevision": 1,',
        headers: { 'content-type': 'application/json' },
      }),
    status: 400,
    error: 'invalid_json',
    message: /not valid JSON/,
  },
  {
    name: 'an empty JSON body',
    send: () => raw('POST', '/v1/events', { device: true, body: '', headers: { 'content-type': 'application/json' } }),
    status: 400,
    error: 'invalid_json',
    message: /JSON/,
  },
  {
    name: 'a non-JSON content type',
    send: () => raw('POST', '/v1/checkin', { device: true, body: 'hello', headers: { 'content-type': 'text/plain' } }),
    status: 415,
    error: 'unsupported_media_type',
    message: /text\/plain/,
  },
  {
    name: 'a wrong type',
    send: () => raw('POST', '/v1/checkin', { device: true, ...json({ ...goodCheckin(), policyRevision: '1' }) }),
    status: 400,
    error: 'invalid_request',
    message: /body\.policyRevision expected an integer or null, got "1"/,
  },
  {
    name: 'a wrong nested type',
    send: () =>
      raw('POST', '/v1/checkin', {
        device: true,
        ...json({ ...goodCheckin(), inventory: [{ ...instances[0], launchers: 'claude' }], verdicts: [] }),
      }),
    status: 400,
    error: 'invalid_request',
    message: /body\.inventory\[0\]\.launchers expected a list/,
  },
  {
    name: 'a missing field',
    send: () =>
      raw('POST', '/v1/checkin', { device: true, ...json({ policyRevision: 1, agentVersion: '1', verdicts: [] }) }),
    status: 400,
    error: 'invalid_request',
    message: /body\.inventory is required/,
  },
  {
    name: 'an unknown field',
    send: () => raw('POST', '/v1/checkin', { device: true, ...json({ ...goodCheckin(), deviceId: 'x' }) }),
    status: 400,
    error: 'invalid_request',
    message: /body\.deviceId is not a known field/,
  },
  {
    name: 'an unknown nested field',
    send: () =>
      raw('POST', '/v1/checkin', {
        device: true,
        ...json({ ...goodCheckin(), inventory: [{ ...instances[0], sha: 'x' }], verdicts: [] }),
      }),
    status: 400,
    error: 'invalid_request',
    message: /body\.inventory\[0\]\.sha is not a known field/,
  },
  {
    name: 'an unknown channel',
    send: () =>
      raw('POST', '/v1/checkin', {
        device: true,
        ...json({ ...goodCheckin(), inventory: [{ ...instances[0], channel: 'floppy' }], verdicts: [] }),
      }),
    status: 400,
    error: 'invalid_request',
    message: /body\.inventory\[0\]\.channel/,
  },
  {
    name: 'a prototype-poisoning key',
    send: () =>
      raw('POST', '/v1/events', {
        device: true,
        body: '{"events":[],"__proto__":{"admin":true}}',
        headers: { 'content-type': 'application/json' },
      }),
    status: 400,
    error: 'invalid_json',
    message: /__proto__|forbidden/i,
  },
  {
    name: 'an oversize check-in body',
    send: () =>
      raw('POST', '/v1/checkin', {
        device: true,
        ...json({ ...goodCheckin(), agentVersion: 'x'.repeat(5 * 1024 * 1024) }),
      }),
    status: 413,
    error: 'body_too_large',
    message: /too large/i,
  },
  {
    name: 'too many instances',
    send: () =>
      raw('POST', '/v1/checkin', {
        device: true,
        ...json({
          ...goodCheckin(),
          inventory: Array.from({ length: 2001 }, (_, i) => ({ ...instances[0], installPath: `/p/${i}` })),
          verdicts: [],
        }),
      }),
    status: 400,
    error: 'invalid_request',
    message: /body\.inventory has too many items \(at most 2000\)/,
  },
  // Check-in meaning
  {
    name: 'a verdict for an unreported instance',
    send: () =>
      raw('POST', '/v1/checkin', {
        device: true,
        ...json({ ...goodCheckin(), verdicts: [verdictFor({ ...instances[0]!, installPath: '/elsewhere' }, 'block')] }),
      }),
    status: 400,
    error: 'invalid_request',
    message: /body\.verdicts\[0\] is for claude-code at "\/elsewhere", which is not in body\.inventory/,
  },
  {
    name: 'an instance reported twice',
    send: () =>
      raw('POST', '/v1/checkin', {
        device: true,
        ...json({ ...goodCheckin(), inventory: [instances[0], instances[0]], verdicts: [] }),
      }),
    status: 400,
    error: 'invalid_request',
    message: /body\.inventory\[1\] repeats claude-code/,
  },
  {
    name: 'a policy revision never published',
    send: () => raw('POST', '/v1/checkin', { device: true, ...json({ ...goodCheckin(), policyRevision: 99 }) }),
    status: 400,
    error: 'invalid_request',
    message: /policyRevision 99 has never been published/,
  },
  // Events
  {
    name: 'an event id that is not a UUID',
    send: () => raw('POST', '/v1/events', { device: true, ...json({ events: [event({ id: 'evt-1' })] }) }),
    status: 400,
    error: 'invalid_request',
    message: /body\.events\[0\]\.id expected a UUID/,
  },
  {
    name: 'an unknown event type',
    send: () => raw('POST', '/v1/events', { device: true, ...json({ events: [event({ type: 'exploded' })] }) }),
    status: 400,
    error: 'invalid_request',
    message: /body\.events\[0\]\.type expected warned-launch \| blocked-launch/,
  },
  {
    name: 'an event time that is not RFC 3339',
    send: () => raw('POST', '/v1/events', { device: true, ...json({ events: [event({ at: 'yesterday' })] }) }),
    status: 400,
    error: 'invalid_request',
    message: /body\.events\[0\]\.at expected an RFC 3339 date-time/,
  },
  {
    name: 'an empty event batch',
    send: () => raw('POST', '/v1/events', { device: true, ...json({ events: [] }) }),
    status: 400,
    error: 'invalid_request',
    message: /body\.events must have at least 1 item/,
  },
  {
    name: 'nested event details',
    send: () =>
      raw('POST', '/v1/events', { device: true, ...json({ events: [event({ details: { deep: { x: 1 } } })] }) }),
    status: 400,
    error: 'invalid_request',
    message: /body\.events\[0\]\.details\.deep/,
  },
  // Device tokens
  {
    name: 'an expired device token',
    send: () =>
      raw('GET', '/v1/policy', {
        headers: {
          authorization: `Bearer ${device.token({ iat: Math.floor(Date.now() / 1000) - 600, exp: Math.floor(Date.now() / 1000) - 300 })}`,
        },
      }),
    status: 401,
    error: 'token_expired',
    message: /expired/,
  },
  {
    name: 'a token living too long',
    send: () =>
      raw('GET', '/v1/policy', {
        headers: { authorization: `Bearer ${device.token({ exp: Math.floor(Date.now() / 1000) + 3600 })}` },
      }),
    status: 401,
    error: 'invalid_token',
    message: /at most 300 s/,
  },
  {
    name: 'a token from the future',
    send: () =>
      raw('GET', '/v1/policy', {
        headers: {
          authorization: `Bearer ${device.token({ iat: Math.floor(Date.now() / 1000) + 600, exp: Math.floor(Date.now() / 1000) + 700 })}`,
        },
      }),
    status: 401,
    error: 'invalid_token',
    message: /future|iat/,
  },
  {
    name: 'a forged signature',
    send: () =>
      raw('GET', '/v1/policy', {
        headers: { authorization: `Bearer ${device.token({ key: generateKeyPairSync('ed25519').privateKey })}` },
      }),
    status: 401,
    error: 'invalid_token',
    message: /signature does not verify/,
  },
  {
    name: 'an unsigned token (alg none)',
    send: () => raw('GET', '/v1/policy', { headers: { authorization: `Bearer ${device.token({ alg: 'none' })}` } }),
    status: 401,
    error: 'invalid_token',
    message: /EdDSA/,
  },
  {
    name: 'a token for another server',
    send: () =>
      raw('GET', '/v1/policy', {
        headers: { authorization: `Bearer ${device.token({ aud: 'aigate:someone-else' })}` },
      }),
    status: 401,
    error: 'invalid_token',
    message: /another server/,
  },
  {
    name: 'a token with the wrong typ',
    send: () => raw('GET', '/v1/policy', { headers: { authorization: `Bearer ${device.token({ typ: 'JWT' })}` } }),
    status: 401,
    error: 'invalid_token',
    message: /typ/,
  },
  {
    name: 'a token for an unknown device',
    send: () =>
      raw('GET', '/v1/policy', { headers: { authorization: `Bearer ${device.token({ sub: 'no-such-device' })}` } }),
    status: 401,
    error: 'invalid_token',
    message: /not valid/,
  },
  {
    name: 'a truncated token',
    send: () =>
      raw('GET', '/v1/policy', {
        headers: { authorization: `Bearer ${device.token().split('.').slice(0, 2).join('.')}` },
      }),
    status: 401,
    error: 'invalid_token',
    message: /Bearer <JWT>/,
  },
  {
    name: 'an admin token on a device route',
    send: () => raw('GET', '/v1/policy', { admin: true }),
    status: 401,
    error: 'invalid_token',
    message: /JWT/,
  },
  // Headers, params, queries
  {
    name: 'a malformed Prefer: wait',
    send: () => raw('GET', '/v1/policy', { device: true, headers: { prefer: 'wait=soon' } }),
    status: 400,
    error: 'invalid_request',
    message: /Prefer: wait must be a whole number/,
  },
  {
    name: 'a path id that is not a UUID',
    send: () => raw('GET', '/v1/admin/devices/not-a-uuid', { admin: true }),
    status: 400,
    error: 'invalid_request',
    message: /params\.id expected a UUID/,
  },
  {
    name: 'an out-of-range query',
    send: () => raw('GET', '/v1/admin/policies?limit=0', { admin: true }),
    status: 400,
    error: 'invalid_request',
    message: /query\.limit must be at least 1/,
  },
  {
    name: 'an unknown query parameter',
    send: () => raw('GET', '/v1/admin/policies?limt=5', { admin: true }),
    status: 400,
    error: 'invalid_request',
    message: /query\.limt is not a known field/,
  },
  {
    name: 'a revision that is not a number',
    send: () => raw('GET', '/v1/admin/policies/latest', { admin: true }),
    status: 400,
    error: 'invalid_request',
    message: /params\.revision expected an integer/,
  },
  {
    name: 'an unknown route',
    send: () => raw('GET', '/v1/nothing-here', { device: true }),
    status: 404,
    error: 'not_found',
    message: /no route for GET \/v1\/nothing-here/,
  },
  // Admin inputs
  {
    name: 'an invalid policy',
    send: () =>
      raw('POST', '/v1/admin/policies', {
        admin: true,
        ...json({ source: BAN_POLICY.replace('action: block', 'action: forbid') }),
      }),
    status: 400,
    error: 'invalid_policy',
    message: /spec\.rules\[0\]\.action/,
  },
  {
    name: 'a policy that is not YAML',
    send: () => raw('POST', '/v1/admin/policies', { admin: true, ...json({ source: 'a: [unclosed' }) }),
    status: 400,
    error: 'invalid_policy',
    message: /YAML syntax/,
  },
  {
    name: 'an unknown field on publish',
    send: () => raw('POST', '/v1/admin/policies', { admin: true, ...json({ source: BAN_POLICY, revision: 7 }) }),
    status: 400,
    error: 'invalid_request',
    message: /body\.revision is not a known field/,
  },
  {
    name: 'an enroll secret without a group',
    send: () => raw('POST', '/v1/admin/enroll-secrets', { admin: true, ...json({ maxUses: 3 }) }),
    status: 400,
    error: 'invalid_request',
    message: /body\.group is required/,
  },
  {
    name: 'a bad enroll secret expiry',
    send: () =>
      raw('POST', '/v1/admin/enroll-secrets', { admin: true, ...json({ group: 'eng', expiresIn: 'forever' }) }),
    status: 400,
    error: 'invalid_request',
    message: /body\.expiresIn/,
  },
  {
    name: 'an unknown token role',
    send: () => raw('POST', '/v1/admin/tokens', { admin: true, ...json({ name: 'x', role: 'root' }) }),
    status: 400,
    error: 'invalid_request',
    message: /body\.role expected admin \| auditor|body\.role/,
  },
  {
    name: 'a missing deny reason',
    send: () => raw('POST', `/v1/admin/exception-requests/${crypto.randomUUID()}/deny`, { admin: true, ...json({}) }),
    status: 400,
    error: 'invalid_request',
    message: /body\.reason is required/,
  },
  // Enrollment
  {
    name: 'an unknown enroll secret',
    send: () =>
      raw(
        'POST',
        '/v1/enroll',
        json({
          secret: 'aiges_nope',
          publicKey: device.publicJwk,
          hostname: 'h',
          os: 'linux',
          users: [],
          agentVersion: '1',
        }),
      ),
    status: 401,
    error: 'invalid_enroll_secret',
    message: /not valid/,
  },
  {
    name: 'a private key sent as the public key',
    send: () =>
      raw(
        'POST',
        '/v1/enroll',
        json({
          secret: setup.secret,
          publicKey: { ...device.publicJwk, d: 'A'.repeat(43) },
          hostname: 'h',
          os: 'linux',
          users: [],
          agentVersion: '1',
        }),
      ),
    status: 400,
    error: 'invalid_request',
    message: /body\.publicKey\.d is not a known field/,
  },
  {
    name: 'a public key of the wrong type',
    send: () =>
      raw(
        'POST',
        '/v1/enroll',
        json({
          secret: setup.secret,
          publicKey: { kty: 'RSA', n: 'x', e: 'AQAB' },
          hostname: 'h',
          os: 'linux',
          users: [],
          agentVersion: '1',
        }),
      ),
    status: 400,
    error: 'invalid_request',
    message: /body\.publicKey/,
  },
  {
    name: 'an unknown OS',
    send: () =>
      raw(
        'POST',
        '/v1/enroll',
        json({
          secret: setup.secret,
          publicKey: device.publicJwk,
          hostname: 'h',
          os: 'plan9',
          users: [],
          agentVersion: '1',
        }),
      ),
    status: 400,
    error: 'invalid_request',
    message: /body\.os expected linux \| darwin \| windows/,
  },
];

beforeAll(async () => {
  dir = await tempDir();
  // No background last-seen flush during the test: a refused request must be the only thing that could write.
  setup = await serverWithSecret(dir.path, {
    lastSeenFlushMs: 3_600_000,
    rateLimits: { devicePerMinute: 100_000, tokenPerMinute: 100_000, enrollPerMinutePerIp: 100_000 },
  });
  db = setup.server.app.aigate.db;
  await setup.admin.post('/policies', { source: BAN_POLICY });
  device = await setup.enrollDevice({ hostname: 'bad-input' });
  // One real check-in, so refused ones have state to leave untouched.
  expect((await device.checkin(goodCheckin())).status).toBe(200);
});
afterAll(async () => {
  await setup?.server.close();
  await dir.remove();
});

describe('bad input', () => {
  it.each(CASES)('refuses $name', async ({ send, status, error, message }) => {
    // Admin reads stamp last_used_at at most once a minute; use the token first so a refused
    // admin request cannot be the one that writes it.
    await setup.admin.get('/whoami');
    const before = snapshot();
    const response = await send();
    expect(response.status, JSON.stringify(response.body)).toBe(status);
    expect(response.body).toMatchObject({ error });
    expect((response.body as { message: string }).message).toMatch(message);
    expect(Object.keys(response.body as object).sort()).toEqual(
      error === 'invalid_policy' ? ['code', 'error', 'message', 'problems'] : ['code', 'error', 'message'],
    );
    expect((response.body as { code: string }).code).toBe(error);
    expect(snapshot()).toBe(before);
  });

  it('refuses a replayed device token without writing anything', async () => {
    const token = device.token();
    const first = await device.send('POST', '/v1/events', { token, body: { events: [event()] } });
    expect(first.status).toBe(200);
    const before = snapshot();
    const replay = await device.send('POST', '/v1/events', { token, body: { events: [event()] } });
    expect(replay.status).toBe(401);
    expect(replay.body).toMatchObject({ error: 'token_replayed' });
    expect(snapshot()).toBe(before);
  });

  it('never leaks a stack trace', async () => {
    const response = await raw('POST', '/v1/checkin', {
      device: true,
      body: '{{{',
      headers: { 'content-type': 'application/json' },
    });
    expect(JSON.stringify(response.body)).not.toMatch(/at .*\.(js|ts):\d+/);
  });
});
