/**
 * Copies that live in package-runner caches and pnpm's newer layouts (issue 12 items 1 and 2), made
 * by the real installers: what `npx` ran stays in ~/.npm/_npx; pnpm 12's global install lives in
 * $PNPM_HOME/global/v11/<hash>/node_modules linked into store/v11/links; pnpm 10 keeps the platform
 * package in global/5/.pnpm. Each is found as the tool, with its platform package as a part, and
 * the pnpm launcher still runs the allowed tool.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { scanMachine } from '../../../agent/inventory/index.js';
import { bunCacheEntryName } from '../../../agent/inventory/scanners/caches.js';
import type { ToolInstance } from '../../../policies/inventory.js';
import { cleanup, npmPackage, scratch } from './fixtures.js';
import { INSTALL_TIMEOUT_MS, npxHomeWithCache, npxRun, pnpmDlxHome, pnpmGlobalHome } from './real-npm.js';

afterAll(cleanup);

const t = scratch('aigate-npm-caches-');
const npxHome = t.path('home/npx');
const pnpm12 = t.path('home/p12');
const pnpm10 = t.path('home/p10');
const dlxHome = t.path('home/dlx');
/** Homes whose npm cache the user moved: `cache=` in ~/.npmrc, npm_config_cache in ~/.bashrc. */
const rcCacheHome = t.path('home/rc-cache');
const envCacheHome = t.path('home/env-cache');
let npxVersion = '';
const found: Record<string, ToolInstance[]> = {};

beforeAll(async () => {
  t.dir('home/npx');
  npxVersion = npxRun(npxHome, '@anthropic-ai/claude-code@2.0.46', 'claude');
  pnpmGlobalHome(pnpm12, '12.21.0', ['@openai/codex@0.111.0']);
  pnpmGlobalHome(pnpm10, '10.34.9', ['@openai/codex@0.111.0']);
  pnpmDlxHome(dlxHome, '10.34.9', '@anthropic-ai/claude-code@2.0.46');
  // npm's `cache` setting (docs.npmjs.com "config: cache"): npx keeps `_npx` in that folder.
  t.file('home/rc-cache/.npmrc', 'cache=~/.npmc2\n');
  npxRun(rcCacheHome, '@anthropic-ai/claude-code@2.0.46', 'claude', `${rcCacheHome}/.npmc2`);
  t.file('home/env-cache/.bashrc', 'export npm_config_cache=$HOME/.cache/npmx\n');
  npxRun(envCacheHome, '@anthropic-ai/claude-code@2.0.46', 'claude', `${envCacheHome}/.cache/npmx`);
  for (const [name, home] of [
    ['npx', npxHome],
    ['p12', pnpm12],
    ['p10', pnpm10],
    ['dlx', dlxHome],
    ['rc', rcCacheHome],
    ['env', envCacheHome],
  ] as const) {
    found[name] = (await scanMachine({ homes: [home], paths: [], detectRunning: false })).instances;
  }
}, INSTALL_TIMEOUT_MS * 4);

describe('package-runner caches and pnpm layouts, as the installers make them', () => {
  it('finds what npx ran in ~/.npm/_npx, with its .bin launcher', () => {
    expect(npxVersion).toMatch(/^2\.0\.46/);
    const claude = found.npx!.filter((i) => i.toolId === 'claude-code');
    expect(claude.map((i) => [i.version, i.installPath.replace(npxHome, '~')])).toEqual([
      ['2.0.46', expect.stringMatching(/^~\/\.npm\/_npx\/[0-9a-f]{16}\/node_modules\/@anthropic-ai\/claude-code$/)],
    ]);
    expect(claude[0]!.launchers).toEqual([expect.stringMatching(/\/_npx\/[0-9a-f]{16}\/node_modules\/\.bin\/claude$/)]);
  });

  it('finds a pnpm 12 global install in the store, with the platform package as a part, and the launcher runs', () => {
    const codex = found.p12!.filter((i) => i.toolId === 'openai-codex-cli');
    expect(codex).toHaveLength(1);
    expect(codex[0]!.version).toBe('0.111.0');
    expect(codex[0]!.installPath).toMatch(
      /\/\.local\/share\/pnpm\/store\/v11\/links\/@openai\/codex\/0\.111\.0\/[0-9a-f]+\/node_modules\/@openai\/codex$/,
    );
    // The platform package, and the store's content-addressed names (files/<2 hex>/<126 hex>-exec)
    // of its native binary and of bin/codex.js, hard links of the installed files.
    expect(codex[0]!.parts).toEqual([
      expect.stringMatching(/\/store\/v11\/files\/04\/817942dfb70b[0-9a-f]{114}-exec$/),
      expect.stringMatching(/\/store\/v11\/files\/[0-9a-f]{2}\/[0-9a-f]{126}-exec$/),
      expect.stringMatching(
        /\/store\/v11\/links\/@openai\/codex\/0\.111\.0-linux-x64\/[0-9a-f]+\/node_modules\/@openai\/codex$/,
      ),
    ]);
    expect(codex[0]!.launchers).toEqual([`${pnpm12}/.local/share/pnpm/bin/codex`]);
    expect(execFileSync(`${pnpm12}/.local/share/pnpm/bin/codex`, ['--version'], { encoding: 'utf8' }).trim()).toBe(
      'codex-cli 0.111.0',
    );
  });

  it("hashes no more than a home's share each scan to find store files, and says when it stopped (red-team: 16 sparse 1 GB bins held the scan 40 s)", async () => {
    // A copy of the home (hard links kept): new inodes, so no digest is known yet.
    const copy = t.path('home/p12-copy');
    execFileSync('cp', ['-a', pnpm12, copy]);
    const scan = (maxDigestBytesPerHome?: number) =>
      scanMachine({
        homes: [copy],
        paths: [],
        detectRunning: false,
        ...(maxDigestBytesPerHome ? { limits: { maxDigestBytesPerHome } } : {}),
      });
    const codexOf = (result: Awaited<ReturnType<typeof scan>>) =>
      result.instances.filter((i) => i.toolId === 'openai-codex-cli');
    const short = await scan(1024);
    // Found as before, its platform package still a part; only the store names wait (the
    // sentinel still stops what they run).
    expect(codexOf(short)).toHaveLength(1);
    expect(codexOf(short)[0]!.parts).toEqual([
      expect.stringMatching(/\/store\/v11\/links\/@openai\/codex\/0\.111\.0-linux-x64\//),
    ]);
    expect(short.skipped).toContainEqual({
      path: copy,
      reason: 'pnpm store lookup stopped: more than 1024 bytes to hash this scan',
    });
    // With its share, the next scan finds them.
    const full = await scan();
    expect(codexOf(full)[0]!.parts).toHaveLength(3);
    expect(full.skipped.filter((s) => s.reason.startsWith('pnpm store lookup'))).toEqual([]);
  });

  it('names a store file by its real path when the user replaced its store folder by a link (enforcement never acts through one)', async () => {
    const copy = t.path('home/p12-linked');
    execFileSync('cp', ['-a', pnpm12, copy]);
    const files = `${copy}/.local/share/pnpm/store/v11/files`;
    execFileSync('mv', [`${files}/04`, `${copy}/elsewhere`]);
    execFileSync('ln', ['-s', `${copy}/elsewhere`, `${files}/04`]);
    const result = await scanMachine({ homes: [copy], paths: [], detectRunning: false });
    const codex = result.instances.filter((i) => i.toolId === 'openai-codex-cli');
    expect(codex[0]!.parts).toContainEqual(
      expect.stringMatching(new RegExp(`^${copy}/elsewhere/817942dfb70b[0-9a-f]{114}-exec$`)),
    );
    expect(codex[0]!.parts!.filter((p) => p.startsWith(`${files}/04/`))).toEqual([]);
  });

  it("still finds a store file with a third name inside the install (Claude Code's postinstall links bin/claude.exe to its native binary)", async () => {
    const copy = t.path('home/p12-three');
    execFileSync('cp', ['-a', pnpm12, copy]);
    const before = (await scanMachine({ homes: [copy], paths: [], detectRunning: false })).instances;
    const codex = before.find((i) => i.toolId === 'openai-codex-cli')!;
    const native = codex.parts!.find((p) => /\/files\/04\//.test(p))!;
    execFileSync('ln', [native, `${codex.installPath}/bin/codex.native`]);
    const after = (await scanMachine({ homes: [copy], paths: [], detectRunning: false })).instances;
    expect(after.find((i) => i.toolId === 'openai-codex-cli')!.parts).toEqual(codex.parts);
  });

  it("attaches npm's cached tarball of what npx ran, only when its bytes have the digest the lockfile names (the user writes both)", async () => {
    const home = t.path('home/npx-tarball');
    npxHomeWithCache(home, '@anthropic-ai/claude-code@2.0.46', 'claude');
    const scan = async () =>
      (await scanMachine({ homes: [home], paths: [], detectRunning: false })).instances.find(
        (i) => i.toolId === 'claude-code',
      )!;
    const parts = (await scan()).parts ?? [];
    const tarball = parts.find((p) => p.includes('/_cacache/content-v2/sha512/'));
    expect(tarball).toMatch(/\/\.npm\/_cacache\/content-v2\/sha512\/[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{124}$/);
    // A lockfile edited to name another file of the user's (here: a copy under a made-up digest).
    const forged = 'ab'.repeat(64);
    const cache = `${home}/.npm/_cacache/content-v2/sha512`;
    execFileSync('mkdir', ['-p', `${cache}/ab/ab`]);
    execFileSync('cp', [tarball!, `${cache}/ab/ab/${forged.slice(4)}`]);
    const npx = `${home}/.npm/_npx`;
    const hash = execFileSync('ls', [npx], { encoding: 'utf8' }).trim().split('\n')[0]!;
    const lockfile = `${npx}/${hash}/node_modules/.package-lock.json`;
    const lock = JSON.parse(readFileSync(lockfile, 'utf8')) as { packages: Record<string, { integrity?: string }> };
    lock.packages['node_modules/@anthropic-ai/claude-code']!.integrity =
      `sha512-${Buffer.from(forged, 'hex').toString('base64')}`;
    writeFileSync(lockfile, JSON.stringify(lock));
    expect(((await scan()).parts ?? []).filter((p) => p.includes('/_cacache/'))).toEqual([]);
  });

  it('finds what pnpm dlx ran in ~/.cache/pnpm/dlx (red-team: it ran after the ban)', () => {
    const claude = found.dlx!.filter((i) => i.toolId === 'claude-code');
    expect(claude.map((i) => [i.version, i.installPath.replace(dlxHome, '~')])).toEqual([
      [
        '2.0.46',
        expect.stringMatching(
          /^~\/\.cache\/pnpm\/dlx\/[0-9a-f]{64}\/[^/]+\/node_modules\/\.pnpm\/@anthropic-ai\+claude-code@2\.0\.46\/node_modules\/@anthropic-ai\/claude-code$/,
        ),
      ],
    ]);
  });

  it.each([
    ['rc', "`cache=` in the user's ~/.npmrc", '.npmc2'],
    ['env', 'npm_config_cache exported in ~/.bashrc', '.cache/npmx'],
  ])('finds what npx ran in a cache the user moved (%s: %s; red-team: it ran after the ban)', (name, _how, cache) => {
    const home = name === 'rc' ? rcCacheHome : envCacheHome;
    const claude = found[name]!.filter((i) => i.toolId === 'claude-code');
    expect(claude.map((i) => [i.version, i.installPath.replace(home, '~')])).toEqual([
      [
        '2.0.46',
        expect.stringMatching(
          new RegExp(`^~/${cache.replace('.', '\\.')}/_npx/[0-9a-f]{16}/node_modules/@anthropic-ai/claude-code$`),
        ),
      ],
    ]);
  });

  it("attaches pnpm 10's linked platform package from .pnpm", () => {
    const codex = found.p10!.filter((i) => i.toolId === 'openai-codex-cli');
    expect(
      codex.map((i) => [i.version, i.installPath.replace(pnpm10, '~'), i.parts?.map((p) => p.replace(pnpm10, '~'))]),
    ).toEqual([
      [
        '0.111.0',
        '~/.local/share/pnpm/global/5/.pnpm/@openai+codex@0.111.0/node_modules/@openai/codex',
        [
          '~/.local/share/pnpm/global/5/.pnpm/@openai+codex@0.111.0-linux-x64/node_modules/@openai/codex',
          expect.stringMatching(/^~\/\.local\/share\/pnpm\/store\/v10\/files\/04\/817942dfb70b[0-9a-f]{114}-exec$/),
          expect.stringMatching(/^~\/\.local\/share\/pnpm\/store\/v10\/files\/[0-9a-f]{2}\/[0-9a-f]{126}-exec$/),
        ],
      ],
    ]);
  });
});

describe('bun and yarn caches (layouts from their sources), bunx, and a cache moved by XDG_CACHE_HOME', () => {
  const c = scratch('aigate-caches-');
  const home = c.dir('home/bob');
  // bun: <cache>/<name>@<version>@@@1, scoped under @scope/
  npmPackage(c, 'home/bob/.bun/install/cache/@anthropic-ai', 'claude-code@2.1.50@@@1', {
    raw: JSON.stringify({ name: '@anthropic-ai/claude-code', version: '2.1.50', bin: { claude: 'cli.js' } }),
  });
  npmPackage(c, 'home/bob/.bun/install/cache/@openai', 'codex@0.169.0@@@1', {
    raw: JSON.stringify({ name: '@openai/codex', version: '0.169.0', bin: { codex: 'bin/codex.js' } }),
  });
  npmPackage(c, 'home/bob/.bun/install/cache/@openai', 'codex-linux-x64@0.169.0-linux-x64@@@1', {
    raw: JSON.stringify({ name: '@openai/codex', version: '0.169.0-linux-x64' }),
  });
  // bunx: <bun cache>/.bunx-<uid>/<pkg>@<version>/node_modules/<pkg> (a real bunx of bun 1.4.5)
  npmPackage(
    c,
    'home/bob/.bun/install/cache/.bunx-1000/@anthropic-ai/claude-code@2.0.47/node_modules',
    '@anthropic-ai/claude-code',
    {
      version: '2.0.47',
      bin: { claude: 'cli.js' },
    },
  );
  npmPackage(c, 'home/bob/.bun/install/cache/.bunx-1000/opencode-ai@1.0.120/node_modules', 'opencode-ai', {
    version: '1.0.120',
    bin: { opencode: 'bin/opencode' },
  });
  // yarn 1's cache under XDG_CACHE_HOME set in the user's ~/.profile.
  c.file('home/bob/.profile', 'export XDG_CACHE_HOME="$HOME/.xc"\n');
  npmPackage(
    c,
    'home/bob/.xc/yarn/v6/npm-@qwen-code-qwen-code-0.22.3-0123abcd-integrity/node_modules',
    '@qwen-code/qwen-code',
    { version: '0.22.3', bin: { qwen: 'cli.js' } },
  );
  // yarn 1: v6/npm-<name>-<version>-<hash>-integrity/node_modules/<name>
  npmPackage(
    c,
    'home/bob/.cache/yarn/v6/npm-@google-gemini-cli-0.60.0-0123abcd-integrity/node_modules',
    '@google/gemini-cli',
    { version: '0.60.0', bin: { gemini: 'bundle/gemini.js' } },
  );

  // yarn 1 caches every platform's optional package as an entry of its own (seen with `yarn@1
  // global add @anthropic-ai/claude-code@2.1.200`: npm-@anthropic-ai-claude-code-darwin-arm64-
  // 2.1.200-<hash>-integrity/node_modules/@anthropic-ai/claude-code-darwin-arm64, one per platform).
  npmPackage(
    c,
    'home/bob/.cache/yarn/v6/npm-@anthropic-ai-claude-code-2.1.200-4567cdef-integrity/node_modules',
    '@anthropic-ai/claude-code',
    { version: '2.1.200', bin: { claude: 'bin/claude.exe' } },
  );
  for (const platform of ['darwin-arm64', 'linux-x64', 'win32-x64'])
    npmPackage(
      c,
      `home/bob/.cache/yarn/v6/npm-@anthropic-ai-claude-code-${platform}-2.1.200-89ab${platform.length}-integrity/node_modules`,
      `@anthropic-ai/claude-code-${platform}`,
      { version: '2.1.200' },
    );

  it("finds each copy once, with the bun platform package as a part at the tool's version", async () => {
    const result = (await scanMachine({ homes: [home], paths: [], detectRunning: false })).instances;
    expect(
      result.map(
        (i) =>
          `${i.toolId} ${i.version} ${i.installPath.replace(home, '~')} ${(i.parts ?? []).map((p) => p.replace(home, '~')).join(',')}`,
      ),
    ).toEqual([
      'claude-code 2.0.47 ~/.bun/install/cache/.bunx-1000/@anthropic-ai/claude-code@2.0.47/node_modules/@anthropic-ai/claude-code ',
      'claude-code 2.1.50 ~/.bun/install/cache/@anthropic-ai/claude-code@2.1.50@@@1 ',
      'claude-code 2.1.200 ~/.cache/yarn/v6/npm-@anthropic-ai-claude-code-2.1.200-4567cdef-integrity/node_modules/@anthropic-ai/claude-code ' +
        ['darwin-arm64', 'linux-x64', 'win32-x64']
          .map(
            (platform) =>
              `~/.cache/yarn/v6/npm-@anthropic-ai-claude-code-${platform}-2.1.200-89ab${platform.length}-integrity/node_modules/@anthropic-ai/claude-code-${platform}`,
          )
          .join(','),
      'gemini-cli 0.60.0 ~/.cache/yarn/v6/npm-@google-gemini-cli-0.60.0-0123abcd-integrity/node_modules/@google/gemini-cli ',
      'openai-codex-cli 0.169.0 ~/.bun/install/cache/@openai/codex@0.169.0@@@1 ~/.bun/install/cache/@openai/codex-linux-x64@0.169.0-linux-x64@@@1',
      'opencode 1.0.120 ~/.bun/install/cache/.bunx-1000/opencode-ai@1.0.120/node_modules/opencode-ai ',
      'qwen-code 0.22.3 ~/.xc/yarn/v6/npm-@qwen-code-qwen-code-0.22.3-0123abcd-integrity/node_modules/@qwen-code/qwen-code ',
    ]);
  });

  it.each([
    ['claude-code@2.1.50@@@1', 'claude-code'],
    ['codex-linux-x64@0.169.0-linux-x64@@@1', 'codex-linux-x64'],
    ['left-pad', null],
  ])('bun cache entry %s is package %s', (entry, name) => {
    expect(bunCacheEntryName(entry)).toBe(name);
  });
});
