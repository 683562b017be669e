/**
 * Red-team (issue 12): a renamed or copied runtime defeated the sentinel, which took a process for
 * "a runtime running a script" by its executable's NAME. Here a real unprivileged user on a pty
 * (`script`) runs real Claude Code 2.0.46 `mcp serve` with node copied to `~/bin/vim`, through a
 * hard link to node named `n` (made by root, as a user can where fs.protected_hardlinks is 0), and through a
 * symlink named `vim`: each is stopped with the notice on its terminal and one event. The copied
 * node running an ordinary script is left alone, the allowed Codex still runs through it, and a
 * user's own copy of `tail` following Claude Code's package README is not taken for Claude Code.
 * Needs root (creates users, reads other users' /proc entries); skipped otherwise.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, linkSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { AgentEvent } from '../../../agent/events/event.js';
import type { AgentSentinel } from '../../../agent/sentinel/agent-hook.js';
import { ensureUser, type HostileUser, isRoot } from '../../security/hostile.js';
import { cleanup, scratch } from '../inventory/fixtures.js';
import { INSTALL_TIMEOUT_MS, npmInstallGlobal } from '../inventory/real-npm.js';
import { endedWithin, startClaudeBlockingSentinel, startOnTerminal } from './terminal.js';

const NOTICE = 'aigate: Claude Code is blocked on this computer by policy renamed-runtime-test.';
const linuxRoot = isRoot && process.platform === 'linux';

afterAll(cleanup);

const t = scratch('aigate-renamed-runtime-');
const home = t.path('home/runner');
const g = `${home}/.npm-global`;
const cli = `${g}/lib/node_modules/@anthropic-ai/claude-code/cli.js`;
const node = process.execPath;
let runner: HostileUser;
let sentinel: AgentSentinel | null = null;
const events: AgentEvent[] = [];

beforeAll(async () => {
  if (!linuxRoot) return;
  runner = ensureUser('aigt-rtime-run');
  npmInstallGlobal(g, ['@anthropic-ai/claude-code@2.0.46'], { omitOptional: true });
  npmInstallGlobal(g, ['@openai/codex@0.111.0', '@openai/codex-linux-x64@npm:@openai/codex@0.111.0-linux-x64']);
  mkdirSync(`${home}/bin`, { recursive: true });
  copyFileSync(node, `${home}/bin/vim`);
  chmodSync(`${home}/bin/vim`, 0o755);
  symlinkSync(node, `${home}/bin/vim-link`);
  copyFileSync('/usr/bin/tail', `${home}/bin/mytail`);
  chmodSync(`${home}/bin/mytail`, 0o755);
  writeFileSync(
    `${home}/ordinary.js`,
    "require('fs').writeFileSync(process.argv[2], 'started'); setTimeout(() => require('fs').writeFileSync(process.argv[2], 'finished'), 1500);\n",
  );
  execFileSync('chown', ['-R', `${runner.uid}:${runner.gid}`, t.path('home')]);
  // Root-owned with two links: what `ln /usr/bin/node ~/n` gives where fs.protected_hardlinks is 0
  // (a root-owned copy in the scratch tree, so the link is on the same filesystem).
  mkdirSync(t.path('system'), { recursive: true });
  copyFileSync(node, t.path('system/node'));
  chmodSync(t.path('system/node'), 0o755);
  linkSync(t.path('system/node'), `${home}/n`);
  chmodSync(t.root, 0o755);

  sentinel = await startClaudeBlockingSentinel(runner.name, NOTICE, events, 7);
}, INSTALL_TIMEOUT_MS * 2);

afterAll(() => sentinel?.stop());

const env = () => ({ HOME: home, PATH: `${home}/bin:/usr/bin:/bin`, TERM: 'dumb' });

/** Starts `command` as the runner on a pty, from the runner's home. */
const onTerminal = (command: string, log: string) => startOnTerminal(runner, command, log, { cwd: home, env: env() });

const ways: [string, () => string][] = [
  ['node copied to ~/bin/vim', () => `${home}/bin/vim`],
  ['a root-owned hard link to node named n', () => `${home}/n`],
  ['a symlink named vim-link to node', () => `${home}/bin/vim-link`],
];

describe.runIf(linuxRoot)('sentinel knows a runtime by what it is, not its name', () => {
  it.each(ways)(
    'stops Claude Code run by %s, with the notice on its terminal, once',
    async (name, runtime) => {
      const before = events.length;
      const log = `${home}/log-${name.replace(/\W+/g, '-')}.txt`;
      expect(await endedWithin(onTerminal(`${runtime()} ${cli} mcp serve`, log), 30_000)).not.toBe('timeout');
      await new Promise((r) => setTimeout(r, 200)); // the event is spooled asynchronously
      const mine = events.slice(before);
      expect(
        mine.map((e) => [e.type, e.toolId, e.version, e.user, e.details?.stopped, e.details?.noticeShown]),
      ).toEqual([['blocked-launch', 'claude-code', '2.0.46', runner.name, true, true]]);
      expect(JSON.stringify(mine[0]!.details)).toContain("claude-code's markers");
      expect(readFileSync(log, 'utf8')).toContain(NOTICE);
    },
    60_000,
  );

  it('leaves the renamed node running an ordinary script alone', async () => {
    const before = events.length;
    const out = `${home}/ordinary.out`;
    expect(
      await endedWithin(onTerminal(`${home}/bin/vim ${home}/ordinary.js ${out}`, `${home}/log-ordinary.txt`), 30_000),
    ).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe('finished');
    expect(events.length).toBe(before);
  }, 60_000);

  it("leaves a user's own tail reading Claude Code's README alone (a package folder is no proof for an own program)", async () => {
    const before = events.length;
    const child = spawn(`${home}/bin/mytail`, ['-f', `${g}/lib/node_modules/@anthropic-ai/claude-code/README.md`], {
      uid: runner.uid,
      gid: runner.gid,
      cwd: home,
      env: env(),
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    try {
      await new Promise((r) => setTimeout(r, 1500)); // many sentinel ticks
      expect(child.exitCode).toBeNull();
      expect(child.signalCode).toBeNull();
      expect(events.length).toBe(before);
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);

  it('leaves the allowed Codex running through the renamed node', () => {
    const before = events.length;
    const out = spawnSync(`${home}/bin/vim`, [`${g}/lib/node_modules/@openai/codex/bin/codex.js`, '--version'], {
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
