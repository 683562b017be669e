/**
 * Native installers' versioned folders, Claude Code's legacy ~/.claude/local, Homebrew kegs and
 * casks, and the PATH pass (launchers found by real path, bare binaries, ambiguous names).
 */
import { realpathSync } from 'node:fs';
import { userInfo } from 'node:os';

import { afterAll, describe, expect, it } from 'vitest';

import { scanMachine } from '../../../agent/inventory/index.js';
import { cleanup, find, npmGlobal, npmPackage, scratch, summary } from './fixtures.js';

afterAll(cleanup);

const me = userInfo().username;
const quiet = { detectRunning: false, paths: [] as string[] };

describe('native installers', () => {
  const t = scratch();
  const home = t.dir('home/alice');
  t.file('home/alice/.local/share/claude/versions/2.1.50', 'ELF', 0o755);
  t.file('home/alice/.local/share/claude/versions/2.1.168', 'ELF', 0o755);
  t.file('home/alice/.local/share/claude/versions/2.1.169.tmp', 'partial download');
  t.link('home/alice/.local/bin/claude', 'home/alice/.local/share/claude/versions/2.1.168');
  t.file('home/alice/.local/share/cursor-agent/versions/2026.08.04-aaa8809/cursor-agent', '#!/bin/sh\n', 0o755);
  t.file('home/alice/.local/share/cursor-agent/versions/2026.08.04-aaa8809/index.js', '');
  t.link(
    'home/alice/.local/bin/cursor-agent',
    'home/alice/.local/share/cursor-agent/versions/2026.08.04-aaa8809/cursor-agent',
  );
  t.link(
    'home/alice/.local/bin/agent',
    'home/alice/.local/share/cursor-agent/versions/2026.08.04-aaa8809/cursor-agent',
  );
  t.file('home/alice/.codex/packages/standalone/releases/0.153.4-x86_64-unknown-linux-musl/codex', 'ELF', 0o755);
  t.link(
    'home/alice/.codex/packages/standalone/current',
    'home/alice/.codex/packages/standalone/releases/0.153.4-x86_64-unknown-linux-musl',
  );
  t.rawLink('home/alice/.local/bin/codex', '../../.codex/packages/standalone/current/codex');
  t.file('home/alice/.lingma/bin/2.11.1/x86_64_linux/Lingma', 'ELF', 0o755);

  it('reports every version on disk; launchers go to the one the links resolve to', async () => {
    const result = await scanMachine({ homes: [home], ...quiet });
    expect(summary(result.instances)).toEqual([
      'claude-code 2.1.168 native alice',
      'claude-code 2.1.50 native alice',
      'cursor-agent 2026.08.04-aaa8809 native alice',
      'openai-codex-cli 0.153.4 native alice',
      'tongyi-lingma 2.11.1 native alice',
    ]);
    const [newest, older] = result.instances.filter((i) => i.toolId === 'claude-code');
    expect(newest).toMatchObject({
      installPath: t.path('home/alice/.local/share/claude/versions/2.1.168'),
      launchers: [t.path('home/alice/.local/bin/claude')],
    });
    expect(older).toMatchObject({
      installPath: t.path('home/alice/.local/share/claude/versions/2.1.50'),
      launchers: [],
    });
    expect(find(result.instances, 'cursor-agent').launchers).toEqual([
      t.path('home/alice/.local/bin/agent'),
      t.path('home/alice/.local/bin/cursor-agent'),
    ]);
    expect(find(result.instances, 'openai-codex-cli')).toMatchObject({
      installPath: t.path('home/alice/.codex/packages/standalone/releases/0.153.4-x86_64-unknown-linux-musl'),
      launchers: [t.path('home/alice/.local/bin/codex')],
    });
  });

  it('gives the Windows copy in %USERPROFILE%\\.local\\bin to the newest version', async () => {
    const w = scratch();
    const carol = w.dir('Users/carol');
    w.file('Users/carol/.local/share/claude/versions/2.1.40', 'MZ');
    w.file('Users/carol/.local/share/claude/versions/2.1.41', 'MZ');
    w.file('Users/carol/.local/bin/claude.exe', 'MZ');
    const result = await scanMachine({ homes: [carol], platform: 'windows', ...quiet });
    expect(result.instances.map((i) => [i.version, i.launchers])).toEqual([
      ['2.1.40', []],
      ['2.1.41', [w.path('Users/carol/.local/bin/claude.exe')]],
    ]);
  });
});

describe('Claude Code legacy local install', () => {
  const t = scratch();
  const home = t.dir('home/old');
  npmPackage(t, 'home/old/.claude/local/node_modules', '@anthropic-ai/claude-code', {
    version: '1.0.72',
    bin: { claude: 'cli.js' },
  });
  t.file(
    'home/old/.claude/local/claude',
    '#!/bin/bash\nexec "/home/old/.claude/local/node_modules/.bin/claude" "$@"\n',
    0o755,
  );
  t.file('home/old/.claude/local/package.json', '{"dependencies":{"@anthropic-ai/claude-code":"^1.0.72"}}');

  it('reports ~/.claude/local with its wrapper as the launcher', async () => {
    const result = await scanMachine({ homes: [home], ...quiet });
    expect(result.instances).toEqual([
      {
        toolId: 'claude-code',
        version: '1.0.72',
        channel: 'legacy-local',
        installPath: realpathSync(t.path('home/old/.claude/local/node_modules/@anthropic-ai/claude-code')),
        launchers: [t.path('home/old/.claude/local/claude')],
        owner: 'old',
        evidence: [t.path('home/old/.claude/local/node_modules/@anthropic-ai/claude-code/package.json')],
      },
    ]);
  });
});

describe('Homebrew', () => {
  const t = scratch();
  const receipt = (tap: string) => JSON.stringify({ homebrew_version: '4.6.0', source: { tap, path: '' } });
  t.file('opt/homebrew/Cellar/gemini-cli/0.9.0/bin/gemini', '#!/bin/bash\n', 0o755);
  t.file('opt/homebrew/Cellar/gemini-cli/0.9.0/INSTALL_RECEIPT.json', receipt('homebrew/core'));
  t.file('opt/homebrew/Cellar/gemini-cli/0.8.2/bin/gemini', '#!/bin/bash\n', 0o755);
  t.link('opt/homebrew/bin/gemini', 'opt/homebrew/Cellar/gemini-cli/0.9.0/bin/gemini');
  // pressly/goose, the database migration tool, shares the binary name with Block's goose.
  t.file('opt/homebrew/Cellar/goose/3.24.1/bin/goose', 'Mach-O', 0o755);
  t.file('opt/homebrew/Cellar/goose/3.24.1/INSTALL_RECEIPT.json', receipt('homebrew/core'));
  t.link('opt/homebrew/bin/goose', 'opt/homebrew/Cellar/goose/3.24.1/bin/goose');
  t.file('opt/homebrew/Cellar/block-goose-cli/1.9.0/bin/goose', 'Mach-O', 0o755);
  t.file('opt/homebrew/Cellar/crush/0.7.1/bin/crush', 'Mach-O', 0o755);
  t.file('opt/homebrew/Cellar/crush/0.7.1/INSTALL_RECEIPT.json', receipt('charmbracelet/tap'));
  t.link('opt/homebrew/bin/crush', 'opt/homebrew/Cellar/crush/0.7.1/bin/crush');
  t.file('opt/homebrew/Cellar/codex/0.1.0/INSTALL_RECEIPT.json', receipt('someone/tap'));
  t.file('opt/homebrew/Cellar/opencode/1.0.120/INSTALL_RECEIPT.json', receipt('anomalyco/tap'));
  t.file('opt/homebrew/Caskroom/claude-code/2.1.50/claude', 'Mach-O', 0o755);
  t.link('opt/homebrew/bin/claude', 'opt/homebrew/Caskroom/claude-code/2.1.50/claude');
  t.dir('opt/homebrew/Caskroom/cursor/1.2.3,abc123');
  t.file('opt/homebrew/Caskroom/cursor/.metadata/1.2.3,abc123/20260101/Casks/cursor.json', '{}');
  t.dir('opt/homebrew/Caskroom/firefox/130.0');

  it('reads kegs and casks (versions side by side), telling taps apart by the receipt', async () => {
    const result = await scanMachine({ homes: [], brewPrefixes: [t.path('opt/homebrew')], ...quiet });
    expect(summary(result.instances)).toEqual([
      `claude-code 2.1.50 homebrew-cask ${me}`,
      `crush 0.7.1 homebrew-formula ${me}`,
      `cursor 1.2.3,abc123 homebrew-cask ${me}`,
      `gemini-cli 0.8.2 homebrew-formula ${me}`,
      `gemini-cli 0.9.0 homebrew-formula ${me}`,
      `goose 1.9.0 homebrew-formula ${me}`,
      `opencode 1.0.120 homebrew-formula ${me}`,
    ]);
    const launchers = Object.fromEntries(result.instances.map((i) => [`${i.toolId}@${i.version}`, i.launchers]));
    expect(launchers['gemini-cli@0.9.0']).toEqual([t.path('opt/homebrew/bin/gemini')]);
    expect(launchers['gemini-cli@0.8.2']).toEqual([]);
    expect(launchers['claude-code@2.1.50']).toEqual([t.path('opt/homebrew/bin/claude')]);
    expect(launchers['crush@0.7.1']).toEqual([t.path('opt/homebrew/bin/crush')]);
    // The goose on PATH is the migration tool: Block's keg has no link, and nothing claims it.
    expect(launchers['goose@1.9.0']).toEqual([]);
    expect(find(result.instances, 'gemini-cli').evidence).toContain(t.path('opt/homebrew/Cellar/gemini-cli/0.8.2'));
  });
});

describe('the PATH pass', () => {
  const t = scratch();
  const home = t.dir('home/erin');
  t.file('home/erin/.local/bin/copilot', '#!/usr/bin/env bash\n# GitHub Copilot CLI\n', 0o755);
  t.file('home/erin/.opencode/bin/opencode', 'ELF', 0o755);
  t.file('home/erin/go/bin/goose', 'ELF pressly/goose', 0o755);
  t.file('home/erin/.local/bin/amp', '#!/bin/sh\n# Amplitude CLI\n', 0o755);
  t.file('home/erin/.local/bin/claude-helper', '#!/bin/sh\n', 0o755);
  t.file('sysbin/plandex', 'ELF', 0o755);
  t.link('sysbin/pdx', 'sysbin/plandex');
  // A link into an npm prefix nobody configured: the package it resolves into is read.
  npmGlobal(t, 'opt/elsewhere', '@google/gemini-cli', { version: '0.11.0', bin: { gemini: 'bundle/gemini.js' } });
  t.link('sysbin/gemini', 'opt/elsewhere/lib/node_modules/@google/gemini-cli/bundle/gemini.js');
  t.link('sysbin/qwen', 'opt/Cellar/qwen-code/0.22.3/bin/qwen');
  t.file('opt/Cellar/qwen-code/0.22.3/bin/qwen', '#!/bin/sh\n', 0o755);
  t.rawLink('sysbin/claude', t.path('nowhere/claude'));

  it('reports bare binaries without a version, follows links into known layouts, and ignores ambiguous names', async () => {
    const result = await scanMachine({
      homes: [home],
      npmPrefixes: [],
      paths: [t.path('sysbin')],
      detectRunning: false,
    });
    expect(summary(result.instances)).toEqual([
      `gemini-cli 0.11.0 npm ${me}`,
      'github-copilot-cli null binary erin',
      'opencode null binary erin',
      `plandex null binary ${me}`,
      `qwen-code 0.22.3 homebrew-formula ${me}`,
    ]);
    expect(find(result.instances, 'github-copilot-cli')).toMatchObject({
      installPath: t.path('home/erin/.local/bin/copilot'),
      launchers: [t.path('home/erin/.local/bin/copilot')],
      versionError: expect.stringMatching(/bare binary without a version file/),
    });
    expect(find(result.instances, 'plandex').launchers).toEqual([t.path('sysbin/pdx'), t.path('sysbin/plandex')]);
    expect(find(result.instances, 'gemini-cli')).toMatchObject({
      installPath: realpathSync(t.path('opt/elsewhere/lib/node_modules/@google/gemini-cli')),
      launchers: [t.path('sysbin/gemini')],
    });
    expect(result.skipped).toEqual([{ path: t.path('sysbin/claude'), reason: 'broken symlink' }]);
  });
});
