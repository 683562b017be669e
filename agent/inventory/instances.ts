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
    existing.launchers = union(existing.launchers, instance.launchers, MAX_LAUNCHERS);
    existing.evidence = union(existing.evidence, instance.evidence, MAX_EVIDENCE);
    if (instance.parts) existing.parts = union(existing.parts ?? [], instance.parts, MAX_PARTS);
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

/** The most launchers, evidence and parts an instance reports (finalizeInstance keeps the first, sorted). */
export const MAX_LAUNCHERS = 100;
export const MAX_EVIDENCE = 50;
export const MAX_PARTS = 50;

/**
 * The sorted union of `a` and `b`, at most `max` of it (the first, sorted). Merging thousands of
 * copies of one install (hard links, links to one folder) keeps each list bounded, so merging
 * stays linear: the first `max` of a union of firsts are the first `max` of the whole union.
 */
export function union(a: readonly string[], b: readonly string[], max = Infinity): string[] {
  const out = [...new Set([...a, ...b])].sort();
  return out.length > max ? out.slice(0, max) : out;
}

/** Fits an instance into the schema's bounds (launchers, evidence) and checks it. */
export function finalizeInstance(
  instance: ToolInstance,
): { ok: true; instance: ToolInstance } | { ok: false; error: string } {
  const out: ToolInstance = {
    ...instance,
    launchers: union(instance.launchers, [], MAX_LAUNCHERS),
    evidence: union(instance.evidence, [], MAX_EVIDENCE),
    ...(instance.parts?.length ? { parts: union(instance.parts, [], MAX_PARTS) } : {}),
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
