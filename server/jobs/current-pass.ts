/**
 * Figures about the fleet as it is now, from one pass over every installed instance of every
 * active device:
 * - the next scheduled changes of the current policy ("Claude Code becomes blocked in 9 days on
 *   1,204 devices"), found with the shared evaluator: each instance is evaluated now, then at
 *   its `nextChangeAt`, following the chain of changes for up to a year;
 * - the versions installed of each tool.
 */
import type Database from 'better-sqlite3';

import type { Catalog } from '../../policies/catalog/schema.js';
import { type CompiledPolicy, compilePolicy } from '../../policies/compile.js';
import { evaluateInstance } from '../../policies/evaluate.js';
import type { DeviceFacts, ToolInstance } from '../../policies/inventory.js';
import type { Action, OsName, PolicyDocument } from '../../policies/schema.js';
import { DAY_MS } from '../../policies/time.js';
import { checkAborted, yieldToEventLoop } from './days.js';

export interface UpcomingChange {
  at: string;
  toolId: string;
  toolName: string;
  from: Action;
  to: Action;
  devices: number;
  instances: number;
}

export interface VersionCount {
  version: string | null;
  instances: number;
  devices: number;
}

export interface CurrentFigures {
  computedAt: string;
  policyRevision: number | null;
  upcoming: UpcomingChange[];
  versions: Record<string, VersionCount[]>;
}

interface PresentRow {
  device_id: string;
  hostname: string;
  group_name: string;
  os: string;
  tool_id: string;
  name: string | null;
  version: string | null;
  channel: ToolInstance['channel'];
  install_path: string;
  owner: string | null;
}

const HORIZON_MS = 366 * DAY_MS;
const MAX_STEPS = 6;
const MAX_UPCOMING = 25;
const MAX_VERSIONS = 30;

/** The changes ahead for one instance: [at, from, to] while within the horizon. */
export function changesAhead(
  policy: CompiledPolicy,
  instance: ToolInstance,
  device: DeviceFacts,
  nowMs: number,
): { at: number; from: Action; to: Action }[] {
  const changes: { at: number; from: Action; to: Action }[] = [];
  let verdict = evaluateInstance(policy, instance, device, nowMs);
  for (let step = 0; step < MAX_STEPS && verdict.nextChangeAt !== null; step++) {
    const at = Date.parse(verdict.nextChangeAt);
    if (!(at > nowMs) || at - nowMs > HORIZON_MS) break;
    const next = evaluateInstance(policy, instance, device, at);
    if (next.action !== verdict.action) changes.push({ at, from: verdict.action, to: next.action });
    if (next.nextChangeAt !== null && Date.parse(next.nextChangeAt) <= at) break;
    verdict = next;
  }
  return changes;
}

export async function currentPass(
  db: Database.Database,
  policy: { revision: number; document: PolicyDocument } | null,
  catalog: Catalog,
  nowMs: number,
  signal?: AbortSignal,
): Promise<CurrentFigures> {
  const compiled = policy ? compilePolicy(policy.document, catalog) : null;
  const upcoming = new Map<
    string,
    { change: Omit<UpcomingChange, 'devices' | 'instances'>; devices: number; instances: number }
  >();
  const versions = new Map<string, Map<string, { version: string | null; instances: number; devices: number }>>();
  const toolNames = new Map(catalog.tools.map((tool) => [tool.id, tool.name]));

  let deviceId: string | null = null;
  let seenOnDevice = new Set<string>();
  const rows = db
    .prepare<[], PresentRow>(
      `SELECT i.device_id, d.hostname, d.group_name, d.os, i.tool_id, i.name, i.version, i.channel, i.install_path, i.owner
         FROM instances i JOIN devices d ON d.id = i.device_id
        WHERE i.present = 1 AND d.revoked_at IS NULL
        ORDER BY i.device_id`,
    )
    .iterate();
  let count = 0;
  for (const row of rows) {
    if (row.device_id !== deviceId) {
      deviceId = row.device_id;
      seenOnDevice = new Set();
    }
    const versionKey = `${row.tool_id}\u0000${row.version ?? ''}`;
    let byVersion = versions.get(row.tool_id);
    if (!byVersion) versions.set(row.tool_id, (byVersion = new Map()));
    let versionCount = byVersion.get(row.version ?? '');
    if (!versionCount)
      byVersion.set(row.version ?? '', (versionCount = { version: row.version, instances: 0, devices: 0 }));
    versionCount.instances++;
    if (!seenOnDevice.has(versionKey)) {
      seenOnDevice.add(versionKey);
      versionCount.devices++;
    }

    if (compiled) {
      const instance: ToolInstance = {
        toolId: row.tool_id,
        version: row.version,
        channel: row.channel,
        installPath: row.install_path,
        launchers: [],
        owner: row.owner,
        evidence: [],
      };
      if (row.name !== null) instance.name = row.name;
      const facts: DeviceFacts = {
        deviceId: row.device_id,
        hostname: row.hostname,
        group: row.group_name,
        os: row.os as OsName,
      };
      for (const change of changesAhead(compiled, instance, facts, nowMs)) {
        const key = `${change.at}\u0000${row.tool_id}\u0000${change.from}\u0000${change.to}`;
        let entry = upcoming.get(key);
        if (!entry) {
          entry = {
            change: {
              at: new Date(change.at).toISOString(),
              toolId: row.tool_id,
              toolName: toolNames.get(row.tool_id) ?? row.name ?? row.tool_id,
              from: change.from,
              to: change.to,
            },
            devices: 0,
            instances: 0,
          };
          upcoming.set(key, entry);
        }
        entry.instances++;
        if (!seenOnDevice.has(key)) {
          seenOnDevice.add(key);
          entry.devices++;
        }
      }
    }
    if (++count % 10_000 === 0) {
      await yieldToEventLoop();
      checkAborted(signal);
    }
  }

  const changes = [...upcoming.values()]
    .map(({ change, devices, instances }) => ({ ...change, devices, instances }))
    .sort((a, b) => a.at.localeCompare(b.at) || b.devices - a.devices || a.toolId.localeCompare(b.toolId))
    .slice(0, MAX_UPCOMING);
  const versionLists: Record<string, VersionCount[]> = {};
  for (const [tool, byVersion] of versions) {
    versionLists[tool] = [...byVersion.values()]
      .sort((a, b) => b.instances - a.instances || (a.version ?? '').localeCompare(b.version ?? ''))
      .slice(0, MAX_VERSIONS);
  }
  return {
    computedAt: new Date(nowMs).toISOString(),
    policyRevision: policy?.revision ?? null,
    upcoming: changes,
    versions: versionLists,
  };
}
