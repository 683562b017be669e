/** Enrollment, the state directory and device tokens, against a real server. */
import { readdir, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { enrollDevice, EnrollError, type EnrollInput } from '../../agent/enroll.js';
import { DeviceHttp } from '../../agent/net/device-http.js';
import { checkServerUrl, isLoopbackHost } from '../../agent/net/server-url.js';
import { loadConfig } from '../../agent/state/config.js';
import { loadDeviceKey } from '../../agent/state/device-key.js';
import { acquireLock, LockHeldError } from '../../agent/state/lock.js';
import { statePaths } from '../../agent/state/paths.js';
import { generateSigningKey, signCompactJws } from '../../policies/keys.js';
import { KEY_PROOF_TYP } from '../../policies/protocol.js';
import { createEnrollSecret, startTestServer, tempDir, type TestServer } from './helpers.js';

const FACTS = { hostname: 'dev-laptop-1', os: 'linux' as const, osVersion: '6.8', arch: 'x64', users: ['alice'] };

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: TestServer;
let secret: string;
let fingerprint: string;

const input = (stateDir: string, overrides: Partial<EnrollInput> = {}): EnrollInput => ({
  server: server.url,
  secret,
  stateDir,
  insecureHttp: false,
  force: false,
  facts: FACTS,
  ...overrides,
});

beforeAll(async () => {
  dir = await tempDir();
  server = await startTestServer(join(dir.path, 'server'));
  secret = await createEnrollSecret(server.admin);
  fingerprint = server.app.aigate.policyKeyFingerprint;
});
afterAll(async () => {
  await server?.close();
  await dir?.remove();
});

describe('enroll', () => {
  it('writes the key (0600) and the config with the pinned key, and the server knows the device', async () => {
    const stateDir = join(dir.path, 'state-ok');
    const outcome = await enrollDevice(input(stateDir, { expectedFingerprint: fingerprint }));
    expect(outcome).toMatchObject({
      group: 'engineering',
      created: true,
      fingerprint,
      fingerprintVerified: true,
      keyReused: false,
    });
    const paths = statePaths(stateDir);
    expect((await stat(paths.deviceKey)).mode & 0o777).toBe(0o600);
    expect((await stat(paths.config)).mode & 0o777).toBe(0o600);
    expect((await stat(paths.launchesDir)).mode & 0o7777).toBe(0o1733);
    expect((await stat(paths.policyDir)).mode & 0o777).toBe(0o700);
    const config = await loadConfig(paths.config, stateDir);
    expect(config).toMatchObject({
      serverUrl: server.url,
      deviceId: outcome.deviceId,
      policyKeyFingerprints: [fingerprint],
    });
    const device = server.app.aigate.stores.devices.get(outcome.deviceId);
    expect(device?.hostname).toBe('dev-laptop-1');

    // The device token made from the stored key is accepted.
    const key = (await loadDeviceKey(paths.deviceKey))!;
    const http = new DeviceHttp({
      serverUrl: server.url,
      deviceId: config.deviceId,
      audience: config.audience,
      privateKey: key.privateKey,
    });
    const reply = await http.request('GET', '/v1/policy');
    expect(reply.status).toBe(404);
    expect(reply.body).toMatchObject({ error: 'no_policy' });

    // Enrolling again keeps the key and the device id.
    const again = await enrollDevice(input(stateDir));
    expect(again).toMatchObject({
      deviceId: outcome.deviceId,
      created: false,
      keyReused: true,
      fingerprintVerified: false,
    });
  });

  it('refuses a fingerprint mismatch before the secret is sent: no device on the server, nothing written', async () => {
    const stateDir = join(dir.path, 'state-mismatch');
    const wrong = 'A'.repeat(43);
    const devicesBefore = server.app.aigate.stores.devices.list().length;
    await expect(enrollDevice(input(stateDir, { expectedFingerprint: wrong }))).rejects.toThrow(
      /fingerprint is .* but --policy-key-fingerprint says A{43}.*Nothing was sent or written/,
    );
    await expect(readdir(stateDir)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(server.app.aigate.stores.devices.list()).toHaveLength(devicesBefore);
  });

  it('never sends the secret to a look-alike server that shows the right public key but cannot sign with it', async () => {
    const realKey = (await (await fetch(`${server.url}/v1/policy-key?challenge=${'a'.repeat(43)}`)).json()) as {
      policyKey: unknown;
    };
    const impostorKey = await generateSigningKey();
    const received: string[] = [];
    const impostor = createServer((request, response) => {
      received.push(`${request.method} ${request.url?.split('?')[0]}`);
      void (async () => {
        const challenge = new URL(request.url ?? '/', 'http://x').searchParams.get('challenge') ?? '';
        const proof = await signCompactJws({ challenge, iat: 1 }, KEY_PROOF_TYP, impostorKey);
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify({ policyKey: realKey.policyKey, proof }));
      })();
    });
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = impostor.address() as AddressInfo;
      const stateDir = join(dir.path, 'state-impostor');
      await expect(
        enrollDevice(input(stateDir, { server: `http://127.0.0.1:${port}`, expectedFingerprint: fingerprint })),
      ).rejects.toThrow(/did not sign this enrollment's challenge with it.*Nothing was sent or written/);
      expect(received).toEqual(['GET /v1/policy-key']);
      await expect(readdir(stateDir)).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await new Promise((resolve) => impostor.close(resolve));
    }
  });

  it.each([
    ['no challenge', ''],
    ['a short challenge', '?challenge=abc'],
    ['a challenge with other characters', `?challenge=${'%2F'.repeat(43)}`],
  ])('GET /v1/policy-key refuses %s with 400', async (_what, query) => {
    const reply = await fetch(`${server.url}/v1/policy-key${query}`);
    expect(reply.status).toBe(400);
    expect(((await reply.json()) as { code: string }).code).toBe('invalid_request');
  });

  it.each([
    ['a malformed fingerprint', { expectedFingerprint: 'abc' }, /43-character fingerprint/],
    [
      'plain http to another host',
      { server: 'http://aigate.example.com' },
      /refusing plain http to aigate\.example\.com/,
    ],
    ['an unknown secret', { secret: 'nope' }, /refused the enrollment \(HTTP 401\): the enroll secret is not valid/],
    ['an unreachable server', { server: 'http://127.0.0.1:9' }, /cannot reach http:\/\/127\.0\.0\.1:9\/v1\/enroll/],
    ['a URL with a password', { server: 'https://u:p@example.com' }, /user name or password/],
  ])('refuses %s and writes nothing', async (_name, overrides, message) => {
    const stateDir = join(dir.path, `state-${Math.random().toString(36).slice(2)}`);
    const error = await enrollDevice(input(stateDir, overrides)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EnrollError);
    expect((error as Error).message).toMatch(message);
    await expect(readdir(stateDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('will not switch servers without --force', async () => {
    const stateDir = join(dir.path, 'state-switch');
    await enrollDevice(input(stateDir));
    await expect(
      enrollDevice(input(stateDir, { server: server.url.replace('127.0.0.1', 'localhost') })),
    ).rejects.toThrow(/already enrolled with .* pass --force/);
    const switched = await enrollDevice(
      input(stateDir, { server: server.url.replace('127.0.0.1', 'localhost'), force: true }),
    );
    expect(switched.keyReused).toBe(false);
  });
});

describe('server URLs', () => {
  it.each([
    ['https://aigate.example.com/', false, 'https://aigate.example.com'],
    ['https://aigate.example.com/base/', false, 'https://aigate.example.com/base'],
    ['http://127.0.0.1:8080', false, 'http://127.0.0.1:8080'],
    ['http://[::1]:8080', false, 'http://[::1]:8080'],
    ['http://localhost:8080', false, 'http://localhost:8080'],
    ['http://10.0.0.5:8080', true, 'http://10.0.0.5:8080'],
  ])('accepts %s (insecure %s)', (text, insecureHttp, url) => {
    expect(checkServerUrl(text, { insecureHttp })).toEqual({ ok: true, url });
  });

  it.each([
    ['http://10.0.0.5:8080', /refusing plain http/],
    ['ftp://example.com', /must use https/],
    ['not a url', /must be a URL/],
    ['https://example.com/?x=1', /query or a fragment/],
  ])('refuses %s', (text, message) => {
    const result = checkServerUrl(text, { insecureHttp: false });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toMatch(message);
  });

  it('knows loopback hosts', () => {
    expect(['127.0.0.1', '127.5.6.7', '::1', '[::1]', 'localhost', 'a.localhost'].every(isLoopbackHost)).toBe(true);
    expect(['10.0.0.1', 'example.com', '128.0.0.1', 'localhost.example.com'].some(isLoopbackHost)).toBe(false);
  });
});

describe('device tokens', () => {
  it('re-signs with the server clock when the device clock is far off', async () => {
    const stateDir = join(dir.path, 'state-clock');
    await enrollDevice(input(stateDir));
    const paths = statePaths(stateDir);
    const config = await loadConfig(paths.config, stateDir);
    const key = (await loadDeviceKey(paths.deviceKey))!;
    for (const skew of [-3 * 3600_000, 3 * 3600_000]) {
      const http = new DeviceHttp(
        { serverUrl: server.url, deviceId: config.deviceId, audience: config.audience, privateKey: key.privateKey },
        () => Date.now() + skew,
      );
      expect((await http.request('GET', '/v1/policy')).status).toBe(404);
    }
  });
});

describe('the state directory lock', () => {
  it('lets one agent in and takes over a stale lock', async () => {
    const path = join(dir.path, 'agent.lock');
    const lock = await acquireLock(path);
    await expect(acquireLock(path)).rejects.toBeInstanceOf(LockHeldError);
    await lock.release();
    // A lock left by a process that is gone.
    await writeFile(path, JSON.stringify({ pid: 2 ** 22 + 17 }));
    const taken = await acquireLock(path);
    await taken.release();
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
