/**
 * The check-in step: reports inventory, verdicts, users and health (POST /v1/checkin); the
 * reply's signed time raises the trusted-time floor and its policy ETag says whether a newer
 * policy waits. Offline is not a failure: the step notes the contact error and returns null.
 */
import { hostname as osHostname } from 'node:os';

import { type CheckinBody, CheckinReply, MAX_INSTANCES, MAX_USERS } from '../../policies/protocol.js';
import { checkReply, replyError } from '../net/contact.js';
import { requesters } from '../requests/forward.js';
import { AGENT_VERSION } from '../version.js';
import type { CycleState } from './state.js';
import type { Step } from './step.js';

/** The reply's policy ETag (null when the server named none), or null when the server was out of reach. */
export const checkInStep: Step<{ etag: string | null } | null> = {
  name: 'check-in',
  async run(state) {
    try {
      const answer = await checkIn(state);
      state.noteContact(null);
      return answer;
    } catch (error) {
      state.noteContact(error);
      return null;
    }
  },
};

/**
 * Who the check-in reports: the owners of the scanned homes and every local account that asked
 * for an exception (the server accepts a request only from a user this device reported).
 */
async function usersToReport(state: CycleState): Promise<string[] | null> {
  if (!state.lastScan) return null;
  const asking = await requesters(state.parts.paths.requestsDir, state.requests);
  return [...new Set([...state.lastScan.users, ...asking])].sort().slice(0, MAX_USERS);
}

async function checkIn(state: CycleState): Promise<{ etag: string | null }> {
  const { http, sync, config, clock, log } = state.parts;
  const items = [...state.verdicts.values()];
  const inventory = items.length > 0 ? items.map((item) => item.instance) : (state.lastScan?.instances ?? []);
  const users = await usersToReport(state);
  const body: CheckinBody = {
    policyRevision: sync.current?.payload.revision ?? null,
    agentVersion: AGENT_VERSION,
    inventory: inventory.slice(0, MAX_INSTANCES),
    verdicts: items.map((item) => item.verdict).slice(0, MAX_INSTANCES),
    hostname: osHostname().slice(0, 255) || config.hostname,
    ...(state.lastScan && users ? { users, scannedAt: state.lastScan.startedAt } : {}),
    health: state.healthReport(),
  };
  const reply = await http.request('POST', '/v1/checkin', { body, timeoutMs: 60_000 });
  if (reply.status !== 200) throw replyError('POST /v1/checkin', reply);
  const answer = checkReply(CheckinReply, 'POST /v1/checkin', reply);
  state.healthSent = healthCodes(body.health?.reasons ?? []);
  if (users) state.reportedUsers = users;
  const refused = await clock.observe(answer.serverTime);
  if (refused) log.warn({ reason: refused }, 'ignored the server time in the check-in reply');
  return { etag: answer.policy?.etag ?? null };
}

/** The health's reason codes, sorted, as one string (what the server last heard, to compare). */
export function healthCodes(reasons: readonly { code: string }[]): string {
  return JSON.stringify(reasons.map((reason) => reason.code).sort());
}
