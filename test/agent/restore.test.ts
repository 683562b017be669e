/** `aigate-agent restore --all` (what the uninstallers run): everything back byte-identical, no enrollment needed. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { banPolicy, DAY, enforce, isoDay, makeEnforcer, npmInstanceOf } from './enforce-helpers.js';
import { agent, hashTree, tempDir } from './helpers.js';
import { aiderPipx, claudeCodeNpm } from './trees.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  dir = await tempDir('aigate-restore-');
});
afterAll(async () => {
  await dir?.remove();
});

describe('aigate-agent restore --all', () => {
  it('puts back every blocked and warned tool exactly, then has nothing left to do', async () => {
    const tree = join(dir.path, 'tree');
    const state = join(dir.path, 'state');
    const home = join(tree, 'home', 'alice');
    const claude = await claudeCodeNpm(join(home, '.npm-global'));
    const aider = await aiderPipx(home);
    const before = await hashTree(tree);
    const { enforcer } = await makeEnforcer(state, { homes: [home] });
    await enforce(enforcer, banPolicy({ effective: '2020-01-01' }), [npmInstanceOf(claude)]);
    await enforce(enforcer, banPolicy({ effective: isoDay(Date.now() + 5 * DAY), warnFor: '30d', tools: ['aider'] }), [
      {
        toolId: 'aider',
        version: '0.86.1',
        channel: 'pipx',
        installPath: aider.installPath,
        launchers: [aider.launcher],
        owner: 'alice',
        evidence: [],
      },
    ]);
    expect(enforcer.applied.map((r) => r.level).sort()).toEqual(['block', 'warn']);
    expect(await hashTree(tree)).not.toEqual(before);

    const usage = await agent(['restore', '--state-dir', state]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('pass --all');

    const restored = await agent(['restore', '--all', '--state-dir', state]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toContain('2 of 2 tools put back.');
    expect(restored.stdout).toMatch(
      /restored: claude-code put back by aigate-agent restore: everything put back byte-identical/,
    );
    expect(await hashTree(tree)).toEqual(before);

    const again = await agent(['restore', '--all', '--state-dir', state]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Nothing to restore: no tool is stubbed or quarantined.');
  });

  it('has nothing to do where the agent never changed anything', async () => {
    const empty = join(dir.path, 'empty-state');
    await mkdir(empty);
    const result = await agent(['restore', '--all', '--state-dir', empty]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Nothing to restore');
  });
});
