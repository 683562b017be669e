/**
 * Publishing: validate with the shared loader, assign the next revision, sign the bundle, store
 * it with its audit entry in one transaction, then wake long-polling agents. Publishes run one
 * at a time so revisions are dense and every bundle is signed with the revision it is stored as.
 */
import { createHash } from 'node:crypto';

import type Database from 'better-sqlite3';

import { hashPolicy, signBundle } from '../../policies/bundle.js';
import type { SigningKey } from '../../policies/keys.js';
import { formatProblem, loadPolicy, type Problem } from '../../policies/load.js';
import type { ToolFingerprint } from '../../policies/protocol.js';
import type { Exception } from '../../policies/schema.js';
import { ApiError } from '../http/errors.js';
import type { CurrentPolicy, PolicyChannel } from '../policy-channel.js';
import type { Actor, AuditLog } from '../store/audit.js';
import { type ExceptionRequestStore, requestIdsIn, type RequestStatus } from '../store/exception-requests.js';
import type { PolicyRevision, PolicyStore } from '../store/policies.js';
import { Serial } from './serial.js';

export type SourceFormat = 'yaml' | 'json';

export interface PublishInput {
  source: string;
  format?: SourceFormat;
  comment?: string | null;
  actor: Actor;
  remoteIp?: string | null;
  rollbackOf?: number | null;
  exceptionRequest?: string | null;
  /** Extra writes that must commit together with the revision (e.g. an approval). */
  alsoInTransaction?: (revision: number) => void;
  /** The audit action name; default policy.publish. */
  auditAction?: string;
  auditDetails?: Record<string, unknown>;
  /** The fingerprints the bundle carries; default: what the fingerprint source ships now. */
  fingerprints?: ToolFingerprint[];
}

/** Where bundles get their shipped fingerprints (server/services/fingerprint-service.ts). */
export interface FingerprintSource {
  shippable(): ToolFingerprint[];
  /** Called in the publish transaction with the fingerprints the new revision's bundle carries. */
  shipped(sha256s: string[], revision: number): void;
}

export interface PublishResult {
  revision: number;
  etag: string;
  name: string;
  sha256: string;
  warnings: Problem[];
  /** Exception requests whose state changed with this revision (their exception left or came back). */
  exceptionRequests: { revoked: string[]; reinstated: string[] };
}

/** An exception the policy in force has that a rollback target does not. */
export interface RemovedException {
  name: string | null;
  tools: string[];
  until: string | null;
  reason: string;
  /** The approved exception request it came from, with its state now. */
  request: { id: string; status: RequestStatus | null } | null;
}

/** What a rollback to `toRevision` would do to the policy in force. */
export interface RollbackPlan {
  toRevision: number;
  fromRevision: number | null;
  removes: RemovedException[];
}

export interface RollbackInput {
  actor: Actor;
  comment?: string | null;
  remoteIp?: string | null;
  /** Publish even though the rollback removes exceptions (`aigate policy rollback N --yes`). */
  confirm?: boolean;
}

/** How a removed exception is named in the audit log: its name, or the tools it names. */
function auditName(removed: RemovedException): string {
  return removed.name ?? `unnamed exception (${removed.tools.join(', ')})`;
}

/** "exception-request-… (claude-code, until 2026-12-31, request …)" for messages. */
function describeRemoved(removed: RemovedException): string {
  const parts = [
    removed.tools.join(', '),
    removed.until ? `until ${removed.until}` : 'no end',
    removed.request ? `request ${removed.request.id}` : null,
  ];
  return `${removed.name ?? 'an unnamed exception'} (${parts.filter(Boolean).join(', ')})`;
}

export function guessFormat(source: string): SourceFormat {
  return source.trimStart().startsWith('{') ? 'json' : 'yaml';
}

export function invalidPolicy(errors: Problem[]): ApiError {
  const head = errors
    .slice(0, 3)
    .map((p) => formatProblem(p))
    .join('; ');
  const more = errors.length > 3 ? `; and ${errors.length - 3} more` : '';
  return new ApiError(400, 'invalid_policy', `the policy is invalid: ${head}${more}`, {}, errors);
}

export function etagFor(revision: number, bundle: string): string {
  return `"r${revision}-${createHash('sha256').update(bundle).digest('base64url').slice(0, 16)}"`;
}

export function currentFromRevision(
  revision: Pick<PolicyRevision, 'revision' | 'etag' | 'bundle' | 'publishedAt'>,
): CurrentPolicy {
  return {
    revision: revision.revision,
    etag: revision.etag,
    bundle: revision.bundle,
    publishedAt: revision.publishedAt,
  };
}

export class PolicyService {
  private readonly serial = new Serial();

  constructor(
    private readonly deps: {
      db: Database.Database;
      store: PolicyStore;
      /** Exception requests follow the policy in force (approved <-> revoked) on every publish. */
      requests: ExceptionRequestStore;
      audit: AuditLog;
      channel: PolicyChannel;
      key: SigningKey;
      issuer: string;
      now: () => number;
      /** Fingerprints every bundle carries (none when absent). */
      fingerprints?: FingerprintSource;
    },
  ) {}

  /**
   * Publish an administrator's policy file. A file that leaves out the exception of an approved
   * request now in force (one written from a copy older than the approval, say) is refused (409
   * `confirmation_required`, naming them) unless `confirm` is set, as a rollback is: publishing
   * would revoke those requests and block the tools again.
   */
  publish(input: PublishInput & { confirm?: boolean }): Promise<PublishResult & { removed: RemovedException[] }> {
    return this.serial.run(async () => {
      const format = input.format ?? guessFormat(input.source);
      const loaded = loadPolicy(input.source, { format, nowMs: this.deps.now() });
      if (!loaded.ok) throw invalidPolicy(loaded.errors);
      const keptNames = new Set((loaded.policy.spec.exceptions ?? []).map((e) => e.name));
      const removes = this.removedFromCurrent((e) => keptNames.has(e.name)).filter(
        (removed) => removed.request?.status === 'approved',
      );
      if (removes.length > 0 && !input.confirm) {
        const count =
          removes.length === 1 ? '1 approved exception request' : `${removes.length} approved exception requests`;
        throw new ApiError(
          409,
          'confirmation_required',
          `this policy leaves out the exceptions of ${count} now in force: ${removes.map(describeRemoved).join('; ')}. ` +
            'Publishing revokes them and blocks the tools again where the policy says so (were they approved after your copy of the file was made? aigate policy show --source has them); repeat with confirm: true (aigate policy publish --yes) to do it',
        );
      }
      const result = await this.publishNow({
        ...input,
        ...(removes.length > 0
          ? { auditDetails: { ...input.auditDetails, removedExceptions: removes.map(auditName) } }
          : {}),
      });
      return { ...result, removed: removes };
    });
  }

  /**
   * Publish a revision derived from the current one (e.g. with an exception added). `derive`
   * runs in the publish queue, so no other publish can land between reading and writing.
   */
  publishFromCurrent(derive: (current: PolicyRevision | undefined) => PublishInput): Promise<PublishResult> {
    return this.serial.run(() => this.publishNow(derive(this.deps.store.current())));
  }

  private async publishNow(input: PublishInput): Promise<PublishResult> {
    const { db, store, requests, audit, channel, key, issuer, now } = this.deps;
    const format = input.format ?? guessFormat(input.source);
    const loaded = loadPolicy(input.source, { format, nowMs: now() });
    if (!loaded.ok) throw invalidPolicy(loaded.errors);

    const policy = loaded.policy;
    const revision = store.latestRevision() + 1;
    const publishedAt = now();
    const sha256 = hashPolicy(policy);
    const fingerprints = input.fingerprints ?? this.deps.fingerprints?.shippable() ?? [];
    const bundle = await signBundle(
      {
        iss: issuer,
        iat: Math.floor(publishedAt / 1000),
        revision,
        policy,
        policyHash: sha256,
        // Left out when empty: such a bundle is exactly what agents without fingerprint support accept.
        ...(fingerprints.length > 0 ? { fingerprints } : {}),
      },
      key,
    );
    const etag = etagFor(revision, bundle);

    let followed: PublishResult['exceptionRequests'] = { revoked: [], reinstated: [] };
    db.transaction(() => {
      store.add({
        revision,
        name: policy.metadata.name,
        source: input.source,
        sourceFormat: format,
        document: policy,
        sha256,
        bundle,
        etag,
        publishedAt,
        publishedBy: input.actor.name,
        comment: input.comment ?? null,
        rollbackOf: input.rollbackOf ?? null,
        exceptionRequest: input.exceptionRequest ?? null,
      });
      input.alsoInTransaction?.(revision);
      if (fingerprints.length > 0)
        this.deps.fingerprints?.shipped(
          fingerprints.map((f) => f.sha256),
          revision,
        );
      followed = requests.followPolicy(
        requestIdsIn((policy.spec.exceptions ?? []).map((e) => e.name)),
        revision,
        publishedAt,
      );
      const changed = followed.revoked.length + followed.reinstated.length > 0 ? { exceptionRequests: followed } : {};
      audit.append({
        actor: input.actor,
        action: input.auditAction ?? 'policy.publish',
        target: `policy:${revision}`,
        details: {
          name: policy.metadata.name,
          sha256,
          comment: input.comment ?? null,
          warnings: loaded.warnings.length,
          ...input.auditDetails,
          ...changed,
        },
        remoteIp: input.remoteIp ?? null,
      });
    })();

    channel.publish({ revision, etag, bundle, publishedAt });
    return {
      revision,
      etag,
      name: policy.metadata.name,
      sha256,
      warnings: loaded.warnings,
      exceptionRequests: followed,
    };
  }

  /** What rolling back to `toRevision` would remove from the policy in force (nothing is published). */
  rollbackPlan(toRevision: number): RollbackPlan {
    const target = this.deps.store.get(toRevision);
    if (!target) throw new ApiError(404, 'not_found', `there is no policy revision ${toRevision}`);
    const kept = new Set((target.document.spec.exceptions ?? []).map((e: Exception) => JSON.stringify(e)));
    const removes = this.removedFromCurrent((e) => kept.has(JSON.stringify(e)));
    return { toRevision, fromRevision: this.deps.store.current()?.revision ?? null, removes };
  }

  /** The exceptions of the policy in force that `keeps` does not keep, with their requests' state. */
  private removedFromCurrent(keeps: (exception: Exception) => boolean): RemovedException[] {
    return (this.deps.store.current()?.document.spec.exceptions ?? [])
      .filter((e: Exception) => !keeps(e))
      .map((e: Exception): RemovedException => {
        const requestId = e.name ? [...requestIdsIn([e.name])][0] : undefined;
        return {
          name: e.name ?? null,
          tools: e.tools,
          until: e.until ?? null,
          reason: e.reason,
          request: requestId ? { id: requestId, status: this.deps.requests.get(requestId)?.status ?? null } : null,
        };
      });
  }

  /**
   * Publish the content of an earlier revision as a new one. A rollback that removes exceptions
   * from the policy in force is refused (409 `confirmation_required`, naming them) unless
   * `confirm` is set; the requests behind removed exceptions become `revoked`.
   */
  rollback(toRevision: number, input: RollbackInput): Promise<PublishResult & { removed: RemovedException[] }> {
    return this.serial.run(async () => {
      const plan = this.rollbackPlan(toRevision);
      if (plan.removes.length > 0 && !input.confirm) {
        const count = plan.removes.length === 1 ? '1 exception' : `${plan.removes.length} exceptions`;
        throw new ApiError(
          409,
          'confirmation_required',
          `rolling back to revision ${toRevision} removes ${count} now in force: ${plan.removes.map(describeRemoved).join('; ')}. ` +
            'Their requests would become revoked and the tools blocked again where the policy says so; repeat with confirm: true (aigate policy rollback --yes) to do it',
        );
      }
      const target = this.deps.store.get(toRevision)!;
      const result = await this.publishNow({
        source: target.source,
        format: target.sourceFormat,
        comment: input.comment ?? `rollback to revision ${toRevision}`,
        actor: input.actor,
        remoteIp: input.remoteIp ?? null,
        rollbackOf: toRevision,
        auditAction: 'policy.rollback',
        auditDetails: { rollbackOf: toRevision, removedExceptions: plan.removes.map(auditName) },
      });
      return { ...result, removed: plan.removes };
    });
  }
}
