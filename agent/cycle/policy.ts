/**
 * The policy step: asks the server for a newer policy (ETag, optional long-poll) and accepts it
 * (policy/sync.ts). Offline is an outcome, not a failure: the policy in force stays. Anything else
 * (storing the bundle on a full disk, say) fails the step and the policy in force stays too.
 */
import { ContactError } from '../net/contact.js';
import type { PollOutcome } from '../policy/sync.js';
import type { Step } from './step.js';

/** The step for one poll; `signal` ends a long-poll early (then the outcome is `offline`). */
export function policyStep(waitSeconds: number, signal?: AbortSignal): Step<PollOutcome | 'offline'> {
  return {
    name: 'policy',
    async run(state) {
      try {
        const outcome = await state.parts.sync.poll({ waitSeconds, ...(signal ? { signal } : {}) });
        state.noteContact(null);
        if (outcome.kind === 'updated') state.policyProblem = null;
        if (outcome.kind === 'refused') state.policyProblem = outcome.message;
        return outcome;
      } catch (error) {
        if (signal?.aborted) return 'offline';
        if (!(error instanceof ContactError)) throw error;
        state.noteContact(error);
        return 'offline';
      }
    },
    proves: (outcome) => outcome !== 'offline',
  };
}
