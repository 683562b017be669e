/**
 * The full cycle: policy, scan, launch records and enforcement, exception requests, check-in,
 * event upload, status, each a step (step.ts) whose failure is recorded and stops nothing else;
 * offline, the cached policy is enforced and events wait in the spool. Returns the cycle report
 * (`aigate-agent once` prints it).
 */
import type { AgentHealth } from '../../policies/protocol.js';
import type { ReconcileSummary } from '../enforce/engine.js';
import type { UploadResult } from '../events/upload.js';
import type { PollOutcome } from '../policy/sync.js';
import { checkInStep } from './check-in.js';
import { enforceStep } from './enforce.js';
import { policyStep } from './policy.js';
import { requestsAwaitCheckin, requestsStep } from './requests.js';
import { scanStep } from './scan.js';
import type { CycleState } from './state.js';
import { statusStep } from './status.js';
import { runStep } from './step.js';
import { uploadStep } from './upload.js';

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

/** Polls the policy once (no long-poll): the outcome, or `failed` when the step failed. */
export async function pollPolicy(
  state: CycleState,
  waitSeconds = 0,
  signal?: AbortSignal,
): Promise<PollOutcome | 'offline' | 'failed'> {
  return (await runStep(state, policyStep(waitSeconds, signal))) ?? 'failed';
}

/** Runs one full cycle; `scan: false` reuses the last scan when there is one. */
export async function runCycle(state: CycleState, options: { scan?: boolean } = {}): Promise<CycleReport> {
  const at = new Date(state.now).toISOString();
  const outcome = await pollPolicy(state);
  const online = outcome !== 'offline';
  if (options.scan !== false || !state.lastScan) await runStep(state, scanStep);
  let enforcement = (await runStep(state, enforceStep)) ?? null;
  let upload: UploadResult | null = null;
  if (online) {
    // Requests from users the server knows go first (their failures reach it in this check-in's health).
    await runStep(state, requestsStep);
    const answer = await runStep(state, checkInStep);
    // Time moved on (the floor rose past a change) or a newer policy exists: act on it now.
    if (answer) {
      const newer = answer.etag !== null && answer.etag !== state.parts.sync.state.etag;
      if ((newer && (await pollPolicy(state)) !== 'offline') || (state.nextChangeAt() ?? Infinity) <= state.now)
        enforcement = (await runStep(state, enforceStep)) ?? enforcement;
    }
    // Those that waited for their user to be reported: the check-in just did.
    if (requestsAwaitCheckin(state)) await runStep(state, requestsStep);
    upload = (await runStep(state, uploadStep)) ?? null;
  } else {
    state.deliveryPending = true;
  }
  state.lastCycleAt = new Date(state.now).toISOString();
  await runStep(state, statusStep);
  return report(state, { at, online, outcome, enforcement, upload });
}

async function report(
  state: CycleState,
  cycle: {
    at: string;
    online: boolean;
    outcome: PollOutcome | 'offline' | 'failed';
    enforcement: ReconcileSummary | null;
    upload: UploadResult | null;
  },
): Promise<CycleReport> {
  const policy = state.parts.sync.current;
  const verdicts = { allow: 0, warn: 0, block: 0 };
  for (const { verdict } of state.verdicts.values()) verdicts[verdict.action]++;
  const next = state.nextChangeAt();
  const launchRecords = state.launchesCollected;
  state.launchesCollected = 0;
  const spooled = await state.parts.spool.count().catch(() => 0);
  const errors = state.errors;
  state.errors = [];
  return {
    at: cycle.at,
    online: cycle.online && state.lastContactError === null,
    contactError: state.lastContactError,
    policy: policy
      ? {
          revision: policy.payload.revision,
          name: policy.compiled.name,
          mode: policy.compiled.enforce ? 'enforce' : 'monitor',
        }
      : null,
    policyOutcome: typeof cycle.outcome === 'string' ? cycle.outcome : cycle.outcome.kind,
    instances: state.verdicts.size || (state.lastScan?.instances.length ?? 0),
    verdicts,
    enforcement: cycle.enforcement,
    launchRecords,
    upload: cycle.upload,
    spooled,
    nextChangeAt: next === null ? null : new Date(next).toISOString(),
    errors,
    health: state.healthReport(),
  };
}
