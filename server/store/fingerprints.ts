/**
 * File fingerprints devices reported (SHA-256 of a catalogued tool's entry file or native binary),
 * which devices reported each and when, and the admin's decision. Whether one is shipped in the
 * signed bundle is decided by server/services/fingerprint-service.ts from these facts.
 */
import type Database from 'better-sqlite3';

import type { FingerprintKind, ToolFingerprint } from '../../policies/protocol.js';

export const FINGERPRINT_STATUSES = ['pending', 'approved', 'revoked'] as const;
/** `pending`: no admin decision yet (it may still ship if corroborated); `revoked`: never shipped. */
export type FingerprintStatus = (typeof FINGERPRINT_STATUSES)[number];

/** A stored fingerprint with what the devices said about it. */
export interface FingerprintRecord {
  sha256: string;
  /** The claim of the first report: tool, kind, size and version. */
  toolId: string;
  kind: FingerprintKind;
  size: number;
  version: string | null;
  status: FingerprintStatus;
  firstReportedAt: number;
  lastReportedAt: number;
  decidedAt: number | null;
  decidedBy: string | null;
  /** The first policy revision whose bundle carried it, or null. */
  shippedRevision: number | null;
  /** Distinct devices (not revoked) that reported this SHA-256. */
  devices: number;
  /** Of those, the devices whose claim (tool, kind, size) is the same as the first report's. */
  agreeing: number;
}

interface Row {
  sha256: string;
  tool_id: string;
  kind: FingerprintKind;
  size: number;
  version: string | null;
  status: FingerprintStatus;
  first_reported_at: number;
  decided_at: number | null;
  decided_by: string | null;
  shipped_revision: number | null;
  devices: number;
  agreeing: number;
  last_reported_at: number | null;
}

const SELECT = `SELECT f.*, count(r.device_id) AS devices,
                       coalesce(sum(r.tool_id = f.tool_id AND r.kind = f.kind AND r.size = f.size), 0) AS agreeing,
                       max(r.last_at) AS last_reported_at
                  FROM fingerprints f
                  LEFT JOIN fingerprint_reports r
                         ON r.sha256 = f.sha256
                        -- A revoked device's word no longer counts (a stolen laptop, a decommissioned VM).
                        AND r.device_id IN (SELECT id FROM devices WHERE revoked_at IS NULL)`;

const toRecord = (row: Row): FingerprintRecord => ({
  sha256: row.sha256,
  toolId: row.tool_id,
  kind: row.kind,
  size: row.size,
  version: row.version,
  status: row.status,
  firstReportedAt: row.first_reported_at,
  lastReportedAt: row.last_reported_at ?? row.first_reported_at,
  decidedAt: row.decided_at,
  decidedBy: row.decided_by,
  shippedRevision: row.shipped_revision,
  devices: row.devices,
  agreeing: row.agreeing,
});

export class FingerprintStore {
  private readonly insertFingerprint;
  private readonly upsertReport;
  private readonly byShaStmt;
  private readonly allStmt;
  private readonly byStatusStmt;
  private readonly countForDevice;
  private readonly decide;
  private readonly shipped;

  constructor(
    db: Database.Database,
    private readonly now: () => number,
  ) {
    this.insertFingerprint = db.prepare<[string, string, string, number, string | null, number]>(
      `INSERT INTO fingerprints (sha256, tool_id, kind, size, version, first_reported_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (sha256) DO NOTHING`,
    );
    this.upsertReport = db.prepare<[string, string, string, string, number, string | null, number, number]>(
      `INSERT INTO fingerprint_reports (sha256, device_id, tool_id, kind, size, version, first_at, last_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (sha256, device_id) DO UPDATE SET tool_id = excluded.tool_id, kind = excluded.kind,
         size = excluded.size, version = excluded.version, last_at = excluded.last_at`,
    );
    this.byShaStmt = db.prepare<[string], Row>(`${SELECT} WHERE f.sha256 = ? GROUP BY f.sha256`);
    this.allStmt = db.prepare<[number], Row>(
      `${SELECT} GROUP BY f.sha256 ORDER BY f.first_reported_at DESC, f.sha256 LIMIT ?`,
    );
    this.byStatusStmt = db.prepare<[string, number], Row>(
      `${SELECT} WHERE f.status = ? GROUP BY f.sha256 ORDER BY f.first_reported_at DESC, f.sha256 LIMIT ?`,
    );
    this.countForDevice = db.prepare<[string], { n: number }>(
      'SELECT count(*) AS n FROM fingerprint_reports WHERE device_id = ?',
    );
    this.decide = db.prepare<[FingerprintStatus, number, string, string]>(
      'UPDATE fingerprints SET status = ?, decided_at = ?, decided_by = ? WHERE sha256 = ?',
    );
    this.shipped = db.prepare<[number, string]>(
      'UPDATE fingerprints SET shipped_revision = ? WHERE sha256 = ? AND shipped_revision IS NULL',
    );
  }

  /**
   * Records a device's report (call inside a transaction). A fingerprint first seen takes this
   * report's claim; the device's own claim is kept per device either way. Returns how many
   * SHA-256s no device had reported before.
   */
  report(deviceId: string, fingerprints: readonly ToolFingerprint[]): number {
    const at = this.now();
    let fresh = 0;
    for (const fp of fingerprints) {
      fresh += this.insertFingerprint.run(fp.sha256, fp.toolId, fp.kind, fp.size, fp.version, at).changes;
      this.upsertReport.run(fp.sha256, deviceId, fp.toolId, fp.kind, fp.size, fp.version, at, at);
    }
    return fresh;
  }

  /** How many fingerprints this device has reported (each SHA-256 once). */
  reportedBy(deviceId: string): number {
    return this.countForDevice.get(deviceId)?.n ?? 0;
  }

  get(sha256: string): FingerprintRecord | undefined {
    const row = this.byShaStmt.get(sha256);
    return row && toRecord(row);
  }

  /** Newest first, at most `limit`, optionally of one status. */
  list(filter: { status?: FingerprintStatus }, limit: number): FingerprintRecord[] {
    const rows = filter.status ? this.byStatusStmt.all(filter.status, limit) : this.allStmt.all(limit);
    return rows.map(toRecord);
  }

  /** Sets the admin's decision (call inside the transaction that writes its audit entry). */
  setStatus(sha256: string, status: FingerprintStatus, by: string): void {
    this.decide.run(status, this.now(), by, sha256);
  }

  /** Notes the revision whose bundle first carried these fingerprints. */
  markShipped(sha256s: readonly string[], revision: number): void {
    for (const sha256 of sha256s) this.shipped.run(revision, sha256);
  }
}
