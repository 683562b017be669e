/**
 * Red-team B4-B7 (issue 12) at execution time: the sentinel knows real Claude Code 2.0.46 by
 * its cli.js content, whatever the package.json beside it says and whoever owns the folder. Run
 * as a real unprivileged user on a pty (`script`), long-running (`claude mcp serve`), with NO
 * learned fingerprints: a copy renamed to "@openai/codex" 0.111.0 (was taken for the allowed
 * Codex), a copy without package.json, a copy in a chmod 777 folder with a byte appended (was
 * "untrusted" and unmatched), and a copy owned by another user in a shared folder (was "process
 * owner does not own the code"). Each is stopped with the notice on its terminal and one event;
 * the allowed Codex still runs; a root process running such a copy is never stopped by content.
 * Needs root (creates users, reads other users' /proc entries); skipped otherwise.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { AgentEvent } from '../../../agent/events/event.js';
import type { AgentSentinel } from '../../../agent/sentinel/agent-hook.js';
import { identifyProcess } from '../../../agent/sentinel/identify.js';
import { readProcess } from '../../../agent/sentinel/proc.js';
import { stopMatched } from '../../../agent/sentinel/stop.js';
import { builtinCatalog, catalogIndex } from '../../../policies/catalog/index.js';
import { ensureUser, type HostileUser, isRoot } from '../../security/hostile.js';
import { cleanup, scratch } from '../inventory/fixtures.js';
import { INSTALL_TIMEOUT_MS, npmInstallGlobal } from '../inventory/real-npm.js';
import { endedWithin, startClaudeBlockingSentinel, startOnTerminal } from './terminal.js';

const NOTICE = 'aigate: Claude Code is blocked on this computer by policy content-test.';
const linuxRoot = isRoot && process.platform === 'linux';

afterAll(cleanup);

const t = scratch('aigate-content-stop-');
const home = t.path('home/runner');
const g = `${home}/.npm-global`;
let runner: HostileUser;
let other: HostileUser;
let sentinel: AgentSentinel | null = null;
const events: AgentEvent[] = [];

beforeAll(async () => {
  if (!linuxRoot) return;
  runner = ensureUser('aigt-cstop-run');
  other = ensureUser('aigt-cstop-own');
  npmInstallGlobal(t.path('src'), ['@anthropic-ai/claude-code@2.0.46'], { omitOptional: true });
  npmInstallGlobal(g, ['@openai/codex@0.111.0', '@openai/codex-linux-x64@npm:@openai/codex@0.111.0-linux-x64']);
  const cc = t.path('src/lib/node_modules/@anthropic-ai/claude-code');
  const manifest = JSON.parse(readFileSync(`${cc}/package.json`, 'utf8')) as Record<string, unknown>;
  // B4: claims to be the allowed Codex.
  cpSync(cc, `${g}/lib/node_modules/v4`, { recursive: true });
  writeFileSync(
    `${g}/lib/node_modules/v4/package.json`,
    JSON.stringify({ ...manifest, name: '@openai/codex', version: '0.111.0' }),
  );
  // B5: no package.json at all.
  cpSync(cc, `${g}/lib/node_modules/v5`, { recursive: true });
  rmSync(`${g}/lib/node_modules/v5/package.json`);
  // B6: a folder anyone may write, and not the bytes of any installed copy.
  cpSync(cc, `${home}/loose/cc`, { recursive: true });
  appendFileSync(`${home}/loose/cc/cli.js`, '\n');
  execFileSync('chown', ['-R', `${runner.uid}:${runner.gid}`, t.path('home')]);
  chmodSync(`${home}/loose/cc`, 0o777);
  // B7: another user's copy in a shared folder.
  cpSync(cc, t.path('shared/cc'), { recursive: true });
  execFileSync('chown', ['-R', `${other.uid}:${other.gid}`, t.path('shared/cc')]);
  chmodSync(t.root, 0o755);
  chmodSync(t.path('shared'), 0o755);

  sentinel = await startClaudeBlockingSentinel(runner.name, NOTICE, events, 3);
}, INSTALL_TIMEOUT_MS * 3);

afterAll(() => sentinel?.stop());

const node = process.execPath;
const env = () => ({ HOME: home, PATH: `/usr/bin:/bin:${node.replace(/\/node$/, '')}`, TERM: 'dumb' });

const ways: [string, () => string, string][] = [
  ['a copy named @openai/codex 0.111.0 (B4)', () => `${g}/lib/node_modules/v4/cli.js`, 'manifest mismatch'],
  ['a copy without package.json (B5)', () => `${g}/lib/node_modules/v5/cli.js`, "claude-code's markers"],
  ['a chmod 777 copy with a byte appended (B6)', () => `${home}/loose/cc/cli.js`, "claude-code's markers"],
  ["another user's copy in a shared folder (B7)", () => t.path('shared/cc/cli.js'), "claude-code's markers"],
];

describe.runIf(linuxRoot)('sentinel stops Claude Code known by content', () => {
  it.each(ways)(
    'stops %s, with the notice on its terminal, once',
    async (name, script, evidence) => {
      const before = events.length;
      const log = `${home}/log-${name.replace(/\W+/g, '-')}.txt`;
      const started = startOnTerminal(runner, `${node} ${script()} mcp serve`, log, { cwd: home, env: env() });
      expect(await endedWithin(started, 30_000)).not.toBe('timeout');
      await new Promise((r) => setTimeout(r, 200)); // the event is spooled asynchronously
      const mine = events.slice(before);
      expect(
        mine.map((e) => [e.type, e.toolId, e.version, e.user, e.details?.stopped, e.details?.noticeShown]),
      ).toEqual([['blocked-launch', 'claude-code', '2.0.46', runner.name, true, true]]);
      expect(JSON.stringify(mine[0]!.details)).toContain(evidence);
      expect(readFileSync(log, 'utf8')).toContain(NOTICE);
    },
    60_000,
  );

  it('never stops a root process by content (a root-owned copy root runs is left alone and said why)', async () => {
    const child = spawn(node, [`${g}/lib/node_modules/v4/cli.js`, 'mcp', 'serve'], {
      env: { HOME: home, PATH: '/usr/bin:/bin' },
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    try {
      let info = readProcess(child.pid!);
      for (let i = 0; i < 300 && !info?.argv.some((a) => a.endsWith('v4/cli.js')); i++) {
        await new Promise((r) => setTimeout(r, 10));
        info = readProcess(child.pid!);
      }
      const match = await identifyProcess(info!, { catalog: catalogIndex(builtinCatalog) });
      expect(match).toMatchObject({ toolId: 'claude-code', version: '2.0.46', by: 'content', uid: 0 });
      expect(stopMatched(match!, { notice: null })).toEqual({
        stopped: false,
        reason: 'a root process is never stopped by a content match',
      });
      expect(child.exitCode).toBeNull();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('leaves the allowed Codex beside the lying copy running', () => {
    const before = events.length;
    const out = spawnSync(`${g}/bin/codex`, ['--version'], {
      uid: runner.uid,
      gid: runner.gid,
      encoding: 'utf8',
      env: env(),
    });
    expect(out.status).toBe(0);
    expect(out.stdout.trim()).toBe('codex-cli 0.111.0');
    expect(events.length).toBe(before);
  });
});
