/**
 * Deciding exception requests. Approval adds an exception for the requested tool to the current
 * policy and publishes it as a new revision; the decision, the revision and the audit entry
 * commit together, so an approval never exists without its policy change or vice versa.
 */
import type Database from 'better-sqlite3';
import type { Exception } from '../../policies/schema.js';
import { ApiError, badRequest, conflict, notFound } from '../http/errors.js';
import type { Actor, AuditLog } from '../store/audit.js';
import type { ExceptionRequestRecord, ExceptionRequestStore } from '../store/exception-requests.js';
import { addException } from './policy-edit.js';
import type { PolicyService, PublishResult } from './policy-service.js';

export type ExceptionScope = 'device' | 'user';

export interface ApproveInput {
  actor: Actor;
  remoteIp: string | null;
  /** Date or instant the exception ends; default the one requested, else open-ended. */
  until?: string;
  /** Who the exception covers: the requesting device (default) or the requesting user. */
  scope?: ExceptionScope;
  reason?: string;
}

const MAX_REASON = 2000;

function clip(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}

export function exceptionFor(request: ExceptionRequestRecord, input: ApproveInput): Exception {
  const scope = input.scope ?? 'device';
  const note = ` (request ${request.id}, approved by ${input.actor.name}${input.reason ? `: ${input.reason}` : ''})`;
  const exception: Exception = {
    name: `exception-request-${request.id}`,
    tools: [request.toolId],
    reason: clip(request.reason, MAX_REASON - note.length) + note,
  };
  if (scope === 'user') {
    if (!request.user) throw badRequest('this request names no user, so it can only be approved for its device (scope "device")');
    exception.users = [request.user];
  } else {
    exception.devices = [request.deviceId];
  }
  const until = input.until ?? request.requestedUntil ?? undefined;
  if (until !== undefined) exception.until = until;
  return exception;
}

export class ExceptionService {
  constructor(
    private readonly deps: { db: Database.Database; requests: ExceptionRequestStore; policies: PolicyService; audit: AuditLog },
  ) {}

  private pending(id: string): ExceptionRequestRecord {
    const request = this.deps.requests.get(id);
    if (!request) throw notFound(`there is no exception request ${id}`);
    if (request.status !== 'pending') throw conflict(`exception request ${id} was already ${request.status}`, 'already_decided');
    return request;
  }

  async approve(id: string, input: ApproveInput): Promise<{ request: ExceptionRequestRecord; publish: PublishResult }> {
    const request = this.pending(id);
    const exception = exceptionFor(request, input);
    const publish = await this.deps.policies.publishFromCurrent((current) => {
      if (!current) throw conflict('no policy has been published yet, so there is nothing to add an exception to', 'no_policy');
      let source: string;
      try {
        source = addException(current.source, current.sourceFormat, exception);
      } catch (error) {
        throw new ApiError(500, 'internal_error', `cannot edit the current policy: ${(error as Error).message}`);
      }
      return {
        source,
        format: current.sourceFormat,
        comment: `approve exception request ${id}`,
        actor: input.actor,
        remoteIp: input.remoteIp,
        exceptionRequest: id,
        auditAction: 'exception.approve',
        auditDetails: { request: id, device: request.deviceId, tool: request.toolId, exception },
        alsoInTransaction: (revision) => {
          const decided = this.deps.requests.setDecision(id, {
            status: 'approved',
            decidedBy: input.actor.name,
            reason: input.reason ?? null,
            policyRevision: revision,
          });
          if (!decided) throw conflict(`exception request ${id} was decided meanwhile`, 'already_decided');
        },
      };
    });
    return { request: this.deps.requests.get(id)!, publish };
  }

  deny(id: string, input: { actor: Actor; remoteIp: string | null; reason: string }): ExceptionRequestRecord {
    this.pending(id);
    this.deps.db.transaction(() => {
      const decided = this.deps.requests.setDecision(id, { status: 'denied', decidedBy: input.actor.name, reason: input.reason, policyRevision: null });
      if (!decided) throw conflict(`exception request ${id} was decided meanwhile`, 'already_decided');
      this.deps.audit.append({ actor: input.actor, action: 'exception.deny', target: `exception-request:${id}`, details: { reason: input.reason }, remoteIp: input.remoteIp });
    })();
    return this.deps.requests.get(id)!;
  }
}
