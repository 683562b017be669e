/**
 * `aigate policy validate` and `aigate policy explain` through the built bin (`npm test` builds
 * first): exit codes, messages with positions, and the July 10 acceptance instants.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist/server/cli/aigate.js');
const BAN = 'policies/examples/ban-claude-code.yaml';
const scratch = mkdtempSync(join(tmpdir(), 'aigate-policy-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function aigate(...args: string[]) {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', AIGATE_CONFIG: join(scratch, 'none.json') },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function file(name: string, text: string): string {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
}

describe('aigate policy validate', () => {
  it.each(['ban-claude-code.yaml', 'allowlist-strict.yaml', 'monitor-only.yaml'])('accepts the example %s', (name) => {
    const run = aigate('policy', 'validate', `policies/examples/${name}`);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/valid policy/);
    expect(run.stderr).toBe('');
  });

  it('refuses a bad policy with file:line:column, the field and a suggestion (exit 1)', () => {
    const bad = file(
      'bad.yaml',
      'apiVersion: aigate/v1\nkind: Policy\nmetadata:\n  name: bad\nspec:\n  timezone: Asia/Shangai\n  rules:\n    - tools: [clade-code]\n      action: block\n',
    );
    const run = aigate('policy', 'validate', bad);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `error: ${bad}:6:13: spec.timezone: unknown timezone "Asia/Shangai" (did you mean "Asia/Shanghai"?)`,
    );
    expect(run.stderr).toContain(
      `error: ${bad}:8:15: spec.rules[0].tools[0]: unknown tool "clade-code" (did you mean "claude-code"?)`,
    );
    expect(run.stderr).toMatch(/invalid \(2 errors\)/);
  });

  it('reports every error in one run: structure and meaning together, each with its position', () => {
    const bad = file(
      'many.yaml',
      'apiVersion: aigate/v1\nkind: Policy\nmetadata:\n  name: many\nspec:\n  timezone: Asia/Shangai\n  rules:\n    - tools: [clade-code]\n      action: forbid\n    - tools: [claude-cod]\n      action: block\n      effective: 2026-13-01\n  exceptions:\n    - tools: [cursor]\n      devices: host-1\n',
    );
    const run = aigate('policy', 'validate', bad);
    expect(run.code).toBe(1);
    const errors = run.stderr.split('\n').filter((line) => line.startsWith('error: '));
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/:9:15: spec\.rules\[0\]\.action: expected allow \| warn \| block, got "forbid"/),
        expect.stringMatching(/:15:16: spec\.exceptions\[0\]\.devices: expected .*got "host-1"/),
        expect.stringMatching(/:6:13: spec\.timezone: unknown timezone "Asia\/Shangai"/),
        expect.stringMatching(/:8:15: spec\.rules\[0\]\.tools\[0\]: unknown tool "clade-code"/),
        expect.stringMatching(/:10:15: spec\.rules\[1\]\.tools\[0\]: unknown tool "claude-cod"/),
        expect.stringMatching(/:12:18: spec\.rules\[1\]\.effective: /),
      ]),
    );
    expect(run.stderr).toMatch(new RegExp(`invalid \\(${errors.length} errors\\)`));
  });

  it.each([
    ['an unclosed flow list', 'apiVersion: aigate/v1\nkind: [Policy\nmetadata:\n  name: x\n', /:3:1: YAML syntax: /],
    ['a tab for indentation', 'apiVersion: aigate/v1\nkind: Policy\nmetadata:\n\tname: x\n', /:4:1: YAML syntax: /],
    ['a duplicate key', 'apiVersion: aigate/v1\nkind: Policy\nkind: Policy\n', /:3:1: YAML syntax: /],
  ])('gives line and column for a YAML syntax error (%s)', (_name, text, message) => {
    const run = aigate('policy', 'validate', file('syntax.yaml', text));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(message);
  });

  it('prints lint warnings but still exits 0', () => {
    const shadowed = file(
      'shadowed.yaml',
      'apiVersion: aigate/v1\nkind: Policy\nmetadata:\n  name: s\nspec:\n  rules:\n    - {tools: ["*"], action: allow}\n    - {tools: [claude-code], action: block}\n',
    );
    const run = aigate('policy', 'validate', shadowed);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/warning: .*spec\.rules\[1\]: can never match: rules\[0\] comes first/);
  });

  it('reports JSON output', () => {
    const run = aigate('policy', 'validate', BAN, '--json');
    expect(JSON.parse(run.stdout)).toEqual({ valid: true, warnings: [] });
  });

  it('exits 2 for a missing file', () => {
    const run = aigate('policy', 'validate', join(scratch, 'nope.yaml'));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/no such file/);
  });
});

describe('aigate policy explain', () => {
  it('says warn one second before midnight in Shanghai, and block at midnight', () => {
    const before = aigate(
      'policy',
      'explain',
      BAN,
      '--tool',
      'claude-code',
      '--version',
      '2.1.91',
      '--at',
      '2026-07-09T15:59:59Z',
    );
    expect(before.code).toBe(0);
    expect(before.stdout).toMatch(/verdict:\s+WARN/);
    expect(before.stdout).toMatch(
      /becomes BLOCK at 2026-07-09T16:00:00.000Z \(2026-07-10 00:00:00 Asia\/Shanghai, in 1 second\)/,
    );
    expect(before.stdout).toMatch(/decided by:\s+rule "ban-claude-code"/);

    const after = aigate(
      'policy',
      'explain',
      BAN,
      '--tool',
      'claude-code',
      '--version',
      '2.1.91',
      '--at',
      '2026-07-09T16:00:00Z',
    );
    expect(after.stdout).toMatch(/verdict:\s+BLOCK/);
    expect(after.stdout).toMatch(/next change:\s+none scheduled/);
    expect(after.stdout).toMatch(/instead use:\s+Qwen Code, Tongyi Lingma, GitHub Copilot/);
  });

  it('prints the verdict as JSON', () => {
    const run = aigate('policy', 'explain', BAN, '--tool', 'claude-code', '--at', '2026-07-01', '--json');
    const body = JSON.parse(run.stdout) as { verdict: { action: string; phase: string; nextChangeAt: string } };
    expect(body.verdict).toMatchObject({
      action: 'warn',
      phase: 'warn-window',
      nextChangeAt: '2026-07-09T16:00:00.000Z',
    });
  });

  it('applies scopes from flags', () => {
    const run = aigate(
      'policy',
      'explain',
      'policies/examples/allowlist-strict.yaml',
      '--tool',
      'claude-code',
      '--group',
      'ml-platform',
      '--at',
      '2026-08-01',
      '--json',
    );
    expect(JSON.parse(run.stdout).verdict).toMatchObject({
      action: 'allow',
      decidedBy: { kind: 'exception', name: 'ml-platform-evaluation' },
    });
  });

  it.each([
    [['--tool', 'clade-code'], /did you mean "claude-code"/],
    [['--tool', 'vendor:anthropic'], /name one catalog tool id/],
    [['--tool', 'claude-code', '--at', 'tomorrow'], /--at: "tomorrow" is not a date/],
    [['--tool', 'claude-code', '--os', 'macos'], /'macos' is invalid.*linux, darwin, windows/],
  ])('refuses bad flags %j with exit 2', (flags, message) => {
    const run = aigate('policy', 'explain', BAN, ...flags);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
  });
});
