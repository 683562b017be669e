/**
 * What a scan may reuse of the scans before it in the same process (the daemon scans every few
 * minutes, and between two scans almost nothing on a machine changes): folder listings, and what
 * was made of a file's text (a manifest's parse, or the verdict that it is nothing to parse).
 *
 * An entry is reused only while the folder or file still has the same stamp: device, inode,
 * size, mtime, ctime, owner and mode. ctime is the kernel's: every write, rename into place,
 * chmod, chown or link changes it, and no unprivileged call sets it back (utimensat sets mtime
 * and atime only), so a user who edits a file and restores its mtime still changes its stamp.
 * Adding, removing or renaming an entry changes its folder's mtime and ctime.
 *
 * Racy stamps: timestamps have a granularity (the kernel's coarse clock; seconds on some file
 * systems), so a change in the same tick as the read could leave the stamp as it was. An entry
 * is therefore kept only when its ctime is at least RACY_MS older than the start of the scan
 * that read it (git's "racily clean" rule): any later change gets a later ctime.
 *
 * What is not reused: anything read through a final symlink, any read or listing that recorded a
 * skip (cut, refused, unreadable: asked again each scan), everything of a file once the catalog
 * changes (a new signed bundle), and anything kept longer than MAX_REUSE_MS (writes through a
 * shared memory mapping leave no stamp). Entries no scan used are dropped at the end of each scan
 * (`end`), so the memo holds about one scan's working set, and never more than MAX_KEPT.
 */
import {
  type BigIntStats,
  closeSync,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  type Stats,
  statSync,
} from 'node:fs';

import type { DirEntry } from './fs.js';

/** A stamp younger than this (ms, against the scan's start) may hide a change in the same tick. */
export const RACY_MS = 3000;

/**
 * The longest an entry is reused (ms), whatever its stamp says: a write through a shared memory
 * mapping into a page already dirty changes no timestamp (the kernel updates them when a page
 * first becomes writable), so the file's owner can change bytes under an unchanged stamp. Each
 * entry gets a limit drawn between half of this and this, so re-reads spread over scans instead
 * of all falling in one.
 */
export const MAX_REUSE_MS = 30 * 60 * 1000;

/** How long the process must have been idle after a scan before the heap is collected (ms; see ScanMemo.end). */
const IDLE_COLLECT_MS = 1000;

/**
 * The most a memo holds, in units: a listing costs 1 plus, per entry, 1 and 1 more per
 * COST_UNIT_BYTES of two of its paths (listingCost: scanners keep a path or two per entry with a
 * kept listing, as npm's package folders do), a file value 1 plus 1 per COST_UNIT_BYTES of the
 * text it was made from (a null or boolean verdict only 1), and every entry 1 more per
 * COST_UNIT_BYTES of its path. So a home full of names, or of huge manifests
 * reached by many paths, costs no more than this: about 50 MB of text at most.
 */
export const MAX_KEPT = 200_000;

/** The bytes of text (a file's, a path's) that cost one unit of MAX_KEPT. */
export const COST_UNIT_BYTES = 256;

/**
 * The most of MAX_KEPT one owner's entries may cost: a user who fills their home with names
 * leaves the other homes and the system their reuse. The owner is the one the scanner names (the
 * home a path lies in, whoever owns the folder or file it reaches: a user's link to a system
 * folder is charged to that user), else the file's own uid.
 */
export const MAX_KEPT_PER_OWNER = MAX_KEPT / 4;

/**
 * What an entry costs against MAX_KEPT (see there): `textBytes` of text made `value`, kept under
 * `key`. A value costs at least what its JSON takes, whatever text it came from (a plugin.xml
 * inflated from a few compressed bytes can hold a 1 MB name): kept values are plain data, and
 * Sets (which JSON does not show) come with the text they were made from.
 */
export function entryCost(key: string, value: unknown, textBytes: number): number {
  const bytes = value === null || typeof value !== 'object' ? 0 : Math.max(textBytes, jsonLength(value));
  return 1 + Math.ceil(bytes / COST_UNIT_BYTES) + Math.floor(key.length / COST_UNIT_BYTES);
}

/**
 * What a listing of `dir` costs against MAX_KEPT: 1, its path's units, and per entry 1 plus the
 * units of two paths into it (`<dir>/<name>` and a file in that). Scanners keep such paths with a
 * kept listing (npm's package folders and manifests, made once per listing): under a long path,
 * each entry's paths are what takes the memory, not its name.
 */
export function listingCost(dir: string, entries: readonly DirEntry[]): number {
  let cost = 1 + Math.floor(dir.length / COST_UNIT_BYTES);
  for (const entry of entries) cost += 1 + Math.floor((2 * (dir.length + entry.name.length)) / COST_UNIT_BYTES);
  return cost;
}

function jsonLength(value: unknown): number {
  try {
    return JSON.stringify(value)?.length ?? 0;
  } catch {
    return 0;
  }
}

/** When something kept at `nowMs` must be read again (see MAX_REUSE_MS). */
function reuseUntil(nowMs: number, random = Math.random()): number {
  return nowMs + MAX_REUSE_MS * (0.5 + random / 2);
}

/** The parts of a stat that change whenever a file's content, type, owner or mode does. */
interface Stamp {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  uid: number;
  mode: number;
}

/** An entry: the stamp it was made under (inline, one object per entry), and what was made. */
interface Kept<T> extends Stamp {
  value: T;
  /** The last scan (generation) that used it. */
  seen: number;
  /** Not reused by a scan started after this (ms since the epoch; see MAX_REUSE_MS). */
  until: number;
  /** What it counts against MAX_KEPT. */
  cost: number;
  /** Whose share it counts against (see MAX_KEPT_PER_OWNER). */
  owner: number;
}

/**
 * One Stats, one Dirent and one of each error a scan's fs calls throw most (a missing name, a
 * file where a folder was expected, readlink of a non-link), made once per memo: see
 * ScanMemo.shapeSamples. Node's fs errors get their fields one by one (code, errno, syscall,
 * path), so each kind has hidden classes of its own that no live object would otherwise keep.
 */
function shapeSamples(): object[] {
  const samples: object[] = [];
  const missing = '/nonexistent-aigate-shape-sample/x';
  for (const fail of [
    () => lstatSync(missing),
    () => statSync(missing, { throwIfNoEntry: true }),
    () => lstatSync('/dev/null/x'),
    () => readlinkSync('/'),
    () => realpathSync.native(missing),
    () => closeSync(openSync(missing, 'r')),
    () => readdirSync(missing),
  ]) {
    try {
      fail();
    } catch (error) {
      if (typeof error === 'object' && error !== null) samples.push(error);
    }
  }
  try {
    samples.push(lstatSync('/'), ...readdirSync('/', { withFileTypes: true }).slice(0, 1));
  } catch {
    // a root that cannot be listed: no samples of these
  }
  return samples;
}

function sameStamp(kept: Stamp, stats: Stats): boolean {
  return (
    kept.ino === stats.ino &&
    kept.ctimeMs === stats.ctimeMs &&
    kept.mtimeMs === stats.mtimeMs &&
    kept.size === stats.size &&
    kept.dev === stats.dev &&
    kept.uid === stats.uid &&
    kept.mode === stats.mode
  );
}

/**
 * One per daemon (or per long-lived caller), handed to every scanMachine call as
 * `ScanOptions.memo`. Not shared between processes and never written to disk.
 */
export class ScanMemo {
  private generation = 0;
  private active = false;
  private startedMs = 0;
  private catalog: object | null = null;
  private readonly listings = new Map<string, Kept<readonly DirEntry[]>>();
  /** Per kind of value, per path. */
  private readonly files = new Map<string, Map<string, Kept<unknown>>>();
  /** The sum of the kept entries' costs (at most MAX_KEPT). */
  private kept = 0;
  /** The same sum per owner of what was kept (each at most MAX_KEPT_PER_OWNER). */
  private readonly keptBy = new Map<number, number>();
  /** The collection planned after the last scan (see end). */
  private collect: ReturnType<typeof setTimeout> | undefined;
  /**
   * One of each object node's fs makes thousands of per scan (a Stats, a Dirent, the errors of
   * a missing name), alive across the idle collection. A forced collection drops the hidden classes no live object has, and V8
   * throws away the code it optimized for them ("weak objects" in --trace-deopt): without these
   * the next scan ran while node's stat and readdir code was compiled again. Never read: holding
   * them is the point.
   */
  readonly shapeSamples: readonly object[] = shapeSamples();
  /**
   * What the last scan handed to `end`: its own objects (its context, clock and file system
   * view, emptied of what they cached), held until the next scan ends for the same reason as
   * shapeSamples. The scanners' optimized code was built around their hidden classes; dropped by
   * the idle collection, that code was thrown away and compiled again every scan (about 20
   * functions, some 40 ms of CPU per scan in bench:scan). Never read.
   */
  private readonly lastScan: object[] = [];

  /**
   * Starts a scan: `catalog` is the index it matches against (file values made with another are
   * dropped). False, and nothing changes, while another scan is using the memo.
   */
  begin(catalog: object, nowMs = Date.now()): boolean {
    if (this.active) return false;
    this.active = true;
    clearTimeout(this.collect);
    this.generation++;
    this.startedMs = nowMs;
    if (catalog !== this.catalog) {
      for (const map of this.files.values()) this.drop(map, () => true);
      this.files.clear();
    }
    this.catalog = catalog;
    return true;
  }

  /**
   * Ends a scan: drops what it did not use, then, when node runs with --expose-gc (the shipped
   * launchers start the agent so), collects the heap once the process has been idle for
   * IDLE_COLLECT_MS (a scan that starts sooner cancels it). A scan's working state lives long
   * enough to be promoted to V8's old generation, whose garbage V8 would let grow over several
   * scans before a full collection; one collection in the quiet after each scan (tens of ms,
   * every few minutes) keeps the daemon's peak memory at one scan's worth (bench:scan).
   * `held`: the scan's own objects to keep until the next scan ends (see lastScan), emptied of
   * anything large by the caller.
   */
  end(held: readonly object[] = []): void {
    if (!this.active) return;
    this.active = false;
    this.lastScan.splice(0, this.lastScan.length, ...held);
    this.drop(this.listings, (kept) => kept.seen !== this.generation);
    for (const [kind, map] of this.files) {
      this.drop(map, (kept) => kept.seen !== this.generation);
      if (map.size === 0) this.files.delete(kind);
    }
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc) this.collect = setTimeout(gc, IDLE_COLLECT_MS).unref();
  }

  /**
   * How many listings, file values and kinds of value are kept, and their cost against MAX_KEPT
   * (for benchmarks and tests).
   */
  get size(): { listings: number; files: number; kinds: number; cost: number } {
    let files = 0;
    for (const map of this.files.values()) files += map.size;
    return { listings: this.listings.size, files, kinds: this.files.size, cost: this.kept };
  }

  /** What the entries charged to `owner` cost (see MAX_KEPT_PER_OWNER; for tests). */
  costOf(owner: number): number {
    return this.keptBy.get(owner) ?? 0;
  }

  /** The listing kept for `dir` if the folder (stat, symlinks followed) still has its stamp. */
  listing(dir: string, stats: Stats): readonly DirEntry[] | undefined {
    return this.take(this.listings, dir, stats);
  }

  /**
   * Keeps a complete listing of `dir`, read from the folder whose stat is `stats`, charged to
   * `owner` (see MAX_KEPT_PER_OWNER; the folder's uid when not told).
   */
  keepListing(dir: string, stats: Stats, entries: readonly DirEntry[], owner = stats.uid): void {
    this.keep(this.listings, dir, stats, entries, listingCost(dir, entries), owner);
  }

  /** The value of `kind` kept for the file at `path` if it (lstat) still has its stamp. */
  file<T>(kind: string, path: string, stats: Stats): T | undefined {
    const map = this.files.get(kind);
    return map && (this.take(map, path, stats) as T | undefined);
  }

  /**
   * Keeps what was made (`kind`) of `textBytes` of the text of the file at `path`, read from the
   * file `stats` describes, charged to `owner` (see MAX_KEPT_PER_OWNER; the file's uid when not
   * told).
   */
  keepFile(kind: string, path: string, stats: Stats, value: unknown, textBytes = 0, owner = stats.uid): void {
    const cost = entryCost(path, value, textBytes);
    const map = this.files.get(kind);
    if (map !== undefined) this.keep(map, path, stats, value, cost, owner);
    else {
      // A kind's map is made only for an entry kept (end() drops the maps it empties).
      const made = new Map<string, Kept<unknown>>();
      if (this.keep(made, path, stats, value, cost, owner)) this.files.set(kind, made);
    }
  }

  private take<T>(map: Map<string, Kept<T>>, key: string, stats: Stats): T | undefined {
    const kept = map.get(key);
    if (kept === undefined || kept.until < this.startedMs || !sameStamp(kept, stats)) return undefined;
    kept.seen = this.generation;
    return kept.value;
  }

  /** Whether it kept `value` (not when racy, or when the memo or its owner's share is full). */
  private keep<T>(
    map: Map<string, Kept<T>>,
    key: string,
    stats: Stats,
    value: T,
    cost: number,
    owner: number,
  ): boolean {
    if (this.generation === 0 || !(stats.ctimeMs < this.startedMs - RACY_MS)) return false;
    const old = map.get(key);
    const freed = old?.cost ?? 0;
    const owners = this.keptBy.get(owner) ?? 0;
    const ownersFreed = old?.owner === owner ? freed : 0;
    if (this.kept - freed + cost > MAX_KEPT || owners - ownersFreed + cost > MAX_KEPT_PER_OWNER) return false;
    if (old !== undefined) this.release(old);
    this.kept += cost;
    this.keptBy.set(owner, (this.keptBy.get(owner) ?? 0) + cost);
    const { dev, ino, size, mtimeMs, ctimeMs, uid, mode } = stats;
    const until = reuseUntil(this.startedMs);
    map.set(key, { dev, ino, size, mtimeMs, ctimeMs, uid, mode, value, seen: this.generation, until, cost, owner });
    return true;
  }

  private drop<T>(map: Map<string, Kept<T>>, drops: (kept: Kept<T>) => boolean): void {
    // forEach, not for-of over entries: no [key, value] pair made per entry (tens of thousands per scan).
    map.forEach((kept, key) => {
      if (drops(kept)) {
        map.delete(key);
        this.release(kept);
      }
    });
  }

  /** Takes an entry's cost off the totals (the caller removes or replaces the entry). */
  private release(kept: Kept<unknown>): void {
    this.kept -= kept.cost;
    const left = (this.keptBy.get(kept.owner) ?? 0) - kept.cost;
    if (left > 0) this.keptBy.set(kept.owner, left);
    else this.keptBy.delete(kept.owner);
  }
}

/**
 * A bounded cache of what was learned from files by their contentKey (content.ts), with the
 * memo's two rules: nothing learned from a file changed within RACY_MS of the look is kept, and
 * nothing is given again after its reuseUntil. For the content verdicts, the sentinel's manifest
 * identities and its SHA-256 hashes, which live as long as the process.
 */
export class StampCache<T> {
  private readonly entries = new Map<string, { value: T; until: number }>();

  constructor(private readonly max: number) {}

  /** The value kept under `key`, or undefined (none, or too old: then dropped). */
  get(key: string, nowMs = Date.now()): T | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until < nowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /**
   * Keeps `value` under `key`, learned from the file `stat` describes (the very file read), unless
   * that file changed less than RACY_MS ago. The oldest entry goes when the cache is full.
   */
  set(key: string, value: T, stat: Stats | BigIntStats, nowMs = Date.now()): void {
    const ctimeMs = typeof stat.ctimeMs === 'bigint' ? Number(stat.ctimeMs) : stat.ctimeMs;
    if (!(ctimeMs < nowMs - RACY_MS)) return;
    if (!this.entries.has(key) && this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, until: reuseUntil(nowMs) });
  }

  get size(): number {
    return this.entries.size;
  }
}
