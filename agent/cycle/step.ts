/**
 * One step of the agent's cycle (policy, scan, launch records, enforce, requests, check-in,
 * upload, status), each a module of its own under agent/cycle/, and the one place where a step's
 * failure is isolated: `runStep` logs it, keeps it for the cycle report and reports it in the
 * health until the step succeeds again; the steps after it still run. A step that talks to the
 * server handles its own contact errors (offline is not a failure: the cached policy is enforced
 * and events wait in the spool).
 */
import type { HealthReasonCode } from '../../policies/protocol.js';
import { LedgerDamaged } from '../enforce/engine.js';
import { type CycleState, describeError } from './state.js';

export interface Step<T> {
  /** The name logged, listed in the cycle report's errors and used for the health slot `phase:<name>`. */
  readonly name: string;
  /** The health reason a failure reports (a damaged ledger always reports `ledger-damaged`). */
  readonly failure?: HealthReasonCode;
  run(state: CycleState): Promise<T>;
  /** Whether a value shows the step works, clearing its health slot (default: every value does; offline does not). */
  proves?(value: T): boolean;
}

/** Runs `step`; its value, or undefined when it failed (logged, in the report and the health). */
export async function runStep<T>(state: CycleState, step: Step<T>): Promise<T | undefined> {
  const slot = `phase:${step.name}`;
  try {
    const value = await step.run(state);
    if (step.proves?.(value) ?? true) state.parts.health.clear(slot);
    return value;
  } catch (error) {
    const message = describeError(error);
    state.errors.push({ phase: step.name, message });
    const code = error instanceof LedgerDamaged ? 'ledger-damaged' : (step.failure ?? 'cycle-errors');
    state.parts.health.set(slot, code, `${step.name}: ${message}`, state.now);
    state.parts.log.error({ err: error as Error, phase: step.name }, 'a part of the cycle failed; the rest goes on');
    return undefined;
  }
}
