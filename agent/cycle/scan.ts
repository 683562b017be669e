/** The scan step: the machine's AI tools (agent/inventory), minus enforcement's own files. */
import { builtinCatalog } from '../../policies/catalog/index.js';
import { counted } from '../../policies/plural.js';
import { scanMachine } from '../inventory/index.js';
import type { ScanResult } from '../inventory/types.js';
import type { AgentLogger } from '../log.js';
import type { HealthTracker } from '../status/health.js';
import type { Step } from './step.js';

export const scanStep: Step<ScanResult> = {
  name: 'scan',
  async run(state) {
    const { scanRoots: roots, scanMemo: memo, sync, enforcer } = state.parts;
    const result = await scanMachine({
      ...(roots.homes ? { homes: roots.homes } : {}),
      ...(roots.npmPrefixes ? { npmPrefixes: roots.npmPrefixes } : {}),
      ...(roots.paths ? { paths: roots.paths } : {}),
      catalog: sync.current?.catalog ?? builtinCatalog,
      memo,
    });
    // Stubs, kept originals and quarantined folders are enforcement's own, not tools.
    result.instances = enforcer.withoutArtefacts(result.instances);
    state.lastScan = result;
    reportCutScan(state.parts.health, state.parts.log, result, state.now);
    return result;
  },
};

/** The health slot of a scan cut short by its time budget. */
const CUT_SLOT = 'scan:budget';

/**
 * A scan cut short by its time budget did not read every place: its inventory lacks whatever
 * lies there, and must not pass for the whole machine. The health says so (reason
 * `cycle-errors`, with how many places were not read; the log names them) until a scan reads
 * everything again.
 */
export function reportCutScan(
  health: HealthTracker,
  log: Pick<AgentLogger, 'warn'>,
  result: Pick<ScanResult, 'budgetExhausted' | 'skipped'>,
  nowMs: number,
): void {
  if (!result.budgetExhausted) {
    health.clear(CUT_SLOT);
    return;
  }
  const unread = result.skipped.filter((skip) => skip.reason.startsWith('time budget exhausted')).map((s) => s.path);
  // The health is shown to every local user (status): it counts the places, the root-only log names them.
  health.set(
    CUT_SLOT,
    'cycle-errors',
    `the scan ran out of its time budget and did not read ${counted(unread.length, 'place')} (named in the agent's log): tools there are missing from this inventory`,
    nowMs,
  );
  log.warn(
    { unread: unread.slice(0, 20), count: unread.length },
    'the scan ran out of its time budget; its inventory is partial',
  );
}
