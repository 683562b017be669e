/**
 * Impact preview: evaluate a draft policy, with the same evaluator the agents run, against the
 * latest inventory of every active device, and count per tool and outcome how many devices,
 * users and instances would be allowed, warned or blocked, and from when.
 */
import type { Catalog } from '../../policies/catalog/schema.js';
import { compilePolicy } from '../../policies/compile.js';
import { evaluate } from '../../policies/evaluate.js';
import type { DeviceFacts } from '../../policies/inventory.js';
import type { Action, OsName, PolicyDocument } from '../../policies/schema.js';
import type { InventoryStore } from '../store/inventory.js';

interface PreviewRow {
  toolId: string;
  name: string | null;
  action: Action;
  phase: 'warn-window' | 'in-effect';
  /** In effect: when the action started (null when undated). In the warn window: when it becomes `upcomingAction`. */
  effectiveAt: string | null;
  upcomingAction: Action | null;
  devices: number;
  users: number;
  instances: number;
  /** Instances whose action differs from the verdict their agent last reported. */
  changed: number;
}

export interface PreviewResult {
  at: string;
  policy: { name: string; mode: 'enforce' | 'monitor' };
  devices: number;
  instances: number;
  totals: Record<Action, { devices: number; users: number; instances: number }>;
  rows: PreviewRow[];
}

interface Bucket {
  row: PreviewRow;
  devices: Set<string>;
  users: Set<string>;
}

const SEVERITY: Record<Action, number> = { block: 0, warn: 1, allow: 2 };

export function previewPolicy(
  document: PolicyDocument,
  catalog: Catalog,
  inventory: InventoryStore,
  atMs: number,
): PreviewResult {
  const compiled = compilePolicy(document, catalog);
  const buckets = new Map<string, Bucket>();
  const totals = new Map<Action, { devices: Set<string>; users: Set<string>; instances: number }>();
  let devices = 0;
  let instances = 0;

  for (const device of inventory.presentByDevice()) {
    devices++;
    const facts: DeviceFacts = {
      deviceId: device.deviceId,
      hostname: device.hostname,
      group: device.group,
      os: device.os as OsName,
    };
    const verdicts = evaluate(
      compiled,
      device.instances.map((stored) => stored.instance),
      facts,
      atMs,
    );
    verdicts.forEach((verdict, index) => {
      const stored = device.instances[index]!;
      instances++;
      const key = [verdict.toolId, verdict.action, verdict.phase, verdict.effectiveAt, verdict.upcomingAction].join(
        '\u0000',
      );
      let bucket = buckets.get(key);
      if (!bucket) {
        bucket = {
          row: {
            toolId: verdict.toolId,
            name: stored.instance.name ?? null,
            action: verdict.action,
            phase: verdict.phase,
            effectiveAt: verdict.effectiveAt,
            upcomingAction: verdict.upcomingAction,
            devices: 0,
            users: 0,
            instances: 0,
            changed: 0,
          },
          devices: new Set(),
          users: new Set(),
        };
        buckets.set(key, bucket);
      }
      bucket.row.instances++;
      bucket.devices.add(device.deviceId);
      if (stored.instance.owner) bucket.users.add(stored.instance.owner);
      if (stored.verdict?.action !== verdict.action) bucket.row.changed++;

      let total = totals.get(verdict.action);
      if (!total) totals.set(verdict.action, (total = { devices: new Set(), users: new Set(), instances: 0 }));
      total.instances++;
      total.devices.add(device.deviceId);
      if (stored.instance.owner) total.users.add(stored.instance.owner);
    });
  }

  const rows = [...buckets.values()].map(({ row, devices: d, users: u }) => ({
    ...row,
    devices: d.size,
    users: u.size,
  }));
  rows.sort(
    (a, b) => SEVERITY[a.action] - SEVERITY[b.action] || b.devices - a.devices || a.toolId.localeCompare(b.toolId),
  );
  const summarize = (action: Action) => {
    const total = totals.get(action);
    return { devices: total?.devices.size ?? 0, users: total?.users.size ?? 0, instances: total?.instances ?? 0 };
  };
  return {
    at: new Date(atMs).toISOString(),
    policy: { name: document.metadata.name, mode: document.spec.mode ?? 'enforce' },
    devices,
    instances,
    totals: { block: summarize('block'), warn: summarize('warn'), allow: summarize('allow') },
    rows,
  };
}
