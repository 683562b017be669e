/**
 * Dashboard sessions. Signing in with an admin or auditor token creates a session: the browser
 * gets a random id in an HttpOnly, SameSite=Strict cookie; the database keeps only the id's
 * SHA-256, the token it stands for (by id, never the token itself) and a CSRF token for forms.
 * Each request re-checks the token, so revoking a token ends its sessions at once.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

import type Database from 'better-sqlite3';

import { hashSecret } from '../security/secrets.js';
import type { TokenRecord, TokenStore } from '../store/tokens.js';

/** Signed out after this long without a request... */
const IDLE_MS = 60 * 60_000;
/** ...and after this long in any case. */
const ABSOLUTE_MS = 12 * 60 * 60_000;
/** last_seen_at is written at most this often per session. */
const TOUCH_MS = 60_000;

export interface UiSession {
  idHash: string;
  token: TokenRecord;
  csrf: string;
  createdAt: number;
  expiresAt: number;
}

interface SessionRow {
  id_hash: string;
  token_id: string;
  csrf_token: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
}

export const randomToken = (): string => randomBytes(32).toString('base64url');

/** Constant-time comparison of two secrets of any length. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class SessionStore {
  constructor(
    private readonly db: Database.Database,
    private readonly tokens: TokenStore,
    private readonly now: () => number,
  ) {}

  /** Start a session for a live token; returns the cookie value. */
  create(token: TokenRecord, remoteIp: string | null): { cookie: string; session: UiSession } {
    const cookie = randomToken();
    const now = this.now();
    const row: SessionRow = {
      id_hash: hashSecret(cookie),
      token_id: token.id,
      csrf_token: randomToken(),
      created_at: now,
      last_seen_at: now,
      expires_at: Math.min(now + IDLE_MS, now + ABSOLUTE_MS),
    };
    this.db
      .prepare(
        'INSERT INTO ui_sessions (id_hash, token_id, csrf_token, created_at, last_seen_at, expires_at, remote_ip) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(row.id_hash, row.token_id, row.csrf_token, row.created_at, row.last_seen_at, row.expires_at, remoteIp);
    return {
      cookie,
      session: { idHash: row.id_hash, token, csrf: row.csrf_token, createdAt: now, expiresAt: row.expires_at },
    };
  }

  /** The live session a cookie value belongs to, extending its idle expiry; null if none. */
  resolve(cookie: string | undefined): UiSession | null {
    if (!cookie || cookie.length > 100) return null;
    const idHash = hashSecret(cookie);
    const row = this.db.prepare<[string], SessionRow>('SELECT * FROM ui_sessions WHERE id_hash = ?').get(idHash);
    if (!row) return null;
    const now = this.now();
    const token = this.tokens.get(row.token_id);
    if (row.expires_at <= now || !token || token.revokedAt !== null) {
      this.destroy(cookie);
      return null;
    }
    let expiresAt = row.expires_at;
    if (now - row.last_seen_at >= TOUCH_MS) {
      expiresAt = Math.min(now + IDLE_MS, row.created_at + ABSOLUTE_MS);
      this.db
        .prepare('UPDATE ui_sessions SET last_seen_at = ?, expires_at = ? WHERE id_hash = ?')
        .run(now, expiresAt, idHash);
    }
    return { idHash, token, csrf: row.csrf_token, createdAt: row.created_at, expiresAt };
  }

  destroy(cookie: string): void {
    this.db.prepare('DELETE FROM ui_sessions WHERE id_hash = ?').run(hashSecret(cookie));
  }
}
