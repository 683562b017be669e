/**
 * Records that must be true (issue 14, items 1-4), over HTTP against a real server:
 * - the violations report credits enforcement done in the same cycle as the first check-in
 *   that reported the violation (the agent's events are dated between its scan and check-in);
 * - a rollback says which exceptions it removes and needs confirmation, and the requests behind
 *   them follow the policy in force (revoked, and approved again when it comes back);
 * - the reference an agent gives its employee (its client UUID) is the request id IT approves;
 * - the end an approval gave (`until`) is kept on the request.
 */
import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AdminApiError, type AdminClient } from '../../server/client/admin-client.js';
import type { DeviceClient } from '../support/device-client.js';
import { csvObjects } from '../ui/fleet.js';
import { BAN_POLICY, type RunningServer, serverWithSecret } from './harness.js';
import { npmInstance, tempDir, verdictFor } from './helpers.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: RunningServer;
let admin: AdminClient;
let enrollDevice: Awaited<ReturnType<typeof serverWithSecret>>['enrollDevice'];
let banRevision: number;

beforeAll(async () => {
  dir = await tempDir();
  ({ server, admin, enrollDevice } = await serverWithSecret(dir.path));
  banRevision = (await admin.post<{ revision: number }>('/policies', { source: BAN_POLICY })).revision;
});
afterAll(async () => {
  await server?.close();
  await dir?.remove();
});

const claude = (owner: string) => npmInstance('claude-code', '@anthropic-ai/claude-code', '2.1.91', owner);

async function report(path: string) {
  const response = await fetch(`${server.url}/v1/reports${path}`, {
    headers: { authorization: `Bearer ${server.bootstrapToken}` },
  });
  expect(response.status).toBe(200);
  return csvObjects(await response.text());
}

async function refused(call: Promise<unknown>): Promise<AdminApiError> {
  const error = await call.then(
    () => null,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(AdminApiError);
  return error as AdminApiError;
}

describe('violations: enforcement in the same cycle as the first check-in', () => {
  it('reports the quarantine and the blocked launch the agent did before checking in', async () => {
    const device = await enrollDevice({ hostname: 'same-cycle' });
    const scanStart = Date.now() - 2000;
    const instance = claude('alice');
    // The cycle: scan, enforce (quarantine), check in, upload the cycle's events.
    const checkin = await device.checkin({
      policyRevision: banRevision,
      agentVersion: '0.4.0',
      inventory: [instance],
      verdicts: [verdictFor(instance, 'block')],
      scannedAt: new Date(scanStart).toISOString(),
    });
    expect(checkin.status).toBe(200);
    const quarantinedAt = new Date(scanStart + 500).toISOString();
    const uploaded = await device.events([
      {
        id: randomUUID(),
        type: 'quarantined',
        at: quarantinedAt,
        toolId: 'claude-code',
        installPath: instance.installPath,
        user: 'alice',
      },
      {
        id: randomUUID(),
        type: 'blocked-launch',
        at: new Date(scanStart + 800).toISOString(),
        toolId: 'claude-code',
        installPath: instance.installPath,
        user: 'alice',
      },
    ]);
    expect(uploaded.status).toBe(200);

    const row = (await report(`/violations?format=csv&device=${device.deviceId}`)).find(
      (r) => r.tool_id === 'claude-code',
    )!;
    expect(row).toMatchObject({ agent_action: 'quarantined', quarantined_at: quarantinedAt, blocked_launches: '1' });
    expect(Date.parse(row.violation_since!)).toBe(scanStart);
  });

  it('dates a violation at receipt when the scan time is implausible (a day old, or in the future)', async () => {
    const device = await enrollDevice({ hostname: 'odd-clock' });
    const instance = claude('alice');
    const before = Date.now();
    const checkin = await device.checkin({
      policyRevision: banRevision,
      agentVersion: '0.4.0',
      inventory: [instance],
      verdicts: [verdictFor(instance, 'block')],
      scannedAt: '2001-01-01T00:00:00Z',
    });
    expect(checkin.status).toBe(200);
    const row = (await report(`/violations?format=csv&device=${device.deviceId}`)).find(
      (r) => r.tool_id === 'claude-code',
    )!;
    expect(Date.parse(row.violation_since!)).toBeGreaterThanOrEqual(before);
  });
});

describe('exception requests end to end', () => {
  let device: DeviceClient;
  let requestId: string;
  let approvedRevision: number;

  beforeAll(async () => {
    device = await enrollDevice({ hostname: 'lifecycle-box', users: ['alice'] });
    expect(
      (
        await device.checkin({
          policyRevision: banRevision,
          agentVersion: '0.4.0',
          inventory: [claude('alice')],
          verdicts: [verdictFor(claude('alice'), 'block')],
        })
      ).status,
    ).toBe(200);
  });

  it("uses the agent's own UUID as the request id, which IT can approve; another device cannot take it", async () => {
    const clientId = randomUUID();
    const asked = await device.requestException({
      id: clientId,
      toolId: 'claude-code',
      user: 'alice',
      reason: 'Red-team evaluation',
    });
    expect(asked.status).toBe(201);
    expect(asked.body.id).toBe(clientId);
    requestId = clientId;
    await expect(admin.get(`/exception-requests/${clientId}`)).resolves.toMatchObject({
      id: clientId,
      status: 'pending',
    });

    const other = await enrollDevice({ hostname: 'copycat' });
    const taken = await other.requestException({ id: clientId, toolId: 'claude-code', reason: 'me too' });
    expect(taken.status).toBe(409);
    expect(taken.body).toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/request id .* is already taken; send a new random UUID/),
    });
  });

  it('keeps the end the approval gave (--until) on the request', async () => {
    const approved = await admin.post<{ revision: number; request: { approvedUntil: string | null } }>(
      `/exception-requests/${requestId}/approve`,
      { until: '2026-12-31' },
    );
    approvedRevision = approved.revision;
    expect(approved.request.approvedUntil).toBe('2026-12-31');
    const listed = await admin.get<{ requests: { id: string; approvedUntil: string | null; status: string }[] }>(
      '/exception-requests?status=approved',
    );
    expect(listed.requests.find((r) => r.id === requestId)).toMatchObject({
      approvedUntil: '2026-12-31',
      status: 'approved',
    });
  });

  it('refuses a rollback that removes an approved exception unless confirmed, and says what it removes', async () => {
    const name = `exception-request-${requestId}`;
    const plan = await admin.post<{
      dryRun: true;
      removes: { name: string; tools: string[]; until: string; request: { id: string; status: string } }[];
    }>(`/policies/${banRevision}/rollback`, { dryRun: true });
    expect(plan.removes).toEqual([
      {
        name,
        tools: ['claude-code'],
        until: '2026-12-31',
        reason: expect.stringContaining('Red-team evaluation'),
        request: { id: requestId, status: 'approved' },
      },
    ]);

    const error = await refused(admin.post(`/policies/${banRevision}/rollback`, {}));
    expect(error.status).toBe(409);
    expect(error.code).toBe('confirmation_required');
    expect(error.message).toMatch(
      new RegExp(`removes 1 exception now in force: ${name} \\(claude-code, until 2026-12-31, request ${requestId}\\)`),
    );
    const current = await admin.get<{ revision: number }>('/policies/current');
    expect(current.revision).toBe(approvedRevision);
    expect((await admin.get<{ status: string }>(`/exception-requests/${requestId}`)).status).toBe('approved');
  });

  it('moves the request to revoked when a confirmed rollback removes its exception, and back when it returns', async () => {
    const rolled = await admin.post<{
      revision: number;
      removed: { name: string }[];
      exceptionRequests: { revoked: string[]; reinstated: string[] };
    }>(`/policies/${banRevision}/rollback`, { confirm: true });
    expect(rolled.removed.map((r) => r.name)).toEqual([`exception-request-${requestId}`]);
    expect(rolled.exceptionRequests).toEqual({ revoked: [requestId], reinstated: [] });
    await expect(admin.get(`/exception-requests/${requestId}`)).resolves.toMatchObject({
      status: 'revoked',
      revokedInRevision: rolled.revision,
    });
    // The employee's view (through the agent) says the same.
    const seen = await device.send<{ status: string }>('GET', `/v1/exception-requests/${requestId}`);
    expect(seen.body.status).toBe('revoked');
    const audit = await admin.get<{ entries: { action: string; details: Record<string, unknown> }[] }>('/audit');
    expect(audit.entries.at(-1)).toMatchObject({
      action: 'policy.rollback',
      details: {
        removedExceptions: [`exception-request-${requestId}`],
        exceptionRequests: { revoked: [requestId], reinstated: [] },
      },
    });

    // Rolling forward to the approving revision removes nothing, needs no confirmation, and reinstates it.
    const forward = await admin.post<{ exceptionRequests: { revoked: string[]; reinstated: string[] } }>(
      `/policies/${approvedRevision}/rollback`,
      {},
    );
    expect(forward.exceptionRequests).toEqual({ revoked: [], reinstated: [requestId] });
    await expect(admin.get(`/exception-requests/${requestId}`)).resolves.toMatchObject({
      status: 'approved',
      revokedAt: null,
      revokedInRevision: null,
    });
  });

  it('refuses to publish a file older than an approval (its exception left out) unless confirmed, as a rollback', async () => {
    // The administrator publishes their own copy of the policy, made before the approval.
    const before = await admin.get<{ revision: number }>('/policies/current');
    const error = await refused(admin.post('/policies', { source: BAN_POLICY, comment: 'tweak' }));
    expect([error.status, error.code]).toEqual([409, 'confirmation_required']);
    expect(error.message).toMatch(
      new RegExp(
        `leaves out the exceptions of 1 approved exception request now in force: exception-request-${requestId} \\(claude-code, until 2026-12-31, request ${requestId}\\)`,
      ),
    );
    expect((await admin.get<{ revision: number }>('/policies/current')).revision).toBe(before.revision);
    expect((await admin.get<{ status: string }>(`/exception-requests/${requestId}`)).status).toBe('approved');

    const published = await admin.post<{ removed: { name: string }[]; exceptionRequests: { revoked: string[] } }>(
      '/policies',
      { source: BAN_POLICY, comment: 'tweak', confirm: true },
    );
    expect(published.removed.map((r) => r.name)).toEqual([`exception-request-${requestId}`]);
    expect(published.exceptionRequests.revoked).toEqual([requestId]);
    const audit = await admin.get<{ entries: { action: string; details: Record<string, unknown> }[] }>('/audit');
    expect(audit.entries.at(-1)).toMatchObject({
      action: 'policy.publish',
      details: { removedExceptions: [`exception-request-${requestId}`] },
    });
    // A policy that names no approved request's exception is published as before, without asking.
    await expect(admin.post('/policies', { source: BAN_POLICY })).resolves.toMatchObject({ removed: [] });
  });
});
