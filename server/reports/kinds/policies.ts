/** policies: the published revisions: who published what, when, and why. */
import type { PolicyDocument } from '../../../policies/schema.js';
import { column, isoOrNull } from '../columns.js';
import { mapRows, type ReportDefinition, Where } from '../definition.js';

interface PolicyRow {
  revision: number;
  name: string;
  published_at: number;
  published_by: string | null;
  comment: string | null;
  rollback_of: number | null;
  exception_request: string | null;
  sha256: string;
  source_format: string;
  source: string;
  document: string;
}

function summary(documentText: string): { mode: string | null; rules: number | null; exceptions: number | null } {
  try {
    const document = JSON.parse(documentText) as PolicyDocument;
    return {
      mode: document.spec.mode ?? 'enforce',
      rules: document.spec.rules?.length ?? 0,
      exceptions: document.spec.exceptions?.length ?? 0,
    };
  } catch {
    return { mode: null, rules: null, exceptions: null };
  }
}

export const policiesReport: ReportDefinition = {
  kind: 'policies',
  title: 'Policy history',
  summary: 'Every published policy revision: who published it, when, why, and its full source',
  description: 'One row per revision, oldest first. `from`/`to` select by publication time.',
  columns: [
    column('revision', 'integer', 'revision number'),
    column('name', 'string', 'metadata.name of the policy'),
    column('published_at', 'instant', 'when it was published'),
    column('published_by', 'string', 'the token (person) that published it'),
    column('comment', 'string', 'why, as given at publication'),
    column('rollback_of', 'integer', 'for a rollback: the revision whose content it republished'),
    column('exception_request', 'string', 'for an approved exception request: its id'),
    column('mode', 'string', 'enforce | monitor'),
    column('rules', 'integer', 'number of rules'),
    column('exceptions', 'integer', 'number of exceptions'),
    column('current', 'boolean', 'the revision in force now'),
    column('sha256', 'string', 'hash of the normalised policy, as signed into the bundle'),
    column('source_format', 'string', 'yaml | json'),
    column('source', 'string', 'the policy file exactly as published'),
  ],
  filters: ['from', 'to'],
  open({ db, currentRevision }, filters) {
    const where = new Where();
    if (filters.fromMs !== undefined) where.add('published_at >= @from', { from: filters.fromMs });
    if (filters.toMs !== undefined) where.add('published_at < @to', { to: filters.toMs });
    const statement = db.prepare<[Record<string, string | number>], PolicyRow>(
      `SELECT revision, name, published_at, published_by, comment, rollback_of, exception_request, sha256, source_format, source, document
         FROM policies ${where} ORDER BY revision`,
    );
    return {
      rows: mapRows(statement.iterate(where.params), (row) => {
        const { mode, rules, exceptions } = summary(row.document);
        return [
          row.revision,
          row.name,
          isoOrNull(row.published_at),
          row.published_by,
          row.comment,
          row.rollback_of,
          row.exception_request,
          mode,
          rules,
          exceptions,
          row.revision === currentRevision,
          row.sha256,
          row.source_format,
          row.source,
        ];
      }),
    };
  },
};
