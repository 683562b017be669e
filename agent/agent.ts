/**
 * One agent on one machine: the policy in force, the trusted clock, the last scan, enforcement,
 * the event spool, exception requests and the status file, and the cycle that ties them
 * together. The daemon (daemon.ts) schedules cycles; `once` runs one. Network trouble never stops
 * a cycle: the cached policy is enforced offline and events wait in the spool.
 */
import { hostname as osHostname } from 'node:os';
import { builtinCatalog, catalogIndex, type CatalogIndex } from '../policies/catalog/index.js';
import { evaluateInstance } from '../policies/evaluate.js';
import { instanceKey, type DeviceFacts, type ToolInstance } from '../policies/inventory.js';
import type { Verdict } from '../policies/verdict.js';
import { policyFacts } from './enforce/desired.js';
import { Enforcer, LedgerDamaged, type ReconcileSummary } from './enforce/engine.js';
import type { FaultPoint } from './enforce/fault.js';
import { lexists } from './enforce/fs-facts.js';
import { recordKey } from './enforce/stubs.js';
import { collectLaunchRecords, removeRecords, type LaunchTarget } from './events/launch-records.js';
import { EventSpool } from './events/spool.js';
import { EventUploadError, uploadEvents, type UploadResult } from './events/upload.js';
import { osName } from './facts.js';
import { machineHomes } from './homes.js';
import { scanMachine } from './inventory/index.js';
import type { ScanResult } from './inventory/types.js';
import type { AgentLogger } from './log.js';
import { desktopNotifier } from './notices/desktop.js';
import { DeviceHttp, errorMessage, ServerUnreachable } from './net/device-http.js';
import { DeviceRejected, PolicySync, ServerError, type PollOutcome } from './policy/sync.js';
import { TrustedClock } from './policy/trusted-clock.js';
import { forwardRequests, loadTracked, type TrackedRequest } from './requests/forward.js';
import { Serial } from './serial.js';
import { loadConfig, type AgentConfig } from './state/config.js';
import { loadDeviceKey } from './state/device-key.js';
import { ensureStateLayout } from './state/layout.js';
import { statePaths, type StatePaths } from './state/paths.js';
import { writeStatusFile, type StatusFile, type ToolStatus } from './status/status-file.js';
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
  policyOutcome: PollOutcome['kind'] | 'offline' | 'skipped';
  instances: number;
  verdicts: Record<'allow' | 'warn' | 'block', number>;
  enforcement: ReconcileSummary | null;
  launchRecords: number;
  upload: UploadResult | null;
  spooled: number;
  nextChangeAt: string | null;
}

const emptyVerdictCounts = () => ({ allow: 0, warn: 0, block: 0 });

export class Agent {
  readonly paths: StatePaths;
  readonly spool: EventSpool;
  readonly sync: PolicySync;
  readonly clock: TrustedClock;
  readonly enforcer: Enforcer;
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
  daemonRunning = false;

  private constructor(
    readonly config: AgentConfig,
    http: DeviceHttp,
    private readonly options: AgentOptions,
  ) {
    this.http = http;
    this.paths = statePaths(options.stateDir);
    this.spool = new EventSpool(this.paths.spoolDir);
    this.clock = new TrustedClock(this.paths.time, config.policyKeys, config.deviceId, options.localClock);
    this.sync = new PolicySync({ http, paths: this.paths, keys: config.policyKeys, emit: (event) => this.spool.append(event), log: options.log, clock: () => this.clock.now() });
    this.enforcer = new Enforcer({
      ledgerFile: this.paths.enforcement,
      launchesDir: this.paths.launchesDir,
      guard: { platform: process.platform, homes: machineHomes(options.scanRoots.homes), stateDir: options.stateDir },
      isRoot: process.getuid?.() === 0,
      graceMs: options.graceMs,
      fault: options.fault,
      log: options.log,
      emit: (event) => this.spool.append(event),
      clock: () => this.clock.now(),
      ...(options.desktopNotifications ? { notify: desktopNotifier(options.log) } : {}),
    });
  }

  /** Loads the enrollment, the cached policy and the ledger, and finishes an interrupted operation. */
  static async open(options: AgentOptions): Promise<Agent> {
    const paths = statePaths(options.stateDir);
    const config = await loadConfig(paths.config, options.stateDir);
    const key = await loadDeviceKey(paths.deviceKey);
    if (!key) throw new Error(`the device key ${paths.deviceKey} is missing; enroll again with aigate-agent enroll --force`);
    await ensureStateLayout(paths);
    const http = new DeviceHttp({ serverUrl: config.serverUrl, deviceId: config.deviceId, audience: config.audience, privateKey: key.privateKey }, options.localClock);
    const agent = new Agent(config, http, options);
    const timeProblem = await agent.clock.load();
    if (timeProblem) options.log.warn({ problem: timeProblem }, 'trusted time floor not loaded');
    agent.policyProblem = await agent.sync.loadCache();
    if (agent.policyProblem) options.log.warn({ problem: agent.policyProblem }, 'cached policy not usable');
    try {
      await agent.enforcer.load();
      await agent.enforcer.recover();
    } catch (error) {
      if (!(error instanceof LedgerDamaged)) throw error;
      agent.ledgerProblem = error.message;
      options.log.error({ problem: error.message }, 'enforcement ledger damaged');
    }
    agent.requests = await loadTracked(agent.paths.exceptions);
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

  private noteContact(error: unknown): void {
    if (error === null) {
      this.lastContactAt = new Date(this.clock.now()).toISOString();
      this.lastContactError = null;
      return;
    }
    if (error instanceof ServerUnreachable || error instanceof ServerError || error instanceof DeviceRejected || error instanceof EventUploadError) {
      this.lastContactError = error.message;
      this.options.log.warn({ error: error.message }, 'server contact failed');
      return;
    }
    throw error;
  }

  /** Asks the server for a newer policy (long-polling for `waitSeconds`). Offline is not an error. */
  async pollPolicy(waitSeconds = 0, signal?: AbortSignal): Promise<PollOutcome | 'offline'> {
    try {
      const outcome = await this.sync.poll({ waitSeconds, ...(signal ? { signal } : {}) });
      this.noteContact(null);
      if (outcome.kind === 'updated') this.policyProblem = null;
      if (outcome.kind === 'refused') this.policyProblem = outcome.message;
      return outcome;
    } catch (error) {
      if (signal?.aborted) return 'offline';
      this.noteContact(error);
      return 'offline';
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

  /** Evaluates the last scan plus every enforced instance at trusted time, and enforces. */
  async enforce(): Promise<ReconcileSummary | null> {
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
    for (const [key, instance] of instances) this.verdicts.set(key, { instance, verdict: evaluateInstance(policy.compiled, instance, this.device, now) });
    if (this.ledgerProblem) return null;
    const items = [...this.verdicts].map(([key, item]) => (uninstalled.has(key) ? { ...item, release: true } : item));
    const summary = await this.enforcer.reconcile(items, policyFacts(policy.compiled), policy.payload.revision);
    for (const note of summary.notes) this.options.log.info({ note }, 'enforcement note');
    return summary;
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

  async collectLaunches(): Promise<number> {
    const targets = new Map<string, LaunchTarget>();
    for (const record of this.enforcer.applied) {
      targets.set(recordKey(record.key), { toolId: record.instance.toolId, installPath: record.instance.installPath, version: record.instance.version });
    }
    const collected = await collectLaunchRecords(this.paths.launchesDir, targets, this.sync.current?.payload.revision ?? null);
    for (const event of collected.events) await this.spool.append(event);
    await removeRecords(collected.consumed);
    for (const rejected of collected.rejected) this.options.log.warn(rejected, 'ignored a launch record');
    return collected.events.length;
  }

  async forwardRequests(): Promise<void> {
    this.requests = await forwardRequests({
      http: this.http,
      requestsDir: this.paths.requestsDir,
      trackedFile: this.paths.exceptions,
      index: this.catalogIndex,
      instances: [...this.verdicts.values()].map((item) => item.instance),
      log: this.options.log,
    });
  }

  /** Reports inventory and verdicts; the reply's signed time raises the trusted-time floor. */
  async checkin(): Promise<{ etag: string | null } | null> {
    const items = [...this.verdicts.values()];
    const inventory = items.length > 0 ? items.map((item) => item.instance) : (this.lastScan?.instances ?? []);
    const body = {
      policyRevision: this.sync.current?.payload.revision ?? null,
      agentVersion: AGENT_VERSION,
      inventory: inventory.slice(0, 2000),
      verdicts: items.map((item) => item.verdict).slice(0, 2000),
      hostname: osHostname().slice(0, 255) || this.config.hostname,
      ...(this.lastScan ? { users: this.lastScan.users.slice(0, 500), scannedAt: this.lastScan.startedAt } : {}),
    };
    const reply = await this.http.request('POST', '/v1/checkin', { body, timeoutMs: 60_000 });
    if (reply.status === 401 || reply.status === 403) throw new DeviceRejected(reply.status, null, `the server does not accept this device: ${errorMessage(reply)}`);
    if (reply.status !== 200) throw new ServerError(`POST /v1/checkin answered HTTP ${reply.status}: ${errorMessage(reply)}`);
    const answer = reply.body as { serverTime?: unknown; policy?: { etag?: unknown } | null };
    if (typeof answer.serverTime === 'string') {
      const refused = await this.clock.observe(answer.serverTime);
      if (refused) this.options.log.warn({ reason: refused }, 'ignored the server time in the check-in reply');
    }
    return { etag: typeof answer.policy?.etag === 'string' ? answer.policy.etag : null };
  }

  /** A full cycle: policy, scan, enforce, launch records, exception requests, check-in, events, status. */
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
      };
      const outcome = await this.pollPolicy(0);
      report.policyOutcome = outcome === 'offline' ? 'offline' : outcome.kind;
      const online = outcome !== 'offline';
      if (options.scan !== false || !this.lastScan) await this.scan();
      report.enforcement = await this.enforce();
      report.launchRecords = await this.collectLaunches();
      if (online) {
        await this.forwardRequests().catch((error: unknown) => this.noteContact(error));
        try {
          const answer = await this.checkin();
          this.noteContact(null);
          // Time moved on (the floor rose past a change) or a newer policy exists: act on it now.
          if (answer?.etag && answer.etag !== this.sync.state.etag && (await this.pollPolicy(0)) !== 'offline') await this.enforce();
          else if ((this.nextChangeAt() ?? Infinity) <= this.clock.now()) await this.enforce();
        } catch (error) {
          this.noteContact(error);
        }
        try {
          report.upload = await uploadEvents(this.http, this.spool, this.clock.now());
          this.noteContact(null);
        } catch (error) {
          this.noteContact(error);
        }
      }
      this.lastCycleAt = new Date(this.clock.now()).toISOString();
      await this.writeStatus();
      const policy = this.sync.current;
      report.online = online && this.lastContactError === null;
      report.contactError = this.lastContactError;
      report.policy = policy ? { revision: policy.payload.revision, name: policy.compiled.name, mode: policy.compiled.enforce ? 'enforce' : 'monitor' } : null;
      report.instances = this.verdicts.size || (this.lastScan?.instances.length ?? 0);
      for (const { verdict } of this.verdicts.values()) report.verdicts[verdict.action]++;
      report.spooled = await this.spool.count();
      const next = this.nextChangeAt();
      report.nextChangeAt = next === null ? null : new Date(next).toISOString();
      return report;
    });
  }

  /** Re-evaluates without scanning (the daemon's timers): a ban starts at its minute, offline too. */
  reevaluate(): Promise<void> {
    return this.exclusive(async () => {
      await this.enforce();
      await this.writeStatus();
    });
  }

  /** After a new policy arrives: enforce it, report, and upload. */
  applyNewPolicy(): Promise<void> {
    return this.exclusive(async () => {
      if (!this.lastScan) await this.scan();
      await this.enforce();
      try {
        await this.checkin();
        await uploadEvents(this.http, this.spool, this.clock.now());
        this.noteContact(null);
      } catch (error) {
        this.noteContact(error);
      }
      await this.writeStatus();
    });
  }

  /** Collects launch records and requests and sends them (when the drop folders change). */
  flushDrops(): Promise<void> {
    return this.exclusive(async () => {
      await this.collectLaunches();
      try {
        await this.forwardRequests();
        await uploadEvents(this.http, this.spool, this.clock.now());
        this.noteContact(null);
      } catch (error) {
        this.noteContact(error);
      }
      await this.writeStatus();
    });
  }

  async writeStatus(): Promise<void> {
    const policy = this.sync.current;
    const index = this.catalogIndex;
    const applied = new Map(this.enforcer.applied.map((record) => [record.key, record] as const));
    const tools: ToolStatus[] = [];
    const source = this.verdicts.size > 0 ? [...this.verdicts.values()] : (this.lastScan?.instances ?? []).map((instance) => ({ instance, verdict: null }));
    for (const { instance, verdict } of source) {
      const record = applied.get(instanceKey(instance));
      const tool = index.tool(instance.toolId);
      tools.push({
        toolId: instance.toolId,
        name: tool?.name ?? instance.name ?? instance.toolId,
        version: instance.version,
        channel: instance.channel,
        owner: instance.owner,
        installPath: instance.installPath,
        launchers: record ? record.launchers.map((entry) => entry.path) : instance.launchers,
        action: verdict?.action ?? 'allow',
        enforce: verdict?.enforce ?? false,
        phase: verdict?.phase ?? 'in-effect',
        enforced: record?.level ?? 'none',
        effectiveAt: verdict?.effectiveAt ?? null,
        upcomingAction: verdict?.upcomingAction ?? null,
        appliedAt: record?.appliedAt ?? null,
        until: verdict?.until ?? null,
        nextChangeAt: verdict?.nextChangeAt ?? null,
        decidedBy: verdict ? `${verdict.decidedBy.kind} ${verdict.decidedBy.name}` : 'no policy yet',
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
        ? { name: policy.compiled.name, revision: policy.payload.revision, mode: policy.compiled.enforce ? 'enforce' : 'monitor', timeZone: policy.compiled.timeZone, acceptedAt: this.sync.state.acceptedAt }
        : null,
      policyProblem: this.ledgerProblem ?? this.policyProblem,
      lastCycleAt: this.lastCycleAt,
      lastContactAt: this.lastContactAt,
      lastContactError: this.lastContactError,
      trustedNow: new Date(this.clock.now()).toISOString(),
      clockBehind: this.clock.clockBehind(),
      nextChangeAt: next === null ? null : new Date(next).toISOString(),
      tools,
      requests: this.requests.map(({ id, serverId, toolId, user, status, requestedAt, decidedAt, note }) => ({ id, serverId, toolId, user, status, requestedAt, decidedAt, note: status === 'refused' || status === 'denied' || status === 'approved' ? note : null })),
      spool: { pending: await this.spool.count(), dropped: await this.spool.droppedTotal() },
      problems: this.enforcer.store.ledger.problems.slice(-10).map(({ at, message }) => ({ at, message })),
    };
    await writeStatusFile(this.paths.status, status);
  }
}
