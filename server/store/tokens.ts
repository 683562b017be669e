/** Admin and auditor API tokens: random, stored hashed, named, revocable. */
import type Database from 'better-sqlite3';

import { hashSecret, newId, newSecret, TOKEN_PREFIX } from '../security/secrets.js';

export const ROLES = ['admin', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export interface TokenRecord {
  id: string;
  name: string;
  role: Role;
  createdAt: number;
  createdBy: string | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

interface TokenRow {
  id: string;
  name: string;
  role: Role;
  token_hash: string;
  created_at: number;
  created_by: string | null;
  last_used_at: number | null;
  revoked_at: number | null;
}

const toRecord = (row: TokenRow): TokenRecord => ({
  id: row.id,
  name: row.name,
  role: row.role,
  createdAt: row.created_at,
  createdBy: row.created_by,
  lastUsedAt: row.last_used_at,
  revokedAt: row.revoked_at,
});

/** `last_used_at` is written at most once a minute per token, so reads stay reads. */
const LAST_USED_RESOLUTION_MS = 60_000;

export class TokenStore {
  private readonly insert;
  private readonly byHash;
  private readonly byId;
  private readonly listAll;
  private readonly revokeStmt;
  private readonly touch;
  private readonly countActiveAdmins;

  constructor(
    private readonly db: Database.Database,
    private readonly now: () => number,
  ) {
    this.insert = db.prepare<[TokenRow]>(
      `INSERT INTO admin_tokens (id, name, role, token_hash, created_at, created_by, last_used_at, revoked_at)
       VALUES (@id, @name, @role, @token_hash, @created_at, @created_by, @last_used_at, @revoked_at)`,
    );
    this.byHash = db.prepare<[string], TokenRow>('SELECT * FROM admin_tokens WHERE token_hash = ?');
    this.byId = db.prepare<[string], TokenRow>('SELECT * FROM admin_tokens WHERE id = ?');
    this.listAll = db.prepare<[], TokenRow>('SELECT * FROM admin_tokens ORDER BY created_at, id');
    this.revokeStmt = db.prepare<[number, string]>(
      'UPDATE admin_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
    );
    this.touch = db.prepare<[number, string, number]>(
      'UPDATE admin_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)',
    );
    this.countActiveAdmins = db.prepare<[], { n: number }>(
      "SELECT count(*) AS n FROM admin_tokens WHERE role = 'admin' AND revoked_at IS NULL",
    );
  }

  /** Create a token; the secret is returned here and never again. */
  create(name: string, role: Role, createdBy: string | null): { record: TokenRecord; token: string } {
    const token = newSecret(TOKEN_PREFIX);
    const row: TokenRow = {
      id: newId(),
      name,
      role,
      token_hash: hashSecret(token),
      created_at: this.now(),
      created_by: createdBy,
      last_used_at: null,
      revoked_at: null,
    };
    this.insert.run(row);
    return { record: toRecord(row), token };
  }

  /** The live token a bearer string belongs to, or why not. */
  authenticate(token: string): { ok: true; record: TokenRecord } | { ok: false; reason: 'unknown' | 'revoked' } {
    const row = this.byHash.get(hashSecret(token));
    if (!row) return { ok: false, reason: 'unknown' };
    if (row.revoked_at !== null) return { ok: false, reason: 'revoked' };
    const now = this.now();
    if (row.last_used_at === null || row.last_used_at < now - LAST_USED_RESOLUTION_MS) {
      this.touch.run(now, row.id, now - LAST_USED_RESOLUTION_MS);
    }
    return { ok: true, record: toRecord(row) };
  }

  get(id: string): TokenRecord | undefined {
    const row = this.byId.get(id);
    return row && toRecord(row);
  }

  list(): TokenRecord[] {
    return this.listAll.all().map(toRecord);
  }

  revoke(id: string): boolean {
    return this.revokeStmt.run(this.now(), id).changes > 0;
  }

  activeAdminCount(): number {
    return this.countActiveAdmins.get()?.n ?? 0;
  }

  isEmpty(): boolean {
    return this.db.prepare('SELECT 1 FROM admin_tokens LIMIT 1').get() === undefined;
  }
}
