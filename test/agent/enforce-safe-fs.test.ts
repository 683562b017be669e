/**
 * The pieces under enforcement's safety (issue 10), on real trees: the allowlist of trusted
 * roots, the component walk (symlinks, foreign owners, writable folders, sticky folders), owner
 * and mode changes through checked handles (identity, hard links, FIFOs, older ledger entries),
 * stubs written root-owned before they are moved into place, and which processes a block may
 * stop (owner and instance checks, older ledger steps stop nothing).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmod, chown, link, lstat, mkdir, readdir, readFile, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { captureFacts, linksOf, MAX_HASHED_BYTES, sameContent } from '../../agent/enforce/fs-facts.js';
import { checkInstallPath, type GuardContext, rootOf } from '../../agent/enforce/guard.js';
import { findInstanceProcesses, matchProcess, type ProcessInfo } from '../../agent/enforce/processes.js';
import {
  pinParent,
  readPinned,
  setOwnerMode,
  UnsafeLayout,
  withParent,
  writeStubEntry,
} from '../../agent/enforce/safe-fs.js';
import { tempDir } from './helpers.js';
import { isRoot, OWNER_GID, OWNER_UID } from './trees.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  dir = await tempDir('aigate-safe-fs-');
  await chmod(dir.path, 0o755);
});
afterAll(async () => {
  await dir?.remove();
});

const guardFor = (root: string, kind: 'home' | 'prefix' = 'prefix'): GuardContext => ({
  platform: 'linux',
  homes: [],
  stateDir: '/var/lib/aigate-test',
  roots: [{ path: root, kind }],
  systemPrefixes: false,
});

describe('the allowlist of trusted roots', () => {
  const ctx: GuardContext = {
    platform: 'linux',
    homes: ['/home/alice'],
    stateDir: '/var/lib/aigate',
    roots: [{ path: '/srv/tools', kind: 'prefix' }],
  };
  it('accepts only paths strictly inside a home, a system prefix or a named root', () => {
    expect(checkInstallPath('/srv/tools/claude', ctx).ok).toBe(true);
    expect(checkInstallPath('/home/alice/.npm-global/lib/node_modules/@anthropic-ai/claude-code', ctx).ok).toBe(true);
    expect(checkInstallPath('/etc/ssh', ctx)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('outside every home and trusted install prefix'),
    });
    expect(checkInstallPath('/var/tmp/claude', ctx).ok).toBe(false);
    expect(checkInstallPath('/srv/tools', ctx).ok).toBe(false);
    expect(checkInstallPath('/usr/share', ctx).ok).toBe(false);
  });
  it('picks the deepest root', () => {
    expect(
      rootOf('/home/alice/.npm-global/bin/claude', {
        ...ctx,
        roots: [{ path: '/home/alice/.npm-global', kind: 'prefix' }],
      })?.path,
    ).toBe('/home/alice/.npm-global');
    expect(rootOf('/etc/passwd', ctx)).toBeNull();
  });
});

describe.runIf(isRoot)('the component walk', () => {
  it('refuses a symlinked component, a foreign owner and a folder others can write; accepts a sticky folder with a root-owned child', async () => {
    const root = join(dir.path, 'walk');
    await mkdir(join(root, 'real', 'bin'), { recursive: true });
    await symlink(join(root, 'real'), join(root, 'link'));
    await mkdir(join(root, 'foreign', 'bin'), { recursive: true });
    await chown(join(root, 'foreign'), 4242, 4242);
    await mkdir(join(root, 'open', 'bin'), { recursive: true });
    await chmod(join(root, 'open'), 0o777);
    await mkdir(join(root, 'sticky', 'bin'), { recursive: true });
    await chmod(join(root, 'sticky'), 0o1777);
    const guard = guardFor(root);

    const ok = await pinParent(join(root, 'real', 'bin', 'claude'), guard);
    expect(ok.rootOnly).toBe(true);
    await ok.close();
    await expect(pinParent(join(root, 'link', 'bin', 'claude'), guard)).rejects.toThrow(/symbolic link/);
    await expect(pinParent(join(root, 'foreign', 'bin', 'claude'), guard)).rejects.toThrow(/owned by uid 4242/);
    await expect(pinParent(join(root, 'open', 'bin', 'claude'), guard)).rejects.toThrow(/writable by others/);
    const sticky = await pinParent(join(root, 'sticky', 'bin', 'claude'), guard);
    await sticky.close();
    await expect(pinParent('/etc/ssh/sshd_config', guard)).rejects.toBeInstanceOf(UnsafeLayout);
  });

  it('reads a name in its folder as pinned: the folder swapped for a link to a root-only one after the walk changes nothing read', async () => {
    const root = join(dir.path, 'pinned-read');
    const canary = join(dir.path, 'pinned-read-canary');
    await mkdir(join(root, 'bin'), { recursive: true });
    await mkdir(canary, { mode: 0o700 });
    await writeFile(join(root, 'bin', 'claude'), 'launcher\n');
    await writeFile(join(canary, 'claude'), 'root secret\n', { mode: 0o600 });
    const guard = guardFor(root);
    const read = await readPinned(
      join(root, 'bin', 'claude'),
      guard,
      async (at) => {
        // Between the walk and the read: the folder moved away and a link to the canary put there.
        spawnSync('mv', [join(root, 'bin'), join(root, 'bin.away')]);
        await symlink(canary, join(root, 'bin'));
        return readFile(at, 'utf8');
      },
      null,
    );
    expect(read).toBe('launcher\n');
    // And a folder that fails the walk now reads as `otherwise`, nothing opened through it.
    expect(await readPinned(join(root, 'bin', 'claude'), guard, (at) => readFile(at, 'utf8'), null)).toBeNull();
    expect(await readPinned(join(root, 'gone', 'claude'), guard, (at) => readFile(at, 'utf8'), 'none')).toBe('none');
  });

  it("a home's owner may own its folders; nobody else may", async () => {
    const home = join(dir.path, 'home-owner');
    await mkdir(join(home, '.local', 'bin'), { recursive: true });
    await chown(home, OWNER_UID, OWNER_GID);
    await chown(join(home, '.local'), OWNER_UID, OWNER_GID);
    const pinned = await pinParent(join(home, '.local', 'bin', 'aider'), guardFor(home, 'home'));
    expect([pinned.rootOwner, pinned.rootOnly]).toEqual([OWNER_UID, true]);
    await pinned.close();
    await chown(join(home, '.local', 'bin'), 4243, 4243);
    await expect(pinParent(join(home, '.local', 'bin', 'aider'), guardFor(home, 'home'))).rejects.toThrow(
      /owned by uid 4243/,
    );
  });
});

describe.runIf(isRoot)('owner and mode through checked handles', () => {
  it('changes the recorded object only: not a replacement, not a hard link, not a FIFO, not a symlink', async () => {
    const root = join(dir.path, 'handles');
    const bin = join(root, 'bin');
    await mkdir(bin, { recursive: true });
    await chown(bin, OWNER_UID, OWNER_GID);
    const guard = guardFor(root, 'home');
    await chown(root, OWNER_UID, OWNER_GID);
    const file = join(bin, 'tool');
    await writeFile(file, 'x');
    await chown(file, OWNER_UID, OWNER_GID);
    const facts = (await captureFacts(file))!;
    expect(facts.dev).toMatch(/^\d+$/);

    await withParent(file, guard, (pinned, name) =>
      setOwnerMode(pinned, name, facts, { uid: 0, gid: 0, mode: 0 }, true),
    );
    expect((await lstat(file)).mode & 0o7777).toBe(0);
    await withParent(file, guard, (pinned, name) =>
      setOwnerMode(pinned, name, facts, { uid: facts.uid, gid: facts.gid, mode: facts.mode }, true),
    );
    expect((await lstat(file)).uid).toBe(OWNER_UID);

    // Another object under the same name.
    const other = join(bin, 'other');
    await writeFile(other, 'y');
    await chown(other, OWNER_UID, OWNER_GID);
    const otherFacts = (await captureFacts(other))!;
    await expect(
      withParent(other, guard, (pinned, name) => setOwnerMode(pinned, name, facts, { uid: 0, gid: 0, mode: 0 }, true)),
    ).rejects.toThrow(/device\/inode differ/);
    // A second name for a root file.
    const secret = join(root, 'secret');
    await writeFile(secret, 'root only\n', { mode: 0o600 });
    await link(secret, join(bin, 'hard'));
    const hardFacts = (await captureFacts(join(bin, 'hard')))!;
    await expect(
      withParent(join(bin, 'hard'), guard, (pinned, name) =>
        setOwnerMode(pinned, name, hardFacts, { uid: OWNER_UID, gid: OWNER_GID, mode: 0o755 }, true),
      ),
    ).rejects.toThrow(/hard links/);
    expect([(await lstat(secret)).uid, (await lstat(secret)).mode & 0o7777]).toEqual([0, 0o600]);
    // A FIFO and a symlink.
    spawnSync('mkfifo', [join(bin, 'fifo')]);
    const fifoFacts = (await captureFacts(join(bin, 'fifo')))!;
    expect(fifoFacts.kind).toBe('other');
    await expect(
      withParent(join(bin, 'fifo'), guard, (pinned, name) =>
        setOwnerMode(pinned, name, { ...fifoFacts, kind: 'file' }, { uid: 0, gid: 0, mode: 0 }, true),
      ),
    ).rejects.toThrow(/special file/);
    await symlink(secret, join(bin, 'link'));
    await expect(
      withParent(join(bin, 'link'), guard, (pinned, name) =>
        setOwnerMode(pinned, name, otherFacts, { uid: OWNER_UID, gid: OWNER_GID, mode: 0o777 }, true),
      ),
    ).rejects.toThrow(/symbolic link/);
    expect([(await lstat(secret)).uid, (await lstat(secret)).mode & 0o7777]).toEqual([0, 0o600]);
  });

  it('an older ledger entry without identity is changed only when its owner is the recorded one', async () => {
    const root = join(dir.path, 'old-ledger');
    await mkdir(root, { recursive: true });
    const file = join(root, 'tool');
    await writeFile(file, 'x');
    const { dev: _dev, ino: _ino, nlink: _nlink, ...old } = (await captureFacts(file))!;
    await expect(
      withParent(file, guardFor(root), (pinned, name) =>
        setOwnerMode(pinned, name, { ...old, uid: 4244 }, { uid: 4244, gid: 4244, mode: 0o755 }, true),
      ),
    ).rejects.toThrow(/not the recorded 4244/);
    await withParent(file, guardFor(root), (pinned, name) =>
      setOwnerMode(pinned, name, old, { uid: 0, gid: 0, mode: 0 }, true),
    );
    expect((await lstat(file)).mode & 0o7777).toBe(0);
  });

  it('writes a stub owned by root, mode 0755, before it is moved into place', async () => {
    const root = join(dir.path, 'stub');
    const bin = join(root, 'bin');
    await mkdir(bin, { recursive: true });
    let staged: { uid: number; mode: number } | null = null;
    await withParent(join(bin, 'claude'), guardFor(root), (pinned, name) =>
      writeStubEntry(pinned, name, '#!/bin/sh\n# aigate-stub v1\nexit 126\n', true, async () => {
        const temp = (await readdir(bin)).find((entry) => entry.includes('aigate-tmp'))!;
        const info = await lstat(join(bin, temp));
        staged = { uid: info.uid, mode: info.mode & 0o7777 };
      }),
    );
    expect(staged).toEqual({ uid: 0, mode: 0o755 });
    expect(await readFile(join(bin, 'claude'), 'utf8')).toContain('aigate-stub v1');
    expect((await lstat(join(bin, 'claude'))).mode & 0o7777).toBe(0o755);
  });
});

describe('which processes a block may stop', () => {
  const proc = (over: Partial<ProcessInfo>): ProcessInfo => ({
    pid: 4321,
    ppid: 1,
    exe: '/usr/bin/node',
    exeId: null,
    cwd: '/home/alice',
    argv: ['node'],
    uid: 1000,
    euid: 1000,
    startTicks: 1,
    ...over,
  });
  const spec = {
    owners: [1000],
    folders: [
      {
        path: '/home/alice/.npm-global/lib/node_modules/@anthropic-ai/.claude-code.aigate-quarantine',
        from: '/home/alice/.npm-global/lib/node_modules/@anthropic-ai/claude-code',
      },
    ],
    files: [{ path: '/home/alice/.npm-global/bin/claude' }],
  };
  it('stops the owner running the instance, skips anyone else, ignores the rest', () => {
    expect(
      matchProcess(
        proc({ argv: ['node', '/home/alice/.npm-global/lib/node_modules/@anthropic-ai/claude-code/cli.js'] }),
        spec,
      ),
    ).toEqual({ kind: 'stop' });
    expect(
      matchProcess(proc({ argv: ['node', '--no-warnings', '/home/alice/.npm-global/bin/claude', 'chat'] }), spec),
    ).toEqual({ kind: 'stop' });
    expect(matchProcess(proc({ exe: `${spec.folders[0]!.path}/vendor/rg`, argv: ['rg'] }), spec)).toEqual({
      kind: 'stop',
    });
    expect(
      matchProcess(proc({ argv: ['node', '/home/alice/.npm-global/bin/claude'], uid: 0, euid: 0 }), spec),
    ).toMatchObject({ kind: 'skip', reason: expect.stringContaining('uid 0/0') });
    expect(
      matchProcess(proc({ argv: ['node', '/home/alice/.npm-global/bin/claude'], uid: 1000, euid: 0 }), spec),
    ).toMatchObject({ kind: 'skip' });
    expect(
      matchProcess(proc({ argv: ['vim', '/home/alice/.npm-global/bin/claude'], exe: '/usr/bin/vim' }), spec),
    ).toEqual({ kind: 'none' });
    expect(matchProcess(proc({ argv: ['node', 'server.js', '/home/alice/.npm-global/bin/claude'] }), spec)).toEqual({
      kind: 'none',
    });
    expect(
      matchProcess(proc({ argv: ['node', '/home/alice/.npm-global/bin/claude'] }), {
        folders: spec.folders,
        files: spec.files,
      }),
    ).toMatchObject({ kind: 'skip', reason: expect.stringContaining('records no owner') });
  });

  it.runIf(process.platform === 'linux')('only folders still holding the recorded device+inode count', async () => {
    const folder = join(dir.path, 'procs', '.tool.aigate-quarantine');
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'cli.js'), "process.stdout.write('serving\\n'); setInterval(() => {}, 1000);\n");
    const facts = (await captureFacts(folder))!;
    const child = spawn(process.execPath, [join(folder, 'cli.js')], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await new Promise((resolve) => child.stdout!.once('data', resolve));
      const me = process.getuid!();
      const good = await findInstanceProcesses({
        roots: [],
        graceMs: 0,
        owners: [me],
        folders: [{ path: folder, dev: facts.dev!, ino: facts.ino! }],
      });
      expect(good.stop.map((p) => p.pid)).toContain(child.pid);
      const wrong = await findInstanceProcesses({
        roots: [],
        graceMs: 0,
        owners: [me],
        folders: [{ path: folder, dev: facts.dev!, ino: '1' }],
      });
      expect(wrong.stop.map((p) => p.pid)).not.toContain(child.pid);
      const noOwners = await findInstanceProcesses({
        roots: [],
        graceMs: 0,
        folders: [{ path: folder, dev: facts.dev!, ino: facts.ino! }],
      });
      expect(noOwners.stop).toEqual([]);
      expect(noOwners.skipped.map((s) => s.pid)).toContain(child.pid);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('the other names of a shared inode (linksOf)', () => {
  it('finds them in real folders only: a folder replaced by a link, or a link below, is never walked', async () => {
    // Red-team round 11: a quarantine the user moved away and replaced by a link to a root-only
    // folder had root list that folder (and everything below it) looking for the store file.
    const base = join(dir.path, 'links-of');
    await mkdir(join(base, 'quarantine', 'deep'), { recursive: true });
    await mkdir(join(base, 'elsewhere', 'sub'), { recursive: true });
    const file = join(base, 'store-file');
    await writeFile(file, 'bin\n');
    await link(file, join(base, 'quarantine', 'deep', 'cli.js'));
    await link(file, join(base, 'elsewhere', 'sub', 'secret'));
    await symlink(join(base, 'elsewhere'), join(base, 'quarantine', 'aside'));
    await symlink(join(base, 'elsewhere'), join(base, 'swapped'));
    const facts = (await captureFacts(file))!;
    expect(await linksOf(facts, [join(base, 'quarantine'), join(base, 'swapped'), join(base, 'missing')])).toEqual([
      join(base, 'quarantine', 'deep', 'cli.js'),
    ]);
    // The real folder itself is searched.
    expect(await linksOf(facts, [join(base, 'elsewhere')])).toEqual([join(base, 'elsewhere', 'sub', 'secret')]);
  });
});

describe('digests of files the agent records (captureFacts)', () => {
  it('takes no digest of a file over MAX_HASHED_BYTES, and such a file is never the same content as another', async () => {
    // Red-team round 12: a user's 20 GB sparse "launcher" was read whole, every cycle, as root.
    const base = join(dir.path, 'digests');
    await mkdir(base, { recursive: true });
    const huge = join(base, 'claude');
    await writeFile(huge, '');
    await truncate(huge, MAX_HASHED_BYTES + 1);
    const small = join(base, 'small');
    await writeFile(small, '#!/bin/sh\n');
    const facts = (await captureFacts(huge))!;
    expect(facts).toMatchObject({ kind: 'file', size: MAX_HASHED_BYTES + 1 });
    expect(facts.sha256).toBeUndefined();
    expect(sameContent(facts, { ...facts })).toBe(false);
    const smallFacts = (await captureFacts(small))!;
    expect(smallFacts.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(sameContent(smallFacts, { ...smallFacts })).toBe(true);
  });
});
