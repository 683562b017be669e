/**
 * The sentinel stops a blocked tool however it is started (issue 12, execution-time stop): real
 * Claude Code 2.0.46 from the npm registry, run as a real unprivileged user on a real terminal
 * (`script` gives it a pty), long-running (`claude mcp serve` waits on stdin), started five ways:
 * from npx's cache, from a copied folder, as a renamed file with no package around it (known by
 * its SHA-256, learned from the installed copy), from a copy whose "name" was edited, and as
 * `node .../cli.js`. Each is stopped, shows the block notice on its terminal, and is reported
 * once. The allowed Codex in the same home still runs, and nothing else is signalled.
 * Needs root (creates the user, reads other users' /proc entries); skipped otherwise.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';

import { TypeCompiler } from '@sinclair/typebox/compiler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AgentEvent } from '../../../agent/events/event.js';
import { scanMachine } from '../../../agent/inventory/index.js';
import { type AgentSentinel, createAgentSentinel } from '../../../agent/sentinel/agent-hook.js';
import { builtinCatalog, catalogIndex } from '../../../policies/catalog/index.js';
import { cleanup, scratch } from '../inventory/fixtures.js';
import { INSTALL_TIMEOUT_MS, npmInstallGlobal, npxRun } from '../inventory/real-npm.js';

const USER = 'aigtsent';
const isRoot = process.getuid?.() === 0 && process.platform === 'linux';
const NOTICE = 'aigate: Claude Code is blocked on this computer by policy sentinel-test.';

afterAll(cleanup);

const t = scratch('aigate-sentinel-');
const home = t.path('home/sentinel');
let uid = -1;
let gid = -1;
let sentinel: AgentSentinel | null = null;
const events: AgentEvent[] = [];
const validEvent = TypeCompiler.Compile(AgentEvent);

function ensureUser(): void {
  const made = spawnSync('useradd', ['--no-create-home', '--shell', '/bin/sh', USER], { encoding: 'utf8' });
  if (made.status !== 0 && made.status !== 9) throw new Error(`useradd ${USER}: ${made.stderr}`);
  uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim());
  gid = Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }).trim());
}

beforeAll(async () => {
  if (!isRoot) return;
  ensureUser();
  const g = `${home}/.npm-global`;
  npmInstallGlobal(g, ['@anthropic-ai/claude-code@2.0.46'], { omitOptional: true });
  npmInstallGlobal(g, ['@openai/codex@0.111.0', '@openai/codex-linux-x64@npm:@openai/codex@0.111.0-linux-x64']);
  npxRun(home, '@anthropic-ai/claude-code@2.0.46', 'claude');
  const cc = `${g}/lib/node_modules/@anthropic-ai/claude-code`;
  cpSync(cc, `${home}/stuff/cc`, { recursive: true });
  cpSync(cc, `${g}/lib/node_modules/my-helper`, { recursive: true });
  const manifest = JSON.parse(readFileSync(`${cc}/package.json`, 'utf8')) as Record<string, unknown>;
  writeFileSync(`${g}/lib/node_modules/my-helper/package.json`, JSON.stringify({ ...manifest, name: 'my-helper' }));
  mkdirSync(`${home}/bin`, { recursive: true });
  cpSync(`${cc}/cli.js`, `${home}/bin/helper`);
  chmodSync(`${home}/bin/helper`, 0o755);
  execFileSync('chown', ['-R', `${uid}:${gid}`, t.path('home')]);
  chmodSync(t.root, 0o755);

  // As the daemon runs it: the inventory's blocked instances teach the fingerprints, every
  // blocked process becomes one blocked-launch event.
  const inventory = await scanMachine({ homes: [home], paths: [], detectRunning: false });
  sentinel = createAgentSentinel({
    catalog: catalogIndex(builtinCatalog),
    intervalMs: 50,
    // Only this test's user: other test runs on the machine may run Claude Code too.
    isBlocked: (toolId, _version, user) => toolId === 'claude-code' && user === USER,
    noticeFor: () => NOTICE,
    emit: async (event) => {
      events.push(event);
    },
    policyRevision: () => 7,
  });
  await sentinel.refresh(inventory.instances.filter((i) => i.toolId === 'claude-code'));
  sentinel.start();
}, INSTALL_TIMEOUT_MS * 4);

afterAll(() => sentinel?.stop());

/** Starts `command` as the user on a pty (script), stdin held open; resolves when it exits. */
function startOnTerminal(command: string, log: string): { child: ChildProcess; exited: Promise<number | null> } {
  const child = spawn('script', ['-qfec', command, log], {
    uid,
    gid,
    cwd: home,
    env: { HOME: home, PATH: `/usr/bin:/bin:${process.execPath.replace(/\/node$/, '')}`, TERM: 'dumb' },
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited };
}

const node = process.execPath;
const ways: [string, () => string][] = [
  [
    'npx cache',
    () =>
      `${execFileSync('sh', ['-c', `ls -d ${home}/.npm/_npx/*/node_modules/.bin/claude`], { encoding: 'utf8' }).trim()} mcp serve`,
  ],
  ['copied folder', () => `${node} ${home}/stuff/cc/cli.js mcp serve`],
  ['renamed file (fingerprint)', () => `${node} ${home}/bin/helper mcp serve`],
  ['edited name', () => `${node} ${home}/.npm-global/lib/node_modules/my-helper/cli.js mcp serve`],
  ['node cli.js', () => `${node} ${home}/.npm-global/lib/node_modules/@anthropic-ai/claude-code/cli.js mcp serve`],
];

describe.skipIf(!isRoot)('sentinel (Linux, as root, real user and terminal)', () => {
  it.each(ways)(
    'stops Claude Code started from the %s, with the notice on its terminal, once',
    async (name, command) => {
      const before = events.length;
      const log = `${home}/log-${name.replace(/\W+/g, '-')}.txt`; // written by the user's script(1)
      const { child, exited } = startOnTerminal(command(), log);
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
      child.stdin?.end();
      if (code === 'timeout') child.kill('SIGKILL');
      expect(code).not.toBe('timeout');
      await new Promise((r) => setTimeout(r, 200)); // the event is spooled asynchronously
      const mine = events.slice(before);
      expect(
        mine.map((e) => [e.type, e.toolId, e.version, e.user, e.details?.stopped, e.details?.noticeShown]),
      ).toEqual([['blocked-launch', 'claude-code', '2.0.46', USER, true, true]]);
      expect(mine[0]!.details?.uid).toBe(uid);
      expect(validEvent.Check(mine[0])).toBe(true);
      expect(readFileSync(log, 'utf8')).toContain(NOTICE);
    },
    60_000,
  );

  it('leaves the allowed Codex in the same home running', () => {
    const before = events.length;
    const out = spawnSync(`${home}/.npm-global/bin/codex`, ['--version'], {
      uid,
      gid,
      encoding: 'utf8',
      env: { HOME: home, PATH: `/usr/bin:/bin:${node.replace(/\/node$/, '')}` },
    });
    expect(out.status).toBe(0);
    expect(out.stdout.trim()).toBe('codex-cli 0.111.0');
    expect(events.length).toBe(before);
  });
});
