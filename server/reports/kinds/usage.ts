/**
 * usage: per tool and day, from the daily rollups (server/jobs): installs, devices, devices
 * running it, verdict counts, warned and blocked launches. Fast over any span; as fresh as the
 * last rollup run (`rollupAt`).
 */
import { column } from '../columns.js';
import { mapRows, type ReportDefinition, toolInfo, Where } from '../definition.js';
import { dayOf } from '../filters.js';

interface UsageRow {
  day: string;
  tool_id: string;
  installs: number;
  devices: number;
  devices_running: number;
  warn_instances: number;
  block_instances: number;
  warned_launches: number;
  blocked_launches: number;
}

/** The rollup tables as one set of (day, group, tool) figures. */
const USAGE_UNION = `
  SELECT day, group_name, tool_id, installs, devices, 0 AS devices_running, warn_instances, block_instances, 0 AS warned_launches, 0 AS blocked_launches
    FROM rollup_inventory_day
  UNION ALL
  SELECT day, group_name, tool_id, 0, 0, devices, 0, 0, 0, 0 FROM rollup_running_day
  UNION ALL
  SELECT day, group_name, tool_id, 0, 0, 0, 0, 0,
         CASE type WHEN 'warned-launch' THEN events ELSE 0 END, CASE type WHEN 'blocked-launch' THEN events ELSE 0 END
    FROM rollup_event_day WHERE type IN ('warned-launch', 'blocked-launch') AND tool_id != ''`;

export const usageReport: ReportDefinition = {
  kind: 'usage',
  title: 'Usage',
  summary: 'Per tool and day: installs, devices, devices running it, warned and blocked launches',
  description:
    'One row per UTC day and tool with anything to count, from the daily rollups (as of their last run, given as `rollupAt`). Inventory figures are the state at the end of the day (now, for today); launches are counted on the day they happened on the device, also when they arrive late. `from`/`to` select days.',
  columns: [
    column('day', 'day', 'the UTC day'),
    column('tool_id', 'string', 'catalog tool id, or unknown:<channel>:<name>'),
    column('tool_name', 'string', 'display name'),
    column('vendor', 'string', 'vendor (catalog tools)'),
    column('installs', 'integer', 'instances installed at the end of the day'),
    column('devices', 'integer', 'devices with at least one instance installed'),
    column('devices_running', 'integer', 'devices whose check-ins that day reported it running'),
    column('warn_instances', 'integer', 'installed instances whose verdict was warn'),
    column('block_instances', 'integer', 'installed instances whose verdict was block'),
    column('warned_launches', 'integer', 'launches the agents warned about'),
    column('blocked_launches', 'integer', 'launches the agents blocked'),
  ],
  filters: ['from', 'to', 'tool', 'group'],
  open({ db, catalog }, filters) {
    const where = new Where();
    if (filters.fromMs !== undefined) where.add('day >= @from_day', { from_day: dayOf(filters.fromMs) });
    if (filters.toMs !== undefined) where.add('day <= @to_day', { to_day: dayOf(filters.toMs - 1) });
    if (filters.tool !== undefined) where.add('tool_id = @tool', { tool: filters.tool });
    if (filters.group !== undefined) where.add('group_name = @group', { group: filters.group });
    const statement = db.prepare<[Record<string, string | number>], UsageRow>(
      `SELECT day, tool_id, sum(installs) AS installs, sum(devices) AS devices, sum(devices_running) AS devices_running,
              sum(warn_instances) AS warn_instances, sum(block_instances) AS block_instances,
              sum(warned_launches) AS warned_launches, sum(blocked_launches) AS blocked_launches
         FROM (${USAGE_UNION})
        ${where}
        GROUP BY day, tool_id
        ORDER BY day, tool_id`,
    );
    const rollupAt =
      db.prepare<[], { value: string }>("SELECT value FROM rollup_meta WHERE key = 'last_run_at'").get()?.value ?? null;
    return {
      rows: mapRows(statement.iterate(where.params), (row) => {
        const tool = toolInfo(
          catalog,
          row.tool_id,
          row.tool_id.startsWith('unknown:') ? row.tool_id.split(':').slice(2).join(':') : null,
        );
        return [
          row.day,
          row.tool_id,
          tool.name,
          tool.vendor,
          row.installs,
          row.devices,
          row.devices_running,
          row.warn_instances,
          row.block_instances,
          row.warned_launches,
          row.blocked_launches,
        ];
      }),
      meta: { rollupAt },
      headers: rollupAt ? { 'x-aigate-rollup-at': rollupAt } : ({} as Record<string, string>),
    };
  },
};
