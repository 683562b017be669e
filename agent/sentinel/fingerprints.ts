/**
 * File fingerprints of tools' code: SHA-256 of entry files (the scripts a manifest's `bin` names)
 * and native binaries (large executables in the tool's folder and its per-platform parts). A
 * renamed or copied file with no package.json around it is still known by its bytes. Learned from
 * the inventory's instances on this device; the store is keyed by size first, so a process whose
 * executable has no known size costs one stat and no hashing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { ToolInstance } from '../../policies/inventory.js';
import { parsePackageJson } from '../inventory/parse/package-json.js';
import { readRegularFile, sha256File } from './files.js';

/** One known file: which tool (and version) its bytes belong to, and where it was learned. */
export interface Fingerprint {
  sha256: string;
  size: number;
  toolId: string;
  version: string | null;
  /** The file it was learned from. */
  source: string;
  /**
   * The owner of the install it was learned from. Bytes learned from one user's install are
   * matched only in that user's processes: a user must not be able to copy another user's
   * program into a fake tool folder and have root stop it for them.
   */
  ownerUid: number;
}

/** Native binaries are at least this large; smaller executables in a package are scripts or helpers. */
const NATIVE_MIN_BYTES = 1024 * 1024;
const MANIFEST_MAX = 1024 * 1024;
const WALK_MAX_ENTRIES = 2000;
/**
 * Files larger than this are not learned (Claude Code's native binary is ~400 MB): a user's 4 TiB
 * sparse file must not keep the daemon hashing for hours with the sentinel not yet started.
 */
const LEARN_MAX_BYTES = 1024 * 1024 * 1024;
/** Shared libraries and Node addons are loaded, never run as a process's executable. */
const LIBRARY = /\.(so(\.\d+)*|node|dylib|dll)$/i;

export class FingerprintStore {
  private readonly bySize = new Map<number, Map<string, Fingerprint>>();

  add(fp: Fingerprint): void {
    let bucket = this.bySize.get(fp.size);
    if (!bucket) this.bySize.set(fp.size, (bucket = new Map()));
    bucket.set(`${fp.ownerUid}:${fp.sha256}`, fp);
  }

  /** Whether any fingerprint has this size (the cheap first test). */
  hasSize(size: number): boolean {
    return this.bySize.has(size);
  }

  /** The fingerprint of these bytes learned from `ownerUid`'s installs. */
  get(size: number, sha256: string, ownerUid: number): Fingerprint | undefined {
    return this.bySize.get(size)?.get(`${ownerUid}:${sha256}`);
  }

  all(): Fingerprint[] {
    return [...this.bySize.values()].flatMap((b) => [...b.values()]);
  }

  /** The fingerprint a file's content matches, or null (hashes only when a size matches). */
  /** The fingerprint learned from `uid`'s installs that `file`'s bytes match (run by that user), or null. */
  async match(file: string, uid: number): Promise<Fingerprint | null> {
    let size: number;
    try {
      const st = fs.lstatSync(file);
      // Root-owned programs are never matched by bytes alone: a user who copies /bin/bash into a
      // fake tool folder must not make the sentinel stop every shell on the machine. A system
      // install of a tool is still known by its package folder (identify.ts).
      if (!st.isFile() || st.uid === 0 || uid === 0) return null;
      size = st.size;
    } catch {
      return null;
    }
    if (!this.hasSize(size)) return null;
    const hashed = await sha256File(file);
    return hashed ? (this.get(hashed.size, hashed.sha256, uid) ?? null) : null;
  }

  /**
   * Learns an npm instance's entry files (its manifest's bin targets) and the native binaries in
   * it and its parts. Returns how many files were added.
   */
  async learn(instance: Pick<ToolInstance, 'toolId' | 'version' | 'installPath' | 'parts'>): Promise<number> {
    // Only what really lies inside the install (or its parts), owned by the install's owner, is
    // learned; root's installs teach nothing, since bytes alone never stop a root process.
    const roots = [instance.installPath, ...(instance.parts ?? [])]
      .map(realOrNull)
      .filter((p): p is string => p !== null);
    const ownerUid = roots.length ? ownerOf(roots[0]!) : null;
    if (ownerUid === null || ownerUid === 0) return 0;
    const files = new Set<string>();
    const manifest = readRegularFile(path.join(instance.installPath, 'package.json'), MANIFEST_MAX);
    if (manifest) {
      const parsed = parsePackageJson(manifest.text);
      // A bin entry is the package's own text: `../../../usr/bin/bash` must not teach the sentinel
      // a system program's bytes, so only files inside the install folder are learned.
      if (parsed.ok) {
        for (const target of Object.values(parsed.value.bin)) {
          const file = path.resolve(instance.installPath, target);
          if (isStrictlyInside(file, instance.installPath)) files.add(file);
        }
      }
    }
    for (const dir of [instance.installPath, ...(instance.parts ?? [])])
      for (const file of nativeBinaries(dir)) files.add(file);
    let added = 0;
    for (const file of files) {
      if (!learnable(file, roots, ownerUid)) continue;
      const hashed = await sha256File(file);
      if (!hashed || hashed.size === 0) continue;
      this.add({
        sha256: hashed.sha256,
        size: hashed.size,
        toolId: instance.toolId,
        version: instance.version,
        source: file,
        ownerUid,
      });
      added++;
    }
    return added;
  }
}

/** Executable regular files of at least 1 MiB under `dir` (bounded walk, symlinks not followed). */
function nativeBinaries(dir: string): string[] {
  const out: string[] = [];
  const queue = [dir];
  let seen = 0;
  while (queue.length && seen < WALK_MAX_ENTRIES) {
    const current = queue.shift()!;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(current, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (++seen > WALK_MAX_ENTRIES) break;
      const p = path.join(current, entry.name);
      if (entry.isDirectory()) queue.push(p);
      else if (entry.isFile() && !LIBRARY.test(entry.name)) {
        try {
          const st = fs.lstatSync(p);
          if (st.size >= NATIVE_MIN_BYTES && (st.mode & 0o111) !== 0) out.push(p);
        } catch {
          // gone meanwhile
        }
      }
    }
  }
  return out;
}

function isStrictlyInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

function realOrNull(p: string): string | null {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return null;
  }
}

function ownerOf(p: string): number | null {
  try {
    return fs.lstatSync(p).uid;
  } catch {
    return null;
  }
}

/**
 * A file may be learned when its real path lies inside one of the install's real folders, it is
 * a regular file of the install's owner, at most LEARN_MAX_BYTES, and not sparse (a file whose
 * blocks cover less than half its size is a decoy, not a tool's binary).
 */
function learnable(file: string, roots: readonly string[], ownerUid: number): boolean {
  const real = realOrNull(file);
  if (!real || !roots.some((root) => isStrictlyInside(real, root))) return false;
  try {
    const st = fs.lstatSync(real);
    if (!st.isFile() || st.uid !== ownerUid || st.size === 0 || st.size > LEARN_MAX_BYTES) return false;
    return typeof st.blocks !== 'number' || st.blocks * 512 >= st.size / 2;
  } catch {
    return false;
  }
}
