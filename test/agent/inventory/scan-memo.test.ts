/**
 * What the daemon's scans reuse of the scan before (agent/inventory/memo.ts), on a real Claude Code
 * 2.0.46 from the npm registry in an npm global prefix: the same instances and skips as a scan that
 * reads everything, and never a stale answer when the owner edits a file in place and sets its
 * mtime back (only the kernel sets ctime), adds a package, or a new catalog arrives. Also the
 * scan's realpath by components (fs.ts) against realpath(3) on links, `..`, loops and missing names.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createContext } from '../../../agent/inventory/context.js';
import { ScanFs } from '../../../agent/inventory/fs.js';
import { scanMachine, ScanMemo, type ScanOptions, type ScanResult } from '../../../agent/inventory/index.js';
import { MAX_KEPT_PER_OWNER, RACY_MS as RACY_MS_FOR_TESTS } from '../../../agent/inventory/memo.js';
import { builtinCatalog } from '../../../policies/catalog/index.js';
import type { ToolInstance } from '../../../policies/inventory.js';
import { cleanup, npmGlobal as fakeNpmGlobal, npmPackage, scratch, type Tree } from './fixtures.js';
import { INSTALL_TIMEOUT_MS, npmInstallGlobal } from './real-npm.js';

afterAll(cleanup);

const t = scratch('aigate-memo-');
const home = t.path('home/alice');
const prefix = t.path('home/alice/.npm-global');
const modules = `${prefix}/lib/node_modules`;
const claudeDir = `${modules}/@anthropic-ai/claude-code`;
/**
 * A helper whose bin (named `claude`, so its content is looked at) is, at first, a harmless
 * script the size of Claude Code's cli.js.
 */
const helperCli = `${modules}/team-helper/cli.js`;
const options: ScanOptions = { homes: [home], paths: [], detectRunning: false };

/** The memo keeps nothing younger than its racy window (3 s): the tree must be older. */
const RACY_WAIT_MS = 3200;
const isRoot = process.platform === 'linux' && process.getuid?.() === 0;
/** A real unprivileged account for the owner test (made if missing; no home folder). */
const MEMO_USER = 'aigt-memo';

beforeAll(async () => {
  npmInstallGlobal(prefix, ['@anthropic-ai/claude-code@2.0.46'], { omitOptional: true });
  const size = statSync(`${claudeDir}/cli.js`).size;
  npmPackage(t, 'home/alice/.npm-global/lib/node_modules', 'team-helper', {
    version: '1.0.0',
    bin: { claude: 'cli.js' },
  });
  writeFileSync(helperCli, Buffer.concat([Buffer.from('#!/usr/bin/env node\n'), Buffer.alloc(size - 20, 0x20)]));
  await new Promise((resolve) => setTimeout(resolve, RACY_WAIT_MS));
}, INSTALL_TIMEOUT_MS + RACY_WAIT_MS);

const brief = (i: ToolInstance) => `${i.toolId} ${i.version ?? 'no version'} ${i.installPath}`;
const same = (r: ScanResult) => JSON.stringify([r.instances, r.skipped]);

/** Sets a file's mtime back to exactly `mtimeNs` (GNU touch takes @seconds.nanoseconds). */
function setMtime(file: string, mtimeNs: bigint): void {
  const seconds = mtimeNs / 1_000_000_000n;
  const nanos = (mtimeNs % 1_000_000_000n).toString().padStart(9, '0');
  execFileSync('touch', ['-m', '-d', `@${seconds}.${nanos}`, file]);
  expect(statSync(file, { bigint: true }).mtimeNs).toBe(mtimeNs);
}

describe('a scan with the memo of the scan before', () => {
  const memo = new ScanMemo();

  it('finds what a scan reading everything finds, and keeps listings and manifests for the next', async () => {
    const fresh = await scanMachine(options);
    const first = await scanMachine({ ...options, memo });
    const second = await scanMachine({ ...options, memo });
    expect(same(first)).toBe(same(fresh));
    expect(same(second)).toBe(same(fresh));
    expect(fresh.instances.map(brief)).toEqual([`claude-code 2.0.46 ${realpathSync(claudeDir)}`]);
    expect(memo.size.listings).toBeGreaterThan(3);
    expect(memo.size.files).toBeGreaterThan(1);
  });

  it('sees a manifest edited in place with its size and mtime kept', async () => {
    const manifest = `${claudeDir}/package.json`;
    const before = statSync(manifest, { bigint: true });
    const text = readFileSync(manifest, 'utf8');
    expect(text).toContain('"version": "2.0.46"');
    writeFileSync(manifest, text.replace('"version": "2.0.46"', '"version": "2.0.47"'));
    setMtime(manifest, before.mtimeNs);
    const after = statSync(manifest, { bigint: true });
    expect([after.ino, after.size]).toEqual([before.ino, before.size]);
    const scanned = await scanMachine({ ...options, memo });
    expect(scanned.instances.map(brief)).toEqual([`claude-code 2.0.47 ${realpathSync(claudeDir)}`]);
  });

  it('sees a harmless bin overwritten in place with Claude Code, size and mtime kept', async () => {
    // Known first as nothing, by content (the verdict is cached by contentKey)...
    expect((await scanMachine({ ...options, memo })).instances.map((i) => i.toolId)).toEqual(['claude-code']);
    const before = statSync(helperCli, { bigint: true });
    copyFileSync(`${claudeDir}/cli.js`, helperCli);
    setMtime(helperCli, before.mtimeNs);
    expect(statSync(helperCli, { bigint: true }).size).toBe(before.size);
    // ...then as the Claude Code it now is, with or without a memo.
    for (const scanned of [await scanMachine({ ...options, memo }), await scanMachine(options)]) {
      const found = scanned.instances.find((i) => i.installPath === realpathSync(`${modules}/team-helper`));
      expect(found?.toolId).toBe('claude-code');
    }
  });

  it('sees a package added to a folder it listed before', async () => {
    fakeNpmGlobal(t, 'home/alice/.npm-global', '@openai/codex', { version: '0.111.0', bin: { codex: 'bin/codex.js' } });
    const scanned = await scanMachine({ ...options, memo });
    expect(scanned.instances.map((i) => `${i.toolId} ${i.version}`)).toContain('openai-codex-cli 0.111.0');
  });

  it('makes nothing of a file with the values of another catalog', async () => {
    const withoutClaude = {
      ...builtinCatalog,
      tools: builtinCatalog.tools.filter((tool) => tool.id !== 'claude-code'),
    };
    const other = await scanMachine({ ...options, memo, catalog: withoutClaude });
    expect(other.instances.map((i) => i.toolId)).not.toContain('claude-code');
    const back = await scanMachine({ ...options, memo });
    expect(back.instances.map((i) => i.toolId)).toContain('claude-code');
  });

  it('serves one scan at a time: two at once find the same', async () => {
    const [a, b] = await Promise.all([scanMachine({ ...options, memo }), scanMachine({ ...options, memo })]);
    expect(same(a)).toBe(same(b));
    expect(same(await scanMachine(options))).toBe(same(a));
  });
});

describe('a scan with the memo, on roots that appear and Python metadata edited in place', () => {
  const u = scratch('aigate-memo-roots-');
  const bob = u.path('home/bob');
  const bobOptions: ScanOptions = { homes: [bob], paths: [], detectRunning: false };
  const metadataRel =
    'home/bob/.local/share/uv/tools/aider-chat/lib/python3.12/site-packages/aider_chat-0.86.1.dist-info/METADATA';
  const metadata = u.path(metadataRel);
  const memo = new ScanMemo();

  beforeAll(async () => {
    // A uv tool as uv lays it out (uv-receipt.toml, dist-info METADATA); docs.astral.sh/uv/concepts/tools.
    const tool = 'home/bob/.local/share/uv/tools/aider-chat';
    u.file(`${tool}/uv-receipt.toml`, '[tool]\nrequirements = [{ name = "aider-chat" }]\n');
    u.file(`${tool}/pyvenv.cfg`, 'home = /usr/bin\nversion_info = 3.12.10\n');
    u.file(metadataRel, 'Metadata-Version: 2.4\nName: aider-chat\nVersion: 0.86.1\n\n');
    u.file('home/bob/.bashrc', 'export EDITOR=vi\n');
    await new Promise((resolve) => setTimeout(resolve, RACY_WAIT_MS));
  }, 2 * RACY_WAIT_MS);

  it('sees METADATA edited in place with its size and mtime kept', async () => {
    const fresh = await scanMachine(bobOptions);
    expect(fresh.instances.map((i) => `${i.toolId} ${i.version}`)).toEqual(['aider 0.86.1']);
    expect(same(await scanMachine({ ...bobOptions, memo }))).toBe(same(fresh));
    // The receipt and METADATA are kept (the memo answers for them on this scan)...
    expect(memo.size.files).toBeGreaterThanOrEqual(2);
    const before = statSync(metadata, { bigint: true });
    writeFileSync(metadata, readFileSync(metadata, 'utf8').replace('0.86.1', '0.86.2'));
    setMtime(metadata, before.mtimeNs);
    expect(statSync(metadata, { bigint: true }).size).toBe(before.size);
    const scanned = await scanMachine({ ...bobOptions, memo });
    expect(scanned.instances.map((i) => `${i.toolId} ${i.version}`)).toEqual(['aider 0.86.2']);
  });

  it('finds a root that a scan before found missing from the home (an npx run since)', async () => {
    expect((await scanMachine({ ...bobOptions, memo })).instances.map((i) => i.toolId)).toEqual(['aider']);
    npmPackage(u, 'home/bob/.npm/_npx/1f2e3d4c5b6a7980/node_modules', '@openai/codex', {
      version: '0.111.0',
      bin: { codex: 'bin/codex.js' },
    });
    const scanned = await scanMachine({ ...bobOptions, memo });
    expect(scanned.instances.map((i) => `${i.toolId} ${i.version}`).sort()).toEqual([
      'aider 0.86.2',
      'openai-codex-cli 0.111.0',
    ]);
    expect(same(scanned)).toBe(same(await scanMachine(bobOptions)));
  });
});

describe('a scan with the memo, on a VS Code extensions.json edited in place', () => {
  const v = scratch('aigate-memo-vscode-');
  const carol = v.path('home/carol');
  const carolOptions: ScanOptions = { homes: [carol], paths: [], detectRunning: false };
  const extensions = 'home/carol/.vscode/extensions';
  const list = v.path(`${extensions}/extensions.json`);
  /** One entry as VS Code writes it (identifier, version, relativeLocation), for version `at`. */
  const listing = (at: string) =>
    JSON.stringify([
      {
        identifier: { id: 'anthropic.claude-code' },
        version: at,
        relativeLocation: `anthropic.claude-code-${at}-linux-x64`,
      },
    ]);
  const memo = new ScanMemo();

  beforeAll(async () => {
    v.json(`${extensions}/anthropic.claude-code-2.1.50-linux-x64/package.json`, {
      name: 'claude-code',
      publisher: 'Anthropic',
      version: '2.1.50',
    });
    // The folder of 2.1.50 is there, but the list names 2.1.49: the editor has not installed it.
    v.file(`${extensions}/extensions.json`, listing('2.1.49'));
    await new Promise((resolve) => setTimeout(resolve, RACY_WAIT_MS));
  }, 2 * RACY_WAIT_MS);

  it('sees the extension once the list names it, size and mtime kept', async () => {
    const fresh = await scanMachine(carolOptions);
    expect(fresh.instances).toEqual([]);
    expect(same(await scanMachine({ ...carolOptions, memo }))).toBe(same(fresh));
    expect(same(await scanMachine({ ...carolOptions, memo }))).toBe(same(fresh));
    expect(memo.size.files).toBeGreaterThanOrEqual(1);
    const before = statSync(list, { bigint: true });
    writeFileSync(list, listing('2.1.50'));
    setMtime(list, before.mtimeNs);
    expect(statSync(list, { bigint: true }).size).toBe(before.size);
    const scanned = await scanMachine({ ...carolOptions, memo });
    expect(scanned.instances.map((i) => `${i.toolId} ${i.version}`)).toEqual(['claude-code 2.1.50']);
    expect(same(scanned)).toBe(same(await scanMachine(carolOptions)));
  });
});

/**
 * Files the memo keeps besides manifests and listings: shell startup files, .npmrc, .yarnrc, a VS
 * Code extension's package.json and .obsolete. Each case is one home; every file is edited in
 * place to the same size with its mtime set back, and the next scan with the memo must find what
 * a scan reading everything finds.
 */
describe('a scan with the memo, on startup files and editor files edited in place', () => {
  const w = scratch('aigate-memo-kept-');
  // Hidden prefixes: the home walk (home-prefixes.ts) would find a visible one without being told.
  const codex = (prefixRel: string, version: string) =>
    fakeNpmGlobal(w, prefixRel, '@openai/codex', { version, bin: { codex: 'bin/codex.js' } });
  const extension = 'anthropic.claude-code-2.1.50-linux-x64';
  interface Case {
    user: string;
    /** The file edited, relative to the home, its text before and after (same length). */
    file: string;
    before: string;
    after: string;
    /** Lays out what the home holds besides that file. */
    layout: (home: string) => void;
    found: [string[], string[]];
  }
  const cases: Case[] = [
    {
      user: 'bash',
      file: '.bashrc',
      before: 'export NPM_CONFIG_PREFIX="$HOME/.pfxA"\n',
      after: 'export NPM_CONFIG_PREFIX="$HOME/.pfxB"\n',
      layout: (home) => (codex(`${home}/.pfxA`, '0.111.0'), codex(`${home}/.pfxB`, '0.112.0')),
      found: [['openai-codex-cli 0.111.0'], ['openai-codex-cli 0.112.0']],
    },
    {
      user: 'fish',
      file: '.config/fish/config.fish',
      before: 'set -gx NPM_CONFIG_PREFIX ~/.pfxA\n',
      after: 'set -gx NPM_CONFIG_PREFIX ~/.pfxB\n',
      layout: (home) => (codex(`${home}/.pfxA`, '0.111.0'), codex(`${home}/.pfxB`, '0.112.0')),
      found: [['openai-codex-cli 0.111.0'], ['openai-codex-cli 0.112.0']],
    },
    {
      user: 'npmrc',
      file: '.npmrc',
      before: 'prefix=~/.pfxA\n',
      after: 'prefix=~/.pfxB\n',
      layout: (home) => (codex(`${home}/.pfxA`, '0.111.0'), codex(`${home}/.pfxB`, '0.112.0')),
      found: [['openai-codex-cli 0.111.0'], ['openai-codex-cli 0.112.0']],
    },
    {
      user: 'yarnrc',
      file: '.yarnrc',
      before: 'global-folder "~/ygA"\n',
      after: 'global-folder "~/ygB"\n',
      layout: (home) => {
        npmPackage(w, `${home}/ygA/node_modules`, '@openai/codex', { version: '0.111.0' });
        npmPackage(w, `${home}/ygB/node_modules`, '@openai/codex', { version: '0.112.0' });
      },
      found: [['openai-codex-cli 0.111.0'], ['openai-codex-cli 0.112.0']],
    },
    {
      user: 'manifest',
      file: `.vscode/extensions/${extension}/package.json`,
      before: JSON.stringify({ name: 'claude-code', publisher: 'Anthropic', version: '2.1.50' }),
      after: JSON.stringify({ name: 'claude-code', publisher: 'Anthropic', version: '2.1.51' }),
      layout: () => undefined,
      found: [['claude-code 2.1.50'], ['claude-code 2.1.51']],
    },
    {
      user: 'obsolete',
      file: '.vscode/extensions/.obsolete',
      before: `{"${extension}":false}`,
      after: `{"${extension}":true }`,
      layout: (home) =>
        w.json(`${home}/.vscode/extensions/${extension}/package.json`, {
          name: 'claude-code',
          publisher: 'Anthropic',
          version: '2.1.50',
        }),
      found: [['claude-code 2.1.50'], []],
    },
  ];
  const homeOf = (c: Case) => `home/${c.user}`;
  const optionsOf = (c: Case): ScanOptions => ({ homes: [w.path(homeOf(c))], paths: [], detectRunning: false });
  const versions = (r: ScanResult) => r.instances.map((i) => `${i.toolId} ${i.version}`).sort();
  const memos = new Map(cases.map((c) => [c.user, new ScanMemo()]));

  beforeAll(async () => {
    for (const c of cases) {
      expect(Buffer.byteLength(c.after)).toBe(Buffer.byteLength(c.before));
      c.layout(homeOf(c));
      w.file(`${homeOf(c)}/${c.file}`, c.before);
    }
    await new Promise((resolve) => setTimeout(resolve, RACY_WAIT_MS));
  }, 2 * RACY_WAIT_MS);

  it.each(cases)('$file: kept while unchanged, read again once edited in place', async (c) => {
    const memo = memos.get(c.user)!;
    const fresh = await scanMachine(optionsOf(c));
    expect(versions(fresh)).toEqual(c.found[0]);
    expect(same(await scanMachine({ ...optionsOf(c), memo }))).toBe(same(fresh));
    const kept = memo.size.files;
    expect(same(await scanMachine({ ...optionsOf(c), memo }))).toBe(same(fresh));
    expect(memo.size.files).toBe(kept);
    const file = w.path(homeOf(c), c.file);
    const before = statSync(file, { bigint: true });
    writeFileSync(file, c.after);
    setMtime(file, before.mtimeNs);
    expect(statSync(file, { bigint: true }).size).toBe(before.size);
    const scanned = await scanMachine({ ...optionsOf(c), memo });
    expect(versions(scanned)).toEqual(c.found[1]);
    expect(same(scanned)).toBe(same(await scanMachine(optionsOf(c))));
  });
});

describe('what a scan leaves to the memo when it ends', () => {
  it("hands every scan the same checkpoint functions, and empties the context's skips and caches at the end", () => {
    const memo = new ScanMemo();
    const first = createContext({ ...options, memo });
    first.ctx.skip('/somewhere', 'a reason');
    const real = first.ctx.fs.realpath(home);
    first.finish();
    const second = createContext({ ...options, memo });
    // Methods, not closures made per scan: optimized scanner code built around one scan's
    // closures was thrown away when the memo's idle collection dropped them (ScanMemo.lastScan).
    expect(second.ctx.expired).toBe(first.ctx.expired);
    expect(second.ctx.skip).toBe(first.ctx.skip);
    expect(second.ctx.breathe).toBe(first.ctx.breathe);
    // What the memo holds of the first scan is emptied: its skips, and (the same answer again,
    // found anew) its file system view's caches.
    expect(first.skips.all()).toEqual([]);
    expect(first.ctx.fs.realpath(home)).toBe(real);
    second.finish();
    // A context made without a memo keeps its skips for its caller.
    const alone = createContext(options);
    alone.ctx.skip('/somewhere', 'a reason');
    alone.finish();
    expect(alone.skips.all()).toEqual([{ path: '/somewhere', reason: 'a reason' }]);
  });
});

describe('what the memo keeps, and whose share it counts against', () => {
  it('charges a file value by the text it was made from: one huge list reached by many links is not kept again and again', async () => {
    const w = scratch('aigate-memo-cost-');
    const profiles = 'home/dave/.config/Code/User/profiles';
    // A 2 MB extensions.json (8,192 units) and ten links to its profile folder: eleven paths.
    const entry = (i: number) => ({
      identifier: { id: `someone.ext-${i}` },
      version: '1.0.0',
      relativeLocation: `someone.ext-${i}-1.0.0`,
    });
    const list = JSON.stringify(Array.from({ length: 24_000 }, (_, i) => entry(i)));
    expect(list.length).toBeGreaterThan(2 * 1024 * 1024);
    w.file(`${profiles}/real/extensions.json`, list);
    for (let i = 1; i <= 10; i++) w.rawLink(`${profiles}/p${i}`, 'real');
    await new Promise((resolve) => setTimeout(resolve, RACY_WAIT_MS));
    const memo = new ScanMemo();
    const daveOptions: ScanOptions = { homes: [w.path('home/dave')], paths: [], detectRunning: false };
    const fresh = await scanMachine(daveOptions);
    expect(same(await scanMachine({ ...daveOptions, memo }))).toBe(same(fresh));
    // Each kept copy costs what its text does: the owner's share holds six of the eleven.
    const owner = statSync(w.path(`${profiles}/real/extensions.json`)).uid;
    expect(memo.costOf(owner)).toBeLessThanOrEqual(MAX_KEPT_PER_OWNER);
    expect(memo.size.files).toBeLessThan(11);
    expect(memo.size.files).toBeGreaterThan(0);
    expect(same(await scanMachine({ ...daveOptions, memo }))).toBe(same(fresh));
  }, 60_000);

  it('keeps no listing of /proc, whose folder stamp stays as processes come and go', () => {
    const memo = new ScanMemo();
    const w = scratch('aigate-memo-proc-');
    const dir = w.dir('plain');
    w.file('plain/a', '');
    memo.begin(builtinCatalog, Date.now() + RACY_MS_FOR_TESTS + 1000);
    const fs = new ScanFs({ add: () => undefined }, 100_000, false, memo);
    expect(fs.list('/proc')?.some((e) => e.name === 'self')).toBe(true);
    expect(memo.size.listings).toBe(0);
    expect(fs.list(dir)?.map((e) => e.name)).toEqual(['a']);
    expect(memo.size.listings).toBe(1);
    memo.end();
  });

  it.skipIf(!isRoot)(
    "charges a user's links to system folders to that user, not to root",
    async () => {
      const made = spawnSync('useradd', ['--no-create-home', '--shell', '/bin/sh', MEMO_USER], { encoding: 'utf8' });
      if (made.status !== 0 && made.status !== 9) throw new Error(`useradd ${MEMO_USER}: ${made.stderr}`);
      const uid = Number(execFileSync('id', ['-u', MEMO_USER], { encoding: 'utf8' }).trim());
      const w = scratch('aigate-memo-owner-');
      chmodSync(w.root, 0o755);
      const erin = w.dir('home/erin');
      // Root-owned, world-readable system folders (a real /usr/share/doc) under the user's npm prefix.
      w.dir('home/erin/.npm-global/lib/node_modules');
      for (let i = 1; i <= 3; i++) w.rawLink(`home/erin/.npm-global/lib/node_modules/@s${i}`, '/usr/share/doc');
      execFileSync('chown', ['-R', '-h', `${uid}:${uid}`, erin]);
      await new Promise((resolve) => setTimeout(resolve, RACY_WAIT_MS));
      const memo = new ScanMemo();
      // No startup files: /etc/environment, a system file the memo keeps, would be root's.
      const erinOptions: ScanOptions = { homes: [erin], paths: [], detectRunning: false, userEnvironment: false };
      await scanMachine({ ...erinOptions, memo });
      expect(memo.size.listings).toBeGreaterThan(3);
      expect(memo.costOf(uid)).toBeGreaterThan(3);
      // Nothing outside the home was scanned: nothing is root's.
      expect(memo.costOf(0)).toBe(0);
    },
    30_000,
  );
});

describe("the scan's realpath by components", () => {
  const tree: Tree = scratch('aigate-realpath-');
  const skips = { add: () => undefined };
  const paths: string[] = [];

  beforeAll(() => {
    tree.file('real/lib/node_modules/pkg/cli.js', '');
    tree.dir('real/other');
    tree.link('real/bin/pkg', 'real/lib/node_modules/pkg/cli.js');
    tree.rawLink('abs', tree.path('real/lib'));
    tree.rawLink('chain1', 'chain2');
    tree.rawLink('chain2', 'real/bin/pkg');
    tree.rawLink('real/up', '../real/other/../lib');
    tree.rawLink('real/dots', './lib/./node_modules');
    tree.rawLink('real/trailing', 'lib/');
    tree.rawLink('real/parent', '..');
    tree.rawLink('dangling', 'nowhere/at/all');
    tree.rawLink('loop1', 'loop2');
    tree.rawLink('loop2', 'loop1');
    tree.rawLink('real/lib/self', '.');
    tree.rawLink('real/dotslash', './lib');
    tree.rawLink('real/mid', 'other/../lib/./node_modules/');
    tree.rawLink('real/through-file', 'lib/node_modules/pkg/cli.js/../cli.js');
    tree.rawLink('real/up-link', 'dotslash/../other');
    // Chains: 45 links (over the kernel's 40), and 30 + 30 in one path (ELOOP too), 30 alone (fine).
    for (let i = 1; i <= 45; i++) tree.rawLink(`long${i}`, i === 45 ? 'real/lib' : `long${i + 1}`);
    for (let i = 1; i <= 30; i++) tree.rawLink(`p${i}`, i === 30 ? 'real/lib' : `p${i + 1}`);
    for (let i = 1; i <= 30; i++) tree.rawLink(`real/lib/f${i}`, i === 30 ? 'node_modules' : `f${i + 1}`);
    const r = tree.root;
    paths.push(
      ...[
        'real/lib/node_modules/pkg/cli.js',
        'real/bin/pkg',
        'abs/node_modules/pkg/cli.js',
        'chain1',
        'real/up/node_modules',
        'real/dots/pkg',
        'real/trailing/node_modules',
        'real/parent/real/bin/pkg',
        'real/lib/self/self/node_modules',
        'dangling',
        'loop1',
        'loop1/x',
        'missing/deeper',
        'real/lib/node_modules/pkg/cli.js/not-a-dir',
        'real/../real/bin/pkg',
        'real/./lib',
        'real/lib/',
        'long30/node_modules',
        'long1/node_modules',
        'long1',
        'p1/node_modules',
        'p1/f1',
        'p15/f20/pkg',
        'real/lib/f1/pkg',
        'real/dotslash/node_modules',
        'real/mid/pkg/cli.js',
        'real/through-file',
        'real/up-link',
      ].map((p) => `${r}/${p}`),
      r,
      '/',
      '/proc/self/cwd',
    );
  });

  it('gives realpath(3)’s answer for every path (null where it fails)', () => {
    const fs = new ScanFs(skips, 1000, false);
    const native = (p: string) => {
      try {
        return realpathSync.native(p);
      } catch {
        return null;
      }
    };
    // Twice: the second time from the scan's cache, after every parent was resolved; then in the
    // other order on a fresh scan (the deep end of a chain first), which must not change answers.
    for (let round = 0; round < 2; round++)
      for (const p of paths) expect({ path: p, real: fs.realpath(p) }).toEqual({ path: p, real: native(p) });
    const reversed = new ScanFs(skips, 1000, false);
    const deepFirst = [...Array.from({ length: 45 }, (_, i) => `${tree.root}/long${45 - i}`), ...paths.toReversed()];
    for (const p of deepFirst) expect({ path: p, real: reversed.realpath(p) }).toEqual({ path: p, real: native(p) });
  });

  it('gives the same answers in a guarded home, where it never asks realpath(3), for links with `.` and `..`', () => {
    const fs = new ScanFs(skips, 1000, true);
    // (A root-owned home is trusted whole, never guarded: any other uid guards it, and must be
    // able to walk the tree, as its owner would.)
    chmodSync(tree.root, 0o755);
    fs.guardHomes([{ dir: tree.root, real: realpathSync(tree.root), uid: statSync(tree.root).uid || 65534 }]);
    const native = (p: string) => {
      try {
        return realpathSync.native(p);
      } catch {
        return null;
      }
    };
    // Paths the scanners make are plain (path.join); a link's target may be anything.
    const plain = paths.filter((p) => p.startsWith(tree.root) && !/\/\.{0,2}(\/|$)/.test(p));
    expect(plain.length).toBeGreaterThan(20);
    for (const p of plain) expect({ path: p, real: fs.realpath(p) }).toEqual({ path: p, real: native(p) });
  });
});
