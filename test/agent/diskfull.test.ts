/**
 * A full disk under the spool (issue 10, case 5): a real 64 KiB tmpfs mounted over the state
 * directory's spool/ folder and filled. The daemon (`aigate-agent run`) against a real server
 * must not crash, must really apply the block on disk, must say `spool-trouble` in its health
 * (status and check-in), must not report a false `restored`, and once space returns must deliver
 * what it kept (the blocked launch), report what it lost (`events-dropped`), and leave the tool
 * put back byte-identical when the ban is lifted. Needs root (mount); skipped otherwise.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdir, open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isOurStub } from '../../agent/enforce/steps.js';
import { type AgentSetup, ALLOW_ALL, enrollBin, pastBan, readStatus, rootsFor, waitFor } from './e2e-helpers.js';
import {
  agentBin,
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
let deviceId: string;
let spoolDir: string;
let mounted = false;
let daemon: ChildProcess | undefined;
let output = '';

/** Fills the file system holding `dir` until it says ENOSPC. */
async function fill(dirPath: string): Promise<void> {
  const handle = await open(join(dirPath, 'filler'), 'w');
  try {
    const chunk = Buffer.alloc(4096, 1);
    for (;;) await handle.write(chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    await handle.close();
  }
}

const events = (type?: string) =>
  server.app.aigate.stores.events.recentForDevice(deviceId, 1000).filter((event) => !type || event.type === type);
const quarantine = () => join(setup.install.installPath, '..', '.claude-code.aigate-quarantine');

beforeAll(async () => {
  if (!isRoot) return;
  dir = await tempDir('aigate-diskfull-');
  await chmod(dir.path, 0o755);
  server = await startTestServer(join(dir.path, 'server'));
  const tree = join(dir.path, 'tree');
  setup = {
    stateDir: join(dir.path, 'state'),
    install: await claudeCodeNpm(join(tree, 'npm-global')),
    home: join(tree, 'home', 'alice'),
    env: {},
  };
  const enrolled = await enrollBin(server.url, await createEnrollSecret(server.admin), setup.stateDir);
  expect(enrolled.code, enrolled.stderr).toBe(0);
  deviceId = /device ([0-9a-f-]{36})/.exec(enrolled.stdout)![1]!;
  spoolDir = join(setup.stateDir, 'spool');
  await mkdir(spoolDir, { recursive: true });
  const mount = await run('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', spoolDir]);
  expect(mount.code, mount.stderr).toBe(0);
  mounted = true;
});

afterAll(async () => {
  if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
  if (mounted) await run('umount', [spoolDir]);
  await server?.close();
  await dir?.remove();
});

describe.skipIf(!isRoot)('a full spool file system', () => {
  it('blocks for real, reports spool trouble, never claims a false restore, and catches up once space returns', async () => {
    const before = await hashTree(join(setup.install.prefix));
    await fill(spoolDir);

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
        '--poll-wait',
        '2',
        '--stop-grace',
        '1',
        '--no-desktop-notify',
        '--log-level',
        'info',
        '--no-sentinel',
      ],
      {
        env: { PATH: process.env.PATH ?? '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    daemon.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    daemon.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor('the daemon to start', async () => (await readStatus(setup.stateDir)).daemon.running);

    // The ban arrives by long-poll; its policy-applied and quarantined events cannot be spooled.
    await publish(server.admin, pastBan());
    await waitFor(
      'the block on disk',
      async () => (await isOurStub(setup.install.launcher)) && ((await stat(quarantine())).mode & 0o7777) === 0,
      30_000,
    );
    expect(daemon.exitCode, output).toBeNull();
    expect((await run(setup.install.launcher, [], { input: '' })).code).toBe(126);

    // Health says so, locally and on the server (the check-in after the change carries it).
    await waitFor('spool trouble in the status', async () =>
      (await readStatus(setup.stateDir)).health?.reasons.some((reason) => reason.code === 'spool-trouble'),
    );
    await waitFor('spool trouble on the server', async () => {
      const device = server.app.aigate.stores.devices.get(deviceId);
      return device?.health === 'degraded' && device.healthReasons.some((reason) => reason.code === 'spool-trouble');
    });
    expect(output).toContain('event spool trouble');
    expect(events('quarantined')).toEqual([]);

    // The ban is lifted while the spool is still full: the tool is really put back.
    await publish(server.admin, ALLOW_ALL);
    await waitFor(
      'the tool put back',
      async () => !(await isOurStub(setup.install.launcher)) && (await stat(setup.install.installPath)).isDirectory(),
      30_000,
    );
    expect(daemon.exitCode, output).toBeNull();

    // Space returns: what was kept is delivered, what was lost is reported, health is ok again.
    await rm(join(spoolDir, 'filler'));
    await waitFor(
      'the blocked launch and the loss report on the server',
      async () => events('blocked-launch').length === 1 && events('events-dropped').length >= 1,
      // Generous: the catch-up waits for the daemon's next minute check, later on a loaded machine.
      90_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${output.slice(-6000)}`);
    });
    const lost = events('events-dropped');
    expect(lost.reduce((sum, event) => sum + Number(event.details?.unwritable ?? 0), 0)).toBeGreaterThanOrEqual(2);
    expect(lost[0]!.message).toMatch(/could not be written to the spool/);
    await waitFor(
      'health ok on the server',
      async () => server.app.aigate.stores.devices.get(deviceId)?.health === 'ok',
      30_000,
    );

    // No false restore: any restored event says verified, and the tree really is as before.
    for (const event of events('restored')) expect(event.details).toMatchObject({ verified: true });
    expect(await hashTree(join(setup.install.prefix))).toEqual(before);
    expect((await run(setup.install.launcher, ['--version'], { input: '' })).stdout).toContain('(Claude Code)');

    daemon.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) =>
      daemon!.exitCode !== null ? resolve(daemon!.exitCode) : daemon!.once('exit', (c) => resolve(c)),
    );
    expect(code, output).toBe(0);
  }, 240_000);
});
