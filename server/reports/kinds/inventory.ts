/** inventory: every tool instance ever reported, with when it was seen and its current verdict. */
import type { Row } from '../columns.js';
import { boolOrNull, column, isoOrNull } from '../columns.js';
import { KeyedCursor, type ReportDefinition, reportedInstant, toolInfoCache, Where } from '../definition.js';
import type { Filters } from '../filters.js';

/** Columns read from the covering index `instances_report`, in this order (raw rows). */
export const INVENTORY_SELECT = `i.device_id, i.instance_key, i.group_name, i.owner, i.name, i.version, i.channel, i.host, i.first_seen_at, i.seen_until,
  i.changed_at, i.present, i.disappeared_at, i.running, i.action, i.enforce, i.phase, i.decided_by, i.effective_at, i.violation_since, i.policy_revision`;
type RawRow = [
  deviceId: string,
  instanceKey: string,
  group: string,
  owner: string | null,
  name: string | null,
  version: string | null,
  channel: string,
  host: string | null,
  firstSeenAt: number,
  seenUntil: number | null,
  changedAt: number,
  present: number,
  disappearedAt: number | null,
  running: number | null,
  action: string | null,
  enforce: number | null,
  phase: string | null,
  decidedBy: string | null,
  effectiveAt: string | null,
  violationSince: number | null,
  policyRevision: number | null,
];

/** Filters shared by the two instance reports (inventory and violations). */
export function instanceWhere(filters: Filters, where = new Where()): Where {
  if (filters.tool !== undefined) where.add('i.tool_id = @tool', { tool: filters.tool });
  if (filters.group !== undefined) where.add('i.group_name = @group', { group: filters.group });
  if (filters.user !== undefined) where.add('i.owner = @user', { user: filters.user });
  if (filters.device?.id !== undefined) where.add('i.device_id = @device_id', { device_id: filters.device.id });
  if (filters.device?.hostname !== undefined)
    where.add('i.hostname = @hostname', { hostname: filters.device.hostname });
  return where;
}

/** The leading columns of both instance reports (inventory and violations): whose instance of which tool. */
export const INSTANCE_COLUMNS = [
  column('device_id', 'string', 'the device'),
  column('hostname', 'string', "the device's hostname"),
  column('group', 'string', "the device's group"),
  column('user', 'string', 'the user owning the install'),
  column('tool_id', 'string', 'catalog tool id, or unknown:<channel>:<name>'),
  column('tool_name', 'string', 'display name'),
  column('vendor', 'string', 'vendor (catalog tools)'),
];

export const inventoryReport: ReportDefinition = {
  kind: 'inventory',
  title: 'Inventory',
  summary: 'Every AI tool instance reported by every device, with first and last seen and the current verdict',
  description:
    'One row per tool instance (a tool at one install path on one device), present or removed. `from`/`to` keep the instances seen at some time in that span (last seen at or after `from`, first seen before `to`).',
  columns: [
    ...INSTANCE_COLUMNS,
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
    // Read the narrow covering index in key order, without a join: device facts and running
    // observations are read alongside, in the same device order (a merge join).
    const where = new Where();
    if (filters.tool !== undefined) where.add('i.tool_id = @tool', { tool: filters.tool });
    if (filters.group !== undefined) where.add('i.group_name = @group', { group: filters.group });
    if (filters.user !== undefined) where.add('i.owner = @user', { user: filters.user });
    if (filters.device?.id !== undefined) where.add('i.device_id = @device_id', { device_id: filters.device.id });
    if (filters.device?.hostname !== undefined)
      where.add('i.device_id IN (SELECT id FROM devices WHERE hostname = @hostname)', {
        hostname: filters.device.hostname,
      });
    // Last seen, as the inventory view resolves it: an absent instance's seen_until, else its device's last check-in.
    if (filters.fromMs !== undefined)
      where.add(
        'coalesce(i.seen_until, (SELECT d.last_checkin_at FROM devices d WHERE d.id = i.device_id), i.changed_at) >= @from',
        { from: filters.fromMs },
      );
    if (filters.toMs !== undefined) where.add('i.first_seen_at < @to', { to: filters.toMs });
    if (filters.verdict === 'none') where.add('i.action IS NULL');
    else if (filters.verdict !== undefined) where.add('i.action = @verdict', { verdict: filters.verdict });
    if (filters.present !== undefined) where.add('i.present = @present', { present: filters.present ? 1 : 0 });
    const statement = db
      .prepare<[Record<string, string | number>], RawRow>(
        `SELECT ${INVENTORY_SELECT} FROM instances i ${where} ORDER BY i.device_id, i.instance_key`,
      )
      .raw(true);
    const tools = toolInfoCache(catalog);
    function* rows(): Generator<Row> {
      // Devices in id order: reading the table through its id index costs a random page read
      // per device, so copy the three columns (sequentially) into a temporary, indexed table.
      db.exec(`CREATE TEMP TABLE IF NOT EXISTS report_devices AS SELECT id, hostname, last_checkin_at FROM main.devices NOT INDEXED;
               CREATE INDEX IF NOT EXISTS temp.report_devices_by_id ON report_devices (id, hostname, last_checkin_at);`);
      const devices = new KeyedCursor(
        db
          .prepare<[], [string, string, number | null]>(
            'SELECT id, hostname, last_checkin_at FROM temp.report_devices ORDER BY id',
          )
          .raw(true)
          .iterate(),
      );
      const runs = new KeyedCursor(
        db
          .prepare<[], [string, string, number]>(
            'SELECT device_id, instance_key, last_running_at FROM instance_running ORDER BY device_id',
          )
          .raw(true)
          .iterate(),
      );
      const noneRunning = new Map<string, number>();
      let deviceId: string | null = null;
      let hostname = '';
      let lastCheckin: number | null = null;
      let running = noneRunning;
      try {
        for (const row of statement.iterate(where.params)) {
          if (row[0] !== deviceId) {
            deviceId = row[0];
            [, hostname, lastCheckin] = devices.take(deviceId)[0] ?? ['', '', null];
            const observed = runs.take(deviceId);
            running = observed.length === 0 ? noneRunning : new Map(observed.map(([, key, at]) => [key, at]));
          }
          const key = row[1];
          const split = key.indexOf('\u0000');
          const toolId = key.slice(0, split);
          const tool = tools(toolId, row[4]);
          yield [
            row[0],
            hostname,
            row[2],
            row[3],
            toolId,
            tool.name,
            tool.vendor,
            row[5],
            row[6],
            key.slice(split + 1),
            row[7],
            isoOrNull(row[8]),
            isoOrNull(row[9] ?? lastCheckin ?? row[10]),
            row[11] === 1,
            isoOrNull(row[12]),
            boolOrNull(row[13]),
            isoOrNull(running.get(key)),
            row[14],
            boolOrNull(row[15]),
            row[16],
            row[17],
            reportedInstant(row[18]),
            isoOrNull(row[19]),
            row[20],
          ];
        }
      } finally {
        devices.close();
        runs.close();
      }
    }
    return { rows: rows() };
  },
};
