/**
 * The sentinel inside the real daemon (`aigate-agent run` as root, Linux): a blocked tool started
 * by a real unprivileged user from a copied folder outside every scanned root (what an npx-like
 * copy looks like: the package folder, run as `node copy/cli.js`) is stopped, and one
 * `blocked-launch` event reaches the real server. The ban names only this test's users, so the
 * daemon never stops anyone else's processes on a shared machine; and the daemon is given
 * `--home` (the first user's), so the sentinel leaves alone the second user's blocked copy, which
 * lies outside that scope (red-team H1: a daemon run on a prepared tree must not act machine-wide).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmod, cp, mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { banYaml } from '../support/policy.js';
import { enrollBin, waitFor } from './e2e-helpers.js';
import { agentBin, createEnrollSecret, publish, startTestServer, tempDir, type TestServer } from './helpers.js';
import { claudeCodeNpm } from './trees.js';

const USER = 'aigtsdmn';
/** Banned too, but outside the daemon's --home scope. */
const OUTSIDER = 'aigtsdou';
const canRun = process.platform === 'linux' && process.getuid?.() === 0;

const banForUser = banYaml(`ban-for-${USER}`, ['claude-code'], {
  users: [USER, OUTSIDER],
  message: 'Claude Code may not be used on company machines.',
});

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: TestServer;
let daemon: ChildProcess | null = null;
let tool: ChildProcess | null = null;
let outsiderTool: ChildProcess | null = null;
let daemonOutput = '';
let deviceId = '';
let uid = -1;
let gid = -1;
const outsider = { uid: -1, gid: -1 };

function ensureUser(name: string): { uid: number; gid: number } {
  const made = spawnSync('useradd', ['--no-create-home', '--shell', '/bin/sh', name], { encoding: 'utf8' });
  if (made.status !== 0 && made.status !== 9) throw new Error(`useradd ${name}: ${made.stderr}`);
  return {
    uid: Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim()),
  };
}

beforeAll(async () => {
  if (!canRun) return;
  ({ uid, gid } = ensureUser(USER));
  Object.assign(outsider, ensureUser(OUTSIDER));
  dir = await tempDir('aigate-sentinel-daemon-');
  await chmod(dir.path, 0o755); // the user must reach the copied folder
  server = await startTestServer(join(dir.path, 'server'));
  const enrolled = await enrollBin(server.url, await createEnrollSecret(server.admin), join(dir.path, 'state'));
  expect(enrolled.code, enrolled.stderr).toBe(0);
  deviceId = /device ([0-9a-f-]{36})/.exec(enrolled.stdout)![1]!;
  await publish(server.admin, banForUser);
}, 60_000);

afterAll(async () => {
  for (const child of [tool, outsiderTool])
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
  await server?.close();
  await dir?.remove();
});

describe.runIf(canRun)('the sentinel in aigate-agent run', () => {
  it('stops a blocked tool run from a copied folder outside every scanned root and reports one blocked-launch event', async () => {
    // The scanned roots: the user's (empty) home and a prefix. The copy lives elsewhere. Given
    // --home, the sentinel acts only on that home's owner's processes (and code under the roots).
    const home = join(dir.path, 'tree', 'home', 'nobody-here');
    const prefix = join(dir.path, 'tree', 'npm-global');
    await mkdir(home, { recursive: true });
    await mkdir(prefix, { recursive: true });
    execFileSync('chown', [`${uid}:${gid}`, home]);
    const prepared = await claudeCodeNpm(join(dir.path, 'prepared'));
    const copy = join(dir.path, 'elsewhere', 'copy');
    await cp(prepared.installPath, copy, { recursive: true, verbatimSymlinks: true });
    execFileSync('chown', ['-R', `${uid}:${gid}`, join(dir.path, 'elsewhere')]);
    await chmod(join(dir.path, 'elsewhere'), 0o755);
    // The outsider's own copy, in a folder of theirs outside the scope.
    const theirs = join(dir.path, 'outsider', 'copy');
    await cp(prepared.installPath, theirs, { recursive: true, verbatimSymlinks: true });
    execFileSync('chown', ['-R', `${outsider.uid}:${outsider.gid}`, join(dir.path, 'outsider')]);
    await chmod(join(dir.path, 'outsider'), 0o755);

    daemon = spawn(
      process.execPath,
      [
        agentBin(),
        'run',
        '--state-dir',
        join(dir.path, 'state'),
        '--home',
        home,
        '--npm-prefix',
        prefix,
        '--cycle-minutes',
        '30',
        '--poll-wait',
        '2',
        '--no-desktop-notify',
      ],
      {
        env: { PATH: process.env.PATH ?? '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    daemon.stdout!.on('data', (chunk: Buffer) => (daemonOutput += chunk.toString()));
    daemon.stderr!.on('data', (chunk: Buffer) => (daemonOutput += chunk.toString()));
    await waitFor(
      'the sentinel to start',
      async () => daemonOutput.includes('sentinel watching process starts'),
      60_000,
    );

    // The outsider runs their copy first: the sentinel sees it before the employee's.
    outsiderTool = spawn(process.execPath, [join(theirs, 'cli.js'), 'serve'], {
      cwd: join(dir.path, 'outsider'),
      uid: outsider.uid,
      gid: outsider.gid,
      env: { PATH: process.env.PATH ?? '' },
      stdio: 'ignore',
    });
    await new Promise((resolve) => outsiderTool!.once('spawn', resolve));

    // The employee runs the copy directly (a long-running session).
    tool = spawn(process.execPath, [join(copy, 'cli.js'), 'serve'], {
      cwd: join(dir.path, 'elsewhere'),
      uid,
      gid,
      env: { PATH: process.env.PATH ?? '' },
      stdio: 'ignore',
    });
    const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      tool!.once('exit', (code, signal) => resolve({ code, signal })),
    );
    expect(ended.signal, daemonOutput).toBe('SIGKILL');

    const launches = () =>
      server.app.aigate.stores.events
        .recentForDevice(deviceId, 1000)
        .filter((event) => event.type === 'blocked-launch');
    const [event] = await waitFor(
      'the blocked-launch event on the server',
      async () => (launches().length > 0 ? launches() : null),
      30_000,
    );
    expect(event).toMatchObject({ toolId: 'claude-code', user: USER, version: '2.1.91' });
    expect(event!.details).toMatchObject({ source: 'sentinel', pid: tool.pid, uid, stopped: true });

    daemon.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) =>
      daemon!.exitCode !== null ? resolve(daemon!.exitCode) : daemon!.once('exit', (c) => resolve(c)),
    );
    expect(code, daemonOutput).toBe(0);
    expect(launches()).toHaveLength(1);
    // Out of scope: never signalled, never reported, though banned.
    expect(outsiderTool.exitCode).toBeNull();
    expect(outsiderTool.signalCode).toBeNull();
    expect(launches().filter((event) => event.user === OUTSIDER)).toEqual([]);
  }, 120_000);
});
