/**
 * Fleet fingerprints over HTTP against a real server and SQLite file: a device's report is
 * validated and stored but not trusted; a fingerprint reaches the signed bundle only once an
 * admin approves it or enough devices corroborate it, and never after a revoke. A hostile report
 * (bad hex, unknown tool, a tool the device never reported, too many entries, a tiny "native
 * binary") is refused whole and changes nothing stored.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { verifyBundle } from '../../policies/bundle.js';
import { BUNDLE_FEATURES_HEADER, MAX_FINGERPRINTS_PER_REPORT } from '../../policies/protocol.js';
import { runAigate } from '../../server/cli/aigate.js';
import { runAigateServer } from '../../server/cli/aigate-server.js';
import { AdminApiError, type AdminClient } from '../../server/client/admin-client.js';
import type { DeviceClient } from '../support/device-client.js';
import { BAN_POLICY, type RunningServer, serverWithSecret } from './harness.js';
import { npmInstance, tempDir, verdictFor } from './helpers.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: RunningServer;
let admin: AdminClient;
let auditorToken: string;
let enrollDevice: Awaited<ReturnType<typeof serverWithSecret>>['enrollDevice'];

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const claude = npmInstance('claude-code', '@anthropic-ai/claude-code', '2.1.91', 'alice');
const entry = (seed: string, overrides: Record<string, unknown> = {}) => ({
  sha256: sha(seed),
  size: 9_000_000,
  toolId: 'claude-code',
  version: '2.1.91',
  kind: 'entry',
  ...overrides,
});

/** A device that checked in with Claude Code 2.1.91 (so it may report that tool's files). */
async function deviceWithClaude(hostname: string): Promise<DeviceClient> {
  const device = await enrollDevice({ hostname });
  const checkin = await device.checkin({
    policyRevision: null,
    agentVersion: '0.1.0',
    inventory: [claude],
    verdicts: [verdictFor(claude, 'block')],
  });
  expect(checkin.status, checkin.text).toBe(200);
  return device;
}

const report = (device: DeviceClient, fingerprints: unknown[]) =>
  device.send<{ received: number; new: number; message?: string }>('POST', '/v1/fingerprints', {
    body: { fingerprints },
  });

/** GET /v1/policy as an agent that understands fingerprints asks for it. */
const getPolicy = (device: DeviceClient, headers: Record<string, string> = {}) =>
  device.send<{ revision: number; etag: string; bundle: string }>('GET', '/v1/policy', {
    headers: { [BUNDLE_FEATURES_HEADER]: 'fingerprints', ...headers },
  });

/** The fingerprints the current signed bundle carries (signature verified with the server's key). */
async function shippedInBundle(device: DeviceClient): Promise<string[]> {
  const policy = await getPolicy(device);
  expect(policy.status).toBe(200);
  const verified = await verifyBundle(policy.body.bundle, {
    trustedKeys: [device.enrollment!.policyKey.jwk],
    lastRevision: null,
  });
  if (!verified.ok) throw new Error(verified.message);
  expect(verified.payload.revision).toBe(policy.body.revision);
  return (verified.payload.fingerprints ?? []).map((f) => f.sha256);
}

const storedCount = () =>
  (server.app.aigate.db.prepare('SELECT count(*) AS n FROM fingerprint_reports').get() as { n: number }).n;

beforeAll(async () => {
  dir = await tempDir();
  ({ server, admin, enrollDevice } = await serverWithSecret(dir.path));
  await admin.post('/policies', { source: BAN_POLICY });
  auditorToken = (await admin.post<{ token: string }>('/tokens', { name: 'compliance', role: 'auditor' })).token;
});
afterAll(async () => {
  await server?.close();
  await dir?.remove();
});

describe('reports from devices', () => {
  it('refuses a hostile or malformed report whole, with a clear error, and stores nothing', async () => {
    const device = await deviceWithClaude('hostile-1');
    const before = storedCount();
    const cases: [unknown[], RegExp][] = [
      [[entry('a', { sha256: 'A'.repeat(64) })], /sha256.*64 lower-case hex/],
      [[entry('a', { sha256: 'not-hex' })], /sha256/],
      [
        [entry('a'), entry('b', { toolId: 'no-such-tool' })],
        /fingerprints\[1\]\.toolId "no-such-tool" is not a catalogued tool/,
      ],
      [[entry('a', { toolId: 'gemini-cli' })], /gemini-cli is not in this device's inventory/],
      [[entry('a', { version: '9.9.9' })], /version "9.9.9" is not a version of claude-code this device reported/],
      [[entry('a', { kind: 'native', size: 4096 })], /too small for a native binary/],
      [[entry('a', { kind: 'script' })], /kind/],
      [[entry('a', { size: 0 })], /size/],
      [[entry('a'), entry('a')], /repeats the SHA-256/],
      [Array.from({ length: MAX_FINGERPRINTS_PER_REPORT + 1 }, (_, i) => entry(`many-${i}`)), /fingerprints/],
      [[], /fingerprints/],
    ];
    for (const [fingerprints, message] of cases) {
      const reply = await report(device, fingerprints);
      expect(reply.status, JSON.stringify(fingerprints).slice(0, 200)).toBe(400);
      expect(reply.body.message).toMatch(message);
    }
    expect(storedCount()).toBe(before);
  });

  it('keeps a reported fingerprint pending and out of the bundle', async () => {
    const device = await deviceWithClaude('reporter-1');
    const reply = await report(device, [entry('pending-one')]);
    expect(reply.status, reply.text).toBe(200);
    expect(reply.body).toEqual({ received: 1, new: 1 });
    const again = await report(device, [entry('pending-one')]);
    expect(again.body).toEqual({ received: 1, new: 0 });
    const [listed] = (
      await admin.get<{
        fingerprints: { sha256: string; status: string; shipped: boolean; why: string; devices: number }[];
      }>('/fingerprints')
    ).fingerprints.filter((f) => f.sha256 === sha('pending-one'));
    expect(listed).toMatchObject({ status: 'pending', shipped: false, devices: 1 });
    expect(listed!.why).toMatch(/reported by 1 of the 2 devices needed/);
    expect(await shippedInBundle(device)).not.toContain(sha('pending-one'));
  });
});

describe('what the signed bundle ships', () => {
  it('ships an approved fingerprint in a new revision, and drops it again on revoke', async () => {
    const device = await deviceWithClaude('reporter-2');
    await report(device, [entry('approve-me')]);
    const before = (await getPolicy(device)).body.revision;

    // An auditor may read the list but not decide.
    const asAuditor = await fetch(`${server.url}/v1/admin/fingerprints/${sha('approve-me')}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${auditorToken}` },
    });
    expect(asAuditor.status).toBe(403);
    const auditorList = await fetch(`${server.url}/v1/admin/fingerprints`, {
      headers: { authorization: `Bearer ${auditorToken}` },
    });
    expect(auditorList.status).toBe(200);

    const approved = await admin.post<{ fingerprint: { status: string; shipped: boolean }; revision: number }>(
      `/fingerprints/${sha('approve-me')}/approve`,
    );
    expect(approved.fingerprint).toMatchObject({ status: 'approved', shipped: true });
    expect(approved.revision).toBe(before + 1);
    expect(await shippedInBundle(device)).toContain(sha('approve-me'));

    // An agent from before fingerprints (no feature header) gets the same revision without them:
    // its schema admits no unknown field, so it would refuse the bundle and keep an old policy.
    const full = await getPolicy(device);
    const old = await device.getPolicy();
    expect(old.body.revision).toBe(full.body.revision);
    expect(old.body.etag).not.toBe(full.body.etag);
    const oldPayload = await verifyBundle(old.body.bundle, {
      trustedKeys: [device.enrollment!.policyKey.jwk],
      lastRevision: null,
    });
    if (!oldPayload.ok) throw new Error(oldPayload.message);
    expect(Object.keys(oldPayload.payload).sort()).toEqual(['iat', 'iss', 'policy', 'policyHash', 'revision']);
    expect((await device.getPolicy({ etag: old.body.etag })).status).toBe(304);
    expect((await getPolicy(device, { 'if-none-match': old.body.etag })).status).toBe(200);

    const twice = await admin.post(`/fingerprints/${sha('approve-me')}/approve`).catch((e: unknown) => e);
    expect(twice).toBeInstanceOf(AdminApiError);
    expect((twice as AdminApiError).status).toBe(409);

    const revoked = await admin.post<{ revision: number }>(`/fingerprints/${sha('approve-me')}/revoke`);
    expect(revoked.revision).toBe(before + 2);
    expect(await shippedInBundle(device)).not.toContain(sha('approve-me'));

    const audit = server.app.aigate.db
      .prepare('SELECT action, actor_name FROM audit_log WHERE target = ? ORDER BY seq')
      .all(`fingerprint:${sha('approve-me')}`);
    expect(audit).toEqual([
      { action: 'fingerprint.approve', actor_name: 'bootstrap' },
      { action: 'fingerprint.revoke', actor_name: 'bootstrap' },
    ]);

    const unknown = await admin.post(`/fingerprints/${sha('never-reported')}/approve`).catch((e: unknown) => e);
    expect((unknown as AdminApiError).status).toBe(404);
  });

  it('ships a fingerprint two devices corroborate, but not a disputed or implausible one', async () => {
    const first = await deviceWithClaude('corroborate-1');
    const second = await deviceWithClaude('corroborate-2');
    const before = (await getPolicy(first)).body.revision;
    await report(first, [entry('corroborated'), entry('disputed'), entry('tiny', { size: 200 })]);
    expect(await shippedInBundle(first)).not.toContain(sha('corroborated'));

    await report(second, [entry('corroborated'), entry('disputed', { size: 8_000_000 }), entry('tiny', { size: 200 })]);
    const policy = await getPolicy(second);
    expect(policy.body.revision).toBe(before + 1);
    const shipped = await shippedInBundle(second);
    expect(shipped).toContain(sha('corroborated'));
    expect(shipped).not.toContain(sha('disputed'));
    expect(shipped).not.toContain(sha('tiny'));

    const list = (
      await admin.get<{ fingerprints: { sha256: string; why: string; shipped: boolean; devices: number }[] }>(
        '/fingerprints',
      )
    ).fingerprints;
    const why = (seed: string) => list.find((f) => f.sha256 === sha(seed));
    expect(why('corroborated')).toMatchObject({ shipped: true, why: 'corroborated', devices: 2 });
    expect(why('disputed')!.why).toMatch(/disputed/);
    expect(why('tiny')!.why).toMatch(/too small to name one tool/);

    // Reporting it again publishes nothing new.
    await report(first, [entry('corroborated')]);
    expect((await getPolicy(first)).body.revision).toBe(before + 1);

    // A revoke beats the devices.
    await admin.post(`/fingerprints/${sha('corroborated')}/revoke`);
    expect(await shippedInBundle(first)).not.toContain(sha('corroborated'));
    const corroborations = server.app.aigate.db
      .prepare("SELECT actor_role FROM audit_log WHERE action = 'fingerprint.corroborated'")
      .all();
    expect(corroborations).toEqual([{ actor_role: 'system' }]);
  });

  it('does not count a revoked device towards corroboration', async () => {
    const first = await deviceWithClaude('revoked-1');
    const second = await deviceWithClaude('revoked-2');
    await report(first, [entry('with-a-revoked-device')]);
    await admin.post(`/devices/${first.deviceId}/revoke`);
    const before = (await getPolicy(second)).body.revision;
    await report(second, [entry('with-a-revoked-device')]);
    expect((await getPolicy(second)).body.revision).toBe(before);
    expect(await shippedInBundle(second)).not.toContain(sha('with-a-revoked-device'));
    const listed = (await admin.get<{ fingerprints: { sha256: string; devices: number }[] }>('/fingerprints'))
      .fingerprints;
    expect(listed.find((f) => f.sha256 === sha('with-a-revoked-device'))?.devices).toBe(1);
  });

  it('with corroboration off, only an admin ships a fingerprint', async () => {
    const other = await tempDir();
    const fleet = await serverWithSecret(other.path, { fingerprintCorroboration: 0 });
    try {
      await fleet.admin.post('/policies', { source: BAN_POLICY });
      const devices: DeviceClient[] = [];
      for (const name of ['off-1', 'off-2', 'off-3']) {
        const device = await fleet.enrollDevice({ hostname: name });
        await device.checkin({
          policyRevision: null,
          agentVersion: '0.1.0',
          inventory: [claude],
          verdicts: [verdictFor(claude, 'block')],
        });
        expect((await report(device, [entry('three-devices')])).status).toBe(200);
        devices.push(device);
      }
      expect((await getPolicy(devices[0]!)).body.revision).toBe(1);
      const [item] = (await fleet.admin.get<{ fingerprints: { why: string }[] }>('/fingerprints')).fingerprints;
      expect(item!.why).toMatch(/corroboration is off/);
    } finally {
      await fleet.server.close();
      await other.remove();
    }
  });
});

describe('aigate fingerprints', () => {
  async function aigate(args: string[], token = server.bootstrapToken!) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runAigate(
      ['--server', server.url, '--token', token, 'fingerprints', ...args],
      { out: (t) => out.push(t), err: (t) => err.push(t) },
      { AIGATE_CONFIG: join(dir.path, 'none.json') },
    );
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  }

  it('lists pending fingerprints with tool, version, size and device count, approves and revokes', async () => {
    const device = await deviceWithClaude('cli-1');
    await report(device, [entry('cli-one', { size: 10_703_883 })]);
    const pending = await aigate(['list']);
    expect(pending.code, pending.stderr).toBe(0);
    const row = pending.stdout.split('\n').find((l) => l.startsWith(sha('cli-one')));
    expect(row).toMatch(/pending\s+no\s+claude-code\s+2\.1\.91\s+entry\s+10\.2 MiB\s+1\s/);
    expect(pending.stdout.split('\n')[0]).toMatch(
      /^SHA-256\s+STATUS\s+SHIPPED\s+TOOL\s+VERSION\s+KIND\s+SIZE\s+DEVICES/,
    );

    const auditor = await aigate(['approve', sha('cli-one')], auditorToken);
    expect(auditor.code).not.toBe(0);
    expect(auditor.stderr).toMatch(/admin/i);

    const approved = await aigate(['approve', sha('cli-one').toUpperCase()]);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toMatch(
      new RegExp(
        `^approved: ${sha('cli-one')} \\(claude-code 2\\.1\\.91 entry, 10\\.2 MiB\\); published as policy revision \\d+$`,
      ),
    );
    const shipped = await aigate(['list', '--status', 'shipped', '--json']);
    expect((JSON.parse(shipped.stdout) as { sha256: string }[]).map((f) => f.sha256)).toContain(sha('cli-one'));

    const revoked = await aigate(['revoke', sha('cli-one')]);
    expect(revoked.stdout).toMatch(/^revoked: /);
    expect((await aigate(['list', '--status', 'revoked'])).stdout).toContain(sha('cli-one'));

    const bad = await aigate(['approve', 'abc']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/"abc" is not a SHA-256: 64 hex digits/);
  });
});

describe('aigate-server --fingerprint-corroboration', () => {
  it('refuses a value that is not a number of devices before anything starts', async () => {
    const err: string[] = [];
    const code = await runAigateServer(
      ['start', '--data', join(dir.path, 'unused'), '--fingerprint-corroboration', 'two'],
      { out: () => undefined, err: (t) => err.push(t) },
    );
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(/--fingerprint-corroboration must be a whole number of devices/);
  });
});
