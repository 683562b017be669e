/**
 * One agent on one machine: opens the enrollment, the cached policy, the trusted clock and the
 * enforcement ledger, and runs the steps of agent/cycle/ in the orders the daemon (daemon.ts)
 * and `once` need: the full cycle, a re-evaluation at a verdict's minute, a new policy, dropped
 * launch records and requests, a spool to deliver. Each step runs on its own (cycle/step.ts):
 * its errors are logged and reported in the health sent with the check-in, and the steps after
 * it still run. Network trouble never stops anything: the cached policy is enforced offline and
 * events wait in the spool. One job runs at a time (`exclusive`).
 */
import { evaluateInstance } from '../policies/evaluate.js';
import type { ToolInstance } from '../policies/inventory.js';
import { reasonFactsOf, reasonText } from '../policies/notice-text.js';
import type { ToolFingerprint } from '../policies/protocol.js';
import type { Verdict } from '../policies/verdict.js';
import { checkInStep, healthCodes } from './cycle/check-in.js';
import { type CycleReport, pollPolicy, runCycle } from './cycle/cycle.js';
import { enforceStep } from './cycle/enforce.js';
import { launchRecordsStep } from './cycle/launch-records.js';
import { requesterUnreported, requestsStep } from './cycle/requests.js';
import { scanStep } from './cycle/scan.js';
import { CycleState, type ScanRoots } from './cycle/state.js';
import { statusStep, writeStatus } from './cycle/status.js';
import { runStep } from './cycle/step.js';
import { uploadStep } from './cycle/upload.js';
import { Enforcer, LedgerDamaged } from './enforce/engine.js';
import type { FaultPoint } from './enforce/fault.js';
import type { AgentEvent } from './events/event.js';
import { EventSpool } from './events/spool.js';
import { osName } from './host/os.js';
import { machineHomes } from './host/users.js';
import { ScanMemo } from './inventory/memo.js';
import type { AgentLogger } from './log.js';
import { DeviceHttp } from './net/device-http.js';
import { desktopNotifier } from './notices/desktop.js';
import { buildNotices, noticeForLocale, renderNotice } from './notices/notice.js';
import { PolicySync, type PollOutcome } from './policy/sync.js';
import { TrustedClock } from './policy/trusted-clock.js';
import { loadTracked } from './requests/forward.js';
import type { AgentSentinelHooks } from './sentinel/agent-hook.js';
import { FingerprintReporter } from './sentinel/report.js';
import { Serial } from './serial.js';
import { type AgentConfig, loadConfig } from './state/config.js';
import { loadDeviceKey } from './state/device-key.js';
import { ensureStateLayout } from './state/layout.js';
import { type StatePaths, statePaths } from './state/paths.js';
import { HealthTracker } from './status/health.js';
import { readStatusFile } from './status/status-file.js';

export type { CycleReport } from './cycle/cycle.js';

export interface AgentOptions {
  stateDir: string;
  scanRoots: ScanRoots;
  /** How long stopped processes get between SIGTERM and SIGKILL. */
  graceMs: number;
  log: AgentLogger;
  /** The local clock (Date.now; only a test build passes another, agent/commands/hooks.ts). */
  localClock: () => number;
  /** The enforcement fault points (NO_FAULTS; only a test build passes others). */
  fault: FaultPoint;
  desktopNotifications: boolean;
  /** For the status file: the daemon's cycle period, null for `once`. */
  cycleMinutes: number | null;
}

export class Agent {
  readonly paths: StatePaths;
  readonly sync: PolicySync;
  readonly clock: TrustedClock;
  private readonly serial = new Serial();
  /** What the steps share (cycle/state.ts). */
  private readonly state: CycleState;

  private constructor(config: AgentConfig, http: DeviceHttp, options: AgentOptions) {
    const paths = statePaths(options.stateDir);
    const health = new HealthTracker();
    const clock = new TrustedClock(paths.time, config.policyKeys, config.deviceId, options.localClock);
    const spool = new EventSpool(paths.spoolDir, {
      dropFile: paths.spoolLosses,
      onTrouble: (trouble) => {
        options.log.error({ problem: trouble.message, kind: trouble.kind }, 'event spool trouble');
        health.set('spool', 'spool-trouble', trouble.message, clock.now());
      },
    });
    // An event that cannot be spooled is counted and reported later, never thrown.
    const emit = async (event: AgentEvent) => {
      await spool.record(event);
    };
    const sync = new PolicySync({
      http,
      paths,
      keys: config.policyKeys,
      emit,
      log: options.log,
      clock: () => clock.now(),
    });
    const enforcer = new Enforcer({
      ledgerFile: paths.enforcement,
      launchesDir: paths.launchesDir,
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
      clock: () => clock.now(),
      ...(options.desktopNotifications ? { notify: desktopNotifier(options.log) } : {}),
    });
    this.paths = paths;
    this.sync = sync;
    this.clock = clock;
    this.state = new CycleState({
      config,
      paths,
      http,
      spool,
      sync,
      clock,
      enforcer,
      health,
      log: options.log,
      scanRoots: options.scanRoots,
      scanMemo: new ScanMemo(),
      cycleMinutes: options.cycleMinutes,
      device: { deviceId: config.deviceId, hostname: config.hostname, group: config.group, os: osName() },
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
    const { state } = agent;
    // What the last run knew about the server and its cycles: status describes the machine, not this process.
    const previous = await readStatusFile(paths.status);
    if (previous.ok && previous.status.deviceId === config.deviceId) {
      state.lastContactAt = previous.status.lastContactAt;
      state.lastCycleAt = previous.status.lastCycleAt;
    }
    const timeProblem = await agent.clock.load();
    if (timeProblem) options.log.warn({ problem: timeProblem }, 'trusted time floor not loaded');
    state.policyProblem = await agent.sync.loadCache();
    if (state.policyProblem) options.log.warn({ problem: state.policyProblem }, 'cached policy not usable');
    try {
      await state.parts.enforcer.load();
    } catch (error) {
      if (!(error instanceof LedgerDamaged)) throw error;
      // Reported in the health by the enforcer itself (health().ledgerDamaged).
      state.ledgerProblem = error.message;
      options.log.error({ problem: error.message }, 'enforcement ledger damaged');
    }
    if (!state.ledgerProblem) {
      // Records first: finishing an interrupted restore removes the stubs they belong to.
      await runStep(state, launchRecordsStep);
      // An operation a crash (or a full disk) interrupted: finish it; if that fails now, the next cycle tries again.
      await runStep(state, {
        name: 'recover',
        failure: 'enforcement-failing',
        run: () => state.parts.enforcer.recover(),
      });
    }
    ({ requests: state.requests, reportedUsers: state.reportedUsers } = await loadTracked(paths.exceptions));
    return agent;
  }

  /** Events wait in the spool because the last delivery failed or was not possible (offline). */
  get deliveryPending(): boolean {
    return this.state.deliveryPending;
  }

  /** Whether the daemon runs this agent (shown in the status file). */
  get daemonRunning(): boolean {
    return this.state.daemonRunning;
  }

  set daemonRunning(running: boolean) {
    this.state.daemonRunning = running;
  }

  /** Runs `job` after any cycle in progress. */
  exclusive<T>(job: () => Promise<T>): Promise<T> {
    return this.serial.run(job);
  }

  /**
   * Asks the server for a newer policy (long-polling for `waitSeconds`). Offline is not an
   * error; nor is anything else: a failure (storing the bundle on a full disk, say) is logged and
   * reported in the health, and the agent carries on with the policy in force.
   */
  pollPolicy(waitSeconds = 0, signal?: AbortSignal): Promise<PollOutcome | 'offline' | 'failed'> {
    return pollPolicy(this.state, waitSeconds, signal);
  }

  /** A full cycle: policy, scan, launch records, enforce, exception requests, check-in, events, status. */
  cycle(options: { scan?: boolean } = {}): Promise<CycleReport> {
    return this.exclusive(() => runCycle(this.state, options));
  }

  /** Re-evaluates without scanning (the daemon's timers): a ban starts at its minute, offline too. */
  reevaluate(): Promise<void> {
    return this.exclusive(async () => {
      await runStep(this.state, enforceStep);
      await runStep(this.state, statusStep);
    });
  }

  /**
   * After a new policy arrives: enforce it on the last known inventory, report, follow the
   * exception requests (a revision approves or revokes them on the server), and upload.
   */
  applyNewPolicy(): Promise<void> {
    return this.exclusive(async () => {
      if (!this.state.lastScan) await runStep(this.state, scanStep);
      await runStep(this.state, enforceStep);
      await runStep(this.state, checkInStep);
      await runStep(this.state, requestsStep);
      await runStep(this.state, uploadStep);
      await runStep(this.state, statusStep);
    });
  }

  /** Collects launch records and requests and sends them (when the drop folders change). */
  flushDrops(): Promise<void> {
    return this.exclusive(async () => {
      await runStep(this.state, launchRecordsStep);
      // A request from a user the server has not heard of yet: report them first (a check-in).
      if (this.state.lastScan && (await requesterUnreported(this.state))) await runStep(this.state, checkInStep);
      await runStep(this.state, requestsStep);
      await runStep(this.state, uploadStep);
      await this.reportHealthChange();
      await runStep(this.state, statusStep);
    });
  }

  /** Sends what waits in the spool (the daemon calls it as soon as the server answers again). */
  deliverSpool(): Promise<void> {
    return this.exclusive(async () => {
      // Launch records that could not be spooled before (a full disk) wait in their folder.
      await runStep(this.state, launchRecordsStep);
      await runStep(this.state, uploadStep);
      await this.reportHealthChange();
      await runStep(this.state, statusStep);
    });
  }

  /** Writes the status file now (the daemon, as it stops). */
  writeStatus(): Promise<void> {
    return writeStatus(this.state);
  }

  /** Checks in between full cycles when the health changed since the server last heard it (degraded, or well again). */
  private async reportHealthChange(): Promise<void> {
    const now = healthCodes(this.state.healthReport().reasons);
    if (this.state.healthSent === null || this.state.healthSent === now) return;
    await runStep(this.state, checkInStep);
  }

  /** The earliest instant (epoch ms) any verdict changes (for the daemon's precise timer). */
  nextChangeAt(): number | null {
    return this.state.nextChangeAt();
  }

  /** The instances blocked and enforced by the last evaluation (the sentinel learns their fingerprints). */
  blockedInstances(): ToolInstance[] {
    return [...this.state.verdicts.values()]
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
    const { http, log } = this.state.parts;
    this.fingerprintReporter ??= new FingerprintReporter(http);
    try {
      const outcome = await this.fingerprintReporter.report(learned);
      if (outcome.sent > 0) log.info({ sent: outcome.sent }, 'fingerprints reported');
      if (outcome.refused) log.warn({ problem: outcome.refused }, 'the server refused learned fingerprints');
    } catch (error) {
      log.warn({ error: (error as Error).message }, 'fingerprints not reported; trying again after the next cycle');
    }
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
    return evaluateInstance(policy.compiled, instance, this.state.parts.device, this.clock.now());
  }

  /**
   * What the sentinel (agent/sentinel) needs from the agent: whether a tool is blocked and
   * enforced now for a user, the block notice for their terminal, the spool for its
   * `blocked-launch` events, and the policy revision. `onEvent` runs after each event is spooled.
   */
  sentinelHooks(onEvent: () => void): AgentSentinelHooks {
    const { state } = this;
    return {
      catalog: state.catalogIndex,
      isBlocked: (toolId, version, user) => {
        const verdict = this.runningVerdict(toolId, version, user);
        return verdict !== null && verdict.action === 'block' && verdict.enforce;
      },
      // `locale`: the process's language (newer sentinels pass it); else the policy's.
      noticeFor: (toolId: string, version: string | null, user: string | null, locale: string | null = null) => {
        const policy = this.sync.current;
        const verdict = this.runningVerdict(toolId, version, user);
        const tool = state.catalogIndex.tool(toolId);
        if (!policy || !verdict || !tool) return null;
        const notices = buildNotices(
          {
            kind: 'block',
            toolId,
            toolName: tool.name,
            version,
            policyName: policy.compiled.name,
            timeZone: policy.compiled.timeZone,
            verdict,
          },
          (wanted) => reasonText(policy.compiled, reasonFactsOf(verdict), tool.name, wanted),
          policy.compiled.noticeLocale,
        );
        return renderNotice(noticeForLocale(notices, locale), this.clock.now());
      },
      emit: async (event) => {
        await state.emit(event);
        onEvent();
      },
      policyRevision: () => this.sync.current?.payload.revision ?? null,
      quarantineOf: (installPath) => state.parts.enforcer.quarantineOf(installPath),
      onError: (error) => state.parts.log.warn({ err: error as Error }, 'sentinel trouble'),
    };
  }
}
