/** Enrolled devices: their public keys, facts, group and the latest state they reported. */
import type Database from 'better-sqlite3';

import type { AgentHealth, HealthReason } from '../../policies/protocol.js';
import type { OsName } from '../../policies/schema.js';

export interface DeviceFactsInput {
  hostname: string;
  os: OsName;
  osVersion: string | null;
  arch: string | null;
  users: string[];
  agentVersion: string;
}

export interface DeviceRecord extends DeviceFactsInput {
  id: string;
  keyThumbprint: string;
  publicJwk: string;
  group: string;
  enrollSecretId: string | null;
  enrolledAt: number;
  lastSeenAt: number | null;
  lastCheckinAt: number | null;
  policyRevision: number | null;
  revokedAt: number | null;
  /** The agent's last health report: `null` until it sends one (older agents never do). */
  health: AgentHealth['state'] | null;
  /** Why it is degraded, as the agent said; empty when ok. */
  healthReasons: HealthReason[];
  /** The check-in that first reported the current degraded spell (ms since the epoch); null when ok. */
  degradedSince: number | null;
}

interface DeviceRow {
  id: string;
  key_thumbprint: string;
  public_jwk: string;
  hostname: string;
  os: OsName;
  os_version: string | null;
  arch: string | null;
  users: string;
  agent_version: string;
  group_name: string;
  enroll_secret_id: string | null;
  enrolled_at: number;
  last_seen_at: number | null;
  last_checkin_at: number | null;
  policy_revision: number | null;
  revoked_at: number | null;
  health: AgentHealth['state'] | null;
  health_reasons: string;
  degraded_since: number | null;
}

/** The stored user list (a JSON array of names); anything else reads as no users. */
export function parseUsers(text: string): string[] {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((u): u is string => typeof u === 'string') : [];
  } catch {
    return [];
  }
}

/** The stored reasons; rows written by this store only, so a shape check is enough. */
export function parseHealthReasons(text: string): HealthReason[] {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value)
      ? value.filter(
          (r): r is HealthReason => typeof r === 'object' && r !== null && typeof (r as HealthReason).code === 'string',
        )
      : [];
  } catch {
    return [];
  }
}

const toRecord = (row: DeviceRow): DeviceRecord => ({
  id: row.id,
  keyThumbprint: row.key_thumbprint,
  publicJwk: row.public_jwk,
  hostname: row.hostname,
  os: row.os,
  osVersion: row.os_version,
  arch: row.arch,
  users: parseUsers(row.users),
  agentVersion: row.agent_version,
  group: row.group_name,
  enrollSecretId: row.enroll_secret_id,
  enrolledAt: row.enrolled_at,
  lastSeenAt: row.last_seen_at,
  lastCheckinAt: row.last_checkin_at,
  policyRevision: row.policy_revision,
  revokedAt: row.revoked_at,
  health: row.health,
  healthReasons: parseHealthReasons(row.health_reasons),
  degradedSince: row.degraded_since,
});

export interface DeviceFilter {
  group?: string;
  includeRevoked?: boolean;
}

export class DeviceStore {
  private readonly insert;
  private readonly byId;
  private readonly byThumbprint;
  private readonly updateFactsStmt;
  private readonly updateGroupInstances;
  private readonly revokeStmt;
  private readonly checkinStmt;
  private readonly seenStmt;
  private readonly groupsStmt;

  constructor(
    private readonly db: Database.Database,
    private readonly now: () => number,
  ) {
    this.insert = db.prepare<[Omit<DeviceRow, 'health' | 'health_reasons' | 'degraded_since'>]>(
      `INSERT INTO devices (id, key_thumbprint, public_jwk, hostname, os, os_version, arch, users, agent_version, group_name,
                            enroll_secret_id, enrolled_at, last_seen_at, last_checkin_at, policy_revision, revoked_at)
       VALUES (@id, @key_thumbprint, @public_jwk, @hostname, @os, @os_version, @arch, @users, @agent_version, @group_name,
               @enroll_secret_id, @enrolled_at, @last_seen_at, @last_checkin_at, @policy_revision, @revoked_at)`,
      // health columns keep their defaults (not reported yet)
    );
    this.byId = db.prepare<[string], DeviceRow>('SELECT * FROM devices WHERE id = ?');
    this.byThumbprint = db.prepare<[string], DeviceRow>('SELECT * FROM devices WHERE key_thumbprint = ?');
    this.updateFactsStmt = db.prepare(
      `UPDATE devices SET hostname = @hostname, os = @os, os_version = @os_version, arch = @arch, users = @users,
              agent_version = @agent_version, group_name = @group_name, last_seen_at = @now WHERE id = @id`,
    );
    this.updateGroupInstances = db.prepare<[string, string]>('UPDATE instances SET group_name = ? WHERE device_id = ?');
    this.revokeStmt = db.prepare<[number, string]>(
      'UPDATE devices SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
    );
    this.checkinStmt = db.prepare(
      `UPDATE devices SET last_checkin_at = @now, last_seen_at = @now, policy_revision = @policy_revision,
              agent_version = coalesce(@agent_version, agent_version), hostname = coalesce(@hostname, hostname),
              users = coalesce(@users, users),
              -- A check-in without a health report (an older agent) leaves the last one in place.
              degraded_since = CASE WHEN @health IS NULL THEN degraded_since
                                    WHEN @health = 'degraded' THEN CASE WHEN health = 'degraded' THEN degraded_since ELSE @now END
                                    ELSE NULL END,
              health = coalesce(@health, health),
              health_reasons = coalesce(@health_reasons, health_reasons)
        WHERE id = @id`,
    );
    this.seenStmt = db.prepare<[number, string, number]>(
      'UPDATE devices SET last_seen_at = ? WHERE id = ? AND (last_seen_at IS NULL OR last_seen_at < ?)',
    );
    this.groupsStmt = db.prepare<
      [],
      { group_name: string; devices: number; active: number; last_checkin_at: number | null }
    >(
      `SELECT group_name, count(*) AS devices, sum(revoked_at IS NULL) AS active, max(last_checkin_at) AS last_checkin_at
         FROM devices GROUP BY group_name ORDER BY group_name`,
    );
  }

  create(input: {
    id: string;
    keyThumbprint: string;
    publicJwk: string;
    group: string;
    enrollSecretId: string | null;
    facts: DeviceFactsInput;
  }): DeviceRecord {
    const now = this.now();
    const row = {
      id: input.id,
      key_thumbprint: input.keyThumbprint,
      public_jwk: input.publicJwk,
      hostname: input.facts.hostname,
      os: input.facts.os,
      os_version: input.facts.osVersion,
      arch: input.facts.arch,
      users: JSON.stringify(input.facts.users),
      agent_version: input.facts.agentVersion,
      group_name: input.group,
      enroll_secret_id: input.enrollSecretId,
      enrolled_at: now,
      last_seen_at: now,
      last_checkin_at: null,
      policy_revision: null,
      revoked_at: null,
    };
    this.insert.run(row);
    return toRecord({ ...row, health: null, health_reasons: '[]', degraded_since: null });
  }

  get(id: string): DeviceRecord | undefined {
    const row = this.byId.get(id);
    return row && toRecord(row);
  }

  findByThumbprint(thumbprint: string): DeviceRecord | undefined {
    const row = this.byThumbprint.get(thumbprint);
    return row && toRecord(row);
  }

  /** Refresh facts on re-enrollment; moving group also moves the device's inventory rows. */
  updateFacts(id: string, group: string, facts: DeviceFactsInput): void {
    this.db.transaction(() => {
      this.updateFactsStmt.run({
        id,
        hostname: facts.hostname,
        os: facts.os,
        os_version: facts.osVersion,
        arch: facts.arch,
        users: JSON.stringify(facts.users),
        agent_version: facts.agentVersion,
        group_name: group,
        now: this.now(),
      });
      this.updateGroupInstances.run(group, id);
    })();
  }

  /**
   * Record a check-in at `at` (ms). Fields left out keep their stored value; a `health` report
   * replaces the last one, and the first `degraded` after `ok` (or none) starts `degradedSince`.
   */
  recordCheckin(
    id: string,
    at: number,
    input: {
      policyRevision: number | null;
      agentVersion?: string;
      hostname?: string;
      users?: string[];
      health?: AgentHealth;
    },
  ): void {
    this.checkinStmt.run({
      id,
      now: at,
      policy_revision: input.policyRevision,
      agent_version: input.agentVersion ?? null,
      hostname: input.hostname ?? null,
      users: input.users ? JSON.stringify(input.users) : null,
      health: input.health?.state ?? null,
      health_reasons: input.health ? JSON.stringify(input.health.state === 'ok' ? [] : input.health.reasons) : null,
    });
  }

  /** Record that devices were seen (policy polls), at most one write per device per `resolutionMs`. */
  markSeen(seen: ReadonlyMap<string, number>, resolutionMs: number): void {
    if (seen.size === 0) return;
    this.db.transaction(() => {
      for (const [id, at] of seen) this.seenStmt.run(at, id, at - resolutionMs);
    })();
  }

  revoke(id: string): boolean {
    return this.revokeStmt.run(this.now(), id).changes > 0;
  }

  list(filter: DeviceFilter = {}, page: { after?: string; limit: number } = { limit: 1000 }): DeviceRecord[] {
    const where: string[] = [];
    const params: Record<string, string | number> = { limit: page.limit };
    if (filter.group !== undefined) {
      where.push('group_name = @group');
      params.group = filter.group;
    }
    if (!filter.includeRevoked) where.push('revoked_at IS NULL');
    if (page.after !== undefined) {
      where.push('id > @after');
      params.after = page.after;
    }
    const sql = `SELECT * FROM devices ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT @limit`;
    return this.db.prepare<[Record<string, string | number>], DeviceRow>(sql).all(params).map(toRecord);
  }

  groups(): { group: string; devices: number; active: number; lastCheckinAt: number | null }[] {
    return this.groupsStmt.all().map((row) => ({
      group: row.group_name,
      devices: row.devices,
      active: row.active,
      lastCheckinAt: row.last_checkin_at,
    }));
  }
}
