/**
 * One file reached by several paths is one thing. A home reached through a symlink is folded by
 * real paths already; bind mounts (the same folder under two real paths) and hard links (one file
 * with two names) are not, so instances are also folded by the device and inode of their install,
 * and launchers by the device and inode of their folder plus their name (two hard-linked
 * launchers in different folders are two entries to replace, and both stay).
 */
import * as path from 'node:path';

import type { ToolInstance } from '../../policies/inventory.js';
import { MAX_EVIDENCE, MAX_LAUNCHERS, union } from './instances.js';

/** `dev:ino` of a path (following symlinks for installs, as the install path is real), or null. */
export type IdentityOf = (file: string) => string | null;

/**
 * Instances of one tool whose install paths are the same file or folder (same dev+ino) become
 * one: the lexically first path stays (so the result does not depend on scan order), launchers
 * and evidence are united and then launchers reached through the same folder are kept once.
 * Pure given `identityOf`/`dirIdentityOf`.
 */
export function foldSameFiles(
  instances: readonly ToolInstance[],
  identityOf: IdentityOf,
  dirIdentityOf: IdentityOf,
): ToolInstance[] {
  const byIdentity = new Map<string, ToolInstance>();
  const out: ToolInstance[] = [];
  // Only instances of a tool found more than once can be one file: the others' identity is not asked.
  const perTool = new Map<string, number>();
  for (const instance of instances) perTool.set(instance.toolId, (perTool.get(instance.toolId) ?? 0) + 1);
  for (const instance of instances) {
    const id = perTool.get(instance.toolId)! > 1 ? identityOf(instance.installPath) : null;
    const key = id === null ? null : `${instance.toolId}\u0000${id}`;
    const existing = key === null ? undefined : byIdentity.get(key);
    if (!existing) {
      const copy = { ...instance, launchers: [...instance.launchers] };
      if (key !== null) byIdentity.set(key, copy);
      out.push(copy);
      continue;
    }
    if (instance.installPath < existing.installPath) existing.installPath = instance.installPath;
    existing.launchers = union(existing.launchers, instance.launchers, MAX_LAUNCHERS);
    existing.evidence = union(existing.evidence, instance.evidence, MAX_EVIDENCE);
    if (existing.version === null && instance.version !== null) {
      existing.version = instance.version;
      delete existing.versionError;
    }
    existing.owner ??= instance.owner;
  }
  // Many launchers share a folder (a prefix's bin): each folder is looked at once.
  const dirs = new Map<string, string | null>();
  const cachedDirIdentity: IdentityOf = (dir) => {
    let id = dirs.get(dir);
    if (id === undefined) dirs.set(dir, (id = dirIdentityOf(dir)));
    return id;
  };
  for (const instance of out)
    if (instance.launchers.length > 1) instance.launchers = uniqueEntries(instance.launchers, cachedDirIdentity);
  return out;
}

/** Launchers that are the same directory entry (same folder by dev+ino, same name) kept once. */
function uniqueEntries(launchers: readonly string[], dirIdentityOf: IdentityOf): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const launcher of [...launchers].sort()) {
    const dir = dirIdentityOf(path.dirname(launcher));
    const key = dir === null ? `path:${launcher}` : `${dir}/${path.basename(launcher)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(launcher);
  }
  return out;
}

/** A kept original launcher or a quarantined install folder of aigate's own (see enforce/stubs.ts). */
const AIGATE_KEPT = /^\..+\.aigate-(?:orig|quarantine)(?:-\d+)?(?:\.[A-Za-z0-9]+)?$/;

/**
 * Whether `file` is, or lies in, a launcher original or quarantine aigate keeps: a segment named
 * as enforce/stubs.ts names them that is also locked as enforcement locks them (`isLocked` of
 * the path up to that segment; see ScanFs.isLocked). The name alone is not enough: anyone can
 * name a copy `.claude.aigate-quarantine` to hide it from the scan.
 */
export function isAigateKept(file: string, isLocked: (path: string) => boolean): boolean {
  if (!file.includes('.aigate-')) return false;
  for (const segment of file.matchAll(/[^\\/]+/g))
    if (AIGATE_KEPT.test(segment[0]) && isLocked(file.slice(0, segment.index + segment[0].length))) return true;
  return false;
}
