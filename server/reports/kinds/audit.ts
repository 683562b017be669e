/**
 * audit: the hash-chained log of admin actions, with its verification. The whole chain is
 * verified first (the result is in the JSON document and in x-aigate-audit-* headers), and
 * every row carries its own check: does it follow its predecessor, and does its hash still
 * match its content?
 */
import { AuditLog, type AuditRow, entryHash, GENESIS_HASH, toEntry } from '../../store/audit.js';
import { column, isoOrNull, type Row } from '../columns.js';
import type { ReportDefinition } from '../definition.js';

export const CHAIN_STATUSES = ['ok', 'gap', 'unlinked', 'changed'] as const;
type ChainStatus = (typeof CHAIN_STATUSES)[number];

/** One row's own check, given the row before it (null for the first). */
function chainStatus(row: AuditRow, previous: Pick<AuditRow, 'seq' | 'hash'> | null): ChainStatus {
  if (row.seq !== (previous?.seq ?? 0) + 1) return 'gap';
  if (row.prev_hash !== (previous?.hash ?? GENESIS_HASH)) return 'unlinked';
  const computed = entryHash(row.prev_hash, toEntry(row));
  return computed === row.hash ? 'ok' : 'changed';
}

export const auditReport: ReportDefinition = {
  kind: 'audit',
  title: 'Audit log',
  summary: 'The hash-chained log of admin actions, verified',
  description:
    "One row per entry, in order. The whole chain is verified first: the JSON document has `verification` ({ ok, entries, headHash, brokenAt?, problem? }) and every format gets the headers x-aigate-audit-verified (ok | broken), x-aigate-audit-entries, x-aigate-audit-head and x-aigate-audit-broken-at. `chain` is each row's own check: ok; gap (entries before it are missing); unlinked (it does not point at the hash of the entry before it); changed (its content no longer matches its hash). Keep `headHash` somewhere else to detect entries cut off the end later. `from`/`to` select by time; the chain is always checked whole.",
  columns: [
    column('seq', 'integer', 'sequence number'),
    column('at', 'instant', 'when'),
    column('actor_id', 'string', 'the token that acted (empty for the server itself)'),
    column('actor_name', 'string', 'its name'),
    column('actor_role', 'string', 'admin | auditor | system'),
    column('action', 'string', 'what was done, e.g. policy.publish, exception.approve, token.create'),
    column('target', 'string', 'what it was done to, e.g. policy:7'),
    column('details', 'json', 'the facts recorded with it'),
    column('remote_ip', 'string', 'the client address'),
    column('prev_hash', 'string', 'hash of the previous entry'),
    column('hash', 'string', 'SHA-256 over prev_hash and this entry'),
    column('chain', 'string', 'ok | gap | unlinked | changed'),
  ],
  filters: ['from', 'to'],
  open({ db, now }, filters) {
    const verification = new AuditLog(db, () => now).verify();
    const statement = db.prepare<[], AuditRow>('SELECT * FROM audit_log ORDER BY seq');
    const inRange = (at: number) =>
      (filters.fromMs === undefined || at >= filters.fromMs) && (filters.toMs === undefined || at < filters.toMs);
    function* rows(): Generator<Row> {
      let previous: AuditRow | null = null;
      for (const row of statement.iterate()) {
        const status = chainStatus(row, previous);
        previous = row;
        if (!inRange(row.at)) continue;
        yield [
          row.seq,
          isoOrNull(row.at),
          row.actor_id,
          row.actor_name,
          row.actor_role,
          row.action,
          row.target,
          row.details,
          row.remote_ip,
          row.prev_hash,
          row.hash,
          status,
        ];
      }
    }
    const headers: Record<string, string> = {
      'x-aigate-audit-verified': verification.ok ? 'ok' : 'broken',
      'x-aigate-audit-entries': String(verification.entries),
      'x-aigate-audit-head': verification.headHash,
    };
    if (verification.brokenAt !== undefined) headers['x-aigate-audit-broken-at'] = String(verification.brokenAt);
    return { rows: rows(), meta: { verification }, headers };
  },
};
