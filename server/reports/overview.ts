/**
 * The fleet at a glance: what the dashboard's overview page shows and GET /v1/reports/overview
 * returns. The key figures (devices, compliance now, launches in the last 7 days, compliance by
 * group and OS) are read live, as of `generatedAt`, so they always agree with each other and
 * with the device and tool lists; the per-day charts, the trend and the next scheduled change
 * come from the rollups, as of `asOf`, so the answer stays fast on a fleet of any size.
 */
import { type Static, Type } from '@sinclair/typebox';
import type Database from 'better-sqlite3';

import type { CatalogIndex } from '../../policies/catalog/index.js';
import { DAY_MS } from '../../policies/time.js';
import { Instant, Nullable } from '../http/schemas.js';
import type { CurrentFigures, UpcomingChange } from '../jobs/current-pass.js';
import { dayNumber, dayText } from '../jobs/days.js';
import type { PolicyRevision } from '../store/policies.js';
import { complianceFigures } from './kinds/compliance.js';

const Action = Type.Union([Type.Literal('allow'), Type.Literal('warn'), Type.Literal('block')]);
const Upcoming = Type.Object({
  at: Instant,
  toolId: Type.String(),
  toolName: Type.String(),
  from: Action,
  to: Action,
  devices: Type.Integer({ description: 'devices where this change will happen' }),
  instances: Type.Integer(),
});

const ComplianceRowSchema = Type.Object({
  key: Type.String({ description: 'the group, or the OS' }),
  devices: Type.Integer({ description: 'enrolled, not revoked' }),
  active: Type.Integer({ description: 'checked in within the stale period' }),
  reporting: Type.Integer({ description: 'checked in at least once' }),
  compliant: Type.Integer({ description: 'reporting, with no installed tool warned or blocked' }),
  share: Nullable(Type.Number({ description: 'compliant / reporting, 0..1' })),
  withBlock: Type.Integer(),
  withWarn: Type.Integer(),
  degraded: Type.Integer(),
  trend: Type.Array(Nullable(Type.Number()), {
    description: 'the share 7 and 30 days ago, from the rollups (null when unknown, and by OS)',
  }),
});

export const OverviewSchema = Type.Object({
  generatedAt: Instant,
  asOf: Nullable(
    Type.String({
      description:
        'when the rollups behind the charts, the compliance trend and the upcoming changes were last built (null: never); every other figure is live, as of generatedAt',
    }),
  ),
  staleAfterDays: Type.Number(),
  policy: Nullable(
    Type.Object({
      revision: Type.Integer(),
      name: Type.String(),
      publishedAt: Instant,
      publishedBy: Nullable(Type.String()),
      mode: Type.String(),
      timezone: Type.String({ description: "the policy's time zone (IANA), in which its dates are read" }),
    }),
  ),
  devices: Type.Object({
    enrolled: Type.Integer({ description: 'not revoked' }),
    active: Type.Integer({ description: 'checked in within the stale period' }),
    stale: Type.Integer({ description: 'checked in before, but not within the stale period' }),
    neverSeen: Type.Integer({ description: 'enrolled, never checked in' }),
    revoked: Type.Integer(),
    degraded: Type.Integer({
      description: 'not revoked, and its agent says enforcement cannot be trusted (its last health report)',
    }),
  }),
  compliance: Type.Object({
    day: Nullable(
      Type.String({ description: 'the UTC day of generatedAt: these figures are live (not from the rollups)' }),
    ),
    devices: Type.Integer({ description: 'devices, not revoked, that have reported an inventory' }),
    compliant: Type.Integer({ description: 'of those, with no installed tool warned or blocked' }),
    share: Nullable(Type.Number({ description: 'compliant / devices, 0..1' })),
    withBlockedTool: Type.Integer({ description: 'devices with at least one installed tool whose verdict is block' }),
    withWarnedTool: Type.Integer({ description: 'devices with at least one installed tool whose verdict is warn' }),
  }),
  complianceBy: Type.Object(
    {
      trendDays: Type.Array(Nullable(Type.String()), {
        description: 'the rolled-up days the trend shares were read from: the last at or before 7 and 30 days ago',
      }),
      group: Type.Array(ComplianceRowSchema),
      os: Type.Array(ComplianceRowSchema),
    },
    {
      description:
        'compliance now per group and per OS (live), with the share 7 and 30 days ago (rollups, per group only); the same figures as GET /v1/reports/compliance',
    },
  ),
  launches: Type.Object(
    { since: Instant, blocked: Type.Integer(), warned: Type.Integer() },
    { description: 'launches warned or blocked in the last 7 days' },
  ),
  nextChange: Nullable(Upcoming),
  upcoming: Type.Array(Upcoming),
  upcomingPolicyRevision: Nullable(
    Type.Integer({ description: 'the policy revision the upcoming changes were worked out for' }),
  ),
  charts: Type.Object({
    days: Type.Array(Type.String()),
    installs: Type.Array(
      Type.Object({
        toolId: Type.String(),
        name: Type.String(),
        values: Type.Array(Nullable(Type.Integer()), { description: 'null before the first day with figures' }),
      }),
    ),
    compliance: Type.Array(Nullable(Type.Number())),
    blockedLaunches: Type.Array(Type.Integer()),
    warnedLaunches: Type.Array(Type.Integer()),
  }),
});
export type Overview = Static<typeof OverviewSchema>;
export type { UpcomingChange };

export interface OverviewInput {
  db: Database.Database;
  now: number;
  staleAfterMs: number;
  policy: PolicyRevision | undefined;
  current: CurrentFigures | null;
  lastRunAt: string | null;
  catalog: CatalogIndex;
  days: number;
}

/** The tools drawn separately in the installs chart; the rest are summed as "Other tools". */
const CHART_TOOLS = 6;
const OTHER_TOOLS = '(other)';

/** The headline change: the first that blocks something, else the first of any kind. */
export function headlineChange(upcoming: readonly UpcomingChange[]): UpcomingChange | null {
  return upcoming.find((change) => change.to === 'block') ?? upcoming[0] ?? null;
}

export function buildOverview(input: OverviewInput): Overview {
  const { db, now, staleAfterMs, catalog } = input;
  const devices = db
    .prepare<
      [{ stale: number }],
      { revoked: number; never_seen: number; stale: number; active: number; degraded: number }
    >(
      `SELECT coalesce(sum(revoked_at IS NOT NULL), 0) AS revoked,
              coalesce(sum(revoked_at IS NULL AND last_checkin_at IS NULL), 0) AS never_seen,
              coalesce(sum(revoked_at IS NULL AND last_checkin_at < @stale), 0) AS stale,
              coalesce(sum(revoked_at IS NULL AND last_checkin_at >= @stale), 0) AS active,
              coalesce(sum(revoked_at IS NULL AND health = 'degraded'), 0) AS degraded
         FROM devices`,
    )
    .get({ stale: now - staleAfterMs })!;

  const today = dayNumber(now);
  const since = now - 7 * DAY_MS;
  const launches = { blocked: 0, warned: 0 };
  for (const row of db
    .prepare<[number], { type: string; n: number }>(
      "SELECT type, count(*) AS n FROM events WHERE type IN ('blocked-launch', 'warned-launch') AND at >= ? GROUP BY type",
    )
    .all(since)) {
    if (row.type === 'blocked-launch') launches.blocked = row.n;
    else launches.warned = row.n;
  }

  // Charts over the last `days` days, from the rollups.
  const days = Array.from({ length: input.days }, (_, i) => dayText(today - input.days + 1 + i));
  const index = new Map(days.map((day, i) => [day, i]));
  const first = days[0]!;
  const installsByTool = new Map<string, number[]>();
  for (const row of db
    .prepare<[string, string], { day: string; tool_id: string; n: number }>(
      'SELECT day, tool_id, sum(installs) AS n FROM rollup_inventory_day WHERE day >= ? AND day <= ? GROUP BY day, tool_id',
    )
    .all(first, dayText(today))) {
    let values = installsByTool.get(row.tool_id);
    if (!values) installsByTool.set(row.tool_id, (values = new Array<number>(days.length).fill(0)));
    values[index.get(row.day)!] = row.n;
  }
  const lastValue = (values: number[]) => {
    for (let i = values.length - 1; i >= 0; i--) if (values[i]! > 0) return values[i]!;
    return 0;
  };
  // Days before the first rolled-up day have no figures, which is not the same as none installed.
  const firstDay =
    db.prepare<[], { day: string | null }>('SELECT min(day) AS day FROM rollup_inventory_day').get()?.day ?? null;
  const known = (values: number[]) => values.map((v, i) => (firstDay === null || days[i]! < firstDay ? null : v));
  const ranked = [...installsByTool.entries()].sort(
    (a, b) => lastValue(b[1]) - lastValue(a[1]) || a[0].localeCompare(b[0]),
  );
  const installs = ranked
    .slice(0, CHART_TOOLS)
    .map(([toolId, values]) => ({ toolId, name: catalog.tool(toolId)?.name ?? toolId, values: known(values) }));
  if (ranked.length > CHART_TOOLS) {
    const other = new Array<number>(days.length).fill(0);
    for (const [, values] of ranked.slice(CHART_TOOLS)) values.forEach((v, i) => (other[i]! += v));
    installs.push({ toolId: OTHER_TOOLS, name: 'Other tools', values: known(other) });
  }
  const complianceSeries = new Array<number | null>(days.length).fill(null);
  for (const row of db
    .prepare<[string], { day: string; devices: number; compliant: number }>(
      'SELECT day, sum(devices) AS devices, sum(compliant) AS compliant FROM rollup_compliance_day WHERE day >= ? GROUP BY day',
    )
    .all(first)) {
    const i = index.get(row.day);
    if (i !== undefined && row.devices > 0) complianceSeries[i] = row.compliant / row.devices;
  }
  const blockedLaunches = new Array<number>(days.length).fill(0);
  const warnedLaunches = new Array<number>(days.length).fill(0);
  for (const row of db
    .prepare<[string], { day: string; type: string; n: number }>(
      "SELECT day, type, sum(events) AS n FROM rollup_event_day WHERE day >= ? AND type IN ('blocked-launch', 'warned-launch') GROUP BY day, type",
    )
    .all(first)) {
    const i = index.get(row.day);
    if (i === undefined) continue;
    if (row.type === 'blocked-launch') blockedLaunches[i] = row.n;
    else warnedLaunches[i] = row.n;
  }

  const byGroup = complianceFigures(db, { now, staleBefore: now - staleAfterMs, by: 'group' });
  const byOs = complianceFigures(db, { now, staleBefore: now - staleAfterMs, by: 'os' });

  const upcoming = (input.current?.upcoming ?? []).filter((change) => Date.parse(change.at) > now);
  const policy = input.policy;
  // The compliance tile is the sum of the live rows by group (the same devices as by OS).
  const live = byGroup.rows.reduce(
    (sum, row) => ({
      reporting: sum.reporting + row.reporting,
      compliant: sum.compliant + row.compliant,
      withBlock: sum.withBlock + row.withBlock,
      withWarn: sum.withWarn + row.withWarn,
    }),
    { reporting: 0, compliant: 0, withBlock: 0, withWarn: 0 },
  );
  return {
    generatedAt: new Date(now).toISOString(),
    asOf: input.lastRunAt,
    staleAfterDays: staleAfterMs / DAY_MS,
    policy: policy
      ? {
          revision: policy.revision,
          name: policy.name,
          publishedAt: new Date(policy.publishedAt).toISOString(),
          publishedBy: policy.publishedBy,
          mode: policy.document.spec.mode ?? 'enforce',
          timezone: policy.document.spec.timezone ?? 'UTC',
        }
      : null,
    devices: {
      enrolled: devices.never_seen + devices.stale + devices.active,
      active: devices.active,
      stale: devices.stale,
      neverSeen: devices.never_seen,
      revoked: devices.revoked,
      degraded: devices.degraded,
    },
    compliance: {
      day: dayText(today),
      devices: live.reporting,
      compliant: live.compliant,
      share: live.reporting > 0 ? live.compliant / live.reporting : null,
      withBlockedTool: live.withBlock,
      withWarnedTool: live.withWarn,
    },
    complianceBy: { trendDays: byGroup.trendDays, group: byGroup.rows, os: byOs.rows },
    launches: { since: new Date(since).toISOString(), ...launches },
    nextChange: headlineChange(upcoming),
    upcoming,
    upcomingPolicyRevision: input.current?.policyRevision ?? null,
    charts: { days, installs, compliance: complianceSeries, blockedLaunches, warnedLaunches },
  };
}
