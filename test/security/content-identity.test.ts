/**
 * Red-team B4-B6 (issue 12): a real Claude Code copy whose package.json lies is still Claude Code,
 * known by its cli.js content (policies/catalog/content.ts): renamed to "@openai/codex" 0.111.0
 * (B4, was reported as the ALLOWED Codex), name+bin or name+homepage edited, package.json
 * deleted, one byte appended to cli.js (B5), its folder chmod 777 (B6). With a Claude Code ban
 * the next cycle quarantines every copy, and the real, allowed Codex beside them still runs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, cpSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { scanMachine } from '../../agent/inventory/index.js';
import type { ToolInstance } from '../../policies/inventory.js';
import { banPolicy, enforce, makeEnforcer } from '../agent/enforce-helpers.js';
import { cleanup, scratch } from '../agent/inventory/fixtures.js';
import { INSTALL_TIMEOUT_MS, npmInstallGlobal } from '../agent/inventory/real-npm.js';

afterAll(cleanup);

const t = scratch('aigate-content-id-');
const home = t.path('home/alice');
const npmGlobal = t.path('home/alice/.npm-global');
const modules = `${npmGlobal}/lib/node_modules`;

/** Each lying copy: folder name under node_modules, how its package.json (or cli.js) was edited. */
const COPIES: {
  dir: string;
  what: string;
  edit: (dir: string, manifest: Record<string, unknown>) => void;
  /** Its manifest alone still says Claude Code (bin claude + homepage), so content need not decide. */
  manifestToo?: boolean;
}[] = [
  {
    dir: 'v4',
    what: 'B4: name @openai/codex, version 0.111.0',
    edit: (d, m) => writeManifest(d, { ...m, name: '@openai/codex', version: '0.111.0' }),
  },
  {
    dir: 'v5-bin',
    what: 'B5: name and bin changed',
    edit: (d, m) => writeManifest(d, { ...m, name: 'my-helper', bin: { helper: 'cli.js' } }),
  },
  {
    dir: 'v5-repo',
    what: 'B5: name, homepage and bugs changed (bin claude kept)',
    edit: (d, m) => writeManifest(d, { ...m, name: 'my-helper2', homepage: 'https://example.com/x', bugs: undefined }),
  },
  { dir: 'v5-none', what: 'B5: package.json deleted', edit: (d) => rmSync(`${d}/package.json`) },
  {
    dir: 'v5-byte',
    what: 'B5: one byte appended to cli.js, name edited',
    manifestToo: true,
    edit: (d, m) => {
      appendFileSync(`${d}/cli.js`, '\n');
      writeManifest(d, { ...m, name: 'my-helper3' });
    },
  },
  {
    dir: 'v6',
    what: 'B6: folder chmod 777, name @openai/codex',
    edit: (d, m) => {
      writeManifest(d, { ...m, name: '@openai/codex', version: '0.111.0' });
      chmodSync(d, 0o777);
    },
  },
];

function writeManifest(dir: string, manifest: Record<string, unknown>): void {
  writeFileSync(`${dir}/package.json`, JSON.stringify(manifest, null, 2));
}

let result: ToolInstance[] = [];

beforeAll(async () => {
  npmInstallGlobal(npmGlobal, ['@openai/codex@0.111.0', '@openai/codex-linux-x64@npm:@openai/codex@0.111.0-linux-x64']);
  npmInstallGlobal(t.path('src'), ['@anthropic-ai/claude-code@2.0.45'], { omitOptional: true });
  const original = t.path('src/lib/node_modules/@anthropic-ai/claude-code');
  const manifest = JSON.parse(readFileSync(`${original}/package.json`, 'utf8')) as Record<string, unknown>;
  for (const copy of COPIES) {
    const dir = `${modules}/${copy.dir}`;
    cpSync(original, dir, { recursive: true });
    copy.edit(dir, manifest);
  }
  result = (await scanMachine({ homes: [home], paths: [], detectRunning: false })).instances;
}, INSTALL_TIMEOUT_MS * 3);

const codexVersion = () => spawnSync(`${npmGlobal}/bin/codex`, ['--version'], { encoding: 'utf8', timeout: 60_000 });

describe.runIf(process.platform === 'linux' && process.arch === 'x64')('copies whose manifest lies', () => {
  it.each(COPIES.map((c) => [c.what, c] as const))('%s: reported as Claude Code 2.0.45, by content', (_what, c) => {
    const dir = realpathSync(`${modules}/${c.dir}`);
    const found = result.filter((i) => i.installPath === dir);
    expect(found.map((i) => ({ toolId: i.toolId, version: i.version }))).toEqual([
      { toolId: 'claude-code', version: '2.0.45' },
    ]);
    if (!c.manifestToo) expect(found[0]!.evidence.join('\n')).toContain("its content has claude-code's markers");
  });

  it('the manifests claiming @openai/codex are named as a mismatch', () => {
    const v4 = result.find((i) => i.installPath === realpathSync(`${modules}/v4`))!;
    expect(v4.evidence.join('\n')).toContain(
      'the manifest says openai-codex-cli (evidence: content, manifest mismatch)',
    );
  });

  it('the real Codex is still one Codex 0.111.0, and nothing else is reported', () => {
    expect(
      result.filter((i) => i.toolId === 'openai-codex-cli').map((i) => [i.installPath, i.version, i.parts]),
    ).toEqual([
      [realpathSync(`${modules}/@openai/codex`), '0.111.0', [realpathSync(`${modules}/@openai/codex-linux-x64`)]],
    ]);
    expect(result.map((i) => i.toolId).sort()).toEqual([...COPIES.map(() => 'claude-code'), 'openai-codex-cli']);
  });

  it('with a Claude Code ban the next cycle quarantines every copy; the allowed Codex still runs', async () => {
    for (const c of COPIES)
      expect(execFileSync('node', [`${modules}/${c.dir}/cli.js`, '--version'], { encoding: 'utf8' })).toMatch(
        /^2\.0\.45/,
      );
    const { enforcer } = await makeEnforcer(t.path('state'));
    const policy = banPolicy({ effective: '2020-01-01', tools: ['claude-code'] });
    expect(await enforce(enforcer, policy, result)).toMatchObject({ applied: COPIES.length, failed: 0 });
    for (const c of COPIES) {
      const run = spawnSync('node', [`${modules}/${c.dir}/cli.js`, '--version'], { encoding: 'utf8' });
      expect(run.status, `${c.what} still runs: ${run.stdout}`).not.toBe(0);
    }
    expect(codexVersion().status).toBe(0);
    expect(codexVersion().stdout.trim()).toBe('codex-cli 0.111.0');
  }, 300_000);
});
