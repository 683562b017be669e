/** Exception requests: an employee asks from their device; an admin approves or denies. */
import type Database from 'better-sqlite3';
import { newId } from '../security/secrets.js';

export const REQUEST_STATUSES = ['pending', 'approved', 'denied'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

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
  policyRevision: number | null;
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
});

export class ExceptionRequestStore {
  private readonly insert;
  private readonly byId;
  private readonly byClientId;
  private readonly decide;

  constructor(
    private readonly db: Database.Database,
    private readonly now: () => number,
  ) {
    this.insert = db.prepare<[RequestRow]>(
      `INSERT INTO exception_requests (id, device_id, client_id, tool_id, install_path, version, user_name, reason, requested_until,
                                       requested_at, status, decided_at, decided_by, decision_reason, policy_revision)
       VALUES (@id, @device_id, @client_id, @tool_id, @install_path, @version, @user_name, @reason, @requested_until,
               @requested_at, @status, @decided_at, @decided_by, @decision_reason, @policy_revision)`,
    );
    this.byId = db.prepare<[string], RequestRow>('SELECT * FROM exception_requests WHERE id = ?');
    this.byClientId = db.prepare<[string, string], RequestRow>('SELECT * FROM exception_requests WHERE device_id = ? AND client_id = ?');
    this.decide = db.prepare(
      `UPDATE exception_requests SET status = @status, decided_at = @decided_at, decided_by = @decided_by,
              decision_reason = @decision_reason, policy_revision = @policy_revision
        WHERE id = @id AND status = 'pending'`,
    );
  }

  /** Create a request; a repeat of the same client id returns the first one (`created: false`). */
  create(deviceId: string, input: ExceptionRequestInput): { record: ExceptionRequestRecord; created: boolean } {
    return this.db.transaction(() => {
      if (input.clientId !== null) {
        const existing = this.byClientId.get(deviceId, input.clientId);
        if (existing) return { record: toRecord(existing), created: false };
      }
      const row: RequestRow = {
        id: newId(),
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
      return { record: toRecord(row), created: true };
    })();
  }

  get(id: string): ExceptionRequestRecord | undefined {
    const row = this.byId.get(id);
    return row && toRecord(row);
  }

  /** Record a decision on a pending request; false if it was already decided. */
  setDecision(id: string, decision: { status: 'approved' | 'denied'; decidedBy: string; reason: string | null; policyRevision: number | null }): boolean {
    return (
      this.decide.run({
        id,
        status: decision.status,
        decided_at: this.now(),
        decided_by: decision.decidedBy,
        decision_reason: decision.reason,
        policy_revision: decision.policyRevision,
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
