/**
 * One agent on one machine: the policy in force, the trusted clock, the last scan, enforcement,
 * the event spool, exception requests and the status file, and the cycle that ties them
 * together. The daemon (daemon.ts) schedules cycles; `once` runs one. Network trouble never stops
 * a cycle: the cached policy is enforced offline and events wait in the spool. Nor does any other
 * failure: each part of the cycle (policy, scan, launch records, enforcement, requests, check-in,
 * upload, status) runs on its own, its errors are logged and reported in the health sent with the
 * check-in, and the parts after it still run. An event that cannot be spooled is counted, not thrown.
 */
import { hostname as osHostname } from 'node:os';

import { builtinCatalog, type CatalogIndex, catalogIndex } from '../policies/catalog/index.js';
import { evaluateInstance } from '../policies/evaluate.js';
import { type DeviceFacts, instanceKey, type ToolInstance } from '../policies/inventory.js';
import { counted } from '../policies/plural.js';
import {
  type AgentHealth,
  type CheckinBody,
  CheckinReply,
  type HealthReasonCode,
  MAX_INSTANCES,
  MAX_USERS,
  type ToolFingerprint,
} from '../policies/protocol.js';
import type { Verdict } from '../policies/verdict.js';
import { policyFacts } from './enforce/desired.js';
import { Enforcer, LedgerDamaged, type ReconcileSummary } from './enforce/engine.js';
import type { FaultPoint } from './enforce/fault.js';
import { lexists } from './enforce/fs-facts.js';
import { recordKey } from './enforce/stubs.js';
import { type AgentEvent, newEvent } from './events/event.js';
import { collectLaunchRecords, type LaunchTarget, removeRecords } from './events/launch-records.js';
import { EventSpool } from './events/spool.js';
import { uploadEvents, type UploadResult } from './events/upload.js';
import { osName } from './host/os.js';
import { machineHomes } from './host/users.js';
import { scanMachine } from './inventory/index.js';
import type { ScanResult } from './inventory/types.js';
import type { AgentLogger } from './log.js';
import { checkReply, ContactError, replyError } from './net/contact.js';
import { DeviceHttp } from './net/device-http.js';
import { desktopNotifier } from './notices/desktop.js';
import { buildNotice, renderNotice } from './notices/notice.js';
import { PolicySync, type PollOutcome } from './policy/sync.js';
import { TrustedClock } from './policy/trusted-clock.js';
import { forwardRequests, loadTracked, requesters, type TrackedRequest } from './requests/forward.js';
import type { AgentSentinelHooks } from './sentinel/agent-hook.js';
import { FingerprintReporter } from './sentinel/report.js';
import { Serial } from './serial.js';
import { type AgentConfig, loadConfig } from './state/config.js';
import { loadDeviceKey } from './state/device-key.js';
import { ensureStateLayout } from './state/layout.js';
import { type StatePaths, statePaths } from './state/paths.js';
import { HealthTracker } from './status/health.js';
import { readStatusFile, type StatusFile, type ToolStatus, writeStatusFile } from './status/status-file.js';
import { AGENT_VERSION } from './version.js';

export interface ScanRoots {
  homes?: string[];
  npmPrefixes?: string[];
  paths?: string[];
}

export interface AgentOptions {
  stateDir: string;
  scanRoots: ScanRoots;
  /** How long stopped processes get between SIGTERM and SIGKILL. */
  graceMs: number;
  log: AgentLogger;
  /** The local clock (the real one unless a test overrides it). */
  localClock: () => number;
  fault: FaultPoint;
  desktopNotifications: boolean;
  /** For the status file: the daemon's cycle period, null for `once`. */
  cycleMinutes: number | null;
}

export interface CycleReport {
  at: string;
  online: boolean;
  contactError: string | null;
  policy: { revision: number; name: string; mode: string } | null;
  /** `failed`: the server answered but the answer could not be acted on (see errors and health). */
  policyOutcome: PollOutcome['kind'] | 'offline' | 'failed' | 'skipped';
  instances: number;
  verdicts: Record<'allow' | 'warn' | 'block', number>;
  enforcement: ReconcileSummary | null;
  launchRecords: number;
  upload: UploadResult | null;
  spooled: number;
  nextChangeAt: string | null;
  /** Parts of the cycle that failed (each logged; the others still ran). */
  errors: { phase: string; message: string }[];
  health: AgentHealth;
}

const emptyVerdictCounts = () => ({ allow: 0, warn: 0, block: 0 });
/** Launch records of a tool just put back are still matched for this long (a stub run during the restore). */
const RELEASED_TARGET_MS = 60 * 60_000;

const describeError = (error: unknown) => (error instanceof Error ? error.message : String(error));

export class Agent {
  readonly paths: StatePaths;
  readonly spool: EventSpool;
  readonly sync: PolicySync;
  readonly clock: TrustedClock;
  readonly enforcer: Enforcer;
  /** The agent's own health, sent with every check-in and written to the status file. */
  readonly health = new HealthTracker();
  private readonly http: DeviceHttp;
  private readonly serial = new Serial();
  private lastScan: ScanResult | null = null;
  private verdicts = new Map<string, { instance: ToolInstance; verdict: Verdict }>();
  private lastCycleAt: string | null = null;
  private lastContactAt: string | null = null;
  private lastContactError: string | null = null;
  private policyProblem: string | null = null;
  private ledgerProblem: string | null = null;
  private requests: TrackedRequest[] = [];
  /** The users the server accepted in this device's last check-in (it files exception requests only from those). */
  private reportedUsers: string[] = [];
  /** Instances put back recently: their stubs' last launch records still count. */
  private released = new Map<string, LaunchTarget & { until: number }>();
  /** Launch records collected since the last cycle report (at start too). */
  private launchesCollected = 0;
  /** Parts that failed since the last cycle report (logged each; listed in the next report). */
  private cycleErrors: { phase: string; message: string }[] = [];
  /** The health reason codes the server last heard (null before the first check-in of this run). */
  private healthSent: string | null = null;
  /** Events wait in the spool because the last delivery failed or was not possible (offline). */
  deliveryPending = false;
  daemonRunning = false;

  private constructor(
    readonly config: AgentConfig,
    http: DeviceHttp,
    private readonly options: AgentOptions,
  ) {
    this.http = http;
    this.paths = statePaths(options.stateDir);
    this.spool = new EventSpool(this.paths.spoolDir, {
      dropFile: this.paths.spoolLosses,
      onTrouble: (trouble) => {
        options.log.error({ problem: trouble.message, kind: trouble.kind }, 'event spool trouble');
        this.health.set('spool', 'spool-trouble', trouble.message, this.clock.now());
      },
    });
    this.clock = new TrustedClock(this.paths.time, config.policyKeys, config.deviceId, options.localClock);
    const emit = (event: AgentEvent) => this.emit(event);
    this.sync = new PolicySync({
      http,
      paths: this.paths,
      keys: config.policyKeys,
      emit,
      log: options.log,
      clock: () => this.clock.now(),
    });
    this.enforcer = new Enforcer({
      ledgerFile: this.paths.enforcement,
      launchesDir: this.paths.launchesDir,
      guard: {
        platform: process.platform,
        homes: machineHomes(options.scanRoots.homes),
        stateDir: options.stateDir,
        // Prefixes and PATH folders the administrator named are trusted roots too (each still passes the ownership walk).
        roots: [...(options.scanRoots.npmPrefixes ?? []), ...(options.scanRoots.paths ?? [])].map((path) => ({
          path,
          kind: 'prefix' as const,
        })),
      },
      isRoot: process.getuid?.() === 0,
      graceMs: options.graceMs,
      fault: options.fault,
      log: options.log,
      emit,
      clock: () => this.clock.now(),
      ...(options.desktopNotifications ? { notify: desktopNotifier(options.log) } : {}),
    });
  }

  /** Loads the enrollment, the cached policy and the ledger, and finishes an interrupted operation. */
  static async open(options: AgentOptions): Promise<Agent> {
    const paths = statePaths(options.stateDir);
    const config = await loadConfig(paths.config, options.stateDir);
    const key = await loadDeviceKey(paths.deviceKey);
    if (!key)
      throw new Error(`the device key ${paths.deviceKey} is missing; enroll again with aigate-agent enroll --force`);
    await ensureStateLayout(paths);
    const http = new DeviceHttp(
      { serverUrl: config.serverUrl, deviceId: config.deviceId, audience: config.audience, privateKey: key.privateKey },
      options.localClock,
    );
    const agent = new Agent(config, http, options);
    // What the last run knew about the server and its cycles: status describes the machine, not this process.
    const previous = await readStatusFile(paths.status);
    if (previous.ok && previous.status.deviceId === config.deviceId) {
      agent.lastContactAt = previous.status.lastContactAt;
      agent.lastCycleAt = previous.status.lastCycleAt;
    }
    const timeProblem = await agent.clock.load();
    if (timeProblem) options.log.warn({ problem: timeProblem }, 'trusted time floor not loaded');
    agent.policyProblem = await agent.sync.loadCache();
    if (agent.policyProblem) options.log.warn({ problem: agent.policyProblem }, 'cached policy not usable');
    try {
      await agent.enforcer.load();
    } catch (error) {
      if (!(error instanceof LedgerDamaged)) throw error;
      // Reported in the health by the enforcer itself (health().ledgerDamaged).
      agent.ledgerProblem = error.message;
      options.log.error({ problem: error.message }, 'enforcement ledger damaged');
    }
    if (!agent.ledgerProblem) {
      // Records first: finishing an interrupted restore removes the stubs they belong to.
      await agent.phase('launch records', () => agent.collectLaunches());
      // An operation a crash (or a full disk) interrupted: finish it; if that fails now, the next cycle tries again.
      await agent.phase('recover', () => agent.enforcer.recover(), 'enforcement-failing');
    }
    ({ requests: agent.requests, reportedUsers: agent.reportedUsers } = await loadTracked(agent.paths.exceptions));
    return agent;
  }

  private get device(): DeviceFacts {
    return { deviceId: this.config.deviceId, hostname: this.config.hostname, group: this.config.group, os: osName() };
  }

  private get catalogIndex(): CatalogIndex {
    return this.sync.current?.compiled.index ?? catalogIndex(builtinCatalog);
  }

  /** Runs `job` after any cycle in progress. */
  exclusive<T>(job: () => Promise<T>): Promise<T> {
    return this.serial.run(job);
  }

  /** Spools an event; one that cannot be written is counted and reported later, never thrown. */
  private async emit(event: AgentEvent): Promise<void> {
    await this.spool.record(event);
  }

  /**
   * Runs one part of the cycle so that its failure stops nothing else: the error is logged,
   * kept for the cycle report, and reported in the health until the part succeeds again.
   */
  private async phase<T>(
    name: string,
    job: () => Promise<T>,
    code: HealthReasonCode = 'cycle-errors',
  ): Promise<T | undefined> {
    try {
      const value = await job();
      this.health.clear(`phase:${name}`);
      return value;
    } catch (error) {
      const message = describeError(error);
      this.cycleErrors.push({ phase: name, message });
      this.health.set(
        `phase:${name}`,
        error instanceof LedgerDamaged ? 'ledger-damaged' : code,
        `${name}: ${message}`,
        this.clock.now(),
      );
      this.options.log.error({ err: error as Error, phase: name }, 'a part of the cycle failed; the rest goes on');
      return undefined;
    }
  }

  private static isContactError(error: unknown): boolean {
    return error instanceof ContactError;
  }

  /** Records the outcome of talking to the server. Anything other than a contact error is thrown on. */
  private noteContact(error: unknown): void {
    if (error === null) {
      this.lastContactAt = new Date(this.clock.now()).toISOString();
      this.lastContactError = null;
      return;
    }
    if (Agent.isContactError(error)) {
      this.lastContactError = (error as Error).message;
      this.options.log.warn({ error: (error as Error).message }, 'server contact failed');
      return;
    }
    throw error;
  }

  /**
   * Asks the server for a newer policy (long-polling for `waitSeconds`). Offline is not an
   * error; nor is anything else: a failure (storing the bundle on a full disk, say) is logged and
   * reported in the health, and the agent carries on with the policy in force.
   */
  async pollPolicy(waitSeconds = 0, signal?: AbortSignal): Promise<PollOutcome | 'offline' | 'failed'> {
    try {
      const outcome = await this.sync.poll({ waitSeconds, ...(signal ? { signal } : {}) });
      this.noteContact(null);
      this.health.clear('phase:policy');
      if (outcome.kind === 'updated') this.policyProblem = null;
      if (outcome.kind === 'refused') this.policyProblem = outcome.message;
      return outcome;
    } catch (error) {
      if (signal?.aborted) return 'offline';
      if (Agent.isContactError(error)) {
        this.noteContact(error);
        return 'offline';
      }
      this.health.set('phase:policy', 'cycle-errors', `policy: ${describeError(error)}`, this.clock.now());
      this.cycleErrors.push({ phase: 'policy', message: describeError(error) });
      this.options.log.error({ err: error as Error }, 'the policy check failed; the policy in force stays');
      return 'failed';
    }
  }

  async scan(): Promise<ScanResult> {
    const roots = this.options.scanRoots;
    const result = await scanMachine({
      ...(roots.homes ? { homes: roots.homes } : {}),
      ...(roots.npmPrefixes ? { npmPrefixes: roots.npmPrefixes } : {}),
      ...(roots.paths ? { paths: roots.paths } : {}),
      catalog: this.sync.current?.catalog ?? builtinCatalog,
    });
    // Stubs, kept originals and quarantined folders are enforcement's own, not tools.
    result.instances = result.instances.filter((instance) => !this.enforcer.isArtefact(instance));
    this.lastScan = result;
    return result;
  }

  /**
   * Evaluates the last scan plus every enforced instance at trusted time, and enforces. Launch
   * records are collected first: a change that puts a tool back removes its stubs, and the
   * records they left must still be matched to it. One instance that cannot be enforced (a
   * FIFO where its launcher was, say) does not hold back the others.
   */
  async enforce(): Promise<ReconcileSummary | null> {
    await this.phase('launch records', () => this.collectLaunches());
    const policy = this.sync.current;
    const now = this.clock.now();
    const instances = new Map<string, ToolInstance>();
    for (const instance of this.lastScan?.instances ?? []) instances.set(instanceKey(instance), instance);
    const uninstalled = new Set<string>();
    for (const record of this.enforcer.applied) {
      if (instances.has(record.key)) continue;
      instances.set(record.key, record.instance);
      // A warned tool uninstalled meanwhile: nothing left to warn about, so put its launchers back.
      if (record.quarantine.length === 0 && !(await lexists(record.instance.installPath))) uninstalled.add(record.key);
    }
    this.verdicts = new Map();
    if (!policy) return null;
    for (const [key, instance] of instances)
      this.verdicts.set(key, { instance, verdict: evaluateInstance(policy.compiled, instance, this.device, now) });
    if (this.ledgerProblem) return null;
    const before = new Map(this.enforcer.applied.map((record) => [record.key, record] as const));
    const items = [...this.verdicts].map(([key, item]) => (uninstalled.has(key) ? { ...item, release: true } : item));
    const facts = policyFacts(policy.compiled);
    const revision = policy.payload.revision;
    let summary: ReconcileSummary;
    try {
      summary = await this.enforcer.reconcile(items, facts, revision);
      this.health.clearPrefix('enforce:item:');
    } catch (error) {
      if (error instanceof LedgerDamaged) throw error;
      // Find the instance(s) at fault: each alone, so the others are still enforced.
      summary = { applied: 0, restored: 0, repaired: 0, failed: 0, tampered: 0, notes: [] };
      for (const item of items) {
        const key = instanceKey(item.instance);
        try {
          const one = await this.enforcer.reconcile([item], facts, revision);
          for (const field of ['applied', 'restored', 'repaired', 'failed', 'tampered'] as const)
            summary[field] += one[field];
          summary.notes.push(...one.notes);
          this.health.clear(`enforce:item:${key}`);
        } catch (itemError) {
          if (itemError instanceof LedgerDamaged) throw itemError;
          summary.failed++;
          await this.reportEnforcementError(item.instance, itemError, revision);
        }
      }
    }
    for (const note of summary.notes) this.options.log.info({ note }, 'enforcement note');
    // Put back just now: their stubs' records dropped meanwhile still belong to them.
    for (const [key, record] of before) {
      if (this.enforcer.store.ledger.applied[key]) continue;
      this.released.set(recordKey(key), {
        toolId: record.instance.toolId,
        installPath: record.instance.installPath,
        version: record.instance.version,
        until: now + RELEASED_TARGET_MS,
      });
    }
    return summary;
  }

  /**
   * The agent's health: its own slots plus what enforcement says of itself (a damaged ledger,
   * instances whose enforcement fails, layouts left alone as suspicious), refreshed now.
   */
  healthReport(): AgentHealth {
    this.health.clearPrefix('engine:');
    const engine = this.enforcer.health();
    const now = this.clock.now();
    if (engine.ledgerDamaged) this.health.set('engine:ledger', 'ledger-damaged', engine.ledgerDamaged, now);
    for (const item of engine.failing)
      this.health.set(`engine:failing:${item.key}`, 'enforcement-failing', item.message, now, item.since);
    for (const item of engine.suspicious)
      this.health.set(
        `engine:suspicious:${item.key}:${item.path}`,
        'suspicious-layout',
        `${item.path}: ${item.reason}`,
        now,
        item.since,
      );
    return this.health.report();
  }

  /** An instance enforcement threw on: logged, in the health, and reported once (not every minute). */
  private async reportEnforcementError(instance: ToolInstance, error: unknown, policyRevision: number): Promise<void> {
    const key = instanceKey(instance);
    const slot = `enforce:item:${key}`;
    const message = `could not enforce the policy on ${instance.toolId} at ${instance.installPath}: ${describeError(error)}`;
    this.options.log.error(
      { err: error as Error, toolId: instance.toolId, installPath: instance.installPath },
      'enforcement failed for one instance; the others go on',
    );
    const known = this.health.has(slot);
    this.health.set(slot, 'enforcement-failing', message, this.clock.now());
    if (known) return;
    await this.emit(
      newEvent('enforcement-failed', this.clock.now(), {
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

  /**
   * The verdict for `toolId` at `version` run by `user` under the policy in force, at trusted time
   * (the same evaluator the cycle uses, on the instance a running process stands for), or null
   * with no policy.
   */
  private runningVerdict(toolId: string, version: string | null, user: string | null): Verdict | null {
    const policy = this.sync.current;
    if (!policy) return null;
    const instance: ToolInstance = {
      toolId,
      version,
      channel: 'npm',
      installPath: '(a running process)',
      launchers: [],
      owner: user,
      evidence: [],
    };
    return evaluateInstance(policy.compiled, instance, this.device, this.clock.now());
  }

  /**
   * What the sentinel (agent/sentinel) needs from the agent: whether a tool is blocked and
   * enforced now for a user, the block notice for their terminal, the spool for its
   * `blocked-launch` events, and the policy revision. `onEvent` runs after each event is spooled.
   */
  sentinelHooks(onEvent: () => void): AgentSentinelHooks {
    return {
      catalog: this.catalogIndex,
      isBlocked: (toolId, version, user) => {
        const verdict = this.runningVerdict(toolId, version, user);
        return verdict !== null && verdict.action === 'block' && verdict.enforce;
      },
      noticeFor: (toolId, version, user) => {
        const policy = this.sync.current;
        const verdict = this.runningVerdict(toolId, version, user);
        const tool = this.catalogIndex.tool(toolId);
        if (!policy || !verdict || !tool) return null;
        const notice = buildNotice({
          kind: 'block',
          toolId,
          toolName: tool.name,
          version,
          policyName: policy.compiled.name,
          timeZone: policy.compiled.timeZone,
          verdict,
        });
        return renderNotice(notice, this.clock.now());
      },
      emit: async (event) => {
        await this.emit(event);
        onEvent();
      },
      policyRevision: () => this.sync.current?.payload.revision ?? null,
      onError: (error) => this.options.log.warn({ err: error as Error }, 'sentinel trouble'),
    };
  }

  /** The instances blocked and enforced by the last evaluation (the sentinel learns their fingerprints). */
  blockedInstances(): ToolInstance[] {
    return [...this.verdicts.values()]
      .filter(({ verdict }) => verdict.action === 'block' && verdict.enforce)
      .map(({ instance }) => instance);
  }

  /** The fingerprints the bundle in force ships (the sentinel knows renamed copies by them). */
  shippedFingerprints(): ToolFingerprint[] {
    return this.sync.current?.payload.fingerprints ?? [];
  }

  private fingerprintReporter: FingerprintReporter | null = null;

  /**
   * Reports the fingerprints the sentinel learned (agent/sentinel/report.ts), each once per run.
   * Offline or refused is logged, never thrown.
   */
  async reportFingerprints(learned: readonly ToolFingerprint[]): Promise<void> {
    const log = this.options.log;
    this.fingerprintReporter ??= new FingerprintReporter(this.http);
    try {
      const outcome = await this.fingerprintReporter.report(learned);
      if (outcome.sent > 0) log.info({ sent: outcome.sent }, 'fingerprints reported');
      if (outcome.refused) log.warn({ problem: outcome.refused }, 'the server refused learned fingerprints');
    } catch (error) {
      log.warn({ error: (error as Error).message }, 'fingerprints not reported; trying again after the next cycle');
    }
  }

  /** The earliest instant any verdict changes (for the daemon's precise timer). */
  nextChangeAt(): number | null {
    let next: number | null = null;
    for (const { verdict } of this.verdicts.values()) {
      if (!verdict.nextChangeAt) continue;
      const at = Date.parse(verdict.nextChangeAt);
      if (next === null || at < next) next = at;
    }
    return next;
  }

  /** Turns the stubs' launch records into events (for enforced instances and those put back lately). */
  async collectLaunches(): Promise<number> {
    const now = this.clock.now();
    const targets = new Map<string, LaunchTarget>();
    for (const [key, target] of this.released) {
      if (target.until < now) this.released.delete(key);
      else targets.set(key, target);
    }
    for (const record of this.enforcer.applied) {
      targets.set(recordKey(record.key), {
        toolId: record.instance.toolId,
        installPath: record.instance.installPath,
        version: record.instance.version,
      });
    }
    const collected = await collectLaunchRecords(
      this.paths.launchesDir,
      targets,
      this.sync.current?.payload.revision ?? null,
    );
    const kept = new Set<string>();
    for (const [index, event] of collected.events.entries()) {
      try {
        await this.spool.append(event);
        kept.add(collected.eventFiles[index]!);
      } catch (error) {
        // The record stays for the next collection (its event id is derived from it): nothing is lost yet.
        const message = `a launch record could not be spooled and waits in ${this.paths.launchesDir}: ${(error as NodeJS.ErrnoException).code ?? describeError(error)}`;
        this.options.log.error({ problem: message }, 'event spool trouble');
        this.health.set('spool', 'spool-trouble', message, now);
      }
    }
    const waiting = new Set(collected.eventFiles.filter((file) => !kept.has(file)));
    await removeRecords(collected.consumed.filter((file) => !waiting.has(file)));
    for (const rejected of collected.rejected) this.options.log.warn(rejected, 'ignored a launch record');
    this.launchesCollected += kept.size;
    return kept.size;
  }

  async forwardRequests(): Promise<void> {
    this.requests = await forwardRequests({
      http: this.http,
      requestsDir: this.paths.requestsDir,
      trackedFile: this.paths.exceptions,
      index: this.catalogIndex,
      instances: [...this.verdicts.values()].map((item) => item.instance),
      log: this.options.log,
      reportedUsers: this.reportedUsers,
    });
  }

  /**
   * Who the check-in reports: the owners of the scanned homes and every local account that asked
   * for an exception (the server accepts a request only from a user this device reported).
   */
  private async usersToReport(): Promise<string[] | null> {
    if (!this.lastScan) return null;
    const asking = await requesters(this.paths.requestsDir, this.requests);
    return [...new Set([...this.lastScan.users, ...asking])].sort().slice(0, MAX_USERS);
  }

  /** Whether a dropped request comes from a user the server has not heard of yet (a check-in must come first). */
  private async requesterUnreported(): Promise<boolean> {
    const reported = new Set(this.reportedUsers);
    return (await requesters(this.paths.requestsDir, this.requests)).some((user) => !reported.has(user));
  }

  /** Reports inventory, verdicts and health; the reply's signed time raises the trusted-time floor. */
  async checkin(): Promise<{ etag: string | null } | null> {
    const items = [...this.verdicts.values()];
    const inventory = items.length > 0 ? items.map((item) => item.instance) : (this.lastScan?.instances ?? []);
    const users = await this.usersToReport();
    const body: CheckinBody = {
      policyRevision: this.sync.current?.payload.revision ?? null,
      agentVersion: AGENT_VERSION,
      inventory: inventory.slice(0, MAX_INSTANCES),
      verdicts: items.map((item) => item.verdict).slice(0, MAX_INSTANCES),
      hostname: osHostname().slice(0, 255) || this.config.hostname,
      ...(this.lastScan && users ? { users, scannedAt: this.lastScan.startedAt } : {}),
      health: this.healthReport(),
    };
    const reply = await this.http.request('POST', '/v1/checkin', { body, timeoutMs: 60_000 });
    if (reply.status !== 200) throw replyError('POST /v1/checkin', reply);
    const answer = checkReply(CheckinReply, 'POST /v1/checkin', reply);
    this.healthSent = JSON.stringify((body.health?.reasons ?? []).map((reason) => reason.code).sort());
    if (users) this.reportedUsers = users;
    const refused = await this.clock.observe(answer.serverTime);
    if (refused) this.options.log.warn({ reason: refused }, 'ignored the server time in the check-in reply');
    return { etag: answer.policy?.etag ?? null };
  }

  /** Sends the spool. Contact errors are noted (the events wait); the spool's health follows. */
  private async upload(): Promise<UploadResult | null> {
    try {
      const result = await uploadEvents(this.http, this.spool, this.clock.now());
      this.noteContact(null);
      this.deliveryPending = result.remaining > 0 || result.unreportedLosses > 0;
      if (result.unreportedLosses === 0) this.health.clear('spool');
      else
        this.health.set(
          'spool',
          'spool-trouble',
          `${counted(result.unreportedLosses, 'lost event')} not yet reported${result.reportError ? `: ${result.reportError}` : ''}`,
          this.clock.now(),
        );
      return result;
    } catch (error) {
      this.deliveryPending = true;
      if (Agent.isContactError(error)) {
        this.noteContact(error);
        return null;
      }
      // Writing the events-dropped report on a full spool, say: the count is kept for later.
      this.health.set(
        'spool',
        'spool-trouble',
        `the events could not be sent: ${describeError(error)}`,
        this.clock.now(),
      );
      throw error;
    }
  }

  /** A full cycle: policy, scan, launch records, enforce, exception requests, check-in, events, status. */
  cycle(options: { scan?: boolean } = {}): Promise<CycleReport> {
    return this.exclusive(async () => {
      const report: CycleReport = {
        at: new Date(this.clock.now()).toISOString(),
        online: false,
        contactError: null,
        policy: null,
        policyOutcome: 'skipped',
        instances: 0,
        verdicts: emptyVerdictCounts(),
        enforcement: null,
        launchRecords: 0,
        upload: null,
        spooled: 0,
        nextChangeAt: null,
        errors: [],
        health: { state: 'ok', reasons: [] },
      };
      const outcome = await this.pollPolicy(0);
      report.policyOutcome = typeof outcome === 'string' ? outcome : outcome.kind;
      const online = outcome !== 'offline';
      if (options.scan !== false || !this.lastScan) await this.phase('scan', () => this.scan());
      report.enforcement = (await this.phase('enforce', () => this.enforce(), 'enforcement-failing')) ?? null;
      if (online) {
        // Requests from users the server knows go first (their failures reach it in this check-in's health).
        await this.phase('exception requests', () =>
          this.forwardRequests().catch((error: unknown) => this.noteContact(error)),
        );
        await this.phase('check-in', async () => {
          try {
            const answer = await this.checkin();
            this.noteContact(null);
            // Time moved on (the floor rose past a change) or a newer policy exists: act on it now.
            if (answer?.etag && answer.etag !== this.sync.state.etag && (await this.pollPolicy(0)) !== 'offline')
              report.enforcement = (await this.enforce()) ?? report.enforcement;
            else if ((this.nextChangeAt() ?? Infinity) <= this.clock.now())
              report.enforcement = (await this.enforce()) ?? report.enforcement;
          } catch (error) {
            this.noteContact(error);
          }
        });
        // Those that waited for their user to be reported: the check-in just did.
        if (this.requests.some((request) => request.status === 'pending' && request.serverId === null)) {
          await this.phase('exception requests', () =>
            this.forwardRequests().catch((error: unknown) => this.noteContact(error)),
          );
        }
        report.upload = (await this.phase('event upload', () => this.upload())) ?? null;
      } else {
        this.deliveryPending = true;
      }
      this.lastCycleAt = new Date(this.clock.now()).toISOString();
      await this.phase('status', () => this.writeStatus());
      const policy = this.sync.current;
      report.online = online && this.lastContactError === null;
      report.contactError = this.lastContactError;
      report.policy = policy
        ? {
            revision: policy.payload.revision,
            name: policy.compiled.name,
            mode: policy.compiled.enforce ? 'enforce' : 'monitor',
          }
        : null;
      report.instances = this.verdicts.size || (this.lastScan?.instances.length ?? 0);
      for (const { verdict } of this.verdicts.values()) report.verdicts[verdict.action]++;
      report.launchRecords = this.launchesCollected;
      this.launchesCollected = 0;
      report.spooled = await this.spool.count().catch(() => 0);
      const next = this.nextChangeAt();
      report.nextChangeAt = next === null ? null : new Date(next).toISOString();
      report.errors = this.cycleErrors;
      this.cycleErrors = [];
      report.health = this.healthReport();
      return report;
    });
  }

  /** Re-evaluates without scanning (the daemon's timers): a ban starts at its minute, offline too. */
  reevaluate(): Promise<void> {
    return this.exclusive(async () => {
      await this.phase('enforce', () => this.enforce(), 'enforcement-failing');
      await this.phase('status', () => this.writeStatus());
    });
  }

  /** After a new policy arrives: enforce it, report, and upload. */
  applyNewPolicy(): Promise<void> {
    return this.exclusive(async () => {
      if (!this.lastScan) await this.phase('scan', () => this.scan());
      await this.phase('enforce', () => this.enforce(), 'enforcement-failing');
      await this.checkinPhase();
      await this.phase('event upload', () => this.upload());
      await this.phase('status', () => this.writeStatus());
    });
  }

  /** Collects launch records and requests and sends them (when the drop folders change). */
  flushDrops(): Promise<void> {
    return this.exclusive(async () => {
      await this.phase('launch records', () => this.collectLaunches());
      // A request from a user the server has not heard of yet: report them first (a check-in).
      if (this.lastScan && (await this.requesterUnreported())) await this.checkinPhase();
      await this.phase('exception requests', () =>
        this.forwardRequests().catch((error: unknown) => this.noteContact(error)),
      );
      await this.phase('event upload', () => this.upload());
      await this.reportHealthChange();
      await this.phase('status', () => this.writeStatus());
    });
  }

  /** Sends what waits in the spool (the daemon calls it as soon as the server answers again). */
  deliverSpool(): Promise<void> {
    return this.exclusive(async () => {
      // Launch records that could not be spooled before (a full disk) wait in their folder.
      await this.phase('launch records', () => this.collectLaunches());
      await this.phase('event upload', () => this.upload());
      await this.reportHealthChange();
      await this.phase('status', () => this.writeStatus());
    });
  }

  /** Checks in between full cycles when the health changed since the server last heard it (degraded, or well again). */
  private async reportHealthChange(): Promise<void> {
    const now = JSON.stringify(
      this.healthReport()
        .reasons.map((reason) => reason.code)
        .sort(),
    );
    if (this.healthSent === null || this.healthSent === now) return;
    await this.checkinPhase();
  }

  /** A check-in as a part of its own: contact errors are noted, anything else is a failed part. */
  private async checkinPhase(): Promise<void> {
    await this.phase('check-in', async () => {
      try {
        await this.checkin();
        this.noteContact(null);
      } catch (error) {
        this.noteContact(error);
      }
    });
  }

  /** What the status shows for each tool: this cycle's verdicts, or, with no usable policy, what the ledger says is applied. */
  private statusSources(): { instance: ToolInstance; verdict: Verdict | null; lastApplied: boolean }[] {
    if (this.verdicts.size > 0) return [...this.verdicts.values()].map((item) => ({ ...item, lastApplied: false }));
    const out = new Map<string, { instance: ToolInstance; verdict: Verdict | null; lastApplied: boolean }>();
    for (const instance of this.lastScan?.instances ?? [])
      out.set(instanceKey(instance), { instance, verdict: null, lastApplied: false });
    // No policy in force (a damaged cache, the server out of reach): what was applied stays applied.
    for (const record of this.enforcer.applied)
      out.set(record.key, { instance: record.instance, verdict: record.verdict, lastApplied: true });
    return [...out.values()];
  }

  async writeStatus(): Promise<void> {
    const policy = this.sync.current;
    const index = this.catalogIndex;
    const applied = new Map(this.enforcer.applied.map((record) => [record.key, record] as const));
    const tools: ToolStatus[] = [];
    for (const { instance, verdict, lastApplied } of this.statusSources()) {
      const record = applied.get(instanceKey(instance));
      const tool = index.tool(instance.toolId);
      const decidedBy = verdict ? `${verdict.decidedBy.kind} ${verdict.decidedBy.name}` : 'no policy yet';
      tools.push({
        toolId: instance.toolId,
        name: tool?.name ?? instance.name ?? instance.toolId,
        version: instance.version,
        channel: instance.channel,
        owner: instance.owner,
        installPath: instance.installPath,
        launchers: record ? record.launchers.map((entry) => entry.path) : instance.launchers,
        action: lastApplied && record ? record.level : (verdict?.action ?? 'allow'),
        enforce: lastApplied ? record !== undefined : (verdict?.enforce ?? false),
        phase: verdict?.phase ?? 'in-effect',
        enforced: record?.level ?? 'none',
        effectiveAt: verdict?.effectiveAt ?? null,
        upcomingAction: verdict?.upcomingAction ?? null,
        appliedAt: record?.appliedAt ?? null,
        until: verdict?.until ?? null,
        nextChangeAt: verdict?.nextChangeAt ?? null,
        decidedBy: lastApplied ? `${decidedBy} (as last applied; no usable policy now)` : decidedBy,
        message: verdict?.message ?? 'no policy has been received yet',
        contact: verdict?.contact ?? null,
        alternatives: verdict?.alternatives ?? [],
        catalogued: tool !== undefined,
      });
    }
    const next = this.nextChangeAt();
    const status: StatusFile = {
      version: 1,
      writtenAt: new Date(this.clock.now()).toISOString(),
      agentVersion: AGENT_VERSION,
      hostname: this.config.hostname,
      deviceId: this.config.deviceId,
      group: this.config.group,
      serverUrl: this.config.serverUrl,
      daemon: { pid: process.pid, running: this.daemonRunning, cycleMinutes: this.options.cycleMinutes },
      policy: policy
        ? {
            name: policy.compiled.name,
            revision: policy.payload.revision,
            mode: policy.compiled.enforce ? 'enforce' : 'monitor',
            timeZone: policy.compiled.timeZone,
            acceptedAt: this.sync.state.acceptedAt,
          }
        : null,
      policyProblem: this.ledgerProblem ?? this.policyProblem,
      lastCycleAt: this.lastCycleAt,
      lastContactAt: this.lastContactAt,
      lastContactError: this.lastContactError,
      trustedNow: new Date(this.clock.now()).toISOString(),
      clockBehind: this.clock.clockBehind(),
      nextChangeAt: next === null ? null : new Date(next).toISOString(),
      tools,
      requests: this.requests.map(({ id, serverId, toolId, user, status, requestedAt, decidedAt, note }) => ({
        id,
        serverId,
        toolId,
        user,
        status,
        requestedAt,
        decidedAt,
        note: status === 'refused' || status === 'denied' || status === 'approved' ? note : null,
      })),
      spool: { pending: await this.spool.count().catch(() => 0), dropped: await this.spool.droppedTotal() },
      problems: this.enforcer.store.ledger.problems.slice(-10).map(({ at, message }) => ({ at, message })),
      health: this.healthReport(),
    };
    await writeStatusFile(this.paths.status, status);
  }
}
