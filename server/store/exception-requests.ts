/**
 * Exception requests: an employee asks from their device; an admin approves or denies; the
 * state then follows the policy in force (`revoked` while a revision without the exception is
 * current). A request's id is the client's UUID when the agent sent one, so the reference the
 * employee was given is the one IT approves.
 */
import type Database from 'better-sqlite3';

import { EXCEPTION_REQUEST_STATUSES, type ExceptionRequestStatus } from '../../policies/protocol.js';
import { newId } from '../security/secrets.js';

export const REQUEST_STATUSES = EXCEPTION_REQUEST_STATUSES;
export type RequestStatus = ExceptionRequestStatus;

/** The name of the policy exception an approval adds; the request id is recoverable from it. */
const EXCEPTION_NAME_PREFIX = 'exception-request-';
export const exceptionNameFor = (requestId: string) => `${EXCEPTION_NAME_PREFIX}${requestId}`;

/** The request ids of the approval exceptions among a policy's exception names. */
export function requestIdsIn(exceptionNames: Iterable<string | undefined>): Set<string> {
  const ids = new Set<string>();
  for (const name of exceptionNames)
    if (name?.startsWith(EXCEPTION_NAME_PREFIX)) ids.add(name.slice(EXCEPTION_NAME_PREFIX.length));
  return ids;
}

/** The client's id is already another device's request id. */
export class RequestIdTakenError extends Error {}

export interface ExceptionRequestInput {
  clientId: string | null;
  toolId: string;
  installPath: string | null;
  version: string | null;
  user: string | null;
  reason: string;
  requestedUntil: string | null;
}

export interface ExceptionRequestRecord extends ExceptionRequestInput {
  id: string;
  deviceId: string;
  requestedAt: number;
  status: RequestStatus;
  decidedAt: number | null;
  decidedBy: string | null;
  decisionReason: string | null;
  /** The revision that approved it. */
  policyRevision: number | null;
  /** The end the approval gave the exception (date or instant as written), null for none. */
  approvedUntil: string | null;
  /** When, and by which revision, the approved exception was removed (status `revoked`). */
  revokedAt: number | null;
  revokedInRevision: number | null;
}

interface RequestRow {
  id: string;
  device_id: string;
  client_id: string | null;
  tool_id: string;
  install_path: string | null;
  version: string | null;
  user_name: string | null;
  reason: string;
  requested_until: string | null;
  requested_at: number;
  status: RequestStatus;
  decided_at: number | null;
  decided_by: string | null;
  decision_reason: string | null;
  policy_revision: number | null;
  approved_until: string | null;
  revoked_at: number | null;
  revoked_in_revision: number | null;
}

const toRecord = (row: RequestRow): ExceptionRequestRecord => ({
  id: row.id,
  deviceId: row.device_id,
  clientId: row.client_id,
  toolId: row.tool_id,
  installPath: row.install_path,
  version: row.version,
  user: row.user_name,
  reason: row.reason,
  requestedUntil: row.requested_until,
  requestedAt: row.requested_at,
  status: row.status,
  decidedAt: row.decided_at,
  decidedBy: row.decided_by,
  decisionReason: row.decision_reason,
  policyRevision: row.policy_revision,
  approvedUntil: row.approved_until,
  revokedAt: row.revoked_at,
  revokedInRevision: row.revoked_in_revision,
});

export class ExceptionRequestStore {
  private readonly insert;
  private readonly byId;
  private readonly byClientId;
  private readonly decide;
  private readonly byClientOnly;
  private readonly revoke;
  private readonly reinstate;

  constructor(
    private readonly db: Database.Database,
    private readonly now: () => number,
  ) {
    this.insert = db.prepare<[Omit<RequestRow, 'approved_until' | 'revoked_at' | 'revoked_in_revision'>]>(
      `INSERT INTO exception_requests (id, device_id, client_id, tool_id, install_path, version, user_name, reason, requested_until,
                                       requested_at, status, decided_at, decided_by, decision_reason, policy_revision)
       VALUES (@id, @device_id, @client_id, @tool_id, @install_path, @version, @user_name, @reason, @requested_until,
               @requested_at, @status, @decided_at, @decided_by, @decision_reason, @policy_revision)`,
    );
    this.byId = db.prepare<[string], RequestRow>('SELECT * FROM exception_requests WHERE id = ?');
    this.byClientId = db.prepare<[string, string], RequestRow>(
      'SELECT * FROM exception_requests WHERE device_id = ? AND client_id = ?',
    );
    this.decide = db.prepare(
      `UPDATE exception_requests SET status = @status, decided_at = @decided_at, decided_by = @decided_by,
              decision_reason = @decision_reason, policy_revision = @policy_revision, approved_until = @approved_until
        WHERE id = @id AND status = 'pending'`,
    );
    this.byClientOnly = db.prepare<[string], RequestRow>(
      'SELECT * FROM exception_requests WHERE client_id = ? LIMIT 2',
    );
    this.revoke = db.prepare<[number, number, string]>(
      "UPDATE exception_requests SET status = 'revoked', revoked_at = ?, revoked_in_revision = ? WHERE id = ? AND status = 'approved'",
    );
    this.reinstate = db.prepare<[string]>(
      "UPDATE exception_requests SET status = 'approved', revoked_at = NULL, revoked_in_revision = NULL WHERE id = ? AND status = 'revoked'",
    );
  }

  /** Create a request; a repeat of the same client id returns the first one (`created: false`). */
  create(deviceId: string, input: ExceptionRequestInput): { record: ExceptionRequestRecord; created: boolean } {
    return this.db.transaction(() => {
      if (input.clientId !== null) {
        const existing = this.byClientId.get(deviceId, input.clientId);
        if (existing) return { record: toRecord(existing), created: false };
      }
      // The client's UUID is the request's id: the employee's reference is the one IT uses.
      if (input.clientId !== null && this.byId.get(input.clientId)) {
        throw new RequestIdTakenError(`the request id ${input.clientId} is already taken; send a new random UUID`);
      }
      const row: Omit<RequestRow, 'approved_until' | 'revoked_at' | 'revoked_in_revision'> = {
        id: input.clientId ?? newId(),
        device_id: deviceId,
        client_id: input.clientId,
        tool_id: input.toolId,
        install_path: input.installPath,
        version: input.version,
        user_name: input.user,
        reason: input.reason,
        requested_until: input.requestedUntil,
        requested_at: this.now(),
        status: 'pending',
        decided_at: null,
        decided_by: null,
        decision_reason: null,
        policy_revision: null,
      };
      this.insert.run(row);
      return {
        record: toRecord({ ...row, approved_until: null, revoked_at: null, revoked_in_revision: null }),
        created: true,
      };
    })();
  }

  get(id: string): ExceptionRequestRecord | undefined {
    const row = this.byId.get(id);
    return row && toRecord(row);
  }

  /**
   * A request by its id, or by the client id an agent showed its employee (requests made
   * before ids were unified have both); a client id two devices used finds nothing.
   */
  find(reference: string): ExceptionRequestRecord | undefined {
    const byId = this.byId.get(reference);
    if (byId) return toRecord(byId);
    const rows = this.byClientOnly.all(reference);
    return rows.length === 1 ? toRecord(rows[0]!) : undefined;
  }

  /**
   * Make approved/revoked states follow the policy now in force: `inForce` holds the request ids
   * whose exception the new current revision contains. Returns the ids changed each way.
   */
  followPolicy(
    inForce: ReadonlySet<string>,
    revision: number,
    at: number,
  ): { revoked: string[]; reinstated: string[] } {
    const rows = this.db
      .prepare<[], { id: string; status: RequestStatus }>(
        "SELECT id, status FROM exception_requests WHERE status IN ('approved', 'revoked')",
      )
      .all();
    const revoked: string[] = [];
    const reinstated: string[] = [];
    for (const row of rows) {
      if (row.status === 'approved' && !inForce.has(row.id) && this.revoke.run(at, revision, row.id).changes > 0)
        revoked.push(row.id);
      if (row.status === 'revoked' && inForce.has(row.id) && this.reinstate.run(row.id).changes > 0)
        reinstated.push(row.id);
    }
    return { revoked, reinstated };
  }

  /** Record a decision on a pending request; false if it was already decided. */
  setDecision(
    id: string,
    decision: {
      status: 'approved' | 'denied';
      decidedBy: string;
      reason: string | null;
      policyRevision: number | null;
      approvedUntil?: string | null;
    },
  ): boolean {
    return (
      this.decide.run({
        id,
        status: decision.status,
        decided_at: this.now(),
        decided_by: decision.decidedBy,
        decision_reason: decision.reason,
        policy_revision: decision.policyRevision,
        approved_until: decision.approvedUntil ?? null,
      }).changes > 0
    );
  }

  list(filter: { status?: RequestStatus; deviceId?: string }, limit: number): ExceptionRequestRecord[] {
    const where: string[] = [];
    const params: Record<string, string | number> = { limit };
    if (filter.status) {
      where.push('status = @status');
      params.status = filter.status;
    }
    if (filter.deviceId) {
      where.push('device_id = @device_id');
      params.device_id = filter.deviceId;
    }
    const sql = `SELECT * FROM exception_requests ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY requested_at DESC, id LIMIT @limit`;
    return this.db.prepare<[Record<string, string | number>], RequestRow>(sql).all(params).map(toRecord);
  }
}
