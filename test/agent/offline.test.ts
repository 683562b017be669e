/**
 * Offline and clock: with the server stopped, a restarted agent enforces the cached policy
 * (tampering is undone too) and piles events up in its spool; a local clock turned back before
 * the ban date does not lift the ban, because the agent saw a later signed server time. When
 * the server is back, every spooled event arrives exactly once.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isOurStub } from '../../agent/enforce/steps.js';
import { type AgentSetup, enrollBin, futureBan, once, onceOk, readStatus } from './e2e-helpers.js';
import { createEnrollSecret, publish, run, startTestServer, tempDir, type TestServer } from './helpers.js';
import { claudeCodeNpm } from './trees.js';

const DAY = 86_400_000;

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: TestServer;
let setup: AgentSetup;
let deviceId: string;
let adminToken: string;

const spooledIds = async () =>
  (await readdir(join(setup.stateDir, 'spool')))
    .map((name) => /^\d{12}-([0-9a-f-]{36})\.json$/.exec(name)?.[1])
    .filter((id): id is string => id !== undefined);

const quarantine = () => join(setup.install.installPath, '..', '.claude-code.aigate-quarantine');

/** Stub and quarantine in place (checked on disk, without running the stub: that would leave a launch record). */
async function expectBlocked(): Promise<void> {
  expect(await isOurStub(setup.install.launcher)).toBe(true);
  expect((await stat(quarantine())).mode & 0o7777).toBe(0);
}

beforeAll(async () => {
  dir = await tempDir('aigate-offline-');
  server = await startTestServer(join(dir.path, 'server'));
  adminToken = server.adminToken;
  const tree = join(dir.path, 'tree');
  setup = {
    stateDir: join(dir.path, 'state'),
    install: await claudeCodeNpm(join(tree, 'npm-global')),
    home: join(tree, 'home', 'alice'),
    env: {},
  };
  const enrolled = await enrollBin(server.url, await createEnrollSecret(server.admin), setup.stateDir);
  deviceId = /device ([0-9a-f-]{36})/.exec(enrolled.stdout)![1]!;
});
afterAll(async () => {
  await server?.close();
  await dir?.remove();
});

describe('offline', () => {
  it('enforces the cached policy, spools events, holds the ban against a clock turned back, and delivers every event once', async () => {
    // A ban in effect since two days ago, warned about for thirty days before that.
    const effective = new Date(Date.now() - 2 * DAY).toISOString();
    await publish(server.admin, futureBan(effective));
    await onceOk(setup);
    await expectBlocked();
    const floor = JSON.parse(await readFile(join(setup.stateDir, 'time.json'), 'utf8')) as { floorMs: number };
    expect(floor.floorMs).toBeGreaterThan(Date.parse(effective));

    await server.close();

    // Launch attempts and tampering while offline.
    expect((await run(setup.install.launcher, ['one'], { input: '' })).code).toBe(126);
    expect((await run(setup.install.launcher, ['two'], { input: '' })).code).toBe(126);
    await rm(setup.install.launcher);
    const offline = await once(setup);
    expect(offline.code).toBe(0);
    expect(offline.stdout).toMatch(
      /Server unreachable \(cannot reach http:\/\/127\.0\.0\.1:\d+\/v1\/policy: ECONNREFUSED\): the cached policy is enforced/,
    );
    expect(offline.stdout).toContain('1 repaired after tampering');
    await expectBlocked();

    // The clock turned back to before the ban date (inside the old warn window), agent restarted, still offline.
    const rolledBack = await once(setup, { AIGATE_AGENT_TEST_CLOCK: new Date(Date.now() - 5 * DAY).toISOString() });
    expect(rolledBack.code).toBe(0);
    expect(rolledBack.stdout).toContain('1 AI tool instance: 1 blocked, 0 warned, 0 allowed.');
    await expectBlocked();
    const status = await readStatus(setup.stateDir);
    expect(status.clockBehind).toBe(true);
    expect(Date.parse(status.trustedNow)).toBeGreaterThanOrEqual(floor.floorMs);
    expect(status.lastContactError).toMatch(/ECONNREFUSED/);

    const waiting = await spooledIds();
    expect(waiting.length).toBeGreaterThanOrEqual(3);
    expect(status.spool.pending).toBe(waiting.length);

    // The server comes back on the same address.
    server = await startTestServer(join(dir.path, 'server'), { port: server.port, adminToken });
    const back = await onceOk(setup);
    expect(back.stdout).toContain('Server reachable.');
    expect(await spooledIds()).toEqual([]);
    const stored = server.app.aigate.stores.events.recentForDevice(deviceId, 1000);
    for (const id of waiting)
      expect(
        stored.filter((event) => event.id === id),
        `event ${id}`,
      ).toHaveLength(1);
    const types = stored.filter((event) => waiting.includes(event.id)).map((event) => event.type);
    expect(types.filter((type) => type === 'blocked-launch')).toHaveLength(2);
    expect(types).toContain('tamper');

    // Nothing is sent twice.
    await onceOk(setup);
    expect(server.app.aigate.stores.events.recentForDevice(deviceId, 1000)).toHaveLength(stored.length);

    // Online with the clock turned back: the check-in's signed time keeps the ban in force.
    const online = await onceOk(setup, { AIGATE_AGENT_TEST_CLOCK: new Date(Date.now() - 5 * DAY).toISOString() });
    expect(online.stdout).toContain('Server reachable.');
    expect(online.stdout).toContain('1 blocked');
    await expectBlocked();
  }, 120_000);
});
