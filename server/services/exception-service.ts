/**
 * Exception requests, from asking to deciding. A device may ask only for what it reported: one
 * catalogued tool (or an `unknown:` id from its own inventory), for one of its own users.
 * Approval adds an exception for the requested tool to the current policy and publishes it as a
 * new revision; the decision, the revision and the audit entry commit together, so an approval
 * never exists without its policy change or vice versa.
 */
import type Database from 'better-sqlite3';

import type { CatalogIndex } from '../../policies/catalog/index.js';
import type { Exception } from '../../policies/schema.js';
import { parseDateOrInstant } from '../../policies/time.js';
import { ApiError, badRequest, conflict, notFound } from '../http/errors.js';
import type { Actor, AuditLog } from '../store/audit.js';
import type { DeviceStore } from '../store/devices.js';
import {
  exceptionNameFor,
  type ExceptionRequestInput,
  type ExceptionRequestRecord,
  type ExceptionRequestStore,
  RequestIdTakenError,
} from '../store/exception-requests.js';
import type { InventoryStore } from '../store/inventory.js';
import { addException } from './policy-edit.js';
import type { PolicyService, PublishResult } from './policy-service.js';

export type ExceptionScope = 'device' | 'user';

export interface ApproveInput {
  actor: Actor;
  remoteIp: string | null;
  /** Date or instant the exception ends; default the one requested, else open-ended. */
  until?: string;
  /**
   * Who the exception covers: the requesting device (every user on it), or the requesting user
   * on that device. Default: the user when the device reported several users and the request
   * names one, else the device (see `defaultScope`).
   */
  scope?: ExceptionScope;
  reason?: string;
}

const MAX_REASON = 2000;

function clip(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}

/** What a device has told the server about itself: its users and its inventory. */
export interface DeviceReports {
  /** Users from enrollment and check-ins. */
  users: readonly string[];
  /** Tool ids and instance owners the device ever reported. */
  toolIds: ReadonlySet<string>;
  owners: ReadonlySet<string>;
}

/** Every user the device reported: enrollment/check-in users and instance owners, sorted. */
function reportedUsers(reports: DeviceReports): string[] {
  return [...new Set([...reports.users, ...reports.owners])].sort();
}

/**
 * Refuse a request that names anything the device did not report (400 `invalid_request`): a
 * selector (`*`, `vendor:`, `category:`), a tool id not in the catalog (except an `unknown:` id
 * from this device's own inventory), or a user the device never reported. Without this a device
 * could ask for `*` for a made-up user, which one approval would turn into a fleet-wide exception.
 */
function checkExceptionRequest(
  input: { toolId: string; user: string | null },
  reports: DeviceReports,
  catalog: CatalogIndex,
): void {
  const { toolId } = input;
  const quoted = JSON.stringify(toolId);
  if (!catalog.has(toolId)) {
    if (toolId.startsWith('unknown:')) {
      if (!reports.toolIds.has(toolId))
        throw badRequest(
          `body.toolId ${quoted} is not in this device's inventory; an unknown: id must be one this device reported`,
        );
    } else if (toolId === '*' || toolId.includes(':') || toolId.includes('*')) {
      throw badRequest(
        `body.toolId ${quoted} is a selector; an exception request names one tool: a catalog id such as claude-code, or an unknown: id this device reported`,
      );
    } else {
      const guess = catalog.suggest(toolId);
      throw badRequest(`body.toolId ${quoted} is not a tool in the catalog${guess ? ` (did you mean ${guess}?)` : ''}`);
    }
  }
  if (input.user !== null) {
    const users = reportedUsers(reports);
    if (!users.includes(input.user)) {
      throw badRequest(
        `body.user ${JSON.stringify(input.user)} is not a user this device reported (${users.length ? `it reported ${users.join(', ')}` : 'it reported none'})`,
      );
    }
  }
}

/**
 * The approval scope when the admin names none: the requesting user when the device reported
 * several users (on a shared machine an exception for the device would unblock everyone), else
 * the device. Returns the scope and why, for the audit log.
 */
export function defaultScope(
  request: ExceptionRequestRecord,
  reports: DeviceReports,
): { scope: ExceptionScope; why: string } {
  const users = reportedUsers(reports);
  if (request.user !== null && users.length > 1) {
    return {
      scope: 'user',
      why: `default: the device reported ${users.length} users (${users.join(', ')}), so only ${request.user} is covered`,
    };
  }
  return {
    scope: 'device',
    why:
      request.user === null
        ? 'default: the request names no user'
        : `default: ${request.user} is the device's only user`,
  };
}

/**
 * The policy exception an approval adds. Scope `user` covers the requesting user on the
 * requesting device only (both `devices` and `users` set: all given must match).
 */
function exceptionFor(request: ExceptionRequestRecord, input: ApproveInput): Exception {
  const scope = input.scope ?? 'device';
  const note = ` (request ${request.id}, approved by ${input.actor.name}${input.reason ? `: ${input.reason}` : ''})`;
  const exception: Exception = {
    name: exceptionNameFor(request.id),
    tools: [request.toolId],
    reason: clip(request.reason, MAX_REASON - note.length) + note,
  };
  if (scope === 'user') {
    if (!request.user)
      throw badRequest('this request names no user, so it can only be approved for its device (scope "device")');
    exception.users = [request.user];
  }
  exception.devices = [request.deviceId];
  const until = input.until ?? request.requestedUntil ?? undefined;
  if (until !== undefined) exception.until = until;
  return exception;
}

export class ExceptionService {
  constructor(
    private readonly deps: {
      db: Database.Database;
      requests: ExceptionRequestStore;
      devices: DeviceStore;
      inventory: InventoryStore;
      catalog: CatalogIndex;
      policies: PolicyService;
      audit: AuditLog;
    },
  ) {}

  /** What `deviceId` reported about itself (users, tools, owners). */
  reports(deviceId: string): DeviceReports {
    const device = this.deps.devices.get(deviceId);
    return { users: device?.users ?? [], ...this.deps.inventory.reportedBy(deviceId) };
  }

  /**
   * A device asks for an exception. Checked against what the device reported (400 otherwise);
   * a repeat of the same client id returns the first request (`created: false`).
   */
  request(deviceId: string, input: ExceptionRequestInput): { record: ExceptionRequestRecord; created: boolean } {
    if (input.requestedUntil !== null) {
      const until = parseDateOrInstant(input.requestedUntil, 'UTC');
      if (!until.ok) throw badRequest(`body.until: ${until.error}`);
    }
    checkExceptionRequest(input, this.reports(deviceId), this.deps.catalog);
    try {
      return this.deps.requests.create(deviceId, input);
    } catch (error) {
      if (error instanceof RequestIdTakenError) throw conflict(`body.id: ${error.message}`);
      throw error;
    }
  }

  /** A pending request by its id (or the client id its agent showed the employee). */
  private pending(reference: string): ExceptionRequestRecord {
    const request = this.deps.requests.find(reference);
    if (!request) throw notFound(`there is no exception request ${reference}`);
    const id = request.id;
    if (request.status !== 'pending')
      throw conflict(`exception request ${id} was already ${request.status}`, 'already_decided');
    return request;
  }

  async approve(
    reference: string,
    input: ApproveInput,
  ): Promise<{
    request: ExceptionRequestRecord;
    publish: PublishResult;
    scope: { scope: ExceptionScope; why: string };
  }> {
    const request = this.pending(reference);
    const id = request.id;
    const chosen = input.scope
      ? { scope: input.scope, why: 'chosen by the admin' }
      : defaultScope(request, this.reports(request.deviceId));
    const exception = exceptionFor(request, { ...input, scope: chosen.scope });
    const publish = await this.deps.policies.publishFromCurrent((current) => {
      if (!current)
        throw conflict('no policy has been published yet, so there is nothing to add an exception to', 'no_policy');
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
        auditDetails: {
          request: id,
          device: request.deviceId,
          tool: request.toolId,
          user: request.user,
          scope: chosen.scope,
          scopeReason: chosen.why,
          exception,
        },
        alsoInTransaction: (revision) => {
          const decided = this.deps.requests.setDecision(id, {
            status: 'approved',
            decidedBy: input.actor.name,
            reason: input.reason ?? null,
            policyRevision: revision,
            approvedUntil: exception.until ?? null,
          });
          if (!decided) throw conflict(`exception request ${id} was decided meanwhile`, 'already_decided');
        },
      };
    });
    return { request: this.deps.requests.get(id)!, publish, scope: chosen };
  }

  deny(reference: string, input: { actor: Actor; remoteIp: string | null; reason: string }): ExceptionRequestRecord {
    const id = this.pending(reference).id;
    this.deps.db.transaction(() => {
      const decided = this.deps.requests.setDecision(id, {
        status: 'denied',
        decidedBy: input.actor.name,
        reason: input.reason,
        policyRevision: null,
      });
      if (!decided) throw conflict(`exception request ${id} was decided meanwhile`, 'already_decided');
      this.deps.audit.append({
        actor: input.actor,
        action: 'exception.deny',
        target: `exception-request:${id}`,
        details: { reason: input.reason },
        remoteIp: input.remoteIp,
      });
    })();
    return this.deps.requests.get(id)!;
  }
}
