/**
 * Enforcement on real directory trees: warn stubs that pass everything through, block stubs,
 * quarantine, stopping a running instance, byte-identical restore, tampering re-applied, monitor
 * mode and unknown tools left alone, and failed steps undone.
 */
import { spawn } from 'node:child_process';
import {
  chmod,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { homeOf } from '../../agent/enforce/plan.js';
import { isOurStub } from '../../agent/enforce/steps.js';
import { policyYaml } from '../support/policy.js';
import { ALLOW_ALL, banPolicy, compile, DAY, enforce, isoDay, makeEnforcer, npmInstanceOf } from './enforce-helpers.js';

const UNKNOWN_BLOCKED = compile(policyYaml('strict', { default: 'allow', unknownTools: 'block' }));
import { hashTree, run, tempDir } from './helpers.js';
import { aiderPipx, bareBinary, claudeCodeNpm, isRoot, OWNER_UID } from './trees.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  dir = await tempDir('aigate-enforce-');
});
afterAll(async () => {
  await dir?.remove();
});

/** A tree to enforce on, and a state directory outside it. */
const sandbox = async (name: string) => {
  const root = join(dir.path, name, 'tree');
  await mkdir(root, { recursive: true });
  return { root, state: join(dir.path, name, 'state') };
};

describe('warn, block, restore on an npm install', () => {
  it('passes through while warning, blocks with 126 and quarantine, stops the running instance, and restores byte-identical', async () => {
    const { root, state } = await sandbox('npm');
    const install = await claudeCodeNpm(join(root, 'npm-global'));
    const before = await hashTree(root);
    const { enforcer, events, notices, paths } = await makeEnforcer(state);
    const instance = npmInstanceOf(install);

    // Warn: a ban ten days ahead, warned about for thirty.
    const effective = isoDay(Date.now() + 10 * DAY);
    const warned = await enforce(
      enforcer,
      banPolicy({ effective, warnFor: '30d', message: 'Claude Code may not be used on company machines.' }),
      [instance],
    );
    expect(warned).toMatchObject({ applied: 1, failed: 0 });
    expect(await isOurStub(install.launcher)).toBe(true);
    expect(await readlink(join(install.bin, '.claude.aigate-orig'))).toBe(
      '../lib/node_modules/@anthropic-ai/claude-code/cli.js',
    );
    const warnRun = await run(install.launcher, ['--print', 'hello world', "it's"], {
      input: 'stdin text',
      env: { ...process.env, FAKE_EXIT: '7' },
    });
    expect(warnRun.code).toBe(7);
    expect(JSON.parse(warnRun.stdout)).toEqual({
      tool: 'claude-code',
      args: ['--print', 'hello world', "it's"],
      input: 'stdin text',
    });
    expect(warnRun.stderr).toContain('aigate: Claude Code will be blocked on this computer soon.');
    expect(warnRun.stderr).toContain(
      `From ${effective} 00:00 (Asia/Shanghai), Claude Code 2.1.91 will no longer start on this computer.`,
    );
    expect(warnRun.stderr).toMatch(/That is in (8|9|10) days\./);
    expect(warnRun.stderr).toContain('Claude Code may not be used on company machines.');
    expect(warnRun.stderr).toContain('Approved alternatives: Qwen Code, Tongyi Lingma');
    expect(warnRun.stderr).toContain('Questions: https://it.example.com/ai-tools');
    expect(warnRun.stderr).toContain('aigate-agent request-exception claude-code --reason "what you need it for"');
    const records = await readdir(paths.launchesDir);
    expect(records).toHaveLength(1);
    expect(await readFile(join(paths.launchesDir, records[0]!), 'utf8')).toMatch(
      /^v=1\nkind=warned\nkey=[0-9a-f]{16}\nuid=\d+\nuser=\S+\nat=\d+\n$/,
    );
    expect(events.map((e) => e.type)).toEqual(['warning-installed']);
    expect(notices).toEqual([expect.stringContaining('Claude Code will be blocked on this computer from')]);

    // A running instance, started before the block.
    const running = spawn(process.execPath, [join(install.installPath, 'cli.js'), 'serve'], {
      cwd: install.installPath,
      stdio: 'ignore',
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      running.once('exit', (_code, signal) => resolve(signal)),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));

    // Block: the ban took effect.
    const blocked = await enforce(
      enforcer,
      banPolicy({ effective: '2020-01-01', message: 'Claude Code may not be used on company machines.' }),
      [{ ...instance, running: true, pids: [running.pid!] }],
    );
    expect(blocked).toMatchObject({ applied: 1, failed: 0 });
    expect(await exited).toBe('SIGTERM');
    const quarantine = join(install.prefix, 'lib', 'node_modules', '@anthropic-ai', '.claude-code.aigate-quarantine');
    const q = await stat(quarantine);
    expect(q.mode & 0o7777).toBe(0);
    expect(q.uid).toBe(isRoot ? 0 : process.getuid!());
    await expect(lstat(install.installPath)).rejects.toMatchObject({ code: 'ENOENT' });
    const blockRun = await run(install.launcher, ['--version'], { input: '' });
    expect(blockRun.code).toBe(126);
    expect(blockRun.stdout).toBe('');
    expect(blockRun.stderr).toContain('aigate: Claude Code is blocked on this computer.');
    expect(blockRun.stderr).toContain(
      'Blocked since 2020-01-01 00:00 (Asia/Shanghai) by the company policy "ban-ai-clis".',
    );
    expect(blockRun.stderr).toContain('Nothing was deleted');
    expect(events.map((e) => e.type)).toEqual(['warning-installed', 'processes-stopped', 'quarantined']);
    expect(events[1]!.details?.pids).toBe(String(running.pid));

    // Lift: allowed again.
    const restored = await enforce(enforcer, ALLOW_ALL, [instance]);
    expect(restored).toMatchObject({ restored: 1, failed: 0 });
    expect(await hashTree(root)).toEqual(before);
    const restoredEvent = events.at(-1)!;
    expect(restoredEvent).toMatchObject({ type: 'restored', details: { verified: true } });
    expect(enforcer.applied).toEqual([]);
    const after = await run(install.launcher, ['ok'], { input: '' });
    expect(after.code).toBe(0);
    expect(after.stderr).toBe('');
  });

  it('warn stubs start blocking by themselves once the date has passed', async () => {
    const { root, state } = await sandbox('self-block');
    const install = await claudeCodeNpm(join(root, 'npm-global'));
    const { enforcer } = await makeEnforcer(state);
    // The ban starts in two seconds; the warn stub is written now.
    const effective = new Date(Date.now() + 2000).toISOString();
    await enforce(enforcer, banPolicy({ effective, warnFor: '1d' }), [npmInstanceOf(install)]);
    const early = await run(install.launcher, [], { input: '' });
    expect(early.code).toBe(0);
    expect(early.stderr).toMatch(/That is in \d seconds?\./);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const late = await run(install.launcher, [], { input: '' });
    expect(late.code).toBe(126);
    expect(late.stderr).toContain('Claude Code is blocked on this computer.');
    expect(late.stderr).toContain('may not run under the policy "ban-ai-clis"');
  });
});

describe('regular-file launchers and bare binaries', () => {
  it('locks the kept original under a block and puts back content, mode and owner exactly', async () => {
    const { root, state } = await sandbox('files');
    const home = join(root, 'home', 'alice');
    const aider = await aiderPipx(home);
    const bin = join(root, 'bin');
    const qwen = await bareBinary(bin, 'codex', 0o4750);
    const before = await hashTree(root);
    const { enforcer } = await makeEnforcer(state, { homes: [home] });
    const instances = [
      {
        toolId: 'aider',
        version: '0.86.1',
        channel: 'pipx' as const,
        installPath: aider.installPath,
        launchers: [aider.launcher],
        owner: 'alice',
        evidence: [],
      },
      {
        toolId: 'openai-codex-cli',
        version: null,
        channel: 'binary' as const,
        installPath: qwen,
        launchers: [qwen],
        owner: 'alice',
        evidence: [qwen],
      },
    ];
    const ban = banPolicy({ effective: '2020-01-01', tools: ['aider', 'openai-codex-cli'] });
    expect(await enforce(enforcer, ban, instances)).toMatchObject({ applied: 2, failed: 0 });
    for (const launcher of [aider.launcher, qwen]) {
      expect(await isOurStub(launcher)).toBe(true);
      const kept = await stat(join(launcher, '..', `.${launcher.split('/').pop()}.aigate-orig`));
      expect(kept.mode & 0o7777).toBe(0);
      if (isRoot) expect(kept.uid).toBe(0);
      expect((await run(launcher, [], { input: '' })).code).toBe(126);
    }
    // The bare binary is its own install: blocked by the stub and the lock, not quarantined.
    expect(enforcer.applied.find((r) => r.instance.toolId === 'openai-codex-cli')!.quarantine).toEqual([]);
    expect(enforcer.applied.find((r) => r.instance.toolId === 'aider')!.quarantine).toHaveLength(1);

    expect(await enforce(enforcer, ALLOW_ALL, instances)).toMatchObject({ restored: 2, failed: 0 });
    expect(await hashTree(root)).toEqual(before);
    if (isRoot) expect((await stat(aider.launcher)).uid).toBe(OWNER_UID);
  });
});

describe('tampering', () => {
  it('re-applies a removed stub, a quarantine moved back, an original put back, and keeps a reinstall aside', async () => {
    const { root, state } = await sandbox('tamper');
    const install = await claudeCodeNpm(join(root, 'npm-global'));
    const before = await hashTree(root);
    const { enforcer, events } = await makeEnforcer(state);
    const instance = npmInstanceOf(install);
    const ban = banPolicy({ effective: '2020-01-01' });
    await enforce(enforcer, ban, [instance]);
    const quarantine = join(install.installPath, '..', '.claude-code.aigate-quarantine');
    const sibling = join(install.bin, '.claude.aigate-orig');

    // 1. The stub is deleted.
    await rm(install.launcher);
    expect(await enforce(enforcer, ban, [instance])).toMatchObject({ tampered: 1, repaired: 1, failed: 0 });
    expect(await isOurStub(install.launcher)).toBe(true);

    // 2. The quarantine is moved back and opened up.
    await rename(quarantine, install.installPath);
    expect(await enforce(enforcer, ban, [instance])).toMatchObject({ tampered: 1, repaired: 1 });
    expect((await stat(quarantine)).mode & 0o7777).toBe(0);
    await expect(lstat(install.installPath)).rejects.toMatchObject({ code: 'ENOENT' });

    // 3. The original launcher is put back over the stub.
    await rename(sibling, install.launcher);
    expect(await enforce(enforcer, ban, [instance])).toMatchObject({ tampered: 1, repaired: 1 });
    expect(await isOurStub(install.launcher)).toBe(true);
    expect(await readlink(sibling)).toBe('../lib/node_modules/@anthropic-ai/claude-code/cli.js');

    // 4. A reinstall over the quarantine: the new copy is quarantined too, the old one kept.
    await mkdir(install.installPath);
    await writeFile(
      join(install.installPath, 'package.json'),
      '{"name":"@anthropic-ai/claude-code","version":"2.2.0"}',
    );
    expect(await enforce(enforcer, ban, [instance])).toMatchObject({ tampered: 1, repaired: 1 });
    expect((await stat(join(install.installPath, '..', '.claude-code.aigate-quarantine-2'))).mode & 0o7777).toBe(0);
    const tamperEvents = events.filter((e) => e.type === 'tamper');
    expect(tamperEvents.map((e) => e.details?.findings)).toEqual([
      'stub-removed',
      'quarantine-undone',
      'original-restored',
      'quarantine-reinstalled',
    ]);

    // 5. The quarantine is opened up in place.
    await chmod(join(install.installPath, '..', '.claude-code.aigate-quarantine-2'), 0o755);
    expect(await enforce(enforcer, ban, [instance])).toMatchObject({ tampered: 1, repaired: 1 });
    expect((await stat(join(install.installPath, '..', '.claude-code.aigate-quarantine-2'))).mode & 0o7777).toBe(0);
    expect(events.filter((e) => e.type === 'tamper').at(-1)!.details?.findings).toBe('quarantine-unlocked');

    // Lifting puts the newest copy back and leaves the earlier one beside it, owner and mode restored.
    expect(await enforce(enforcer, ALLOW_ALL, [instance])).toMatchObject({ restored: 1, failed: 0 });
    expect(JSON.parse(await readFile(join(install.installPath, 'package.json'), 'utf8')).version).toBe('2.2.0');
    const kept = await stat(quarantine);
    expect(kept.mode & 0o7777).toBe(0o750);
    // Its place holds the reinstall: the restore says it is not all back, and why.
    expect(events.at(-1)).toMatchObject({ type: 'restored', details: { verified: false, keptCopies: 1 } });
    expect(events.at(-1)!.message).toContain(`${quarantine} kept: ${install.installPath} holds another file`);
    // Apart from the kept earlier copy and the reinstalled folder, the tree is as before.
    await rm(install.installPath, { recursive: true });
    await rename(quarantine, install.installPath);
    expect(await hashTree(root)).toEqual(before);
  });
});

describe('what enforcement leaves alone', () => {
  it('changes nothing in monitor mode, for unknown tools, or for protected paths', async () => {
    const { root, state } = await sandbox('alone');
    const install = await claudeCodeNpm(join(root, 'npm-global'));
    const before = await hashTree(root);
    const { enforcer, events } = await makeEnforcer(state, { homes: [join(root, 'npm-global')] });
    await enforce(enforcer, banPolicy({ effective: '2020-01-01', mode: 'monitor' }), [npmInstanceOf(install)]);
    const unknown = { ...npmInstanceOf(install), toolId: 'unknown:npm:some-agent' };
    await enforce(enforcer, UNKNOWN_BLOCKED, [unknown]);
    expect(await hashTree(root)).toEqual(before);
    expect(enforcer.applied).toEqual([]);
    expect(events).toEqual([]);

    // An install path the guard refuses (a home folder) is not quarantined, even under a block.
    const summary = await enforce(enforcer, banPolicy({ effective: '2020-01-01' }), [
      { ...npmInstanceOf(install), installPath: join(root, 'npm-global'), launchers: [] },
    ]);
    expect(summary.notes.join(' ')).toMatch(/is a home folder; aigate never quarantines it/);
    expect(await hashTree(root)).toEqual(before);
  });
});

describe('a step that cannot be done', () => {
  it('undoes the steps already done and reports it', async () => {
    const { root, state } = await sandbox('failing');
    const install = await claudeCodeNpm(join(root, 'npm-global'));
    const second = join(install.bin, 'claude-2');
    await symlink('../lib/node_modules/@anthropic-ai/claude-code/cli.js', second);
    const before = await hashTree(root);
    const { enforcer, events } = await makeEnforcer(state);
    // The second launcher is listed but vanishes between planning and its step: simulate with a
    // launcher whose recorded facts no longer match by changing it after planning.
    const instance = { ...npmInstanceOf(install), launchers: [install.launcher, second] };
    const { planChange } = await import('../../agent/enforce/plan.js');
    const { desire, policyFacts } = await import('../../agent/enforce/desired.js');
    const { captureFacts, lexists } = await import('../../agent/enforce/fs-facts.js');
    const { evaluateInstance } = await import('../../policies/evaluate.js');
    const policy = banPolicy({ effective: '2020-01-01' });
    const verdict = evaluateInstance(policy, instance, { os: 'linux' }, Date.now());
    const { desired } = desire({
      key: 'k',
      instance,
      verdict,
      record: null,
      policy: policyFacts(policy),
      guard: { platform: process.platform, homes: [], stateDir: state, roots: [{ path: root, kind: 'prefix' }] },
      launchesDir: join(state, 'launches'),
    });
    const plan = (await planChange({
      current: null,
      desired,
      replaceable: new Set(),
      movedBack: { launchers: [], quarantine: [] },
      running: false,
      graceMs: 100,
      nowIso: new Date().toISOString(),
      platform: process.platform,
      facts: captureFacts,
      exists: lexists,
      isOurStub,
    }))!;
    await rm(second);
    await symlink('/somewhere/else', second);
    const committed = await enforcer.execute({
      id: 'op-1',
      kind: 'apply',
      key: 'k',
      startedAt: new Date().toISOString(),
      direction: 'forward',
      steps: plan.steps.map((step) => ({ step, state: 'pending' })),
      result: plan.result,
      error: null,
    });
    expect(committed).toBe(false);
    expect(events.map((e) => e.type)).toEqual(['enforcement-failed']);
    expect(events[0]!.message).toMatch(/changed since the agent looked at it.*the steps already done were undone/);
    await rm(second);
    await symlink('../lib/node_modules/@anthropic-ai/claude-code/cli.js', second);
    expect(await hashTree(root)).toEqual(before);
    expect(enforcer.store.ledger.journal).toBeNull();
    expect(enforcer.store.ledger.problems).toHaveLength(1);
  });
});

describe('where an earlier copy goes back on lift', () => {
  it('is the place recorded with it, or for older ledgers the name the agent gave it', () => {
    const facts = { kind: 'file' as const, mode: 0o755, uid: 0, gid: 0, size: 1, mtimeMs: 0, atimeMs: 0 };
    expect(
      homeOf({ path: '/h/bin/.claude.aigate-orig', original: facts, locked: false, home: '/h/bin/other' }, 'linux'),
    ).toBe('/h/bin/other');
    expect(homeOf({ path: '/h/bin/.claude.aigate-orig', original: facts, locked: false }, 'linux')).toBe(
      '/h/bin/claude',
    );
    expect(homeOf({ path: '/h/bin/.claude.aigate-orig-3', original: facts, locked: false }, 'linux')).toBe(
      '/h/bin/claude',
    );
    expect(
      homeOf({ path: '/h/m/@anthropic-ai/.claude-code.aigate-quarantine-2', original: facts, locked: false }, 'linux'),
    ).toBe('/h/m/@anthropic-ai/claude-code');
    expect(homeOf({ path: 'C:\\npm\\.claude.aigate-orig.cmd', original: facts, locked: false }, 'win32')).toBe(
      'C:\\npm\\claude.cmd',
    );
    expect(homeOf({ path: '/h/bin/claude-copy', original: facts, locked: false }, 'linux')).toBeNull();
  });
});
