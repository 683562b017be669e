/**
 * Enforcement against a hostile local user (issue 10), with a real unprivileged account
 * (`aigt-e1`) whose actions run under its own uid/gid: a bin folder swapped for a symlink after a
 * block, an install path symlinked to a root folder with a root process running from it, a FIFO
 * launcher, folders swapped in the middle of a stub write or a lock (at the enforcer's fault
 * points), earlier copies left runnable after block -> reinstall -> lift -> block, and a full
 * disk under the ledger. Each asserts that root-owned canaries keep owner, mode, name and
 * content, that nothing outside the instance is signalled, and that reconcile completes.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Enforcer } from '../../agent/enforce/engine.js';
import { MAX_HASHED_BYTES } from '../../agent/enforce/fs-facts.js';
import { LedgerStore } from '../../agent/enforce/ledger.js';
import { isOurStub } from '../../agent/enforce/steps.js';
import { quarantineFor } from '../../agent/enforce/stubs.js';
import { FingerprintStore } from '../../agent/sentinel/fingerprints.js';
import type { ToolInstance } from '../../policies/inventory.js';
import { banYaml } from '../support/policy.js';
import { ALLOW_ALL, banPolicy, compile, enforce, makeEnforcer, scanCycle } from './enforce-helpers.js';
import { hashTree, tempDir } from './helpers.js';
import { fakeCli, isRoot } from './trees.js';

const USER = 'aigt-e1';
let uid = -1;
let gid = -1;
let dir: Awaited<ReturnType<typeof tempDir>>;
const children: ChildProcess[] = [];
const mounts: string[] = [];

function ensureUser(): void {
  if (spawnSync('id', ['-u', USER]).status !== 0) {
    const made = spawnSync('useradd', ['--no-create-home', '--shell', '/bin/sh', USER], { encoding: 'utf8' });
    // 9: the user exists already (another suite created it meanwhile).
    if (made.status !== 0 && made.status !== 9) throw new Error(`useradd ${USER}: ${made.stderr}`);
  }
  uid = Number(spawnSync('id', ['-u', USER], { encoding: 'utf8' }).stdout.trim());
  gid = Number(spawnSync('id', ['-g', USER], { encoding: 'utf8' }).stdout.trim());
}

/** Runs a shell script as the unprivileged user; throws with its stderr when it fails. */
function asUser(home: string, script: string): string {
  const result = spawnSync('/bin/sh', ['-ec', script], {
    uid,
    gid,
    cwd: home,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home },
    timeout: 10_000,
  });
  if (result.status !== 0) throw new Error(`as ${USER}: ${script}\n${result.stderr}`);
  return result.stdout;
}

/** The user's exit code for a command (for "can it still run?"). */
function userExit(home: string, script: string): number | null {
  return spawnSync('/bin/sh', ['-c', script], {
    uid,
    gid,
    cwd: home,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home },
    timeout: 10_000,
  }).status;
}

beforeAll(async () => {
  if (!isRoot) return;
  ensureUser();
  dir = await tempDir('aigate-hostile-');
  // The user must be able to reach its home below the sandbox.
  await chmod(dir.path, 0o755);
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const mount of mounts) spawnSync('umount', ['-l', mount]);
  await dir?.remove();
});

interface Setup {
  base: string;
  home: string;
  prefix: string;
  install: string;
  bin: string;
  canary: string;
  state: string;
}

/** A sandbox: the user's home with a global npm prefix, a root-owned canary folder, a state dir. */
async function setup(name: string): Promise<Setup> {
  const base = join(dir.path, name);
  const home = join(base, 'home', USER);
  const prefix = join(home, '.npm-global');
  const install = join(prefix, 'lib', 'node_modules', '@anthropic-ai', 'claude-code');
  const canary = join(base, 'canary');
  await mkdir(join(base, 'home'), { recursive: true, mode: 0o755 });
  await chmod(base, 0o755);
  await mkdir(home, { mode: 0o755 });
  spawnSync('chown', [`${uid}:${gid}`, home]);
  await mkdir(canary, { mode: 0o755 });
  await writeFile(join(canary, 'shadow'), 'root secret\n', { mode: 0o600 });
  await writeFile(join(canary, 'claude'), 'root config\n', { mode: 0o640 });
  await chmod(join(canary, 'shadow'), 0o600);
  await chmod(join(canary, 'claude'), 0o640);
  return { base, home, prefix, install, bin: join(prefix, 'bin'), canary, state: join(base, 'state') };
}

/** The user installs Claude Code into its npm prefix (launcher: a symlink, or a script file). */
function userInstall(s: Setup, options: { launcher?: string; fileLauncher?: boolean } = {}): string {
  const launcher = join(s.bin, options.launcher ?? 'claude');
  const cli = fakeCli('claude-code', '2.1.91 (Claude Code)');
  asUser(
    s.home,
    `mkdir -p '${s.install}' '${s.bin}'
printf '%s' '{"name":"@anthropic-ai/claude-code","version":"2.1.91","bin":{"claude":"cli.js"}}' > '${s.install}/package.json'
cat > '${s.install}/cli.js' <<'EOF_CLI'
${cli}EOF_CLI
chmod 755 '${s.install}/cli.js'
${options.fileLauncher ? `cp '${s.install}/cli.js' '${launcher}'; chmod 755 '${launcher}'` : `ln -s ../lib/node_modules/@anthropic-ai/claude-code/cli.js '${launcher}'`}`,
  );
  return launcher;
}

function instanceOf(s: Setup, launchers: string[]): ToolInstance {
  return {
    toolId: 'claude-code',
    name: '@anthropic-ai/claude-code',
    version: '2.1.91',
    channel: 'npm',
    installPath: s.install,
    launchers,
    owner: USER,
    evidence: [join(s.install, 'package.json')],
  };
}

/** Owner, mode, names and content of the canary folder. */
async function canaryState(canary: string): Promise<string[]> {
  const out = [`. ${(await lstat(canary)).uid} ${((await lstat(canary)).mode & 0o7777).toString(8)}`];
  for (const name of (await readdir(canary)).sort()) {
    const info = await lstat(join(canary, name));
    out.push(
      `${name} ${info.uid}:${info.gid} ${(info.mode & 0o7777).toString(8)} ${info.isFile() ? await readFile(join(canary, name), 'utf8') : 'not a file'}`,
    );
  }
  return out;
}

const BLOCK = banPolicy({ effective: '2020-01-01' });
const MONITOR = banPolicy({ effective: '2020-01-01', mode: 'monitor' });
/** Starts `node <script> serve` and resolves once it says it is serving (its script is loaded). */
async function serving(
  script: string,
  options: { uid?: number; gid?: number; cwd?: string } = {},
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [script, 'serve'], { stdio: ['ignore', 'pipe', 'ignore'], ...options });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before serving`)));
  });
  return child;
}

const live = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe.runIf(isRoot)('a hostile local user against enforcement', () => {
  it('a bin folder swapped for a symlink to a root folder after a block: the root-only file keeps owner, mode and content through block, lift, monitor and restore --all', async () => {
    const s = await setup('symlinked-bin');
    // A launcher named like the root-only file, a regular file so its kept original gets locked.
    const launcher = userInstall(s, { launcher: 'shadow', fileLauncher: true });
    const instance = instanceOf(s, [launcher]);
    const canaryBefore = await canaryState(s.canary);
    const { enforcer, events } = await makeEnforcer(s.state, { homes: [s.home], roots: [] });

    expect(await enforce(enforcer, BLOCK, [instance])).toMatchObject({ applied: 1, failed: 0 });
    expect(await isOurStub(launcher)).toBe(true);
    const kept = await lstat(join(s.bin, '.shadow.aigate-orig'));
    expect([kept.uid, kept.mode & 0o7777]).toEqual([0, 0]);

    // The user moves the quarantine and its bin folder away and points bin at the root folder.
    asUser(
      s.home,
      `cd '${s.prefix}' && mv lib/node_modules/@anthropic-ai/.claude-code.aigate-quarantine lib/node_modules/@anthropic-ai/moved && mv bin bin.away && ln -s '${s.canary}' bin`,
    );

    for (const policy of [BLOCK, ALLOW_ALL, MONITOR]) {
      const summary = await enforce(enforcer, policy, [instance]);
      expect(summary).toBeDefined();
      expect(await canaryState(s.canary)).toEqual(canaryBefore);
    }
    await enforcer.restoreAll();
    expect(await canaryState(s.canary)).toEqual(canaryBefore);
    // What could not be put back stays recorded; nothing claims it was restored.
    expect(enforcer.applied).toHaveLength(1);
    expect(events.filter((e) => e.type === 'restored')).toEqual([]);
    expect(events.some((e) => e.type === 'suspicious-layout' && /symbolic link/.test(e.message ?? ''))).toBe(true);
    expect(enforcer.health().suspicious.length + enforcer.health().failing.length).toBeGreaterThan(0);
    // Reported once, not every cycle it lasts; health keeps showing it.
    const reported = events.length;
    await enforce(enforcer, BLOCK, [instance]);
    await enforce(enforcer, BLOCK, [instance]);
    expect(
      events.slice(reported).filter((e) => e.type === 'suspicious-layout' || e.type === 'enforcement-failed'),
    ).toEqual([]);
    expect(enforcer.health().suspicious.map((entry) => entry.path)).toContain(launcher);
  });

  it('an install path symlinked to a root folder is not renamed, and neither a root process running from it nor one running the instance is signalled', async () => {
    const s = await setup('symlinked-install');
    const sshd = join(s.base, 'etc-ssh');
    await mkdir(sshd, { mode: 0o755 });
    await writeFile(join(sshd, 'cli.js'), fakeCli('sshd', 'sshd'), { mode: 0o755 });
    const launcher = userInstall(s);
    // The user replaces the install with a symlink to the root folder.
    asUser(s.home, `rm -r '${s.install}' && ln -s '${sshd}' '${s.install}'`);
    const rootProcess = await serving(join(sshd, 'cli.js'));
    // A root process running the user's instance path: not the owner's, so never signalled.
    const rootViaLink = await serving(join(s.install, 'cli.js'));
    const sshdBefore = await hashTree(sshd);
    const { enforcer, events } = await makeEnforcer(s.state, { homes: [s.home], roots: [], graceMs: 200 });

    const summary = await enforce(enforcer, BLOCK, [
      { ...instanceOf(s, [launcher]), running: true, pids: [rootProcess.pid!] },
    ]);
    expect(summary.failed).toBe(0);
    expect(await isOurStub(launcher)).toBe(true);
    expect((await lstat(s.install)).isSymbolicLink()).toBe(true);
    expect(await hashTree(sshd)).toEqual(sshdBefore);
    expect(live(rootProcess.pid!)).toBe(true);
    expect(live(rootViaLink.pid!)).toBe(true);
    expect(events.map((e) => e.type)).not.toContain('processes-stopped');
    expect(events.find((e) => e.type === 'suspicious-layout')?.message).toMatch(/symbolic link/);
    expect(enforcer.applied[0]!.quarantine).toEqual([]);
  });

  it("stops the owner's process running the instance, but not root's", async () => {
    const s = await setup('owners');
    const launcher = userInstall(s);
    const cli = join(s.install, 'cli.js');
    const userProcess = await serving(cli, { uid, gid, cwd: s.home });
    const rootProcess = await serving(cli);
    const userExited = new Promise((resolve) =>
      userProcess.once('exit', (code, signal) => resolve(signal ?? `exit ${code}`)),
    );
    const { enforcer, events } = await makeEnforcer(s.state, { homes: [s.home], roots: [], graceMs: 500 });
    expect(await enforce(enforcer, BLOCK, [instanceOf(s, [launcher])])).toMatchObject({ applied: 1, failed: 0 });
    expect(await userExited).toBe('SIGTERM');
    expect(live(rootProcess.pid!)).toBe(true);
    const stopped = events.find((e) => e.type === 'processes-stopped');
    expect(stopped?.details?.pids).toBe(String(userProcess.pid));
  });

  it('a FIFO launcher never blocks the cycle; the other instances are still enforced', async () => {
    const s = await setup('fifo');
    const launcher = userInstall(s);
    const aider = join(s.home, '.local', 'bin', 'aider');
    const venv = join(s.home, '.local', 'pipx', 'venvs', 'aider-chat');
    asUser(
      s.home,
      `mkdir -p '${venv}' '${join(s.home, '.local', 'bin')}' && printf '#!/bin/sh\\necho aider\\n' > '${aider}' && chmod 755 '${aider}'`,
    );
    const aiderInstance: ToolInstance = {
      toolId: 'aider',
      version: '0.86.1',
      channel: 'pipx',
      installPath: venv,
      launchers: [aider],
      owner: USER,
      evidence: [],
    };
    const policy = banPolicy({ effective: '2020-01-01', tools: ['claude-code', 'aider'] });
    const { enforcer, events } = await makeEnforcer(s.state, { homes: [s.home], roots: [] });

    // A FIFO in place of the launcher before the first block, and in place of the stub after it.
    asUser(s.home, `rm '${launcher}' && mkfifo '${launcher}'`);
    const first = await enforce(enforcer, policy, [instanceOf(s, [launcher]), aiderInstance]);
    expect(first.failed).toBe(0);
    expect(await isOurStub(aider)).toBe(true);
    expect(first.notes.join(' ')).toMatch(/FIFO/);
    expect(events.some((e) => e.type === 'suspicious-layout')).toBe(true);

    asUser(s.home, `rm '${launcher}' && ln -s ../lib/node_modules/@anthropic-ai/claude-code/cli.js '${launcher}'`);
    await enforce(enforcer, policy, [instanceOf(s, [launcher]), aiderInstance]);
    expect(await isOurStub(launcher)).toBe(true);
    asUser(s.home, `rm '${launcher}' && mkfifo '${launcher}' && rm '${aider}'`);
    const again = await enforce(enforcer, policy, [instanceOf(s, [launcher]), aiderInstance]);
    expect(again.tampered).toBe(2);
    // The aider stub was put back in the same cycle.
    expect(await isOurStub(aider)).toBe(true);
    expect((await lstat(launcher)).isFIFO()).toBe(true);
  });

  it('a bin folder swapped for a symlink between writing the stub and moving it into place changes nothing outside the checked folder', async () => {
    const s = await setup('race-stub');
    const launcher = userInstall(s);
    const canaryBefore = await canaryState(s.canary);
    let swapped = false;
    const fault = (point: string) => {
      if (point !== 'apply:write-stub:staged' || swapped) return;
      swapped = true;
      asUser(s.home, `cd '${s.prefix}' && mv bin bin.real && ln -s '${s.canary}' bin`);
    };
    const { enforcer } = await makeEnforcer(s.state, { homes: [s.home], roots: [], fault });
    const summary = await enforce(enforcer, BLOCK, [instanceOf(s, [launcher])]);
    expect(swapped).toBe(true);
    expect(await canaryState(s.canary)).toEqual(canaryBefore);
    // The rename into place runs as the user and finds nothing through the swapped path; the
    // stub is then moved relative to the checked folder (now bin.real), never into the canary.
    expect(summary.failed).toBe(0);
    const real = join(s.prefix, 'bin.real');
    expect(await isOurStub(join(real, 'claude'))).toBe(true);
    expect((await readdir(real)).sort()).toEqual(['.claude.aigate-orig', 'claude']);
    // Later cycles see the symlinked bin and leave it alone.
    await enforce(enforcer, BLOCK, [instanceOf(s, [launcher])]);
    await enforce(enforcer, ALLOW_ALL, [instanceOf(s, [launcher])]);
    expect(await canaryState(s.canary)).toEqual(canaryBefore);
  });

  it('a kept original swapped for a symlink between the check and the lock is not locked through the link', async () => {
    const s = await setup('race-lock');
    const launcher = userInstall(s, { fileLauncher: true });
    const canaryBefore = await canaryState(s.canary);
    let swapped = false;
    const fault = (point: string) => {
      if (point !== 'apply:lock:staged' || swapped) return;
      swapped = true;
      asUser(
        s.home,
        `cd '${s.bin}' && mv .claude.aigate-orig kept-away && ln -s '${join(s.canary, 'claude')}' .claude.aigate-orig`,
      );
    };
    const { enforcer, events } = await makeEnforcer(s.state, { homes: [s.home], roots: [], fault });
    const summary = await enforce(enforcer, BLOCK, [instanceOf(s, [launcher])]);
    expect(swapped).toBe(true);
    expect(summary.failed).toBe(1);
    expect(events.map((e) => e.type)).toContain('enforcement-failed');
    expect(await canaryState(s.canary)).toEqual(canaryBefore);
    // The next cycle still cannot be turned against the canary.
    await enforce(enforcer, BLOCK, [instanceOf(s, [launcher])]);
    await enforce(enforcer, ALLOW_ALL, [instanceOf(s, [launcher])]);
    expect(await canaryState(s.canary)).toEqual(canaryBefore);
  });

  it('a kept original hard-linked elsewhere between its set-aside and its lock: the ban still holds (install quarantined, launcher stubbed), the linked file is left unlocked, and the lift puts everything back', async () => {
    const s = await setup('race-link');
    const launcher = userInstall(s, { fileLauncher: true });
    const original = await readFile(launcher, 'utf8');
    const installBefore = await hashTree(s.install);
    let linked = false;
    const fault = (point: string) => {
      if (point !== 'apply:lock:before' || linked) return;
      linked = true;
      asUser(s.home, `ln '${join(s.bin, '.claude.aigate-orig')}' '${join(s.home, 'my-claude')}'`);
    };
    const { enforcer, events } = await makeEnforcer(s.state, { homes: [s.home], roots: [], fault });
    const instance = instanceOf(s, [launcher]);
    const summary = await enforce(enforcer, BLOCK, [instance]);
    expect(linked).toBe(true);
    expect(summary).toMatchObject({ applied: 1, failed: 0 });
    expect(events.map((e) => e.type)).toContain('suspicious-layout');
    expect(events.map((e) => e.type)).not.toContain('enforcement-failed');
    // The install folder is quarantined and locked, the launcher is a stub: the ban holds.
    const quarantined = join(s.prefix, 'lib', 'node_modules', '@anthropic-ai', '.claude-code.aigate-quarantine');
    const locked = await lstat(quarantined);
    expect([locked.uid, locked.mode & 0o7777]).toEqual([0, 0]);
    expect(await isOurStub(launcher)).toBe(true);
    expect(userExit(s.home, `node '${join(quarantined, 'cli.js')}' --version`)).not.toBe(0);
    // The linked file is the user's own and stays as it was (not root's, not mode 000).
    const kept = await lstat(join(s.home, 'my-claude'));
    expect([kept.uid, kept.mode & 0o777, kept.nlink]).toEqual([uid, 0o755, 2]);
    const onDisk = new LedgerStore(enforcer.store.file);
    await onDisk.load();
    expect(Object.values(onDisk.ledger.applied)[0]!.launchers[0]).toMatchObject({ locked: false });
    // The next cycle does not try the lock again while the other name is there.
    const again = await enforce(enforcer, BLOCK, [instance]);
    expect(again).toMatchObject({ applied: 0, failed: 0 });
    // The lift puts the launcher and the install back as they were.
    expect(await enforce(enforcer, ALLOW_ALL, [instance])).toMatchObject({ restored: 1, failed: 0 });
    expect(await readFile(launcher, 'utf8')).toBe(original);
    expect(await hashTree(s.install)).toEqual(installBefore);
    expect(userExit(s.home, `'${launcher}' --version`)).toBe(0);
  });

  it('a quarantine moved away and replaced by a link to a root folder: left alone and reported, nothing done through the link; put back, the lift restores it', async () => {
    const s = await setup('quarantine-link');
    const launcher = userInstall(s);
    const installBefore = await hashTree(s.install);
    const canaryBefore = await canaryState(s.canary);
    const { enforcer, events } = await makeEnforcer(s.state, { homes: [s.home], roots: [] });
    const instance = instanceOf(s, [launcher]);
    expect(await enforce(enforcer, BLOCK, [instance])).toMatchObject({ applied: 1, failed: 0 });
    const scope = join(s.prefix, 'lib', 'node_modules', '@anthropic-ai');
    asUser(
      s.home,
      `cd '${scope}' && mv .claude-code.aigate-quarantine .moved && ln -s '${s.canary}' .claude-code.aigate-quarantine`,
    );
    for (const policy of [BLOCK, BLOCK, ALLOW_ALL]) {
      expect(await enforce(enforcer, policy, [instance])).toMatchObject({ failed: 0 });
      expect(await canaryState(s.canary)).toEqual(canaryBefore);
    }
    expect(events.filter((e) => e.type === 'suspicious-layout').map((e) => e.details?.reason)).toContain(
      'the quarantined folder was replaced by a symbolic link',
    );
    expect(events.map((e) => e.type)).not.toContain('enforcement-failed');
    // The user puts the quarantine back: the lift gives the install back as it was.
    asUser(s.home, `cd '${scope}' && rm .claude-code.aigate-quarantine && mv .moved .claude-code.aigate-quarantine`);
    expect(await enforce(enforcer, ALLOW_ALL, [instance])).toMatchObject({ restored: 1, failed: 0 });
    expect(await hashTree(s.install)).toEqual(installBefore);
  });

  it('a locked quarantine whose folder the user moved (or swapped for an instant) stays on record, left alone and reported; the ban is not lifted, and once the folder is back the lift restores it', async () => {
    // Red-team round 12: swapping the quarantine's parent folder during observe made both names
    // look missing; the record forgot the quarantine, the next cycle released the instance
    // ("restored" while banned) and the locked folder was never given back.
    const s = await setup('quarantine-parent-moved');
    const launcher = userInstall(s);
    const installBefore = await hashTree(s.install);
    const { enforcer, events } = await makeEnforcer(s.state, { homes: [s.home], roots: [] });
    const instance = instanceOf(s, [launcher]);
    expect(await enforce(enforcer, BLOCK, [instance])).toMatchObject({ applied: 1, failed: 0 });
    const modules = join(s.prefix, 'lib', 'node_modules');
    asUser(s.home, `cd '${modules}' && mv @anthropic-ai moved && mkdir @anthropic-ai`);
    for (let i = 0; i < 2; i++) {
      expect(await enforce(enforcer, BLOCK, [instance])).toMatchObject({ failed: 0, restored: 0 });
      expect(enforcer.applied).toHaveLength(1);
      expect(enforcer.applied[0]!.quarantine).toHaveLength(1);
    }
    expect(await isOurStub(launcher)).toBe(true);
    expect(events.map((e) => e.type)).not.toContain('restored');
    expect(events.filter((e) => e.type === 'suspicious-layout').map((e) => e.details?.reason)).toContain(
      'the locked quarantine is not where the agent left it',
    );
    asUser(s.home, `cd '${modules}' && rmdir @anthropic-ai && mv moved @anthropic-ai`);
    expect(await enforce(enforcer, ALLOW_ALL, [instance])).toMatchObject({ restored: 1, failed: 0 });
    expect(await hashTree(s.install)).toEqual(installBefore);
    expect(userExit(s.home, `'${launcher}' --version`)).toBe(0);
  });

  it('the folder and its launcher unpacked again under a block (npx --offline does so), then the lift: everything is the user’s again, nothing is left root-owned, the restore says what stays beside', async () => {
    // Failing inputs re-run: after `npx --offline` unpacked the copy again (a new folder, the same
    // .bin link in place of the stub), the lift failed on the launcher every cycle and left both
    // quarantines root-owned with mode 000 in the user's npx folder.
    const s = await setup('unpacked-again');
    const launcher = userInstall(s);
    const { enforcer, events } = await makeEnforcer(s.state, { homes: [s.home], roots: [] });
    const instance = instanceOf(s, [launcher]);
    expect(await enforce(enforcer, BLOCK, [instance])).toMatchObject({ applied: 1, failed: 0 });
    asUser(s.home, `rm '${launcher}'`);
    userInstall(s);
    const scope = join(s.prefix, 'lib', 'node_modules', '@anthropic-ai');
    expect(await enforce(enforcer, ALLOW_ALL, [instance])).toMatchObject({ restored: 1, failed: 0 });
    expect(enforcer.health().failing).toEqual([]);
    expect(userExit(s.home, `'${launcher}' --version`)).toBe(0);
    for (const name of [...(await readdir(scope)), ...(await readdir(s.bin))]) {
      const info = await lstat(join(name.startsWith('.claude.') || name === 'claude' ? s.bin : scope, name));
      expect([name, info.uid]).toEqual([name, uid]);
    }
    // The user may remove what stayed beside (their own copies now).
    asUser(s.home, `rm -rf '${scope}'/.claude-code.aigate-quarantine* '${s.bin}'/.claude.aigate-orig*`);
    const restored = events.filter((e) => e.type === 'restored').at(-1);
    expect(restored?.details).toMatchObject({ verified: false });
    expect(restored?.message).toMatch(/stays beside|kept/);
  });

  it('a launcher over the digest limit is still stubbed and its install quarantined, and the lift puts it back (the same file, by device and inode)', async () => {
    // Red-team round 13: with no digest for a 1.1 GB sparse launcher, moving it aside failed its
    // check and the whole ban was undone every cycle.
    const s = await setup('huge-launcher');
    const launcher = userInstall(s, { fileLauncher: true });
    asUser(s.home, `truncate -s ${MAX_HASHED_BYTES + 1} '${launcher}'`);
    const before = await lstat(launcher);
    const { enforcer } = await makeEnforcer(s.state, { homes: [s.home], roots: [] });
    const instance = instanceOf(s, [launcher]);
    expect(await enforce(enforcer, BLOCK, [instance])).toMatchObject({ applied: 1, failed: 0 });
    expect(await isOurStub(launcher)).toBe(true);
    expect(userExit(s.home, `'${launcher}' --version`)).toBe(126);
    const lifted = await enforce(enforcer, ALLOW_ALL, [instance]);
    expect(lifted, JSON.stringify(enforcer.health())).toMatchObject({ restored: 1, failed: 0 });
    const after = await lstat(launcher);
    expect([after.ino, after.size, after.mode, after.uid]).toEqual([before.ino, before.size, before.mode, before.uid]);
  });

  it('an earlier copy kept after a lift and hard-linked elsewhere by its user does not stop the next ban', async () => {
    // Red-team round 13: its lock failed for the other name and undid the whole apply.
    const s = await setup('kept-linked');
    const launcher = userInstall(s, { fileLauncher: true });
    const { enforcer, events } = await makeEnforcer(s.state, { homes: [s.home], roots: [] });
    const instance = instanceOf(s, [launcher]);
    await enforce(enforcer, BLOCK, [instance]);
    // The user puts a script of their own in the stub's place; the lift keeps the original aside.
    asUser(
      s.home,
      `printf '#!/bin/sh\\necho mine\\n' > '${launcher}.new' && chmod 755 '${launcher}.new' && mv '${launcher}.new' '${launcher}'`,
    );
    await enforce(enforcer, BLOCK, [instance]);
    expect(await enforce(enforcer, ALLOW_ALL, [instance])).toMatchObject({ failed: 0 });
    const kept = (await readdir(s.bin)).filter((name) => name.includes('aigate-orig'));
    expect(kept).toHaveLength(1);
    asUser(s.home, `ln '${join(s.bin, kept[0]!)}' '${join(s.home, 'hl')}'`);
    const summary = await enforce(enforcer, BLOCK, [instance]);
    expect(summary).toMatchObject({ failed: 0 });
    expect(events.map((e) => e.type)).not.toContain('enforcement-failed');
    const quarantined = await lstat(
      join(s.prefix, 'lib', 'node_modules', '@anthropic-ai', '.claude-code.aigate-quarantine'),
    );
    expect([quarantined.uid, quarantined.mode & 0o7777]).toEqual([0, 0]);
    const linked = await lstat(join(s.home, 'hl'));
    expect([linked.uid, linked.nlink]).toEqual([uid, 2]);
  });

  it('the quarantine’s folder moved away and the tool installed again: the new install is quarantined, the old copy stays on record, and the lift gives back what it can', async () => {
    // Red-team round 13: the new install was taken for the quarantine moved back, its rename was
    // refused (another folder), and the whole ban was undone every cycle.
    const s = await setup('moved-and-reinstalled');
    const launcher = userInstall(s);
    const { enforcer, events } = await makeEnforcer(s.state, { homes: [s.home], roots: [] });
    const instance = instanceOf(s, [launcher]);
    expect(await enforce(enforcer, BLOCK, [instance])).toMatchObject({ applied: 1, failed: 0 });
    const modules = join(s.prefix, 'lib', 'node_modules');
    asUser(s.home, `mv '${modules}/@anthropic-ai' '${s.home}/moved-anth' && rm -f '${launcher}'`);
    userInstall(s);
    expect(userExit(s.home, `'${launcher}' --version`)).toBe(0);
    for (let i = 0; i < 2; i++) expect(await enforce(enforcer, BLOCK, [instance])).toMatchObject({ failed: 0 });
    expect(events.map((e) => e.type)).not.toContain('enforcement-failed');
    expect(userExit(s.home, `'${launcher}' --version`)).toBe(126);
    const scope = await readdir(join(modules, '@anthropic-ai'));
    expect(scope).toEqual(['.claude-code.aigate-quarantine-2']);
    const fresh = await lstat(join(modules, '@anthropic-ai', scope[0]!));
    expect([fresh.uid, fresh.mode & 0o7777]).toEqual([0, 0]);
    // The lift gives the new install back; the old copy, still locked where the user moved it,
    // stays on record.
    expect(await enforce(enforcer, ALLOW_ALL, [instance])).toMatchObject({ failed: 0 });
    expect(userExit(s.home, `'${launcher}' --version`)).toBe(0);
    expect(enforcer.health().failing).toEqual([]);
  });

  it('the quarantine renamed back to its place and a folder of the user’s put at its name: the quarantine is known by device and inode, set aside again under a free name, and the lift gives the install back as the user’s', async () => {
    // Red-team round 15: the user's new folder at the quarantine's name was taken for the
    // quarantine, the locked folder back at its place for a reinstall (recorded with root as its
    // owner), and the lift left the install root-owned with mode 000.
    const s = await setup('renamed-back');
    const launcher = userInstall(s);
    const { enforcer } = await makeEnforcer(s.state, { homes: [s.home], roots: [] });
    const instance = instanceOf(s, [launcher]);
    expect(await enforce(enforcer, BLOCK, [instance])).toMatchObject({ applied: 1, failed: 0 });
    const scope = join(s.prefix, 'lib', 'node_modules', '@anthropic-ai');
    asUser(
      s.home,
      `cd '${scope}' && mv .claude-code.aigate-quarantine claude-code && mkdir .claude-code.aigate-quarantine`,
    );
    expect(await enforce(enforcer, BLOCK, [instance])).toMatchObject({ failed: 0 });
    const aside = await lstat(join(scope, '.claude-code.aigate-quarantine-2'));
    expect([aside.uid, aside.mode & 0o7777]).toEqual([0, 0]);
    const users = await lstat(join(scope, '.claude-code.aigate-quarantine'));
    expect([users.uid, users.isDirectory()]).toEqual([uid, true]);
    expect(await enforce(enforcer, ALLOW_ALL, [instance])).toMatchObject({ failed: 0 });
    const back = await lstat(join(scope, 'claude-code'));
    expect([back.uid, back.mode & 0o7777]).toEqual([uid, 0o755]);
    expect(userExit(s.home, `'${launcher}' --version`)).toBe(0);
  });

  it('block -> reinstall over the quarantine -> lift -> block: every earlier copy is locked again, nothing runnable is left', async () => {
    const s = await setup('copies');
    const launcher = userInstall(s);
    const { enforcer } = await makeEnforcer(s.state, { homes: [s.home], roots: [] });
    const instance = instanceOf(s, [launcher]);
    const parent = join(s.prefix, 'lib', 'node_modules', '@anthropic-ai');
    await enforce(enforcer, BLOCK, [instance]);
    // The user reinstalls over the quarantine (a new folder and a new bin link).
    asUser(s.home, `rm -f '${launcher}'`);
    userInstall(s);
    await enforce(enforcer, BLOCK, [instance]);
    await enforce(enforcer, ALLOW_ALL, [instance]);
    expect(userExit(s.home, `node '${launcher}' --version`)).toBe(0);
    await enforce(enforcer, BLOCK, [instance]);

    const copies = (await readdir(parent)).filter((name) => name.includes('aigate-quarantine'));
    expect(copies.length).toBeGreaterThanOrEqual(2);
    for (const name of copies) {
      const info = await lstat(join(parent, name));
      expect([name, info.uid, info.mode & 0o7777]).toEqual([name, 0, 0]);
      expect(userExit(s.home, `node '${join(parent, name, 'cli.js')}' --version`)).not.toBe(0);
    }
    expect(userExit(s.home, `'${launcher}' --version`)).toBe(126);
  });

  it('a FIFO in place of the stub, then removed: a new launcher is stubbed again, and on lift every original the agent set aside comes back to its free place (verified on disk)', async () => {
    const s = await setup('fifo-stub');
    const launcher = userInstall(s);
    const before = await hashTree(s.home);
    const { enforcer, events } = await makeEnforcer(s.state, { homes: [s.home], roots: [] });
    const instance = instanceOf(s, [launcher]);
    const kept = join(s.bin, '.claude.aigate-orig');
    await enforce(enforcer, BLOCK, [instance]);
    expect(await isOurStub(launcher)).toBe(true);

    asUser(s.home, `rm '${launcher}' && mkfifo '${launcher}'`);
    expect(await enforce(enforcer, BLOCK, [instance])).toMatchObject({ tampered: 1, failed: 0 });
    expect(events.find((e) => e.type === 'tamper')?.message).toMatch(/replaced \(a reinstall\?\)/);
    expect(events.some((e) => e.type === 'suspicious-layout' && e.details?.path === launcher)).toBe(true);
    expect((await lstat(kept)).isSymbolicLink()).toBe(true);

    // The FIFO goes: the launcher is simply missing while blocked.
    asUser(s.home, `rm '${launcher}'`);
    expect(await enforce(enforcer, BLOCK, [instance])).toMatchObject({ failed: 0 });
    expect(await lstat(launcher).catch(() => null)).toBeNull();

    // Lifted: the original the agent kept is put back at its (free) launcher path, and runs.
    expect(await enforce(enforcer, ALLOW_ALL, [instance])).toMatchObject({ failed: 0 });
    expect((await lstat(launcher)).isSymbolicLink()).toBe(true);
    expect(await lstat(kept).catch(() => null)).toBeNull();
    expect(userExit(s.home, `'${launcher}' --version`)).toBe(0);
    const restored = events.filter((e) => e.type === 'restored');
    expect(restored).toHaveLength(1);
    expect(restored[0]!.details).toMatchObject({ verified: true, launchers: 1 });
    expect(restored[0]!.message).not.toMatch(/kept at/);
    expect(await hashTree(s.home)).toEqual(before);
    expect(enforcer.store.ledger.kept ?? {}).toEqual({});
  });

  it('a launcher installed again while its kept original is set aside is stubbed again; on lift the original whose place is taken stays and the restore says so', async () => {
    const s = await setup('fifo-stub-reinstall');
    const launcher = userInstall(s);
    const { enforcer, events } = await makeEnforcer(s.state, { homes: [s.home], roots: [] });
    const instance = instanceOf(s, [launcher]);
    const kept = join(s.bin, '.claude.aigate-orig');
    await enforce(enforcer, BLOCK, [instance]);
    asUser(s.home, `rm '${launcher}' && mkfifo '${launcher}'`);
    await enforce(enforcer, BLOCK, [instance]);
    asUser(s.home, `rm '${launcher}'`);
    await enforce(enforcer, BLOCK, [instance]);
    // The user installs a launcher again (a file this time): it is blocked like the first.
    asUser(s.home, `printf '#!/bin/sh\\necho mine\\n' > '${launcher}' && chmod 755 '${launcher}'`);
    expect(await enforce(enforcer, BLOCK, [instance])).toMatchObject({ failed: 0 });
    expect(await isOurStub(launcher)).toBe(true);
    expect(userExit(s.home, `'${launcher}' --version`)).toBe(126);

    await enforce(enforcer, ALLOW_ALL, [instance]);
    // The newer launcher is back; the earlier original cannot take its place and stays, usable.
    expect(asUser(s.home, `'${launcher}'`)).toBe('mine\n');
    expect((await lstat(kept)).isSymbolicLink()).toBe(true);
    const restored = events.filter((e) => e.type === 'restored');
    expect(restored).toHaveLength(1);
    expect(restored[0]!.details).toMatchObject({ verified: false, keptCopies: 1 });
    expect(restored[0]!.message).toContain(`${kept} kept: ${launcher} holds another file`);
  });

  it('a locked quarantine its user renames in its folder is followed there (by device and inode): on lift it goes back to its place, and the earlier copy stays beside it, the user’s again', async () => {
    // Red-team round 14: a renamed quarantine was forgotten (and scanned as a new instance), and
    // the lift left the user's install root-owned with mode 000 for good.
    const s = await setup('copies-free');
    const launcher = userInstall(s);
    const { enforcer, events } = await makeEnforcer(s.state, { homes: [s.home], roots: [] });
    const instance = instanceOf(s, [launcher]);
    const parent = join(s.prefix, 'lib', 'node_modules', '@anthropic-ai');
    await enforce(enforcer, BLOCK, [instance]);
    asUser(s.home, `rm -f '${launcher}'`);
    userInstall(s);
    await enforce(enforcer, BLOCK, [instance]);
    expect((await readdir(parent)).sort()).toEqual([
      '.claude-code.aigate-quarantine',
      '.claude-code.aigate-quarantine-2',
    ]);
    // The user renames the newer (locked) copy where it stands.
    asUser(s.home, `mv '${join(parent, '.claude-code.aigate-quarantine-2')}' '${join(parent, 'newer-copy')}'`);
    // The scan finds it under its new name too, before the record follows it: a folder locked as
    // enforcement locks is never taken for a new install (nor recorded with root as its owner).
    const renamed = { ...instance, installPath: join(parent, 'newer-copy') };
    expect(await enforce(enforcer, BLOCK, [instance, renamed])).toMatchObject({ failed: 0 });
    expect(await readdir(parent)).not.toContain('.newer-copy.aigate-quarantine');
    expect(enforcer.isArtefact(renamed)).toBe(true);
    expect(enforcer.applied[0]!.quarantine.map((entry) => entry.to)).toEqual([join(parent, 'newer-copy')]);
    expect(await enforce(enforcer, ALLOW_ALL, [instance])).toMatchObject({ failed: 0 });
    expect((await readdir(parent)).sort()).toEqual(['.claude-code.aigate-quarantine', 'claude-code']);
    for (const name of ['claude-code', '.claude-code.aigate-quarantine']) {
      const back = await lstat(join(parent, name));
      expect([name, back.uid, back.mode & 0o7777]).toEqual([name, uid, 0o755]);
    }
    expect(userExit(s.home, `node '${join(parent, 'claude-code', 'cli.js')}' --version`)).toBe(0);
    const restored = events.filter((e) => e.type === 'restored').at(-1);
    expect(restored?.details, restored?.message).toMatchObject({ quarantine: 1, keptCopies: 1 });
  });

  it('a full disk under the ledger mid-operation: the next reconcile finishes it, the record matches the disk, and the lift is verified on disk', async () => {
    const s = await setup('enospc');
    const launcher = userInstall(s);
    const fs = join(s.base, 'state-fs');
    await mkdir(fs);
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', fs]).status).toBe(0);
    mounts.push(fs);
    const state = join(fs, 'state');
    const filler = join(fs, 'filler');
    const fill = () => {
      const chunk = Buffer.alloc(4096, 1);
      const fd = openSync(filler, 'a');
      try {
        for (;;) writeSync(fd, chunk);
      } catch {
        // ENOSPC: full
      } finally {
        closeSync(fd);
      }
    };
    let filled = false;
    const fault = (point: string) => {
      if (point === 'apply:write-stub:after' && !filled) {
        filled = true;
        fill();
      }
    };
    const before = await hashTree(s.home);
    const { enforcer, events } = await makeEnforcer(state, { homes: [s.home], roots: [], fault });
    const instance = instanceOf(s, [launcher]);

    const first = await enforce(enforcer, BLOCK, [instance]);
    expect(filled).toBe(true);
    expect(first.failed).toBe(1);
    expect(enforcer.store.ledger.journal).not.toBeNull();
    const still = await enforce(enforcer, BLOCK, [instance]);
    expect(still.failed).toBe(1);
    expect(enforcer.health().failing.map((f) => f.key)).toContain('journal');
    // A restart while the disk is still full: the agent starts, the operation stays in flight.
    const restarted = await makeEnforcer(state, { homes: [s.home], roots: [] });
    expect(restarted.enforcer.store.ledger.journal).not.toBeNull();
    expect(await restarted.enforcer.recover()).toBe(false);
    expect(restarted.enforcer.health().failing.map((f) => f.key)).toEqual(['journal']);

    await rm(filler);
    await enforce(enforcer, BLOCK, [instance]);
    expect(enforcer.store.ledger.journal).toBeNull();
    expect(enforcer.health().failing).toEqual([]);
    const onDisk = new LedgerStore(enforcer.store.file);
    await onDisk.load();
    const record = Object.values(onDisk.ledger.applied)[0]!;
    expect(record.level).toBe('block');
    expect(record.launchers).toHaveLength(1);
    expect(record.quarantine).toHaveLength(1);
    expect(await isOurStub(launcher)).toBe(true);

    await enforce(enforcer, ALLOW_ALL, [instance]);
    const restored = events.filter((e) => e.type === 'restored');
    expect(restored).toHaveLength(1);
    expect(restored[0]!.details?.verified).toBe(true);
    expect(await hashTree(s.home)).toEqual(before);
  });
});

describe.runIf(isRoot)(
  'what enforcement set aside, followed through the user moving things (red-team round 16)',
  () => {
    it('an earlier copy given back on a lift is blocked again as a tool of its own once its install is gone', async () => {
      const s = await setup('kept-orphaned');
      const launcher = userInstall(s);
      const scope = join(s.prefix, 'lib', 'node_modules', '@anthropic-ai');
      const { enforcer } = await makeEnforcer(s.state, { homes: [s.home], roots: [] });
      expect((await scanCycle(enforcer, BLOCK, [s.home])).summary).toMatchObject({ applied: 1, failed: 0 });
      // A reinstall under the ban: the first quarantine becomes an earlier copy.
      asUser(s.home, `rm -f '${launcher}'`);
      userInstall(s);
      expect((await scanCycle(enforcer, BLOCK, [s.home])).summary).toMatchObject({ failed: 0 });
      expect((await scanCycle(enforcer, ALLOW_ALL, [s.home])).summary).toMatchObject({ restored: 1, failed: 0 });
      const copy = join(scope, '.claude-code.aigate-quarantine');
      expect(userExit(s.home, `node '${copy}/cli.js' --version`)).toBe(0);
      expect(Object.keys(enforcer.store.ledger.kept ?? {})).toHaveLength(1);

      // The user removes the install; the copy kept beside it is now just a copy of Claude Code.
      asUser(s.home, `rm -rf '${s.install}' '${launcher}'`);
      const banned = await scanCycle(enforcer, BLOCK, [s.home]);
      expect(banned.scanned.map((i) => i.installPath)).toContain(copy);
      expect(banned.summary).toMatchObject({ applied: 1, failed: 0 });
      expect(userExit(s.home, `node '${copy}/cli.js' --version`)).not.toBe(0);
      expect((await scanCycle(enforcer, BLOCK, [s.home])).summary).toMatchObject({
        applied: 0,
        failed: 0,
        tampered: 0,
      });
      expect(userExit(s.home, `node '${copy}/cli.js' --version`)).not.toBe(0);

      expect((await scanCycle(enforcer, ALLOW_ALL, [s.home])).summary).toMatchObject({ restored: 1, failed: 0 });
      const back = await lstat(copy);
      expect([back.uid, back.mode & 0o7777]).toEqual([uid, 0o755]);
      expect(userExit(s.home, `node '${copy}/cli.js' --version`)).toBe(0);
    });

    it('names filled in advance beside the install and the launcher do not stop the ban: the 100th gets a name no one can guess', async () => {
      const s = await setup('names-filled');
      const launcher = userInstall(s);
      const scope = join(s.prefix, 'lib', 'node_modules', '@anthropic-ai');
      const before = await hashTree(s.home);
      asUser(
        s.home,
        `cd '${scope}' && touch .claude-code.aigate-quarantine && for i in $(seq 2 99); do touch .claude-code.aigate-quarantine-$i; done
cd '${s.bin}' && touch .claude.aigate-orig && for i in $(seq 2 99); do touch .claude.aigate-orig-$i; done`,
      );
      const filled = await hashTree(s.home);
      const { enforcer } = await makeEnforcer(s.state, { homes: [s.home], roots: [] });
      expect((await scanCycle(enforcer, BLOCK, [s.home])).summary).toMatchObject({ applied: 1, failed: 0 });
      expect(await isOurStub(launcher)).toBe(true);
      const record = enforcer.applied[0]!;
      expect(record.quarantine[0]!.to).toMatch(/\.claude-code\.aigate-quarantine-\d{3,}$/);
      expect(record.launchers[0]!.sibling).toMatch(/\.claude\.aigate-orig-\d{3,}$/);
      expect(userExit(s.home, `'${launcher}' --version`)).toBe(126);
      expect(userExit(s.home, `node '${record.quarantine[0]!.to}/cli.js' --version`)).not.toBe(0);
      expect((await scanCycle(enforcer, ALLOW_ALL, [s.home])).summary).toMatchObject({ restored: 1, failed: 0 });
      expect(await hashTree(s.home)).toEqual(filled);
      expect(filled).not.toEqual(before);
    });

    it('a link put at the name of the quarantine and the tool installed again: the reinstall is quarantined, the old copy stays on record', async () => {
      const s = await setup('link-at-quarantine');
      const launcher = userInstall(s);
      const scope = join(s.prefix, 'lib', 'node_modules', '@anthropic-ai');
      const { enforcer, events } = await makeEnforcer(s.state, { homes: [s.home], roots: [] });
      expect((await scanCycle(enforcer, BLOCK, [s.home])).summary).toMatchObject({ applied: 1, failed: 0 });
      asUser(
        s.home,
        `cd '${scope}' && mv .claude-code.aigate-quarantine hidden && ln -s hidden .claude-code.aigate-quarantine && rm -f '${launcher}'`,
      );
      userInstall(s);
      expect(userExit(s.home, `node '${s.install}/cli.js' --version`)).toBe(0);
      expect((await scanCycle(enforcer, BLOCK, [s.home])).summary).toMatchObject({ failed: 0 });
      expect(userExit(s.home, `node '${s.install}/cli.js' --version`)).not.toBe(0);
      expect(userExit(s.home, `'${launcher}' --version`)).toBe(126);
      expect(events.some((e) => e.type === 'suspicious-layout' && /symbolic link/.test(e.message ?? ''))).toBe(true);
      expect((await scanCycle(enforcer, BLOCK, [s.home])).summary).toMatchObject({ failed: 0, tampered: 0 });
      expect(userExit(s.home, `node '${s.install}/cli.js' --version`)).not.toBe(0);
      // The old copy is on record as a locked earlier copy, nothing done through the link.
      const record = enforcer.applied[0]!;
      expect(record.orphans.map((o) => [o.path, o.locked])).toEqual([
        [join(scope, '.claude-code.aigate-quarantine'), true],
      ]);
      const hidden = await lstat(join(scope, 'hidden'));
      expect([hidden.uid, hidden.mode & 0o7777]).toEqual([0, 0]);
    });

    it('the launcher folder moved away (a new one in its place) and back: the locked original stays on record, and the lift puts the launcher back', async () => {
      const s = await setup('bin-moved');
      const launcher = userInstall(s, { fileLauncher: true });
      const before = await hashTree(s.home);
      const { enforcer, events } = await makeEnforcer(s.state, { homes: [s.home], roots: [] });
      const instance = instanceOf(s, [launcher]);
      expect(await enforce(enforcer, BLOCK, [instance])).toMatchObject({ applied: 1, failed: 0 });
      expect(enforcer.applied[0]!.launchers[0]!.locked).toBe(true);
      asUser(s.home, `mv '${s.bin}' '${s.bin}.away' && mkdir '${s.bin}'`);
      expect(await enforce(enforcer, BLOCK, [instance])).toMatchObject({ failed: 0 });
      expect(enforcer.applied[0]!.launchers.map((l) => l.path)).toEqual([launcher]);
      expect(events.some((e) => e.type === 'suspicious-layout' && e.details?.path === launcher)).toBe(true);
      asUser(s.home, `rmdir '${s.bin}' && mv '${s.bin}.away' '${s.bin}'`);
      expect(await enforce(enforcer, BLOCK, [instance])).toMatchObject({ failed: 0 });
      expect(userExit(s.home, `'${launcher}' --version`)).toBe(126);
      expect(await enforce(enforcer, ALLOW_ALL, [instance])).toMatchObject({ restored: 1, failed: 0 });
      expect(userExit(s.home, `'${launcher}' --version`)).toBe(0);
      expect(events.filter((e) => e.type === 'restored').at(-1)!.details).toMatchObject({
        verified: true,
        launchers: 1,
      });
      expect(await hashTree(s.home)).toEqual(before);
    });

    it('the launcher and its kept original removed by their user: the record lets them go', async () => {
      const s = await setup('bin-emptied');
      const launcher = userInstall(s, { fileLauncher: true });
      const { enforcer } = await makeEnforcer(s.state, { homes: [s.home], roots: [] });
      const instance = instanceOf(s, [launcher]);
      await enforce(enforcer, BLOCK, [instance]);
      asUser(s.home, `rm -f '${launcher}' '${join(s.bin, '.claude.aigate-orig')}'`);
      expect(await enforce(enforcer, BLOCK, [instance])).toMatchObject({ failed: 0 });
      expect(enforcer.applied[0]!.launchers).toEqual([]);
    });
  },
);

describe.runIf(isRoot)('names, copies and launchers the user plays with (red-team round 17)', () => {
  /** The user writes a Claude Code package (the fake one userInstall writes) into `dir`. */
  const userPackage = (s: Setup, dir: string) =>
    asUser(
      s.home,
      `mkdir -p '${dir}'
printf '%s' '{"name":"@anthropic-ai/claude-code","version":"2.1.91","bin":{"claude":"cli.js"}}' > '${dir}/package.json'
cat > '${dir}/cli.js' <<'EOF_CLI'
${fakeCli('claude-code', '2.1.91 (Claude Code)')}EOF_CLI
chmod 755 '${dir}/cli.js'`,
    );

  /** Block, reinstall, block: the first quarantine becomes a locked earlier copy. Returns its path. */
  async function withEarlierCopy(s: Setup, enforcer: Enforcer): Promise<string> {
    const launcher = userInstall(s);
    expect((await scanCycle(enforcer, BLOCK, [s.home])).summary).toMatchObject({ applied: 1, failed: 0 });
    asUser(s.home, `rm -f '${launcher}'`);
    userInstall(s);
    expect((await scanCycle(enforcer, BLOCK, [s.home])).summary).toMatchObject({ failed: 0 });
    const copy = join(s.prefix, 'lib', 'node_modules', '@anthropic-ai', '.claude-code.aigate-quarantine');
    expect(enforcer.applied[0]!.orphans.map((o) => [o.path, o.locked])).toEqual([[copy, true]]);
    return copy;
  }

  it('a folder of the user at the name of a locked earlier copy is scanned and blocked like any copy', async () => {
    const s = await setup('other-at-copy');
    const { enforcer } = await makeEnforcer(s.state, { homes: [s.home], roots: [] });
    const copy = await withEarlierCopy(s, enforcer);
    asUser(
      s.home,
      `mv '${copy}' '${copy}.hidden' && ln -s ../lib/node_modules/@anthropic-ai/.claude-code.aigate-quarantine/cli.js '${join(s.bin, 'cc')}'`,
    );
    userPackage(s, copy);
    expect(userExit(s.home, `node '${copy}/cli.js' --version`)).toBe(0);
    // The next cycle sees the copy is away; the one after judges what stands at its name.
    for (let i = 0; i < 2; i++)
      expect((await scanCycle(enforcer, BLOCK, [s.home])).summary).toMatchObject({ failed: 0 });
    expect(userExit(s.home, `node '${copy}/cli.js' --version`)).not.toBe(0);
    expect(userExit(s.home, `'${join(s.bin, 'cc')}' --version`)).not.toBe(0);
    const hidden = await lstat(`${copy}.hidden`);
    expect([hidden.uid, hidden.mode & 0o7777]).toEqual([0, 0]);
  });

  it('the kept original removed and the tool installed again: the reinstall is blocked, no cycle fails', async () => {
    const s = await setup('orig-removed');
    const launcher = userInstall(s);
    const { enforcer } = await makeEnforcer(s.state, { homes: [s.home], roots: [] });
    expect((await scanCycle(enforcer, BLOCK, [s.home])).summary).toMatchObject({ applied: 1, failed: 0 });
    asUser(s.home, `rm -f '${join(s.bin, '.claude.aigate-orig')}' '${launcher}'`);
    userInstall(s);
    for (let i = 0; i < 2; i++) {
      expect((await scanCycle(enforcer, BLOCK, [s.home])).summary).toMatchObject({ failed: 0 });
      expect(userExit(s.home, `'${launcher}' --version`)).toBe(126);
      expect(userExit(s.home, `node '${s.install}/cli.js' --version`)).not.toBe(0);
    }
  });

  it('a locked earlier copy moved away over the lift is given back when it is back at its name, its install gone or not', async () => {
    for (const installGone of [false, true]) {
      const s = await setup(`copy-back-${installGone}`);
      const { enforcer } = await makeEnforcer(s.state, { homes: [s.home], roots: [] });
      const copy = await withEarlierCopy(s, enforcer);
      asUser(s.home, `mv '${copy}' '${copy}.away'`);
      expect((await scanCycle(enforcer, ALLOW_ALL, [s.home])).summary).toMatchObject({ failed: 0 });
      expect(
        Object.values(enforcer.store.ledger.kept ?? {})
          .flat()
          .map((c) => c.locked),
      ).toEqual([true]);
      if (installGone) asUser(s.home, `rm -rf '${s.install}' '${join(s.bin, 'claude')}'`);
      asUser(s.home, `mv '${copy}.away' '${copy}'`);
      expect((await scanCycle(enforcer, ALLOW_ALL, [s.home])).summary).toMatchObject({ failed: 0 });
      const back = await lstat(installGone ? s.install : copy);
      expect([installGone, back.uid, back.mode & 0o7777]).toEqual([installGone, uid, 0o755]);
      // Given back: to its install's place when that is free, else beside it, the user's copy now.
      expect(Object.values(enforcer.store.ledger.kept ?? {}).flat()).toEqual(
        installGone ? [] : [expect.objectContaining({ path: copy, locked: false })],
      );
      expect(JSON.stringify(enforcer.store.ledger.kept ?? {})).not.toContain('away');
    }
  });

  it('the sentinel learns the fingerprints of an install quarantined under a name other than the first', async () => {
    const s = await setup('fp-random-name');
    userInstall(s);
    const scope = join(s.prefix, 'lib', 'node_modules', '@anthropic-ai');
    asUser(s.home, `touch '${join(scope, '.claude-code.aigate-quarantine')}'`);
    const { enforcer } = await makeEnforcer(s.state, { homes: [s.home], roots: [] });
    await scanCycle(enforcer, BLOCK, [s.home]);
    const to = enforcer.quarantineOf(s.install);
    expect(to).toBe(join(scope, '.claude-code.aigate-quarantine-2'));
    const store = new FingerprintStore();
    const learned = await store.learn(enforcer.applied[0]!.instance, {
      quarantineOf: (path) => enforcer.quarantineOf(path) ?? quarantineFor(path),
    });
    expect(learned).toBeGreaterThan(0);
  });

  it('a folder of the user at the name of a quarantine whose folder was moved away is scanned and blocked', async () => {
    const s = await setup('other-at-quarantine');
    userInstall(s);
    const scope = join(s.prefix, 'lib', 'node_modules', '@anthropic-ai');
    const q = join(scope, '.claude-code.aigate-quarantine');
    const { enforcer } = await makeEnforcer(s.state, { homes: [s.home], roots: [] });
    expect((await scanCycle(enforcer, BLOCK, [s.home])).summary).toMatchObject({ applied: 1, failed: 0 });
    asUser(s.home, `mv '${scope}' '${scope}.stash' && mkdir '${scope}'`);
    userPackage(s, q);
    for (let i = 0; i < 2; i++)
      expect((await scanCycle(enforcer, BLOCK, [s.home])).summary).toMatchObject({ failed: 0 });
    expect(userExit(s.home, `node '${q}/cli.js' --version`)).not.toBe(0);
    const stashed = await lstat(join(`${scope}.stash`, '.claude-code.aigate-quarantine'));
    expect([stashed.uid, stashed.mode & 0o7777]).toEqual([0, 0]);
  });

  it('a locked earlier copy back at its name while the tool is banned again stays locked; the next lift gives it back', async () => {
    const s = await setup('copy-back-banned');
    const { enforcer } = await makeEnforcer(s.state, { homes: [s.home], roots: [] });
    const copy = await withEarlierCopy(s, enforcer);
    asUser(s.home, `mv '${copy}' '${copy}.away'`);
    expect((await scanCycle(enforcer, ALLOW_ALL, [s.home])).summary).toMatchObject({ failed: 0 });
    asUser(s.home, `rm -rf '${s.install}' '${join(s.bin, 'claude')}' && mv '${copy}.away' '${copy}'`);
    for (let i = 0; i < 2; i++) {
      expect((await scanCycle(enforcer, BLOCK, [s.home])).summary).toMatchObject({ failed: 0 });
      const still = await lstat(copy);
      expect([still.uid, still.mode & 0o7777]).toEqual([0, 0]);
      expect(userExit(s.home, `node '${s.install}/cli.js' --version`)).not.toBe(0);
    }
    expect((await scanCycle(enforcer, ALLOW_ALL, [s.home])).summary).toMatchObject({ failed: 0 });
    const back = await lstat(s.install);
    expect([back.uid, back.mode & 0o7777]).toEqual([uid, 0o755]);
  });

  it('a locked launcher original moved away and the launcher written again: stubbed again, and the original is remembered and given back when it returns', async () => {
    const s = await setup('orig-moved');
    const launcher = userInstall(s, { fileLauncher: true });
    const instance = instanceOf(s, [launcher]);
    const { enforcer } = await makeEnforcer(s.state, { homes: [s.home], roots: [] });
    expect(await enforce(enforcer, BLOCK, [instance])).toMatchObject({ applied: 1, failed: 0 });
    const sibling = join(s.bin, '.claude.aigate-orig');
    asUser(
      s.home,
      `mv '${sibling}' '${join(s.bin, '.x')}' && rm -f '${launcher}' && printf '#!/bin/sh\\necho mine\\n' > '${launcher}' && chmod 755 '${launcher}'`,
    );
    expect(await enforce(enforcer, BLOCK, [instance])).toMatchObject({ failed: 0 });
    expect(userExit(s.home, `'${launcher}' --version`)).toBe(126);
    expect(enforcer.applied[0]!.orphans).toEqual([
      expect.objectContaining({ path: sibling, locked: true, away: true }),
    ]);
    expect(await enforce(enforcer, ALLOW_ALL, [instance])).toMatchObject({ failed: 0 });
    asUser(s.home, `mv '${join(s.bin, '.x')}' '${sibling}'`);
    await scanCycle(enforcer, ALLOW_ALL, [s.home]);
    const back = await lstat(sibling).catch(() => null);
    const where = back ?? (await lstat(launcher));
    expect([where.uid, where.mode & 0o7777]).toEqual([uid, 0o755]);
  });

  it('a ban scoped to the copy owner keeps a kept copy whose install is gone locked; a ban of someone else gives it back', async () => {
    const s = await setup('copy-back-users');
    const { enforcer } = await makeEnforcer(s.state, { homes: [s.home], roots: [] });
    const copy = await withEarlierCopy(s, enforcer);
    asUser(s.home, `mv '${copy}' '${copy}.away'`);
    expect((await scanCycle(enforcer, ALLOW_ALL, [s.home])).summary).toMatchObject({ failed: 0 });
    asUser(s.home, `rm -rf '${s.install}' '${join(s.bin, 'claude')}' && mv '${copy}.away' '${copy}'`);
    const banFor = (user: string) =>
      compile(banYaml('users-ban', ['claude-code'], { name: 'ban', effective: '2020-01-01', users: [user] }));
    expect((await scanCycle(enforcer, banFor(USER), [s.home])).summary).toMatchObject({ failed: 0 });
    const still = await lstat(copy);
    expect([still.uid, still.mode & 0o7777]).toEqual([0, 0]);
    expect((await scanCycle(enforcer, banFor('someone-else'), [s.home])).summary).toMatchObject({ failed: 0 });
    const back = await lstat(s.install);
    expect([back.uid, back.mode & 0o7777]).toEqual([uid, 0o755]);
  });
});
