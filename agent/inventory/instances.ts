/** Building, merging, checking and ordering tool instances. */
import { TypeCompiler } from '@sinclair/typebox/compiler';

import { instanceKey, ToolInstance } from '../../policies/inventory.js';
import type { VersionRead } from './parse/version.js';

const check = TypeCompiler.Compile(ToolInstance);

/** `version` plus, when it is null, the reason. */
export function versionFields(read: VersionRead): Pick<ToolInstance, 'version' | 'versionError'> {
  return read.version === null ? { version: null, versionError: read.error } : { version: read.version };
}

/**
 * One instance per tool and real install path: what two routes found (an nvm prefix reached
 * through a symlink, a launcher seen on PATH and in the prefix) is merged.
 */
export function mergeInstances(instances: readonly ToolInstance[]): ToolInstance[] {
  const merged = new Map<string, ToolInstance>();
  for (const instance of instances) {
    const key = instanceKey(instance);
    const existing = merged.get(key);
    if (!existing) {
      merged.set(key, {
        ...instance,
        launchers: [...instance.launchers],
        evidence: [...instance.evidence],
        ...(instance.parts ? { parts: [...instance.parts] } : {}),
      });
      continue;
    }
    existing.launchers = union(existing.launchers, instance.launchers);
    existing.evidence = union(existing.evidence, instance.evidence);
    if (instance.parts) existing.parts = union(existing.parts ?? [], instance.parts);
    if (existing.version === null && instance.version !== null) {
      existing.version = instance.version;
      delete existing.versionError;
    }
    existing.owner ??= instance.owner;
    if (instance.pids) existing.pids = [...new Set([...(existing.pids ?? []), ...instance.pids])].sort((a, b) => a - b);
    if (instance.running) existing.running = true;
  }
  return [...merged.values()];
}

export function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])].sort();
}

/** Fits an instance into the schema's bounds (launchers, evidence) and checks it. */
export function finalizeInstance(
  instance: ToolInstance,
): { ok: true; instance: ToolInstance } | { ok: false; error: string } {
  const out: ToolInstance = {
    ...instance,
    launchers: [...new Set(instance.launchers)].sort().slice(0, 100),
    evidence: [...new Set(instance.evidence)].sort().slice(0, 50),
    ...(instance.parts?.length ? { parts: [...new Set(instance.parts)].sort().slice(0, 50) } : {}),
  };
  if (!out.parts?.length) delete out.parts;
  if (out.version !== null) delete out.versionError;
  if (check.Check(out)) return { ok: true, instance: out };
  const first = check.Errors(out).First();
  return { ok: false, error: `not reportable (${first ? `${first.path || '/'}: ${first.message}` : 'invalid'})` };
}

export function compareInstances(a: ToolInstance, b: ToolInstance): number {
  return (
    cmp(a.toolId, b.toolId) ||
    cmp(a.installPath, b.installPath) ||
    cmp(a.channel, b.channel) ||
    cmp(a.owner ?? '', b.owner ?? '')
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
