/** The status step: gathers the agent's facts and writes the status file (mapping: agent/status/from-cycle.ts). */
import { statusFromCycle } from '../status/from-cycle.js';
import { writeStatusFile } from '../status/status-file.js';
import type { CycleState } from './state.js';
import type { Step } from './step.js';

export const statusStep: Step<void> = {
  name: 'status',
  run: writeStatus,
};

/** Writes the status file now (also when the daemon stops, outside any cycle). */
export async function writeStatus(state: CycleState): Promise<void> {
  const { config, sync, clock, enforcer, spool, paths, cycleMinutes } = state.parts;
  const status = statusFromCycle({
    config,
    daemon: { pid: process.pid, running: state.daemonRunning, cycleMinutes },
    policy: sync.current,
    acceptedAt: sync.state.acceptedAt,
    policyProblem: state.ledgerProblem ?? state.policyProblem,
    lastCycleAt: state.lastCycleAt,
    lastContactAt: state.lastContactAt,
    lastContactError: state.lastContactError,
    nowMs: clock.now(),
    clockBehind: clock.clockBehind(),
    nextChangeAt: state.nextChangeAt(),
    verdicts: [...state.verdicts.values()],
    scanned: state.lastScan?.instances ?? [],
    applied: enforcer.applied,
    catalog: state.catalogIndex,
    requests: state.requests,
    spool: { pending: await spool.count().catch(() => 0), dropped: await spool.droppedTotal() },
    ledgerProblems: enforcer.store.ledger.problems,
    health: state.healthReport(),
  });
  await writeStatusFile(paths.status, status);
}
