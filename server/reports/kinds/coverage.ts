/**
 * coverage: is every machine reporting? Each device with its last check-in, agent version,
 * applied policy revision and a status: active, stale (no check-in within the stale period),
 * never-seen (enrolled but never checked in) or revoked.
 */
import { DAY_MS } from '../../../policies/time.js';
import { parseHealthReasons, parseUsers } from '../../store/devices.js';
import { column, isoOrNull } from '../columns.js';
import { mapRows, type ReportDefinition, Where } from '../definition.js';

interface CoverageRow {
  id: string;
  hostname: string;
  group_name: string;
  os: string;
  os_version: string | null;
  arch: string | null;
  users: string;
  agent_version: string;
  enrolled_at: number;
  last_checkin_at: number | null;
  last_seen_at: number | null;
  policy_revision: number | null;
  revoked_at: number | null;
  status: string;
  tools: number;
  violations: number;
  health: string | null;
  health_reasons: string;
  degraded_since: number | null;
}

/** SQL for a device's status, given @stale_before (check-ins before it are stale). */
export const DEVICE_STATUS_SQL = `CASE WHEN d.revoked_at IS NOT NULL THEN 'revoked'
            WHEN d.last_checkin_at IS NULL THEN 'never-seen'
            WHEN d.last_checkin_at < @stale_before THEN 'stale'
            ELSE 'active' END`;

export const coverageReport: ReportDefinition = {
  kind: 'coverage',
  title: 'Coverage',
  summary: 'Every enrolled device: last check-in, agent version, applied policy, and whether it is stale or never seen',
  description:
    "One row per enrolled device, by group and hostname. A device is stale when its last check-in is older than `staleAfter` (default: the server's --stale-after), never-seen when it enrolled but never checked in. `user` keeps devices that user signs in to.",
  columns: [
    column('device_id', 'string', 'the device'),
    column('hostname', 'string', 'hostname'),
    column('group', 'string', 'group'),
    column('os', 'string', 'linux | darwin | windows'),
    column('os_version', 'string', 'operating system version'),
    column('arch', 'string', 'CPU architecture'),
    column('users', 'list', 'users of the device'),
    column('agent_version', 'string', 'aigate-agent version'),
    column('enrolled_at', 'instant', 'enrollment'),
    column('last_checkin', 'instant', 'the last inventory check-in'),
    column('last_contact', 'instant', 'the last request of any kind (policy poll, check-in, events)'),
    column('status', 'string', 'active | stale | never-seen | revoked'),
    column('stale', 'boolean', 'no check-in within the stale period (true for never-seen devices too)'),
    column('days_since_checkin', 'integer', 'whole days since the last check-in'),
    column('policy_revision', 'integer', 'the policy revision the agent applied'),
    column('current_policy_revision', 'integer', 'the newest published revision'),
    column('policy_up_to_date', 'boolean', 'the agent applies the newest revision'),
    column('tools', 'integer', 'AI tool instances installed'),
    column('violations', 'integer', 'of those, warned or blocked'),
    column('revoked_at', 'instant', 'when the device was revoked'),
    column('health', 'string', "the agent's own health report: ok | degraded | unknown (never reported)"),
    column(
      'health_reasons',
      'list',
      'why it is degraded: ledger-damaged, enforcement-failing, spool-trouble, cycle-errors, suspicious-layout',
    ),
    column('health_detail', 'string', "the agent's messages, one `code: message` per reason, separated by `; `"),
    column('degraded_since', 'instant', 'the check-in that first said degraded (empty when ok)'),
  ],
  filters: ['group', 'user', 'status', 'staleAfter'],
  open({ db, now, currentRevision }, filters) {
    const staleBefore = now - (filters.staleAfterMs ?? 0);
    const where = new Where();
    if (filters.group !== undefined) where.add('d.group_name = @group', { group: filters.group });
    if (filters.user !== undefined)
      where.add('EXISTS (SELECT 1 FROM json_each(d.users) WHERE value = @user)', { user: filters.user });
    if (filters.status !== undefined) where.add(`(${DEVICE_STATUS_SQL}) = @status`, { status: filters.status });
    const statement = db.prepare<[Record<string, string | number>], CoverageRow>(
      `SELECT d.id, d.hostname, d.group_name, d.os, d.os_version, d.arch, d.users, d.agent_version, d.enrolled_at, d.last_checkin_at,
              d.last_seen_at, d.policy_revision, d.revoked_at, d.health, d.health_reasons, d.degraded_since, ${DEVICE_STATUS_SQL} AS status,
              (SELECT count(*) FROM instances i WHERE i.device_id = d.id AND i.present = 1) AS tools,
              (SELECT count(*) FROM instances i WHERE i.device_id = d.id AND i.present = 1 AND i.action IN ('warn', 'block')) AS violations
         FROM devices d
        ${where}
        ORDER BY d.group_name, d.hostname, d.id`,
    );
    return {
      rows: mapRows(statement.iterate({ ...where.params, stale_before: staleBefore }), (row) => {
        const reasons = parseHealthReasons(row.health_reasons);
        return [
          row.id,
          row.hostname,
          row.group_name,
          row.os,
          row.os_version,
          row.arch,
          parseUsers(row.users),
          row.agent_version,
          isoOrNull(row.enrolled_at),
          isoOrNull(row.last_checkin_at),
          isoOrNull(row.last_seen_at),
          row.status,
          row.last_checkin_at === null || row.last_checkin_at < staleBefore,
          row.last_checkin_at === null ? null : Math.max(0, Math.floor((now - row.last_checkin_at) / DAY_MS)),
          row.policy_revision,
          currentRevision,
          currentRevision === null ? null : row.policy_revision === currentRevision,
          row.tools,
          row.violations,
          isoOrNull(row.revoked_at),
          row.health ?? 'unknown',
          reasons.map((r) => r.code),
          reasons.length ? reasons.map((r) => `${r.code}: ${r.message}`).join('; ') : null,
          isoOrNull(row.degraded_since),
        ];
      }),
      meta: { staleAfterMs: filters.staleAfterMs ?? null },
    };
  },
};
