/**
 * The per-day inventory and compliance figures, rebuilt from the instance history in one pass.
 *
 * Every change to an instance (appeared, version or verdict changed, disappeared) is in
 * `instance_history` with its time, so the state of any instance at the end of any day is its
 * last change up to that day. Reading the history ordered by device and instance, each instance
 * becomes a few spans of days with a constant state; each span adds +1 at its first day and -1
 * after its last to a per-day difference array, so the pass costs one read of the history
 * whatever the number of days, and memory is counters per group and tool, not per instance.
 * Per-device figures (devices with a tool, devices with a violation) take the union of that
 * device's spans first, so a device with two installs of one tool counts once.
 *
 * Figures are by the device's current group. A device counts towards compliance from the day it
 * enrolled (once it has checked in at all) until the day it was revoked.
 */
import type Database from 'better-sqlite3';

import { checkAborted, dayNumber, yieldToEventLoop } from './days.js';

export interface DeviceInfo {
  group: string;
  enrolledDay: number;
  /** Revocation day, if revoked: the device no longer counts from that day on. */
  revokedDay: number | null;
  /** Has checked in at least once. */
  reported: boolean;
}

export interface HistoryRow {
  device_id: string;
  instance_key: string;
  at: number;
  change: string;
  new_action: string | null;
}

type Span = [start: number, end: number];

/** Sorted, merged union of half-open day spans. */
export function unionSpans(spans: Span[]): Span[] {
  if (spans.length <= 1) return spans;
  const sorted = [...spans].sort((a, b) => a[0] - b[0]);
  const merged: Span[] = [[sorted[0]![0], sorted[0]![1]]];
  for (let i = 1; i < sorted.length; i++) {
    const [start, end] = sorted[i]!;
    const last = merged[merged.length - 1]!;
    if (start <= last[1]) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}

const TOOL_METRICS = ['installs', 'devices', 'warn', 'block'] as const;
const GROUP_METRICS = ['devices', 'violating', 'warn', 'block'] as const;
type ToolMetric = (typeof TOOL_METRICS)[number];
type GroupMetric = (typeof GROUP_METRICS)[number];

export interface ToolDayRow {
  group: string;
  tool: string;
  installs: number;
  devices: number;
  warn: number;
  block: number;
}

export interface ComplianceDayRow {
  group: string;
  devices: number;
  compliant: number;
  withWarn: number;
  withBlock: number;
}

/** Difference arrays per (group, tool) and per group over days [firstDay, lastDay]. */
export class DayCounters {
  private readonly size: number;
  private readonly tools = new Map<string, Record<ToolMetric, Int32Array>>();
  private readonly groups = new Map<string, Record<GroupMetric, Int32Array>>();
  private finished = false;

  constructor(
    readonly firstDay: number,
    readonly lastDay: number,
  ) {
    this.size = lastDay - firstDay + 2;
  }

  private add(array: Int32Array, start: number, end: number): void {
    const from = Math.max(start, this.firstDay) - this.firstDay;
    const to = Math.min(end, this.lastDay + 1) - this.firstDay;
    if (to <= from) return;
    array[from]! += 1;
    array[to]! -= 1;
  }

  addTool(group: string, tool: string, metric: ToolMetric, span: Span): void {
    const key = `${group}\u0000${tool}`;
    let arrays = this.tools.get(key);
    if (!arrays) {
      arrays = {
        installs: new Int32Array(this.size),
        devices: new Int32Array(this.size),
        warn: new Int32Array(this.size),
        block: new Int32Array(this.size),
      };
      this.tools.set(key, arrays);
    }
    this.add(arrays[metric], span[0], span[1]);
  }

  addGroup(group: string, metric: GroupMetric, span: Span): void {
    let arrays = this.groups.get(group);
    if (!arrays) {
      arrays = {
        devices: new Int32Array(this.size),
        violating: new Int32Array(this.size),
        warn: new Int32Array(this.size),
        block: new Int32Array(this.size),
      };
      this.groups.set(group, arrays);
    }
    this.add(arrays[metric], span[0], span[1]);
  }

  /** Turn the differences into per-day values. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    const accumulate = (array: Int32Array) => {
      for (let i = 1; i < array.length; i++) array[i]! += array[i - 1]!;
    };
    for (const arrays of this.tools.values()) for (const metric of TOOL_METRICS) accumulate(arrays[metric]);
    for (const arrays of this.groups.values()) for (const metric of GROUP_METRICS) accumulate(arrays[metric]);
  }

  toolRows(day: number): ToolDayRow[] {
    this.finish();
    const i = day - this.firstDay;
    if (i < 0 || day > this.lastDay) return [];
    const rows: ToolDayRow[] = [];
    for (const [key, a] of this.tools) {
      const row = { installs: a.installs[i]!, devices: a.devices[i]!, warn: a.warn[i]!, block: a.block[i]! };
      if (row.installs === 0 && row.devices === 0 && row.warn === 0 && row.block === 0) continue;
      const split = key.indexOf('\u0000');
      rows.push({ group: key.slice(0, split), tool: key.slice(split + 1), ...row });
    }
    return rows;
  }

  complianceRows(day: number): ComplianceDayRow[] {
    this.finish();
    const i = day - this.firstDay;
    if (i < 0 || day > this.lastDay) return [];
    const rows: ComplianceDayRow[] = [];
    for (const [group, a] of this.groups) {
      const devices = a.devices[i]!;
      if (devices === 0 && a.violating[i]! === 0) continue;
      rows.push({
        group,
        devices,
        compliant: Math.max(0, devices - a.violating[i]!),
        withWarn: a.warn[i]!,
        withBlock: a.block[i]!,
      });
    }
    return rows;
  }
}

interface Step {
  day: number;
  present: boolean;
  action: string | null;
}

/**
 * Feeds history rows (ordered by device, instance key, time, id) into the counters, one device
 * at a time.
 */
export class HistoryAccumulator {
  private deviceId: string | null = null;
  private instanceKey: string | null = null;
  private steps: Step[] = [];
  private instances: { tool: string; steps: Step[] }[] = [];

  constructor(
    private readonly devices: ReadonlyMap<string, DeviceInfo>,
    private readonly counters: DayCounters,
  ) {}

  push(row: HistoryRow): void {
    if (row.device_id !== this.deviceId) {
      this.endDevice();
      this.deviceId = row.device_id;
    } else if (row.instance_key !== this.instanceKey) {
      this.endInstance();
    }
    this.instanceKey = row.instance_key;
    const step: Step = {
      day: dayNumber(row.at),
      present: row.change !== 'disappeared',
      action: row.change === 'disappeared' ? null : row.new_action,
    };
    const last = this.steps[this.steps.length - 1];
    // Only the last state of a day counts.
    if (last && last.day >= step.day) this.steps[this.steps.length - 1] = { ...step, day: last.day };
    else this.steps.push(step);
  }

  finish(): void {
    this.endDevice();
    this.deviceId = null;
  }

  private endInstance(): void {
    if (this.instanceKey !== null && this.steps.length > 0) {
      const split = this.instanceKey.indexOf('\u0000');
      this.instances.push({
        tool: split >= 0 ? this.instanceKey.slice(0, split) : this.instanceKey,
        steps: this.steps,
      });
    }
    this.steps = [];
    this.instanceKey = null;
  }

  private endDevice(): void {
    this.endInstance();
    const device = this.deviceId === null ? undefined : this.devices.get(this.deviceId);
    const instances = this.instances;
    this.instances = [];
    if (!device) return;
    const end = device.revokedDay ?? this.counters.lastDay + 1;
    const group = device.group;
    const presentByTool = new Map<string, Span[]>();
    const violating: Span[] = [];
    const warned: Span[] = [];
    const blocked: Span[] = [];
    for (const { tool, steps } of instances) {
      for (let j = 0; j < steps.length; j++) {
        const step = steps[j]!;
        if (!step.present) continue;
        const span: Span = [step.day, Math.min(steps[j + 1]?.day ?? end, end)];
        if (span[1] <= span[0]) continue;
        this.counters.addTool(group, tool, 'installs', span);
        let spans = presentByTool.get(tool);
        if (!spans) presentByTool.set(tool, (spans = []));
        spans.push(span);
        if (step.action === 'warn') {
          this.counters.addTool(group, tool, 'warn', span);
          warned.push(span);
          violating.push(span);
        } else if (step.action === 'block') {
          this.counters.addTool(group, tool, 'block', span);
          blocked.push(span);
          violating.push(span);
        }
      }
    }
    for (const [tool, spans] of presentByTool)
      for (const span of unionSpans(spans)) this.counters.addTool(group, tool, 'devices', span);
    for (const span of unionSpans(violating)) this.counters.addGroup(group, 'violating', span);
    for (const span of unionSpans(warned)) this.counters.addGroup(group, 'warn', span);
    for (const span of unionSpans(blocked)) this.counters.addGroup(group, 'block', span);
  }
}

export interface InventoryPassResult {
  counters: DayCounters;
  historyRows: number;
}

/** Read devices and the whole history from `db` (a read connection) into day counters. */
export async function inventoryPass(
  db: Database.Database,
  lastDay: number,
  signal?: AbortSignal,
): Promise<InventoryPassResult | null> {
  const devices = new Map<string, DeviceInfo>();
  let firstDay = Infinity;
  const deviceRows = db
    .prepare<
      [],
      { id: string; group_name: string; enrolled_at: number; last_checkin_at: number | null; revoked_at: number | null }
    >('SELECT id, group_name, enrolled_at, last_checkin_at, revoked_at FROM devices')
    .iterate();
  for (const row of deviceRows) {
    const info: DeviceInfo = {
      group: row.group_name,
      enrolledDay: dayNumber(row.enrolled_at),
      revokedDay: row.revoked_at === null ? null : dayNumber(row.revoked_at),
      reported: row.last_checkin_at !== null,
    };
    devices.set(row.id, info);
    firstDay = Math.min(firstDay, info.enrolledDay);
  }
  const firstChange =
    db.prepare<[], { at: number | null }>('SELECT min(at) AS at FROM instance_history').get()?.at ?? null;
  if (firstChange !== null) firstDay = Math.min(firstDay, dayNumber(firstChange));
  if (!Number.isFinite(firstDay)) return null;
  firstDay = Math.min(firstDay, lastDay);

  const counters = new DayCounters(firstDay, lastDay);
  for (const device of devices.values()) {
    if (device.reported)
      counters.addGroup(device.group, 'devices', [device.enrolledDay, device.revokedDay ?? lastDay + 1]);
  }

  const accumulator = new HistoryAccumulator(devices, counters);
  const history = db
    .prepare<[], HistoryRow>(
      `SELECT device_id, instance_key, at, change, new_action FROM instance_history INDEXED BY instance_history_by_instance
        ORDER BY device_id, instance_key, at, id`,
    )
    .iterate();
  let rows = 0;
  for (const row of history) {
    accumulator.push(row);
    if (++rows % 20_000 === 0) {
      await yieldToEventLoop();
      checkAborted(signal);
    }
  }
  accumulator.finish();
  counters.finish();
  return { counters, historyRows: rows };
}
