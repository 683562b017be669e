/**
 * The policy cache: the last verified bundle and the revision floor, on disk, so the agent
 * enforces the current policy on start without the server. The cached bundle is verified again
 * when read (a damaged or swapped file is not enforced); the floor lives in its own file, so
 * losing the bundle never lets an older one back in.
 */
import { readFile } from 'node:fs/promises';

import { type Static, Type } from '@sinclair/typebox';
import type { JWK } from 'jose';

import { writeFileAtomic } from '../state/atomic.js';
import { readJsonFile, writeJsonFile } from '../state/json-file.js';
import { PRIVATE_FILE_MODE, type StatePaths } from '../state/paths.js';
import { acceptBundle, type AcceptedPolicy, type RefusalCode } from './accept.js';

export const PolicyState = Type.Object(
  {
    /** The newest revision accepted: the floor under which nothing is accepted again. */
    revision: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
    etag: Type.Union([Type.String(), Type.Null()]),
    acceptedAt: Type.Union([Type.String(), Type.Null()]),
    /** The last bundle refused, so the same one is neither fetched nor reported again. */
    refused: Type.Union([
      Type.Object({
        etag: Type.String(),
        code: Type.String(),
        message: Type.String(),
        at: Type.String(),
        revision: Type.Union([Type.Integer(), Type.Null()]),
      }),
      Type.Null(),
    ]),
  },
  { additionalProperties: false },
);
export type PolicyState = Static<typeof PolicyState>;

const EMPTY_POLICY_STATE: PolicyState = { revision: null, etag: null, acceptedAt: null, refused: null };

export async function loadPolicyState(paths: StatePaths): Promise<{ state: PolicyState; problem: string | null }> {
  const read = await readJsonFile(paths.policyState, PolicyState);
  if (read.ok) return { state: read.value, problem: null };
  return { state: { ...EMPTY_POLICY_STATE }, problem: read.missing ? null : read.message };
}

export function savePolicyState(paths: StatePaths, state: PolicyState): Promise<void> {
  return writeJsonFile(paths.policyState, state, PRIVATE_FILE_MODE);
}

export type CachedPolicy =
  { ok: true; policy: AcceptedPolicy } | { ok: false; missing: boolean; code?: RefusalCode; message: string };

/** The cached bundle, verified again with the pinned keys; it must be the revision the floor names. */
export async function loadCachedPolicy(
  paths: StatePaths,
  trustedKeys: readonly JWK[],
  state: PolicyState,
): Promise<CachedPolicy> {
  let token: string;
  try {
    token = (await readFile(paths.bundle, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      return { ok: false, missing: true, message: 'no policy has been received yet' };
    return { ok: false, missing: false, message: `cannot read the cached policy: ${(error as Error).message}` };
  }
  const accepted = await acceptBundle(token, { trustedKeys, lastRevision: null });
  if (!accepted.ok)
    return {
      ok: false,
      missing: false,
      code: accepted.code,
      message: `the cached policy ${paths.bundle} is not usable: ${accepted.message}`,
    };
  const revision = accepted.policy.payload.revision;
  if (state.revision !== null && revision < state.revision) {
    return {
      ok: false,
      missing: false,
      code: 'stale-revision',
      message: `the cached policy is revision ${revision}, older than the accepted revision ${state.revision}`,
    };
  }
  return { ok: true, policy: accepted.policy };
}

/** Stores a newly accepted bundle: the bundle first, then the state that names it. */
export async function storeAcceptedPolicy(
  paths: StatePaths,
  policy: AcceptedPolicy,
  etag: string | null,
  nowMs: number,
  previous: PolicyState,
): Promise<PolicyState> {
  await writeFileAtomic(paths.bundle, `${policy.token}\n`, { mode: PRIVATE_FILE_MODE });
  const state: PolicyState = {
    ...previous,
    revision: policy.payload.revision,
    etag,
    acceptedAt: new Date(nowMs).toISOString(),
  };
  await savePolicyState(paths, state);
  return state;
}
