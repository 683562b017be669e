/**
 * The rollup job: on a node-cron schedule (default every 15 minutes), once at startup, and on
 * demand, it
 * 1. rebuilds the per-day inventory and compliance figures from the instance history (skipped
 *    when no instance, device or check-in changed since the last run and the day is the same);
 *    only days whose figures changed are rewritten;
 * 2. recounts events for every day that received events since the last run, on the day they
 *    happened on the device, so agents that come back online with a spool of old events are
 *    counted on the right days;
 * 3. recounts devices running each tool per day;
 * 4. works out the current policy's next scheduled changes and the versions of each tool;
 * 5. prunes raw events older than the retention (their daily counts stay), old running
 *    observations and expired dashboard sessions.
 * Runs never overlap; long passes read from their own connection and yield to the event loop.
 */
import { type Static, Type } from '@sinclair/typebox';
import type Database from 'better-sqlite3';
import type { FastifyBaseLogger } from 'fastify';
import cron, { type ScheduledTask } from 'node-cron';

import type { Catalog } from '../../policies/catalog/schema.js';
import type { PolicyDocument } from '../../policies/schema.js';
import { HOUR_MS } from '../../policies/time.js';
import { openReadConnection } from '../db/read-connection.js';
import { Instant, Nullable } from '../http/schemas.js';
import { type CurrentFigures, currentPass } from './current-pass.js';
import { dayNumber, dayStartMs, JobAborted, yieldToEventLoop } from './days.js';
import { inventoryPass } from './inventory-pass.js';
import { RollupStore, sameFingerprint } from './rollup-store.js';
import type { RunningObserver } from './running-observer.js';

/** Raw running observations kept (and recounted) for this many days. */
const RUNNING_RAW_DAYS = 35;
const PRUNE_BATCH = 5_000;

const RollupRunSchema = Type.Object({
  reason: Type.String({ description: 'startup | schedule | manual | policy' }),
  startedAt: Instant,
  finishedAt: Instant,
  durationMs: Type.Integer(),
  inventory: Type.Object({
    rebuilt: Type.Boolean({ description: 'false when nothing had changed since the last run' }),
    historyRows: Type.Integer(),
    days: Type.Integer({ description: 'days covered' }),
    daysChanged: Type.Integer({ description: 'days whose figures changed and were rewritten' }),
  }),
  eventDays: Type.Integer({ description: 'days whose event counts were recounted' }),
  current: Type.Object({ rebuilt: Type.Boolean(), policyRevision: Nullable(Type.Integer()) }),
  pruned: Type.Object({ events: Type.Integer(), runningObservations: Type.Integer(), sessions: Type.Integer() }),
  eventsBefore: Instant,
  error: Type.Optional(Type.String()),
});
export type RollupRun = Static<typeof RollupRunSchema>;

export const RollupStatusSchema = Type.Object({
  schedule: Type.String({ description: 'node-cron expression' }),
  running: Type.Boolean(),
  nextRunAt: Nullable(Instant),
  lastRunAt: Nullable(Instant),
  eventRetentionDays: Type.Number(),
  lastRun: Nullable(RollupRunSchema),
});
export type RollupStatus = Static<typeof RollupStatusSchema>;

export type RunReason = 'startup' | 'schedule' | 'manual' | 'policy';

export interface RollupJobOptions {
  db: Database.Database;
  databaseFile: string;
  now: () => number;
  log: FastifyBaseLogger;
  schedule: string;
  eventRetentionMs: number;
  catalog: Catalog;
  currentPolicy: () => { revision: number; document: PolicyDocument } | null;
  running: RunningObserver;
}

export class RollupJob {
  readonly store: RollupStore;
  private task: ScheduledTask | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private pending: Promise<RollupRun> | null = null;
  private active = false;
  private lastRun: RollupRun | null = null;
  private readonly abort = new AbortController();

  constructor(private readonly options: RollupJobOptions) {
    if (!cron.validate(options.schedule))
      throw new Error(`the rollup schedule "${options.schedule}" is not a valid cron expression`);
    this.store = new RollupStore(options.db);
  }

  /** Schedule the job and, if asked, start a first run in the background. */
  start(runNow: boolean): void {
    this.task = cron.schedule(
      this.options.schedule,
      () => {
        void this.enqueue('schedule').catch(() => undefined);
      },
      {
        name: 'aigate-rollups',
        noOverlap: true,
        // node-cron's own messages (a missed tick while a long run was busy) go to the server log, not stdout.
        logger: {
          info: (message: string) => this.options.log.debug({ cron: message }, 'rollup schedule'),
          warn: (message: string) => this.options.log.info({ cron: message }, 'rollup schedule'),
          error: (message: string | Error) => this.options.log.warn({ cron: String(message) }, 'rollup schedule'),
          debug: (message: string | Error) => this.options.log.debug({ cron: String(message) }, 'rollup schedule'),
        },
      },
    );
    if (runNow) void this.enqueue('startup').catch(() => undefined);
  }

  /** Run now (after any run in progress, so everything stored so far is included) and wait. */
  runNow(reason: RunReason = 'manual'): Promise<RollupRun> {
    return this.enqueue(reason);
  }

  /** The stored next-change figures are for an older policy: refresh them in the background. */
  refreshIfPolicyChanged(): void {
    const current = this.store.current();
    const revision = this.options.currentPolicy()?.revision ?? null;
    if ((current?.policyRevision ?? null) !== revision && !this.pending && !this.active)
      void this.enqueue('policy').catch(() => undefined);
  }

  current(): CurrentFigures | null {
    return this.store.current();
  }

  status(): RollupStatus {
    const next = this.task?.getNextRun() ?? null;
    const lastRunAt = this.store.state().lastRunAt;
    return {
      schedule: this.options.schedule,
      running: this.active,
      nextRunAt: next ? next.toISOString() : null,
      lastRunAt: lastRunAt === null ? null : new Date(lastRunAt).toISOString(),
      eventRetentionDays: this.options.eventRetentionMs / 86_400_000,
      lastRun: this.lastRun,
    };
  }

  async stop(): Promise<void> {
    await this.task?.destroy();
    this.task = null;
    this.abort.abort();
    await this.queue.catch(() => undefined);
  }

  private enqueue(reason: RunReason): Promise<RollupRun> {
    if (this.abort.signal.aborted) return Promise.reject(new JobAborted());
    // A run that has not started yet will see everything stored until it starts: share it.
    if (this.pending) return this.pending;
    const run = this.queue.then(() => {
      this.pending = null;
      return this.runOnce(reason);
    });
    this.pending = run;
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async runOnce(reason: RunReason): Promise<RollupRun> {
    const { now, log, databaseFile, eventRetentionMs } = this.options;
    const signal = this.abort.signal;
    const started = now();
    const clock = performance.now();
    const today = dayNumber(started);
    const cutoffDay = dayNumber(started - eventRetentionMs);
    const run: RollupRun = {
      reason,
      startedAt: new Date(started).toISOString(),
      finishedAt: new Date(started).toISOString(),
      durationMs: 0,
      inventory: { rebuilt: false, historyRows: 0, days: 0, daysChanged: 0 },
      eventDays: 0,
      current: { rebuilt: false, policyRevision: null },
      pruned: { events: 0, runningObservations: 0, sessions: 0 },
      eventsBefore: new Date(dayStartMs(cutoffDay)).toISOString(),
    };
    this.active = true;
    try {
      if (signal.aborted) throw new JobAborted();
      this.options.running.flush();
      const state = this.store.state();
      const fingerprint = this.store.fingerprint();
      const changed = !sameFingerprint(state.fingerprint, fingerprint) || state.inventoryDay !== today;

      // 1. inventory and compliance per day
      if (changed || reason === 'manual') {
        const connection = openReadConnection(databaseFile);
        let result;
        try {
          result = await inventoryPass(connection.db, today, signal);
        } finally {
          connection.release();
        }
        run.inventory.rebuilt = true;
        if (result) {
          run.inventory.historyRows = result.historyRows;
          for (let day = result.counters.firstDay; day <= today; day++) {
            if (this.store.writeInventoryDay(day, result.counters.toolRows(day), result.counters.complianceRows(day)))
              run.inventory.daysChanged++;
            run.inventory.days++;
            if (run.inventory.days % 16 === 0) await yieldToEventLoop();
          }
        }
        this.store.trimInventoryDays(result?.counters.firstDay ?? null, today);
      }

      // 2. events, on the day they happened, for every day that received some since the last run
      const eventDays = new Set(this.store.eventDaysReceivedSince(state.lastRunAt ?? 0));
      eventDays.add(today);
      for (const day of [...eventDays].sort((a, b) => a - b)) {
        // Older days have lost raw events to pruning: recounting them would lose counts.
        if (day < cutoffDay || day > today + 1) continue;
        this.store.rebuildEventDay(day);
        run.eventDays++;
        if (run.eventDays % 16 === 0) await yieldToEventLoop();
      }

      // 3. devices running each tool
      const runningFrom = Math.max(
        state.lastRunAt === null ? today - RUNNING_RAW_DAYS + 1 : dayNumber(Math.min(state.lastRunAt, started)),
        today - RUNNING_RAW_DAYS + 1,
      );
      this.store.rebuildRunningDays(runningFrom);

      // 4. next scheduled changes and versions, for the current policy
      const policy = this.options.currentPolicy();
      run.current.policyRevision = policy?.revision ?? null;
      let currentAt = state.currentAt;
      let currentRevision = state.currentRevision;
      const stale = state.currentAt === null || started - state.currentAt >= HOUR_MS || started < state.currentAt;
      if (
        changed ||
        stale ||
        reason === 'manual' ||
        state.currentRevision !== (policy?.revision ?? null) ||
        this.store.current() === null
      ) {
        const connection = openReadConnection(databaseFile);
        try {
          this.store.saveCurrent(await currentPass(connection.db, policy, this.options.catalog, started, signal));
        } finally {
          connection.release();
        }
        run.current.rebuilt = true;
        currentAt = started;
        currentRevision = policy?.revision ?? null;
      }

      // 5. retention
      let pruned: number;
      do {
        pruned = this.store.pruneEvents(dayStartMs(cutoffDay), PRUNE_BATCH);
        run.pruned.events += pruned;
        if (pruned === PRUNE_BATCH) await yieldToEventLoop();
      } while (pruned === PRUNE_BATCH && !signal.aborted);
      run.pruned.runningObservations = this.store.pruneRunningDays(today - RUNNING_RAW_DAYS + 1);
      run.pruned.sessions = this.store.pruneSessions(now());

      this.store.saveState({ lastRunAt: started, fingerprint, inventoryDay: today, currentRevision, currentAt });
      log.info({ rollup: { ...run, durationMs: Math.round(performance.now() - clock) } }, 'rollups built');
    } catch (error) {
      run.error = (error as Error).message;
      if (error instanceof JobAborted) log.info('rollup run stopped by shutdown');
      else log.error({ err: error }, 'rollup run failed');
      throw error;
    } finally {
      this.active = false;
      run.finishedAt = new Date(now()).toISOString();
      run.durationMs = Math.round(performance.now() - clock);
      this.lastRun = run;
    }
    return run;
  }
}
