/**
 * Whether a tool is running is not part of the instance history, so check-ins that report a
 * running instance are noted here (in memory, from the already validated body) and written every
 * few seconds in one transaction: when each instance was last reported running, and which
 * devices ran which tool on which day. Check-ins themselves pay only for a loop over their
 * inventory.
 */
import type Database from 'better-sqlite3';

import { instanceKey } from '../../policies/inventory.js';
import { dayNumber, dayText } from './days.js';

interface Observation {
  deviceId: string;
  instanceKey: string;
  toolId: string;
  at: number;
}

/** The part of a check-in body read here. */
export interface CheckinInventory {
  inventory?: readonly { toolId: string; installPath: string; running?: boolean }[];
}

export class RunningObserver {
  private pending = new Map<string, Observation>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Database.Database,
    private readonly intervalMs = 5_000,
  ) {}

  /** Note the running instances of one accepted check-in. */
  noteCheckin(deviceId: string, at: number, body: CheckinInventory | null | undefined): void {
    const inventory = body?.inventory;
    if (!Array.isArray(inventory)) return;
    for (const item of inventory) {
      if (item.running !== true) continue;
      const key = instanceKey(item);
      // One entry per instance and day, so a day's observation survives later ones before a flush.
      this.pending.set(`${deviceId}\u0000${key}\u0000${dayNumber(at)}`, {
        deviceId,
        instanceKey: key,
        toolId: item.toolId,
        at,
      });
    }
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.flush(), this.intervalMs);
    this.timer.unref();
  }

  flush(): void {
    if (this.pending.size === 0 || !this.db.open) return;
    const batch = this.pending;
    this.pending = new Map();
    const upsert = this.db.prepare(
      `INSERT INTO instance_running (device_id, instance_key, last_running_at) VALUES (?, ?, ?)
       ON CONFLICT (device_id, instance_key) DO UPDATE SET last_running_at = max(last_running_at, excluded.last_running_at)`,
    );
    const day = this.db.prepare('INSERT OR IGNORE INTO running_day (day, tool_id, device_id) VALUES (?, ?, ?)');
    this.db.transaction(() => {
      for (const observation of batch.values()) {
        upsert.run(observation.deviceId, observation.instanceKey, observation.at);
        day.run(dayText(dayNumber(observation.at)), observation.toolId, observation.deviceId);
      }
    })();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.flush();
  }
}
