/**
 * What real disks contain besides tidy installs: symlink loops, broken links, huge folders,
 * malformed, oversized and oddly encoded manifests, FIFOs where files should be, missing homes,
 * and a time budget. The scan never throws and never hangs; it lists what it skipped and why.
 */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';

import { afterAll, describe, expect, it } from 'vitest';

import { scanMachine } from '../../../agent/inventory/index.js';
import { cleanup, find, npmGlobal, npmPackage, scratch, summary } from './fixtures.js';

afterAll(cleanup);

const quiet = { detectRunning: false, paths: [] as string[] };

describe('symlink loops and broken links', () => {
  const t = scratch();
  const home = t.dir('home/al');
  npmGlobal(t, 'home/al/.npm-global', '@openai/codex', { version: '0.149.1', bin: { codex: 'bin/codex.js' } });
  t.rawLink('home/al/.npm-global/lib/node_modules/loop', 'loop');
  t.rawLink('home/al/.npm-global/lib/node_modules/@anthropic-ai', '.');
  t.rawLink('home/al/.npm-global/lib/node_modules/@google', '/nonexistent/dir');
  t.rawLink('home/al/.npm-global/lib/node_modules/@qwen-code/qwen-code', '/nonexistent/qwen');
  t.rawLink('home/al/.vscode/extensions', 'extensions');
  t.rawLink('home/al/.local/bin/claude', 'claude');
  t.rawLink('home/al/.local/share/claude/versions/2.1.50', '2.1.50');

  it('reports loops and broken links as skipped and still finds the rest', async () => {
    const result = await scanMachine({ homes: [home], ...quiet });
    expect(summary(result.instances)).toEqual(['openai-codex-cli 0.149.1 npm al']);
    const skipped = Object.fromEntries(result.skipped.map((s) => [s.path.slice(t.root.length), s.reason]));
    expect(skipped).toMatchObject({
      '/home/al/.npm-global/lib/node_modules/loop/package.json': 'symlink loop',
      '/home/al/.npm-global/lib/node_modules/@qwen-code/qwen-code': 'broken symlink',
      '/home/al/.vscode/extensions': 'symlink loop',
      '/home/al/.local/bin/claude': 'symlink loop',
      '/home/al/.local/share/claude/versions/2.1.50': 'symlink loop',
    });
  });
});

describe('bounds', () => {
  const t = scratch();
  const home = t.dir('home/big');
  for (let i = 0; i < 120; i++)
    npmPackage(t, 'home/big/.npm-global/lib/node_modules', `pkg-${String(i).padStart(3, '0')}`);

  it('reads at most maxEntriesPerDir entries of a folder and says so', async () => {
    const result = await scanMachine({ homes: [home], limits: { maxEntriesPerDir: 50 }, ...quiet });
    expect(result.skipped).toEqual([
      { path: t.path('home/big/.npm-global/lib/node_modules'), reason: 'more than 50 entries; read the first 50' },
    ]);
  });

  it('stops when the time budget is spent, without throwing', async () => {
    const result = await scanMachine({ homes: [home], budgetMs: 0, ...quiet });
    expect(result.budgetExhausted).toBe(true);
    expect(result.instances).toEqual([]);
    expect(result.skipped.length).toBeGreaterThan(0);
    expect(result.skipped.every((s) => s.reason === 'time budget exhausted; not read')).toBe(true);
  });

  it('treats a home that does not exist as empty', async () => {
    const result = await scanMachine({ homes: [t.path('home/ghost')], ...quiet });
    expect(result).toMatchObject({ instances: [], skipped: [], users: ['ghost'] });
  });
});

describe('manifests', () => {
  const t = scratch();
  const home = t.dir('home/odd');
  const nm = 'home/odd/.npm-global/lib/node_modules';
  npmPackage(t, nm, '@anthropic-ai/claude-code', {
    raw: Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from('{"name":"@anthropic-ai/claude-code","version":"2.1.50"}'),
    ]),
  });
  npmPackage(t, nm, '@openai/codex', {
    raw: Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from('{"name":"@openai/codex","version":"0.149.1"}', 'utf16le'),
    ]),
  });
  npmPackage(t, nm, '@google/gemini-cli', { raw: '{"name": "@google/gemini-cli", "version": "0.9' });
  npmPackage(t, nm, '@github/copilot', {
    raw: `{"name":"@github/copilot","version":"1.0.0","description":"${'x'.repeat(2 * 1024 * 1024)}"}`,
  });
  npmPackage(t, nm, 'opencode-ai', {
    raw: Buffer.from('{"name":"opencode-ai","version":"1.0.0","description":"caf\xe9"}', 'latin1'),
  });
  // Unparseable and naming an AI SDK: worth saying it could not be read.
  npmPackage(t, nm, 'broken-thing', { raw: '{"name":"broken-thing","dependencies":{"openai": ' });
  // Unparseable but irrelevant (names no SDK): never parsed, so nothing to report.
  npmPackage(t, nm, 'left-pad', { raw: 'not json' });
  npmPackage(t, nm, 'cline', { raw: '{"name":"cline","version":["1"]}' });
  t.dir(`${nm}/weird\nname`);

  it('reads BOM, UTF-16 and Latin-1 manifests; reports unreadable ones without a version, with the reason', async () => {
    const result = await scanMachine({ homes: [home], ...quiet });
    expect(summary(result.instances)).toEqual([
      'claude-code 2.1.50 npm odd',
      'cline null npm odd',
      'gemini-cli null npm odd',
      'github-copilot-cli null npm odd',
      'openai-codex-cli 0.149.1 npm odd',
      'opencode 1.0.0 npm odd',
    ]);
    expect(find(result.instances, 'gemini-cli').versionError).toMatch(/^package.json: malformed JSON/);
    expect(find(result.instances, 'github-copilot-cli').versionError).toBe('package.json is missing or unreadable');
    expect(find(result.instances, 'cline').versionError).toBe('package.json version is not a string');
    const reasons = Object.fromEntries(result.skipped.map((s) => [s.path.slice(t.root.length), s.reason]));
    expect(reasons).toEqual({
      [`/${nm}/@github/copilot/package.json`]: `too large (${statSync(t.path(`${nm}/@github/copilot/package.json`)).size} bytes; limit 1048576)`,
      [`/${nm}/broken-thing/package.json`]: expect.stringMatching(/^malformed JSON/),
    });
  });
});

describe('a FIFO where a manifest should be', () => {
  it('is skipped without blocking', async () => {
    const t = scratch();
    const home = t.dir('home/f');
    t.dir('home/f/.npm-global/lib/node_modules/@qwen-code/qwen-code');
    execFileSync('mkfifo', [t.path('home/f/.npm-global/lib/node_modules/@qwen-code/qwen-code/package.json')]);
    const result = await scanMachine({ homes: [home], ...quiet });
    expect(summary(result.instances)).toEqual(['qwen-code null npm f']);
    expect(result.skipped).toEqual([
      {
        path: t.path('home/f/.npm-global/lib/node_modules/@qwen-code/qwen-code/package.json'),
        reason: 'not a regular file',
      },
    ]);
  });
});
