/**
 * A scan run as root reads files a hostile user laid out in their home (issue 10): manifests
 * linked to a root-only file, to a device, replaced by a FIFO, hard-linked to a root file, a link
 * to a root-only folder. Root must never open a special file, never hang, and never report
 * anything read from a file or folder the user could not read; the user's own legitimate links
 * (pnpm's store, `npm link` to a project folder) keep being followed. Runs as root with a real
 * unprivileged user (CI runs as root).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, linkSync, lstatSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LINK_NOT_FOLLOWED } from '../../../agent/inventory/fs.js';
import { scanMachine } from '../../../agent/inventory/index.js';
import { cleanup, npmGlobal, npmPackage, scratch, summary, type Tree } from './fixtures.js';

afterAll(cleanup);

const isRoot = process.platform === 'linux' && process.getuid?.() === 0;
const USER = 'aigt-reads';
const SECRET_VERSION = '6.6.6';
const SECRET_MARK = 'root-only-canary-f00d';
const quiet = { detectRunning: false, paths: [] as string[] };

describe.skipIf(!isRoot)('reads as root in a hostile home', () => {
  let uid = -1;
  let gid = -1;
  let t: Tree;
  let home: string;
  let secret: string;
  const modules = () => join(home, '.npm-global/lib/node_modules');

  beforeAll(() => {
    const made = spawnSync('useradd', ['--no-create-home', '--shell', '/bin/sh', USER], { encoding: 'utf8' });
    if (made.status !== 0 && made.status !== 9) throw new Error(`useradd ${USER}: ${made.stderr}`);
    uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim());
    gid = Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }).trim());
    t = scratch('aigate-hostile-reads-');
    chmodSync(t.root, 0o755);
    home = t.dir('home/mallory');
    // A root-only file holding a manifest: what the user wants root to read out for them.
    secret = t.file(
      'secret/shadow.json',
      JSON.stringify({ name: '@openai/codex', version: SECRET_VERSION, description: SECRET_MARK }),
      0o600,
    );

    // Hostile: manifests that lead root to a root-only file, a device, a FIFO, a root file's inode.
    npmGlobal(t, 'home/mallory/.npm-global', '@openai/codex', { version: '0.1.0', bin: { codex: 'bin/codex.js' } });
    t.rawLink('home/mallory/.npm-global/lib/node_modules/@openai/codex/package.json.tmp', secret);
    execFileSync('mv', [
      '-f',
      join(modules(), '@openai/codex/package.json.tmp'),
      join(modules(), '@openai/codex/package.json'),
    ]);
    npmGlobal(t, 'home/mallory/.npm-global', '@google/gemini-cli', {
      version: '0.2.0',
      bin: { gemini: 'dist/index.js' },
    });
    execFileSync('ln', ['-sfn', '/dev/zero', join(modules(), '@google/gemini-cli/package.json')]);
    npmGlobal(t, 'home/mallory/.npm-global', '@qwen-code/qwen-code', { version: '0.3.0', bin: { qwen: 'cli.js' } });
    execFileSync('rm', ['-f', join(modules(), '@qwen-code/qwen-code/package.json')]);
    execFileSync('mkfifo', [join(modules(), '@qwen-code/qwen-code/package.json')]);
    npmGlobal(t, 'home/mallory/.npm-global', 'opencode-ai', { version: '0.4.0', bin: { opencode: 'bin/opencode' } });
    execFileSync('rm', ['-f', join(modules(), 'opencode-ai/package.json')]);
    // A root file outside the home that only looks harmless (world-readable, but in a folder
    // anyone can write to): not a system location, so not read through the user's link.
    npmGlobal(t, 'home/mallory/.npm-global', '@github/copilot', { version: '0.5.0', bin: { copilot: 'index.js' } });
    t.json('loose/copilot.json', { name: '@github/copilot', version: SECRET_VERSION, description: SECRET_MARK });
    chmodSync(t.path('loose'), 0o777);
    execFileSync('ln', ['-sfn', t.path('loose/copilot.json'), join(modules(), '@github/copilot/package.json')]);

    // Legitimate: pnpm's global layout (links into its virtual store, inside the same home) and
    // an `npm link` from the global folder to a project folder of the same user.
    const pnpmGlobal = 'home/mallory/.local/share/pnpm/global/5/node_modules';
    npmPackage(t, `${pnpmGlobal}/.pnpm/@anthropic-ai+claude-code@2.1.50/node_modules`, '@anthropic-ai/claude-code', {
      version: '2.1.50',
      bin: { claude: 'cli.js' },
    });
    t.link(
      `${pnpmGlobal}/@anthropic-ai/claude-code`,
      `${pnpmGlobal}/.pnpm/@anthropic-ai+claude-code@2.1.50/node_modules/@anthropic-ai/claude-code`,
    );
    t.link('home/mallory/.local/share/pnpm/claude', `${pnpmGlobal}/@anthropic-ai/claude-code/cli.js`);
    npmPackage(t, 'home/mallory/src', 'cline', { version: '1.0.4', bin: { cline: 'bin/cline' } });
    t.rawLink('home/mallory/.npm-global/lib/node_modules/cline', join(home, 'src/cline'));

    // A system-wide `npm link` (made by root) to a project folder of the user, whose manifest the
    // user then aims at the root-only file: the read starts outside any home.
    npmPackage(t, 'home/mallory/work', 'cline', { version: '1.0.5' });
    execFileSync('ln', ['-sfn', secret, join(home, 'work/cline/package.json')]);
    t.dir('usr/local/lib/node_modules');
    t.rawLink('usr/local/lib/node_modules/cline', join(home, 'work/cline'));

    // A link to a root-only folder: its names (a project's, here) are not the user's to see.
    t.json('private/secret-project-falcon/package.json', { name: 'secret-project-falcon', version: '1.0.0' });
    chmodSync(t.path('private'), 0o700);
    t.rawLink('home/mallory/.npm-global/lib/node_modules/@leak', t.path('private'));
    // And the same folder named as the user's npm prefix (their own .npmrc is theirs to write).
    t.json('private/lib/node_modules/secret-project-zebra/package.json', {
      name: 'secret-project-zebra',
      version: '1.0.0',
      dependencies: { '@anthropic-ai/sdk': '^0.60.0' },
    });
    t.file('home/mallory/.npmrc', `prefix=${t.path('private')}\n`);

    execFileSync('chown', ['-R', '-h', `${uid}:${gid}`, home]);
    // A hard link keeps the root file's inode (owner root, mode 0600) under the user's path
    // (made after the chown, which would otherwise hand the inode over).
    linkSync(secret, join(modules(), 'opencode-ai/package.json'));
  });

  it(
    'never reports what a root-only file holds, never opens a device or FIFO, and records why',
    { timeout: 60_000 },
    async () => {
      const before = lstatSync(secret);
      const result = await scanMachine({ homes: [home], ...quiet });
      const text = JSON.stringify(result);
      expect(text).not.toContain(SECRET_MARK);
      expect(result.instances.map((i) => i.version)).not.toContain(SECRET_VERSION);
      const reasons = new Map(result.skipped.map((s) => [s.path, s.reason]));
      expect(reasons.get(join(modules(), '@openai/codex/package.json'))).toBe(
        'a root file the user cannot read; not read',
      );
      expect(reasons.get(join(modules(), 'opencode-ai/package.json'))).toBe(
        'a root file the user cannot read; not read',
      );
      expect(reasons.get(join(modules(), '@google/gemini-cli/package.json'))).toBe('not a regular file');
      expect(reasons.get(join(modules(), '@qwen-code/qwen-code/package.json'))).toBe('not a regular file');
      expect(reasons.get(join(modules(), '@github/copilot/package.json'))).toBe(
        "leads outside the user's home; not read",
      );
      // A root-only folder is not listed through the user's link: no name in it shows.
      expect(text).not.toContain('secret-project-falcon');
      expect(text).not.toContain('secret-project-zebra');
      expect(reasons.get(t.path('private'))).toBe(
        ".npmrc prefix of mallory leads outside the user's home; not scanned",
      );
      expect(reasons.get(join(modules(), '@leak'))).toBe('a root file the user cannot read; not read');
      // The legitimate links are followed as before.
      expect(summary(result.instances)).toEqual(
        expect.arrayContaining(['claude-code 2.1.50 npm mallory', 'cline 1.0.4 npm mallory']),
      );
      // Reading left the root file as it was.
      const after = lstatSync(secret);
      expect([after.uid, after.mode, after.nlink]).toEqual([before.uid, before.mode, before.nlink]);
    },
  );

  it("scans a folder the user names (npm's or bun's cache) by its real path in the home, and tells nothing of what lies outside", async () => {
    // Found by a red-team helper: `cache=/tmp/x` with /tmp/x -> ~/c passed the inside-the-home
    // check (by its real path), but was then scanned as written, outside every guarded home, so
    // ~/c/_npx -> a root-only folder was followed and its package reported.
    const oscar = t.dir('home/oscar');
    t.json('private2/_npx/aaa/node_modules/@anthropic-ai/claude-code/package.json', {
      name: '@anthropic-ai/claude-code',
      version: SECRET_VERSION,
      bin: { claude: 'cli.js' },
    });
    chmodSync(t.path('private2'), 0o700);
    t.rawLink('home/oscar/c/_npx', t.path('private2/_npx'));
    t.rawLink('loose2/c', join(oscar, 'c'));
    chmodSync(t.path('loose2'), 0o777);
    t.file('home/oscar/.npmrc', `cache=${t.path('loose2/c')}\n`);
    // The same through /proc/self/root, and two links whose targets (one there, one not) must
    // get one and the same answer: none.
    t.rawLink('home/oscar/b/.bunx-1000/x@1/node_modules', t.path('private2/_npx/aaa/node_modules'));
    t.rawLink('home/oscar/c/l1', secret);
    t.rawLink('home/oscar/c/l2', t.path('private2/nothing-here'));
    t.file(
      'home/oscar/.bashrc',
      [
        `export BUN_INSTALL_CACHE_DIR=/proc/self/root${oscar}/b`,
        `export YARN_CACHE_FOLDER=${oscar}/c/l1`,
        `export NPM_CONFIG_CACHE=${oscar}/c/l2`,
        // A cache moved inside the home is found (a real path in the home).
        `export npm_config_cache=${oscar}/mycache`,
      ].join('\n'),
    );
    npmPackage(t, 'home/oscar/mycache/_npx/bbb/node_modules', 'cline', {
      version: '1.0.4',
      bin: { cline: 'bin/cline' },
    });
    execFileSync('chown', ['-R', '-h', `${uid}:${gid}`, oscar]);
    const result = await scanMachine({ homes: [oscar], ...quiet });
    expect(result.instances.map((i) => i.version)).not.toContain(SECRET_VERSION);
    expect(JSON.stringify(result)).not.toContain('private2');
    expect(summary(result.instances)).toEqual(['cline 1.0.4 npm oscar']);
    const reasons = result.skipped.filter((s) => s.reason.includes('not scanned'));
    expect(reasons).toEqual([
      {
        path: `/proc/self/root${oscar}/b`,
        reason: `BUN_INSTALL_CACHE_DIR of oscar leads outside the user's home; not scanned`,
      },
      { path: t.path('loose2/c'), reason: `.npmrc cache of oscar leads outside the user's home; not scanned` },
    ]);
    // The two links, whose targets are there and not there, say nothing either way.
    expect(JSON.stringify(result.skipped)).not.toContain(`${oscar}/c/l`);
  });

  it('leaves out a folder the user names that comes back into the home only through places the user cannot walk, or into a home nested in theirs', async () => {
    // Found by a red-team helper: ~/via -> (root's 0700 folder)/back -> ~/real passed, by its real
    // path, so whether that private link exists showed as an instance or none.
    const pat = t.dir('home/pat');
    npmPackage(t, 'home/pat/real/_npx/ccc/node_modules', '@anthropic-ai/claude-code', {
      version: '2.0.46',
      bin: { claude: 'cli.js' },
    });
    npmPackage(t, 'home/pat/real2/_npx/ddd/node_modules', 'cline', { version: '1.0.4', bin: { cline: 'bin/cline' } });
    npmPackage(t, 'home/pat/mine/_npx/eee/node_modules', 'cline', { version: '1.0.5', bin: { cline: 'bin/cline' } });
    t.rawLink('private3/back', join(pat, 'real'));
    chmodSync(t.path('private3'), 0o700);
    t.rawLink('home/pat/via', t.path('private3/back'));
    // A root process's working folder in the home, reached through /proc: the kernel lets the
    // user through /proc/<pid>/cwd only for their own processes.
    const sleeper = spawn('sleep', ['60'], { cwd: join(pat, 'real2'), stdio: 'ignore' });
    t.rawLink('home/pat/via2', `/proc/${sleeper.pid}/cwd`);
    // A home nested in pat's, and a folder of it its owner keeps private.
    const inner = t.dir('home/pat/inner');
    npmPackage(t, 'home/pat/inner/priv/cache/_npx/fff/node_modules', '@openai/codex', {
      version: '0.1.0',
      bin: { codex: 'bin/codex.js' },
    });
    t.file(
      'home/pat/.bashrc',
      [`export npm_config_cache=${pat}/via`, `export NPM_CONFIG_CACHE=${pat}/via2/`].join('\n'),
    );
    // The user's own link inside the home, with a target written with ./ and .., is theirs.
    t.rawLink('home/pat/own', './real/../mine/.');
    t.file('home/pat/.npmrc', `cache=${pat}/own/\n`);
    execFileSync('chown', ['-R', '-h', `${uid}:${gid}`, pat]);
    execFileSync('chown', ['-R', '-h', '65534:65534', inner]);
    chmodSync(join(inner, 'priv'), 0o700);
    try {
      const result = await scanMachine({ homes: [pat, inner], ...quiet });
      expect(summary(result.instances)).toEqual(['cline 1.0.5 npm pat']);
      expect(JSON.stringify(result.skipped)).not.toMatch(/private3|via/);
      // Into the nested home: read on its owner's terms, it would be reported as pat's.
      writeFileSync(join(pat, '.bashrc'), `export npm_config_cache=${inner}/priv/cache\n`);
      const nested = await scanMachine({ homes: [pat, inner], ...quiet });
      expect(summary(nested.instances)).toEqual(['cline 1.0.5 npm pat']);
      expect(JSON.stringify(nested.skipped)).not.toMatch(/inner\/priv/);
    } finally {
      sleeper.kill();
    }
  });

  it('gives one answer for every link beyond a place the user cannot search, whether anything is there, whose it is, or what it is', async () => {
    // Found by a red-team helper: a link in a scanned folder to a private place got a skip that
    // said whether its target existed and whose it was ("owned by another user (uid N)").
    const quin = t.dir('home/quin');
    t.json('private4/there/package.json', { name: '@openai/codex', version: SECRET_VERSION });
    t.file('private4/file.json', JSON.stringify({ name: '@openai/codex', version: SECRET_VERSION }));
    t.json('private4/other-user/package.json', { name: '@openai/codex', version: SECRET_VERSION });
    execFileSync('chown', ['-R', '65534:65534', t.path('private4/other-user')]);
    chmodSync(t.path('private4'), 0o700);
    // Packages `npm link` made (links in the global node_modules, which the scan follows).
    const targets = { a: 'there', b: 'nothing-here', c: 'other-user', d: 'file.json' };
    for (const [name, target] of Object.entries(targets))
      t.rawLink(`home/quin/.npm-global/lib/node_modules/${name}`, t.path(`private4/${target}`));
    // The same for files: a manifest linked there, or to nothing there.
    npmPackage(t, 'home/quin/.npm-global/lib/node_modules', 'x1', { version: '1.0.0', bin: { x1: 'x.js' } });
    npmPackage(t, 'home/quin/.npm-global/lib/node_modules', 'x2', { version: '1.0.0', bin: { x2: 'x.js' } });
    for (const [pkg, target] of [
      ['x1', 'file.json'],
      ['x2', 'no-file.json'],
    ]) {
      execFileSync('rm', [join(quin, `.npm-global/lib/node_modules/${pkg}/package.json`)]);
      t.rawLink(`home/quin/.npm-global/lib/node_modules/${pkg}/package.json`, t.path(`private4/${target}`));
    }
    execFileSync('chown', ['-R', '-h', `${uid}:${gid}`, quin]);
    const result = await scanMachine({ homes: [quin], ...quiet });
    expect(JSON.stringify(result)).not.toContain(SECRET_VERSION);
    const told = (where: string) =>
      result.skipped.filter((s) => s.path.startsWith(where)).map((s) => [s.path.slice(where.length), s.reason]);
    const modules = join(quin, '.npm-global/lib/node_modules');
    expect(told(`${modules}/a`)).toEqual([['', LINK_NOT_FOLLOWED]]);
    for (const name of ['b', 'c', 'd']) expect(told(`${modules}/${name}`)).toEqual(told(`${modules}/a`));
    expect(told(`${modules}/x1/`)).toEqual([['package.json', LINK_NOT_FOLLOWED]]);
    expect(told(`${modules}/x2/`)).toEqual(told(`${modules}/x1/`));
    expect(JSON.stringify(result.skipped)).not.toMatch(/uid|private4/);
  });

  it("answers the same whether a folder the user cannot search holds a name or not (a link's x/../..)", async () => {
    // Found by a red-team helper: ~/.npm-global -> <private>/x/../../home/rhea/fake resolved (as
    // root) only when x existed in the private folder, and the scan then told so.
    const rhea = t.dir('home/rhea');
    npmGlobal(t, 'home/rhea/fake', '@openai/codex', { version: '0.1.0', bin: { codex: 'bin/codex.js' } });
    t.dir('private5/there');
    chmodSync(t.path('private5'), 0o700);
    const answers: string[] = [];
    for (const probe of ['there', 'nothing']) {
      execFileSync('rm', ['-f', join(rhea, '.npm-global'), join(rhea, '.local/bin/codex')]);
      t.rawLink('home/rhea/.npm-global', `${t.path('private5')}/${probe}/../../home/rhea/fake`);
      t.rawLink('home/rhea/.local/bin/codex', `${t.path('private5')}/${probe}/../../home/rhea/fake/bin/codex`);
      execFileSync('chown', ['-R', '-h', `${uid}:${gid}`, rhea]);
      const result = await scanMachine({ homes: [rhea], ...quiet });
      answers.push(JSON.stringify([result.instances, result.skipped]).replaceAll(probe, 'PROBE'));
    }
    expect(answers[1]).toBe(answers[0]);
  });

  it("answers the same whether a folder the user cannot search holds a name or not, where the scan only probes (a home's npm prefixes, PATH bin folders, editor folders)", async () => {
    // Found by a red-team helper: ~/f/lib -> <private>/deep/../../home/user/own made the home's
    // prefix walk list ~/f/lib/node_modules (and say so in the skips) only when `deep` existed.
    const sol = t.dir('home/sol');
    t.dir('home/sol/own/node_modules');
    t.dir('home/sol/own/extensions');
    t.dir('private6/there');
    chmodSync(t.path('private6'), 0o700);
    const answers: string[] = [];
    for (const probe of ['there', 'nothing']) {
      const via = `${t.path('private6')}/${probe}/../../home/sol/own`;
      execFileSync('rm', ['-rf', join(sol, 'f'), join(sol, 'p'), join(sol, '.vscode'), join(sol, '.bashrc')]);
      t.dir('home/sol/f');
      t.rawLink('home/sol/f/lib', via);
      t.dir('home/sol/p/bin');
      t.rawLink('home/sol/p/lib', via);
      t.file('home/sol/.bashrc', `export PATH="$HOME/p/bin:$PATH"\n`);
      t.rawLink('home/sol/.vscode', via);
      execFileSync('chown', ['-R', '-h', `${uid}:${gid}`, sol]);
      const result = await scanMachine({ homes: [sol], ...quiet });
      answers.push(JSON.stringify([result.instances, result.skipped]).replaceAll(probe, 'PROBE'));
    }
    expect(answers[1]).toBe(answers[0]);
  });

  it('guards a home owned by root (as SFTP chroots want) by its account in /etc/passwd', async () => {
    // Red-team round 9: such a home was trusted whole, so the user's link from a folder of theirs
    // in it to a root-only folder had root read and report the package there.
    const chroot = t.dir('home/chroot');
    chmodSync(chroot, 0o755);
    const account = 'aigt-chroot';
    const made = spawnSync('useradd', ['--no-create-home', '--home-dir', chroot, '--shell', '/bin/sh', account], {
      encoding: 'utf8',
    });
    if (made.status === 9) execFileSync('usermod', ['-d', chroot, account]);
    else if (made.status !== 0) throw new Error(`useradd ${account}: ${made.stderr}`);
    const owner = Number(execFileSync('id', ['-u', account], { encoding: 'utf8' }).trim());
    t.json('private6/U/lib/node_modules/@anthropic-ai/claude-code/package.json', {
      name: '@anthropic-ai/claude-code',
      version: SECRET_VERSION,
      bin: { claude: 'cli.js' },
    });
    chmodSync(t.path('private6'), 0o700);
    t.dir('home/chroot/w');
    t.rawLink('home/chroot/w/lib', t.path('private6/U/lib'));
    execFileSync('chown', ['-R', '-h', `${owner}:${owner}`, join(chroot, 'w')]);
    const result = await scanMachine({ homes: [chroot], ...quiet });
    expect(JSON.stringify(result)).not.toContain(SECRET_VERSION);
    expect(JSON.stringify(result)).not.toContain('private6');
  });

  it("does not read a root-only file through a user's link reached from a system folder", async () => {
    const result = await scanMachine({ homes: [], npmPrefixes: [t.path('usr/local')], systemRoots: true, ...quiet });
    expect(JSON.stringify(result)).not.toContain(SECRET_MARK);
    expect(result.instances.map((i) => i.version)).not.toContain(SECRET_VERSION);
    expect(result.skipped).toContainEqual({
      path: t.path('usr/local/lib/node_modules/cline/package.json'),
      reason: 'a private file reached through a link; not read',
    });
  });

  it("follows a launcher link of the home only to the user's own files: nothing of another user's or a root-only install shows, not even whether it exists", async () => {
    // Found by a red-team helper: the PATH pass read a manifest through the real path of a
    // user's bin link, outside every guarded home. Installs the user cannot reach: a root one
    // (world-readable files, in a root-only folder) and another user's (uid 65534) private one.
    npmPackage(t, 'vault/node_modules', '@anthropic-ai/claude-code', {
      version: SECRET_VERSION,
      bin: { claude: 'cli.js' },
    });
    t.file('vault/node_modules/@anthropic-ai/claude-code/cli.js', `// ${SECRET_MARK}\n`);
    chmodSync(t.path('vault'), 0o700);
    npmPackage(t, 'other/private/proj/node_modules', '@openai/codex', {
      version: SECRET_VERSION,
      bin: { codex: 'bin/codex.js' },
    });
    t.file('other/private/proj/node_modules/@openai/codex/bin/codex.js', '');
    t.dir('other/private/secret-target-name');
    t.rawLink('other/private/lnk', t.path('other/private/secret-target-name'));
    t.file('other/private/secret-target-name/qwen', '');
    // Another user's own link in their private folder, back to a file of this user: resolvable
    // as root, not by the user (who cannot enter that folder).
    t.file('home/mallory/apps/claude-2.0.5', '#!/bin/sh\n', 0o755);
    t.rawLink('other/private/back', join(home, 'apps/claude-2.0.5'));
    t.rawLink('home/mallory/.local/share/claude/versions/2.0.5', t.path('other/private/back'));
    t.rawLink('home/mallory/.local/share/claude/versions/2.0.6', t.path('other/private/no-such-link'));
    execFileSync('chown', ['-R', '65534:65534', t.path('other')]);
    chmodSync(t.path('other/private'), 0o700);
    // The user's links, to those installs and to names that do not exist there.
    const bin = 'home/mallory/.local/bin';
    t.rawLink(`${bin}/claude`, t.path('vault/node_modules/@anthropic-ai/claude-code/cli.js'));
    t.rawLink(`${bin}/codex`, t.path('other/private/proj/node_modules/@openai/codex/bin/codex.js'));
    t.rawLink(`${bin}/qwen`, t.path('other/private/lnk/qwen'));
    t.rawLink(`${bin}/gemini`, t.path('other/private/nothing-here'));
    t.rawLink(`${bin}/opencode`, t.path('vault/nothing-here'));
    // A shim script of the user's own, whose node_modules beside it is a link to the root-only
    // install, and the same shim whose link leads nowhere: the same outcome (a bare command).
    const shim = '#!/bin/sh\nexec node "$(dirname "$0")/node_modules/@anthropic-ai/claude-code/cli.js" "$@"\n';
    t.file('home/mallory/.cargo/bin/claude', shim, 0o755);
    t.rawLink('home/mallory/.cargo/bin/node_modules', t.path('vault/node_modules'));
    t.file('home/mallory/go/bin/claude', shim, 0o755);
    t.rawLink('home/mallory/go/bin/node_modules', t.path('vault/nowhere'));
    // A global package folder that is a link to the root-only install.
    npmPackage(t, 'vault/node_modules', '@charmland/crush', { version: SECRET_VERSION, bin: { crush: 'cli.js' } });
    t.rawLink(
      'home/mallory/.npm-global/lib/node_modules/@charmland/crush',
      t.path('vault/node_modules/@charmland/crush'),
    );
    // Native installer versions that are links to the root-only folder, to a file there and
    // to nothing there: no version is reported for either.
    t.file('vault/claude-2.0.1', `#!/bin/sh\n# ${SECRET_MARK}\n`, 0o755);
    t.rawLink('home/mallory/.local/share/claude/versions/2.0.1', t.path('vault/claude-2.0.1'));
    t.rawLink('home/mallory/.local/share/claude/versions/2.0.2', t.path('vault/claude-2.0.2'));
    // Links that pass through the root-only folder and come back into the home (`name/../..`,
    // which resolves only if `name` exists there): they lead nowhere, whether it exists or not.
    for (const [version, via] of [
      ['2.0.3', 'node_modules'],
      ['2.0.4', 'no-such-name'],
    ] as const) {
      t.file(`home/mallory/apps/claude-${version}`, '#!/bin/sh\n', 0o755);
      t.rawLink(
        `home/mallory/.local/share/claude/versions/${version}`,
        `${t.path('vault')}/${via}/../../home/mallory/apps/claude-${version}`,
      );
    }
    // Python: a uv receipt's entry point and a pip RECORD line naming the root-only folder, and
    // a top_level.txt folder that is a link there, existing or not: nothing of it shows.
    const uvTool = 'home/mallory/.local/share/uv/tools/aider-chat';
    t.file(
      `${uvTool}/uv-receipt.toml`,
      `[tool]\nrequirements = [{ name = "aider-chat" }]\nentrypoints = [\n  { name = "aider", install-path = "${t.path('vault')}/node_modules/../../${uvTool}/bin/aider" },\n  { name = "aider2", install-path = "${t.path('vault')}/claude-2.0.1" },\n]\n`,
    );
    t.file(
      `${uvTool}/lib/python3.12/site-packages/aider_chat-0.60.0.dist-info/METADATA`,
      'Name: aider-chat\nVersion: 0.60.0\n\n',
    );
    t.file(`${uvTool}/bin/aider`, '#!/bin/sh\n', 0o755);
    for (const [py, via] of [
      ['3.11', 'node_modules'],
      ['3.12', 'no-such-name'],
    ] as const) {
      const sp = `home/mallory/.local/lib/python${py}/site-packages`;
      t.file(`${sp}/aider_chat-0.50.0.dist-info/METADATA`, 'Name: aider-chat\nVersion: 0.50.0\n\n');
      t.file(`${sp}/aider_chat-0.50.0.dist-info/top_level.txt`, 'aider\n');
      t.file(
        `${sp}/aider_chat-0.50.0.dist-info/RECORD`,
        `../../../../../../vault/${via === 'node_modules' ? 'claude-2.0.1' : via},,\n`,
      );
      t.rawLink(`${sp}/aider`, `${t.path('vault')}/${via}`);
    }
    // Control: a link to the user's own install in the home is followed into it.
    npmPackage(t, 'home/mallory/apps/node_modules', '@sourcegraph/amp', { version: '0.0.1', bin: { amp: 'cli.js' } });
    t.rawLink(`${bin}/amp`, join(home, 'apps/node_modules/@sourcegraph/amp/cli.js'));
    execFileSync('chown', [
      '-R',
      '-h',
      `${uid}:${gid}`,
      join(home, '.local'),
      join(home, 'apps'),
      join(home, '.cargo'),
      join(home, 'go'),
    ]);
    execFileSync('chown', ['-h', `${uid}:${gid}`, join(modules(), '@charmland'), join(modules(), '@charmland/crush')]);

    const result = await scanMachine({ homes: [home], ...quiet });
    const text = JSON.stringify(result);
    expect(text).not.toContain(SECRET_MARK);
    expect(result.instances.map((i) => i.version)).not.toContain(SECRET_VERSION);
    for (const hidden of ['vault', 'other/private', 'secret-target-name']) expect(text).not.toContain(t.path(hidden));
    // One word for an install beyond reach and for a name that is not there.
    const reasons = new Set(
      ['claude', 'codex', 'qwen', 'gemini', 'opencode'].map(
        (name) => result.skipped.find((s) => s.path === join(home, '.local/bin', name))?.reason,
      ),
    );
    expect([...reasons]).toEqual([LINK_NOT_FOLLOWED]);
    expect(summary(result.instances)).toContain('amp 0.0.1 npm mallory');
    expect(result.instances.map((i) => i.version)).not.toEqual(expect.arrayContaining(['2.0.1']));
    expect(result.instances.map((i) => i.version)).not.toEqual(expect.arrayContaining(['2.0.2']));
    expect(result.instances.map((i) => i.version)).not.toEqual(expect.arrayContaining(['2.0.3']));
    expect(result.instances.map((i) => i.version)).not.toEqual(expect.arrayContaining(['2.0.4']));
    expect(result.instances.map((i) => i.version)).not.toEqual(expect.arrayContaining(['2.0.5']));
    expect(result.instances.map((i) => i.version)).not.toEqual(expect.arrayContaining(['2.0.6']));
    // Both site-packages report the distribution (at its dist-info), the link existing or not.
    expect(
      result.instances
        .filter((i) => i.channel === 'pip')
        .map((i) => i.installPath)
        .sort(),
    ).toEqual(
      ['3.11', '3.12'].map((py) => join(home, `.local/lib/python${py}/site-packages/aider_chat-0.50.0.dist-info`)),
    );
    const shims = ['.cargo/bin/claude', 'go/bin/claude'].map((rel) =>
      result.instances.find((i) => i.launchers.includes(join(home, rel))),
    );
    expect(shims.map((i) => i && `${i.channel} ${i.installPath}`)).toEqual([
      `binary ${join(home, '.cargo/bin/claude')}`,
      `binary ${join(home, 'go/bin/claude')}`,
    ]);
  });

  it('reads the same files when the link target is the user-readable copy', async () => {
    // Control: the same link made to a file the user owns inside the home is read, so the
    // refusals above come from ownership and location, not from the link itself.
    const own = t.json('home/mallory/notes/codex.json', {
      name: '@openai/codex',
      version: '0.7.7',
      bin: { codex: 'bin/codex.js' },
    });
    execFileSync('chown', ['-h', `${uid}:${gid}`, own]);
    execFileSync('ln', ['-sfn', own, join(modules(), '@openai/codex/package.json')]);
    execFileSync('chown', ['-h', `${uid}:${gid}`, join(modules(), '@openai/codex/package.json')]);
    const result = await scanMachine({ homes: [home], ...quiet });
    expect(summary(result.instances)).toContain('openai-codex-cli 0.7.7 npm mallory');
  });
});
