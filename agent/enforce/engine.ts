/**
 * Enforcement: turns verdicts into changes on disk through the write-ahead ledger. For each
 * instance it checks what was applied against the disk (reporting tampering), plans the change
 * the verdict asks for, and runs it step by step: each step is written to the ledger before it
 * happens and marked done after. A failed step undoes the operation's earlier steps; a crash is
 * finished (or undone) by recover() on the next start.
 */
import { createHash, randomUUID } from 'node:crypto';
import { builtinCatalog, catalogIndex } from '../../policies/catalog/index.js';
import type { ToolInstance } from '../../policies/inventory.js';
import { instanceKey } from '../../policies/inventory.js';
import type { Verdict } from '../../policies/verdict.js';
import { newEvent, stableEventId, type AgentEvent, type EventFields, type EventType } from '../events/event.js';
import type { AgentLogger } from '../log.js';
import type { Notice } from '../notices/notice.js';
import { desire, type PolicyFacts } from './desired.js';
import type { FaultPoint } from './fault.js';
import { captureFacts, lexists, sameContent } from './fs-facts.js';
import type { GuardContext } from './guard.js';
import { isWithin } from './guard.js';
import { LedgerStore, type AppliedInstance, type Operation } from './ledger.js';
import { observe } from './observe.js';
import { planChange, type Plan } from './plan.js';
import { belongsTo, listProcesses, type ProcessInfo } from './processes.js';
import { doStep, isOurStub, stepTarget, undoStep, type StepEnv } from './steps.js';
import { buildNotice } from '../notices/notice.js';

export interface EnforcerOptions {
  ledgerFile: string;
  launchesDir: string;
  guard: GuardContext;
  isRoot: boolean;
  graceMs: number;
  fault: FaultPoint;
  log: AgentLogger;
  emit: (event: AgentEvent) => Promise<void>;
  clock: () => number;
  /** Best-effort desktop notification when a tool becomes warned or blocked. */
  notify?: (notice: Notice) => void;
}

export interface EnforcementItem {
  instance: ToolInstance;
  verdict: Verdict;
  /**
   * Put back whatever was changed, whatever the verdict: the tool was uninstalled meanwhile, or
   * the agent itself is being removed.
   */
  release?: boolean;
}

export interface ReconcileSummary {
  applied: number;
  restored: number;
  repaired: number;
  failed: number;
  tampered: number;
  notes: string[];
}

export class LedgerDamaged extends Error {
  constructor(message: string) {
    super(`${message}. Enforcement is paused until it is repaired (nothing is changed meanwhile); restore it from a backup or contact IT.`);
    this.name = 'LedgerDamaged';
  }
}

export class Enforcer {
  readonly store: LedgerStore;
  private damaged: string | null = null;

  constructor(private readonly options: EnforcerOptions) {
    this.store = new LedgerStore(options.ledgerFile);
  }

  async load(): Promise<void> {
    this.damaged = await this.store.load();
    if (this.damaged) throw new LedgerDamaged(this.damaged);
  }

  get applied(): AppliedInstance[] {
    return Object.values(this.store.ledger.applied);
  }

  /** Paths enforcement owns: a scan must not mistake them for tools (stubs, kept originals, quarantines). */
  managedPaths(): { files: Set<string>; folders: string[] } {
    const files = new Set<string>();
    const folders: string[] = [];
    for (const record of this.applied) {
      for (const entry of record.launchers) files.add(entry.path).add(entry.sibling);
      for (const entry of record.quarantine) folders.push(entry.to);
      for (const orphan of record.orphans) folders.push(orphan.path);
    }
    return { files, folders };
  }

  /** Whether a scanned instance is really one of enforcement's own artefacts. */
  isArtefact(instance: ToolInstance): boolean {
    const { files, folders } = this.managedPaths();
    return files.has(instance.installPath) || folders.some((folder) => isWithin(instance.installPath, folder, this.options.guard.platform));
  }

  /** Finishes (or undoes) an operation a crash interrupted. */
  async recover(): Promise<void> {
    const op = this.store.ledger.journal;
    if (!op) return;
    this.options.log.warn({ operation: op.id, kind: op.kind, key: op.key, direction: op.direction }, 'finishing an enforcement operation interrupted by a stop');
    if (op.direction === 'forward') await this.forward(op);
    else await this.backward(op);
  }

  /** Runs an operation: journal first, then each step. Returns true when it committed. */
  async execute(op: Operation): Promise<boolean> {
    this.store.ledger.journal = op;
    await this.store.save();
    return this.forward(op);
  }

  private async forward(op: Operation): Promise<boolean> {
    for (const entry of op.steps) {
      if (entry.state === 'done') continue;
      entry.state = 'started';
      await this.store.save();
      this.options.fault(`${op.kind}:${entry.step.op}:before`);
      const env: StepEnv = {
        isRoot: this.options.isRoot,
        // What was stopped goes into the ledger, so a crash right after cannot lose the report.
        onStopped: (result) => (entry.note = JSON.stringify({ terminated: result.terminated, killed: result.killed })),
      };
      try {
        await doStep(entry.step, env);
      } catch (error) {
        op.direction = 'backward';
        op.error = `${entry.step.op} ${stepTarget(entry.step)}: ${(error as Error).message}`;
        await this.store.save();
        await this.backward(op);
        return false;
      }
      this.options.fault(`${op.kind}:${entry.step.op}:after`);
      // Saved with the next step's start (or the commit): one fsync per step instead of two. A
      // crash before that save re-runs this step, which is idempotent.
      entry.state = 'done';
    }
    // Events first, with ids derived from the operation: if a crash comes before the commit,
    // finishing the operation spools them again under the same ids and the server keeps one.
    await this.reportOperation(op, this.store.ledger.applied[op.key] ?? null);
    this.options.fault(`${op.kind}:commit:before`);
    if (op.result) this.store.ledger.applied[op.key] = op.result;
    else delete this.store.ledger.applied[op.key];
    this.store.ledger.journal = null;
    await this.store.save();
    return true;
  }

  private async backward(op: Operation): Promise<void> {
    const env: StepEnv = { isRoot: this.options.isRoot };
    const failures: string[] = [];
    for (const entry of [...op.steps].reverse()) {
      if (entry.state !== 'done' && entry.state !== 'started') continue;
      this.options.fault(`undo:${entry.step.op}:before`);
      try {
        await undoStep(entry.step, env);
        entry.state = 'undone';
      } catch (error) {
        entry.state = 'undo-failed';
        entry.note = (error as Error).message;
        failures.push(`${entry.step.op} ${stepTarget(entry.step)}: ${entry.note}`);
      }
      await this.store.save();
    }
    const now = this.options.clock();
    const [toolId, installPath] = splitKey(op.key);
    const message = `could not ${op.kind} enforcement for ${describeKey(op.key)}: ${op.error ?? 'interrupted'}; ${failures.length ? `and could not undo: ${failures.join('; ')}` : 'the steps already done were undone'}`;
    // Reported before the journal is cleared, under an id a repeat after a crash shares.
    await this.options.emit(newEvent('enforcement-failed', now, { toolId, installPath, message, details: { operation: op.kind, undone: failures.length === 0 } }, operationEventId(op, 'enforcement-failed')));
    this.store.addProblem(now, op.key, message);
    this.store.ledger.journal = null;
    await this.store.save();
    this.options.log.error({ operation: op.id, key: op.key, error: op.error, undoFailures: failures }, 'enforcement operation failed');
  }

  /**
   * Brings the disk in line with the verdicts. `items` must include an item for every instance
   * in the ledger (the cycle evaluates recorded instances even when a scan no longer sees them).
   */
  async reconcile(items: readonly EnforcementItem[], policy: PolicyFacts, policyRevision: number | null): Promise<ReconcileSummary> {
    if (this.damaged) throw new LedgerDamaged(this.damaged);
    const summary: ReconcileSummary = { applied: 0, restored: 0, repaired: 0, failed: 0, tampered: 0, notes: [] };
    const byKey = new Map(items.map((item) => [instanceKey(item.instance), item] as const));
    let processes: ProcessInfo[] | null = null;
    const runningOf = async (roots: string[]) => {
      processes ??= await listProcesses();
      return processes.some((info) => info.pid !== process.pid && belongsTo(info, roots));
    };

    for (const [key, item] of byKey) {
      const current = this.store.ledger.applied[key] ?? null;
      const { desired, notes } = item.release ? { desired: null, notes: [] } : desire({
        key,
        instance: item.instance,
        verdict: item.verdict,
        record: current,
        policy,
        guard: this.options.guard,
        launchesDir: this.options.launchesDir,
      });
      summary.notes.push(...notes);
      if (!current && !desired) continue;

      const observation = current ? await observe(current, this.options.isRoot) : null;
      const tampered = desired !== null && observation !== null && observation.findings.length > 0;
      const now = this.options.clock();
      if (tampered) {
        summary.tampered++;
        this.options.log.warn({ key, findings: observation.findings }, 'enforcement was undone by hand; applying it again');
        await this.options.emit(
          newEvent('tamper', now, {
            toolId: item.instance.toolId,
            installPath: item.instance.installPath,
            version: item.instance.version,
            ...(item.instance.owner ? { user: item.instance.owner } : {}),
            policyRevision,
            message: observation.findings.map((finding) => finding.message).join('; '),
            details: { findings: observation.findings.map((finding) => finding.kind).join(','), count: observation.findings.length },
          }),
        );
      }
      const roots = desired?.level === 'block' ? [item.instance.installPath, ...(observation?.record.quarantine.map((entry) => entry.to) ?? [])] : [];
      const plan = await planChange({
        current: observation?.record ?? null,
        desired,
        replaceable: observation?.replaceable ?? new Set(),
        movedBack: observation?.movedBack ?? { launchers: [], quarantine: [] },
        running: desired?.level === 'block' ? await runningOf(roots) : false,
        graceMs: this.options.graceMs,
        nowIso: new Date(now).toISOString(),
        platform: this.options.guard.platform,
        facts: captureFacts,
        exists: lexists,
        isOurStub,
      });
      if (!plan) continue;
      summary.notes.push(...plan.notes);
      const op: Operation = {
        id: randomUUID(),
        kind: tampered ? 'repair' : plan.kind,
        key,
        startedAt: new Date(now).toISOString(),
        direction: 'forward',
        steps: plan.steps.map((step) => ({ step, state: 'pending' as const })),
        result: plan.result,
        error: null,
        policyRevision,
        notes: plan.notes,
      };
      const committed = await this.execute(op);
      if (!committed) {
        summary.failed++;
        continue;
      }
      if (tampered) summary.repaired++;
      else if (plan.result === null || (current?.level === 'block' && plan.result.level === 'warn')) summary.restored++;
      else if (plan.steps.length > 0) summary.applied++;
      const level = plan.result?.level ?? null;
      if (!tampered && level !== null && level !== (current?.level ?? null) && this.options.notify) {
        const tool = policy.index.tool(item.instance.toolId);
        if (tool) {
          this.options.notify(
            buildNotice({ kind: level, toolId: tool.id, toolName: tool.name, version: item.instance.version, policyName: policy.name, timeZone: policy.timeZone, verdict: item.verdict }),
          );
        }
      }
    }
    return summary;
  }

  /** Puts back everything enforcement changed on this machine (before the agent is removed). */
  restoreAll(): Promise<ReconcileSummary> {
    const items = this.applied.map((record) => ({ instance: record.instance, verdict: record.verdict, release: true }));
    const facts: PolicyFacts = { name: 'restore', timeZone: 'UTC', index: catalogIndex(builtinCatalog), ruleMessage: () => null };
    return this.reconcile(items, facts, null);
  }

  /** The events an operation produces, spooled under ids derived from the operation. */
  private async reportOperation(op: Operation, before: AppliedInstance | null): Promise<void> {
    const now = this.options.clock();
    const after = op.result;
    const instance = (after ?? before)?.instance;
    const [toolId, installPath] = splitKey(op.key);
    const base = {
      toolId,
      installPath,
      version: instance?.version ?? null,
      ...(instance?.owner ? { user: instance.owner } : {}),
      policyRevision: op.policyRevision ?? null,
    };
    const emit = (type: EventType, fields: EventFields) => this.options.emit(newEvent(type, now, { ...base, ...fields }, operationEventId(op, type)));
    const notes = op.notes ?? [];

    const stopped = op.steps.flatMap((entry) => (entry.step.op === 'stop-processes' && entry.note ? [JSON.parse(entry.note) as { terminated: number[]; killed: number[] }] : []));
    const pids = stopped.flatMap((result) => result.terminated);
    if (pids.length > 0) {
      const killed = stopped.flatMap((result) => result.killed);
      await emit('processes-stopped', { message: `stopped ${pids.length} running process(es) of ${toolId}`, details: { pids: pids.join(','), killed: killed.join(','), count: pids.length } });
    }
    if (op.kind === 'repair') return;
    const wasLevel = before?.level ?? null;
    const nowLevel = after?.level ?? null;
    if (wasLevel === nowLevel) return;

    if (nowLevel === 'block') {
      const quarantined = after!.quarantine.map((entry) => entry.to);
      const details: Record<string, string | number | boolean | null> = { launchers: after!.launchers.length, quarantine: quarantined.join(',') || null, notes: notes.join('; ') || null };
      if (!this.options.isRoot) details.ownerKept = true;
      await emit('quarantined', {
        message: `${toolId} blocked: ${after!.launchers.length} launcher(s) replaced by the block notice${quarantined.length ? `, install folder quarantined at ${quarantined.join(', ')}` : ''}${this.options.isRoot ? '' : ' (the agent is not running as root, so the owner was kept)'}`,
        details,
      });
    }
    if (wasLevel !== null && (nowLevel === null || (wasLevel === 'block' && nowLevel === 'warn'))) {
      const check = await verifyRestored(before!, after);
      await emit('restored', {
        message: `${toolId} ${nowLevel === null ? 'allowed again' : 'moved from block to warn'}: ${check.mismatches.length === 0 ? 'everything put back byte-identical' : `put back with differences: ${check.mismatches.join('; ')}`}${before!.orphans.length ? `; earlier copies kept at ${before!.orphans.map((o) => o.path).join(', ')}` : ''}`,
        details: { verified: check.mismatches.length === 0, launchers: check.launchers, quarantine: check.folders, keptCopies: before!.orphans.length },
      });
    }
    if (nowLevel === 'warn') {
      await emit('warning-installed', { message: `${toolId}: ${after!.launchers.length} launcher(s) now show the warning before starting`, details: { launchers: after!.launchers.length } });
    }
  }
}

function operationEventId(op: Operation, type: EventType): string {
  return stableEventId(`operation:${op.id}:${type}`, (text) => createHash('sha256').update(text).digest('hex'));
}

function splitKey(key: string): [string, string] {
  const at = key.indexOf('\u0000');
  return at < 0 ? [key, ''] : [key.slice(0, at), key.slice(at + 1)];
}

function describeKey(key: string): string {
  const [toolId, installPath] = splitKey(key);
  return `${toolId} at ${installPath}`;
}

/** Compares what is back in place with the facts recorded before the change. */
async function verifyRestored(before: AppliedInstance, after: AppliedInstance | null): Promise<{ mismatches: string[]; launchers: number; folders: number }> {
  const mismatches: string[] = [];
  const keptLaunchers = new Set(after?.launchers.map((entry) => entry.path) ?? []);
  const keptFolders = new Set(after?.quarantine.map((entry) => entry.from) ?? []);
  let launchers = 0;
  let folders = 0;
  for (const entry of before.launchers) {
    if (keptLaunchers.has(entry.path)) continue;
    launchers++;
    const now = await captureFacts(entry.path);
    if (!now || !sameContent(now, entry.original)) mismatches.push(`${entry.path} differs from its original`);
  }
  for (const entry of before.quarantine) {
    if (keptFolders.has(entry.from)) continue;
    folders++;
    const now = await captureFacts(entry.from);
    if (!now || now.mode !== entry.original.mode || now.uid !== entry.original.uid || now.gid !== entry.original.gid) mismatches.push(`${entry.from} is not back as it was`);
  }
  return { mismatches, launchers, folders };
}
