/**
 * The whole product on one machine: a real server, the real agent bin, a prepared tree with a
 * Claude Code npm install. Enroll; a ban with a warn window covering now warns and passes
 * through; a ban in effect blocks (126), quarantines and stops the running instance; lifting it
 * puts every file back byte-identical.
 */
import { spawn } from 'node:child_process';
import { lstat, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isOurStub } from '../../agent/enforce/steps.js';
import {
  type AgentSetup,
  ALLOW_ALL,
  enrollBin,
  futureBan,
  onceOk,
  pastBan,
  readLedger,
  readStatus,
} from './e2e-helpers.js';
import {
  agent,
  createEnrollSecret,
  hashTree,
  publish,
  run,
  startTestServer,
  tempDir,
  type TestServer,
} from './helpers.js';
import { claudeCodeNpm, isRoot } from './trees.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: TestServer;
let setup: AgentSetup;
let before: string[];

beforeAll(async () => {
  dir = await tempDir('aigate-e2e-');
  server = await startTestServer(join(dir.path, 'server'));
  const tree = join(dir.path, 'tree');
  const install = await claudeCodeNpm(join(tree, 'npm-global'));
  setup = { stateDir: join(dir.path, 'state'), install, home: join(tree, 'home', 'alice'), env: {} };
  before = await hashTree(tree);
});
afterAll(async () => {
  await server?.close();
  await dir?.remove();
});

const events = () => server.app.aigate.stores.events.recentForDevice(deviceId, 1000);
let deviceId: string;

describe('the agent end to end', () => {
  it('enrolls, pinning the server key', async () => {
    const secret = await createEnrollSecret(server.admin);
    const wrong = await enrollBin(server.url, secret, join(dir.path, 'wrong-state'), 'B'.repeat(43));
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/Refusing to enroll/);
    const result = await enrollBin(server.url, secret, setup.stateDir, server.app.aigate.policyKeyFingerprint);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('(it matches --policy-key-fingerprint)');
    deviceId = /device ([0-9a-f-]{36})/.exec(result.stdout)![1]!;
  });

  it('warns before the date and still runs the original with its output and exit code', async () => {
    const effective = new Date(Date.now() + 20 * 86_400_000).toISOString().slice(0, 10);
    await publish(server.admin, futureBan(effective));
    const cycle = await onceOk(setup);
    expect(cycle.stdout).toContain('1 AI tool instance: 0 blocked, 1 warned, 0 allowed.');
    expect(await isOurStub(setup.install.launcher)).toBe(true);

    const launched = await run(setup.install.launcher, ['-p', 'explain this', '--model', 'x y'], {
      input: 'some code',
      env: { ...process.env, FAKE_EXIT: '42' },
    });
    expect(launched.code).toBe(42);
    expect(JSON.parse(launched.stdout)).toEqual({
      tool: 'claude-code',
      args: ['-p', 'explain this', '--model', 'x y'],
      input: 'some code',
    });
    expect(launched.stderr).toContain('Claude Code will be blocked on this computer soon.');
    expect(launched.stderr).toContain(`From ${effective} 00:00 (Asia/Shanghai)`);
    expect(launched.stderr).toMatch(/That is in 1\d days\./);

    const status = await readStatus(setup.stateDir);
    expect(status.tools).toEqual([
      expect.objectContaining({
        toolId: 'claude-code',
        action: 'warn',
        enforced: 'warn',
        phase: 'warn-window',
        upcomingAction: 'block',
      }),
    ]);
  });

  it('blocks once the ban is in effect: notice and 126, quarantine, running instance stopped', async () => {
    const running = spawn(process.execPath, [join(setup.install.installPath, 'cli.js'), 'serve'], {
      cwd: setup.install.installPath,
      stdio: 'ignore',
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      running.once('exit', (_code, signal) => resolve(signal)),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));

    await publish(server.admin, pastBan());
    const cycle = await onceOk(setup);
    expect(cycle.stdout).toContain('1 AI tool instance: 1 blocked, 0 warned, 0 allowed.');
    expect(await exited).toBe('SIGTERM');

    const launched = await run(setup.install.launcher, ['--help'], { input: '' });
    expect(launched.code).toBe(126);
    expect(launched.stdout).toBe('');
    expect(launched.stderr).toContain('aigate: Claude Code is blocked on this computer.');
    expect(launched.stderr).toContain(
      'Blocked since 2020-01-01 00:00 (Asia/Shanghai) by the company policy "ban-claude-code".',
    );
    expect(launched.stderr).toContain('Approved alternatives: Qwen Code, Tongyi Lingma');
    expect(launched.stderr).toContain('aigate-agent request-exception claude-code --reason');

    await expect(lstat(setup.install.installPath)).rejects.toMatchObject({ code: 'ENOENT' });
    const quarantined = await stat(join(setup.install.installPath, '..', '.claude-code.aigate-quarantine'));
    expect(quarantined.mode & 0o7777).toBe(0);
    if (isRoot) expect([quarantined.uid, quarantined.gid]).toEqual([0, 0]);

    // The launch record reaches the server at the next cycle.
    await onceOk(setup);
    const types = events().map((e) => e.type);
    for (const type of [
      'policy-applied',
      'warning-installed',
      'warned-launch',
      'quarantined',
      'processes-stopped',
      'blocked-launch',
    ])
      expect(types).toContain(type);
    const blockedLaunch = events().find((e) => e.type === 'blocked-launch')!;
    expect(blockedLaunch).toMatchObject({ toolId: 'claude-code', installPath: setup.install.installPath });

    // The server's inventory still shows the quarantined instance, blocked.
    const device = server.app.aigate.stores.devices.get(deviceId);
    expect(device?.policyRevision).toBe(2);

    const employee = await agent(['status', '--state-dir', setup.stateDir]);
    expect(employee.stdout).toMatch(
      /BLOCKED {2}Claude Code 2\.1\.91 \(npm, \S+\)\n\s+blocked since 2020-01-01 00:00 \(Asia\/Shanghai\)/,
    );
  });

  it('files a request from a local account whose home the scan did not read, under the reference the employee was given', async () => {
    // Run by this test's account (root in CI), which owns no scanned home: the next check-in reports it.
    const asked = await agent([
      'request-exception',
      'claude-code',
      '--reason',
      'Security review, SEC-7',
      '--state-dir',
      setup.stateDir,
    ]);
    expect(asked.code, asked.stderr).toBe(0);
    const reference = /is saved \(reference ([0-9a-f-]{36})\)/.exec(asked.stdout)?.[1];
    expect(reference, asked.stdout).toBeDefined();
    expect(server.app.aigate.stores.exceptionRequests.list({ status: 'pending' }, 10)).toEqual([]);
    await onceOk(setup);
    const filed = server.app.aigate.stores.exceptionRequests.list({ status: 'pending' }, 10);
    expect(filed).toEqual([
      expect.objectContaining({ id: reference, toolId: 'claude-code', reason: 'Security review, SEC-7' }),
    ]);
    const device = server.app.aigate.stores.devices.get(deviceId);
    expect(device?.users).toEqual(expect.arrayContaining(['alice', filed[0]!.user]));
  });

  it('lifting the ban restores every file byte-identical (content, mode, owner, link targets)', async () => {
    await publish(server.admin, ALLOW_ALL);
    const cycle = await onceOk(setup);
    expect(cycle.stdout).toContain('Enforcement: 0 applied, 1 restored');
    expect(await hashTree(join(dir.path, 'tree'))).toEqual(before);
    const ledger = await readLedger(setup.stateDir);
    expect(ledger.applied).toEqual({});
    expect(ledger.journal).toBeNull();
    const restored = events().find((e) => e.type === 'restored');
    expect(restored?.details).toMatchObject({ verified: true });
    const launched = await run(setup.install.launcher, ['ok'], { input: '' });
    expect(launched.code).toBe(0);
    expect(launched.stderr).toBe('');
  });
});
