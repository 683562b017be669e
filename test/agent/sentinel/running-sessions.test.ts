/**
 * The red team's bypasses of the sentinel (issue 12, /tmp/redteam12 B2, B8, B9, H1), with real
 * Claude Code 2.0.46 from the npm registry run by real unprivileged users on real terminals:
 *
 * - B2: a session started while Claude Code is allowed sets `process.title = 'claude'` (its
 *   command line no longer names the script); when the ban takes effect it is still stopped,
 *   with the notice and one event saying it was running;
 * - B8: `node /dev/fd/3 3< cli.js` is the process's own descriptor, not the sentinel's;
 * - B9: a copy on a tmpfs mounted in the user's own mount namespace (`unshare -Urm`) is read
 *   through /proc/<pid>/root;
 * - H1: a sentinel given a scope (the daemon's `--home`) leaves a process of a user outside it
 *   alone, blocked or not.
 *
 * Needs root (creates users, reads other users' /proc entries); skipped otherwise.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readFileSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { AgentEvent } from '../../../agent/events/event.js';
import { listPids } from '../../../agent/host/proc-fs.js';
import { type AgentSentinel, createAgentSentinel } from '../../../agent/sentinel/agent-hook.js';
import { readProcess } from '../../../agent/sentinel/proc.js';
import { sentinelScope } from '../../../agent/sentinel/sentinel.js';
import { builtinCatalog, catalogIndex } from '../../../policies/catalog/index.js';
import { cleanup, scratch } from '../inventory/fixtures.js';
import { INSTALL_TIMEOUT_MS, npmInstallGlobal } from '../inventory/real-npm.js';

const USER = 'aigtsrun';
/** A user outside the sentinel's scope. */
const OUTSIDER = 'aigtsout';
const isRoot = process.getuid?.() === 0 && process.platform === 'linux';
const NOTICE = 'aigate: Claude Code is blocked on this computer by policy running-sessions.';
const node = process.execPath;

afterAll(cleanup);

const t = scratch('aigate-sentinel-run-');
const home = t.path('home/runner');
const outsiderHome = t.path('home/outsider');
const ids = new Map<string, { uid: number; gid: number }>();
/** Whether Claude Code is blocked now (the test flips it, as a new policy would). */
let banned = false;
let sentinel: AgentSentinel | null = null;
const events: AgentEvent[] = [];
let userNamespaces: string | null = null;

function ensureUser(name: string): { uid: number; gid: number } {
  const made = spawnSync('useradd', ['--no-create-home', '--shell', '/bin/sh', name], { encoding: 'utf8' });
  if (made.status !== 0 && made.status !== 9) throw new Error(`useradd ${name}: ${made.stderr}`);
  const id = {
    uid: Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim()),
  };
  ids.set(name, id);
  return id;
}

beforeAll(async () => {
  if (!isRoot) return;
  const me = ensureUser(USER);
  const outsider = ensureUser(OUTSIDER);
  const g = `${home}/.npm-global`;
  npmInstallGlobal(g, ['@anthropic-ai/claude-code@2.0.46'], { omitOptional: true });
  const cc = `${g}/lib/node_modules/@anthropic-ai/claude-code`;
  cpSync(cc, `${home}/stuff/cc`, { recursive: true });
  mkdirSync(`${home}/q`);
  cpSync(cc, `${outsiderHome}/cc`, { recursive: true });
  execFileSync('chown', ['-R', `${me.uid}:${me.gid}`, home]);
  execFileSync('chown', ['-R', `${outsider.uid}:${outsider.gid}`, outsiderHome]);
  chmodSync(t.root, 0o755);
  chmodSync(t.path('home'), 0o755);

  // Unprivileged user namespaces may be off (sysctl, container): B9 is skipped then, with the reason.
  const probe = spawnSync('unshare', ['-Urm', 'true'], { uid: me.uid, gid: me.gid, encoding: 'utf8' });
  if (probe.status !== 0) userNamespaces = `unshare -Urm as ${USER} fails here: ${probe.stderr.trim() || probe.error}`;

  sentinel = createAgentSentinel({
    catalog: catalogIndex(builtinCatalog),
    intervalMs: 50,
    // Only this test's users: other runs on the machine may run Claude Code too.
    isBlocked: (toolId, _version, user) => banned && toolId === 'claude-code' && (user === USER || user === OUTSIDER),
    noticeFor: () => NOTICE,
    emit: async (event) => {
      events.push(event);
    },
    policyRevision: () => 3,
    // As `aigate-agent run --home <home>` gives it: the outsider is not in it.
    scope: sentinelScope([home], []),
  });
  sentinel.start();
}, INSTALL_TIMEOUT_MS * 2);

afterAll(() => sentinel?.stop());

/** Starts `command` as `user` on a pty (script), stdin held open; resolves when it exits. */
function startOnTerminal(
  user: string,
  cwd: string,
  command: string,
  log: string,
): { child: ChildProcess; exited: Promise<number | null> } {
  const { uid, gid } = ids.get(user)!;
  const child = spawn('script', ['-qfec', command, log], {
    uid,
    gid,
    cwd,
    env: { HOME: cwd, PATH: `/usr/bin:/bin:${node.replace(/\/node$/, '')}`, TERM: 'dumb' },
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited };
}

/** Waits for `exited` at most `ms`; kills the child when it did not end. */
async function endedWithin(
  run: { child: ChildProcess; exited: Promise<number | null> },
  ms: number,
): Promise<number | null | 'running'> {
  const code = await Promise.race([run.exited, new Promise<'running'>((r) => setTimeout(() => r('running'), ms))]);
  run.child.stdin?.end();
  if (code === 'running') run.child.kill('SIGKILL');
  return code;
}

/** Pids started under `root` (script, then sh, then the tool), at most four levels down. */
function descendants(root: number): number[] {
  const parents = new Map<number, number | null>();
  for (const pid of listPids()) parents.set(pid, readProcess(pid)?.ppid ?? null);
  return [...parents.keys()].filter((pid) => {
    for (let p: number | null | undefined = parents.get(pid), depth = 0; p && depth < 4; p = parents.get(p), depth++)
      if (p === root) return true;
    return false;
  });
}

/** The process under `root` whose command line is exactly `title` (the tool set its process.title), or null. */
function titled(root: number, title: string): number | null {
  return (
    descendants(root).find(
      (pid) =>
        readProcess(pid)
          ?.argv.filter((a) => a !== '')
          .join(' ') === title,
    ) ?? null
  );
}

async function until(what: string, check: () => boolean, ms = 60_000): Promise<void> {
  for (let waited = 0; !check(); waited += 100) {
    if (waited > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function oneStopEvent(before: number, running: boolean): AgentEvent {
  const mine = events.slice(before);
  expect(
    mine.map((e) => [
      e.type,
      e.toolId,
      e.version,
      e.user,
      e.details?.stopped,
      e.details?.noticeShown,
      e.details?.running,
    ]),
  ).toEqual([['blocked-launch', 'claude-code', '2.0.46', USER, true, true, running]]);
  return mine[0]!;
}

describe.skipIf(!isRoot)('sentinel bypasses (Linux, as root, real users and terminals)', () => {
  it('stops a session started while allowed, titled "claude", when the ban takes effect (B2)', async () => {
    banned = false;
    const before = events.length;
    const log = `${home}/log-running.txt`;
    const run = startOnTerminal(USER, home, `${node} ${home}/stuff/cc/cli.js mcp serve`, log);
    // Claude Code names itself: its command line no longer shows cli.js.
    await until('the session to set its title', () => titled(run.child.pid!, 'claude') !== null);
    await until('the sentinel to know the session', () => sentinel!.sentinel.stats.tools >= 1);
    expect(events.length).toBe(before);
    banned = true;
    try {
      expect(await endedWithin(run, 30_000)).not.toBe('running');
      await new Promise((r) => setTimeout(r, 200)); // the event is spooled asynchronously
      const event = oneStopEvent(before, true);
      expect(event.message).toContain('when the ban took effect');
      expect(readFileSync(log, 'utf8')).toContain(NOTICE);
    } finally {
      banned = false;
    }
  }, 90_000);

  it("stops `node /dev/fd/3 3< cli.js` (the process's own descriptor, B8)", async () => {
    banned = true;
    try {
      const before = events.length;
      const log = `${home}/log-fd.txt`;
      const run = startOnTerminal(USER, home, `exec ${node} /dev/fd/3 mcp serve 3< ${home}/stuff/cc/cli.js`, log);
      expect(await endedWithin(run, 30_000)).not.toBe('running');
      await new Promise((r) => setTimeout(r, 200));
      const event = oneStopEvent(before, false);
      expect(event.details?.file).toBe(`${home}/stuff/cc/cli.js`);
      expect(readFileSync(log, 'utf8')).toContain(NOTICE);
    } finally {
      banned = false;
    }
  }, 60_000);

  it("stops a copy on a tmpfs of the user's own mount namespace (unshare -Urm, B9)", async (ctx) => {
    if (userNamespaces) {
      console.warn(`B9 skipped: ${userNamespaces}`);
      ctx.skip();
    }
    banned = true;
    try {
      const before = events.length;
      const log = `${home}/log-ns.txt`;
      const inner = `mount -t tmpfs x ${home}/q && cp -a ${home}/stuff/cc ${home}/q/cc && exec ${node} ${home}/q/cc/cli.js mcp serve`;
      const run = startOnTerminal(USER, home, `unshare -Urm sh -c '${inner}'`, log);
      expect(await endedWithin(run, 30_000)).not.toBe('running');
      await new Promise((r) => setTimeout(r, 200));
      const event = oneStopEvent(before, false);
      // Read through the process's own root: the sentinel's view of ~/q is the empty folder.
      expect(event.details?.file).toMatch(new RegExp(`^/proc/\\d+/root${home}/q/cc/cli\\.js$`));
      expect(readFileSync(log, 'utf8')).toContain(NOTICE);
    } finally {
      banned = false;
    }
  }, 60_000);

  it('leaves alone a blocked process of a user outside its scope (H1), and reports nothing', async () => {
    banned = true;
    try {
      const before = events.length;
      const run = startOnTerminal(
        OUTSIDER,
        outsiderHome,
        `${node} ${outsiderHome}/cc/cli.js mcp serve`,
        `${outsiderHome}/log.txt`,
      );
      let session: number | null = null;
      await until(
        "the outsider's session to set its title",
        () => (session = titled(run.child.pid!, 'claude')) !== null,
      );
      // Many ticks (50 ms each) with the session running and blocked: still running.
      const ticks = sentinel!.sentinel.stats.ticks;
      await until('twenty more ticks', () => sentinel!.sentinel.stats.ticks >= ticks + 20);
      expect(readProcess(session!)?.argv[0]).toBe('claude');
      expect(events.slice(before)).toEqual([]);
      process.kill(session!, 'SIGKILL');
      expect(await endedWithin(run, 30_000)).not.toBe('running');
    } finally {
      banned = false;
    }
  }, 60_000);
});
