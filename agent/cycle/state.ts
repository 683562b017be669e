/**
 * What the steps of a cycle share (as santa's sync stages share one SNTSyncState): the agent's
 * parts (policy sync, trusted clock, enforcer, spool, HTTP client, health), what the last steps
 * learned (the scan, the verdicts, the tracked exception requests, the server contact) and what
 * the next cycle report lists. One instance lives as long as the agent; the steps under
 * agent/cycle/ read and change it, agent/agent.ts orders them.
 */
import { builtinCatalog, type CatalogIndex, catalogIndex } from '../../policies/catalog/index.js';
import type { DeviceFacts, ToolInstance } from '../../policies/inventory.js';
import type { AgentHealth } from '../../policies/protocol.js';
import type { Verdict } from '../../policies/verdict.js';
import type { Enforcer } from '../enforce/engine.js';
import type { AgentEvent } from '../events/event.js';
import type { LaunchTarget } from '../events/launch-records.js';
import type { EventSpool } from '../events/spool.js';
import type { ScanMemo } from '../inventory/memo.js';
import type { ScanResult } from '../inventory/types.js';
import type { AgentLogger } from '../log.js';
import { ContactError } from '../net/contact.js';
import type { DeviceHttp } from '../net/device-http.js';
import type { PolicySync } from '../policy/sync.js';
import type { TrustedClock } from '../policy/trusted-clock.js';
import type { TrackedRequest } from '../requests/forward.js';
import type { AgentConfig } from '../state/config.js';
import type { StatePaths } from '../state/paths.js';
import type { HealthTracker } from '../status/health.js';

/** Folders the administrator named for the scan (each optional: the defaults are the machine's). */
export interface ScanRoots {
  homes?: string[];
  npmPrefixes?: string[];
  paths?: string[];
}

/** The agent's parts the steps use; made once by Agent.open. */
export interface CycleParts {
  config: AgentConfig;
  paths: StatePaths;
  http: DeviceHttp;
  spool: EventSpool;
  sync: PolicySync;
  clock: TrustedClock;
  enforcer: Enforcer;
  health: HealthTracker;
  log: AgentLogger;
  scanRoots: ScanRoots;
  /** What each scan may reuse of the last one (inventory/memo.ts); lives as long as the agent. */
  scanMemo: ScanMemo;
  /** For the status file: the daemon's cycle period, null for `once`. */
  cycleMinutes: number | null;
  /** What policies match devices by (id, hostname, group, OS). */
  device: DeviceFacts;
}

/** One instance's verdict under the policy in force. */
export interface Evaluated {
  instance: ToolInstance;
  verdict: Verdict;
}

export class CycleState {
  /** The last scan (null before the first one of this run). */
  lastScan: ScanResult | null = null;
  /** This evaluation's verdicts by instance key (empty with no policy in force). */
  verdicts = new Map<string, Evaluated>();
  /** RFC 3339; from the status file of the last run until this run's first cycle ends. */
  lastCycleAt: string | null = null;
  lastContactAt: string | null = null;
  /** Why the last contact with the server failed (null when it worked). */
  lastContactError: string | null = null;
  /** Why the cached or the newest policy is not in force (null when it is). */
  policyProblem: string | null = null;
  /** Why the enforcement ledger could not be read (enforcement stops until it can). */
  ledgerProblem: string | null = null;
  requests: TrackedRequest[] = [];
  /** The users the server accepted in this device's last check-in (it files exception requests only from those). */
  reportedUsers: string[] = [];
  /** Instances put back recently: their stubs' last launch records still count. */
  released = new Map<string, LaunchTarget & { until: number }>();
  /** Launch records collected since the last cycle report (at start too). */
  launchesCollected = 0;
  /** Steps that failed since the last cycle report (logged each; listed in the next report). */
  errors: { phase: string; message: string }[] = [];
  /** The health reason codes the server last heard (null before the first check-in of this run). */
  healthSent: string | null = null;
  /** Events wait in the spool because the last delivery failed or was not possible (offline). */
  deliveryPending = false;
  /** Whether the daemon runs this agent (for the status file). */
  daemonRunning = false;

  constructor(readonly parts: CycleParts) {}

  get now(): number {
    return this.parts.clock.now();
  }

  /** The catalog of the policy in force, else the built-in one. */
  get catalogIndex(): CatalogIndex {
    return this.parts.sync.current?.compiled.index ?? catalogIndex(builtinCatalog);
  }

  /** Spools an event; one that cannot be written is counted and reported later, never thrown. */
  async emit(event: AgentEvent): Promise<void> {
    await this.parts.spool.record(event);
  }

  /** Records that the server answered (`error` null) or could not be reached. Anything other than a contact error is thrown on. */
  noteContact(error: unknown): void {
    if (error === null) {
      this.lastContactAt = new Date(this.now).toISOString();
      this.lastContactError = null;
      return;
    }
    if (error instanceof ContactError) {
      this.lastContactError = error.message;
      this.parts.log.warn({ error: error.message }, 'server contact failed');
      return;
    }
    throw error;
  }

  /** The earliest instant (epoch ms) any verdict changes (for the daemon's precise timer), or null. */
  nextChangeAt(): number | null {
    let next: number | null = null;
    for (const { verdict } of this.verdicts.values()) {
      if (!verdict.nextChangeAt) continue;
      const at = Date.parse(verdict.nextChangeAt);
      if (next === null || at < next) next = at;
    }
    return next;
  }

  /**
   * The agent's health: its own slots plus what enforcement says of itself (a damaged ledger,
   * instances whose enforcement fails, layouts left alone as suspicious), refreshed now.
   */
  healthReport(): AgentHealth {
    const { health, enforcer } = this.parts;
    health.clearPrefix('engine:');
    const engine = enforcer.health();
    const now = this.now;
    if (engine.ledgerDamaged) health.set('engine:ledger', 'ledger-damaged', engine.ledgerDamaged, now);
    for (const item of engine.failing)
      health.set(`engine:failing:${item.key}`, 'enforcement-failing', item.message, now, item.since);
    for (const item of engine.suspicious)
      health.set(
        `engine:suspicious:${item.key}:${item.path}`,
        'suspicious-layout',
        `${item.path}: ${item.reason}`,
        now,
        item.since,
      );
    return health.report();
  }
}

export const describeError = (error: unknown) => (error instanceof Error ? error.message : String(error));
