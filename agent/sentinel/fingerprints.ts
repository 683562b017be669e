/**
 * File fingerprints of tools' code: SHA-256 of entry files (the scripts a manifest's `bin` names)
 * and native binaries (large executables in the tool's folder and its per-platform parts). A
 * renamed or copied file with no package.json around it is still known by its bytes. Two
 * sources: learned from the inventory's instances on this device (reported to the server), and
 * shipped by the server in the signed policy bundle (learned on other devices and approved or
 * corroborated there). The store is keyed by size first, so a process whose executable has no
 * known size costs one stat and no hashing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { binTargetsInside, namedAfterTool } from '../../policies/catalog/runnable.js';
import type { ToolInstance } from '../../policies/inventory.js';
import {
  type FingerprintKind,
  MAX_FINGERPRINT_FILE_BYTES,
  MAX_SHIPPED_FINGERPRINTS,
  type ToolFingerprint,
} from '../../policies/protocol.js';
import { parsePackageJson } from '../inventory/parse/package-json.js';
import { readRegularFile, sha256File } from './files.js';

/** One known file: which tool (and version) its bytes belong to, and where it was learned. */
export interface Fingerprint {
  sha256: string;
  size: number;
  toolId: string;
  version: string | null;
  /** `entry`: a bin script; `native`: a native executable. */
  kind: FingerprintKind;
  /** The file it was learned from, or `server` for a fingerprint shipped in the bundle. */
  source: string;
  /**
   * The owner of the install it was learned from. Bytes learned from one user's install are
   * matched only in that user's processes: a user must not be able to copy another user's
   * program into a fake tool folder and have root stop it for them. Null for a shipped
   * fingerprint: it is matched in a user's own file run by that user, never root's (stop.ts).
   */
  ownerUid: number | null;
}

/** Native binaries are at least this large; smaller executables in a package are scripts or helpers. */
const NATIVE_MIN_BYTES = 1024 * 1024;
const MANIFEST_MAX = 1024 * 1024;
const WALK_MAX_ENTRIES = 2000;
/**
 * Files larger than this are not learned (Claude Code's native binary is ~400 MB): a user's 4 TiB
 * sparse file must not keep the daemon hashing for hours with the sentinel not yet started.
 */
const LEARN_MAX_BYTES = MAX_FINGERPRINT_FILE_BYTES;
/** Shared libraries and Node addons are loaded, never run as a process's executable. */
const LIBRARY = /\.(so(\.\d+)*|node|dylib|dll)$/i;

/**
 * Programs a shipped fingerprint may never name, by file name: language runtimes and shells. A
 * hostile device could report node's or bash's SHA-256 as a tool's; whatever the server ships,
 * the sentinel does not stop a process whose executable is one of these.
 */
export const RUNTIME_NAMES =
  /^(node|nodejs|node\d+|bun|bunx|deno|tsx|ts-node|python(\d+(\.\d+)*)?|pypy\d*|perl|ruby|php|java|env|busybox|sh|bash|dash|zsh|fish|ksh|mksh|tcsh|csh|pwsh|powershell|cmd)(\.exe)?$/i;
/** Folders whose runtimes and shells are hashed to refuse shipped fingerprints equal to them. */
const SYSTEM_BIN_DIRS = ['/usr/bin', '/bin', '/usr/local/bin'];
const RUNTIME_FILES = ['node', 'nodejs', 'bun', 'deno', 'python3', 'perl', 'ruby', 'sh', 'bash', 'dash', 'zsh'];

export class FingerprintStore {
  private readonly bySize = new Map<number, Map<string, Fingerprint>>();
  /** Shipped by the server: by size, then SHA-256. Replaced whole by `ship`. */
  private shippedBySize = new Map<number, Map<string, Fingerprint>>();

  add(fp: Fingerprint): void {
    let bucket = this.bySize.get(fp.size);
    if (!bucket) this.bySize.set(fp.size, (bucket = new Map()));
    bucket.set(`${fp.ownerUid}:${fp.sha256}`, fp);
  }

  /** Whether any fingerprint has this size (the cheap first test). */
  hasSize(size: number): boolean {
    return this.bySize.has(size) || this.shippedBySize.has(size);
  }

  /** The fingerprint of these bytes learned from `ownerUid`'s installs. */
  get(size: number, sha256: string, ownerUid: number): Fingerprint | undefined {
    return this.bySize.get(size)?.get(`${ownerUid}:${sha256}`);
  }

  /** Fingerprints learned on this device. */
  all(): Fingerprint[] {
    return [...this.bySize.values()].flatMap((b) => [...b.values()]);
  }

  /** Fingerprints the server shipped (and this device kept, see `ship`). */
  shipped(): Fingerprint[] {
    return [...this.shippedBySize.values()].flatMap((b) => [...b.values()]);
  }

  /**
   * What this device learned, as the server takes it (POST /v1/fingerprints): one entry per
   * SHA-256, sorted, whoever's install it came from.
   */
  learned(): ToolFingerprint[] {
    const bySha = new Map<string, ToolFingerprint>();
    // The server takes a native binary only from 1 MiB on (a smaller one is not worth shipping).
    for (const fp of this.all())
      if (fp.kind === 'entry' || fp.size >= NATIVE_MIN_BYTES)
        bySha.set(fp.sha256, {
          sha256: fp.sha256,
          size: fp.size,
          toolId: fp.toolId,
          version: fp.version,
          kind: fp.kind,
        });
    return [...bySha.values()].sort((a, b) => a.sha256.localeCompare(b.sha256));
  }

  /**
   * Replaces the shipped fingerprints with those of the bundle in force. Any equal to a runtime
   * or shell installed on this device (process.execPath, node, python3, bash, ... in /usr/bin,
   * /bin, /usr/local/bin: hashed only when a shipped size matches) is dropped and returned, so a
   * poisoned report never stops them. Returns the fingerprints dropped.
   */
  async ship(fingerprints: readonly ToolFingerprint[]): Promise<ToolFingerprint[]> {
    const next = new Map<number, Map<string, Fingerprint>>();
    for (const fp of fingerprints.slice(0, MAX_SHIPPED_FINGERPRINTS)) {
      let bucket = next.get(fp.size);
      if (!bucket) next.set(fp.size, (bucket = new Map()));
      bucket.set(fp.sha256, { ...fp, source: 'server', ownerUid: null });
    }
    const dropped: ToolFingerprint[] = [];
    const runtimes = new Set([
      process.execPath,
      ...SYSTEM_BIN_DIRS.flatMap((dir) => RUNTIME_FILES.map((name) => path.join(dir, name))),
    ]);
    for (const file of runtimes) {
      const real = realOrNull(file);
      let size: number;
      try {
        const st = real ? fs.statSync(real) : null;
        if (!st?.isFile()) continue;
        size = st.size;
      } catch {
        continue;
      }
      const bucket = next.get(size);
      if (!bucket) continue;
      const hashed = await sha256File(real!);
      const fp = hashed ? bucket.get(hashed.sha256) : undefined;
      if (!fp) continue;
      bucket.delete(fp.sha256);
      if (bucket.size === 0) next.delete(size);
      dropped.push({ sha256: fp.sha256, size: fp.size, toolId: fp.toolId, version: fp.version, kind: fp.kind });
    }
    this.shippedBySize = next;
    return dropped;
  }

  /**
   * The fingerprint `file`'s bytes match, for a process of `uid` in which the file is its
   * executable or its script (`how`): one learned from `uid`'s own installs, or else one the
   * server shipped, of the kind that runs that way (a native binary as the executable, an entry
   * file as the script). Never for root's processes or root-owned files. Hashes only when a size
   * matches. Callers add the checks a shipped fingerprint needs (identify.ts).
   */
  async match(file: string, uid: number, how?: 'executable' | 'script'): Promise<Fingerprint | null> {
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
    if (!hashed) return null;
    const learned = this.get(hashed.size, hashed.sha256, uid);
    if (learned) return learned;
    const shipped = this.shippedBySize.get(hashed.size)?.get(hashed.sha256);
    if (!shipped || how === undefined) return null;
    return (shipped.kind === 'native') === (how === 'executable') ? shipped : null;
  }

  /**
   * Learns an npm instance's entry files (its manifest's bin targets) and the native binaries in
   * it and its parts. With `binaries` (the catalog's launcher names of the tool), a native binary
   * found by the walk is learned only when named after the tool (`claude`, `codex`,
   * `codex-x86_64-unknown-linux-musl`): tools vendor other programs (Claude Code 2.0 carries
   * ripgrep's release binaries in vendor/ripgrep/*), whose bytes must not stand for the tool.
   * With `quarantineOf` (enforcement's quarantineFor), an install already quarantined (gone from
   * its path, its quarantine folder root-owned with mode 000, as agent/enforce/steps.ts leaves it)
   * is learned from the quarantine: the daemon learns after the cycle that quarantined it, and
   * the files inside keep their owner and can no longer be changed by the user.
   * Returns how many files were added.
   */
  async learn(
    given: Pick<ToolInstance, 'toolId' | 'version' | 'installPath' | 'parts'>,
    options: { binaries?: readonly string[]; quarantineOf?: (installPath: string) => string } = {},
  ): Promise<number> {
    const quarantined = options.quarantineOf ? quarantinedInstall(given, options.quarantineOf) : null;
    const instance = quarantined?.instance ?? given;
    // Only what really lies inside the install (or its parts), owned by the install's owner, is
    // learned; root's installs teach nothing, since bytes alone never stop a root process.
    const roots = [instance.installPath, ...(instance.parts ?? [])]
      .map(realOrNull)
      .filter((p): p is string => p !== null);
    const ownerUid = quarantined ? quarantined.ownerUid : roots.length ? ownerOf(roots[0]!) : null;
    if (ownerUid === null || ownerUid === 0) return 0;
    const files = new Set<string>();
    const manifest = readRegularFile(path.join(instance.installPath, 'package.json'), MANIFEST_MAX);
    if (manifest) {
      const parsed = parsePackageJson(manifest.text);
      // A bin entry is the package's own text: `../../../usr/bin/bash` must not teach the sentinel
      // a system program's bytes, so only files inside the install folder are learned.
      if (parsed.ok) for (const file of binTargetsInside(instance.installPath, parsed.value.bin)) files.add(file);
    }
    for (const dir of [instance.installPath, ...(instance.parts ?? [])])
      for (const file of nativeBinaries(dir))
        if (!options.binaries || namedAfterTool(path.basename(file), options.binaries)) files.add(file);
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
        kind: hashed.native ? 'native' : 'entry',
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

/**
 * The quarantined copy of an install that is gone from its path: its quarantine folder (and its
 * parts', where quarantined) when that is a folder owned by root with mode 000, with the owner of
 * the package.json inside (the install's owner). Null otherwise.
 */
function quarantinedInstall(
  instance: Pick<ToolInstance, 'toolId' | 'version' | 'installPath' | 'parts'>,
  quarantineOf: (installPath: string) => string,
): { instance: Pick<ToolInstance, 'toolId' | 'version' | 'installPath' | 'parts'>; ownerUid: number } | null {
  const locked = (p: string) => {
    try {
      const st = fs.lstatSync(p);
      return st.isDirectory() && st.uid === 0 && (st.mode & 0o777) === 0;
    } catch {
      return false;
    }
  };
  if (fs.existsSync(instance.installPath)) return null;
  const installPath = quarantineOf(instance.installPath);
  if (!locked(installPath)) return null;
  const ownerUid = ownerOf(path.join(installPath, 'package.json'));
  if (ownerUid === null) return null;
  const parts = (instance.parts ?? []).map((part) => {
    const q = quarantineOf(part);
    return !fs.existsSync(part) && locked(q) ? q : part;
  });
  return { instance: { ...instance, installPath, parts }, ownerUid };
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
