/**
 * The sentinel as the daemon runs it: the agent says what is blocked (from its current verdicts),
 * gives the block notice text and takes events; this module builds the Sentinel, learns
 * fingerprints from the blocked instances after each cycle, and turns every blocked process into
 * one `blocked-launch` event saying how it was started and whether it was stopped.
 *
 * Wiring in agent/daemon.ts (three lines, left to the daemon's owner):
 *   const sentinel = createAgentSentinel({ ...agent hooks... }); sentinel.start();
 *   after each cycle: await sentinel.refresh(blockedInstances);   on shutdown: sentinel.stop();
 */
import { createHash } from 'node:crypto';

import type { CatalogIndex } from '../../policies/catalog/index.js';
import type { ToolInstance } from '../../policies/inventory.js';
import type { ToolFingerprint } from '../../policies/protocol.js';
import { quarantineFor } from '../enforce/stubs.js';
import type { AgentEvent } from '../events/event.js';
import { newEvent, stableEventId } from '../events/event.js';
import { userNameOf } from '../host/users.js';
import { processLocale } from '../notices/user-locale.js';
import { FingerprintStore } from './fingerprints.js';
import type { ProcessMatch } from './identify.js';
import { Sentinel, type SentinelScope } from './sentinel.js';
import type { StopOutcome } from './stop.js';

export interface AgentSentinelHooks {
  catalog: CatalogIndex;
  /** Whether `toolId` at `version` is blocked now for this user (the agent evaluates its policy). */
  isBlocked(toolId: string, version: string | null, user: string | null): boolean;
  /**
   * The rendered block notice for the user's terminal, or null; `locale` is the one the stopped
   * process ran in (its LC_ALL, LC_MESSAGES or LANG), null when it named none.
   */
  noticeFor(toolId: string, version: string | null, user: string | null, locale: string | null): string | null;
  /** Spools an event (the agent's emit). */
  emit(event: AgentEvent): Promise<void>;
  /** The current policy revision, for the event. */
  policyRevision(): number | null;
  /**
   * Where enforcement quarantined the folder once at `installPath` (its ledger: the name may be
   * `-2`, `-99` or random when the first ones were taken), or null when it knows none.
   */
  quarantineOf?(installPath: string): string | null;
  onError?(error: unknown): void;
  intervalMs?: number;
  /** Act only within this scope (the daemon run with `--home`; see SentinelScope); null: the whole machine. */
  scope?: SentinelScope | null;
}

export interface AgentSentinel {
  start(): void;
  stop(): void;
  /** Learns the fingerprints of the blocked instances found by the last scan. */
  refresh(blocked: readonly ToolInstance[]): Promise<void>;
  /**
   * Takes the fingerprints the bundle in force ships (replacing the previous ones); returns those
   * dropped because they equal a runtime or shell on this device.
   */
  ship(fingerprints: readonly ToolFingerprint[]): Promise<ToolFingerprint[]>;
  /** What this device learned, for POST /v1/fingerprints. */
  learned(): ToolFingerprint[];
  readonly sentinel: Sentinel;
}

export function createAgentSentinel(hooks: AgentSentinelHooks): AgentSentinel {
  const fingerprints = new FingerprintStore();
  const userOf = (match: ProcessMatch) => (match.uid === null ? null : (userNameOf(match.uid) ?? `uid ${match.uid}`));
  const sentinel = new Sentinel({
    catalog: hooks.catalog,
    fingerprints,
    ...(hooks.intervalMs ? { intervalMs: hooks.intervalMs } : {}),
    scope: hooks.scope ?? null,
    isBlocked: (toolId, version, match) => hooks.isBlocked(toolId, version, userOf(match)),
    noticeFor: (match) =>
      hooks.noticeFor(
        match.toolId,
        match.version,
        userOf(match),
        match.uid === null ? null : processLocale(match.pid, match.uid),
      ),
    onMatch: (match, outcome, running, partOf) => {
      // A process the stopped launch started (Codex's native binary under codex.js): stopped too,
      // already told on the terminal and reported once, with its parent.
      if (partOf !== undefined && outcome.stopped) return;
      hooks
        .emit(blockedLaunchEvent(match, outcome, userOf(match), hooks.policyRevision(), Date.now(), running))
        .catch((error: unknown) => hooks.onError?.(error));
    },
    ...(hooks.onError ? { onError: hooks.onError } : {}),
  });
  return {
    sentinel,
    start: () => sentinel.start(),
    stop: () => sentinel.stop(),
    refresh: async (blocked) => {
      for (const instance of blocked)
        if (instance.channel === 'npm' || instance.channel === 'legacy-local')
          await fingerprints.learn(instance, {
            binaries: hooks.catalog.tool(instance.toolId)?.detect.binaries ?? [],
            // The daemon refreshes after the cycle, which may have quarantined the install.
            quarantineOf: (installPath) => hooks.quarantineOf?.(installPath) ?? quarantineFor(installPath),
          });
    },
    ship: (shipped) => fingerprints.ship(shipped),
    learned: () => fingerprints.learned(),
  };
}

/**
 * One `blocked-launch` event for a process the sentinel found running blocked code; `running`:
 * it started while allowed and was found when the ban took effect (details.running).
 */
function blockedLaunchEvent(
  match: ProcessMatch,
  outcome: StopOutcome,
  user: string | null,
  policyRevision: number | null,
  at: number,
  running = false,
): AgentEvent {
  const id = stableEventId(`sentinel:${match.pid}:${match.startTicks ?? 'x'}:${match.file}`, (text) =>
    createHash('sha256').update(text).digest('hex'),
  );
  return newEvent(
    'blocked-launch',
    at,
    {
      toolId: match.toolId,
      ...(match.packageDir ? { installPath: match.packageDir } : { installPath: match.file }),
      version: match.version,
      ...(user ? { user } : {}),
      ...(policyRevision !== null ? { policyRevision } : {}),
      message: `${user ?? 'a user'} ${running ? 'was running' : 'started'} ${match.toolId} (${match.startedAs})${running ? ' when the ban took effect' : ''}; ${outcome.stopped ? 'stopped by the sentinel' : `not stopped: ${outcome.reason}`}`,
      details: {
        source: 'sentinel',
        pid: match.pid,
        uid: match.uid,
        how: match.how,
        file: match.file,
        startedAs: match.startedAs,
        running,
        stopped: outcome.stopped,
        ...(outcome.stopped ? { noticeShown: outcome.noticeShown } : { reason: outcome.reason }),
        evidence: match.evidence.join('; '),
      },
    },
    id,
  );
}
