/**
 * Issue 10, failing input 5 — a false "restored" after a full disk. The agent's spool folder is
 * a real 64 KiB tmpfs, filled up. Blocking and lifting with it full must keep the ledger true to
 * the disk (a stub on disk is recorded with its launcher and quarantine), never send `restored
 * … verified: true` while the tool is still blocked, and once space returns the tool is put back
 * byte-identical and the restore reported (its event, or the spool trouble in the device's health
 * while the disk was full). Every cycle completes and checks in.
 */
import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isOurStub } from '../../agent/enforce/steps.js';
import { statePaths } from '../../agent/state/paths.js';
import { ALLOW_ALL, pastBan, readLedger } from '../agent/e2e-helpers.js';
import { createEnrollSecret, hashTree, publish, startTestServer, tempDir, type TestServer } from '../agent/helpers.js';
import { type AgentCase, agentCase, cycleChecksIn, ensureUser, isRoot, removeCase } from './hostile.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: TestServer;
let c: AgentCase | undefined;
let spool = '';
let mounted = false;

beforeAll(async () => {
  if (!isRoot) return;
  dir = await tempDir('aigt-sec-full-');
  server = await startTestServer(join(dir.path, 'server'));
  const secret = await createEnrollSecret(server.admin);
  c = await agentCase(server, secret, ensureUser('aigt-mallory'), 'disk-full');
  spool = statePaths(c.setup.stateDir).spoolDir;
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'aigt-spool', spool], {
    encoding: 'utf8',
  });
  if (mount.status !== 0) throw new Error(`cannot mount a tmpfs on ${spool}: ${mount.stderr}`);
  mounted = true;
}, 60_000);

afterAll(async () => {
  // A busy mount is detached lazily rather than left behind.
  if (mounted && spawnSync('umount', [spool]).status !== 0) spawnSync('umount', ['-l', spool]);
  await removeCase(c);
  await server?.close();
  await dir?.remove();
});

const restoredEvents = () =>
  server.app.aigate.stores.events.recentForDevice(c!.deviceId, 1000).filter((event) => event.type === 'restored');

describe.skipIf(!isRoot)('failing input 5: the spool on a full 64 KiB file system', () => {
  it('never reports a false restore, and restores for real once space returns', async () => {
    const setup = c!.setup;
    const before = await hashTree(setup.install.prefix);
    // Fill the spool's file system (dd stops at ENOSPC).
    spawnSync('dd', ['if=/dev/zero', `of=${join(spool, 'fill')}`, 'bs=1k', 'count=128'], { stdio: 'ignore' });
    expect(spawnSync('df', ['--output=avail', '-k', spool], { encoding: 'utf8' }).stdout, 'the spool is full').toMatch(
      /\n\s*0\s*$/,
    );

    await publish(server.admin, pastBan());
    await cycleChecksIn(server, c!, 'block with the spool full');
    await cycleChecksIn(server, c!, 'the cycle after (a restart)');
    if (await isOurStub(setup.install.launcher)) {
      const records = Object.values((await readLedger(setup.stateDir)).applied);
      expect(
        records.map((r) => ({ level: r.level, launchers: r.launchers.length, quarantine: r.quarantine.length })),
        'the stub is on disk, so the ledger records the block with its launcher and its quarantine',
      ).toEqual([{ level: 'block', launchers: 1, quarantine: 1 }]);
    }

    await publish(server.admin, ALLOW_ALL);
    await cycleChecksIn(server, c!, 'lift with the spool full');
    // What the device said about itself while its spool was full (its health report, if any).
    const device = server.app.aigate.stores.devices.get(c!.deviceId) as
      { health?: string | null; healthReasons?: unknown } | undefined;
    const spoolTroubleReported =
      device?.health === 'degraded' && /spool/i.test(JSON.stringify(device.healthReasons ?? []));
    const stillBlocked = (await hashTree(setup.install.prefix)).join('\n') !== before.join('\n');
    if (stillBlocked) {
      expect(
        restoredEvents()
          .filter((event) => event.details?.verified === true)
          .map((event) => event.message),
        'a "restored … verified: true" event reached the server while the tool is still stubbed or quarantined',
      ).toEqual([]);
    }

    await rm(join(spool, 'fill'));
    await cycleChecksIn(server, c!, 'the first cycle with space again');
    await cycleChecksIn(server, c!, 'the second cycle with space again');
    expect(await hashTree(setup.install.prefix), 'the tool is back byte-identical once space returns').toEqual(before);
    expect((await readLedger(setup.stateDir)).applied, 'nothing is left enforced in the ledger').toEqual({});
    // The restore is reported: a verified `restored` event, or (its event lost to the full disk)
    // the device said its spool was in trouble while it was.
    const verified = restoredEvents().some((event) => event.details?.verified === true);
    expect(
      verified || spoolTroubleReported,
      `the restore done while the spool was full was neither delivered as "restored … verified: true" nor reported as spool trouble (device health while full: ${device?.health ?? 'none'} ${JSON.stringify(device?.healthReasons ?? [])})`,
    ).toBe(true);
  }, 120_000);
});
