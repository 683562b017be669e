/**
 * The exception-requests step: files the requests employees dropped (requests/forward.ts) with
 * the server and follows up on those filed. The server files a request only from a user this
 * device reported in a check-in, so the cycle runs it around the check-in (agent.ts).
 */
import { forwardRequests, requesters } from '../requests/forward.js';
import type { CycleState } from './state.js';
import type { Step } from './step.js';

/** Offline is not a failure: the requests wait for the next contact. */
export const requestsStep: Step<void> = {
  name: 'exception requests',
  async run(state) {
    const { http, paths, log } = state.parts;
    try {
      state.requests = await forwardRequests({
        http,
        requestsDir: paths.requestsDir,
        trackedFile: paths.exceptions,
        index: state.catalogIndex,
        instances: [...state.verdicts.values()].map((item) => item.instance),
        log,
        reportedUsers: state.reportedUsers,
      });
    } catch (error) {
      state.noteContact(error);
    }
  },
};

/** Whether a request waits for its user to be reported (filed once a check-in reported them). */
export function requestsAwaitCheckin(state: CycleState): boolean {
  return state.requests.some((request) => request.status === 'pending' && request.serverId === null);
}

/** Whether a dropped request comes from a user the server has not heard of yet (a check-in must come first). */
export async function requesterUnreported(state: CycleState): Promise<boolean> {
  const reported = new Set(state.reportedUsers);
  return (await requesters(state.parts.paths.requestsDir, state.requests)).some((user) => !reported.has(user));
}
