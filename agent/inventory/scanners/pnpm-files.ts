/**
 * pnpm's content-addressed files: every file an install links in is kept in the store's `files/`
 * under the SHA-512 of its bytes, `<store>/v<N>/files/<first 2 hex>/<other 126 hex>`, with
 * `-exec` appended for an executable (pnpm's store/cafs `contentPathFromHex`; seen in real pnpm
 * 10-12 stores: `store/v11/files/04/817942…e59f2-exec` holds Codex 0.111.0's native binary). The
 * install's copy is a hard link of it (or a reflink copy), so once the install is quarantined the
 * store's name still runs the tool (`node <store>/files/a6/51…-exec` is Claude Code's cli.js).
 *
 * For each instance pnpm installed, its runnable files (the manifest's bin entries, and native
 * binaries named after the tool in its per-platform parts) are looked up in the home's pnpm
 * stores by their digest; a store file that is the same inode (or has the same bytes) and is the
 * user's own becomes a part of the instance, quarantined with it (desired.ts) and put back with
 * it. Only these: a file of another version or tool has other bytes, so another name.
 */
import * as path from 'node:path';

import { binTargetsInside, namedAfterTool } from '../../../policies/catalog/runnable.js';
import type { ToolInstance } from '../../../policies/inventory.js';
import { MAX_FINGERPRINT_FILE_BYTES } from '../../../policies/protocol.js';
import type { ScanContext } from '../context.js';
import { isInside } from '../fs.js';
import { pnpmHomes } from '../npm-roots.js';
import { parsePackageJson } from '../parse/package-json.js';

/** Runnable files of one instance looked up in the store (bin entries and native binaries). */
const MAX_FILES_PER_INSTANCE = 16;
/**
 * Other names a matched store file may have (the install's, and `bin/claude.exe` that Claude
 * Code's postinstall links to its native binary): enforcement locks the inode only when every one
 * lies in the instance's quarantines, and records at most this many (agent/enforce/ledger.ts
 * SharedNames); more, and the file is left to the sentinel.
 */
const MAX_OTHER_NAMES = 8;
/** Entries a walk of one part lists looking for native binaries (Codex keeps its own 4 deep). */
const MAX_PART_ENTRIES = 2000;
const MAX_PART_DEPTH = 5;

/** Adds, to each pnpm-installed instance in `found`, the store files holding its runnable files. */
export async function attachStoreFiles(ctx: ScanContext, found: readonly ToolInstance[]): Promise<void> {
  if (ctx.npmPrefixes) return;
  for (const home of ctx.homes) {
    const pnpmReal = pnpmHomes(ctx, home)
      .map((dir) => ctx.fs.realpath(dir))
      .filter((dir): dir is string => dir !== null);
    const stores = storeFileDirs(ctx, pnpmReal);
    if (stores.length === 0) continue;
    const uid = ctx.fs.stat(home.dir)?.uid;
    if (uid === undefined) continue;
    // A home that changes its files every scan gets no more hashing than its share, in bytes and time.
    const budget = { bytes: ctx.limits.maxDigestBytesPerHome };
    const lookup: Lookup = { stores, uid, budget, where: home.dir, stopped: false };
    for (const instance of found) {
      if (instance.owner !== home.user || !installedByPnpm(instance, pnpmReal)) continue;
      const copies: string[] = [];
      for (const file of runnableFiles(ctx, instance)) {
        // The home's share of the scan's time, checked before each file and while it is hashed.
        if (lookup.stopped || ctx.expired(home.dir)) break;
        const copy = await storeCopy(ctx, file, lookup);
        if (copy !== null && !copies.includes(copy)) copies.push(copy);
      }
      if (copies.length) instance.parts = [...new Set([...(instance.parts ?? []), ...copies])].sort();
      if (lookup.stopped || ctx.expired(home.dir)) break;
    }
    if (lookup.budget.spent)
      ctx.skip(
        home.dir,
        `pnpm store lookup stopped: more than ${ctx.limits.maxDigestBytesPerHome} bytes to hash this scan`,
      );
  }
}

/** One home's store lookup: its store folders, its owner, what may still be hashed this scan. */
interface Lookup {
  stores: readonly string[];
  uid: number;
  budget: { bytes: number; spent?: boolean };
  /** The home, for the scan's clock. */
  where: string;
  /** Set when the budget or the home's time ran out. */
  stopped: boolean;
}

/** `<pnpm home>/store/v<N>/files` folders that exist. */
function storeFileDirs(ctx: ScanContext, pnpmHomesReal: readonly string[]): string[] {
  const out: string[] = [];
  for (const pnpmHome of pnpmHomesReal) {
    const store = path.join(pnpmHome, 'store');
    for (const entry of ctx.fs.list(store) ?? [])
      if (entry.isDirectory && /^v\d+$/.test(entry.name) && ctx.fs.isDirectory(path.join(store, entry.name, 'files')))
        out.push(path.join(store, entry.name, 'files'));
  }
  return out;
}

/** In a pnpm home (global installs, the store's links) or a project's `.pnpm` folder. */
function installedByPnpm(instance: ToolInstance, pnpmHomesReal: readonly string[]): boolean {
  return [instance.installPath, ...(instance.parts ?? [])].some(
    (dir) => dir.includes(`${path.sep}.pnpm${path.sep}`) || pnpmHomesReal.some((home) => isInside(dir, home)),
  );
}

/**
 * The instance's runnable files: the files its manifest's `bin` names (inside the install only),
 * and in its parts the executables named after the tool's commands (`claude`, `codex`, ...).
 */
function runnableFiles(ctx: ScanContext, instance: ToolInstance): string[] {
  const out: string[] = [];
  // The same read and parse the npm scanner made of this manifest (kept by the memo).
  const parsed = ctx.fs.readDerived(
    'npm-manifest',
    path.join(instance.installPath, 'package.json'),
    ctx.limits.maxManifestBytes,
    parsePackageJson,
  );
  if (parsed?.ok) out.push(...binTargetsInside(instance.installPath, parsed.value.bin));
  const names = ctx.catalog.tool(instance.toolId)?.detect.binaries ?? [];
  for (const part of instance.parts ?? []) {
    if (names.length === 0) break;
    const queue: [string, number][] = [[part, 0]];
    let listed = 0;
    while (queue.length > 0 && listed < MAX_PART_ENTRIES) {
      const [dir, depth] = queue.shift()!;
      for (const entry of ctx.fs.list(dir) ?? []) {
        if (++listed > MAX_PART_ENTRIES) break;
        const file = path.join(dir, entry.name);
        if (entry.isDirectory && depth < MAX_PART_DEPTH) queue.push([file, depth + 1]);
        else if (entry.isFile && namedAfterTool(entry.name, names)) out.push(file);
      }
    }
  }
  return [...new Set(out)].slice(0, MAX_FILES_PER_INSTANCE);
}

/**
 * The store file holding `file`'s bytes, or null: named by its SHA-512 in one of `stores`, a
 * regular file (not followed if a link) owned by `uid`, and the same inode as `file` or, for a
 * reflink copy, the same size and digest; at most MAX_OTHER_NAMES other names. Quarantine locks
 * the inode (owner root, mode 0) only when all of them lie in the instance's quarantines: a name
 * in another install (a placeholder script the same in every version) leaves it as it is (the
 * sentinel still stops what it runs).
 */
async function storeCopy(ctx: ScanContext, file: string, lookup: Lookup): Promise<string | null> {
  const { stores, uid, budget } = lookup;
  const real = ctx.fs.shownRealpath(file);
  const stats = real === null ? null : ctx.fs.lstat(real);
  if (real === null || !stats?.isFile() || stats.uid !== uid || stats.size === 0) return null;
  const pause = async () => {
    await ctx.breathe();
    return !ctx.expired(lookup.where);
  };
  const hashed = async (target: string) => {
    const hex = await ctx.fs.digest(target, 'sha512', MAX_FINGERPRINT_FILE_BYTES, pause, budget);
    // Not read for want of budget or of time: the lookup stops for this home.
    if (hex === null && (budget.spent || ctx.expired(lookup.where))) lookup.stopped = true;
    return hex;
  };
  const hex = await hashed(real);
  if (hex === null) return null;
  const name = `${hex.slice(2)}${(stats.mode & 0o111) !== 0 ? '-exec' : ''}`;
  for (const store of stores) {
    const candidate = path.join(store, hex.slice(0, 2), name);
    const copy = ctx.fs.lstat(candidate);
    if (!copy?.isFile() || copy.uid !== uid) continue;
    // Its real path: a store folder the user replaced by a link to another folder of theirs is
    // quarantined where the file really is (enforcement never acts through a link).
    if (copy.dev === stats.dev && copy.ino === stats.ino)
      return copy.nlink <= 1 + MAX_OTHER_NAMES ? ctx.fs.shownRealpath(candidate) : null;
    if (copy.nlink === 1 && copy.size === stats.size && (await hashed(candidate)) === hex)
      return ctx.fs.shownRealpath(candidate);
  }
  return null;
}
