/**
 * violations: every installed instance whose current verdict is warn or block, since when, the
 * rule that decided, and what the agent did about it (from the events it reported).
 */
import { column, isoOrNull } from '../columns.js';
import { mapRows, type ReportDefinition, reportedInstant, toolInfoCache } from '../definition.js';
import { ViolationVerdict } from '../filters.js';
import { INSTANCE_COLUMNS, instanceWhere } from './inventory.js';

interface ViolationRow {
  device_id: string;
  hostname: string;
  group_name: string;
  owner: string | null;
  tool_id: string;
  name: string | null;
  version: string | null;
  channel: string;
  install_path: string;
  action: 'warn' | 'block';
  enforce: number | null;
  phase: string | null;
  decided_by: string | null;
  effective_at: string | null;
  violation_since: number | null;
  last_seen_at: number;
  policy_revision: number | null;
  blocked_launches: number;
  warned_launches: number;
  quarantined_at: number | null;
  restored_at: number | null;
  tamper_at: number | null;
  last_event: string | null;
}

export const AGENT_ACTIONS = [
  'monitor-only',
  'quarantined',
  'launches-blocked',
  'launches-warned',
  'none-reported',
] as const;
export type AgentAction = (typeof AGENT_ACTIONS)[number];

/** The one-word summary of what the agent did, from the counts and times the agent reported. */
export function agentAction(
  row: Pick<ViolationRow, 'enforce' | 'quarantined_at' | 'restored_at' | 'blocked_launches' | 'warned_launches'>,
): AgentAction {
  if (row.enforce === 0) return 'monitor-only';
  if (row.quarantined_at !== null && (row.restored_at === null || row.restored_at < row.quarantined_at))
    return 'quarantined';
  if (row.blocked_launches > 0) return 'launches-blocked';
  if (row.warned_launches > 0) return 'launches-warned';
  return 'none-reported';
}

// Events about this instance since it became a violation: same device and tool, and the same
// install path when the event names one.
const about = (type: string) =>
  `FROM events e WHERE e.device_id = i.device_id AND e.tool_id = i.tool_id AND e.type = '${type}' AND e.at >= i.violation_since
     AND (e.install_path IS NULL OR e.install_path = i.install_path)`;

export const violationsReport: ReportDefinition = {
  kind: 'violations',
  title: 'Violations',
  summary: 'Installed tools whose verdict is warn or block: since when, which rule, and what the agent did',
  description:
    'One row per installed instance on an active device whose current verdict is warn or block (enforced or in monitor mode). `from`/`to` select by `violation_since`.',
  columns: [
    ...INSTANCE_COLUMNS,
    column('version', 'string', 'installed version'),
    column('channel', 'string', 'how it was installed'),
    column('install_path', 'string', 'where it is installed'),
    column('verdict', 'string', 'warn | block'),
    column('enforced', 'boolean', 'false in monitor mode: the agent only reports'),
    column('phase', 'string', 'in-effect | warn-window (counting down to effective_at)'),
    column('decided_by', 'string', 'the rule (or default / unknownTools) that decided'),
    column('effective_at', 'instant', 'for a dated rule: when its action takes (or took) effect'),
    column('violation_since', 'instant', 'when it became a violation (kept while it stays one)'),
    column('last_seen', 'instant', 'the last check-in that reported it'),
    column('policy_revision', 'integer', 'the policy revision the agent applied'),
    column(
      'agent_action',
      'string',
      'what the agent did: monitor-only | quarantined | launches-blocked | launches-warned | none-reported',
    ),
    column('blocked_launches', 'integer', 'launches the agent blocked since violation_since'),
    column('warned_launches', 'integer', 'launches the agent warned about since violation_since'),
    column('quarantined_at', 'instant', 'the last quarantine reported since violation_since'),
    column('restored_at', 'instant', 'the last restore reported since violation_since'),
    column('last_tamper_at', 'instant', 'the last tamper event (a stub or quarantine undone by hand)'),
    column('last_event', 'string', 'the newest event about it: type and time'),
  ],
  filters: ['from', 'to', 'tool', 'group', 'user', 'device', 'verdict'],
  overrides: { verdict: ViolationVerdict },
  open({ db, catalog }, filters) {
    const where = instanceWhere(filters);
    where.add("i.present = 1 AND i.action IN ('warn', 'block') AND i.device_revoked_at IS NULL");
    if (filters.verdict !== undefined) where.add('i.action = @verdict', { verdict: filters.verdict });
    if (filters.fromMs !== undefined) where.add('i.violation_since >= @from', { from: filters.fromMs });
    if (filters.toMs !== undefined) where.add('i.violation_since < @to', { to: filters.toMs });
    const statement = db.prepare<[Record<string, string | number>], ViolationRow>(
      `SELECT i.device_id, i.hostname, i.group_name, i.owner, i.tool_id, i.name, i.version, i.channel, i.install_path, i.action,
              i.enforce, i.phase, i.decided_by, i.effective_at, i.violation_since, i.last_seen_at, i.policy_revision,
              (SELECT count(*) ${about('blocked-launch')}) AS blocked_launches,
              (SELECT count(*) ${about('warned-launch')}) AS warned_launches,
              (SELECT max(e.at) ${about('quarantined')}) AS quarantined_at,
              (SELECT max(e.at) ${about('restored')}) AS restored_at,
              (SELECT max(e.at) ${about('tamper')}) AS tamper_at,
              (SELECT e.type || ' ' || strftime('%Y-%m-%dT%H:%M:%fZ', e.at / 1000.0, 'unixepoch')
                 FROM events e WHERE e.device_id = i.device_id AND e.tool_id = i.tool_id
                  AND (e.install_path IS NULL OR e.install_path = i.install_path)
                ORDER BY e.at DESC LIMIT 1) AS last_event
         FROM inventory i
        ${where}
        ORDER BY i.device_id, i.instance_key`,
    );
    const tools = toolInfoCache(catalog);
    return {
      rows: mapRows(statement.iterate(where.params), (row) => {
        const tool = tools(row.tool_id, row.name);
        return [
          row.device_id,
          row.hostname,
          row.group_name,
          row.owner,
          row.tool_id,
          tool.name,
          tool.vendor,
          row.version,
          row.channel,
          row.install_path,
          row.action,
          row.enforce === null ? null : row.enforce === 1,
          row.phase,
          row.decided_by,
          reportedInstant(row.effective_at),
          isoOrNull(row.violation_since),
          isoOrNull(row.last_seen_at),
          row.policy_revision,
          agentAction(row),
          row.blocked_launches,
          row.warned_launches,
          isoOrNull(row.quarantined_at),
          isoOrNull(row.restored_at),
          isoOrNull(row.tamper_at),
          row.last_event,
        ];
      }),
    };
  },
};
