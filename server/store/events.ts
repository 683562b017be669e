/** Events reported by agents. Ids are client UUIDs, unique per device: a resent batch is a no-op. */
import type Database from 'better-sqlite3';

import { EVENT_TYPES, type EventType } from '../../policies/events.js';

export { EVENT_TYPES, type EventType };

export interface DeviceEvent {
  id: string;
  type: EventType;
  at: number;
  toolId?: string | null;
  installPath?: string | null;
  version?: string | null;
  user?: string | null;
  policyRevision?: number | null;
  message?: string | null;
  details?: Record<string, unknown> | null;
}

export interface StoredEvent extends DeviceEvent {
  deviceId: string;
  receivedAt: number;
}

/** An event as stored (one row of `events`). */
export interface EventRow {
  device_id: string;
  id: string;
  type: EventType;
  at: number;
  received_at: number;
  tool_id: string | null;
  install_path: string | null;
  version: string | null;
  user_name: string | null;
  policy_revision: number | null;
  message: string | null;
  details: string | null;
}

export class EventStore {
  private readonly insert;
  private readonly recentStmt;

  constructor(private readonly db: Database.Database) {
    this.insert = db.prepare<[EventRow]>(
      `INSERT INTO events (device_id, id, type, at, received_at, tool_id, install_path, version, user_name, policy_revision, message, details)
       VALUES (@device_id, @id, @type, @at, @received_at, @tool_id, @install_path, @version, @user_name, @policy_revision, @message, @details)
       ON CONFLICT (device_id, id) DO NOTHING`,
    );
    this.recentStmt = db.prepare<[string, number], EventRow>(
      'SELECT * FROM events WHERE device_id = ? ORDER BY at DESC LIMIT ?',
    );
  }

  /** Store a batch in one transaction; returns how many were new and how many were repeats. */
  addBatch(
    deviceId: string,
    receivedAt: number,
    events: readonly DeviceEvent[],
  ): { accepted: number; duplicates: number } {
    return this.db.transaction(() => {
      let accepted = 0;
      for (const event of events) {
        const result = this.insert.run({
          device_id: deviceId,
          // UUIDs compare case-insensitively; store one spelling so a resend matches.
          id: event.id.toLowerCase(),
          type: event.type,
          at: event.at,
          received_at: receivedAt,
          tool_id: event.toolId ?? null,
          install_path: event.installPath ?? null,
          version: event.version ?? null,
          user_name: event.user ?? null,
          policy_revision: event.policyRevision ?? null,
          message: event.message ?? null,
          details: event.details ? JSON.stringify(event.details) : null,
        });
        accepted += result.changes;
      }
      return { accepted, duplicates: events.length - accepted };
    })();
  }

  recentForDevice(deviceId: string, limit: number): StoredEvent[] {
    return this.recentStmt.all(deviceId, limit).map((row) => ({
      deviceId: row.device_id,
      id: row.id,
      type: row.type,
      at: row.at,
      receivedAt: row.received_at,
      toolId: row.tool_id,
      installPath: row.install_path,
      version: row.version,
      user: row.user_name,
      policyRevision: row.policy_revision,
      message: row.message,
      details: row.details ? (JSON.parse(row.details) as Record<string, unknown>) : null,
    }));
  }
}
