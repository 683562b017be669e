/** Reads behind the dashboard's tables that the stores do not already offer (all indexed and paged). */
import type Database from 'better-sqlite3';

import type { VersionCount } from '../jobs/current-pass.js';
import { dayNumber, dayText } from '../jobs/days.js';
import type { DeviceStatus } from '../reports/filters.js';
import { DEVICE_STATUS_SQL } from '../reports/kinds/coverage.js';

export interface DeviceListRow {
  id: string;
  hostname: string;
  group_name: string;
  os: string;
  users: string;
  agent_version: string;
  last_checkin_at: number | null;
  policy_revision: number | null;
  status: DeviceStatus;
  tools: number;
  /** Installed instances whose verdict is block. */
  blocked: number;
  /** Installed instances whose verdict is warn. */
  warned: number;
  /** The agent's health report: null until it sends one. */
  health: 'ok' | 'degraded' | null;
  /** JSON array of the agent's reasons (see policies/protocol.ts HealthReason). */
  health_reasons: string;
}

export interface DeviceSearch {
  q?: string;
  status?: DeviceStatus;
  group?: string;
  /** Only devices whose agent says it is degraded. */
  health?: 'degraded';
  page: number;
  pageSize: number;
}

/** Escape LIKE wildcards so a search for "dev_1" means that text. */
const likeText = (text: string) => `%${text.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;

export function searchDevices(
  db: Database.Database,
  search: DeviceSearch,
  staleBefore: number,
): { rows: DeviceListRow[]; total: number } {
  const where: string[] = [];
  const params: Record<string, string | number> = { stale_before: staleBefore };
  if (search.q) {
    where.push(
      `(d.hostname LIKE @q ESCAPE '\\' OR d.id = @q_exact OR d.group_name = @q_exact OR EXISTS (SELECT 1 FROM json_each(d.users) WHERE value LIKE @q ESCAPE '\\'))`,
    );
    params.q = likeText(search.q);
    params.q_exact = search.q.toLowerCase();
  }
  if (search.status) {
    where.push(`(${DEVICE_STATUS_SQL}) = @status`);
    params.status = search.status;
  }
  if (search.group) {
    where.push('d.group_name = @group');
    params.group = search.group;
  }
  if (search.health) {
    where.push('d.health = @health');
    params.health = search.health;
  }
  const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const total =
    db
      .prepare<[Record<string, string | number>], { n: number }>(`SELECT count(*) AS n FROM devices d ${clause}`)
      .get(params)?.n ?? 0;
  const rows = db
    .prepare<[Record<string, string | number>], DeviceListRow>(
      `SELECT d.id, d.hostname, d.group_name, d.os, d.users, d.agent_version, d.last_checkin_at, d.policy_revision, d.health, d.health_reasons,
              ${DEVICE_STATUS_SQL} AS status,
              (SELECT count(*) FROM instances i WHERE i.device_id = d.id AND i.present = 1) AS tools,
              (SELECT count(*) FROM instances i WHERE i.device_id = d.id AND i.present = 1 AND i.action = 'block') AS blocked,
              (SELECT count(*) FROM instances i WHERE i.device_id = d.id AND i.present = 1 AND i.action = 'warn') AS warned
         FROM devices d ${clause}
        ORDER BY d.hostname, d.id LIMIT @limit OFFSET @offset`,
    )
    .all({ ...params, limit: search.pageSize, offset: (search.page - 1) * search.pageSize });
  return { rows, total };
}

export function deviceGroups(db: Database.Database): string[] {
  return db
    .prepare<[], { group_name: string }>('SELECT DISTINCT group_name FROM devices ORDER BY group_name')
    .all()
    .map((r) => r.group_name);
}

export interface ToolSummary {
  toolId: string;
  installs: number;
  devices: number;
  warn: number;
  block: number;
}

/**
 * Installed instances on devices that are not revoked (revoked devices are few: a NOT IN list
 * lets SQLite read instances_by_tool alone, which holds device_id as part of the primary key).
 */
const NOT_REVOKED = 'i.device_id NOT IN (SELECT id FROM devices WHERE revoked_at IS NOT NULL)';

/**
 * Per tool (or one tool), what is installed now (live): present instances on devices that are
 * not revoked, the devices holding them, and how many are warned or blocked. The same rows as
 * the tool page's list of installs, so the figures above a table agree with it. Reads only the
 * instances_by_tool index (about 1 s for 1,000,000 instances on a loaded 2-core machine).
 */
export function toolSummaries(db: Database.Database, toolId?: string): ToolSummary[] {
  return db
    .prepare<[string | null, string | null], ToolSummary>(
      `SELECT i.tool_id AS toolId, count(*) AS installs, count(DISTINCT i.device_id) AS devices,
              coalesce(sum(i.action = 'warn'), 0) AS warn, coalesce(sum(i.action = 'block'), 0) AS block
         FROM instances i
        WHERE (? IS NULL OR i.tool_id = ?) AND i.present = 1 AND ${NOT_REVOKED}
        GROUP BY i.tool_id ORDER BY installs DESC, toolId`,
    )
    .all(toolId ?? null, toolId ?? null);
}

/**
 * The versions of one tool installed now (live, the same rows as toolSummaries), most installed
 * first. One tool only: across every tool this reads each instance row (seconds on a fleet of a
 * million instances), so the tools list takes its versions from the rollups instead.
 */
export function toolVersions(db: Database.Database, toolId: string): VersionCount[] {
  return db
    .prepare<[string], VersionCount>(
      `SELECT i.version, count(*) AS instances, count(DISTINCT i.device_id) AS devices
         FROM instances i
        WHERE i.tool_id = ? AND i.present = 1 AND ${NOT_REVOKED}
        GROUP BY i.version ORDER BY instances DESC, i.version`,
    )
    .all(toolId);
}

/** Installs per day of each tool over the last `days` days (zeros where nothing was installed). */
export function installTrends(
  db: Database.Database,
  now: number,
  days: number,
  toolId?: string,
): { days: string[]; byTool: Map<string, number[]>; firstDay: string | null } {
  const today = dayNumber(now);
  const list = Array.from({ length: days }, (_, i) => dayText(today - days + 1 + i));
  const index = new Map(list.map((d, i) => [d, i]));
  const byTool = new Map<string, number[]>();
  const rows = db
    .prepare<[string, string, string | null, string | null], { day: string; tool_id: string; n: number }>(
      `SELECT day, tool_id, sum(installs) AS n FROM rollup_inventory_day WHERE day >= ? AND day <= ? AND (? IS NULL OR tool_id = ?) GROUP BY day, tool_id`,
    )
    .all(list[0]!, list[list.length - 1]!, toolId ?? null, toolId ?? null);
  for (const row of rows) {
    let values = byTool.get(row.tool_id);
    if (!values) byTool.set(row.tool_id, (values = new Array<number>(days).fill(0)));
    values[index.get(row.day)!] = row.n;
  }
  const firstDay =
    db.prepare<[], { day: string | null }>('SELECT min(day) AS day FROM rollup_inventory_day').get()?.day ?? null;
  return { days: list, byTool, firstDay };
}

export interface ToolInstallRow {
  device_id: string;
  hostname: string;
  group_name: string;
  owner: string | null;
  version: string | null;
  channel: string;
  install_path: string;
  action: string | null;
  enforce: number | null;
  violation_since: number | null;
  last_seen_at: number;
}

/** Installed instances of one tool, by hostname (a page of them). */
export function toolInstalls(
  db: Database.Database,
  toolId: string,
  limit: number,
): { rows: ToolInstallRow[]; total: number } {
  // Counted over the same rows as listed (revoked devices left out), so "showing N of M" is true.
  const total =
    db
      .prepare<[string], { n: number }>(
        `SELECT count(*) AS n FROM instances i WHERE i.tool_id = ? AND i.present = 1 AND ${NOT_REVOKED}`,
      )
      .get(toolId)?.n ?? 0;
  const rows = db
    .prepare<[string, number], ToolInstallRow>(
      `SELECT device_id, hostname, group_name, owner, version, channel, install_path, action, enforce, violation_since, last_seen_at
         FROM inventory WHERE tool_id = ? AND present = 1 AND device_revoked_at IS NULL ORDER BY hostname, install_path LIMIT ?`,
    )
    .all(toolId, limit);
  return { rows, total };
}

export function pendingExceptionCount(db: Database.Database): number {
  return (
    db.prepare<[], { n: number }>("SELECT count(*) AS n FROM exception_requests WHERE status = 'pending'").get()?.n ?? 0
  );
}
