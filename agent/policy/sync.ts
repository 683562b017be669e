/**
 * Keeping the policy current: ask the server for the bundle (ETag, optional long-poll), accept
 * it only if acceptBundle says so, store it, and report both outcomes as events. A refused
 * bundle leaves the current policy in force; the same refused bundle is neither fetched again
 * (its ETag goes into If-None-Match) nor reported twice.
 */
import type { JWK } from 'jose';

import { BUNDLE_FEATURES, BUNDLE_FEATURES_HEADER, PolicyReply } from '../../policies/protocol.js';
import type { AgentEvent } from '../events/event.js';
import { newEvent } from '../events/event.js';
import type { AgentLogger } from '../log.js';
import { checkReply, errorCode, replyError } from '../net/contact.js';
import type { DeviceHttp } from '../net/device-http.js';
import type { StatePaths } from '../state/paths.js';
import { acceptBundle, type AcceptedPolicy, describeRefusal, type RefusalCode } from './accept.js';
import { loadCachedPolicy, loadPolicyState, type PolicyState, savePolicyState, storeAcceptedPolicy } from './cache.js';

export type PollOutcome =
  | { kind: 'unchanged' }
  | { kind: 'none-published' }
  | { kind: 'updated'; revision: number }
  | { kind: 'refused'; code: RefusalCode; message: string };

export interface PolicySyncDeps {
  http: DeviceHttp;
  paths: StatePaths;
  keys: readonly JWK[];
  emit: (event: AgentEvent) => Promise<void>;
  log: AgentLogger;
  clock: () => number;
}

export class PolicySync {
  current: AcceptedPolicy | null = null;
  state: PolicyState = { revision: null, etag: null, acceptedAt: null, refused: null };

  constructor(private readonly deps: PolicySyncDeps) {}

  /** Loads the floor and the cached bundle. Returns a problem worth logging, if any. */
  async loadCache(): Promise<string | null> {
    const { state, problem } = await loadPolicyState(this.deps.paths);
    this.state = state;
    if (problem) return problem;
    const cached = await loadCachedPolicy(this.deps.paths, this.deps.keys, state);
    if (cached.ok) {
      this.current = cached.policy;
      if (state.revision === null || cached.policy.payload.revision > state.revision) {
        // The bundle was written but the state naming it was not (a crash between the two).
        this.state = { ...state, revision: cached.policy.payload.revision, etag: null };
        await savePolicyState(this.deps.paths, this.state);
      }
      return null;
    }
    return cached.missing ? null : cached.message;
  }

  /** ETags to send: the policy in force and the last refused bundle (never the floor's alone). */
  private knownEtags(): string[] {
    const tags: string[] = [];
    if (this.current && this.state.etag) tags.push(this.state.etag);
    if (this.state.refused) tags.push(this.state.refused.etag);
    return tags;
  }

  /** Asks for a newer bundle. Throws a ContactError (agent/net/contact.ts) when there is no usable answer. */
  async poll(options: { waitSeconds?: number; signal?: AbortSignal } = {}): Promise<PollOutcome> {
    // The optional bundle fields this agent understands (older servers ignore the header).
    const headers: Record<string, string> = { [BUNDLE_FEATURES_HEADER]: BUNDLE_FEATURES.join(',') };
    const known = this.knownEtags();
    if (known.length > 0) headers['if-none-match'] = known.join(', ');
    if (options.waitSeconds) headers.prefer = `wait=${options.waitSeconds}`;
    const request: Parameters<DeviceHttp['request']>[2] = {
      headers,
      timeoutMs: ((options.waitSeconds ?? 0) + 30) * 1000,
    };
    if (options.signal) request.signal = options.signal;
    const reply = await this.deps.http.request('GET', '/v1/policy', request);
    if (reply.status === 304) return { kind: 'unchanged' };
    if (reply.status === 404 && errorCode(reply.body) === 'no_policy') return { kind: 'none-published' };
    if (reply.status !== 200) throw replyError('GET /v1/policy', reply);

    // The shape is checked here; whether the bundle may be trusted is acceptBundle's (signature, revision).
    const body = checkReply(PolicyReply, 'GET /v1/policy', reply);
    const { etag, bundle, revision: claimed } = body;
    if (this.current && bundle === this.current.token) {
      // The bundle in force, under an ETag we did not have (after a cache repair, say).
      this.state = { ...this.state, etag };
      await savePolicyState(this.deps.paths, this.state);
      return { kind: 'unchanged' };
    }
    return this.consider(bundle, etag, claimed);
  }

  /** Accepts or refuses a bundle (also used by tests feeding bundles directly). */
  async consider(bundle: string, etag: string, claimedRevision: number | null): Promise<PollOutcome> {
    const floor = this.state.revision;
    // With no usable cached bundle, the floor's own revision may be fetched again.
    const lastRevision = floor === null ? null : this.current ? floor : floor - 1;
    const accepted = await acceptBundle(bundle, { trustedKeys: this.deps.keys, lastRevision });
    const now = this.deps.clock();
    if (!accepted.ok) {
      const again = this.state.refused?.etag === etag && etag !== '';
      const message = `refused policy bundle${claimedRevision !== null ? ` revision ${claimedRevision}` : ''}: ${describeRefusal(accepted.code)} (${accepted.message}); the current policy stays in force`;
      this.state = {
        ...this.state,
        refused: {
          etag,
          code: accepted.code,
          message: accepted.message,
          at: new Date(now).toISOString(),
          revision: claimedRevision,
        },
      };
      await savePolicyState(this.deps.paths, this.state);
      if (!again) {
        this.deps.log.warn({ code: accepted.code, claimedRevision, etag }, message);
        await this.deps.emit(
          newEvent('policy-refused', now, {
            policyRevision: this.current?.payload.revision ?? null,
            message,
            details: { code: accepted.code, claimedRevision, etag, inForce: this.current?.payload.revision ?? null },
          }),
        );
      }
      return { kind: 'refused', code: accepted.code, message };
    }
    const policy = accepted.policy;
    this.state = await storeAcceptedPolicy(this.deps.paths, policy, etag || null, now, {
      ...this.state,
      refused: null,
    });
    const previous = this.current?.payload.revision ?? null;
    this.current = policy;
    const name = policy.payload.policy.metadata.name;
    this.deps.log.info({ revision: policy.payload.revision, previous, policyName: name }, 'policy accepted');
    await this.deps.emit(
      newEvent('policy-applied', now, {
        policyRevision: policy.payload.revision,
        message: `policy "${name}" revision ${policy.payload.revision} is now in force (${policy.compiled.enforce ? 'enforce' : 'monitor'} mode)`,
        details: {
          name,
          previous,
          mode: policy.compiled.enforce ? 'enforce' : 'monitor',
          policyHash: policy.payload.policyHash ?? null,
        },
      }),
    );
    return { kind: 'updated', revision: policy.payload.revision };
  }
}
