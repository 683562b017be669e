/**
 * The hostile-local-user suite's fixtures (issue 10): real unprivileged accounts (`useradd -m`,
 * idempotent), commands run as them (spawnSync with their uid/gid), root-owned canaries that the
 * agent must never change (a 0600 `shadow`, a folder standing for /etc/ssh with a root process
 * running from it), and the invariant checks every test ends with. The suite needs root: as
 * another user nothing here is meaningful, so callers skip when `isRoot` is false.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, copyFile, lchown, lstat, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { expect } from 'vitest';

import { type AgentSetup, enrollBin, once, pastBan, rootsFor } from '../agent/e2e-helpers.js';
import { agent, hashTree, openUp, type RunResult, type TestServer } from '../agent/helpers.js';
import { claudeCodeNpm, isRoot, type NpmInstall, npmTool } from '../agent/trees.js';

export { isRoot };

/** An unprivileged local account created for the suite. */
export interface HostileUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** Creates the account (with its home) unless it exists; names must start with `aigt-`. */
export function ensureUser(name: string): HostileUser {
  if (!/^aigt-[a-z0-9-]{1,20}$/.test(name)) throw new Error(`test users are named aigt-...: ${name}`);
  const id = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  if (id.status !== 0) {
    const made = spawnSync('useradd', ['-m', '-s', '/bin/sh', name], { encoding: 'utf8' });
    // Two test files may race to create the same account: "already exists" (9) is fine.
    if (made.status !== 0 && made.status !== 9) throw new Error(`useradd ${name} failed: ${made.stderr}`);
  }
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`${name} is not in /etc/passwd after useradd`);
  const [, , uid, gid, , home] = line.split(':');
  return { name, uid: Number(uid), gid: Number(gid), home: home! };
}

export interface UserRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a shell script as `user` (its uid and gid, its HOME, a plain PATH), bounded in time. */
export function asUser(user: HostileUser, script: string, options: { cwd?: string; timeoutMs?: number } = {}): UserRun {
  const result = spawnSync('/bin/sh', ['-c', script], {
    uid: user.uid,
    gid: user.gid,
    cwd: options.cwd ?? user.home,
    env: { HOME: user.home, USER: user.name, LOGNAME: user.name, PATH: `${process.env.PATH ?? '/usr/bin:/bin'}` },
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 20_000,
  });
  return { code: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

/** Like asUser, but fails the test when the script fails (the user's own actions must succeed). */
export function asUserOk(
  user: HostileUser,
  script: string,
  options: { cwd?: string; timeoutMs?: number } = {},
): UserRun {
  const result = asUser(user, script, options);
  expect(result.code, `as ${user.name}: ${script}\n${result.stdout}\n${result.stderr}`).toBe(0);
  return result;
}

/** Gives a whole tree (not following links) to `user`: installs made by the fixtures become theirs. */
export async function giveTree(dir: string, user: HostileUser): Promise<void> {
  const info = await lstat(dir);
  await lchown(dir, user.uid, user.gid);
  if (!info.isDirectory()) return;
  for (const name of await readdir(dir)) await giveTree(join(dir, name), user);
}

/** A fresh folder owned by `user` inside their home (one per case, removed by `removeTree`). */
export async function userDir(user: HostileUser, name: string): Promise<string> {
  const dir = join(user.home, name);
  await removeTree(dir);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await lchown(dir, user.uid, user.gid);
  return dir;
}

/** Removes a tree even where a quarantine locked it to mode 000. */
export async function removeTree(dir: string): Promise<void> {
  await openUp(dir);
  await rm(dir, { recursive: true, force: true });
}

/** Is the process alive (not gone, not a zombie waiting to be reaped)? */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * Root-owned things a hostile user points the agent at. Layout under `dir` (root 0755):
 * `etc/shadow` (root 0600), `etc/ssh_host_key` (root 0640), `etc/ssh/` (root 0755) holding
 * `sshd_config` and `sshd`, a copy of sleep that runs as root from that folder (cwd there too).
 */
export interface Canaries {
  dir: string;
  etc: string;
  shadow: string;
  hostKey: string;
  ssh: string;
  /** The root process running from `ssh`. */
  sshd: ChildProcess;
  /** Processes that must survive every cycle (the root one and any added by the test). */
  processes: ChildProcess[];
  before: string[];
}

const SHADOW_TEXT = 'root:$6$aigatecanary$Zm9vYmFy:19000:0:99999:7:::\n';

export async function plantCanaries(prefix = 'aigt-canary-'): Promise<Canaries> {
  const dir = await mkdtemp(join('/tmp', prefix));
  await chmod(dir, 0o755);
  const etc = join(dir, 'etc');
  const ssh = join(etc, 'ssh');
  await mkdir(ssh, { recursive: true, mode: 0o755 });
  await chmod(etc, 0o755);
  await chmod(ssh, 0o755);
  const shadow = join(etc, 'shadow');
  await writeFile(shadow, SHADOW_TEXT, { mode: 0o600 });
  await chmod(shadow, 0o600);
  const hostKey = join(etc, 'ssh_host_key');
  await writeFile(hostKey, '-----BEGIN OPENSSH PRIVATE KEY-----\ncanary\n-----END OPENSSH PRIVATE KEY-----\n', {
    mode: 0o640,
  });
  await chmod(hostKey, 0o640);
  await writeFile(join(ssh, 'sshd_config'), 'PermitRootLogin no\n', { mode: 0o644 });
  const sleepBin = ['/usr/bin/sleep', '/bin/sleep'].find((p) => existsSync(p))!;
  const sshdBin = join(ssh, 'sshd');
  await copyFile(sleepBin, sshdBin);
  await chmod(sshdBin, 0o755);
  const before = await hashTree(dir);
  // Bounded (15 min): a run killed before its cleanup leaves nothing running for long.
  const sshd = spawn(sshdBin, ['900'], { cwd: ssh, stdio: 'ignore' });
  return { dir, etc, shadow, hostKey, ssh, sshd, processes: [sshd], before };
}

/** Starts a process of `user` that has nothing to do with any AI tool (it must survive too). */
export function bystander(canaries: Canaries, user: HostileUser): ChildProcess {
  const child = spawn('sleep', ['900'], { uid: user.uid, gid: user.gid, cwd: user.home, stdio: 'ignore' });
  canaries.processes.push(child);
  return child;
}

/**
 * The invariant: every canary file and folder keeps its name, owner, mode and content (or link
 * target), and every canary process is still running.
 */
export async function expectCanariesIntact(canaries: Canaries, context: string): Promise<void> {
  let now: string[];
  try {
    now = await hashTree(canaries.dir);
  } catch (error) {
    now = [`(cannot read the canary tree: ${(error as Error).message})`];
  }
  // How each stopped one ended tells who stopped it: SIGTERM (then SIGKILL) is enforcement's
  // stop, a lone SIGKILL the sentinel or a stale kill, exit 0 its own time bound.
  const ended = (child: ChildProcess) =>
    child.signalCode ? ` (${child.signalCode})` : child.exitCode !== null ? ` (exit ${child.exitCode})` : '';
  const stopped = canaries.processes
    .filter((child) => !alive(child.pid!))
    .map((child) => `${child.pid} ${child.spawnfile} ${child.spawnargs.slice(1).join(' ')}${ended(child)}`);
  expect(
    { tree: now, stopped },
    `${context}: root-owned canaries under ${canaries.dir} changed (owner, mode, name or content) or a process outside the instance was stopped`,
  ).toEqual({ tree: canaries.before, stopped: [] });
}

/** Stops the canary processes and removes the canary tree. */
export async function removeCanaries(canaries: Canaries | undefined): Promise<void> {
  if (!canaries) return;
  // ChildProcess.kill signals only a child not yet reaped: a pid freed meanwhile (pid_max is
  // 32768 here, and the suites start thousands of processes) may belong to another suite's
  // canary by now, and a raw process.kill(pid) would stop it.
  for (const child of canaries.processes)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await removeTree(canaries.dir);
}

// ---------------------------------------------------------------------------------------------
// The real agent bin against a real server, on a tree owned by a hostile user.

/** The same ban as `pastBan`, in monitor mode: nothing may stay enforced. */
export const MONITOR_BAN = pastBan('monitor-claude-code').replace('\nspec:\n', '\nspec:\n  mode: monitor\n');

/** One enrolled agent state and one install tree owned by the user (its own "home" for the scan). */
export interface AgentCase {
  name: string;
  user: HostileUser;
  /** The user-owned folder holding this case's tree (scanned as a home). */
  root: string;
  setup: AgentSetup;
  deviceId: string;
}

/**
 * Prepares `<user home>/sec-<name>` with a Claude Code npm install under `.npm-global` (launcher
 * named `bin`, default `claude`), all owned by the user, and a root-owned agent state enrolled
 * with the server.
 */
export async function agentCase(
  server: TestServer,
  secret: string,
  user: HostileUser,
  name: string,
  options: { bin?: string; shim?: boolean } = {},
): Promise<AgentCase> {
  const root = await userDir(user, `sec-${name}`);
  const prefix = join(root, '.npm-global');
  let install: NpmInstall;
  if (!options.bin || options.bin === 'claude') install = await claudeCodeNpm(prefix);
  else {
    const made = await npmTool(
      prefix,
      '@anthropic-ai/claude-code',
      '2.1.91',
      options.bin,
      'claude-code',
      '2.1.91 (Claude Code)',
    );
    install = { prefix, bin: join(prefix, 'bin'), launcher: made.launcher, installPath: made.installPath, all: [] };
  }
  if (options.shim) {
    // A script shim (pnpm, cmd-shim style) instead of the bin link: a regular file, which a block locks.
    await rm(install.launcher);
    await writeFile(
      install.launcher,
      `#!/bin/sh\nexec node "$(dirname "$0")/../lib/node_modules/@anthropic-ai/claude-code/cli.js" "$@"\n`,
      { mode: 0o755 },
    );
    await chmod(install.launcher, 0o755);
  }
  await giveTree(root, user);
  const stateDir = await mkdtemp(join('/tmp', `aigt-state-${name}-`));
  const setup: AgentSetup = { stateDir, install, home: root, env: {} };
  const enrolled = await enrollBin(server.url, secret, stateDir);
  if (enrolled.code !== 0) throw new Error(`enroll failed: ${enrolled.stderr}`);
  const deviceId = /device ([0-9a-f-]{36})/.exec(enrolled.stdout)![1]!;
  return { name, user, root, setup, deviceId };
}

export async function removeCase(c: AgentCase | undefined): Promise<void> {
  if (!c) return;
  await removeTree(c.root);
  await removeTree(c.setup.stateDir);
}

function lastCheckin(server: TestServer, c: AgentCase): number | null {
  return server.app.aigate.stores.devices.get(c.deviceId)?.lastCheckinAt ?? null;
}

/**
 * Runs `aigate-agent once` (with `extraRoots`: more --home/--npm-prefix/--path flags) and asserts the cycle completed (exit 0, or 1 when an operation was
 * refused and reported; never a crash, a signal or a hang) and checked in with the server.
 */
export async function cycleChecksIn(
  server: TestServer,
  c: AgentCase,
  context: string,
  env: NodeJS.ProcessEnv = {},
  extraRoots: string[] = [],
): Promise<RunResult> {
  const before = lastCheckin(server, c);
  const result =
    extraRoots.length === 0
      ? await once(c.setup, env)
      : await agent(
          [
            'once',
            '--state-dir',
            c.setup.stateDir,
            ...rootsFor(c.setup),
            ...extraRoots,
            '--stop-grace',
            '2',
            '--no-desktop-notify',
            '--log-level',
            'warn',
          ],
          { ...c.setup.env, ...env },
        );
  const output = `${context}: aigate-agent once exited ${result.code ?? result.signal}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
  expect(result.signal, `${output}\n(a signal here is the helper's 60 s limit: the cycle hung)`).toBeNull();
  expect([0, 1], output).toContain(result.code);
  expect(result.stderr, output).not.toMatch(/\n\s+at .+\(.*:\d+:\d+\)/); // no stack trace of an uncaught error
  const after = lastCheckin(server, c);
  expect(
    after !== null && (before === null || after > before),
    `${context}: the cycle did not check in with the server (last check-in ${before} -> ${after})\n${output}`,
  ).toBe(true);
  return result;
}

/** `aigate-agent restore --all` on the case's state; returns the run (the caller checks the canaries). */
export function restoreAll(c: AgentCase): Promise<RunResult> {
  return agent(['restore', '--all', '--state-dir', c.setup.stateDir, '--log-level', 'warn']);
}

/**
 * One long-lived shell running as `user`, taking scripts one at a time (each in a subshell with
 * stdin from /dev/null): spawning a process from the test worker costs tens of milliseconds, so
 * the randomized test runs its thousands of small user actions through this.
 */
export class UserShell {
  private readonly child: ChildProcess;
  private out = '';
  private queue: Promise<unknown> = Promise.resolve();
  private count = 0;

  constructor(readonly user: HostileUser) {
    this.child = spawn('/bin/sh', [], {
      uid: user.uid,
      gid: user.gid,
      cwd: user.home,
      env: { HOME: user.home, USER: user.name, LOGNAME: user.name, PATH: `${process.env.PATH ?? '/usr/bin:/bin'}` },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    this.child.stdout!.on('data', (chunk: Buffer) => (this.out += chunk.toString()));
  }

  /** Runs `script` (in `cwd`); resolves with its exit code and output. Scripts run in order. */
  run(script: string, cwd: string, timeoutMs = 20_000): Promise<UserRun> {
    const job = this.queue.then(() => this.exec(script, cwd, timeoutMs));
    this.queue = job.catch(() => undefined);
    return job;
  }

  private exec(script: string, cwd: string, timeoutMs: number): Promise<UserRun> {
    const marker = `__aigt_done_${++this.count}__`;
    this.out = '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`as ${this.user.name}: no answer within ${timeoutMs} ms to ${script}`)),
        timeoutMs,
      );
      const check = () => {
        const at = this.out.indexOf(marker);
        if (at < 0) return;
        const end = this.out.indexOf('\n', at);
        if (end < 0) return;
        this.child.stdout!.off('data', check);
        clearTimeout(timer);
        resolve({ code: Number(this.out.slice(at + marker.length, end)), stdout: this.out.slice(0, at), stderr: '' });
      };
      this.child.stdout!.on('data', check);
      this.child.stdin!.write(
        `(cd '${cwd.replace(/'/g, `'\\''`)}' && {\n${script}\n}) </dev/null 2>/dev/null; echo "${marker}$?"\n`,
      );
    });
  }

  close(): void {
    this.child.stdin!.end();
    this.child.kill('SIGKILL');
  }
}
