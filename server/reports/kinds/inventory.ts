/** inventory: every tool instance ever reported, with when it was seen and its current verdict. */
import { boolOrNull, column, isoOrNull } from '../columns.js';
import { mapRows, toolInfo, Where, type ReportDefinition } from '../definition.js';
import type { Filters } from '../filters.js';

interface InventoryRow {
  device_id: string;
  hostname: string;
  group_name: string;
  owner: string | null;
  tool_id: string;
  name: string | null;
  version: string | null;
  channel: string;
  install_path: string;
  host: string | null;
  first_seen_at: number;
  last_seen_at: number;
  present: number;
  disappeared_at: number | null;
  running: number | null;
  last_running_at: number | null;
  action: string | null;
  enforce: number | null;
  phase: string | null;
  decided_by: string | null;
  effective_at: string | null;
  violation_since: number | null;
  policy_revision: number | null;
}

/** Filters shared by the two instance reports (inventory and violations). */
export function instanceWhere(filters: Filters, where = new Where()): Where {
  if (filters.tool !== undefined) where.add('i.tool_id = @tool', { tool: filters.tool });
  if (filters.group !== undefined) where.add('i.group_name = @group', { group: filters.group });
  if (filters.user !== undefined) where.add('i.owner = @user', { user: filters.user });
  if (filters.device?.id !== undefined) where.add('i.device_id = @device_id', { device_id: filters.device.id });
  if (filters.device?.hostname !== undefined) where.add('i.hostname = @hostname', { hostname: filters.device.hostname });
  return where;
}

export const inventoryReport: ReportDefinition = {
  kind: 'inventory',
  title: 'Inventory',
  summary: 'Every AI tool instance reported by every device, with first and last seen and the current verdict',
  description:
    'One row per tool instance (a tool at one install path on one device), present or removed. `from`/`to` keep the instances seen at some time in that span (last seen at or after `from`, first seen before `to`).',
  columns: [
    column('device_id', 'string', 'the device'),
    column('hostname', 'string', "the device's hostname"),
    column('group', 'string', "the device's group"),
    column('user', 'string', 'the user owning the install'),
    column('tool_id', 'string', 'catalog tool id, or unknown:<channel>:<name>'),
    column('tool_name', 'string', 'display name'),
    column('vendor', 'string', 'vendor (catalog tools)'),
    column('version', 'string', 'installed version (empty when unreadable)'),
    column('channel', 'string', 'how it was installed: npm, native, pipx, vscode-extension, ...'),
    column('install_path', 'string', 'where it is installed'),
    column('editor', 'string', 'the editor or IDE hosting an extension or plugin'),
    column('first_seen', 'instant', 'first reported'),
    column('last_seen', 'instant', 'last reported (the last check-in for instances still present)'),
    column('present', 'boolean', 'reported by the latest check-in'),
    column('removed_at', 'instant', 'when a check-in no longer reported it'),
    column('running', 'boolean', 'running at the last scan (empty: not reported)'),
    column('running_last_seen', 'instant', 'the last check-in that reported it running'),
    column('verdict', 'string', 'allow | warn | block as the agent last reported it (empty before its first policy)'),
    column('enforced', 'boolean', 'false in monitor mode (reported, nothing changed on the device)'),
    column('phase', 'string', 'in-effect | warn-window'),
    column('decided_by', 'string', 'the rule, exception or default that decided'),
    column('effective_at', 'instant', 'for a dated rule: when its action takes (or took) effect'),
    column('violation_since', 'instant', 'since when it has been warned or blocked'),
    column('policy_revision', 'integer', 'the policy revision the agent applied'),
  ],
  filters: ['from', 'to', 'tool', 'group', 'user', 'device', 'verdict', 'present'],
  open({ db, catalog }, filters) {
    const where = instanceWhere(filters);
    if (filters.fromMs !== undefined) where.add('i.last_seen_at >= @from', { from: filters.fromMs });
    if (filters.toMs !== undefined) where.add('i.first_seen_at < @to', { to: filters.toMs });
    if (filters.verdict === 'none') where.add('i.action IS NULL');
    else if (filters.verdict !== undefined) where.add('i.action = @verdict', { verdict: filters.verdict });
    if (filters.present !== undefined) where.add('i.present = @present', { present: filters.present ? 1 : 0 });
    const statement = db.prepare<[Record<string, string | number>], InventoryRow>(
      `SELECT i.device_id, i.hostname, i.group_name, i.owner, i.tool_id, i.name, i.version, i.channel, i.install_path, i.host,
              i.first_seen_at, i.last_seen_at, i.present, i.disappeared_at, i.running, r.last_running_at, i.action, i.enforce,
              i.phase, i.decided_by, i.effective_at, i.violation_since, i.policy_revision
         FROM inventory i
         LEFT JOIN instance_running r ON r.device_id = i.device_id AND r.instance_key = i.instance_key
        ${where}
        ORDER BY i.device_id, i.instance_key`,
    );
    return {
      rows: mapRows(statement.iterate(where.params), (row) => {
        const tool = toolInfo(catalog, row.tool_id, row.name);
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
          row.host,
          isoOrNull(row.first_seen_at),
          isoOrNull(row.last_seen_at),
          row.present === 1,
          isoOrNull(row.disappeared_at),
          boolOrNull(row.running),
          isoOrNull(row.last_running_at),
          row.action,
          boolOrNull(row.enforce),
          row.phase,
          row.decided_by,
          row.effective_at,
          isoOrNull(row.violation_since),
          row.policy_revision,
        ];
      }),
    };
  },
};
