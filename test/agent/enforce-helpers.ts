/** Building an Enforcer on a temp state dir and real verdicts from real policies, for the in-process tests. */
import { dirname, join } from 'node:path';

import { policyFacts } from '../../agent/enforce/desired.js';
import { type EnforcementItem, Enforcer } from '../../agent/enforce/engine.js';
import { type FaultPoint, NO_FAULTS } from '../../agent/enforce/fault.js';
import type { TrustedRoot } from '../../agent/enforce/guard.js';
import type { AgentEvent } from '../../agent/events/event.js';
import { scanMachine } from '../../agent/inventory/index.js';
import { silentLogger } from '../../agent/log.js';
import { ensureStateLayout } from '../../agent/state/layout.js';
import { statePaths } from '../../agent/state/paths.js';
import { builtinCatalog } from '../../policies/catalog/index.js';
import { type CompiledPolicy, compilePolicy } from '../../policies/compile.js';
import { evaluateInstance } from '../../policies/evaluate.js';
import { instanceKey, type ToolInstance } from '../../policies/inventory.js';
import { loadPolicy } from '../../policies/load.js';
import { allowAllYaml, banYaml } from '../support/policy.js';
import { isRoot } from './trees.js';

export const DAY = 86_400_000;

export function compile(yaml: string): CompiledPolicy {
  const loaded = loadPolicy(yaml);
  if (!loaded.ok) throw new Error(loaded.errors.map((e) => e.message).join('; '));
  return compilePolicy(loaded.policy, builtinCatalog);
}

export function banPolicy(options: {
  effective: string;
  warnFor?: string;
  mode?: 'enforce' | 'monitor';
  tools?: string[];
  message?: string;
}): CompiledPolicy {
  return compile(
    banYaml(
      'ban-ai-clis',
      options.tools ?? ['claude-code'],
      {
        name: 'ban',
        effective: options.effective,
        ...(options.warnFor ? { warnFor: options.warnFor } : {}),
        ...(options.message ? { message: options.message } : {}),
      },
      {
        mode: options.mode ?? 'enforce',
        timezone: 'Asia/Shanghai',
        notice: { contact: 'https://it.example.com/ai-tools', alternatives: ['qwen-code', 'tongyi-lingma'] },
      },
    ),
  );
}

export const ALLOW_ALL = compile(allowAllYaml());

export const DEVICE = { os: 'linux' as const, hostname: 'dev-laptop-1', deviceId: 'device-1' };

/**
 * An Enforcer on `stateDir`. Trusted roots: `homes`, `roots`, and by default the folder holding
 * the state dir (the tests' sandbox, which holds the trees). `fault` replaces the no-op fault
 * points (race tests act there instead of killing the process).
 */
export async function makeEnforcer(
  stateDir: string,
  options: { graceMs?: number; homes?: string[]; roots?: TrustedRoot[]; fault?: FaultPoint; isRoot?: boolean } = {},
) {
  const paths = statePaths(stateDir);
  await ensureStateLayout(paths);
  const events: AgentEvent[] = [];
  const notices: string[] = [];
  const enforcer = new Enforcer({
    ledgerFile: paths.enforcement,
    launchesDir: paths.launchesDir,
    guard: {
      platform: process.platform,
      homes: options.homes ?? [],
      stateDir,
      roots: options.roots ?? [{ path: dirname(stateDir), kind: 'prefix' }],
    },
    isRoot: options.isRoot ?? isRoot,
    graceMs: options.graceMs ?? 2000,
    fault: options.fault ?? NO_FAULTS,
    log: silentLogger(),
    emit: async (event) => void events.push(event),
    clock: Date.now,
    notify: (set) => notices.push(set.byLocale.en.title),
  });
  await enforcer.load();
  return { enforcer, events, notices, paths };
}

export async function enforce(
  enforcer: Enforcer,
  compiled: CompiledPolicy,
  instances: ToolInstance[],
  nowMs = Date.now(),
  revision = 1,
) {
  const items = instances.map((instance) => ({
    instance,
    verdict: evaluateInstance(compiled, instance, DEVICE, nowMs),
  }));
  return enforcer.reconcile(items, policyFacts(compiled), revision);
}

/**
 * One agent cycle on `homes` as the daemon runs it (agent/cycle scan.ts and enforce.ts): the
 * scan less enforcement's own files, plus the ledger's instances, kept copies of instances no
 * longer there forgotten, then one reconcile.
 */
export async function scanCycle(enforcer: Enforcer, compiled: CompiledPolicy, homes: string[], nowMs = Date.now()) {
  const scanned = enforcer.withoutArtefacts((await scanMachine({ homes, paths: [], detectRunning: false })).instances);
  const items = new Map(scanned.map((i) => [instanceKey(i), i] as const));
  for (const record of enforcer.applied) if (!items.has(record.key)) items.set(record.key, record.instance);
  await enforcer.forgetKept(new Set(items.keys()));
  const reconciled: EnforcementItem[] = [...items.values()].map((instance) => ({
    instance,
    verdict: evaluateInstance(compiled, instance, DEVICE, nowMs),
  }));
  reconciled.push(
    ...enforcer.keptItems(new Set(items.keys()), (instance) => evaluateInstance(compiled, instance, DEVICE, nowMs)),
  );
  return { scanned, summary: await enforcer.reconcile(reconciled, policyFacts(compiled), 1) };
}

export function npmInstanceOf(install: { installPath: string; launcher: string }, version = '2.1.91'): ToolInstance {
  return {
    toolId: 'claude-code',
    name: '@anthropic-ai/claude-code',
    version,
    channel: 'npm',
    installPath: install.installPath,
    launchers: [install.launcher],
    owner: 'alice',
    evidence: [join(install.installPath, 'package.json')],
  };
}

export function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
