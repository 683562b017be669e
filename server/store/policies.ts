/** Published policy revisions. Revisions are never changed or deleted; a rollback is a new one. */
import type Database from 'better-sqlite3';

import type { PolicyDocument } from '../../policies/schema.js';

export interface PolicyRevisionSummary {
  revision: number;
  name: string;
  sha256: string;
  etag: string;
  publishedAt: number;
  publishedBy: string | null;
  comment: string | null;
  rollbackOf: number | null;
  exceptionRequest: string | null;
}

export interface PolicyRevision extends PolicyRevisionSummary {
  source: string;
  sourceFormat: 'yaml' | 'json';
  document: PolicyDocument;
  bundle: string;
}

/** A revision to store: the same fields a stored one has. */
export type NewRevision = PolicyRevision;

interface PolicyRow {
  revision: number;
  name: string;
  source: string;
  source_format: 'yaml' | 'json';
  document: string;
  sha256: string;
  bundle: string;
  etag: string;
  published_at: number;
  published_by: string | null;
  comment: string | null;
  rollback_of: number | null;
  exception_request: string | null;
}

const toSummary = (
  row: Omit<PolicyRow, 'source' | 'source_format' | 'document' | 'bundle'>,
): PolicyRevisionSummary => ({
  revision: row.revision,
  name: row.name,
  sha256: row.sha256,
  etag: row.etag,
  publishedAt: row.published_at,
  publishedBy: row.published_by,
  comment: row.comment,
  rollbackOf: row.rollback_of,
  exceptionRequest: row.exception_request,
});

const toRevision = (row: PolicyRow): PolicyRevision => ({
  ...toSummary(row),
  source: row.source,
  sourceFormat: row.source_format,
  document: JSON.parse(row.document) as PolicyDocument,
  bundle: row.bundle,
});

export class PolicyStore {
  private readonly insert;
  private readonly byRevision;
  private readonly latest;
  private readonly latestNumber;
  private readonly history;

  constructor(db: Database.Database) {
    this.insert = db.prepare<[PolicyRow]>(
      `INSERT INTO policies (revision, name, source, source_format, document, sha256, bundle, etag, published_at, published_by, comment,
                             rollback_of, exception_request)
       VALUES (@revision, @name, @source, @source_format, @document, @sha256, @bundle, @etag, @published_at, @published_by, @comment,
               @rollback_of, @exception_request)`,
    );
    this.byRevision = db.prepare<[number], PolicyRow>('SELECT * FROM policies WHERE revision = ?');
    this.latest = db.prepare<[], PolicyRow>('SELECT * FROM policies ORDER BY revision DESC LIMIT 1');
    this.latestNumber = db.prepare<[], { revision: number | null }>('SELECT max(revision) AS revision FROM policies');
    this.history = db.prepare<[number, number], PolicyRow>(
      `SELECT revision, name, sha256, etag, published_at, published_by, comment, rollback_of, exception_request
         FROM policies WHERE revision < ? ORDER BY revision DESC LIMIT ?`,
    );
  }

  /** Insert a revision. Call inside a transaction that also writes its audit entry. */
  add(input: NewRevision): void {
    this.insert.run({
      revision: input.revision,
      name: input.name,
      source: input.source,
      source_format: input.sourceFormat,
      document: JSON.stringify(input.document),
      sha256: input.sha256,
      bundle: input.bundle,
      etag: input.etag,
      published_at: input.publishedAt,
      published_by: input.publishedBy,
      comment: input.comment,
      rollback_of: input.rollbackOf,
      exception_request: input.exceptionRequest,
    });
  }

  get(revision: number): PolicyRevision | undefined {
    const row = this.byRevision.get(revision);
    return row && toRevision(row);
  }

  current(): PolicyRevision | undefined {
    const row = this.latest.get();
    return row && toRevision(row);
  }

  latestRevision(): number {
    return this.latestNumber.get()?.revision ?? 0;
  }

  /** Newest first, `limit` revisions older than `before`. */
  list(before: number, limit: number): PolicyRevisionSummary[] {
    return this.history.all(before, limit).map(toSummary);
  }
}
