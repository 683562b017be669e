/**
 * compliance: per group (or per operating system), how many devices are compliant now and how
 * that share moved. Today's figures are read live from the devices and their installed
 * instances; the share 7 and 30 days ago comes from the daily rollups (rollup_compliance_day,
 * server/jobs/rollup-store.ts), which are kept per group only: by OS the trend cells are empty.
 *
 * A device is *reporting* once it has checked in (its inventory is known) and is not revoked;
 * it is *compliant* when it reports and none of its installed tools is warned or blocked. This
 * is the rollups' definition too, so today's share and the trend compare like with like.
 */
import type Database from 'better-sqlite3';

import { DAY_MS } from '../../../policies/time.js';
import { dayNumber, dayText } from '../../jobs/days.js';
import { column } from '../columns.js';
import type { ReportDefinition } from '../definition.js';

/** What the rows are grouped by. */
export type ComplianceBy = 'group' | 'os';

/** The days back the trend looks at, in the order of the trend columns. */
const TREND_DAYS = [7, 30] as const;

/** One group's (or OS's) compliance now, with the share on earlier days. */
interface ComplianceRow {
  /** The group name, or the OS (linux | darwin | windows). */
  key: string;
  /** Enrolled devices, not revoked. */
  devices: number;
  /** Of those, checked in within the stale period. */
  active: number;
  /** Of those, that have checked in at least once (their inventory is known). */
  reporting: number;
  /** Reporting devices with no installed tool warned or blocked. */
  compliant: number;
  /** compliant / reporting, 0..1; null with no reporting device. */
  share: number | null;
  /** Devices with at least one installed tool whose verdict is block. */
  withBlock: number;
  /** Devices with at least one installed tool whose verdict is warn. */
  withWarn: number;
  /** Devices whose agent's last health report says degraded. */
  degraded: number;
  /** The share 7 and 30 days ago (TREND_DAYS order), from the rollups; null when unknown (or by OS). */
  trend: (number | null)[];
}

export interface ComplianceFigures {
  by: ComplianceBy;
  rows: ComplianceRow[];
  /** The rollup day each trend cell was read from (the last rolled-up day at or before N days ago), or null. */
  trendDays: (string | null)[];
}

/**
 * Compliance per group or OS at `now`: live counts, and the share on the last rolled-up day at or
 * before 7 and 30 days ago. `staleBefore` (epoch ms): check-ins before it are not active.
 * Ordered by key. Cheap: one pass over devices with indexed instance lookups.
 */
export function complianceFigures(
  db: Database.Database,
  options: { now: number; staleBefore: number; by: ComplianceBy; group?: string },
): ComplianceFigures {
  const key = options.by === 'os' ? 'd.os' : 'd.group_name';
  const params: Record<string, string | number> = { stale_before: options.staleBefore };
  let where = 'd.revoked_at IS NULL';
  if (options.group !== undefined) {
    where += ' AND d.group_name = @group';
    params.group = options.group;
  }
  const live = db
    .prepare<
      [Record<string, string | number>],
      {
        key: string;
        devices: number;
        active: number;
        reporting: number;
        violating: number;
        with_block: number;
        with_warn: number;
        degraded: number;
      }
    >(
      `SELECT key, count(*) AS devices, sum(active) AS active, sum(reporting) AS reporting,
              sum(reporting AND (has_block OR has_warn)) AS violating, sum(reporting AND has_block) AS with_block,
              sum(reporting AND has_warn) AS with_warn, sum(degraded) AS degraded
         FROM (SELECT ${key} AS key,
                      d.last_checkin_at IS NOT NULL AND d.last_checkin_at >= @stale_before AS active,
                      d.last_checkin_at IS NOT NULL AS reporting,
                      d.health IS 'degraded' AS degraded,
                      EXISTS (SELECT 1 FROM instances i WHERE i.device_id = d.id AND i.present = 1 AND i.action = 'block') AS has_block,
                      EXISTS (SELECT 1 FROM instances i WHERE i.device_id = d.id AND i.present = 1 AND i.action = 'warn') AS has_warn
                 FROM devices d WHERE ${where})
        GROUP BY key ORDER BY key`,
    )
    .all(params);

  // The trend: the share on the last rolled-up day at or before N days ago. A rolled-up day
  // without a row for a group had no reporting device in it: its share is unknown (null).
  const today = dayNumber(options.now);
  const trendDays = TREND_DAYS.map(
    (back) =>
      db
        .prepare<[string], { day: string | null }>('SELECT max(day) AS day FROM rollup_compliance_day WHERE day <= ?')
        .get(dayText(today - back))?.day ?? null,
  );
  const shares = trendDays.map((day) => {
    const byGroup = new Map<string, number | null>();
    if (day === null || options.by !== 'group') return byGroup;
    for (const row of db
      .prepare<[string], { group_name: string; devices: number; compliant: number }>(
        'SELECT group_name, devices, compliant FROM rollup_compliance_day WHERE day = ?',
      )
      .all(day)) {
      byGroup.set(row.group_name, row.devices > 0 ? row.compliant / row.devices : null);
    }
    return byGroup;
  });

  const rows = live.map((row): ComplianceRow => {
    const compliant = Math.max(0, row.reporting - row.violating);
    return {
      key: row.key,
      devices: row.devices,
      active: row.active,
      reporting: row.reporting,
      compliant,
      share: row.reporting > 0 ? compliant / row.reporting : null,
      withBlock: row.with_block,
      withWarn: row.with_warn,
      degraded: row.degraded,
      trend: shares.map((byGroup) => byGroup.get(row.key) ?? null),
    };
  });
  return { by: options.by, rows, trendDays: options.by === 'group' ? trendDays : TREND_DAYS.map(() => null) };
}

/** A share rounded for reports: 4 decimals (0.8333), so CSV and JSON agree. */
const share = (value: number | null): number | null => (value === null ? null : Math.round(value * 10_000) / 10_000);

export const complianceReport: ReportDefinition = {
  kind: 'compliance',
  title: 'Compliance',
  summary:
    'Per group (or operating system): devices, compliant share now and 7 and 30 days ago, devices with a blocked or warned tool, degraded agents',
  description:
    "One row per group (`by=group`, the default; `os` empty) or operating system (`by=os`; `group` empty) of enrolled, not revoked devices. A device is compliant when it has checked in and none of its installed tools is warned or blocked; `share_compliant` is compliant / reporting. Today's figures are live; `share_compliant_7d_ago` and `share_compliant_30d_ago` come from the daily rollups (the last rolled-up day at or before then, given as `trendDays` in JSON and `x-aigate-trend-days`), which are kept per group: by OS they are empty. `group` keeps one group; `staleAfter` sets when a device stops being active.",
  columns: [
    column('group', 'string', 'the group (by=group; empty by=os)'),
    column('os', 'string', 'the operating system: linux | darwin | windows (by=os; empty by=group)'),
    column('devices', 'integer', 'enrolled devices, not revoked'),
    column('active', 'integer', 'of those, checked in within the stale period'),
    column('reporting', 'integer', 'of those, checked in at least once (inventory known)'),
    column('compliant', 'integer', 'reporting devices with no installed tool warned or blocked'),
    column('share_compliant', 'number', 'compliant / reporting, 0..1 (empty with no reporting device)'),
    column('devices_with_block', 'integer', 'devices with an installed tool whose verdict is block'),
    column('devices_with_warn', 'integer', 'devices with an installed tool whose verdict is warn'),
    column('degraded', 'integer', "devices whose agent's last health report says degraded"),
    column(
      'share_compliant_7d_ago',
      'number',
      'share_compliant on the last rolled-up day at or before 7 days ago (by=group only)',
    ),
    column(
      'share_compliant_30d_ago',
      'number',
      'share_compliant on the last rolled-up day at or before 30 days ago (by=group only)',
    ),
  ],
  filters: ['by', 'group', 'staleAfter'],
  open({ db, now }, filters) {
    const by: ComplianceBy = filters.by ?? 'group';
    const figures = complianceFigures(db, {
      now,
      staleBefore: now - (filters.staleAfterMs ?? 7 * DAY_MS),
      by,
      ...(filters.group !== undefined ? { group: filters.group } : {}),
    });
    return {
      rows: figures.rows.map((r) => [
        by === 'group' ? r.key : null,
        by === 'os' ? r.key : null,
        r.devices,
        r.active,
        r.reporting,
        r.compliant,
        share(r.share),
        r.withBlock,
        r.withWarn,
        r.degraded,
        share(r.trend[0] ?? null),
        share(r.trend[1] ?? null),
      ]),
      meta: {
        by,
        trendDays: Object.fromEntries(TREND_DAYS.map((back, i) => [`${back}d`, figures.trendDays[i] ?? null])),
      },
      headers: {
        'x-aigate-trend-days': TREND_DAYS.map((back, i) => `${back}d=${figures.trendDays[i] ?? 'none'}`).join(', '),
      },
    };
  },
};
