/**
 * Current inventory per device and tool instance, and the history of changes to it. A check-in
 * replaces the device's set of present instances: new ones "appear", missing ones "disappear",
 * and version or verdict changes are recorded. Unchanged instances (the usual case, found by
 * comparing a digest of what was reported) cost no write at all: a present instance was last
 * seen at its device's last check-in, which the `inventory` view resolves.
 *
 * A violation is an instance whose verdict is not `allow` (warn or block, enforced or in monitor
 * mode); `violation_since` is when it last became one and stays while it remains one.
 */
import { createHash } from 'node:crypto';

import type Database from 'better-sqlite3';

import { instanceKey, type ToolInstance } from '../../policies/inventory.js';
import type { Action } from '../../policies/schema.js';
import type { Verdict } from '../../policies/verdict.js';

export type InstanceChange = 'appeared' | 'version-changed' | 'disappeared' | 'verdict-changed';

export interface ReportedInstance {
  instance: ToolInstance;
  verdict: Verdict | null;
}

export interface CheckinSummary {
  appeared: number;
  changed: number;
  disappeared: number;
  unchanged: number;
}

export interface StoredInstance {
  deviceId: string;
  group: string;
  instance: ToolInstance;
  verdict: Verdict | null;
  present: boolean;
  firstSeenAt: number;
  lastSeenAt: number;
  /** When what the agent reported about it last changed. */
  changedAt: number;
  disappearedAt: number | null;
  violationSince: number | null;
  policyRevision: number | null;
}

interface CurrentRow {
  instance_key: string;
  digest: string;
  version: string | null;
  action: Action | null;
  present: number;
  violation_since: number | null;
}

/** A row of the `instances` table. */
interface InstanceRow {
  device_id: string;
  instance_key: string;
  group_name: string;
  tool_id: string;
  name: string | null;
  version: string | null;
  channel: string;
  install_path: string;
  owner: string | null;
  host: string | null;
  running: number | null;
  detail: string;
  action: Action | null;
  phase: string | null;
  enforce: number | null;
  decided_by: string | null;
  effective_at: string | null;
  verdict: string | null;
  digest: string;
  present: number;
  first_seen_at: number;
  changed_at: number;
  seen_until: number | null;
  disappeared_at: number | null;
  violation_since: number | null;
  policy_revision: number | null;
}

/** A row of the `inventory` view. */
export interface InventoryRow extends Omit<InstanceRow, 'digest' | 'seen_until'> {
  last_seen_at: number;
  hostname: string;
  os: string;
}

interface Detail {
  launchers: string[];
  evidence: string[];
  versionError?: string;
  pids?: number[];
}

/** Bounds the memory of rememberApplied (about 100 bytes a device). */
const MAX_REMEMBERED_DEVICES = 500_000;

const isViolation = (action: Action | null | undefined): boolean => action === 'warn' || action === 'block';

function digestOf(reported: ReportedInstance): string {
  return createHash('sha1').update(JSON.stringify(reported)).digest('base64');
}

/** The ToolInstance a stored inventory row (the `inventory` view) describes, as the agent reported it. */
export function rowToInstance(row: InventoryRow): ToolInstance {
  const detail = JSON.parse(row.detail) as Detail;
  const instance: ToolInstance = {
    toolId: row.tool_id,
    version: row.version,
    channel: row.channel as ToolInstance['channel'],
    installPath: row.install_path,
    launchers: detail.launchers,
    owner: row.owner,
    evidence: detail.evidence,
  };
  if (row.name !== null) instance.name = row.name;
  if (detail.versionError !== undefined) instance.versionError = detail.versionError;
  if (row.host !== null) instance.host = row.host;
  if (row.running !== null) instance.running = row.running === 1;
  if (detail.pids !== undefined) instance.pids = detail.pids;
  return instance;
}

/** How far before its receipt a check-in's scan may have started and still date a violation. */
const MAX_SCAN_AGE_MS = 24 * 3600_000;

/**
 * When a violation reported by a check-in received at `receivedAt` (server clock, ms) began: the
 * start of the agent's scan (`scannedAt`, RFC 3339) when it lies within the day before receipt,
 * else the receipt. The agent enforces in the same cycle, after the scan and before the
 * check-in, so its events about the violation (quarantined, blocked launches) are dated after the
 * scan; dating the violation at the receipt would leave them out of the violations report.
 */
export function violationStart(receivedAt: number, scannedAt: string | undefined): number {
  const scan = scannedAt === undefined ? Number.NaN : Date.parse(scannedAt);
  return Number.isFinite(scan) && scan <= receivedAt && scan >= receivedAt - MAX_SCAN_AGE_MS ? scan : receivedAt;
}

export class InventoryStore {
  private readonly current;
  private readonly insert;
  private readonly update;
  private readonly lastCheckin;
  private readonly markGone;
  private readonly history;
  private readonly byDevice;
  private readonly presentAll;

  /**
   * Per device, the digest of the check-in last applied (see applyCheckin): an agent usually
   * reports exactly what it reported last time, and then there is nothing to compare or write.
   * Filled after commit by rememberApplied; lost on restart, which only costs one full pass.
   */
  private readonly appliedDigests = new Map<string, string>();

  constructor(private readonly db: Database.Database) {
    this.current = db.prepare<[string], CurrentRow>(
      'SELECT instance_key, digest, version, action, present, violation_since FROM instances WHERE device_id = ?',
    );
    const columns = `device_id, instance_key, group_name, tool_id, name, version, channel, install_path, owner, host, running, detail,
       action, phase, enforce, decided_by, effective_at, verdict, digest, present, first_seen_at, changed_at, seen_until, disappeared_at,
       violation_since, policy_revision`;
    const values = columns
      .split(',')
      .map((c) => `@${c.trim()}`)
      .join(', ');
    this.insert = db.prepare<[InstanceRow]>(`INSERT INTO instances (${columns}) VALUES (${values})`);
    this.update = db.prepare<[InstanceRow]>(
      `UPDATE instances SET group_name = @group_name, tool_id = @tool_id, name = @name, version = @version, channel = @channel,
              install_path = @install_path, owner = @owner, host = @host, running = @running, detail = @detail, action = @action,
              phase = @phase, enforce = @enforce, decided_by = @decided_by, effective_at = @effective_at, verdict = @verdict,
              digest = @digest, present = 1, changed_at = @changed_at, seen_until = NULL, disappeared_at = NULL,
              violation_since = @violation_since, policy_revision = @policy_revision
        WHERE device_id = @device_id AND instance_key = @instance_key`,
    );
    this.lastCheckin = db.prepare<[string], { last_checkin_at: number | null }>(
      'SELECT last_checkin_at FROM devices WHERE id = ?',
    );
    this.markGone = db.prepare<[number, number, string, string]>(
      'UPDATE instances SET present = 0, disappeared_at = ?, seen_until = ?, violation_since = NULL WHERE device_id = ? AND instance_key = ?',
    );
    this.history = db.prepare(
      `INSERT INTO instance_history (at, device_id, instance_key, tool_id, change, old_version, new_version, old_action, new_action, policy_revision)
       VALUES (@at, @device_id, @instance_key, @tool_id, @change, @old_version, @new_version, @old_action, @new_action, @policy_revision)`,
    );
    this.byDevice = db.prepare<[string], InventoryRow>(
      'SELECT * FROM inventory WHERE device_id = ? ORDER BY tool_id, install_path',
    );
    this.presentAll = db.prepare<[], InventoryRow>(
      'SELECT * FROM inventory WHERE present = 1 AND device_revoked_at IS NULL ORDER BY device_id',
    );
  }

  /**
   * Apply one check-in. Call inside the check-in's transaction, before the device's own row is
   * updated. With `checkinDigest` (a digest of everything reported), a check-in identical to the
   * last one applied for this device is recognised without reading a row. `violationStart` is
   * when a violation first reported by this check-in began (see `violationStart`), default `at`.
   */
  applyCheckin(
    deviceId: string,
    group: string,
    at: number,
    policyRevision: number | null,
    reported: readonly ReportedInstance[],
    checkinDigest?: string,
    violationStart: number = at,
  ): CheckinSummary {
    const summary: CheckinSummary = { appeared: 0, changed: 0, disappeared: 0, unchanged: 0 };
    if (checkinDigest !== undefined && this.appliedDigests.get(deviceId) === checkinDigest) {
      summary.unchanged = reported.length;
      return summary;
    }
    const existing = new Map<string, CurrentRow>();
    for (const row of this.current.all(deviceId)) existing.set(row.instance_key, row);
    const seen = new Set<string>();

    for (const item of reported) {
      const key = instanceKey(item.instance);
      seen.add(key);
      const digest = digestOf(item);
      const before = existing.get(key);
      if (before && before.present === 1 && before.digest === digest) {
        summary.unchanged++;
        continue;
      }
      const action = item.verdict?.action ?? null;
      const stillViolation =
        before !== undefined && before.present === 1 && isViolation(before.action) && isViolation(action);
      const row = this.toRow(deviceId, key, group, at, policyRevision, item, digest, {
        violationSince: isViolation(action) ? (stillViolation ? before.violation_since : violationStart) : null,
      });
      const record = (change: InstanceChange, oldVersion: string | null, oldAction: Action | null) =>
        this.history.run({
          at,
          device_id: deviceId,
          instance_key: key,
          tool_id: item.instance.toolId,
          change,
          old_version: oldVersion,
          new_version: item.instance.version,
          old_action: oldAction,
          new_action: action,
          policy_revision: policyRevision,
        });

      if (!before) {
        this.insert.run(row);
        record('appeared', null, null);
        summary.appeared++;
      } else if (before.present === 0) {
        this.update.run(row);
        record('appeared', before.version, before.action);
        summary.appeared++;
      } else {
        this.update.run(row);
        if (before.version !== item.instance.version) record('version-changed', before.version, before.action);
        if (before.action !== action) record('verdict-changed', before.version, before.action);
        summary.changed++;
      }
    }

    let previousCheckin: number | undefined;
    for (const [key, before] of existing) {
      if (before.present === 0 || seen.has(key)) continue;
      // Last seen by the previous check-in, the last one that still reported it.
      previousCheckin ??= this.lastCheckin.get(deviceId)?.last_checkin_at ?? at;
      this.markGone.run(at, previousCheckin, deviceId, key);
      this.history.run({
        at,
        device_id: deviceId,
        instance_key: key,
        tool_id: key.slice(0, key.indexOf('\u0000')),
        change: 'disappeared',
        old_version: before.version,
        new_version: null,
        old_action: before.action,
        new_action: null,
        policy_revision: policyRevision,
      });
      summary.disappeared++;
    }
    return summary;
  }

  /** Record that the check-in with this digest is committed as the device's current state. */
  rememberApplied(deviceId: string, checkinDigest: string): void {
    if (this.appliedDigests.size >= MAX_REMEMBERED_DEVICES && !this.appliedDigests.has(deviceId)) {
      const oldest = this.appliedDigests.keys().next().value;
      if (oldest !== undefined) this.appliedDigests.delete(oldest);
    }
    this.appliedDigests.delete(deviceId);
    this.appliedDigests.set(deviceId, checkinDigest);
  }

  /** Forget the remembered check-in of a device, so its next check-in is compared row by row. */
  forgetApplied(deviceId: string): void {
    this.appliedDigests.delete(deviceId);
  }

  /** A digest of a whole check-in's instances and verdicts, for applyCheckin. */
  static checkinDigest(inventory: readonly ToolInstance[], verdicts: readonly Verdict[]): string {
    return createHash('sha1')
      .update(JSON.stringify(inventory))
      .update('\u0000')
      .update(JSON.stringify(verdicts))
      .digest('base64');
  }

  private toRow(
    deviceId: string,
    key: string,
    group: string,
    at: number,
    policyRevision: number | null,
    { instance, verdict }: ReportedInstance,
    digest: string,
    extra: { violationSince: number | null },
  ): InstanceRow {
    const detail: Detail = { launchers: instance.launchers, evidence: instance.evidence };
    if (instance.versionError !== undefined) detail.versionError = instance.versionError;
    if (instance.pids !== undefined) detail.pids = instance.pids;
    return {
      device_id: deviceId,
      instance_key: key,
      group_name: group,
      tool_id: instance.toolId,
      name: instance.name ?? null,
      version: instance.version,
      channel: instance.channel,
      install_path: instance.installPath,
      owner: instance.owner,
      host: instance.host ?? null,
      running: instance.running === undefined ? null : instance.running ? 1 : 0,
      detail: JSON.stringify(detail),
      action: verdict?.action ?? null,
      phase: verdict?.phase ?? null,
      enforce: verdict ? (verdict.enforce ? 1 : 0) : null,
      decided_by: verdict?.decidedBy.name ?? null,
      effective_at: verdict?.effectiveAt ?? null,
      verdict: verdict ? JSON.stringify(verdict) : null,
      digest,
      present: 1,
      first_seen_at: at,
      changed_at: at,
      seen_until: null,
      disappeared_at: null,
      violation_since: extra.violationSince,
      policy_revision: policyRevision,
    };
  }

  private toStored(row: InventoryRow): StoredInstance {
    return {
      deviceId: row.device_id,
      group: row.group_name,
      instance: rowToInstance(row),
      verdict: row.verdict ? (JSON.parse(row.verdict) as Verdict) : null,
      present: row.present === 1,
      firstSeenAt: row.first_seen_at,
      lastSeenAt: row.last_seen_at,
      changedAt: row.changed_at,
      disappearedAt: row.disappeared_at,
      violationSince: row.violation_since,
      policyRevision: row.policy_revision,
    };
  }

  /**
   * What a device has ever reported in its inventory: tool ids and instance owners (present or
   * gone). Exception requests may only name these (see ExceptionService.request).
   */
  reportedBy(deviceId: string): { toolIds: Set<string>; owners: Set<string> } {
    const rows = this.db
      .prepare<[string], { tool_id: string; owner: string | null }>(
        'SELECT DISTINCT tool_id, owner FROM instances WHERE device_id = ?',
      )
      .all(deviceId);
    return {
      toolIds: new Set(rows.map((r) => r.tool_id)),
      owners: new Set(rows.flatMap((r) => (r.owner === null ? [] : [r.owner]))),
    };
  }

  forDevice(deviceId: string): StoredInstance[] {
    return this.byDevice.all(deviceId).map((row) => this.toStored(row));
  }

  /** Every present instance on every active device, grouped by device (for previews). */
  *presentByDevice(): Generator<{
    deviceId: string;
    group: string;
    os: string;
    hostname: string;
    instances: StoredInstance[];
  }> {
    let batch: { deviceId: string; group: string; os: string; hostname: string; instances: StoredInstance[] } | null =
      null;
    for (const row of this.presentAll.iterate()) {
      if (!batch || batch.deviceId !== row.device_id) {
        if (batch) yield batch;
        batch = { deviceId: row.device_id, group: row.group_name, os: row.os, hostname: row.hostname, instances: [] };
      }
      batch.instances.push(this.toStored(row));
    }
    if (batch) yield batch;
  }

  historyFor(
    deviceId: string,
    limit: number,
  ): {
    at: number;
    toolId: string;
    change: InstanceChange;
    oldVersion: string | null;
    newVersion: string | null;
    oldAction: string | null;
    newAction: string | null;
    installPath: string;
  }[] {
    return this.db
      .prepare<
        [string, number],
        {
          at: number;
          tool_id: string;
          change: InstanceChange;
          old_version: string | null;
          new_version: string | null;
          old_action: string | null;
          new_action: string | null;
          instance_key: string;
        }
      >('SELECT * FROM instance_history WHERE device_id = ? ORDER BY id DESC LIMIT ?')
      .all(deviceId, limit)
      .map((row) => ({
        at: row.at,
        toolId: row.tool_id,
        change: row.change,
        oldVersion: row.old_version,
        newVersion: row.new_version,
        oldAction: row.old_action,
        newAction: row.new_action,
        installPath: row.instance_key.slice(row.instance_key.indexOf('\u0000') + 1),
      }));
  }
}
