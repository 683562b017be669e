/**
 * What only a test build may change in a running agent: the points where enforcement can be
 * made to die (the crash tests) and the local clock (the clock-rollback tests). The shipped bin
 * (agent/cli.ts) always passes PRODUCTION_HOOKS; test/support/agent-test-cli.ts passes others.
 */
import { type FaultPoint, NO_FAULTS } from '../enforce/fault.js';

export interface AgentHooks {
  /** Called at every ledger step (enforce/fault.ts). */
  fault: FaultPoint;
  /** The local clock, epoch milliseconds. */
  localClock: () => number;
}

export const PRODUCTION_HOOKS: AgentHooks = Object.freeze({ fault: NO_FAULTS, localClock: Date.now });
