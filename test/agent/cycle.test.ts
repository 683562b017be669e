/**
 * The agent's cycle holds together (issue 10: robust cycle, truthful evidence; issue 14 items 6
 * and 8), each case with the real agent bin against a real server and a prepared tree:
 * - launch records left by the stubs during a ban all reach the server when the ban is lifted;
 * - FIFOs in the drop folders and where a launcher was, and an I/O error in one part of the cycle,
 *   neither hang nor stop the cycle: the other instance is still enforced, the check-in carries the
 *   health, the events are uploaded; a damaged ledger is reported as `ledger-damaged`;
 * - `aigate-agent status` describes the disk: last contact survives offline runs, and a damaged
 *   cached bundle with the server down does not read "nothing is enforced" while a tool is blocked;
 * - the daemon delivers its spool as soon as the server answers again, not at the next cycle.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isOurStub } from '../../agent/enforce/steps.js';
import {
  type AgentSetup,
  ALLOW_ALL,
  enrollBin,
  onceOk,
  pastBan,
  readStatus,
  rootsFor,
  waitFor,
} from './e2e-helpers.js';
import {
  agent,
  agentBin,
  createEnrollSecret,
  publish,
  run,
  startTestServer,
  tempDir,
  type TestServer,
} from './helpers.js';
import { claudeCodeNpm } from './trees.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: TestServer;
let secret: string;
let daemon: ChildProcess | undefined;

async function newSetup(name: string): Promise<AgentSetup & { deviceId: string }> {
  const tree = join(dir.path, name, 'tree');
  const setup = {
    stateDir: join(dir.path, name, 'state'),
    install: await claudeCodeNpm(join(tree, 'npm-global')),
    home: join(tree, 'home', 'alice'),
    env: {},
  };
  const enrolled = await enrollBin(server.url, secret, setup.stateDir);
  expect(enrolled.code, enrolled.stderr).toBe(0);
  return { ...setup, deviceId: /device ([0-9a-f-]{36})/.exec(enrolled.stdout)![1]! };
}

const eventsOf = (deviceId: string, type: string) =>
  server.app.aigate.stores.events.recentForDevice(deviceId, 1000).filter((event) => event.type === type);

async function restartServer(): Promise<void> {
  server = await startTestServer(join(dir.path, 'server'), { port: server.port, adminToken: server.adminToken });
}

beforeAll(async () => {
  dir = await tempDir('aigate-cycle-');
  server = await startTestServer(join(dir.path, 'server'));
  secret = await createEnrollSecret(server.admin);
});
afterAll(async () => {
  if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
  await server?.close();
  await dir?.remove();
});

describe('evidence', () => {
  it('collects every launch record left during a ban before the ban is lifted and the stubs go', async () => {
    const setup = await newSetup('evidence');
    await publish(server.admin, pastBan());
    await onceOk(setup);
    expect(await isOurStub(setup.install.launcher)).toBe(true);
    for (let i = 0; i < 16; i++)
      expect((await run(setup.install.launcher, [`try ${i}`], { input: '' })).code).toBe(126);

    await publish(server.admin, ALLOW_ALL);
    const lifted = await onceOk(setup);
    expect(lifted.stdout).toContain('1 restored');
    expect(lifted.stdout).toContain('16 launch records collected.');
    expect(await isOurStub(setup.install.launcher)).toBe(false);
    expect(eventsOf(setup.deviceId, 'blocked-launch')).toHaveLength(16);
    expect(await readdir(join(setup.stateDir, 'launches'))).toEqual([]);
  });
});

describe('a cycle that holds together', () => {
  it('neither hangs on FIFOs nor stops at a failing part: the other instance is enforced, the check-in says degraded, the events arrive', async () => {
    const setup = await newSetup('robust');
    const second = await claudeCodeNpm(join(setup.home, '.npm-global'));
    const roots = [...rootsFor(setup), '--npm-prefix', second.prefix, '--path', second.bin];
    const once = () =>
      agent([
        'once',
        '--state-dir',
        setup.stateDir,
        ...roots,
        '--stop-grace',
        '1',
        '--no-desktop-notify',
        '--log-level',
        'warn',
      ]);
    await publish(server.admin, pastBan());
    const first = await once();
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toContain('2 blocked');
    expect(await isOurStub(second.launcher)).toBe(true);

    // A FIFO where the first launcher's stub was, FIFOs in both drop folders, the second stub
    // removed by hand, and the file of tracked requests replaced by a folder (an I/O error).
    await rm(setup.install.launcher);
    expect((await run('mkfifo', [setup.install.launcher])).code).toBe(0);
    expect((await run('mkfifo', [join(setup.stateDir, 'launches', '1-1-0123456789abcdef.launch')])).code).toBe(0);
    expect(
      (await run('mkfifo', [join(setup.stateDir, 'requests', '00000000-0000-4000-8000-000000000000.request')])).code,
    ).toBe(0);
    await rm(second.launcher);
    await rm(join(setup.stateDir, 'exceptions.json'), { force: true });
    await mkdir(join(setup.stateDir, 'exceptions.json'));

    const troubled = await once();
    expect(troubled.signal, 'the cycle hung').toBeNull();
    expect(troubled.code).toBe(1);
    expect(troubled.stdout).toContain('Server reachable.');
    expect(troubled.stdout).toMatch(/Failed: exception requests: .*exceptions\.json/);
    expect(troubled.stdout).toMatch(/Health: degraded \(.*cycle-errors.*\); reported to the server\./);
    // The other instance was enforced again.
    expect(await isOurStub(second.launcher)).toBe(true);
    expect(eventsOf(setup.deviceId, 'tamper').some((event) => event.installPath === second.installPath)).toBe(true);
    // The check-in went through, with the health.
    const device = server.app.aigate.stores.devices.get(setup.deviceId)!;
    expect(device.health).toBe('degraded');
    expect(device.healthReasons).toContainEqual(
      expect.objectContaining({ code: 'cycle-errors', message: expect.stringMatching(/^exception requests: /) }),
    );
    // The FIFO where a launcher was is left alone and reported by enforcement.
    expect(device.healthReasons).toContainEqual(
      expect.objectContaining({ code: 'suspicious-layout', message: expect.stringContaining(setup.install.launcher) }),
    );
    expect((await readdir(join(setup.stateDir, 'spool'))).filter((name) => name.endsWith('.json'))).toEqual([]);
    expect(await readdir(join(setup.stateDir, 'launches'))).toEqual([]);

    // Repaired by hand: each reason goes with its cause, and the next check-in says ok.
    await rmdir(join(setup.stateDir, 'exceptions.json'));
    await once();
    expect(server.app.aigate.stores.devices.get(setup.deviceId)!.healthReasons.map((reason) => reason.code)).toEqual([
      'suspicious-layout',
    ]);
    await rm(setup.install.launcher);
    await once();
    expect(server.app.aigate.stores.devices.get(setup.deviceId)!.health).toBe('ok');

    // A damaged ledger: nothing is changed, and the server hears why.
    const ledger = await readFile(join(setup.stateDir, 'enforcement.json'), 'utf8');
    await writeFile(join(setup.stateDir, 'enforcement.json'), '{"version": 1, "appl');
    const damaged = await once();
    expect(damaged.stdout).toContain('Server reachable.');
    expect(server.app.aigate.stores.devices.get(setup.deviceId)!.healthReasons).toContainEqual(
      expect.objectContaining({ code: 'ledger-damaged' }),
    );
    expect((await agent(['status', '--state-dir', setup.stateDir])).stdout).toMatch(
      /Health: degraded[\s\S]*ledger-damaged: /,
    );
    await writeFile(join(setup.stateDir, 'enforcement.json'), ledger);
  }, 120_000);
});

describe('a policy that cannot be stored', () => {
  it('still checks in (degraded, saying why) and uploads, and takes the policy once it can', async () => {
    const setup = await newSetup('policy-store');
    await publish(server.admin, pastBan());
    // The cached bundle's place is taken by a folder: storing the accepted bundle fails (EISDIR).
    await mkdir(join(setup.stateDir, 'policy', 'bundle.jws'), { recursive: true });
    const failed = await agent([
      'once',
      '--state-dir',
      setup.stateDir,
      ...rootsFor(setup),
      '--no-desktop-notify',
      '--log-level',
      'silent',
    ]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain('Server reachable.');
    expect(failed.stdout).toMatch(/Failed: policy: .*bundle\.jws/);
    const device = server.app.aigate.stores.devices.get(setup.deviceId)!;
    expect(device.lastCheckinAt).not.toBeNull();
    expect(device.healthReasons).toContainEqual(
      expect.objectContaining({ code: 'cycle-errors', message: expect.stringMatching(/^policy: /) }),
    );

    await rmdir(join(setup.stateDir, 'policy', 'bundle.jws'));
    await onceOk(setup);
    expect(await isOurStub(setup.install.launcher)).toBe(true);
    expect(server.app.aigate.stores.devices.get(setup.deviceId)!.health).toBe('ok');
  }, 60_000);
});

describe('status describes the disk', () => {
  it('keeps the last contact across offline runs, and shows what stays blocked when the cached policy is damaged and the server is down', async () => {
    const setup = await newSetup('status');
    await publish(server.admin, pastBan());
    await onceOk(setup);
    await onceOk(setup);
    const contact = (await readStatus(setup.stateDir)).lastContactAt;
    expect(contact).not.toBeNull();

    await server.close();
    try {
      await onceOk(setup);
      const offline = await readStatus(setup.stateDir);
      expect(offline.lastContactAt).toBe(contact);
      const text = (await agent(['status', '--state-dir', setup.stateDir])).stdout;
      expect(text).not.toContain('last contact never');
      expect(text).toMatch(/last contact (just now|\d+ \w+ ago) \(now unreachable: /);

      // The cached bundle damaged, the server still down: the block stays, and status says so.
      await writeFile(join(setup.stateDir, 'policy', 'bundle.jws'), 'eyJhbGciOi.damaged.bundle\n');
      await onceOk(setup);
      expect(await isOurStub(setup.install.launcher)).toBe(true);
      const damaged = (await agent(['status', '--state-dir', setup.stateDir])).stdout;
      expect(damaged).not.toContain('nothing is enforced');
      expect(damaged).toContain(
        'Policy: none usable on this machine now; what was last applied stays in force (1 tool blocked)',
      );
      expect(damaged).toMatch(/BLOCKED {2}Claude Code 2\.1\.91/);
      expect(damaged).toMatch(/Note: the cached policy .* is not usable/);
    } finally {
      await restartServer();
    }
  }, 90_000);
});

describe('the daemon after an outage', () => {
  it('delivers the spooled events as soon as the server answers again, not at the next cycle', async () => {
    const setup = await newSetup('reconnect');
    await publish(server.admin, pastBan());
    daemon = spawn(
      process.execPath,
      [
        agentBin(),
        'run',
        '--state-dir',
        setup.stateDir,
        ...rootsFor(setup),
        '--cycle-minutes',
        '60',
        '--jitter',
        '1',
        '--poll-wait',
        '2',
        '--stop-grace',
        '1',
        '--no-desktop-notify',
        '--no-sentinel',
      ],
      {
        env: { PATH: process.env.PATH ?? '' },
        stdio: ['ignore', 'ignore', 'ignore'],
      },
    );
    await waitFor('the block', () => isOurStub(setup.install.launcher), 30_000);
    await waitFor(
      'the first check-in',
      async () => server.app.aigate.stores.devices.get(setup.deviceId)?.health === 'ok',
    );

    await server.close();
    expect((await run(setup.install.launcher, ['offline 1'], { input: '' })).code).toBe(126);
    expect((await run(setup.install.launcher, ['offline 2'], { input: '' })).code).toBe(126);
    const spooled = async () =>
      (await readdir(join(setup.stateDir, 'spool'))).filter((name) => name.endsWith('.json') && !name.startsWith('.'))
        .length;
    await waitFor(
      'the launches in the spool',
      async () => (await spooled()) >= 2 && (await readdir(join(setup.stateDir, 'launches'))).length === 0,
    );

    await restartServer();
    await waitFor(
      'the spooled launches on the server',
      async () => eventsOf(setup.deviceId, 'blocked-launch').length === 2,
      // Well inside the 60-minute cycle; the retry backoff can pass a minute on a loaded machine.
      180_000,
    );
    expect(await spooled()).toBe(0);
    daemon.kill('SIGTERM');
    await new Promise((resolve) => (daemon!.exitCode !== null ? resolve(null) : daemon!.once('exit', resolve)));
  }, 300_000);
});
