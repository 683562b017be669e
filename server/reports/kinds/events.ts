/** events: what agents reported doing: warned and blocked launches, quarantines, restores, tamper, refused policies. */
import { EVENT_TYPES, type EventRow } from '../../store/events.js';
import { column, isoOrNull } from '../columns.js';
import { mapRows, type ReportDefinition, toolInfo, Where } from '../definition.js';

/** A stored event with its device's hostname and group. */
interface EventReportRow extends EventRow {
  hostname: string;
  group_name: string;
}

/** Types listed when no `type` is given: everything but the routine policy-applied. */
const DEFAULT_EVENT_TYPES = EVENT_TYPES.filter((type) => type !== 'policy-applied');

export const eventsReport: ReportDefinition = {
  kind: 'events',
  title: 'Events',
  summary: 'Warned and blocked launches, quarantines, restores, tamper and refused policies reported by agents',
  description:
    "One row per event, oldest first. Without `type`, every type but policy-applied. `from`/`to` select by the time on the device (`at`). `user` is the user the event names. Raw events older than the server's --event-retention are pruned (the usage report keeps their daily counts).",
  columns: [
    column('at', 'instant', 'when it happened on the device'),
    column('received_at', 'instant', 'when the server received it'),
    column('device_id', 'string', 'the device'),
    column('hostname', 'string', "the device's hostname"),
    column('group', 'string', "the device's group"),
    column('type', 'string', EVENT_TYPES.join(' | ')),
    column('tool_id', 'string', 'the tool concerned'),
    column('tool_name', 'string', 'display name'),
    column('install_path', 'string', 'the instance concerned'),
    column('version', 'string', 'its version'),
    column('user', 'string', 'the user concerned (who launched it)'),
    column('policy_revision', 'integer', 'the policy revision in force on the device'),
    column('message', 'string', 'what the agent said'),
    column('details', 'json', 'further facts the agent reported'),
    column('event_id', 'string', "the agent's id for the event (unique per device)"),
  ],
  filters: ['from', 'to', 'tool', 'group', 'user', 'device', 'type'],
  open({ db, catalog }, filters) {
    const where = new Where();
    if (filters.type !== undefined) where.add('e.type = @type', { type: filters.type });
    else where.add(`e.type IN (${DEFAULT_EVENT_TYPES.map((t) => `'${t}'`).join(', ')})`);
    if (filters.fromMs !== undefined) where.add('e.at >= @from', { from: filters.fromMs });
    if (filters.toMs !== undefined) where.add('e.at < @to', { to: filters.toMs });
    if (filters.tool !== undefined) where.add('e.tool_id = @tool', { tool: filters.tool });
    if (filters.group !== undefined) where.add('d.group_name = @group', { group: filters.group });
    if (filters.user !== undefined) where.add('e.user_name = @user', { user: filters.user });
    if (filters.device?.id !== undefined) where.add('e.device_id = @device_id', { device_id: filters.device.id });
    if (filters.device?.hostname !== undefined)
      where.add('d.hostname = @hostname', { hostname: filters.device.hostname });
    const statement = db.prepare<[Record<string, string | number>], EventReportRow>(
      `SELECT e.at, e.received_at, e.device_id, d.hostname, d.group_name, e.type, e.tool_id, e.install_path, e.version, e.user_name,
              e.policy_revision, e.message, e.details, e.id
         FROM events e JOIN devices d ON d.id = e.device_id
        ${where}
        ORDER BY e.at, e.device_id, e.id`,
    );
    return {
      rows: mapRows(statement.iterate(where.params), (row) => [
        isoOrNull(row.at),
        isoOrNull(row.received_at),
        row.device_id,
        row.hostname,
        row.group_name,
        row.type,
        row.tool_id,
        row.tool_id === null ? null : toolInfo(catalog, row.tool_id, null).name,
        row.install_path,
        row.version,
        row.user_name,
        row.policy_revision,
        row.message,
        row.details,
        row.id,
      ]),
    };
  },
};
