/**
 * The scan's time budget (agent/inventory/context.ts), on a clock the test moves: the whole scan
 * stops at the budget, and on a machine with several homes no home may take more than its share
 * (half of it with up to 4 homes, twice a fair share with more)
 * (a user who makes their own home slow to scan cuts only that home short), told at the scanners'
 * checkpoints with the place cut short recorded. And the bounds on what one home can make a
 * scan do: values per variable from its startup files, version folders per version manager.
 */
import { execFileSync } from 'node:child_process';

import { afterAll, describe, expect, it } from 'vitest';

import { createContext, homeShareMs } from '../../../agent/inventory/context.js';
import { scanMachine } from '../../../agent/inventory/index.js';
import { MAX_EVIDENCE, MAX_LAUNCHERS, mergeInstances } from '../../../agent/inventory/instances.js';
import {
  MAX_CANDIDATES_PER_VARIABLE,
  MAX_STARTUP_COMMANDS,
  MAX_VALUES_PER_VARIABLE,
} from '../../../agent/inventory/user-env.js';
import type { ToolInstance } from '../../../policies/inventory.js';
import { cleanup, npmGlobal, scratch } from './fixtures.js';

afterAll(cleanup);

const t = scratch('aigate-budget-');
const mallory = t.dir('home/mallory');
const alice = t.dir('home/alice');
const SHARE_SPENT = "time budget exhausted; this home's share of it is spent; not read";

describe('the time budget', () => {
  it('cuts a home short once it has taken half the budget, while the other homes go on', () => {
    let clock = 0;
    const { ctx, skips, budgetExhausted } = createContext({ homes: [mallory, alice], budgetMs: 1000 }, () => clock);
    // [time, checkpoint, expired?]: the time since a checkpoint counts for that checkpoint's home.
    const steps: [number, string, boolean][] = [
      [0, `${mallory}/.npm-global/lib/node_modules`, false],
      [400, `${mallory}/.npm-global/lib/node_modules`, false],
      [501, `${mallory}/.npm-global/lib/node_modules`, true],
      [501, `${alice}/.npm-global/lib/node_modules`, false],
      [900, `${alice}/.vscode/extensions`, false],
      [900, `${mallory}/.vscode/extensions`, true],
      [950, '/usr/local/lib/node_modules', false],
      [1000, `${alice}/.local/share/pnpm/global`, true],
    ];
    for (const [at, where, expired] of steps) {
      clock = at;
      expect([at, where, ctx.expired(where)]).toEqual([at, where, expired]);
    }
    expect(budgetExhausted()).toBe(true);
    expect(skips.all()).toEqual([
      { path: `${alice}/.local/share/pnpm/global`, reason: 'time budget exhausted; not read' },
      { path: `${mallory}/.npm-global/lib/node_modules`, reason: SHARE_SPENT },
      { path: `${mallory}/.vscode/extensions`, reason: SHARE_SPENT },
    ]);
  });

  it.each([
    [2, 500],
    [4, 500],
    [5, 400],
    [10, 200],
    [40, 50],
    [1000, 50],
  ])('gives each of %i homes at most %i ms of a 1000 ms budget', (homes, share) => {
    expect(homeShareMs(1000, homes)).toBe(share);
  });

  it('leaves the homes of a machine most of the budget when two users slow theirs down together', () => {
    const homes = Array.from({ length: 10 }, (_, i) => t.dir(`home/u${i}`));
    let clock = 0;
    const { ctx, skips } = createContext({ homes, budgetMs: 1000 }, () => clock);
    // u0 and u1 each take their share (200 ms), then every other home still gets its turn.
    const steps: [number, string, boolean][] = [
      [0, `${homes[0]}/.npm`, false],
      [201, `${homes[0]}/.npm`, true],
      [201, `${homes[1]}/.npm`, false],
      [402, `${homes[1]}/.npm`, true],
      ...homes.slice(2).map((home, i): [number, string, boolean] => [402 + 70 * (i + 1), `${home}/.npm`, false]),
      [980, `${homes[0]}/.cache`, true],
    ];
    for (const [at, where, expired] of steps) {
      clock = at;
      expect([at, where, ctx.expired(where)]).toEqual([at, where, expired]);
    }
    expect(skips.all().map((s) => s.path)).toEqual([`${homes[0]}/.cache`, `${homes[0]}/.npm`, `${homes[1]}/.npm`]);
  });

  it('gives a machine with one home the whole budget', () => {
    let clock = 0;
    const { ctx, budgetExhausted } = createContext({ homes: [alice], budgetMs: 1000 }, () => clock);
    expect(ctx.expired(alice)).toBe(false);
    clock = 999;
    expect(ctx.expired(alice)).toBe(false);
    expect(budgetExhausted()).toBe(false);
    clock = 1000;
    expect(ctx.expired(alice)).toBe(true);
    expect(budgetExhausted()).toBe(true);
  });
});

describe("the bounds on one home's work", () => {
  it('keeps at most MAX_VALUES_PER_VARIABLE values of a variable from the startup files', () => {
    const u = scratch('aigate-bounds-env-');
    const bob = u.dir('home/bob');
    const lines = Array.from({ length: 40 }, (_, i) => `export XDG_DATA_HOME=$HOME/x${i}`);
    for (let i = 0; i < 40; i++) u.dir(`home/bob/x${i}`);
    u.file('home/bob/.profile', `${lines.join('\n')}\n`);
    const { ctx, skips } = createContext({ homes: [bob] });
    const values = ctx.envValues(ctx.homes[0]!, 'XDG_DATA_HOME');
    expect(values.length).toBe(MAX_VALUES_PER_VARIABLE);
    expect(values[0]).toBe(u.path('home/bob/x0'));
    expect(skips.all()).toContainEqual({
      path: bob,
      reason: `XDG_DATA_HOME of bob names more than ${MAX_VALUES_PER_VARIABLE} folders; the rest not scanned`,
    });
  });

  it('reads a startup file sourced again only once, so repeats cannot use up the files before the one that matters', () => {
    // Red-team: forty `. ~/.profile` lines in ~/.profile spent the 40-file budget before ~/.bashrc.
    const u = scratch('aigate-bounds-resourced-');
    const bob = u.dir('home/bob');
    u.file('home/bob/.profile', `${Array.from({ length: 45 }, () => 'if false; then . ~/.profile; fi').join('\n')}\n`);
    u.file('home/bob/.bashrc', 'export PNPM_HOME="$HOME/.pn"\n');
    u.dir('home/bob/.pn');
    const { ctx, skips } = createContext({ homes: [bob] });
    expect(ctx.envValues(ctx.homes[0]!, 'PNPM_HOME')).toEqual([u.path('home/bob/.pn')]);
    expect(skips.all()).toEqual([]);
  });

  it('reads the startup files of a home too big to list whole', () => {
    // Red-team: 100,000 junk files in the home cut its listing before ~/.profile (limit lowered here).
    const u = scratch('aigate-bounds-bighome-');
    const bob = u.dir('home/bob');
    for (let i = 0; i < 1000; i++) u.file(`home/bob/aaa${i}`, '');
    u.file('home/bob/.profile', 'export PNPM_HOME="$HOME/.pn"\n');
    u.dir('home/bob/.pn');
    const { ctx } = createContext({ homes: [bob], limits: { maxEntriesPerDir: 5 } });
    expect(ctx.envValues(ctx.homes[0]!, 'PNPM_HOME')).toEqual([u.path('home/bob/.pn')]);
  });

  it('does not let values that lead nowhere push out the one that does, and says when there are too many to keep', () => {
    // Found by a red-team helper: eight junk values in ~/.profile filled the per-variable cap
    // before any was checked, so the real PNPM_HOME in ~/.bashrc was never scanned.
    const u = scratch('aigate-bounds-junk-');
    const bob = u.dir('home/bob');
    const junk = Array.from({ length: 40 }, (_, i) => `export PNPM_HOME=$HOME/junk${i}/`);
    u.file('home/bob/.profile', `${junk.join('\n')}\n`);
    u.file('home/bob/.bashrc', 'export PNPM_HOME="$HOME/.pn/"\n');
    u.dir('home/bob/.pn');
    const { ctx, skips } = createContext({ homes: [bob] });
    expect(ctx.envValues(ctx.homes[0]!, 'PNPM_HOME')).toEqual([u.path('home/bob/.pn')]);
    expect(skips.all()).toEqual([]);

    const many = Array.from({ length: MAX_CANDIDATES_PER_VARIABLE + 5 }, (_, i) => `export PNPM_HOME=$HOME/j${i}`);
    u.file('home/bob/.profile', `${many.join('\n')}\n`);
    const again = createContext({ homes: [bob] });
    expect(again.ctx.envValues(again.ctx.homes[0]!, 'PNPM_HOME')).toEqual([]);
    expect(again.skips.all()).toEqual([
      {
        path: bob,
        reason: `PNPM_HOME of bob has more than ${MAX_CANDIDATES_PER_VARIABLE} values in startup files and processes; the rest not read`,
      },
    ]);
  });

  it('reads at most 256 kegs of a Homebrew formula, each a checkpoint, and says so', async () => {
    const u = scratch('aigate-bounds-brew-');
    const dave = u.dir('home/dave');
    // A Cellar as Homebrew lays it out (docs.brew.sh/Formula-Cookbook: Cellar/<formula>/<version>).
    for (let i = 0; i < 300; i++) u.json(`home/dave/.linuxbrew/Cellar/codex/0.${i}.0/INSTALL_RECEIPT.json`, {});
    const result = await scanMachine({ homes: [dave], paths: [], detectRunning: false });
    expect(result.instances.filter((i) => i.channel === 'homebrew-formula')).toHaveLength(256);
    expect(result.skipped).toContainEqual({
      path: u.path('home/dave/.linuxbrew/Cellar/codex'),
      reason: 'more than 256 version folders; the rest not read',
    });
    // Cut by a budget spent at once, not one keg is read past the first checkpoint.
    const cut = await scanMachine({ homes: [dave], paths: [], detectRunning: false, budgetMs: 0 });
    expect(cut.instances).toEqual([]);
  });

  it('tries at most 40 startup files per home, read or refused, and evaluates a bounded number of commands', async () => {
    const u = scratch('aigate-bounds-startup-');
    const erin = u.dir('home/erin');
    const gina = u.dir('home/gina');
    const frank = u.dir('home/frank');
    npmGlobal(u, 'home/frank/.npm-global', '@openai/codex', { version: '0.111.0', bin: { codex: 'bin/codex.js' } });
    // Red-team: sourced files of thousands of `source` lines each, every one naming a file too
    // big to read (refused each time: each try counts)...
    u.file('home/erin/big', 'x'.repeat(300 * 1024));
    for (let i = 0; i < 40; i++) u.file(`home/erin/s/f${i}`, '. ~/big\n'.repeat(6_000));
    u.file('home/erin/.profile', Array.from({ length: 40 }, (_, i) => `. ~/s/f${i}\n`).join(''));
    // (Were every try read, erin's 240,000 tries would outlast the budget, and frank's codex would
    // go unreported: a file is tried once per shell, and the commands evaluated are bounded.) And
    // a file of more commands than a home may have evaluated.
    u.file('home/gina/.bashrc', 'export A=1\n'.repeat(MAX_STARTUP_COMMANDS + 1));
    const result = await scanMachine({ homes: [erin, gina, frank], paths: [], detectRunning: false, budgetMs: 4000 });
    expect(result.budgetExhausted).toBe(false);
    expect(result.instances.map((i) => `${i.toolId} ${i.version}`)).toEqual(['openai-codex-cli 0.111.0']);
    expect(result.skipped.filter((s) => s.path.startsWith(`${erin}/`))).toEqual([
      { path: `${erin}/big`, reason: expect.stringMatching(/larger than|too large|exceeds/) },
      {
        path: expect.stringMatching(new RegExp(`^${erin}/s/f\\d+$`)),
        reason: `more than ${MAX_STARTUP_COMMANDS} commands in this home's startup files; the rest not read`,
      },
    ]);
    expect(result.skipped).toContainEqual({
      path: `${gina}/.bashrc`,
      reason: `more than ${MAX_STARTUP_COMMANDS} commands in this home's startup files; the rest not read`,
    });
  });

  it('walks a home for npm prefixes with a checkpoint per folder, listing a bounded number of names', async () => {
    const u = scratch('aigate-bounds-walk-');
    const hank = u.dir('home/hank');
    npmGlobal(u, 'home/hank/apps/cc', '@openai/codex', { version: '0.111.0', bin: { codex: 'bin/codex.js' } });
    const found = await scanMachine({ homes: [hank], paths: [], detectRunning: false });
    expect(found.instances.map((i) => `${i.toolId} ${i.version}`)).toEqual(['openai-codex-cli 0.111.0']);
    // Spent at once: not one folder of the walk is listed past its first checkpoint.
    const cut = await scanMachine({ homes: [hank], paths: [], detectRunning: false, budgetMs: 0 });
    expect(cut.instances).toEqual([]);
    // Red-team: folders of thousands of names each (here past a limit lowered for the test).
    for (const dir of ['a', 'b', 'c']) {
      u.dir(`home/hank/${dir}`);
      execFileSync('sh', ['-c', 'seq 1 1001 | xargs touch'], { cwd: u.path(`home/hank/${dir}`) });
    }
    const limits = { maxEntriesPerDir: 1000, maxWalkNames: 2500 };
    const walked = await scanMachine({ homes: [hank], paths: [], detectRunning: false, limits });
    expect(walked.skipped).toContainEqual({
      path: hank,
      reason: 'home walk for npm prefixes stopped after listing 2500 names',
    });
  });

  it('merges thousands of copies of one install (hard links, links to one folder) into bounded lists', () => {
    const copies: ToolInstance[] = Array.from({ length: 3000 }, (_, i) => ({
      toolId: 'claude-code',
      version: '2.1.91',
      channel: 'native',
      installPath: '/home/ivy/.local/share/claude/versions/2.1.91',
      launchers: [`/home/ivy/bin/claude-${i}`],
      owner: 'ivy',
      evidence: [`/home/ivy/.local/share/claude/versions/2.1.${i}`],
    }));
    const merged = mergeInstances(copies);
    expect(merged).toHaveLength(1);
    expect(merged[0]!.launchers).toEqual(
      copies
        .flatMap((c) => c.launchers)
        .sort()
        .slice(0, MAX_LAUNCHERS),
    );
    expect(merged[0]!.evidence).toEqual(
      copies
        .flatMap((c) => c.evidence)
        .sort()
        .slice(0, MAX_EVIDENCE),
    );
  });

  it('reads at most 256 version folders of a version manager, and says so', async () => {
    const u = scratch('aigate-bounds-nvm-');
    const carol = u.dir('home/carol');
    for (let i = 0; i < 300; i++) u.dir(`home/carol/.nvm/versions/node/v${i}.0.0`);
    const result = await scanMachine({ homes: [carol], paths: [], detectRunning: false });
    expect(result.skipped).toContainEqual({
      path: u.path('home/carol/.nvm/versions/node'),
      reason: 'more than 256 version folders; the rest not read',
    });
  });
});
