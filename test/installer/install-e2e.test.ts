/**
 * The packaged agent, installed as an admin would install it, against a real local server:
 * install.sh (into a temporary root) enrolls the bundled agent; one cycle blocks a Claude Code
 * install; uninstall.sh restores every file byte-identical (content, mode, owner, link targets)
 * and removes the agent. The installed agent runs from the one-file bundle, with no
 * node_modules anywhere near it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { pastBan } from '../agent/e2e-helpers.js';
import {
  createEnrollSecret,
  hashTree,
  publish,
  ROOT,
  run,
  startTestServer,
  type TestServer,
} from '../agent/helpers.js';
import { claudeCodeNpm, type NpmInstall } from '../agent/trees.js';

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const work = mkdtempSync(join(tmpdir(), 'aigate-install-e2e-'));
const root = join(work, 'root');
const stateDir = join(root, 'var/lib/aigate');
let server: TestServer;
let install: NpmInstall;
let home: string;
let before: string[];

/** Runs a command without blocking this process: the server under test lives in it. */
const sh = (command: string, args: string[]) =>
  run(command, args, { cwd: work, env: { PATH: process.env.PATH ?? '' }, timeoutMs: 120_000 });

beforeAll(async () => {
  const packaged = await sh(process.execPath, [
    join(ROOT, 'installer/package.mjs'),
    '--out',
    join(work, 'out'),
    '--os',
    'linux',
  ]);
  expect(packaged.code, packaged.stderr).toBe(0);
  execFileSync('tar', ['-xzf', join(work, 'out', `aigate-agent-${VERSION}-linux.tar.gz`), '-C', work]);
  mkdirSync(root);

  server = await startTestServer(join(work, 'server-data'));
  await publish(server.admin, pastBan());
  writeFileSync(join(work, 'enroll.secret'), `${await createEnrollSecret(server.admin)}\n`, { mode: 0o600 });

  home = join(work, 'home', 'alice');
  mkdirSync(home, { recursive: true });
  install = await claudeCodeNpm(join(home, '.npm-global'));
  before = await hashTree(install.prefix);
}, 120_000);

afterAll(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

const installedAgent = () => join(root, 'opt/aigate/current/bin/aigate-agent');

describe('install.sh + one cycle + uninstall.sh, with a real server', () => {
  it('installs and enrolls the bundled agent', async () => {
    const result = await sh(join(work, `aigate-agent-${VERSION}-linux`, 'install.sh'), [
      '--server',
      server.url,
      '--secret-file',
      join(work, 'enroll.secret'),
      '--root',
      root,
      '--os',
      'linux',
      '--no-start',
    ]);
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/Enrolled with http:\/\/127\.0\.0\.1:\d+: device [0-9a-f-]{36}, group engineering/);
    expect(existsSync(join(stateDir, 'config.json'))).toBe(true);
    expect(existsSync(join(root, 'opt/aigate/current/node_modules'))).toBe(false);
  });

  it('runs one cycle from the bundle and blocks Claude Code', async () => {
    const cycle = await sh(installedAgent(), [
      'once',
      '--state-dir',
      stateDir,
      '--home',
      home,
      '--npm-prefix',
      install.prefix,
      '--path',
      install.bin,
      '--no-desktop-notify',
      '--stop-grace',
      '2',
      '--log-level',
      'warn',
    ]);
    expect(cycle.code, `${cycle.stdout}\n${cycle.stderr}`).toBe(0);
    const launched = await sh(install.launcher, ['--version']);
    expect(launched.code).toBe(126);
    expect(launched.stderr).toMatch(/Claude Code/);
    expect(launched.stderr).toMatch(/blocked/i);
    expect(existsSync(join(install.installPath, 'package.json'))).toBe(false); // quarantined in place
    expect(await hashTree(install.prefix)).not.toEqual(before);
    const status = await sh(installedAgent(), ['status', '--json', '--state-dir', stateDir]);
    expect(JSON.parse(status.stdout)).toMatchObject({
      tools: expect.arrayContaining([expect.objectContaining({ toolId: 'claude-code', action: 'block' })]),
    });
  });

  it('uninstall.sh restores the tool byte-identical and removes the agent', async () => {
    const removed = await sh(join(root, 'opt/aigate/current/uninstall.sh'), ['--root', root]);
    expect(removed.code, `${removed.stdout}\n${removed.stderr}`).toBe(0);
    expect(await hashTree(install.prefix)).toEqual(before);
    const launched = await sh(install.launcher, ['--version']);
    expect(launched.code).toBe(0);
    expect(launched.stdout).toMatch(/2\.1\.91/);
    expect(existsSync(join(root, 'opt/aigate'))).toBe(false);
    expect(existsSync(stateDir)).toBe(false);
  });
});
