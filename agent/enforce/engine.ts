/**
 * Enforcement: turns verdicts into changes on disk through the write-ahead ledger. For each
 * instance it checks what was applied against the disk (reporting tampering), plans the change
 * the verdict asks for, and runs it step by step: each step is written to the ledger before it
 * happens and marked done after. A failed step undoes the operation's earlier steps; a crash is
 * finished (or undone) by recover() on the next start, and an operation left in flight by an I/O
 * error (ENOSPC while saving the ledger or spooling its events) is finished or undone at the
 * start of the next reconcile — no other operation starts while one is in flight.
 *
 * Safety (issue 10): paths are only candidates when they pass the allowlist guard (guard.ts) and
 * the on-disk walk (safe-fs.ts); every change goes through safe-fs.ts. One instance's failure
 * never leaves reconcile: it is recorded (health().failing, ledger problems, an
 * `enforcement-failed` event) and the other instances are enforced. Layouts that look arranged
 * against the agent are left alone and reported once as `suspicious-layout` events.
 */
import { createHash, randomUUID } from 'node:crypto';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';

import { builtinCatalog, catalogIndex } from '../../policies/catalog/index.js';
import type { ToolInstance } from '../../policies/inventory.js';
import { instanceKey } from '../../policies/inventory.js';
import { counted } from '../../policies/plural.js';
import type { Verdict } from '../../policies/verdict.js';
import { type AgentEvent, type EventFields, type EventType, newEvent, stableEventId } from '../events/event.js';
import { userNameOf } from '../host/users.js';
import type { AgentLogger } from '../log.js';
import type { NoticeSet } from '../notices/notice.js';
import { buildNotices } from '../notices/notice.js';
import { desire, type PolicyFacts } from './desired.js';
import type { FaultPoint } from './fault.js';
import {
  captureFacts,
  type FileFacts,
  lexists,
  linksOf,
  OPEN_DIR_NOFOLLOW,
  sameAsRecorded,
  startHashingWindow,
} from './fs-facts.js';
import type { GuardContext, TrustedRoot } from './guard.js';
import { isWithin } from './guard.js';
import { type AppliedInstance, LedgerStore, type Operation, rememberRoots } from './ledger.js';
import { observe, unsafeReason } from './observe.js';
import { type Desired, homeOf, planChange, sameRecord } from './plan.js';
import { findInstanceProcesses, listProcesses, type ProcessInfo } from './processes.js';
import { HasOtherNames, lstatEntry, pinParent, readPinned, UnsafeLayout } from './safe-fs.js';
import { doStep, isOurStub, type StepEnv, stepTarget, undoStep } from './steps.js';
import { quarantineFor } from './stubs.js';

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
  notify?: (notices: NoticeSet) => void;
}

export interface EnforcementItem {
  instance: ToolInstance;
  /** The policy's verdict; absent only with `release` (nothing is wanted then). */
  verdict?: Verdict;
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

/**
 * Enforcement's own health, for the cycle's check-in (mapped to policies/protocol.ts AgentHealth
 * reasons `ledger-damaged`, `enforcement-failing`, `suspicious-layout`). `since` is when the
 * condition was first seen (RFC 3339); an entry disappears once the instance reconciles cleanly
 * (failing) or the layout is gone (suspicious).
 */
export interface EnforcementHealth {
  /** The ledger could not be read: nothing is enforced until it is repaired. */
  ledgerDamaged: string | null;
  /** Instances whose last enforcement failed (or an operation still in flight, key `journal`). */
  failing: { key: string; message: string; since: string }[];
  /** Paths left alone because they looked arranged against the agent. */
  suspicious: { key: string; path: string; reason: string; since: string }[];
}

export class LedgerDamaged extends Error {
  constructor(message: string) {
    super(
      `${message}. Enforcement is paused until it is repaired (nothing is changed meanwhile); restore it from a backup or contact IT.`,
    );
    this.name = 'LedgerDamaged';
  }
}

export class Enforcer {
  readonly store: LedgerStore;
  private damaged: string | null = null;
  private failing = new Map<string, { message: string; since: string }>();
  private suspicious = new Map<string, { key: string; path: string; reason: string; since: string }>();
  /** The previous reconcile's suspicious paths: reported again only when new. */
  private lastSuspicious = new Map<string, { since: string }>();
  private reported = new Set<string>();

  constructor(private readonly options: EnforcerOptions) {
    this.store = new LedgerStore(options.ledgerFile);
  }

  async load(): Promise<void> {
    this.damaged = await this.store.load();
    if (this.damaged) throw new LedgerDamaged(this.damaged);
  }

  /** See EnforcementHealth. */
  health(): EnforcementHealth {
    return {
      ledgerDamaged: this.damaged,
      failing: [...this.failing].map(([key, value]) => ({ key, ...value })),
      suspicious: [...this.suspicious.values()],
    };
  }

  /** The guard with the roots remembered in the ledger added (restore --all runs without flags). */
  private get guard(): GuardContext {
    const remembered = this.store.ledger.roots ?? [];
    return remembered.length === 0
      ? this.options.guard
      : { ...this.options.guard, roots: [...(this.options.guard.roots ?? []), ...remembered] };
  }

  /**
   * Root's reads of paths in users' trees, each made in its folder as the safety walk pins it
   * (safe-fs readPinned): a folder that fails the walk or is missing reads as "no facts", "taken"
   * and "not a stub", which plan and verification treat as "do nothing" and "not verified".
   */
  private get reads(): PinnedReads {
    const guard = this.guard;
    return {
      facts: (target) => readPinned(target, guard, captureFacts, null),
      exists: (target) => readPinned(target, guard, lexists, true),
      isOurStub: (target) => readPinned(target, guard, isOurStub, false),
    };
  }

  private stepEnv(kind: string, onStopped?: StepEnv['onStopped']): StepEnv {
    return {
      isRoot: this.options.isRoot,
      guard: this.guard,
      fault: this.options.fault,
      kind,
      ...(onStopped ? { onStopped } : {}),
    };
  }

  private fail(key: string, message: string): void {
    const known = this.failing.get(key);
    this.failing.set(key, { message, since: known?.since ?? new Date(this.options.clock()).toISOString() });
  }

  get applied(): AppliedInstance[] {
    return Object.values(this.store.ledger.applied);
  }

  /**
   * Paths enforcement owns: a scan must not mistake them for tools (stubs, kept originals,
   * quarantines). An earlier copy given back on a lift (Ledger.kept) is enforcement's only while
   * the instance it belongs to is there (`present`: instance keys the scan found, or records):
   * then that instance's reconcile locks it again under a ban. Without it, it is the user's
   * ordinary folder and is scanned as a tool of its own (red-team round 16: the install removed,
   * the kept copy ran through every later ban, unseen).
   */
  managedPaths(present?: ReadonlySet<string>): { files: Set<string>; folders: string[] } {
    const files = new Set<string>();
    const folders: string[] = [];
    for (const record of this.applied) {
      for (const entry of record.launchers) files.add(entry.path).add(entry.sibling);
      for (const entry of record.quarantine) if (!entry.away) folders.push(entry.to);
      for (const orphan of record.orphans) if (!orphan.away) folders.push(orphan.path);
    }
    for (const [key, copies] of Object.entries(this.store.ledger.kept ?? {})) {
      const reconciled = !present || present.has(key) || this.store.ledger.applied[key] !== undefined;
      for (const copy of copies) if ((reconciled || copy.locked) && !copy.away) folders.push(copy.path);
    }
    return { files, folders };
  }

  /**
   * Items for the instances whose earlier copies are kept locked after a lift but which are no
   * longer found nor recorded (`present`: the keys about to be reconciled), as far as their keys
   * tell (tool and install path; version unknown; owner from the copies), each released when
   * `verdictOf` (the policy) does not restrict it for that owner: a copy back at its name is then
   * given back (red-team round 17). With no known owner (a users-scoped ban could name it) or
   * under a ban, none: the copies stay locked.
   */
  keptItems(present: ReadonlySet<string>, verdictOf: (instance: ToolInstance) => Verdict): EnforcementItem[] {
    const items: EnforcementItem[] = [];
    for (const [key, copies] of Object.entries(this.store.ledger.kept ?? {})) {
      if (present.has(key) || this.store.ledger.applied[key] || !copies.some((c) => c.locked)) continue;
      const [toolId, installPath] = splitKey(key);
      const uid = copies[0]!.original.uid;
      const owner = uid === 0 ? null : userNameOf(uid);
      if (owner === null) continue;
      const instance: ToolInstance = {
        toolId,
        version: null,
        channel: 'npm',
        installPath,
        launchers: [],
        owner,
        evidence: [],
      };
      const verdict = verdictOf(instance);
      if (verdict.action !== 'block' || !verdict.enforce) items.push({ instance, verdict, release: true });
    }
    return items;
  }

  /** Where the folder once at `path` is quarantined now, by the ledger; null when no record says. */
  quarantineOf(path: string): string | null {
    for (const record of this.applied) for (const entry of record.quarantine) if (entry.from === path) return entry.to;
    return null;
  }

  /** Whether a scanned instance is really one of enforcement's own artefacts (a path the ledger names; see managedPaths). */
  isArtefact(instance: ToolInstance, present?: ReadonlySet<string>): boolean {
    return this.artefactTest(present)(instance);
  }

  /** A scan's instances without enforcement's own artefacts (kept copies judged against this scan). */
  withoutArtefacts(instances: readonly ToolInstance[]): ToolInstance[] {
    const isArtefact = this.artefactTest(new Set(instances.map(instanceKey)));
    return instances.filter((instance) => !isArtefact(instance));
  }

  /** isArtefact with the ledger's paths gathered once. */
  private artefactTest(present?: ReadonlySet<string>): (instance: ToolInstance) => boolean {
    const { files, folders } = this.managedPaths(present);
    const platform = this.options.guard.platform;
    return (instance) =>
      files.has(instance.installPath) || folders.some((folder) => isWithin(instance.installPath, folder, platform));
  }

  /**
   * Forgets the earlier copies kept for instances no longer found nor recorded (`present`: the
   * keys about to be reconciled): unlocked, theirs since the lift, they are their user's ordinary
   * folders from now on, scanned and judged as tools of their own. Locked ones stay remembered.
   * Returns the keys whose copies were forgotten.
   */
  async forgetKept(present: ReadonlySet<string>): Promise<string[]> {
    const kept = this.store.ledger.kept;
    if (!kept || this.store.ledger.journal) return [];
    // A copy still locked (away from its name when the lift came) stays remembered: it is root's
    // until given back.
    const gone = Object.keys(kept).filter(
      (key) => !present.has(key) && !this.store.ledger.applied[key] && kept[key]!.some((copy) => !copy.locked),
    );
    if (gone.length === 0) return [];
    for (const key of gone) {
      const locked = kept[key]!.filter((copy) => copy.locked);
      if (locked.length > 0) kept[key] = locked;
      else delete kept[key];
    }
    await this.store.save();
    return gone;
  }

  /**
   * Finishes (or undoes) an operation a crash or an I/O error interrupted. Never throws for an
   * I/O error (a full disk at start must not stop the agent from starting): the operation stays
   * in flight, health() reports it under the key `journal`, and the next reconcile tries again.
   * Returns whether nothing is left in flight.
   */
  async recover(): Promise<boolean> {
    const op = this.store.ledger.journal;
    if (!op) return true;
    this.options.log.warn(
      { operation: op.id, kind: op.kind, key: op.key, direction: op.direction },
      'finishing an interrupted enforcement operation',
    );
    try {
      if (op.direction === 'forward') await this.forward(op);
      else await this.backward(op);
    } catch (error) {
      const message = `an enforcement operation could not be finished yet: ${(error as Error).message}`;
      this.fail('journal', message);
      this.options.log.error(
        { error: (error as Error).message },
        'enforcement operation still in flight; it is retried on the next cycle',
      );
      return false;
    }
    this.failing.delete('journal');
    return this.store.ledger.journal === null;
  }

  /** Runs an operation: journal first, then each step. Returns true when it committed. */
  async execute(op: Operation): Promise<boolean> {
    this.store.ledger.journal = op;
    await this.store.save();
    return this.forward(op);
  }

  private async forward(op: Operation): Promise<boolean> {
    for (const entry of op.steps) {
      if (entry.state === 'done' || entry.state === 'skipped') continue;
      entry.state = 'started';
      await this.store.save();
      this.options.fault(`${op.kind}:${entry.step.op}:before`);
      // What was stopped goes into the ledger, so a crash right after cannot lose the report.
      const env = this.stepEnv(
        op.kind,
        (result) =>
          (entry.note = JSON.stringify({
            terminated: result.terminated,
            killed: result.killed,
            skipped: result.skipped.slice(0, 20),
          })),
      );
      try {
        await doStep(entry.step, env);
      } catch (error) {
        if (error instanceof HasOtherNames && entry.step.op === 'lock' && entry.step.optional) {
          // A kept launcher original or earlier copy linked elsewhere (by its owner): locking it
          // would lock the other name too. It stays set aside, unlocked, and the rest of the ban
          // goes on; undoing the whole operation would let one `ln` per cycle lift the ban.
          await this.suspect(op.key, error.path, error.reason, op.policyRevision ?? null);
          entry.state = 'skipped';
          entry.note = error.message;
          const path = entry.step.path;
          for (const launcher of op.result?.launchers ?? []) if (launcher.sibling === path) launcher.locked = false;
          for (const orphan of op.result?.orphans ?? []) if (orphan.path === path) orphan.locked = false;
          op.notes = [...(op.notes ?? []), `${path} gained other names; set aside but not locked`];
          continue;
        }
        if (error instanceof UnsafeLayout)
          await this.suspect(op.key, error.path, error.reason, op.policyRevision ?? null);
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
    if (op.result) await this.recordStubIds(op.result);
    await this.reportOperation(op, this.store.ledger.applied[op.key] ?? null);
    this.options.fault(`${op.kind}:commit:before`);
    const ledger = this.store.ledger;
    if (op.result) ledger.applied[op.key] = op.result;
    else delete ledger.applied[op.key];
    if (op.result || !op.kept?.length) {
      if (ledger.kept) delete ledger.kept[op.key];
    } else ledger.kept = { ...(ledger.kept ?? {}), [op.key]: op.kept };
    if (op.roots) rememberRoots(ledger, op.roots);
    ledger.journal = null;
    await this.store.save();
    this.failing.delete(op.key);
    return true;
  }

  /** Records the device+inode of the stubs now in place (for reports and later checks). */
  private async recordStubIds(result: AppliedInstance): Promise<void> {
    for (const entry of result.launchers) {
      if (entry.stubSha256 === null) continue;
      try {
        const facts = await this.reads.facts(entry.path);
        if (
          facts?.kind === 'file' &&
          facts.sha256 === entry.stubSha256 &&
          facts.dev !== undefined &&
          facts.ino !== undefined
        )
          entry.stubId = { dev: facts.dev, ino: facts.ino };
      } catch {
        // Only informative: a stub that cannot be read now is checked again by observe().
      }
    }
  }

  private async backward(op: Operation): Promise<void> {
    const env = this.stepEnv('undo');
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
    await this.options.emit(
      newEvent(
        'enforcement-failed',
        now,
        { toolId, installPath, message, details: { operation: op.kind, undone: failures.length === 0 } },
        operationEventId(op, 'enforcement-failed'),
      ),
    );
    this.store.addProblem(now, op.key, message);
    this.fail(op.key, message);
    this.store.ledger.journal = null;
    await this.store.save();
    this.options.log.error(
      { operation: op.id, key: op.key, error: op.error, undoFailures: failures },
      'enforcement operation failed',
    );
  }

  /**
   * Brings the disk in line with the verdicts. `items` must include an item for every instance
   * in the ledger (the cycle evaluates recorded instances even when a scan no longer sees them).
   * Throws only LedgerDamaged; every other failure is per instance (see the module comment).
   */
  async reconcile(
    items: readonly EnforcementItem[],
    policy: PolicyFacts,
    policyRevision: number | null,
  ): Promise<ReconcileSummary> {
    if (this.damaged) throw new LedgerDamaged(this.damaged);
    // One reconcile may read at most so much for digests: a user's huge files cannot hold it.
    startHashingWindow();
    const summary: ReconcileSummary = { applied: 0, restored: 0, repaired: 0, failed: 0, tampered: 0, notes: [] };
    // An operation left in flight by an I/O error (or a crash) is finished or undone first;
    // nothing else starts while it is pending, so no record is planned on top of half-done steps.
    if (this.store.ledger.journal && !(await this.recover())) {
      summary.failed++;
      summary.notes.push(this.failing.get('journal')?.message ?? 'an enforcement operation is still in flight');
      return summary;
    }
    const byKey = new Map(items.map((item) => [instanceKey(item.instance), item] as const));
    let processes: ProcessInfo[] | null = null;
    const listed = async () => (processes ??= await listProcesses().catch(() => []));
    this.lastSuspicious = this.suspicious;
    this.suspicious = new Map();

    for (const [key, item] of byKey) {
      try {
        await this.reconcileOne(key, item, policy, policyRevision, summary, listed);
      } catch (error) {
        summary.failed++;
        const message = `could not enforce ${describeKey(key)}: ${(error as Error).message}`;
        summary.notes.push(message);
        // Reported when it starts or changes, not every cycle it persists (health keeps it visible).
        const repeated = this.failing.get(key)?.message === message;
        this.fail(key, message);
        this.options.log.error(
          { key, error: (error as Error).message },
          'enforcement of one instance failed; continuing with the others',
        );
        if (!repeated) {
          this.store.addProblem(this.options.clock(), key, message);
          await this.options
            .emit(
              newEvent('enforcement-failed', this.options.clock(), {
                toolId: item.instance.toolId,
                installPath: item.instance.installPath,
                policyRevision,
                message,
              }),
            )
            .catch(() => undefined);
        }
        if (this.store.ledger.journal) {
          // Still in flight (the ledger or the spool could not be written): the next reconcile
          // finishes or undoes it before anything else.
          summary.notes.push('an operation is still in flight; it is finished or undone on the next cycle');
          break;
        }
      }
    }
    // Forget failures of instances that are no longer evaluated at all.
    for (const key of [...this.failing.keys()]) if (key !== 'journal' && !byKey.has(key)) this.failing.delete(key);
    return summary;
  }

  /** Reports a suspicious path once (an event the first time it is seen; health while it lasts). */
  private async suspect(key: string, path: string, reason: string, policyRevision: number | null): Promise<void> {
    const id = `${key}\u0000${path}\u0000${reason}`;
    const known = this.suspicious.get(id) ?? this.lastSuspicious.get(id);
    const since = known?.since ?? new Date(this.options.clock()).toISOString();
    this.suspicious.set(id, { key, path, reason, since });
    if (known || this.reported.has(id)) return;
    // One event per layout for the agent's lifetime (bounded); health shows it while it lasts.
    if (this.reported.size >= 1000) this.reported.clear();
    this.reported.add(id);
    const [toolId, installPath] = splitKey(key);
    this.options.log.warn({ key, path, reason }, 'left a suspicious layout alone');
    await this.options.emit(
      newEvent('suspicious-layout', this.options.clock(), {
        toolId,
        installPath,
        policyRevision,
        message: `left alone: ${path}: ${reason}`,
        details: { path, reason },
      }),
    );
  }

  /**
   * Keeps from `desired` only paths that pass the on-disk walk (safe-fs.ts), and works out whose
   * processes a block may stop: the home's owner, or root and the install folder's owner in a
   * system prefix.
   */
  private async vet(
    key: string,
    desired: Desired,
    policyRevision: number | null,
  ): Promise<{ desired: Desired; owners: number[]; roots: TrustedRoot[] }> {
    const owners = new Set<number>();
    const roots = new Map<string, TrustedRoot>();
    // Owners come from the install folder (the instance), from the launchers only when there is
    // no folder to quarantine (a bare binary): a system launcher linking into a home does not make
    // root's processes the instance's.
    const ownersFromLaunchers = desired.quarantine === null;
    const check = async (target: string, countOwners: boolean): Promise<boolean> => {
      try {
        const dir = await pinParent(target, this.guard);
        try {
          roots.set(dir.root.path, dir.root);
          if (countOwners) owners.add(dir.rootOwner);
          const info = await lstatEntry(dir, target.slice(target.lastIndexOf('/') + 1));
          if (info && !dir.rootOnly && !dir.allowedOwners.has(Number(info.uid)))
            throw new UnsafeLayout(target, `it is owned by uid ${info.uid} in a folder others can change`);
          if (countOwners && info && dir.rootOwner === 0 && target === desired.quarantine) owners.add(Number(info.uid));
        } finally {
          await dir.close();
        }
        return true;
      } catch (error) {
        if (error instanceof UnsafeLayout) {
          await this.suspect(key, error.path, error.reason, policyRevision);
          return false;
        }
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true; // planning notes it as gone
        throw error;
      }
    };
    const launchers: string[] = [];
    for (const launcher of desired.launchers) if (await check(launcher, ownersFromLaunchers)) launchers.push(launcher);
    const quarantine =
      desired.quarantine !== null && (await check(desired.quarantine, true)) ? desired.quarantine : null;
    const parts: string[] = [];
    if (quarantine !== null) for (const part of desired.parts ?? []) if (await check(part, false)) parts.push(part);
    if (this.options.guard.platform !== 'win32' && !this.options.isRoot) owners.add(process.getuid?.() ?? 0);
    return { desired: { ...desired, launchers, quarantine, parts }, owners: [...owners], roots: [...roots.values()] };
  }

  private async reconcileOne(
    key: string,
    item: EnforcementItem,
    policy: PolicyFacts,
    policyRevision: number | null,
    summary: ReconcileSummary,
    listed: () => Promise<ProcessInfo[]>,
  ): Promise<void> {
    const current = this.store.ledger.applied[key] ?? null;
    const { desired: wanted, notes } =
      item.release || !item.verdict
        ? { desired: null, notes: [] }
        : desire({
            key,
            instance: item.instance,
            verdict: item.verdict,
            record: current,
            policy,
            guard: this.guard,
            launchesDir: this.options.launchesDir,
          });
    summary.notes.push(...notes);
    const kept = this.store.ledger.kept?.[key] ?? [];
    if (!current && !wanted && kept.length === 0) return;

    const vetted = wanted ? await this.vet(key, wanted, policyRevision) : null;
    const desired = vetted?.desired ?? null;
    const observation = current ? await observe(current, this.options.isRoot, this.guard) : null;
    for (const entry of observation?.unsafe ?? []) await this.suspect(key, entry.path, entry.reason, policyRevision);
    const frozen = new Set(observation?.unsafe.map((entry) => entry.key) ?? []);
    for (const copy of kept) {
      const reason = await unsafeReason(copy.path, this.guard);
      if (!reason) continue;
      frozen.add(copy.path);
      await this.suspect(key, copy.path, reason, policyRevision);
    }
    const tampered = desired !== null && observation !== null && observation.findings.length > 0;
    const now = this.options.clock();
    if (tampered) {
      summary.tampered++;
      this.options.log.warn(
        { key, findings: observation.findings },
        'enforcement was undone by hand; applying it again',
      );
      await this.options.emit(
        newEvent('tamper', now, {
          toolId: item.instance.toolId,
          installPath: item.instance.installPath,
          version: item.instance.version,
          ...(item.instance.owner ? { user: item.instance.owner } : {}),
          policyRevision,
          message: observation.findings.map((finding) => finding.message).join('; '),
          details: {
            findings: observation.findings.map((finding) => finding.kind).join(','),
            count: observation.findings.length,
          },
        }),
      );
    }
    let running = false;
    if (desired?.level === 'block') {
      const inPlace = [];
      for (const path of desired.quarantine ? [desired.quarantine, ...(desired.parts ?? [])] : []) {
        const facts = await this.reads.facts(path).catch(() => null);
        if (facts?.kind === 'dir') inPlace.push({ path, dev: facts.dev, ino: facts.ino });
      }
      const folders = [
        ...inPlace,
        ...(observation?.record.quarantine.map((entry) => ({
          path: entry.to,
          from: entry.from,
          dev: entry.original.dev,
          ino: entry.original.ino,
        })) ?? []),
      ];
      const files = (observation?.record.launchers ?? []).map((entry) => ({
        path: entry.sibling,
        dev: entry.original.dev,
        ino: entry.original.ino,
      }));
      const found = await findInstanceProcesses(
        { roots: [], graceMs: 0, owners: vetted!.owners, folders, files },
        await listed(),
      );
      running = found.stop.length > 0;
    }
    let plan = await planChange({
      current: observation?.record ?? null,
      desired,
      replaceable: observation?.replaceable ?? new Set(),
      movedBack: observation?.movedBack ?? { launchers: [], quarantine: [] },
      running,
      owners: vetted?.owners ?? [],
      kept,
      frozen,
      graceMs: this.options.graceMs,
      nowIso: new Date(now).toISOString(),
      platform: this.options.guard.platform,
      ...this.reads,
      // Each folder opened through its parent as the safety walk pins it: a parent swapped for a
      // link meanwhile cannot lead the search into a folder the user named.
      linksOf: (facts, folders) =>
        linksOf(facts, folders, async (folder) => {
          const dir = await pinParent(folder, this.guard);
          try {
            return await open(dir.entry(basename(folder)), OPEN_DIR_NOFOLLOW);
          } finally {
            await dir.close();
          }
        }),
    });
    if (!plan && observation && current && !sameRecord(observation.record, current)) {
      // Findings that only drop entries (a quarantine or both launcher files removed by hand)
      // change no file, but the record must follow the disk: a later lift then checks and
      // reports only what is really there.
      plan = {
        kind: 'repair',
        steps: [],
        result: { ...observation.record, updatedAt: new Date(now).toISOString() },
        notes: [],
        suspicious: [],
        kept: [],
      };
    }
    if (!plan) {
      this.failing.delete(key);
      return;
    }
    summary.notes.push(...plan.notes);
    for (const entry of plan.suspicious) await this.suspect(key, entry.path, entry.reason, policyRevision);
    if (plan.steps.length === 0 && plan.result === current) {
      this.failing.delete(key);
      return;
    }
    if (
      desired?.level === 'block' &&
      plan.result &&
      plan.result.launchers.length === 0 &&
      plan.result.quarantine.length === 0 &&
      !current
    ) {
      // Nothing could be applied: no record claims a block that is not on disk.
      summary.notes.push(
        `${describeKey(key)}: nothing could be blocked (see the notes above); not recorded as blocked`,
      );
      const message = `${describeKey(key)} could not be blocked: no launcher or install folder could be changed safely`;
      this.fail(key, message);
      return;
    }
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
      ...(plan.kept.length > 0 ? { kept: plan.kept } : {}),
      ...(vetted && vetted.roots.length > 0 ? { roots: vetted.roots } : {}),
    };
    const committed = await this.execute(op);
    if (!committed) {
      summary.failed++;
      return;
    }
    if (tampered) summary.repaired++;
    else if (!current && plan.result === null) {
      // Only earlier copies kept after a lift were looked at: nothing was blocked or restored.
    } else if (plan.result === null || (current?.level === 'block' && plan.result.level === 'warn')) summary.restored++;
    else if (plan.steps.length > 0) summary.applied++;
    const level = plan.result?.level ?? null;
    if (!tampered && level !== null && level !== (current?.level ?? null) && this.options.notify && item.verdict) {
      const tool = policy.index.tool(item.instance.toolId);
      if (tool) {
        this.options.notify(
          buildNotices(
            {
              kind: level,
              toolId: tool.id,
              toolName: tool.name,
              version: item.instance.version,
              policyName: policy.name,
              timeZone: policy.timeZone,
              verdict: item.verdict,
            },
            (locale) => policy.reason(item.verdict!, tool.name, locale),
            policy.noticeLocale,
          ),
        );
      }
    }
  }

  /** Puts back everything enforcement changed on this machine (before the agent is removed). */
  restoreAll(): Promise<ReconcileSummary> {
    const items = this.applied.map((record) => ({ instance: record.instance, verdict: record.verdict, release: true }));
    const facts: PolicyFacts = {
      name: 'restore',
      timeZone: 'UTC',
      index: catalogIndex(builtinCatalog),
      noticeLocale: 'en',
      reason: (verdict) => verdict.message,
    };
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
    const emit = (type: EventType, fields: EventFields) =>
      this.options.emit(newEvent(type, now, { ...base, ...fields }, operationEventId(op, type)));
    const notes = op.notes ?? [];

    const stopped = op.steps.flatMap((entry) =>
      entry.step.op === 'stop-processes' && entry.note
        ? [JSON.parse(entry.note) as { terminated: number[]; killed: number[] }]
        : [],
    );
    const pids = stopped.flatMap((result) => result.terminated);
    if (pids.length > 0) {
      const killed = stopped.flatMap((result) => result.killed);
      await emit('processes-stopped', {
        message: `stopped ${counted(pids.length, 'running process', 'running processes')} of ${toolId}`,
        details: { pids: pids.join(','), killed: killed.join(','), count: pids.length },
      });
    }
    if (op.kind === 'repair') return;
    const wasLevel = before?.level ?? null;
    const nowLevel = after?.level ?? null;
    if (wasLevel === nowLevel) return;

    if (nowLevel === 'block') {
      const quarantined = after!.quarantine.map((entry) => entry.to);
      const details: Record<string, string | number | boolean | null> = {
        launchers: after!.launchers.length,
        quarantine: quarantined.join(',') || null,
        notes: notes.join('; ') || null,
      };
      if (!this.options.isRoot) details.ownerKept = true;
      await emit('quarantined', {
        message: `${toolId} blocked: ${counted(after!.launchers.length, 'launcher')} replaced by the block notice${quarantined.length ? `, install folder quarantined at ${quarantined.join(', ')}` : ''}${this.options.isRoot ? '' : ' (the agent is not running as root, so the owner was kept)'}`,
        details,
      });
    }
    if (wasLevel !== null && (nowLevel === null || (wasLevel === 'block' && nowLevel === 'warn'))) {
      const check = await verifyRestored(before!, after, op, this.options.guard.platform, this.reads);
      await emit('restored', {
        // restoreAll (uninstall, `restore --all`) runs with no policy revision: not a lift.
        message: `${toolId} ${nowLevel !== null ? 'moved from block to warn' : op.policyRevision == null ? 'put back by aigate-agent restore' : 'allowed again'}: ${check.mismatches.length === 0 ? 'everything put back byte-identical' : `put back with differences: ${check.mismatches.join('; ')}`}`,
        details: {
          verified: check.mismatches.length === 0,
          launchers: check.launchers,
          quarantine: check.folders,
          keptCopies: check.keptCopies,
        },
      });
    }
    if (nowLevel === 'warn') {
      await emit('warning-installed', {
        message: `${toolId}: ${counted(after!.launchers.length, 'launcher')} now ${after!.launchers.length === 1 ? 'shows' : 'show'} the warning before starting`,
        details: { launchers: after!.launchers.length },
      });
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

/** Reads of paths enforcement looks at (Enforcer.reads). */
interface PinnedReads {
  facts(target: string): Promise<FileFacts | null>;
  exists(target: string): Promise<boolean>;
  isOurStub(target: string): Promise<boolean>;
}

/**
 * Compares what is back in place with the facts recorded before the change, on disk: each
 * launcher put back must match its original (content, kind, owner, mode) and no longer be an
 * aigate stub; each folder must be back, the same object, with its owner and mode, and nothing
 * left at its quarantine name. The instance's launchers and install folder are checked too, so a
 * record that missed part of a block (an older ledger, an interrupted save) is not reported as
 * restored while a stub or a quarantine is still there.
 */
async function verifyRestored(
  before: AppliedInstance,
  after: AppliedInstance | null,
  op: Operation,
  platform: NodeJS.Platform,
  reads: PinnedReads,
): Promise<{ mismatches: string[]; launchers: number; folders: number; keptCopies: number }> {
  const { facts, exists } = reads;
  const mismatches: string[] = [];
  const keptLaunchers = new Set(after?.launchers.map((entry) => entry.path) ?? []);
  const keptFolders = new Set(after?.quarantine.map((entry) => entry.from) ?? []);
  let launchers = 0;
  let folders = 0;
  const check = async (what: () => Promise<void>, path: string) => {
    try {
      await what();
    } catch (error) {
      mismatches.push(`${path} could not be checked (${(error as Error).message})`);
    }
  };
  for (const entry of before.launchers) {
    if (keptLaunchers.has(entry.path)) continue;
    launchers++;
    await check(async () => {
      const now = await facts(entry.path);
      if (!now || !sameAsRecorded(now, entry.original)) mismatches.push(`${entry.path} differs from its original`);
      if (await exists(entry.sibling)) mismatches.push(`the kept original ${entry.sibling} is still there`);
    }, entry.path);
  }
  for (const entry of before.quarantine) {
    if (keptFolders.has(entry.from)) continue;
    folders++;
    await check(async () => {
      const now = await facts(entry.from);
      if (!now || now.mode !== entry.original.mode || now.uid !== entry.original.uid || now.gid !== entry.original.gid)
        mismatches.push(`${entry.from} is not back as it was`);
      else if (entry.original.dev !== undefined && (now.dev !== entry.original.dev || now.ino !== entry.original.ino))
        mismatches.push(`${entry.from} is not the folder that was quarantined`);
      if (await exists(entry.to)) mismatches.push(`${entry.to} is still there`);
    }, entry.from);
  }
  // Earlier copies the agent set aside: each one moved back must stand at its place as the
  // recorded object; each one still aside is a difference, with why it could not go back.
  for (const { step } of op.steps) {
    if (step.op !== 'return-copy') continue;
    if (step.original.kind === 'dir') folders++;
    else launchers++;
    await check(async () => {
      const now = await facts(step.to);
      if (!now || !sameAsRecorded(now, step.original)) mismatches.push(`${step.to} is not the original the agent kept`);
      if (await exists(step.from)) mismatches.push(`the kept copy ${step.from} is still there`);
    }, step.to);
  }
  const stillAside = after ? after.orphans : (op.kept ?? []);
  for (const copy of stillAside) {
    await check(async () => {
      const home = homeOf(copy, platform);
      const why =
        home === null
          ? 'its place is not known'
          : (await exists(home))
            ? `${home} holds another file`
            : after
              ? `the tool is still ${after.level === 'warn' ? 'warned' : 'blocked'}`
              : `it could not be put back at ${home}`;
      mismatches.push(`${copy.path} kept: ${why}`);
    }, copy.path);
  }
  if (!after) {
    for (const launcher of before.instance.launchers) {
      if (keptLaunchers.has(launcher)) continue;
      await check(async () => {
        if (await reads.isOurStub(launcher)) mismatches.push(`${launcher} still holds an aigate stub`);
      }, launcher);
    }
    const install = before.instance.installPath;
    if (!before.quarantine.some((entry) => entry.from === install)) {
      await check(async () => {
        if (!(await exists(install)) && (await exists(quarantineFor(install, 1, platform))))
          mismatches.push(`${install} is still quarantined`);
      }, install);
    }
  }
  return { mismatches, launchers, folders, keptCopies: stillAside.length };
}
