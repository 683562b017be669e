/**
 * The append-only audit log. Each row's hash covers the previous row's hash and the row's own
 * content, so editing, inserting or removing a row in the middle breaks the chain from there on.
 * Cutting rows off the end cannot be seen from the chain alone: `verify` returns the head hash so
 * an operator can record it elsewhere and compare later.
 */
import { createHash } from 'node:crypto';

import type Database from 'better-sqlite3';

export const GENESIS_HASH = '0'.repeat(64);

export interface Actor {
  /** Admin token id; null for the server itself. */
  id: string | null;
  name: string;
  role: 'admin' | 'auditor' | 'system';
}

export interface AuditInput {
  actor: Actor;
  action: string;
  target?: string | null;
  details?: Record<string, unknown>;
  remoteIp?: string | null;
}

export interface AuditEntry {
  seq: number;
  at: number;
  actorId: string | null;
  actorName: string;
  actorRole: string;
  action: string;
  target: string | null;
  details: string;
  remoteIp: string | null;
  prevHash: string;
  hash: string;
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  headHash: string;
  /** The first sequence number whose row does not fit the chain. */
  brokenAt?: number;
  problem?: string;
}

/** A row of the audit table as SQLite returns it. */
export interface AuditRow {
  seq: number;
  at: number;
  actor_id: string | null;
  actor_name: string;
  actor_role: string;
  action: string;
  target: string | null;
  details: string;
  remote_ip: string | null;
  prev_hash: string;
  hash: string;
}

export function entryHash(prevHash: string, row: Omit<AuditEntry, 'prevHash' | 'hash'>): string {
  // A JSON array gives every field an unambiguous boundary, whatever text it holds.
  const content = JSON.stringify([
    row.seq,
    row.at,
    row.actorId,
    row.actorName,
    row.actorRole,
    row.action,
    row.target,
    row.details,
    row.remoteIp,
  ]);
  return createHash('sha256').update(prevHash).update('\n').update(content).digest('hex');
}

/** A stored row in the entry's own field names. */
export function toEntry(row: AuditRow): AuditEntry {
  return {
    seq: row.seq,
    at: row.at,
    actorId: row.actor_id,
    actorName: row.actor_name,
    actorRole: row.actor_role,
    action: row.action,
    target: row.target,
    details: row.details,
    remoteIp: row.remote_ip,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

export class AuditLog {
  private readonly head: Database.Statement<[], { seq: number; hash: string }>;
  private readonly insert: Database.Statement<[AuditRow]>;
  private readonly page: Database.Statement<[number, number], AuditRow>;
  private readonly all: Database.Statement<[], AuditRow>;

  constructor(
    private readonly db: Database.Database,
    private readonly now: () => number,
  ) {
    this.head = db.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
    this.insert = db.prepare(
      `INSERT INTO audit_log (seq, at, actor_id, actor_name, actor_role, action, target, details, remote_ip, prev_hash, hash)
       VALUES (@seq, @at, @actor_id, @actor_name, @actor_role, @action, @target, @details, @remote_ip, @prev_hash, @hash)`,
    );
    this.page = db.prepare('SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?');
    this.all = db.prepare('SELECT * FROM audit_log ORDER BY seq');
  }

  /** Append one entry. Call it inside the transaction of the change it records. */
  append(input: AuditInput): AuditEntry {
    const write = this.db.transaction((): AuditEntry => {
      const last = this.head.get();
      const prevHash = last?.hash ?? GENESIS_HASH;
      const base = {
        seq: (last?.seq ?? 0) + 1,
        at: this.now(),
        actorId: input.actor.id,
        actorName: input.actor.name,
        actorRole: input.actor.role,
        action: input.action,
        target: input.target ?? null,
        details: JSON.stringify(input.details ?? {}),
        remoteIp: input.remoteIp ?? null,
      };
      const hash = entryHash(prevHash, base);
      this.insert.run({
        seq: base.seq,
        at: base.at,
        actor_id: base.actorId,
        actor_name: base.actorName,
        actor_role: base.actorRole,
        action: base.action,
        target: base.target,
        details: base.details,
        remote_ip: base.remoteIp,
        prev_hash: prevHash,
        hash,
      });
      return { ...base, prevHash, hash };
    });
    return write();
  }

  list(afterSeq: number, limit: number): AuditEntry[] {
    return this.page.all(afterSeq, limit).map(toEntry);
  }

  verify(): AuditVerification {
    let prevHash = GENESIS_HASH;
    let expectedSeq = 1;
    let entries = 0;
    for (const row of this.all.iterate()) {
      const entry = toEntry(row);
      const fail = (problem: string): AuditVerification => ({
        ok: false,
        entries,
        headHash: prevHash,
        brokenAt: entry.seq,
        problem,
      });
      if (entry.seq !== expectedSeq) return fail(`entry ${expectedSeq} is missing (next entry is ${entry.seq})`);
      if (entry.prevHash !== prevHash)
        return fail(`entry ${entry.seq} does not point at the hash of entry ${entry.seq - 1}`);
      if (entryHash(prevHash, entry) !== entry.hash) return fail(`entry ${entry.seq} was changed after it was written`);
      prevHash = entry.hash;
      expectedSeq++;
      entries++;
    }
    return { ok: true, entries, headHash: prevHash };
  }
}
