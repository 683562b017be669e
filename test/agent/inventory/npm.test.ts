/**
 * npm-family global installs on disk: user and system prefixes, .npmrc prefix=, version managers,
 * Volta, pnpm, bun, yarn, and Windows' %APPDATA%\npm with cmd-shims, scanned as data.
 */
import { execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';

import { afterAll, describe, expect, it } from 'vitest';

import { scanMachine } from '../../../agent/inventory/index.js';
import { cleanup, find, npmGlobal, npmGlobalWindows, npmPackage, scratch, summary } from './fixtures.js';

afterAll(cleanup);

const quiet = { detectRunning: false, paths: [] as string[] };

describe('npm global prefixes (Unix layout)', () => {
  const t = scratch();
  const home = t.dir('home/alice');
  const claude = npmGlobal(t, 'home/alice/.npm-global', '@anthropic-ai/claude-code', {
    version: '2.1.50',
    bin: { claude: 'cli.js' },
    dependencies: { '@anthropic-ai/sdk': '^0.40.0' },
  });
  // Since 2.1.113 the native binary ships as a nested per-platform optional dependency.
  npmPackage(
    t,
    'home/alice/.npm-global/lib/node_modules/@anthropic-ai/claude-code/node_modules',
    '@anthropic-ai/claude-code-linux-x64',
    { version: '2.1.50' },
  );
  const codex = npmGlobal(t, 'home/alice/.npm-global', '@openai/codex', {
    version: '0.149.1',
    bin: { codex: 'bin/codex.js' },
  });
  npmGlobal(t, 'home/alice/.npm-global', '@openai/codex-linux-x64', { version: '0.149.1-linux-x64' });
  npmGlobal(t, 'home/alice/.npm-global', 'chalk', { version: '5.3.0' });
  npmGlobal(t, 'home/alice/.npm-global', 'claude-helper', {
    version: '0.2.0',
    bin: { 'claude-helper': 'index.js' },
    dependencies: { chalk: '^5' },
  });
  const bot = npmGlobal(t, 'home/alice/.npm-global', 'my-ai-bot', {
    version: '0.0.3',
    bin: { aibot: 'bot.js' },
    dependencies: { '@anthropic-ai/sdk': '^0.40.0', chalk: '^5' },
  });
  const kit = npmGlobal(t, 'home/alice/.npm-global', '@acme/ai-kit', {
    version: '1.2.0',
    dependencies: { '@ai-sdk/openai': '^1.0.0' },
  });

  it('finds catalogued tools with exact versions and launchers, and nothing for non-AI packages', async () => {
    const result = await scanMachine({ homes: [home], ...quiet });
    expect(summary(result.instances)).toEqual([
      'claude-code 2.1.50 npm alice',
      'openai-codex-cli 0.149.1 npm alice',
      'unknown:npm:@acme/ai-kit 1.2.0 npm alice',
      'unknown:npm:my-ai-bot 0.0.3 npm alice',
    ]);
    const cc = find(result.instances, 'claude-code');
    expect(cc.installPath).toBe(realpathSync(claude));
    expect(cc.launchers).toEqual([t.path('home/alice/.npm-global/bin/claude')]);
    expect(cc.evidence).toEqual([
      t.path('home/alice/.npm-global/lib/node_modules/@anthropic-ai/claude-code/package.json'),
    ]);
    expect(find(result.instances, 'openai-codex-cli').launchers).toEqual([t.path('home/alice/.npm-global/bin/codex')]);
    expect(find(result.instances, 'openai-codex-cli').installPath).toBe(realpathSync(codex));
    expect(result.users).toEqual(['alice']);
    expect(result.skipped).toEqual([]);
  });

  it('reports packages that depend on an AI SDK as unknown, naming the SDK', async () => {
    const result = await scanMachine({ homes: [home], ...quiet });
    const unknown = find(result.instances, 'unknown:npm:my-ai-bot');
    expect(unknown).toMatchObject({
      name: 'my-ai-bot',
      installPath: realpathSync(bot),
      launchers: [t.path('home/alice/.npm-global/bin/aibot')],
    });
    expect(unknown.evidence).toContain('depends on @anthropic-ai/sdk ^0.40.0');
    expect(find(result.instances, 'unknown:npm:@acme/ai-kit')).toMatchObject({
      installPath: realpathSync(kit),
      launchers: [],
    });
    expect(find(result.instances, 'unknown:npm:@acme/ai-kit').evidence).toContain('depends on @ai-sdk/openai ^1.0.0');
  });

  it('also lists a link on PATH to the same package, once', async () => {
    t.link('pathdir/claude', 'home/alice/.npm-global/lib/node_modules/@anthropic-ai/claude-code/cli.js');
    const result = await scanMachine({
      homes: [home],
      detectRunning: false,
      paths: [t.path('pathdir'), t.path('home/alice/.npm-global/bin')],
    });
    const cc = result.instances.filter((i) => i.toolId === 'claude-code');
    expect(cc).toHaveLength(1);
    expect(cc[0]!.launchers).toEqual([t.path('home/alice/.npm-global/bin/claude'), t.path('pathdir/claude')]);
  });
});

describe("bun's global install, its bin linked to the native binary", () => {
  // Claude Code >= 2.1.113: "bin": {"claude": "bin/claude.exe"}, which its install.cjs links to the
  // per-platform package's `claude` (npm view @anthropic-ai/claude-code bin; the platform
  // package's files are claude, README.md, LICENSE.md). bun keeps global packages in
  // ~/.bun/install/global/node_modules and links bins in ~/.bun/bin (bun docs, "bun install -g").
  it('lists ~/.bun/bin/claude as a launcher of Claude Code, whose part holds the binary', async () => {
    const t = scratch();
    const home = t.dir('home/bea');
    const modules = 'home/bea/.bun/install/global/node_modules';
    const tool = npmPackage(t, modules, '@anthropic-ai/claude-code', {
      version: '2.1.200',
      bin: { claude: 'bin/claude.exe' },
    });
    const part = npmPackage(t, modules, '@anthropic-ai/claude-code-linux-x64', { version: '2.1.200' });
    t.file(`${modules}/@anthropic-ai/claude-code-linux-x64/claude`, '\x7fELF', 0o755);
    execFileSync('rm', [`${tool}/bin/claude.exe`]);
    t.rawLink(`${modules}/@anthropic-ai/claude-code/bin/claude.exe`, '../../claude-code-linux-x64/claude');
    t.rawLink('home/bea/.bun/bin/claude', '../install/global/node_modules/@anthropic-ai/claude-code/bin/claude.exe');
    const result = await scanMachine({ homes: [home], ...quiet });
    expect(summary(result.instances)).toEqual(['claude-code 2.1.200 npm bea']);
    const cc = find(result.instances, 'claude-code');
    expect(cc.parts).toEqual([realpathSync(part)]);
    expect(cc.launchers).toEqual([t.path('home/bea/.bun/bin/claude')]);
  });
});

describe("a system folder's wrapper of the system-wide copy", () => {
  // Red-team: /usr/local/bin/claude, an admin's script running the system-wide Claude Code, was
  // listed as a launcher of a user's own copy (its text names the package), so blocking the
  // user's copy would have put a stub over everyone's command.
  it("is not a launcher of a user's own install; a link into the install is", async () => {
    const t = scratch();
    const home = t.dir('home/sam');
    npmGlobal(t, 'home/sam/.npm-global', '@anthropic-ai/claude-code', { version: '2.0.46', bin: { claude: 'cli.js' } });
    t.file(
      'sys/bin/claude',
      '#!/bin/sh\nexec node /usr/local/lib/node_modules/@anthropic-ai/claude-code/cli.js "$@"\n',
      0o755,
    );
    const result = await scanMachine({ homes: [home], detectRunning: false, paths: [t.path('sys/bin')] });
    const mine = result.instances.find((i) => i.owner === 'sam' && i.toolId === 'claude-code')!;
    expect(mine.launchers).toEqual([t.path('home/sam/.npm-global/bin/claude')]);
  });
});

describe('prefix discovery per home', () => {
  const t = scratch();
  const home = t.dir('home/dev');
  t.file('home/dev/.npmrc', '; my npm config\nregistry=https://registry.npmjs.org/\nprefix = ~/custom-prefix\n');
  npmGlobal(t, 'home/dev/custom-prefix', '@qwen-code/qwen-code', { version: '0.22.3', bin: { qwen: 'dist/cli.js' } });
  npmGlobal(t, 'home/dev/.nvm/versions/node/v20.11.0', '@anthropic-ai/claude-code', {
    version: '2.1.21',
    bin: { claude: 'cli.js' },
  });
  npmGlobal(t, 'home/dev/.nvm/versions/node/v22.3.0', '@anthropic-ai/claude-code', {
    version: '2.1.168',
    bin: { claude: 'cli.js' },
  });
  npmGlobal(t, 'home/dev/.local/share/fnm/node-versions/v22.3.0/installation', '@google/gemini-cli', {
    version: '0.9.0',
    bin: { gemini: 'bundle/gemini.js' },
  });
  npmGlobal(t, 'home/dev/.asdf/installs/nodejs/20.11.0/.npm', '@github/copilot', {
    version: '1.0.2',
    bin: { copilot: 'index.js' },
  });
  t.file('home/dev/.asdf/shims/copilot', '#!/usr/bin/env bash\nexec asdf exec "copilot" "$@"\n', 0o755);
  npmGlobal(t, 'home/dev/.local/share/mise/installs/node/22.3.0', 'opencode-ai', {
    version: '1.0.120',
    bin: { opencode: 'bin/opencode' },
  });
  // Volta: one image per package, name-dispatching shims in ~/.volta/bin.
  npmPackage(t, 'home/dev/.volta/tools/image/packages/@sourcegraph/amp/lib/node_modules', '@sourcegraph/amp', {
    version: '0.0.1754179307-gba1f97',
    bin: { amp: 'dist/main.js' },
  });
  t.rawLink('home/dev/.volta/bin/amp', '/nonexistent/volta-shim');
  // pnpm: global/<layout>/node_modules/<pkg> links into .pnpm; shims are scripts in PNPM_HOME.
  npmPackage(
    t,
    'home/dev/.local/share/pnpm/global/5/node_modules/.pnpm/@iflow-ai+iflow-cli@0.3.0/node_modules',
    '@iflow-ai/iflow-cli',
    { version: '0.3.0', bin: { iflow: 'bundle/iflow.js' } },
  );
  t.link(
    'home/dev/.local/share/pnpm/global/5/node_modules/@iflow-ai/iflow-cli',
    'home/dev/.local/share/pnpm/global/5/node_modules/.pnpm/@iflow-ai+iflow-cli@0.3.0/node_modules/@iflow-ai/iflow-cli',
  );
  t.file(
    'home/dev/.local/share/pnpm/iflow',
    '#!/bin/sh\nexec node "$basedir/global/5/.pnpm/@iflow-ai+iflow-cli@0.3.0/node_modules/@iflow-ai/iflow-cli/bundle/iflow.js" "$@"\n',
    0o755,
  );
  // bun: ~/.bun/install/global/node_modules, links in ~/.bun/bin.
  npmPackage(t, 'home/dev/.bun/install/global/node_modules', '@augmentcode/auggie', {
    version: '0.5.1',
    bin: { auggie: 'augment.mjs' },
  });
  t.link('home/dev/.bun/bin/auggie', 'home/dev/.bun/install/global/node_modules/@augmentcode/auggie/augment.mjs');
  // yarn classic.
  npmPackage(t, 'home/dev/.config/yarn/global/node_modules', 'cline', { version: '1.0.4', bin: { cline: 'cli.js' } });
  t.link('home/dev/.yarn/bin/cline', 'home/dev/.config/yarn/global/node_modules/cline/cli.js');

  it("finds every version manager and package manager, with each one's launchers", async () => {
    const result = await scanMachine({ homes: [home], ...quiet });
    expect(summary(result.instances)).toEqual([
      'amp 0.0.1754179307-gba1f97 npm dev',
      'augment 0.5.1 npm dev',
      'claude-code 2.1.21 npm dev',
      'claude-code 2.1.168 npm dev',
      'cline 1.0.4 npm dev',
      'gemini-cli 0.9.0 npm dev',
      'github-copilot-cli 1.0.2 npm dev',
      'iflow-cli 0.3.0 npm dev',
      'opencode 1.0.120 npm dev',
      'qwen-code 0.22.3 npm dev',
    ]);
    const launchers = Object.fromEntries(result.instances.map((i) => [`${i.toolId}@${i.version}`, i.launchers]));
    expect(launchers).toEqual({
      'amp@0.0.1754179307-gba1f97': [t.path('home/dev/.volta/bin/amp')],
      'augment@0.5.1': [t.path('home/dev/.bun/bin/auggie')],
      'claude-code@2.1.168': [t.path('home/dev/.nvm/versions/node/v22.3.0/bin/claude')],
      'claude-code@2.1.21': [t.path('home/dev/.nvm/versions/node/v20.11.0/bin/claude')],
      'cline@1.0.4': [t.path('home/dev/.yarn/bin/cline')],
      'gemini-cli@0.9.0': [t.path('home/dev/.local/share/fnm/node-versions/v22.3.0/installation/bin/gemini')],
      'github-copilot-cli@1.0.2': [
        t.path('home/dev/.asdf/installs/nodejs/20.11.0/.npm/bin/copilot'),
        t.path('home/dev/.asdf/shims/copilot'),
      ],
      'iflow-cli@0.3.0': [t.path('home/dev/.local/share/pnpm/iflow')],
      'opencode@1.0.120': [t.path('home/dev/.local/share/mise/installs/node/22.3.0/bin/opencode')],
      'qwen-code@0.22.3': [t.path('home/dev/custom-prefix/bin/qwen')],
    });
    expect(find(result.instances, 'iflow-cli').installPath).toBe(
      realpathSync(
        t.path(
          'home/dev/.local/share/pnpm/global/5/node_modules/.pnpm/@iflow-ai+iflow-cli@0.3.0/node_modules/@iflow-ai/iflow-cli',
        ),
      ),
    );
  });

  it('--npm-prefix replaces the automatic roots, and accepts either layout', async () => {
    const result = await scanMachine({ homes: [home], npmPrefixes: [t.path('home/dev/custom-prefix')], ...quiet });
    expect(summary(result.instances)).toEqual(['qwen-code 0.22.3 npm dev']);
  });

  it('reads a prefix reached twice (a symlink to it) once', async () => {
    t.link('home/dev/prefix-alias', 'home/dev/custom-prefix');
    const result = await scanMachine({
      homes: [home],
      npmPrefixes: [t.path('home/dev/custom-prefix'), t.path('home/dev/prefix-alias')],
      ...quiet,
    });
    expect(summary(result.instances)).toEqual(['qwen-code 0.22.3 npm dev']);
  });
});

describe('system prefixes', () => {
  const t = scratch();
  // The files below belong to whoever runs the test: call that uid "builder".
  t.file(
    'etc/passwd',
    `builder:x:${process.getuid?.() ?? 1000}:1000::/home/builder:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n`,
  );
  t.dir('home/builder');
  npmGlobal(t, 'usr/local', '@github/copilot', { version: '1.0.78', bin: { copilot: 'npm-loader.js' } });
  npmGlobal(t, 'usr', '@google/gemini-cli', { version: '0.10.1', bin: { gemini: 'bundle/gemini.js' } });
  t.file('etc/npmrc', 'prefix=/opt/node-global\n');
  npmGlobal(t, 'opt/node-global', '@continuedev/cli', { version: '1.4.0', bin: { cn: 'dist/index.js' } });

  it('reads /usr/local, /usr and /etc/npmrc prefix= under the root, owner from the file', async () => {
    const result = await scanMachine({ root: t.root, ...quiet });
    expect(summary(result.instances)).toEqual([
      'continue 1.4.0 npm builder',
      'gemini-cli 0.10.1 npm builder',
      'github-copilot-cli 1.0.78 npm builder',
    ]);
    expect(find(result.instances, 'continue').launchers).toEqual([t.path('opt/node-global/bin/cn')]);
    expect(find(result.instances, 'github-copilot-cli').launchers).toEqual([t.path('usr/local/bin/copilot')]);
    expect(result.users).toEqual(['builder']);
  });

  it('leaves system locations out when homes are given, unless systemRoots is set', async () => {
    expect((await scanMachine({ root: t.root, homes: [t.path('home/builder')], ...quiet })).instances).toEqual([]);
    expect(
      (await scanMachine({ root: t.root, homes: [t.path('home/builder')], systemRoots: true, ...quiet })).instances,
    ).toHaveLength(3);
  });
});

describe('Windows layouts, scanned as data', () => {
  const t = scratch();
  const home = t.dir('Users/bob');
  const claude = npmGlobalWindows(t, 'Users/bob/AppData/Roaming/npm', '@anthropic-ai/claude-code', {
    version: '2.1.41',
    bin: { claude: 'cli.js' },
  });
  npmGlobalWindows(t, 'Users/bob/AppData/Roaming/npm', 'left-pad', {
    version: '1.3.0',
    bin: { 'left-pad': 'index.js' },
  });
  npmGlobalWindows(t, 'Users/bob/AppData/Roaming/nvm/v20.11.0', '@openai/codex', {
    version: '0.141.0',
    bin: { codex: 'bin/codex.js' },
  });
  npmPackage(t, 'Users/bob/AppData/Local/pnpm/global/5/node_modules', '@qwen-code/qwen-code', {
    version: '0.15.0',
    bin: { qwen: 'cli.js' },
  });
  t.file(
    'Users/bob/AppData/Local/pnpm/qwen.CMD',
    '@SETLOCAL\r\n@"%~dp0\\global\\5\\node_modules\\@qwen-code\\qwen-code\\cli.js" %*\r\n',
  );

  it('finds %APPDATA%\\npm, nvm-windows and pnpm installs with their .cmd/.ps1/sh shims', async () => {
    const result = await scanMachine({ homes: [home], platform: 'windows', ...quiet });
    expect(summary(result.instances)).toEqual([
      'claude-code 2.1.41 npm bob',
      'openai-codex-cli 0.141.0 npm bob',
      'qwen-code 0.15.0 npm bob',
    ]);
    const cc = find(result.instances, 'claude-code');
    expect(cc.installPath).toBe(realpathSync(claude));
    expect(cc.launchers).toEqual(
      ['claude', 'claude.cmd', 'claude.ps1'].map((f) => t.path(`Users/bob/AppData/Roaming/npm/${f}`)),
    );
    expect(find(result.instances, 'openai-codex-cli').launchers).toEqual(
      ['codex', 'codex.cmd', 'codex.ps1'].map((f) => t.path(`Users/bob/AppData/Roaming/nvm/v20.11.0/${f}`)),
    );
    expect(find(result.instances, 'qwen-code').launchers).toEqual([t.path('Users/bob/AppData/Local/pnpm/qwen.CMD')]);
  });

  it("does not take another package's shim for a launcher", async () => {
    const result = await scanMachine({ homes: [home], platform: 'windows', ...quiet });
    expect(result.instances.flatMap((i) => i.launchers).filter((l) => l.includes('left-pad'))).toEqual([]);
  });
});

describe('one instance reached by two routes', () => {
  const t = scratch();
  const home = t.dir('home/lin');
  // `npm link`-style: two prefixes whose node_modules entries point at one real package folder.
  const real = npmPackage(t, 'home/lin/src', '@openai/codex', { version: '0.150.0', bin: { codex: 'bin/codex.js' } });
  t.link('home/lin/.npm-global/lib/node_modules/@openai/codex', 'home/lin/src/@openai/codex');
  t.link('home/lin/.npm-global/bin/codex', 'home/lin/src/@openai/codex/bin/codex.js');
  t.link('home/lin/.nvm/versions/node/v22.3.0/lib/node_modules/@openai/codex', 'home/lin/src/@openai/codex');
  t.link('home/lin/.nvm/versions/node/v22.3.0/bin/codex', 'home/lin/src/@openai/codex/bin/codex.js');

  it('is merged into one, with the launchers and evidence of both', async () => {
    const result = await scanMachine({ homes: [home], ...quiet });
    expect(result.instances).toHaveLength(1);
    expect(result.instances[0]).toMatchObject({
      toolId: 'openai-codex-cli',
      installPath: realpathSync(real),
      launchers: [t.path('home/lin/.npm-global/bin/codex'), t.path('home/lin/.nvm/versions/node/v22.3.0/bin/codex')],
      evidence: [
        t.path('home/lin/.npm-global/lib/node_modules/@openai/codex/package.json'),
        t.path('home/lin/.nvm/versions/node/v22.3.0/lib/node_modules/@openai/codex/package.json'),
      ],
    });
  });
});
