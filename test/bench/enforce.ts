/**
 * Enforcement cost on a real tree: 40 users' Claude Code npm installs. Measures, on one core,
 * applying a block to all of them (stubs, quarantine, ledger writes with fsync), the idle check
 * the daemon runs every minute (verdicts plus a tamper check of every stub and quarantine, with
 * nothing to change), and restoring all of them byte-identical. For scale, a baseline from the
 * same run: one inventory scan of the same tree.
 *
 *   npm run bench:enforce     target: the minute check well under the cost of one scan
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { policyFacts } from '../../agent/enforce/desired.js';
import { scanMachine } from '../../agent/inventory/index.js';
import { evaluateInstance } from '../../policies/evaluate.js';
import type { ToolInstance } from '../../policies/inventory.js';
import { ALLOW_ALL, banPolicy, DEVICE, makeEnforcer, npmInstanceOf } from '../agent/enforce-helpers.js';
import { claudeCodeNpm } from '../agent/trees.js';

const USERS = 40;
const ROUNDS = 5;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function time(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'aigate-bench-enforce-'));
  try {
    const homes: string[] = [];
    const prefixes: string[] = [];
    const instances: ToolInstance[] = [];
    for (let i = 0; i < USERS; i++) {
      const home = join(work, 'home', `user${i}`);
      await mkdir(home, { recursive: true });
      const install = await claudeCodeNpm(join(home, '.npm-global'));
      homes.push(home);
      prefixes.push(install.prefix);
      instances.push({ ...npmInstanceOf(install), owner: `user${i}` });
    }
    const { enforcer } = await makeEnforcer(join(work, 'state'), { homes });
    const ban = banPolicy({ effective: '2020-01-01' });
    const facts = policyFacts(ban);
    const items = (policy: typeof ban) =>
      instances.map((instance) => ({ instance, verdict: evaluateInstance(policy, instance, DEVICE, Date.now()) }));

    const scans: number[] = [];
    for (let r = 0; r < ROUNDS; r++)
      scans.push(
        await time(() =>
          scanMachine({
            homes,
            npmPrefixes: prefixes,
            paths: prefixes.map((p) => join(p, 'bin')),
            detectRunning: false,
          }),
        ),
      );

    const apply = await time(() => enforcer.reconcile(items(ban), facts, 1));
    const idle: number[] = [];
    for (let r = 0; r < ROUNDS; r++) idle.push(await time(() => enforcer.reconcile(items(ban), facts, 1)));
    const rss = process.memoryUsage().rss;
    const restore = await time(() => enforcer.reconcile(items(ALLOW_ALL), policyFacts(ALLOW_ALL), 2));

    const scan = median(scans);
    const minute = median(idle);
    console.log(`enforcement on ${USERS} npm installs of Claude Code (1 launcher + 1 install folder each)`);
    console.log(`  baseline: one scan of the same tree        ${scan.toFixed(1)} ms (median of ${ROUNDS})`);
    console.log(
      `  apply block to all                         ${apply.toFixed(1)} ms  (${(apply / USERS).toFixed(2)} ms per instance, ${(apply / scan).toFixed(2)}x a scan)`,
    );
    console.log(
      `  minute check, nothing to change            ${minute.toFixed(1)} ms  (${(minute / USERS).toFixed(3)} ms per instance, ${(minute / scan).toFixed(2)}x a scan)`,
    );
    console.log(
      `  restore all, byte-identical                ${restore.toFixed(1)} ms  (${(restore / USERS).toFixed(2)} ms per instance, ${(restore / scan).toFixed(2)}x a scan)`,
    );
    console.log(`  peak RSS after apply                       ${(rss / 1024 / 1024).toFixed(1)} MiB`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
