/**
 * The daemon between full cycles (`--cycle-minutes 60`, so only the long-poll and the minute
 * check act): a tool quarantined before the daemon started is known to it only through the
 * enforcement ledger (the scan leaves quarantined folders out). Approving an exception puts it
 * back; it must then stay in the inventory the minute check and the next policy use: status
 * keeps listing it, a rollback arriving by long-poll quarantines it again within moments, and
 * the request's state in status follows the server's (approved, then revoked).
 */
import { lstat } from 'node:fs/promises';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { StatusFile } from '../../agent/status/status-file.js';
import {
  agentAsEmployee,
  type AgentSetup,
  enrolledSetup,
  onceOk,
  pastBan,
  readStatus,
  type RunningDaemon,
  startDaemon,
  waitFor,
} from './e2e-helpers.js';
import { publish, type tempDir, type TestServer } from './helpers.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: TestServer;
let setup: AgentSetup;
let daemon: RunningDaemon | undefined;

const present = async (path: string) => (await lstat(path).catch(() => null)) !== null;
const claude = (status: StatusFile) => status.tools.find((tool) => tool.toolId === 'claude-code');

beforeAll(async () => {
  ({ dir, server, setup } = await enrolledSetup('aigate-reapply-'));
});
afterAll(async () => {
  if (daemon && daemon.child.exitCode === null) daemon.child.kill('SIGKILL');
  await server?.close();
  await dir?.remove();
});

describe('aigate-agent run between full cycles', () => {
  it('keeps a restored tool in its inventory: status lists it, a rollback by long-poll quarantines it again', async () => {
    const banned = await publish(server.admin, pastBan());
    await onceOk(setup);
    expect(await present(setup.install.installPath)).toBe(false); // quarantined before the daemon starts

    daemon = startDaemon(setup, [
      '--cycle-minutes',
      '60',
      '--poll-wait',
      '2',
      '--stop-grace',
      '1',
      '--no-desktop-notify',
      '--no-sentinel',
    ]);
    await waitFor('the daemon to start', async () => (await readStatus(setup.stateDir)).daemon.running);

    // The employee asks for an exception, without root; the daemon files it.
    const asked = await agentAsEmployee([
      'request-exception',
      'claude-code',
      '--reason',
      'SEC-1234 evaluation',
      '--state-dir',
      setup.stateDir,
    ]);
    expect(asked.code, asked.stderr).toBe(0);
    const [filed] = server.app.aigate.stores.exceptionRequests.list({ status: 'pending' }, 10);
    expect(filed).toBeDefined();

    // Approved: the new revision arrives by long-poll and puts Claude Code back.
    await server.admin.post(`/exception-requests/${filed!.id}/approve`, { until: '2026-12-31', scope: 'device' });
    await waitFor('the restore', () => present(setup.install.installPath));
    const restored = await waitFor('the status after the restore', async () => {
      const status = await readStatus(setup.stateDir);
      return claude(status)?.action === 'allow' ? status : null;
    });

    // The minute check after it still knows the tool, and the request is approved.
    const minuteAfter = Math.floor(Date.parse(restored.writtenAt) / 60_000 + 1) * 60_000;
    const later = await waitFor(
      'a status written by the next minute check',
      async () => {
        const status = await readStatus(setup.stateDir);
        return Date.parse(status.writtenAt) >= minuteAfter ? status : null;
      },
      90_000,
    );
    expect(claude(later), JSON.stringify(later.tools)).toMatchObject({
      action: 'allow',
      installPath: setup.install.installPath,
    });
    expect(later.nextChangeAt).not.toBeNull();
    expect(later.requests).toEqual([expect.objectContaining({ serverId: filed!.id, status: 'approved' })]);

    // Rolled back to the ban without the exception: quarantined again within moments, not at the next full cycle.
    await server.admin.post(`/policies/${banned}/rollback`, { confirm: true });
    await waitFor('the quarantine after the rollback', async () => !(await present(setup.install.installPath)));
    const after = await waitFor('the status after the rollback', async () => {
      const status = await readStatus(setup.stateDir);
      return claude(status)?.action === 'block' ? status : null;
    });
    expect(claude(after)).toMatchObject({ enforced: 'block', installPath: setup.install.installPath });
    expect(after.requests).toEqual([expect.objectContaining({ serverId: filed!.id, status: 'revoked' })]);
    // The server heard of the tool in the check-in that followed the new policy.
    const reported = server.app.aigate.stores.inventory
      .forDevice(after.deviceId)
      .filter((stored) => stored.present && stored.instance.toolId === 'claude-code');
    expect(reported.map((stored) => stored.verdict?.action)).toEqual(['block']);

    expect(await daemon.stop(), daemon.output()).toBe(0);
  }, 180_000);
});
