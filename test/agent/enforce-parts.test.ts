/**
 * A blocked instance's parts (issue 12): the per-platform package holding the native binary,
 * installed at top level under its alias as Codex's docs advise (openai/codex#13555), is
 * quarantined with the tool and restored with it. Real releases from the npm registry
 * (@openai/codex 0.111.0 and its linux-x64 package), found by the real scan.
 */
import { spawnSync } from 'node:child_process';
import { lstat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { scanMachine } from '../../agent/inventory/index.js';
import { ALLOW_ALL, banPolicy, enforce, makeEnforcer } from './enforce-helpers.js';
import { hashTree, tempDir } from './helpers.js';
import { INSTALL_TIMEOUT_MS, npmInstallGlobal } from './inventory/real-npm.js';
import { isRoot } from './trees.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let prefix = '';
beforeAll(async () => {
  dir = await tempDir('aigate-parts-');
  prefix = join(dir.path, 'tree', 'npm-global');
  await mkdir(prefix, { recursive: true });
  npmInstallGlobal(prefix, ['@openai/codex@0.111.0', '@openai/codex-linux-x64@npm:@openai/codex@0.111.0-linux-x64']);
}, INSTALL_TIMEOUT_MS * 2);
afterAll(async () => {
  await dir?.remove();
});

const codexVersion = () =>
  spawnSync(join(prefix, 'bin', 'codex'), ['--version'], { encoding: 'utf8', timeout: 60_000 });

describe.runIf(process.platform === 'linux' && process.arch === 'x64')('parts of a blocked instance', () => {
  it('quarantines the hoisted platform package with the tool, so its native binary cannot run, and puts both back byte-identical', async () => {
    const scope = join(prefix, 'lib', 'node_modules', '@openai');
    const part = join(scope, 'codex-linux-x64');
    const binary = join(part, 'vendor', 'x86_64-unknown-linux-musl', 'codex', 'codex');
    expect(codexVersion().stdout.trim()).toBe('codex-cli 0.111.0');
    const before = [...(await hashTree(scope)), ...(await hashTree(join(prefix, 'bin')))];

    const scanned = (await scanMachine({ homes: [], npmPrefixes: [prefix], paths: [], detectRunning: false }))
      .instances;
    const codex = scanned.filter((i) => i.toolId === 'openai-codex-cli');
    expect(codex).toHaveLength(1);
    expect(codex[0]!.parts).toEqual([part]);

    const { enforcer, events } = await makeEnforcer(join(dir.path, 'state'));
    const policy = banPolicy({ effective: '2020-01-01', tools: ['openai-codex-cli'] });
    expect(await enforce(enforcer, policy, codex)).toMatchObject({ applied: 1, failed: 0 });
    const record = enforcer.applied[0]!;
    expect(record.quarantine.map((entry) => [entry.from, entry.to])).toEqual([
      [join(scope, 'codex'), join(scope, '.codex.aigate-quarantine')],
      [part, join(scope, '.codex-linux-x64.aigate-quarantine')],
    ]);
    await expect(lstat(binary)).rejects.toMatchObject({ code: 'ENOENT' });
    const locked = await lstat(join(scope, '.codex-linux-x64.aigate-quarantine'));
    expect(locked.mode & 0o7777).toBe(0);
    if (isRoot) expect(locked.uid).toBe(0);
    expect(codexVersion().status).toBe(126);
    expect(events.find((e) => e.type === 'quarantined')?.message).toContain(
      join(scope, '.codex-linux-x64.aigate-quarantine'),
    );

    // The next cycle (the scan sees neither folder now) keeps both quarantined, changing nothing.
    const again = (
      await scanMachine({ homes: [], npmPrefixes: [prefix], paths: [], detectRunning: false })
    ).instances.filter((i) => !enforcer.isArtefact(i));
    const items = again.some((i) => i.installPath === record.instance.installPath)
      ? again
      : [...again, record.instance];
    expect(await enforce(enforcer, policy, items)).toMatchObject({ failed: 0, tampered: 0 });
    expect(enforcer.applied[0]!.quarantine).toHaveLength(2);

    expect(await enforce(enforcer, ALLOW_ALL, [record.instance])).toMatchObject({ restored: 1, failed: 0 });
    expect(events.find((e) => e.type === 'restored')?.details).toMatchObject({ verified: true, quarantine: 2 });
    expect([...(await hashTree(scope)), ...(await hashTree(join(prefix, 'bin')))]).toEqual(before);
    expect(codexVersion().stdout.trim()).toBe('codex-cli 0.111.0');
  });
});
