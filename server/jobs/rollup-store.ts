/**
 * The rollup tables: writing computed days (only those whose figures changed), rebuilding event
 * and running counts per day from the raw rows, pruning, and the job's own bookkeeping. Each day
 * is replaced in its own short transaction, so readers see a day either before or after, and
 * the server's writes are never held up for long.
 */
import type Database from 'better-sqlite3';

import type { CurrentFigures } from './current-pass.js';
import { dayStartMs, dayText } from './days.js';
import type { ComplianceDayRow, ToolDayRow } from './inventory-pass.js';

/** What the data looked like at the last inventory pass; a pass is skipped when nothing moved. */
export interface Fingerprint {
  historyId: number;
  deviceRowid: number;
  revoked: number;
  reported: number;
}

export interface RollupState {
  lastRunAt: number | null;
  fingerprint: Fingerprint | null;
  inventoryDay: number | null;
  currentRevision: number | null;
  currentAt: number | null;
}

const EMPTY_STATE: RollupState = {
  lastRunAt: null,
  fingerprint: null,
  inventoryDay: null,
  currentRevision: null,
  currentAt: null,
};

export const sameFingerprint = (a: Fingerprint | null, b: Fingerprint): boolean =>
  a !== null &&
  a.historyId === b.historyId &&
  a.deviceRowid === b.deviceRowid &&
  a.revoked === b.revoked &&
  a.reported === b.reported;

export class RollupStore {
  constructor(private readonly db: Database.Database) {}

  private meta(key: string): string | undefined {
    return this.db.prepare<[string], { value: string }>('SELECT value FROM rollup_meta WHERE key = ?').get(key)?.value;
  }

  private setMeta(key: string, value: string): void {
    this.db
      .prepare(
        'INSERT INTO rollup_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      )
      .run(key, value);
  }

  state(): RollupState {
    const text = this.meta('state');
    if (!text) return { ...EMPTY_STATE };
    try {
      return { ...EMPTY_STATE, ...(JSON.parse(text) as Partial<RollupState>) };
    } catch {
      return { ...EMPTY_STATE };
    }
  }

  saveState(state: RollupState): void {
    this.db.transaction(() => {
      this.setMeta('state', JSON.stringify(state));
      if (state.lastRunAt !== null) this.setMeta('last_run_at', new Date(state.lastRunAt).toISOString());
    })();
  }

  fingerprint(): Fingerprint {
    const row = this.db
      .prepare<[], Fingerprint>(
        `SELECT (SELECT coalesce(max(id), 0) FROM instance_history) AS historyId,
                (SELECT coalesce(max(rowid), 0) FROM devices) AS deviceRowid,
                (SELECT count(*) FROM devices WHERE revoked_at IS NOT NULL) AS revoked,
                (SELECT count(*) FROM devices WHERE last_checkin_at IS NOT NULL) AS reported`,
      )
      .get();
    return row ?? { historyId: 0, deviceRowid: 0, revoked: 0, reported: 0 };
  }

  /** Replace one day's inventory and compliance rows if they differ; true when it changed. */
  writeInventoryDay(day: number, tools: ToolDayRow[], compliance: ComplianceDayRow[]): boolean {
    const text = dayText(day);
    const toolKey = (r: ToolDayRow) =>
      `${r.group}\u0000${r.tool}\u0000${r.installs}\u0000${r.devices}\u0000${r.warn}\u0000${r.block}`;
    const complianceKey = (r: ComplianceDayRow) =>
      `${r.group}\u0000${r.devices}\u0000${r.compliant}\u0000${r.withWarn}\u0000${r.withBlock}`;
    const storedTools = this.db
      .prepare<
        [string],
        {
          group_name: string;
          tool_id: string;
          installs: number;
          devices: number;
          warn_instances: number;
          block_instances: number;
        }
      >(
        'SELECT group_name, tool_id, installs, devices, warn_instances, block_instances FROM rollup_inventory_day WHERE day = ?',
      )
      .all(text)
      .map((r) =>
        toolKey({
          group: r.group_name,
          tool: r.tool_id,
          installs: r.installs,
          devices: r.devices,
          warn: r.warn_instances,
          block: r.block_instances,
        }),
      );
    const storedCompliance = this.db
      .prepare<
        [string],
        { group_name: string; devices: number; compliant: number; with_warn: number; with_block: number }
      >('SELECT group_name, devices, compliant, with_warn, with_block FROM rollup_compliance_day WHERE day = ?')
      .all(text)
      .map((r) =>
        complianceKey({
          group: r.group_name,
          devices: r.devices,
          compliant: r.compliant,
          withWarn: r.with_warn,
          withBlock: r.with_block,
        }),
      );
    const same = (a: string[], b: string[]) => a.length === b.length && a.sort().join('\n') === b.sort().join('\n');
    if (same(storedTools, tools.map(toolKey)) && same(storedCompliance, compliance.map(complianceKey))) return false;

    const insertTool = this.db.prepare(
      'INSERT INTO rollup_inventory_day (day, group_name, tool_id, installs, devices, warn_instances, block_instances) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    const insertCompliance = this.db.prepare(
      'INSERT INTO rollup_compliance_day (day, group_name, devices, compliant, with_warn, with_block) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM rollup_inventory_day WHERE day = ?').run(text);
      this.db.prepare('DELETE FROM rollup_compliance_day WHERE day = ?').run(text);
      for (const r of tools) insertTool.run(text, r.group, r.tool, r.installs, r.devices, r.warn, r.block);
      for (const r of compliance) insertCompliance.run(text, r.group, r.devices, r.compliant, r.withWarn, r.withBlock);
    })();
    return true;
  }

  /** Drop inventory rows outside [firstDay, lastDay] (a clock moved back, or no data any more). */
  trimInventoryDays(firstDay: number | null, lastDay: number): void {
    const first = firstDay === null ? '9999-12-31' : dayText(firstDay);
    const last = dayText(lastDay);
    this.db.transaction(() => {
      for (const table of ['rollup_inventory_day', 'rollup_compliance_day']) {
        this.db.prepare(`DELETE FROM ${table} WHERE day < ? OR day > ?`).run(first, last);
      }
    })();
  }

  /** Days (on the device's clock) of events received at or after `since`. */
  eventDaysReceivedSince(since: number): number[] {
    return this.db
      .prepare<[number], { day: number }>(
        'SELECT DISTINCT at / 86400000 AS day FROM events WHERE received_at >= ? ORDER BY day',
      )
      .all(since)
      .map((row) => Math.floor(row.day));
  }

  /** Recount one day's events from the raw rows. */
  rebuildEventDay(day: number): void {
    const text = dayText(day);
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM rollup_event_day WHERE day = ?').run(text);
      this.db
        .prepare(
          `INSERT INTO rollup_event_day (day, group_name, tool_id, type, events, devices)
           SELECT @day, d.group_name, coalesce(e.tool_id, ''), e.type, count(*), count(DISTINCT e.device_id)
             FROM events e JOIN devices d ON d.id = e.device_id
            WHERE e.at >= @start AND e.at < @end
            GROUP BY d.group_name, coalesce(e.tool_id, ''), e.type`,
        )
        .run({ day: text, start: dayStartMs(day), end: dayStartMs(day + 1) });
    })();
  }

  /** Recount devices running each tool for days from `fromDay` on, from the raw observations. */
  rebuildRunningDays(fromDay: number): void {
    const from = dayText(fromDay);
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM rollup_running_day WHERE day >= ?').run(from);
      this.db
        .prepare(
          `INSERT INTO rollup_running_day (day, group_name, tool_id, devices)
           SELECT r.day, d.group_name, r.tool_id, count(*)
             FROM running_day r JOIN devices d ON d.id = r.device_id
            WHERE r.day >= ?
            GROUP BY r.day, d.group_name, r.tool_id`,
        )
        .run(from);
    })();
  }

  /** Delete up to `batch` events that happened before `beforeMs`; returns how many. */
  pruneEvents(beforeMs: number, batch: number): number {
    return this.db
      .prepare('DELETE FROM events WHERE (device_id, id) IN (SELECT device_id, id FROM events WHERE at < ? LIMIT ?)')
      .run(beforeMs, batch).changes;
  }

  pruneRunningDays(beforeDay: number): number {
    return this.db.prepare('DELETE FROM running_day WHERE day < ?').run(dayText(beforeDay)).changes;
  }

  pruneSessions(now: number): number {
    return this.db.prepare('DELETE FROM ui_sessions WHERE expires_at <= ?').run(now).changes;
  }

  saveCurrent(figures: CurrentFigures): void {
    this.setMeta('current', JSON.stringify(figures));
  }

  current(): CurrentFigures | null {
    const text = this.meta('current');
    if (!text) return null;
    try {
      return JSON.parse(text) as CurrentFigures;
    } catch {
      return null;
    }
  }
}
