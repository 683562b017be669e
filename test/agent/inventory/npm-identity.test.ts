/**
 * Tools known by what they are, with real releases from the npm registry in the layouts npm makes
 * (issue 12 items 4 and 6, field cases 04 and 08): a top-level, aliased Codex platform package is
 * part of Codex at Codex's version; a failed update's hidden `.claude-code-<random>` folder is a
 * second Claude Code; a copy whose "name" and folder were edited is still Claude Code; an install
 * with `--prefix ~/apps/cc` is found through the user's PATH, or by walking the home without it.
 * The allowed tools still run.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { scanMachine } from '../../../agent/inventory/index.js';
import type { ToolInstance } from '../../../policies/inventory.js';
import { cleanup, scratch } from './fixtures.js';
import { INSTALL_TIMEOUT_MS, npmInstallGlobal } from './real-npm.js';

afterAll(cleanup);

const t = scratch('aigate-npm-id-');
const home = t.path('home/alice');
const nvm = t.path('home/alice/.nvm/versions/node/v22.10.0');
const npmGlobal = t.path('home/alice/.npm-global');
const apps = t.path('home/alice/apps/cc');
let result: ToolInstance[] = [];

beforeAll(async () => {
  npmInstallGlobal(npmGlobal, ['@openai/codex@0.111.0', '@openai/codex-linux-x64@npm:@openai/codex@0.111.0-linux-x64']);
  npmInstallGlobal(nvm, ['@anthropic-ai/claude-code@2.0.46'], { omitOptional: true });
  npmInstallGlobal(t.path('old'), ['@anthropic-ai/claude-code@2.0.45'], { omitOptional: true });
  renameSync(
    t.path('old/lib/node_modules/@anthropic-ai/claude-code'),
    `${nvm}/lib/node_modules/@anthropic-ai/.claude-code-euxhxob3`,
  );
  // A copy renamed to look like something else: folder and "name" edited.
  const copy = `${npmGlobal}/lib/node_modules/my-helper`;
  cpSync(`${nvm}/lib/node_modules/@anthropic-ai/claude-code`, copy, { recursive: true });
  const manifest = JSON.parse(readFileSync(`${copy}/package.json`, 'utf8')) as Record<string, unknown>;
  writeFileSync(`${copy}/package.json`, JSON.stringify({ ...manifest, name: 'my-helper' }, null, 2));
  npmInstallGlobal(apps, ['@anthropic-ai/claude-code@2.0.46'], { omitOptional: true });
  result = (await scanMachine({ homes: [home], paths: [`${apps}/bin`], detectRunning: false })).instances;
}, INSTALL_TIMEOUT_MS * 5);

const brief = (i: ToolInstance) => ({
  toolId: i.toolId,
  version: i.version,
  installPath: i.installPath,
  ...(i.parts ? { parts: i.parts } : {}),
});

describe('real npm layouts, identified by content', () => {
  it('reports the aliased Codex platform package as part of Codex 0.111.0, not as a second Codex', () => {
    const codex = result.filter((i) => i.toolId === 'openai-codex-cli');
    expect(codex.map(brief)).toEqual([
      {
        toolId: 'openai-codex-cli',
        version: '0.111.0',
        installPath: realpathSync(`${npmGlobal}/lib/node_modules/@openai/codex`),
        parts: [realpathSync(`${npmGlobal}/lib/node_modules/@openai/codex-linux-x64`)],
      },
    ]);
    expect(codex[0]!.launchers).toEqual([`${npmGlobal}/bin/codex`]);
    expect(execFileSync(`${npmGlobal}/bin/codex`, ['--version'], { encoding: 'utf8' }).trim()).toBe(
      'codex-cli 0.111.0',
    );
  });

  it('finds the live Claude Code, the hidden leftover of a failed update, the renamed copy and the --prefix install on PATH', () => {
    const claude = result.filter((i) => i.toolId === 'claude-code').map(brief);
    expect(claude).toEqual(
      [
        {
          toolId: 'claude-code',
          version: '2.0.45',
          installPath: realpathSync(`${nvm}/lib/node_modules/@anthropic-ai/.claude-code-euxhxob3`),
        },
        {
          toolId: 'claude-code',
          version: '2.0.46',
          installPath: realpathSync(`${nvm}/lib/node_modules/@anthropic-ai/claude-code`),
        },
        {
          toolId: 'claude-code',
          version: '2.0.46',
          installPath: realpathSync(`${npmGlobal}/lib/node_modules/my-helper`),
        },
        {
          toolId: 'claude-code',
          version: '2.0.46',
          installPath: realpathSync(`${apps}/lib/node_modules/@anthropic-ai/claude-code`),
        },
      ].sort((a, b) => (a.installPath < b.installPath ? -1 : 1)),
    );
    const renamed = result.find((i) => i.installPath.endsWith('my-helper'))!;
    expect(renamed.evidence.some((e) => e.includes('bin claude and source github.com/anthropics/claude-code'))).toBe(
      true,
    );
    expect(
      result.find((i) => i.installPath.endsWith('apps/cc/lib/node_modules/@anthropic-ai/claude-code'))!.launchers,
    ).toEqual([`${apps}/bin/claude`]);
    // The leftover really is runnable Claude Code.
    expect(
      execFileSync('node', [`${nvm}/lib/node_modules/@anthropic-ai/.claude-code-euxhxob3/cli.js`, '--version'], {
        encoding: 'utf8',
        // Its own home: Claude Code writes ~/.claude.json on start, and no other test's run may
        // share that file (once, with the whole folder running, the output did not start with the
        // version).
        env: { ...process.env, HOME: home },
      }),
    ).toMatch(/^2\.0\.45/);
  });

  it('finds the --prefix ~/apps/cc install by walking the home when it is not on any PATH the agent knows', async () => {
    const walked = (await scanMachine({ homes: [home], paths: [], detectRunning: false })).instances;
    const cc = walked.find((i) => i.installPath === realpathSync(`${apps}/lib/node_modules/@anthropic-ai/claude-code`));
    expect(cc).toMatchObject({ toolId: 'claude-code', version: '2.0.46', launchers: [`${apps}/bin/claude`] });
  });

  it('reports nothing else', () => {
    expect(result.map((i) => i.toolId).sort()).toEqual([
      'claude-code',
      'claude-code',
      'claude-code',
      'claude-code',
      'openai-codex-cli',
    ]);
  });
});
