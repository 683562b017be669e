/**
 * Content markers (policies/catalog/content.ts) against real releases from the npm test cache:
 * every cached release of a tool is that tool by its entry file's bytes, at its own version, and
 * no other tool's file (nor node, npm's CLI, or Codex's native binary) matches. When the catalog's
 * markers are refreshed (policies/catalog/README.md), add the new releases to RELEASES.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { fileContent } from '../../agent/inventory/content.js';
import { CONTENT_WINDOW_BYTES, identifyContent } from '../../policies/catalog/content.js';
import { builtinCatalog, catalogIndex } from '../../policies/catalog/index.js';
import { tempDir } from '../agent/helpers.js';
import { INSTALL_TIMEOUT_MS, npmInstallGlobal } from '../agent/inventory/real-npm.js';

const index = catalogIndex(builtinCatalog);

/** Cached real releases: spec, the entry file inside the package, and what it must be. */
const RELEASES: { spec: string; dir: string; entry: string; toolId: string | null; version: string | null }[] = [
  ...['2.0.22', '2.0.45', '2.0.46', '2.1.50'].map((v) => ({
    spec: `@anthropic-ai/claude-code@${v}`,
    dir: '@anthropic-ai/claude-code',
    entry: 'cli.js',
    toolId: 'claude-code',
    version: v,
  })),
  {
    spec: '@openai/codex@0.111.0',
    dir: '@openai/codex',
    entry: 'bin/codex.js',
    toolId: 'openai-codex-cli',
    version: null,
  },
  // The native binary carries no markers (the JS launcher does): it is known by its package.
  {
    spec: '@openai/codex-linux-x64@npm:@openai/codex@0.111.0-linux-x64',
    dir: '@openai/codex-linux-x64',
    entry: 'vendor/x86_64-unknown-linux-musl/codex/codex',
    toolId: null,
    version: null,
  },
];

let dir: Awaited<ReturnType<typeof tempDir>>;
const files = new Map<string, string>();

beforeAll(async () => {
  dir = await tempDir('aigate-content-');
  RELEASES.forEach((r, i) => {
    const prefix = join(dir.path, `p${i}`);
    npmInstallGlobal(prefix, [r.spec], { omitOptional: true });
    files.set(r.spec, join(prefix, 'lib', 'node_modules', r.dir, r.entry));
  });
}, INSTALL_TIMEOUT_MS * RELEASES.length);
afterAll(async () => {
  await dir?.remove();
});

/** The two windows of a file, as the agent reads them. */
function windowsOf(file: string): { head: string; tail: string } {
  const bytes = readFileSync(file);
  if (bytes.length <= 2 * CONTENT_WINDOW_BYTES) return { head: bytes.toString('latin1'), tail: '' };
  return {
    head: bytes.subarray(0, CONTENT_WINDOW_BYTES).toString('latin1'),
    tail: bytes.subarray(bytes.length - CONTENT_WINDOW_BYTES).toString('latin1'),
  };
}

describe('content markers on real releases', () => {
  it.each(RELEASES.map((r) => [r.spec, r] as const))('%s', (spec, r) => {
    const file = files.get(spec)!;
    const { head, tail } = windowsOf(file);
    const match = identifyContent(index, head, tail);
    expect(match ? { toolId: match.tool.id, version: match.version } : null).toEqual(
      r.toolId ? { toolId: r.toolId, version: r.version } : null,
    );
    // The agent's reader (bounded windows through one O_NOFOLLOW handle) agrees.
    expect(fileContent(file, index)?.match.tool.id ?? null).toBe(r.toolId);
    // Every marker set is needed: without any one of them, this file is no tool's.
    for (const tool of builtinCatalog.tools) {
      if (tool.id === r.toolId) continue;
      expect(tool.content?.markers.every((m) => head.includes(m) || tail.includes(m)) ?? false).toBe(false);
    }
  });

  it('a release with one byte appended is still the same tool', () => {
    const { head, tail } = windowsOf(files.get('@anthropic-ai/claude-code@2.0.45')!);
    expect(identifyContent(index, head, `${tail}\n`)?.tool.id).toBe('claude-code');
  });

  it('another tool’s marker added does not hide Claude Code; removing one of its markers does not launder it into Codex', () => {
    const { head, tail } = windowsOf(files.get('@anthropic-ai/claude-code@2.0.46')!);
    const codexComment = '// Unified entry point for the Codex CLI.\n';
    expect(identifyContent(index, codexComment + head, tail)?.tool.id).toBe('claude-code');
    const headerless = head.replace('(c) Anthropic PBC. All rights reserved.', '');
    expect(identifyContent(index, codexComment + headerless, tail)).toBeNull();
  });

  it('node itself and npm’s own CLI are no tool', () => {
    const npmCli = join(execFileSync('npm', ['root', '-g'], { encoding: 'utf8' }).trim(), 'npm', 'bin', 'npm-cli.js');
    for (const file of [process.execPath, npmCli]) {
      const { head, tail } = windowsOf(file);
      expect(identifyContent(index, head, tail)).toBeNull();
    }
  });

  it('a file with two tools’ markers in equal number is neither (do nothing when in doubt)', () => {
    const tie = catalogIndex({
      ...builtinCatalog,
      tools: builtinCatalog.tools.map((t) =>
        t.id === 'claude-code' ? { ...t, content: { markers: ['// Unified entry point for the Codex CLI.'] } } : t,
      ),
    });
    expect(identifyContent(tie, '// Unified entry point for the Codex CLI.', '')).toBeNull();
  });
});
