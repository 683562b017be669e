/**
 * What a device says about itself, checked and shown truthfully: its health (degraded with
 * reasons from the first check-in that says so, cleared by one that says ok) in the admin API,
 * the coverage report and the overview; exception requests limited to what the device reported;
 * control characters refused in the short texts admins read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { AgentHealth } from '../../policies/protocol.js';
import type { AdminClient } from '../../server/client/admin-client.js';
import type { DeviceClient } from '../support/device-client.js';
import { csvObjects } from '../ui/fleet.js';
import { BAN_POLICY, type RunningServer, serverWithSecret } from './harness.js';
import { npmInstance, tempDir, verdictFor } from './helpers.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: RunningServer;
let admin: AdminClient;
let enrollDevice: Awaited<ReturnType<typeof serverWithSecret>>['enrollDevice'];

beforeAll(async () => {
  dir = await tempDir();
  ({ server, admin, enrollDevice } = await serverWithSecret(dir.path));
  await admin.post('/policies', { source: BAN_POLICY });
});
afterAll(async () => {
  await server?.close();
  await dir?.remove();
});

const claude = (owner: string) => npmInstance('claude-code', '@anthropic-ai/claude-code', '2.1.91', owner);
const unknownTool = (owner: string) => npmInstance('unknown:npm:acme-ai', 'acme-ai', '1.0.0', owner);

function checkin(device: DeviceClient, extra: Record<string, unknown> = {}, inventory = [claude('alice')]) {
  return device.checkin({
    policyRevision: 1,
    agentVersion: '0.4.0',
    inventory,
    verdicts: inventory.map((i) => verdictFor(i, 'block')),
    ...extra,
  });
}

type DeviceView = {
  id: string;
  health: string;
  healthReasons: { code: string; message: string }[];
  degradedSince: string | null;
};
const deviceView = async (id: string) => (await admin.get<{ device: DeviceView }>(`/devices/${id}`)).device;
const coverageRow = async (id: string) => {
  const response = await fetch(`${server.url}/v1/reports/coverage?format=csv`, {
    headers: { authorization: `Bearer ${server.bootstrapToken}` },
  });
  return csvObjects(await response.text()).find((row) => row.device_id === id)!;
};

describe('device health', () => {
  const degraded: AgentHealth = {
    state: 'degraded',
    reasons: [
      {
        code: 'ledger-damaged',
        message: 'the enforcement ledger does not parse; nothing is changed until it is repaired',
      },
      { code: 'spool-trouble', message: '3 spool files were set aside as damaged' },
    ],
  };

  it('is unknown until the agent reports it, and an older agent (no health field) still checks in', async () => {
    const device = await enrollDevice({ hostname: 'health-old' });
    expect((await checkin(device)).status).toBe(200);
    expect(await deviceView(device.deviceId!)).toMatchObject({
      health: 'unknown',
      healthReasons: [],
      degradedSince: null,
    });
    expect(await coverageRow(device.deviceId!)).toMatchObject({
      health: 'unknown',
      health_reasons: '',
      degraded_since: '',
    });
  });

  it('marks the device degraded from the first check-in that says so, keeps the start, clears on ok', async () => {
    const device = await enrollDevice({ hostname: 'health-box' });
    expect((await checkin(device, { health: { state: 'ok', reasons: [] } })).status).toBe(200);
    expect((await deviceView(device.deviceId!)).health).toBe('ok');

    expect((await checkin(device, { health: degraded })).status).toBe(200);
    const first = await deviceView(device.deviceId!);
    expect(first).toMatchObject({ health: 'degraded', healthReasons: degraded.reasons });
    expect(first.degradedSince).not.toBeNull();

    // Listed by the admin route the CLI reads, with the reasons.
    const listed = await admin.get<{ devices: DeviceView[] }>('/devices');
    expect(listed.devices.find((d) => d.id === device.deviceId)).toMatchObject({
      health: 'degraded',
      healthReasons: degraded.reasons,
    });

    // Still degraded with one reason left: the spell's start stays, the reasons follow the agent.
    const still: AgentHealth = { state: 'degraded', reasons: [degraded.reasons[0]!] };
    expect((await checkin(device, { health: still })).status).toBe(200);
    const second = await deviceView(device.deviceId!);
    expect(second).toMatchObject({
      health: 'degraded',
      healthReasons: still.reasons,
      degradedSince: first.degradedSince,
    });

    // Coverage: the new columns come after the existing ones, in this order.
    const csv = await (
      await fetch(`${server.url}/v1/reports/coverage?format=csv`, {
        headers: { authorization: `Bearer ${server.bootstrapToken}` },
      })
    ).text();
    expect(csv.split('\n')[0]).toMatch(/,violations,revoked_at,health,health_reasons,health_detail,degraded_since\r?$/);
    expect(await coverageRow(device.deviceId!)).toMatchObject({
      health: 'degraded',
      health_reasons: 'ledger-damaged',
      health_detail: `ledger-damaged: ${degraded.reasons[0]!.message}`,
      degraded_since: first.degradedSince,
    });

    // The overview counts it.
    const overview = await (
      await fetch(`${server.url}/v1/reports/overview`, {
        headers: { authorization: `Bearer ${server.bootstrapToken}` },
      })
    ).json();
    expect((overview as { devices: { degraded: number } }).devices.degraded).toBe(1);

    // A check-in without a health report (say, an older agent after a downgrade) changes nothing.
    expect((await checkin(device)).status).toBe(200);
    expect((await deviceView(device.deviceId!)).health).toBe('degraded');

    expect((await checkin(device, { health: { state: 'ok', reasons: [] } })).status).toBe(200);
    expect(await deviceView(device.deviceId!)).toMatchObject({ health: 'ok', healthReasons: [], degradedSince: null });
    expect(await coverageRow(device.deviceId!)).toMatchObject({ health: 'ok', health_reasons: '', degraded_since: '' });
  });

  it('refuses a malformed health report with a clear 400', async () => {
    const device = await enrollDevice({ hostname: 'health-bad' });
    const response = await checkin(device, {
      health: { state: 'degraded', reasons: [{ code: 'on-fire', message: 'x' }] },
    });
    expect(response.status).toBe(400);
    expect(response.text).toMatch(/body\.health\.reasons\[0\]\.code/);
  });
});

describe('exception requests name only what the device reported', () => {
  let shared: DeviceClient;

  beforeAll(async () => {
    shared = await enrollDevice({ hostname: 'shared-box', users: ['alice', 'bob'] });
    expect(
      (await checkin(shared, { users: ['alice', 'bob'] }, [claude('alice'), claude('bob'), unknownTool('bob')])).status,
    ).toBe(200);
  });

  it.each([
    ['*', 'alice', /body\.toolId "\*" is a selector/],
    ['vendor:anthropic', 'alice', /body\.toolId "vendor:anthropic" is a selector/],
    ['category:cli-agent', 'alice', /is a selector/],
    ['claude', 'alice', /body\.toolId "claude" is not a tool in the catalog \(did you mean claude-code\?\)/],
    ['unknown:npm:never-seen', 'bob', /body\.toolId "unknown:npm:never-seen" is not in this device's inventory/],
    ['claude-code', 'ceo', /body\.user "ceo" is not a user this device reported \(it reported alice, bob\)/],
  ])('refuses tool %s for user %s', async (toolId, user, message) => {
    const response = await shared.requestException({ toolId, user, reason: 'please' });
    expect(response.status).toBe(400);
    expect((response.body as unknown as { message: string }).message).toMatch(message);
  });

  it('accepts a catalogued tool or an unknown: id from its own inventory, for its own users', async () => {
    expect(
      (await shared.requestException({ toolId: 'unknown:npm:acme-ai', user: 'bob', reason: 'internal tool' })).status,
    ).toBe(201);
    expect((await shared.requestException({ toolId: 'claude-code', reason: 'no user named' })).status).toBe(201);
  });

  it('approves for the requesting user by default on a device with several users, and says so in the audit', async () => {
    const asked = await shared.requestException({ toolId: 'claude-code', user: 'bob', reason: 'pairing' });
    expect(asked.status).toBe(201);
    await admin.post(`/exception-requests/${asked.body.id}/approve`, {});
    const policy = await admin.get<{
      document: { spec: { exceptions: { name: string; devices?: string[]; users?: string[] }[] } };
    }>('/policies/current');
    const added = policy.document.spec.exceptions.find((e) => e.name === `exception-request-${asked.body.id}`);
    expect(added).toMatchObject({ devices: [shared.deviceId], users: ['bob'] });
    const audit = await admin.get<{ entries: { action: string; details: Record<string, unknown> }[] }>('/audit');
    const entry = audit.entries.filter((e) => e.action === 'exception.approve').at(-1)!;
    expect(entry.details).toMatchObject({
      scope: 'user',
      scopeReason: expect.stringMatching(/device reported 2 users \(alice, bob\), so only bob is covered/),
    });

    // An explicit scope still wins.
    const again = await shared.requestException({ toolId: 'gemini-cli', user: 'alice', reason: 'whole box' });
    await admin.post(`/exception-requests/${again.body.id}/approve`, { scope: 'device' });
    const after = await admin.get<{
      document: { spec: { exceptions: { name: string; devices?: string[]; users?: string[] }[] } };
    }>('/policies/current');
    const whole = after.document.spec.exceptions.find((e) => e.name === `exception-request-${again.body.id}`)!;
    expect(whole.devices).toEqual([shared.deviceId]);
    expect(whole.users).toBeUndefined();
  });

  it('keeps the device scope by default on a single-user device', async () => {
    const single = await enrollDevice({ hostname: 'solo-box', users: ['alice'] });
    expect((await checkin(single)).status).toBe(200);
    const asked = await single.requestException({ toolId: 'claude-code', user: 'alice', reason: 'solo' });
    await admin.post(`/exception-requests/${asked.body.id}/approve`, {});
    const policy = await admin.get<{
      document: { spec: { exceptions: { name: string; devices?: string[]; users?: string[] }[] } };
    }>('/policies/current');
    const added = policy.document.spec.exceptions.find((e) => e.name === `exception-request-${asked.body.id}`)!;
    expect(added.devices).toEqual([single.deviceId]);
    expect(added.users).toBeUndefined();
  });
});

describe('control characters in what a device sends', () => {
  const ESC = '\u001b';
  it.each([
    ['an enrollment hostname', 'enroll-hostname'],
    ['a check-in hostname', 'checkin-hostname'],
    ['a check-in user name', 'checkin-user'],
    ['an exception reason', 'reason'],
    ['an exception user (C1 CSI)', 'c1-user'],
  ])('refuses %s with a clear 400', async (_name, which) => {
    if (which === 'enroll-hostname') {
      await expect(enrollDevice({ hostname: `box${ESC}[2J` })).rejects.toThrow(
        /400 .*body\.hostname expected text without control characters/,
      );
      return;
    }
    const device = await enrollDevice({ hostname: `ctl-${which}` });
    const response =
      which === 'checkin-hostname'
        ? await checkin(device, { hostname: `box${ESC}]0;owned\u0007` })
        : which === 'checkin-user'
          ? await checkin(device, { users: ['alice', `bob${ESC}[31m`] })
          : which === 'reason'
            ? await device.requestException({ toolId: 'claude-code', reason: `fine\n${ESC}[2Jall clear` })
            : await device.requestException({ toolId: 'claude-code', user: 'alice\u009b2J', reason: 'x' });
    expect(response.status).toBe(400);
    expect(response.text).toMatch(/expected text without control characters/);
  });
});
