/**
 * The enforce step: evaluates the last scan plus every enforced instance at trusted time, and
 * reconciles enforcement with the verdicts (enforce/engine.ts). Launch records are collected
 * first: a change that puts a tool back removes its stubs, and the records they left must still
 * be matched to it. One instance that cannot be enforced (a FIFO where its launcher was, say)
 * does not hold back the others: it is retried alone, reported in the health and, once, as an
 * `enforcement-failed` event.
 */
import { evaluateInstance } from '../../policies/evaluate.js';
import { instanceKey, type ToolInstance } from '../../policies/inventory.js';
import { policyFacts } from '../enforce/desired.js';
import { type EnforcementItem, LedgerDamaged, type ReconcileSummary } from '../enforce/engine.js';
import { lexists } from '../enforce/fs-facts.js';
import { recordKey } from '../enforce/stubs.js';
import { newEvent } from '../events/event.js';
import { launchRecordsStep } from './launch-records.js';
import { type CycleState, describeError } from './state.js';
import { runStep, type Step } from './step.js';

/** Launch records of a tool just put back are still matched for this long (a stub run during the restore). */
const RELEASED_TARGET_MS = 60 * 60_000;

/** The summary of the reconciliation, or null with no policy in force or a damaged ledger. */
export const enforceStep: Step<ReconcileSummary | null> = {
  name: 'enforce',
  failure: 'enforcement-failing',
  async run(state) {
    await runStep(state, launchRecordsStep);
    const { sync, enforcer, health, log } = state.parts;
    const policy = sync.current;
    const now = state.now;
    const instances = new Map<string, ToolInstance>();
    for (const instance of state.lastScan?.instances ?? []) instances.set(instanceKey(instance), instance);
    const uninstalled = new Set<string>();
    for (const record of enforcer.applied) {
      if (instances.has(record.key)) continue;
      instances.set(record.key, record.instance);
      // A warned tool uninstalled meanwhile: nothing left to warn about, so put its launchers back.
      if (record.quarantine.length === 0 && !(await lexists(record.instance.installPath))) uninstalled.add(record.key);
    }
    // Earlier copies kept for an instance now gone are the user's folders, scanned as tools of their own.
    const forgotten = state.ledgerProblem ? [] : await enforcer.forgetKept(new Set(instances.keys()));
    if (forgotten.length > 0) log.info({ keys: forgotten }, 'forgot earlier copies kept for instances no longer found');
    state.verdicts = new Map();
    if (!policy) return null;
    for (const [key, instance] of instances)
      state.verdicts.set(key, {
        instance,
        verdict: evaluateInstance(policy.compiled, instance, state.parts.device, now),
      });
    if (state.ledgerProblem) return null;
    const before = new Map(enforcer.applied.map((record) => [record.key, record] as const));
    const items: EnforcementItem[] = [...state.verdicts].map(([key, item]) =>
      uninstalled.has(key) ? { ...item, release: true } : item,
    );
    // Copies kept locked after a lift for instances no longer found: looked at as lifted (a copy
    // back at its name is given back) unless the policy now restricts the tool (then they stay
    // locked; an unknown version counts as inside any restricting range).
    items.push(
      ...enforcer.keptItems(new Set(instances.keys()), (instance) =>
        evaluateInstance(policy.compiled, instance, state.parts.device, now),
      ),
    );
    const facts = policyFacts(policy.compiled);
    const revision = policy.payload.revision;
    let summary: ReconcileSummary;
    try {
      summary = await enforcer.reconcile(items, facts, revision);
      health.clearPrefix('enforce:item:');
    } catch (error) {
      if (error instanceof LedgerDamaged) throw error;
      // Find the instance(s) at fault: each alone, so the others are still enforced.
      summary = { applied: 0, restored: 0, repaired: 0, failed: 0, tampered: 0, notes: [] };
      for (const item of items) {
        const key = instanceKey(item.instance);
        try {
          const one = await enforcer.reconcile([item], facts, revision);
          for (const field of ['applied', 'restored', 'repaired', 'failed', 'tampered'] as const)
            summary[field] += one[field];
          summary.notes.push(...one.notes);
          health.clear(`enforce:item:${key}`);
        } catch (itemError) {
          if (itemError instanceof LedgerDamaged) throw itemError;
          summary.failed++;
          await reportEnforcementError(state, item.instance, itemError, revision);
        }
      }
    }
    for (const note of summary.notes) log.info({ note }, 'enforcement note');
    // Put back just now: their stubs' records dropped meanwhile still belong to them.
    for (const [key, record] of before) {
      if (enforcer.store.ledger.applied[key]) continue;
      state.released.set(recordKey(key), {
        toolId: record.instance.toolId,
        installPath: record.instance.installPath,
        version: record.instance.version,
        until: now + RELEASED_TARGET_MS,
      });
      if (!uninstalled.has(key)) await keepInInventory(state, key, record.instance);
    }
    return summary;
  },
};

/**
 * An instance put back (restored from quarantine, or its launchers back) stays in the last
 * scan's inventory until the next scan. The scan leaves quarantined folders out, so a tool
 * quarantined before that scan was known only through its ledger record; without this, the
 * minute's re-evaluation, a policy arriving by long-poll, the check-in and the status would not
 * see it once the record is gone, until the next full scan. Only when something is at its path
 * again (the next scan decides what it is).
 */
async function keepInInventory(state: CycleState, key: string, instance: ToolInstance): Promise<void> {
  const scan = state.lastScan;
  if (!scan || scan.instances.some((known) => instanceKey(known) === key)) return;
  if (await lexists(instance.installPath)) scan.instances.push(instance);
}

/** An instance enforcement threw on: logged, in the health, and reported once (not every minute). */
async function reportEnforcementError(
  state: CycleState,
  instance: ToolInstance,
  error: unknown,
  policyRevision: number,
): Promise<void> {
  const { health, log } = state.parts;
  const slot = `enforce:item:${instanceKey(instance)}`;
  const message = `could not enforce the policy on ${instance.toolId} at ${instance.installPath}: ${describeError(error)}`;
  log.error(
    { err: error as Error, toolId: instance.toolId, installPath: instance.installPath },
    'enforcement failed for one instance; the others go on',
  );
  const known = health.has(slot);
  health.set(slot, 'enforcement-failing', message, state.now);
  if (known) return;
  await state.emit(
    newEvent('enforcement-failed', state.now, {
      toolId: instance.toolId,
      installPath: instance.installPath,
      version: instance.version,
      ...(instance.owner ? { user: instance.owner } : {}),
      policyRevision,
      message,
      details: { operation: 'reconcile', undone: true },
    }),
  );
}
