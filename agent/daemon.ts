/**
 * `aigate-agent run`: the daemon. node-cron runs a full cycle (scan, enforce, check-in, events)
 * every N minutes with a random delay, and a cheap re-evaluation every minute (which also
 * catches a laptop waking from sleep). A timer fires at the earliest verdict change, so a ban
 * takes effect at its minute with no server contact. While the server is reachable a long-poll
 * brings new policies within moments; when it is not, polls back off with jitter, and the first
 * answer after that delivers the spooled events at once. Launch records and exception requests
 * are picked up as soon as they are dropped. On Linux the sentinel (agent/sentinel) stops blocked
 * tools as they start, wherever they live; its events are delivered at once. No job's failure
 * stops the daemon: each is logged.
 */
import { type FSWatcher, watch } from 'node:fs';

import cron, { type ScheduledTask } from 'node-cron';

import type { Agent } from './agent.js';
import type { AgentLogger } from './log.js';
import { type AgentSentinel, createAgentSentinel } from './sentinel/agent-hook.js';
import { sentinelScope } from './sentinel/sentinel.js';

export interface DaemonOptions {
  cycleMinutes: number;
  /** Longest random delay added to each scheduled cycle. */
  jitterSeconds: number;
  /** Long-poll wait per policy request (the server caps it at 60). */
  pollWaitSeconds: number;
  /** Start the sentinel (Linux only; `--no-sentinel` turns it off). */
  sentinel: boolean;
  /**
   * The daemon was pointed at some homes (`--home`): the sentinel then acts only on their owners'
   * processes and on code under them and `roots` (`--npm-prefix`, `--path`). Absent: the machine.
   */
  scope?: { homes: string[]; roots: string[] };
}

/** The longest a single setTimeout can wait. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const MAX_BACKOFF_MS = 5 * 60_000;

/** Full-jitter exponential backoff: random in [1 s, min(5 min, 2 s * 2^failures)]. */
function backoffMs(failures: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_BACKOFF_MS, 2000 * 2 ** Math.min(failures, 20));
  return Math.max(1000, Math.floor(random() * ceiling));
}

function cronExpression(minutes: number): string {
  return minutes >= 60 ? '0 * * * *' : `*/${minutes} * * * *`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export async function runDaemon(agent: Agent, options: DaemonOptions, log: AgentLogger): Promise<void> {
  const stop = new AbortController();
  let timer: NodeJS.Timeout | null = null;
  const guarded = (what: string, job: () => Promise<unknown>) => async () => {
    try {
      await job();
    } catch (error) {
      log.error({ err: error as Error, what }, 'agent job failed');
    }
  };

  const armTimer = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (stop.signal.aborted) return;
    const next = agent.nextChangeAt();
    if (next === null) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, next - agent.clock.now()) + 100);
    timer = setTimeout(
      guarded('verdict change', async () => {
        log.info({ at: new Date(next).toISOString() }, 'a verdict changes now');
        await agent.reevaluate();
        armTimer();
      }),
      delay,
    );
  };

  /** A job run 500 ms after the first of a burst of calls (a folder's changes, a run of events). */
  const pending = new Set<NodeJS.Timeout>();
  const soon = (what: string, job: () => Promise<unknown>) => {
    let timer: NodeJS.Timeout | null = null;
    return () => {
      if (timer || stop.signal.aborted) return;
      pending.add(
        (timer = setTimeout(() => {
          pending.delete(timer!);
          timer = null;
          void guarded(what, job)();
        }, 500)),
      );
    };
  };

  // Sentinel events are sent as soon as they are spooled, not at the next cycle.
  const deliverSoon = soon('sentinel events', () => agent.deliverSpool());
  const sentinel: AgentSentinel | null =
    options.sentinel && process.platform === 'linux'
      ? createAgentSentinel({
          ...agent.sentinelHooks(deliverSoon),
          scope: options.scope ? sentinelScope(options.scope.homes, options.scope.roots) : null,
        })
      : null;
  /** After each evaluation: the sentinel learns the fingerprints of what is blocked now, takes the shipped ones and reports. */
  const refreshSentinel = async () => {
    if (!sentinel) return;
    await sentinel.refresh(agent.blockedInstances());
    // Fingerprints from other devices, as the signed bundle ships them; then what this one learned.
    const dropped = await sentinel.ship(agent.shippedFingerprints());
    for (const fp of dropped)
      log.warn({ sha256: fp.sha256, toolId: fp.toolId }, 'a shipped fingerprint equals a runtime here; ignored');
    // In the background: an unreachable server must not hold the sentinel's start for a request timeout.
    void agent.reportFingerprints(sentinel.learned());
  };

  agent.daemonRunning = true;
  log.info(
    { cycleMinutes: options.cycleMinutes, jitterSeconds: options.jitterSeconds, sentinel: sentinel !== null },
    'aigate agent started',
  );
  await guarded('first cycle', () => agent.cycle())();
  armTimer();
  await guarded('sentinel', refreshSentinel)();
  if (sentinel) {
    sentinel.start();
    log.info(
      { blocked: agent.blockedInstances().length, scope: options.scope ?? 'the whole machine' },
      'sentinel watching process starts',
    );
  }

  const tasks: ScheduledTask[] = [
    cron.schedule(
      cronExpression(options.cycleMinutes),
      guarded('cycle', async () => {
        const report = await agent.cycle();
        log.info(
          {
            online: report.online,
            instances: report.instances,
            verdicts: report.verdicts,
            spooled: report.spooled,
            errors: report.errors.length,
            health: report.health.state,
          },
          'cycle done',
        );
        armTimer();
        await refreshSentinel();
      }),
      { name: 'aigate-cycle', noOverlap: true, maxRandomDelay: options.jitterSeconds * 1000 },
    ),
    cron.schedule(
      '* * * * *',
      guarded('minute check', async () => {
        await agent.reevaluate();
        armTimer();
      }),
      { name: 'aigate-minute', noOverlap: true },
    ),
  ];

  // Drop folders: stubs' launch records and employees' exception requests.
  const flushSoon = soon('drops', () => agent.flushDrops());
  const watchers: FSWatcher[] = [];
  for (const dir of [agent.paths.launchesDir, agent.paths.requestsDir]) {
    try {
      watchers.push(watch(dir, flushSoon));
    } catch (error) {
      log.warn(
        { dir, error: (error as Error).message },
        'cannot watch a drop folder; it is read at each cycle instead',
      );
    }
  }

  // Policy long-poll while online, backing off with jitter while not.
  const polling = (async () => {
    let failures = 0;
    while (!stop.signal.aborted) {
      const started = Date.now();
      // While events wait (the server was away), ask without waiting: the answer is the cue to send them.
      const waiting = failures > 0 || agent.deliveryPending;
      const outcome = await agent
        .pollPolicy(waiting ? 0 : options.pollWaitSeconds, stop.signal)
        .catch((error: unknown) => {
          // pollPolicy reports its own failures; this only keeps an unforeseen one from ending the daemon.
          log.error({ err: error as Error }, 'policy poll failed');
          return 'offline' as const;
        });
      if (stop.signal.aborted) break;
      if (outcome === 'offline') {
        failures++;
        const wait = backoffMs(failures);
        log.info({ failures, retryInMs: wait }, 'policy server unreachable; backing off');
        await sleep(wait, stop.signal);
        continue;
      }
      failures = 0;
      if (outcome !== 'failed' && outcome.kind === 'updated') {
        await guarded('new policy', () => agent.applyNewPolicy())();
        armTimer();
        await guarded('sentinel', refreshSentinel)();
      } else if (agent.deliveryPending) {
        // The server answers again: deliver the spool now, not at the next full cycle.
        await guarded('spool delivery', () => agent.deliverSpool())();
      }
      // A server that answers at once (no long-poll support) is not asked in a tight loop.
      if (Date.now() - started < 5000 && (outcome === 'failed' || outcome.kind !== 'updated'))
        await sleep(5000, stop.signal);
    }
  })();

  await new Promise<void>((resolve) => {
    const shutdown = (signal: NodeJS.Signals) => {
      log.info({ signal }, 'stopping');
      stop.abort();
      resolve();
    };
    process.once('SIGTERM', shutdown);
    process.once('SIGINT', shutdown);
  });

  sentinel?.stop();
  for (const task of tasks) await task.destroy();
  for (const watcher of watchers) watcher.close();
  if (timer) clearTimeout(timer);
  for (const waiting of pending) clearTimeout(waiting);
  await polling;
  await agent.exclusive(async () => {
    agent.daemonRunning = false;
    await agent.writeStatus();
  });
  log.info('aigate agent stopped');
}
