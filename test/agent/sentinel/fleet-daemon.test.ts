/**
 * The daemon (`aigate-agent run`, as root) learns and reports fingerprints on its own: real
 * Claude Code 2.0.46 from the npm registry in a real user's home, blocked for that user. The
 * first cycle quarantines the install; the sentinel then learns its entry file from the
 * quarantine and reports it, and the real server keeps it pending (one device is not enough).
 * The ban names only this test's user, so the daemon stops nobody else's processes.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readFileSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { quarantineFor } from '../../../agent/enforce/stubs.js';
import { enrollBin, waitFor } from '../e2e-helpers.js';
import { agentBin, createEnrollSecret, publish, startTestServer, type TestServer } from '../helpers.js';
import { cleanup, scratch } from '../inventory/fixtures.js';
import { INSTALL_TIMEOUT_MS, npmInstallGlobal } from '../inventory/real-npm.js';

const USER = 'aigtfldm';
const canRun = process.platform === 'linux' && process.getuid?.() === 0;

const t = scratch('aigate-fleet-daemon-');
afterAll(cleanup);

// The scan names a --home's user after its folder.
const home = t.path(`home/${USER}`);
const prefix = `${home}/.npm-global`;
const installPath = `${prefix}/lib/node_modules/@anthropic-ai/claude-code`;
let server: TestServer;
let daemon: ChildProcess | null = null;
let output = '';
let deviceId = '';
let cliSha = '';

beforeAll(async () => {
  if (!canRun) return;
  const made = spawnSync('useradd', ['--no-create-home', '--shell', '/bin/sh', USER], { encoding: 'utf8' });
  if (made.status !== 0 && made.status !== 9) throw new Error(`useradd ${USER}: ${made.stderr}`);
  npmInstallGlobal(prefix, ['@anthropic-ai/claude-code@2.0.46'], { omitOptional: true });
  cliSha = createHash('sha256')
    .update(readFileSync(`${installPath}/cli.js`))
    .digest('hex');
  execFileSync('chown', ['-R', `${USER}:`, home]);
  chmodSync(t.root, 0o755);
  server = await startTestServer(t.path('server'));
  const enrolled = await enrollBin(server.url, await createEnrollSecret(server.admin), t.path('state'));
  expect(enrolled.code, enrolled.stderr).toBe(0);
  deviceId = /device ([0-9a-f-]{36})/.exec(enrolled.stdout)![1]!;
  await publish(
    server.admin,
    'apiVersion: aigate/v1\nkind: Policy\nmetadata:\n  name: fleet-daemon\nspec:\n  default: allow\n  rules:\n' +
      `    - tools: [claude-code]\n      users: [${USER}]\n      action: block\n`,
  );
}, INSTALL_TIMEOUT_MS + 60_000);

afterAll(async () => {
  if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
  await server?.close();
});

describe.runIf(canRun)('fleet fingerprints from aigate-agent run', () => {
  it('reports the entry file of an install it quarantined, and the server keeps it pending', async () => {
    daemon = spawn(
      process.execPath,
      [
        agentBin(),
        'run',
        '--state-dir',
        t.path('state'),
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
      { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    daemon.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    daemon.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));

    const record = await waitFor(
      'the fingerprint on the server',
      async () => server.app.aigate.stores.fingerprints.get(cliSha),
      90_000,
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n${output}`);
    });
    expect(record).toMatchObject({
      toolId: 'claude-code',
      version: '2.0.46',
      kind: 'entry',
      size: 10_703_883,
      status: 'pending',
      devices: 1,
      shippedRevision: null,
    });
    // Learned from the quarantine: the cycle had already moved the install away.
    expect(existsSync(installPath)).toBe(false);
    expect(existsSync(quarantineFor(installPath))).toBe(true);
    const reporters = server.app.aigate.db
      .prepare('SELECT device_id FROM fingerprint_reports WHERE sha256 = ?')
      .all(cliSha) as { device_id: string }[];
    expect(reporters).toEqual([{ device_id: deviceId }]);
    // Only the tool's own files: not the ripgrep binaries Claude Code 2.0 vendors.
    expect(server.app.aigate.stores.fingerprints.list({}, 100).map((f) => f.sha256)).toEqual([cliSha]);

    daemon.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) =>
      daemon!.exitCode !== null ? resolve(daemon!.exitCode) : daemon!.once('exit', (c) => resolve(c)),
    );
    expect(code, output).toBe(0);
  }, 150_000);
});
