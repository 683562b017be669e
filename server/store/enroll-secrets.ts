/** Enroll secrets: admins hand them to devices; each names the group its devices join. */
import type Database from 'better-sqlite3';

import { ENROLL_SECRET_PREFIX, hashSecret, newId, newSecret } from '../security/secrets.js';

export interface EnrollSecretRecord {
  id: string;
  group: string;
  note: string | null;
  expiresAt: number | null;
  maxUses: number | null;
  uses: number;
  createdAt: number;
  createdBy: string | null;
  revokedAt: number | null;
}

interface EnrollSecretRow {
  id: string;
  secret_hash: string;
  group_name: string;
  note: string | null;
  expires_at: number | null;
  max_uses: number | null;
  uses: number;
  created_at: number;
  created_by: string | null;
  revoked_at: number | null;
}

const toRecord = (row: EnrollSecretRow): EnrollSecretRecord => ({
  id: row.id,
  group: row.group_name,
  note: row.note,
  expiresAt: row.expires_at,
  maxUses: row.max_uses,
  uses: row.uses,
  createdAt: row.created_at,
  createdBy: row.created_by,
  revokedAt: row.revoked_at,
});

export type SecretCheck =
  { ok: true; record: EnrollSecretRecord } | { ok: false; reason: 'unknown' | 'revoked' | 'expired' | 'used-up' };

export class EnrollSecretStore {
  private readonly insert;
  private readonly byHash;
  private readonly byId;
  private readonly listAll;
  private readonly revokeStmt;
  private readonly useStmt;

  constructor(
    db: Database.Database,
    private readonly now: () => number,
  ) {
    this.insert = db.prepare<[EnrollSecretRow]>(
      `INSERT INTO enroll_secrets (id, secret_hash, group_name, note, expires_at, max_uses, uses, created_at, created_by, revoked_at)
       VALUES (@id, @secret_hash, @group_name, @note, @expires_at, @max_uses, @uses, @created_at, @created_by, @revoked_at)`,
    );
    this.byHash = db.prepare<[string], EnrollSecretRow>('SELECT * FROM enroll_secrets WHERE secret_hash = ?');
    this.byId = db.prepare<[string], EnrollSecretRow>('SELECT * FROM enroll_secrets WHERE id = ?');
    this.listAll = db.prepare<[], EnrollSecretRow>('SELECT * FROM enroll_secrets ORDER BY created_at, id');
    this.revokeStmt = db.prepare<[number, string]>(
      'UPDATE enroll_secrets SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
    );
    this.useStmt = db.prepare<[string]>('UPDATE enroll_secrets SET uses = uses + 1 WHERE id = ?');
  }

  create(input: {
    group: string;
    note?: string | null;
    expiresAt?: number | null;
    maxUses?: number | null;
    createdBy: string | null;
  }): {
    record: EnrollSecretRecord;
    secret: string;
  } {
    const secret = newSecret(ENROLL_SECRET_PREFIX);
    const row: EnrollSecretRow = {
      id: newId(),
      secret_hash: hashSecret(secret),
      group_name: input.group,
      note: input.note ?? null,
      expires_at: input.expiresAt ?? null,
      max_uses: input.maxUses ?? null,
      uses: 0,
      created_at: this.now(),
      created_by: input.createdBy,
      revoked_at: null,
    };
    this.insert.run(row);
    return { record: toRecord(row), secret };
  }

  /** Whether a secret may enroll a new device right now (does not count a use). */
  check(secret: string): SecretCheck {
    const row = this.byHash.get(hashSecret(secret));
    if (!row) return { ok: false, reason: 'unknown' };
    if (row.revoked_at !== null) return { ok: false, reason: 'revoked' };
    if (row.expires_at !== null && row.expires_at <= this.now()) return { ok: false, reason: 'expired' };
    if (row.max_uses !== null && row.uses >= row.max_uses) return { ok: false, reason: 'used-up' };
    return { ok: true, record: toRecord(row) };
  }

  /** Count one enrollment against the secret. Call inside the enrollment's transaction. */
  recordUse(id: string): void {
    this.useStmt.run(id);
  }

  get(id: string): EnrollSecretRecord | undefined {
    const row = this.byId.get(id);
    return row && toRecord(row);
  }

  list(): EnrollSecretRecord[] {
    return this.listAll.all().map(toRecord);
  }

  revoke(id: string): boolean {
    return this.revokeStmt.run(this.now(), id).changes > 0;
  }
}
