/**
 * The only module of the inventory that touches the disk. Every read is bounded (entries per
 * directory, bytes per file), opens nothing but a regular file (a FIFO, socket or device is
 * looked at, never opened), and turns each failure into a recorded skip (path + reason) rather
 * than an exception. Missing files are simply absent.
 *
 * As root (issue 10) a file under a user's home is read only if it is the user's own, or a root
 * file anyone may read, and really lies in that home or in a root-owned system folder: a user's
 * link cannot make root read out a root-only file or another user's. See ScanFs.withFile.
 *
 * Calls are synchronous on purpose: a scan reads thousands of tiny files, and synchronous reads
 * are several times faster than the thread-pool round trips of fs/promises. The scanners yield to
 * the event loop between directories (ScanContext.breathe), so a daemon stays responsive.
 *
 * Listings (Linux): the folder is held by an O_PATH handle and read through that handle's
 * /proc/self/fd name, in one readdir call when its size bounds its entries (ENTRY_BYTES), else in
 * steps of 256 that stop at the limit. A folder that is not there (most of what a scan probes) is
 * told by existsSync, without the cost of an exception.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { dirname } from 'node:path';

import { readFully } from '../host/read-fully.js';
import type { ScanMemo } from './memo.js';
import { decodeText } from './parse/text.js';

/**
 * `dir` + separator + `name`, for names read from a directory listing (never containing a
 * separator). path.join would normalise the whole path again; in a scan that is tens of
 * thousands of calls and most of the garbage.
 */
export function child(dir: string, name: string): string {
  return dir.endsWith(SEP) ? dir + name : dir + SEP + name;
}

const SEP = process.platform === 'win32' ? '\\' : '/';

export interface SkipLog {
  add(path: string, reason: string): void;
}

export interface DirEntry {
  name: string;
  /** From the directory listing: true for directories (not symlinks to them). */
  isDirectory: boolean;
  isSymbolicLink: boolean;
  isFile: boolean;
}

const NONBLOCK = (fs.constants as { O_NONBLOCK?: number }).O_NONBLOCK ?? 0;
const NOFOLLOW = (fs.constants as { O_NOFOLLOW?: number }).O_NOFOLLOW ?? 0;
const OPEN_FLAGS = fs.constants.O_RDONLY | NONBLOCK | NOFOLLOW;
/** Reopening an O_PATH handle through /proc/self/fd: that name is a (magic) link, so no O_NOFOLLOW. */
const REOPEN_FLAGS = fs.constants.O_RDONLY | NONBLOCK;
/**
 * Linux O_PATH (open(2)): a handle naming a file without opening it, so no driver's open runs
 * (a watchdog, a tape rewind) and a FIFO cannot block. Node does not export the constant; the
 * value is the kernel's on every architecture Node supports on Linux.
 */
const O_PATH = 0o10000000;
const O_DIRECTORY = (fs.constants as { O_DIRECTORY?: number }).O_DIRECTORY ?? 0;
/**
 * File systems on which a folder's size grows with its entries, by statfs(2) f_type, with the
 * fewest bytes of size one entry adds: there `st_size / bytes` bounds the entries, so a folder
 * small enough is listed in one call. ext2/3/4: every entry takes at least 12 bytes of the
 * folder's blocks (EXT4_DIR_REC_LEN, fs/ext4/ext4.h); tmpfs: 20 per entry (BOGO_DIRENT_SIZE,
 * mm/shmem.c); btrfs: twice the name's length (btrfs_add_link, fs/btrfs/inode.c), so at least 2.
 * Elsewhere (FUSE, network file systems, overlayfs: sizes that need not count entries) folders
 * are read in bounded steps.
 */
const ENTRY_BYTES = new Map<number, number>([
  [0xef53, 12],
  [0x01021994, 20],
  [0x9123683e, 2],
]);
/**
 * Local file systems on which adding, removing or renaming an entry changes its folder's mtime
 * and ctime, the memo's ground for reusing a listing, by statfs(2) f_type: ext2/3/4, tmpfs, btrfs,
 * xfs, overlayfs, zfs, f2fs. Not /proc, /sys and their like (a folder's stamp there stays as
 * processes come and go), nor FUSE or network file systems (stamps that are a server's word).
 */
const STAMPED_LISTINGS = new Set([0xef53, 0x01021994, 0x9123683e, 0x58465342, 0x794c7630, 0x2fc12fc1, 0xf2f52010]);
const CHUNK = 64 * 1024;
/** The most listing entries one scan remembers (ScanFs.remember), as many as the memo's MAX_KEPT. */
const MAX_LISTED_ENTRIES = 200_000;
/** A path with an empty, `.` or `..` component, or a trailing separator: not resolved by components. */
const UNPLAIN = /\/\.{0,2}(\/|$)/;
/** Links followed in one resolution before realpath(3) is asked instead (the kernel's MAXSYMLINKS). */
const MAX_LINKS = 40;
const PROC = '/proc';
/**
 * Names one reachBy walk looks up, link targets' included (a real path has a few dozen; 40 links
 * of 4 KiB targets of `x/..` pairs would be 80,000, every scan): past this the path counts as
 * one the user cannot walk.
 */
const MAX_WALK_STEPS = 1024;
/** Names of one link target followed by components (ScanFs.follow); longer goes to realpath(3). */
const MAX_TARGET_NAMES = 256;
/** Digests ScanFs.digest keeps (a few per tool install: its entry files and native binaries). */
const MAX_DIGESTS = 1024;
const DIGESTS = new Map<string, string>();

/** A resolution by components (ScanFs.resolve): the real path, or null (missing), or undefined (ask realpath(3)), and the links it followed. */
interface Resolved {
  real: string | null | undefined;
  links: number;
}
const ASK_REALPATH: Resolved = { real: undefined, links: 0 };
const ROOT: Resolved = { real: '/', links: 0 };

/**
 * A user's home whose files a root scan reads only when they are the user's own (or
 * world-readable root files) and really lie inside the home or a root-owned system location.
 */
export interface GuardedHome {
  /** The home as scanned, and its canonical path. */
  dir: string;
  real: string;
  /** The home's owner. */
  uid: number;
}

/** The file a read will open: its real type and identity, and where it really lies (lazily). */
interface Located {
  stats: fs.Stats;
  /** The real path of the file, or null when it cannot be told. */
  where(): string | null;
}

export class ScanFs {
  private readonly buffer = Buffer.allocUnsafe(CHUNK);
  private readonly realpaths = new Map<string, string | null>();
  private readonly resolved = new Map<string, Resolved>();
  /**
   * This scan's complete listings, by folder as asked, for resolve (a name a listing shows as no
   * link needs no lstat); by name once asked for (entriesByName).
   */
  private readonly listed = new Map<string, readonly DirEntry[]>();
  /** The entries `listed` holds (at most MAX_LISTED_ENTRIES: past that, listings are not remembered). */
  private listedEntries = 0;
  private homes: GuardedHome[] = [];
  private readonly systemDirs = new Map<string, boolean>();
  /** walkableBy's lstats, per path. */
  private readonly walkStats = new Map<string, fs.Stats | null>();
  /** reachBy's answers, per uid and path. */
  private readonly reached = new Map<string, 'walkable' | 'missing' | 'denied'>();
  /** names()'s maps, per folder as asked (at most MAX_LISTED_ENTRIES names in all). */
  private readonly nameMaps = new Map<string, ReadonlyMap<string, string> | null>();
  private nameMapEntries = 0;
  /** Per device: its file system's statfs(2) f_type (-1 when it cannot be told). */
  private readonly fsTypes = new Map<number, number>();
  /** Reads go through an O_PATH handle reopened via /proc/self/fd (Linux with /proc mounted). */
  private readonly pathHandles = process.platform === 'linux' && fs.existsSync('/proc/self/fd');

  /** The most entries one listing gives (a folder with more is cut there). */
  get maxEntries(): number {
    return this.maxEntriesPerDir;
  }

  constructor(
    private readonly skips: SkipLog,
    private readonly maxEntriesPerDir: number,
    /** Whether reads run with root's rights (then files under guarded homes are checked). */
    readonly asRoot = process.platform !== 'win32' && typeof process.geteuid === 'function' && process.geteuid() === 0,
    /** Listings and file values kept from earlier scans (memo.ts), or none. */
    private readonly memo: ScanMemo | null = null,
  ) {}

  /**
   * Forgets what this scan cached (listings, real paths, lstats, file system types, guarded
   * homes), once the scan is over: the memo keeps the emptied object (ScanMemo.lastScan).
   */
  release(): void {
    this.realpaths.clear();
    this.resolved.clear();
    this.listed.clear();
    this.listedEntries = 0;
    this.homes = [];
    this.systemDirs.clear();
    this.walkStats.clear();
    this.reached.clear();
    this.fsTypes.clear();
    this.nameMaps.clear();
    this.nameMapEntries = 0;
  }

  /**
   * A folder's names, keyed as they are matched (lower-cased when `foldCase`, as Windows matches
   * them) to the names as listed; null when it cannot be listed. Kept for the scan while the maps
   * kept hold at most MAX_LISTED_ENTRIES names: a home of thousands of links to one big folder
   * would otherwise keep one map of it per link.
   */
  names(dir: string, foldCase: boolean): ReadonlyMap<string, string> | null {
    const key = foldCase ? `\u0000${dir}` : dir;
    const kept = this.nameMaps.get(key);
    if (kept !== undefined) return kept;
    const entries = this.list(dir);
    const names =
      entries === null
        ? null
        : new Map(entries.map((e) => [foldCase ? e.name.toLowerCase() : e.name, e.name] as const));
    const size = names?.size ?? 0;
    if (this.nameMapEntries + size <= MAX_LISTED_ENTRIES) {
      this.nameMaps.set(key, names);
      this.nameMapEntries += size;
    }
    return names;
  }

  /**
   * Homes whose files are read only if they are the home owner's (or world-readable root files)
   * and really lie inside the home or a root-owned system location; applies when scanning as root.
   * A home owned by root (root's own, or a test's) is trusted as a whole.
   */
  guardHomes(homes: readonly GuardedHome[]): void {
    // Longest first, so a home inside another one is the one a path belongs to.
    this.homes = homes.filter((h) => h.uid !== 0).sort((a, b) => b.real.length - a.real.length);
  }

  /**
   * A directory's entries, at most maxEntriesPerDir of them; null when it cannot be listed. The
   * array is shared with this scan's and the memo's copies (never changed: not copied per call).
   */
  list(dir: string): readonly DirEntry[] | null {
    // As root, a folder of a guarded home is listed on the terms a file is read: the user's
    // own (or a root folder anyone may read) lying in the home or a system folder, reached the
    // way the user could walk. Else a user's link to a root-only or another user's folder would
    // show root its names, or whether it is there.
    const guard = this.asRoot ? this.homeOf(dir) : null;
    if (this.memo !== null && this.pathHandles) {
      // One stat tells both whether the folder is there and whether the last listing still holds
      // (an error other than its absence is told and recorded by the listing below).
      let stats: fs.Stats | undefined | null = null;
      try {
        // lstat first: for a real folder (most are) it is also the stamp, and it answers the
        // realpath step below without a second call.
        stats = fs.lstatSync(dir, { throwIfNoEntry: false });
        if (stats?.isSymbolicLink()) stats = fs.statSync(dir, { throwIfNoEntry: false });
        else if (stats !== undefined) this.resolve(dir, 0, stats);
      } catch {
        // listed below
      }
      if (stats === undefined) return this.missing(dir, guard);
      const kept = stats?.isDirectory() ? this.memo.listing(dir, stats) : undefined;
      if (kept !== undefined) {
        if (guard !== null && this.hiddenFrom(guard, dir, this.realpath(dir))) {
          this.skips.add(dir, LINK_NOT_FOLLOWED);
          return null;
        }
        this.remember(dir, kept);
        return kept;
      }
    } else if (!fs.existsSync(dir) && this.absent(dir)) {
      // Most folders a scan asks for do not exist (it probes every tool's default places):
      // telling so without an exception (existsSync) is several times cheaper.
      return this.missing(dir, guard);
    }
    if (!this.pathHandles) {
      // Without O_PATH the folder is judged by its path (stat, realpath) before it is listed.
      const stats = guard ? this.stat(dir) : null;
      const refused =
        guard && stats ? this.guardedRefusal(guard, dir, { stats, where: () => this.realpath(dir) }) : null;
      if (refused) {
        this.skips.add(dir, refused);
        return null;
      }
      return this.stream(dir)?.entries ?? null;
    }
    let handle: number;
    try {
      // O_PATH: nothing is opened (a FIFO or device there fails with ENOTDIR, as with opendir).
      handle = fs.openSync(dir, O_PATH | O_DIRECTORY);
    } catch (error) {
      if (guard !== null && this.hiddenFrom(guard, dir, null)) this.skips.add(dir, LINK_NOT_FOLLOWED);
      else this.fail(dir, error);
      return null;
    }
    try {
      // The very folder held (its name through /proc), listed in one call when its size bounds
      // its entries; else read in bounded steps.
      const pinned = `/proc/self/fd/${handle}`;
      const stats = fs.fstatSync(handle);
      const refused = guard ? this.guardedRefusal(guard, dir, { stats, where: () => fs.readlinkSync(pinned) }) : null;
      if (refused) {
        this.skips.add(dir, refused);
        return null;
      }
      let entries: DirEntry[] | null;
      let cut: boolean;
      if (this.sizeBoundsEntries(pinned, stats)) {
        const listed = fs.readdirSync(pinned, { withFileTypes: true });
        let i = 0;
        entries = [];
        cut = this.collect(dir, () => listed[i++] ?? null, entries);
      } else {
        const streamed = this.stream(pinned, dir);
        entries = streamed?.entries ?? null;
        cut = streamed?.cut ?? true;
      }
      // Remembered for this scan (realpath by components), and kept by the stamp of the folder
      // listed (the one the handle holds), only when complete.
      if (entries !== null && !cut) {
        this.remember(dir, entries);
        if (this.stampsTrackEntries(pinned, stats))
          this.memo?.keepListing(dir, stats, entries, this.chargedTo(dir, stats));
      }
      return entries;
    } catch (error) {
      this.fail(dir, error);
      return null;
    } finally {
      closeQuietly(handle);
    }
  }

  /**
   * Remembers a complete listing for this scan (realpath by components uses it), while the
   * listings remembered hold fewer than MAX_LISTED_ENTRIES entries: a home of thousands of links
   * to one big folder would otherwise keep each path's copy until the scan ends.
   */
  private remember(dir: string, entries: readonly DirEntry[]): void {
    const before = this.listed.get(dir)?.length ?? 0;
    // An older listing of the folder is never left in place of the new one.
    this.listed.delete(dir);
    this.listedEntries -= before;
    if (this.listedEntries + entries.length > MAX_LISTED_ENTRIES) return;
    this.listed.set(dir, entries);
    this.listedEntries += entries.length;
  }

  /**
   * Whether a folder that existsSync did not see is really absent (quietly: null), rather than
   * unreadable (recorded). False when it is there after all.
   */
  private absent(dir: string): boolean {
    try {
      return fs.statSync(dir, { throwIfNoEntry: false }) === undefined;
    } catch (error) {
      this.fail(dir, error);
      return true;
    }
  }

  /**
   * Whether the folder's size (st_size) bounds how many entries it can hold to maxEntriesPerDir,
   * on a file system where it does (see ENTRY_BYTES); the type is asked once per device.
   */
  private sizeBoundsEntries(pinned: string, stats: fs.Stats): boolean {
    const perEntry = ENTRY_BYTES.get(this.fsType(pinned, stats)) ?? 0;
    return perEntry > 0 && stats.size / perEntry <= this.maxEntriesPerDir;
  }

  /** Whether the folder's stamp changes with its entries, so the memo may keep its listing (see STAMPED_LISTINGS). */
  private stampsTrackEntries(pinned: string, stats: fs.Stats): boolean {
    return STAMPED_LISTINGS.has(this.fsType(pinned, stats));
  }

  /** The f_type of the file system of the folder held at `pinned` (its stat `stats`), asked once per device. */
  private fsType(pinned: string, stats: fs.Stats): number {
    let type = this.fsTypes.get(stats.dev);
    if (type === undefined) {
      try {
        type = Number(fs.statfsSync(pinned).type);
      } catch {
        type = -1;
      }
      this.fsTypes.set(stats.dev, type);
    }
    return type;
  }

  /**
   * A listing read in steps of 256 entries, stopping at maxEntriesPerDir (`shown`: the name in
   * skips); `cut` when it is not the whole folder (a limit or an error).
   */
  private stream(dir: string, shown = dir): { entries: DirEntry[]; cut: boolean } | null {
    let handle: fs.Dir;
    try {
      // (opendir opens with O_DIRECTORY: a FIFO or device there fails with ENOTDIR, unopened.)
      handle = fs.opendirSync(dir, { bufferSize: 256 });
    } catch (error) {
      this.fail(shown, error);
      return null;
    }
    const out: DirEntry[] = [];
    let cut = true;
    try {
      cut = this.collect(shown, () => handle.readSync(), out);
    } catch (error) {
      this.fail(shown, error);
    } finally {
      try {
        handle.closeSync();
      } catch {
        // already closed
      }
    }
    return { entries: out, cut };
  }

  /**
   * Adds to `out` the entries `next` gives until it gives null, at most maxEntriesPerDir of them
   * (a cut is recorded for `shown`); returns whether it cut. What `next` throws leaves `out` as
   * far as it got.
   */
  private collect(shown: string, next: () => fs.Dirent | null, out: DirEntry[]): boolean {
    for (let entry = next(); entry; entry = next()) {
      if (out.length >= this.maxEntriesPerDir) {
        this.skips.add(shown, `more than ${this.maxEntriesPerDir} entries; read the first ${this.maxEntriesPerDir}`);
        return true;
      }
      out.push({
        name: entry.name,
        isDirectory: entry.isDirectory(),
        isSymbolicLink: entry.isSymbolicLink(),
        isFile: entry.isFile(),
      });
    }
    return false;
  }

  /** A regular file's bytes, at most maxBytes (else skipped as too large); null if unreadable. */
  readBytes(path: string, maxBytes: number): Buffer | null {
    const view = this.readView(path, maxBytes);
    return view === null ? null : Buffer.from(view);
  }

  /**
   * The hex digest (`algorithm`: a node:crypto hash name such as `sha512`) of the regular file at
   * `path`, opened on the terms of every read (withFile: never a FIFO or device, as root only a
   * guarded home's own files), read in 1 MiB chunks with `pause` awaited every 8 MiB so a daemon's
   * other work goes on (it resolves false to stop: null); null when refused, missing, larger than
   * `maxBytes` (recorded) or where files cannot be reopened by handle (not Linux). Kept for the
   * process's life per device, inode, size, mtime and ctime (a ctime changes with every write), at
   * most MAX_DIGESTS. `budget.bytes`: what may still be read, charged with the file's size before
   * it is read (a kept digest costs nothing); a file larger than what is left is not read (null,
   * and `budget.spent` set).
   */
  async digest(
    path: string,
    algorithm: string,
    maxBytes: number,
    pause: () => Promise<boolean>,
    budget: { bytes: number; spent?: boolean },
  ): Promise<string | null> {
    if (!this.pathHandles) return null;
    let key = '';
    let stampedSize = 0;
    const opened = this.withFile<number | string>(
      path,
      (fd, stats) => {
        if (stats.size > maxBytes) {
          this.skips.add(path, `too large (${stats.size} bytes; limit ${maxBytes})`);
          return null;
        }
        if (stats.size > budget.bytes) {
          budget.spent = true;
          return null;
        }
        budget.bytes -= stats.size;
        // A handle of its own, to read after withFile closes its one.
        return fs.openSync(`/proc/self/fd/${fd}`, REOPEN_FLAGS);
      },
      undefined,
      (stats) => {
        key = `${algorithm}:${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}`;
        stampedSize = stats.size;
        return DIGESTS.get(key);
      },
    );
    if (opened === null || typeof opened === 'string') return opened;
    try {
      const hash = createHash(algorithm);
      const chunk = Buffer.allocUnsafe(1024 * 1024);
      for (let position = 0; ;) {
        const n = fs.readSync(opened, chunk, 0, chunk.length, position);
        if (n === 0) break;
        position += n;
        // Grown since it was stamped (and charged): not the file the digest would be kept for.
        if (position > maxBytes || position > stampedSize) return null;
        hash.update(chunk.subarray(0, n));
        if (position % (8 * 1024 * 1024) === 0 && !(await pause())) return null;
      }
      const hex = hash.digest('hex');
      if (DIGESTS.size >= MAX_DIGESTS) DIGESTS.delete(DIGESTS.keys().next().value!);
      DIGESTS.set(key, hex);
      return hex;
    } catch (error) {
      this.fail(path, error);
      return null;
    } finally {
      closeQuietly(opened);
    }
  }

  /**
   * The file's bytes as a view that is only valid until the next read (the scan's shared buffer
   * for small files): no copy.
   */
  private readView(path: string, maxBytes: number, accept?: Accept, opened?: (stats: fs.Stats) => void): Buffer | null {
    return this.withFile(
      path,
      (fd, stats) => {
        opened?.(stats);
        const n = fs.readSync(fd, this.buffer, 0, CHUNK, 0);
        // A short read is the whole of a regular file; only a full buffer needs a closer look.
        if (n < CHUNK) {
          if (n > maxBytes) {
            this.skips.add(path, `too large (${n} bytes; limit ${maxBytes})`);
            return null;
          }
          return this.buffer.subarray(0, n);
        }
        if (stats.size > maxBytes) {
          this.skips.add(path, `too large (${stats.size} bytes; limit ${maxBytes})`);
          return null;
        }
        // /proc's files say size 0 (a process's environ of 70 KiB read as empty): read to the end.
        if (stats.size < n)
          return readToEnd(fd, this.buffer.subarray(0, n), maxBytes, () =>
            this.skips.add(path, `too large (more than ${maxBytes} bytes)`),
          );
        return readFully(fd, Buffer.allocUnsafe(stats.size), 0);
      },
      accept,
    );
  }

  /** The first bytes of a file (for headers: METADATA, shims), never more than maxBytes. */
  readHead(path: string, maxBytes: number): Buffer | null {
    return this.withFile(path, (fd, stats) => headOf(fd, stats, maxBytes));
  }

  /**
   * What `derive` makes of a file's first bytes (as readHead reads them), reused from an earlier
   * scan while the file keeps its stamp, as readDerived; undefined when the file is missing or
   * unreadable. `derive` must be a pure function of the bytes, and its value is never changed.
   */
  readHeadDerived<T>(kind: string, path: string, maxBytes: number, derive: (head: Buffer) => T): T | undefined {
    return this.memoized(kind, path, (opened) => {
      let made: { value: T; textBytes: number } | null = null;
      this.withFile(path, (fd, stats) => {
        const head = headOf(fd, stats, maxBytes);
        made = { value: derive(head), textBytes: head.length };
        opened(stats);
        return null;
      });
      return made;
    });
  }

  readText(path: string, maxBytes: number): string | null {
    const bytes = this.readView(path, maxBytes);
    return bytes === null ? null : decodeText(bytes);
  }

  /**
   * What `derive` makes of a regular file's text (as readText reads it), or undefined when the
   * file is missing or unreadable (recorded as readText records it). With a memo, the value made
   * in an earlier scan is given again, without opening the file, while the file (lstat) keeps its
   * stamp (memo.ts); `kind` names what `derive` makes. `derive` must be a pure function of the
   * text, the path and the catalog, and its value is shared between scans: never changed.
   *
   * Reusing by stamp skips withFile's checks on that scan, which is sound: the stamp holds owner,
   * mode and content unchanged, so the checks' verdict on what the file holds stands. Only where
   * the file lies could differ (a parent folder the user moved), and the file is still the one
   * root read before, the user's own or a root file anyone may read: nothing more is learned.
   * `where`, when given, is readTextWhere's check on the opened file's real path (a kept value
   * was made from a file that passed it; moving or linking that file changes its ctime). A kept
   * value is given without the check: `kind` must name everything the check depends on besides
   * the path (a home whose files alone pass, say), or one reader's value would reach another.
   * The memo is asked first, so the kind also keeps readers apart for files that fail the check.
   */
  readDerived<T>(
    kind: string,
    path: string,
    maxBytes: number,
    derive: (text: string) => T,
    where?: Accept,
  ): T | undefined {
    return this.memoized(kind, path, (opened) => {
      const bytes = this.readView(path, maxBytes, where, opened);
      return bytes === null ? null : { value: derive(decodeText(bytes)), textBytes: bytes.length };
    });
  }

  /**
   * What `read` makes of parts of a regular file, read through one opening (a zip archive's tail,
   * its central directory, one entry; a file's first and last bytes): `read` is given
   * `at(position, length)`, the bytes there (fewer past the end), the file's size in bytes and
   * the stat of the very file held. Reused from an earlier scan while the file (lstat) keeps the
   * stamp of the file it was made from, as readDerived; null when the file is missing, unreadable
   * or refused (recorded). Every value, null included, must be a pure function of the file's
   * bytes and the catalog: `read` records no skips of its own (it returns what the caller
   * records). When nothing is kept, `shortcut.worth` is asked first (false answers null without a
   * look: a cheap check that spares a recorded skip), and, once withFile's checks pass on the file
   * held, `shortcut.known` with that file's stat: a value it gives (not undefined) is the answer,
   * the file unopened (caches keyed by what a file holds, content.ts).
   */
  readPartsDerived<T>(
    kind: string,
    path: string,
    read: (at: (position: number, length: number) => Buffer, size: number, stats: fs.Stats) => T | null,
    shortcut?: { worth: () => boolean; known: (stats: fs.Stats) => T | undefined },
  ): T | null {
    const kept = this.memoized(kind, path, (opened) => {
      if (shortcut && !shortcut.worth()) return null;
      let from: fs.Stats | undefined;
      const value = this.withFile(
        path,
        (fd, stats) => {
          const answer = read(partsOf(fd), stats.size, stats);
          from = stats;
          return answer;
        },
        undefined,
        shortcut &&
          ((stats) => {
            const answer = shortcut.known(stats);
            if (answer !== undefined) from = stats;
            return answer;
          }),
      );
      if (from === undefined) return null;
      opened(from);
      return { value };
    });
    return kept ?? null;
  }

  /**
   * The memo's frame for readDerived and readPartsDerived: the kept value while the file (lstat)
   * keeps its stamp, else what `make` gives (told the stat of the file it opened; `textBytes`: how
   * much text the value was made from, its cost in the memo), kept when that file is the one the
   * path names itself (no final symlink), charged to the home the path lies in (or the file's owner).
   */
  private memoized<T>(
    kind: string,
    path: string,
    make: (opened: (stats: fs.Stats) => void) => { value: T; textBytes?: number } | null,
  ): T | undefined {
    const before = this.memo === null ? undefined : quietLstat(path);
    if (before?.isFile()) {
      const kept = this.memo!.file<T>(kind, path, before);
      if (kept !== undefined) return kept;
    }
    let read: fs.Stats | undefined;
    const made = make((stats) => (read = stats));
    if (made === null) return undefined;
    if (read !== undefined && before?.isFile() && read.ino === before.ino && read.dev === before.dev)
      this.memo!.keepFile(kind, path, read, made.value, made.textBytes ?? 0, this.chargedTo(path, read));
    return made.value;
  }

  /**
   * A text file's content, only if its real path (that of the opened file) is one `accept`
   * allows; `refused` is the skip reason otherwise.
   */
  readTextWhere(path: string, maxBytes: number, accept: (real: string) => boolean, refused: string): string | null {
    const bytes = this.readView(path, maxBytes, { accept, refused });
    return bytes === null ? null : decodeText(bytes);
  }

  /**
   * The one frame every file read goes through: finds what `path` really is without opening it,
   * refuses anything but a regular file (and, as root, a file of a guarded home that is not the
   * user's to show: see refusal), opens that very file (same device and inode) read-only and
   * non-blocking, runs `read` on it and closes it. Every refusal or failure is a recorded skip
   * and gives null; missing files give null quietly.
   *
   * On Linux the file is first held by an O_PATH handle (nothing opened yet), checked by fstat
   * and by its own path (/proc/self/fd), then reopened through that handle, so no swap of a
   * parent folder or link between check and open can substitute another file. Elsewhere: lstat
   * of the real path, open of that path with O_NOFOLLOW, then the open file's device and inode
   * must be the ones checked.
   */
  private withFile<T>(
    path: string,
    read: (fd: number, stats: fs.Stats) => T | null,
    accept?: Accept,
    known?: (stats: fs.Stats) => T | undefined,
  ): T | null {
    const guard = this.asRoot ? this.homeOf(path) : null;
    let holder = -1;
    let fd = -1;
    try {
      let target: Located | null;
      if (this.pathHandles) {
        const held = this.hold(path);
        if (held === null) return guard === null ? null : this.missing(path, guard);
        const handle = (holder = held.handle);
        target = { stats: held.stats, where: () => fs.readlinkSync(`/proc/self/fd/${handle}`) };
      } else {
        target = this.lstatTarget(path);
        if (target === null) return guard === null ? null : this.missing(path, guard);
      }
      // Where the file lies is judged first (a device reached through a link out of the home is
      // refused as such), then its kind: nothing but a regular file is ever opened.
      const refused =
        (guard ? this.guardedRefusal(guard, path, target) : this.asRoot ? linkedPrivate(path, target) : null) ??
        (accept && !acceptable(accept, target) ? accept.refused : null) ??
        (target.stats.isSymbolicLink()
          ? 'changed while being read; not read'
          : target.stats.isFile()
            ? null
            : 'not a regular file');
      if (refused) {
        this.skips.add(path, refused);
        return null;
      }
      const answer = known?.(target.stats);
      if (answer !== undefined) return answer;
      if (holder >= 0) {
        fd = fs.openSync(`/proc/self/fd/${holder}`, REOPEN_FLAGS);
      } else {
        fd = fs.openSync(target.where() ?? path, OPEN_FLAGS);
        const opened = fs.fstatSync(fd);
        if (opened.dev !== target.stats.dev || opened.ino !== target.stats.ino || !opened.isFile()) {
          this.skips.add(path, 'changed while being read; not read');
          return null;
        }
      }
      return read(fd, target.stats);
    } catch (error) {
      if (guard !== null && this.hiddenFrom(guard, path, null)) this.skips.add(path, LINK_NOT_FOLLOWED);
      else this.fail(path, error);
      return null;
    } finally {
      if (fd >= 0) closeQuietly(fd);
      if (holder >= 0) closeQuietly(holder);
    }
  }

  /**
   * An O_PATH handle on the file `path` names (a final symlink followed through its real path,
   * never opened) and its fstat, or null when there is none (missing: quiet; else recorded).
   * The caller closes the handle.
   */
  private hold(path: string): { handle: number; stats: fs.Stats } | null {
    let handle = fs.openSync(path, O_PATH | NOFOLLOW);
    let stats: fs.Stats;
    try {
      stats = fs.fstatSync(handle);
      if (!stats.isSymbolicLink()) return { handle, stats };
    } catch (error) {
      closeQuietly(handle);
      throw error;
    }
    closeQuietly(handle);
    const real = this.realpath(path);
    if (real === null) return null;
    handle = fs.openSync(real, O_PATH | NOFOLLOW);
    try {
      return { handle, stats: fs.fstatSync(handle) };
    } catch (error) {
      closeQuietly(handle);
      throw error;
    }
  }

  /** lstat of `path`, or of its real path when it is a symlink; null when there is none. */
  private lstatTarget(path: string): Located | null {
    let stats = fs.lstatSync(path);
    let real: string | null | undefined;
    if (stats.isSymbolicLink()) {
      real = this.realpath(path);
      if (real === null) return null;
      stats = fs.lstatSync(real);
    }
    return {
      stats,
      where: () => {
        if (real === undefined) real = this.realpath(path);
        return real;
      },
    };
  }

  /**
   * Whose share of the memo an entry for `path` counts against: the guarded home it lies in, so a
   * user's links to system folders are charged to that user (MAX_KEPT_PER_OWNER), else the owner
   * of what `stats` describes.
   */
  private chargedTo(path: string, stats: fs.Stats): number {
    return (this.asRoot ? this.homeOf(path)?.uid : undefined) ?? stats.uid;
  }

  /** The guarded home `path` lies in (as given or by the home's real path), if any. */
  private homeOf(path: string): GuardedHome | null {
    for (const home of this.homes) if (isInside(path, home.dir) || isInside(path, home.real)) return home;
    return null;
  }

  /**
   * Why root must not read this file for `home`, or null: it must be the home owner's own or a
   * world-readable root file (what the user could read anyway: nothing leaks), and really lie
   * inside the home (pnpm's store, a project that `npm link` points at) or in a system location
   * only root can change (a global install the user links to).
   */
  private refusal(home: GuardedHome, target: Located): string | null {
    const { uid, mode } = target.stats;
    if (uid !== home.uid && uid !== 0) return `owned by another user (uid ${uid}); not read`;
    if (uid === 0 && (mode & 0o004) === 0) return 'a root file the user cannot read; not read';
    const real = target.where();
    if (real === null) return 'real path unknown; not read';
    if (isInside(real, home.real)) return null;
    if (uid === 0 && this.isSystemDir(dirname(real))) return null;
    return "leads outside the user's home; not read";
  }

  /**
   * As root, whether `path`, read out of a file that lies at `from` (a uv receipt's entry point,
   * a RECORD line), lies as written inside the guarded home `from` is in: a scanner looks nowhere
   * else for it, so nothing shows of places the user cannot enter. True outside guarded homes.
   */
  insideHomeOf(from: string, path: string): boolean {
    const guard = this.asRoot ? this.homeOf(from) : null;
    return guard === null || isInside(path, guard.dir) || isInside(path, guard.real);
  }

  /**
   * The real path of `path` as its guarded home may show it: null, as for a path that leads
   * nowhere, when what it really is fails targetRefusal (the same as realpath outside guarded
   * homes). For the install paths the scanners report for a home.
   */
  shownRealpath(path: string): string | null {
    const real = this.realpath(path);
    return real !== null && this.targetRefusal(path, real) === null ? real : null;
  }

  /**
   * As root, why what `path` (named in a guarded home: a launcher link, a package folder that
   * may be a link) really is (`real`, its real path, or null when it leads nowhere) must be
   * neither read nor reported for that home: the terms of refusal, on the file or folder `real`
   * names (the user's own inside the home, or a root one anyone may read in a system folder).
   * Null when it may, and for a path in no guarded home. One reason for every refusal, a missing
   * target included: what root finds beyond a folder the user cannot enter (another user's, a
   * root-only one) must not show, not even whether a name exists there.
   */
  targetRefusal(path: string, real: string | null): string | null {
    const guard = this.asRoot ? this.homeOf(path) : null;
    if (guard === null) return null;
    const stats = real === null ? undefined : quietLstat(real);
    if (real === null || stats === undefined || this.refusal(guard, { stats, where: () => real }) !== null)
      return LINK_NOT_FOLLOWED;
    // Through links, the way there must be one the user could walk: a link in a folder they
    // cannot enter (another user's private folder pointing at a system install) tells root only.
    if (real !== path && !this.walkableBy(path, guard.uid)) return LINK_NOT_FOLLOWED;
    return null;
  }

  /**
   * As root, for `path` in a guarded home when it is a link (this scan's listing of its folder
   * says so, else lstat): targetRefusal of where it leads; null for anything else. Scanners ask
   * before reading what a folder they found holds (a package folder `npm link` made), so a link
   * to a place the user cannot see gets one word, whether anything is there or not.
   */
  linkRefusal(path: string): string | null {
    if (!this.asRoot) return null;
    const parent = dirname(path);
    // Most package folders are real folders a listing already named: no lstat, no home lookup.
    const entry = parent === path ? undefined : this.listedEntry(parent, path.slice(parent.length + 1));
    if (entry !== undefined && !entry.isSymbolicLink) return null;
    if (this.homeOf(path) === null) return null;
    const isLink = entry ? entry.isSymbolicLink : (quietLstat(path)?.isSymbolicLink() ?? false);
    return isLink ? this.targetRefusal(path, this.realpath(path)) : null;
  }

  /** Whether the user `uid` could resolve `path` to what it names (reachBy). */
  private walkableBy(path: string, uid: number): boolean {
    return this.reachBy(path, uid) === 'walkable';
  }

  /**
   * How far the user `uid` gets resolving `path` (absolute) as the kernel would for them: every
   * folder looked up in, along `path` and along every link's target, searchable by them (owner's
   * x bit, or both others' and group's: a folder shared by group only, or closed to its group,
   * is judged closed; ACLs are not read), at most MAX_LINKS links, no /proc link of another owner. 'walkable': to the end;
   * 'missing': a name is not there in a folder they can search (they would see it is missing);
   * 'denied': anything else, a name beyond a folder they cannot search included, whether it
   * exists or not. Stats are this scan's (cached).
   */
  private reachBy(path: string, uid: number): 'walkable' | 'missing' | 'denied' {
    const key = `${uid}\u0000${path}`;
    let verdict = this.reached.get(key);
    if (verdict === undefined) this.reached.set(key, (verdict = this.walk(path, uid)));
    return verdict;
  }

  /** reachBy's walk, at most MAX_WALK_STEPS names in all (more is judged closed). */
  private walk(path: string, uid: number): 'walkable' | 'missing' | 'denied' {
    const pending = path.split(SEP).filter((name) => name !== '' && name !== '.');
    if (!path.startsWith(SEP)) return 'denied';
    let at = SEP;
    let links = 0;
    let steps = 0;
    while (pending.length > 0) {
      if (++steps > MAX_WALK_STEPS) return 'denied';
      const name = pending.shift()!;
      const here = this.walkStat(at);
      if (here === null || !here.isDirectory()) return 'denied';
      // Another's folder: searchable only with the others' x bit and the group's too (whether the
      // user is in its group is not known here, and a group denied is denied: mode 0705).
      const searchable = here.uid === uid ? (here.mode & 0o100) !== 0 : (here.mode & 0o011) === 0o011;
      if (!searchable) return 'denied';
      if (name === '..') {
        at = dirname(at);
        continue;
      }
      const next = at === SEP ? SEP + name : at + SEP + name;
      const stats = this.walkStat(next);
      if (stats === null) return 'missing';
      if (!stats.isSymbolicLink()) {
        at = next;
        continue;
      }
      if (++links > MAX_LINKS) return 'denied';
      // /proc's links (a process's cwd, root, fd/N) are not walked as their text reads: the
      // kernel lets only the process's owner (or root) through, whatever the target.
      if (isInside(next, PROC) && stats.uid !== uid) return 'denied';
      let target: string;
      try {
        target = fs.readlinkSync(next);
      } catch {
        return 'denied';
      }
      if (target.startsWith(SEP)) at = SEP;
      pending.unshift(...target.split(SEP).filter((part) => part !== '' && part !== '.'));
    }
    return 'walkable';
  }

  /**
   * As root, whether what `path` (in the guarded home `guard`) leads to, `real` (null when it
   * leads nowhere), must not show at all, neither what it is nor whether it is there: true when
   * the way there goes through links and a place the user cannot search. What a user could see
   * themselves (their own folders, a missing name in a folder open to them) shows as it is.
   */
  private hiddenFrom(guard: GuardedHome, path: string, real: string | null): boolean {
    return real !== path && this.reachBy(path, guard.uid) === 'denied';
  }

  /**
   * Why root must not read `target`, found at `path` in the guarded home `guard`, or null: the
   * terms of refusal, told as they are only where the user could look themselves; through a place
   * they cannot search, one reason for everything (LINK_NOT_FOLLOWED), also for a folder of their
   * own reached that way.
   */
  private guardedRefusal(guard: GuardedHome, path: string, target: Located): string | null {
    const refused = this.refusal(guard, target);
    // A path with no link on it is its own real path: no walk (the common case, kept cheap).
    if (refused === null && !this.throughLinks(path)) return null;
    if (this.hiddenFrom(guard, path, refused === null ? target.where() : null)) return LINK_NOT_FOLLOWED;
    return refused;
  }

  /**
   * As root, whether `path` lies in a guarded home and leads through links and a place its user
   * cannot search: then whether anything is there must not decide what the scan does (a probe
   * such as isDirectory would tell it), so it counts as not there, with the one reason such
   * places get (LINK_NOT_FOLLOWED), whatever lies there.
   */
  private hiddenLink(path: string): boolean {
    if (!this.asRoot) return false;
    const guard = this.homeOf(path);
    if (guard === null || !this.throughLinks(path) || !this.hiddenFrom(guard, path, null)) return false;
    this.skips.add(path, LINK_NOT_FOLLOWED);
    return true;
  }

  /** Whether resolving `path` follows links (this scan's resolution; true when it cannot tell). */
  private throughLinks(path: string): boolean {
    const resolved = this.resolve(path, 0);
    return typeof resolved.real !== 'string' || resolved.links > 0;
  }

  /**
   * For `path`, found missing (or failing) in the guarded home `guard`: null, quietly when the
   * user could see so themselves, else with the one reason a hidden place gets (hiddenFrom).
   */
  private missing(path: string, guard: GuardedHome | null): null {
    if (guard === null) return null;
    // Most are default places probed in the user's own folders: no link on the way, no walk.
    const up = this.resolve(dirname(path), 0);
    if (up.links === 0 && (up.real === null || (up.real === dirname(path) && quietLstat(path) === undefined)))
      return null;
    if (this.throughLinks(path) && this.hiddenFrom(guard, path, null)) this.skips.add(path, LINK_NOT_FOLLOWED);
    return null;
  }

  /** lstat for walkableBy, cached for the scan; null when there is none. */
  private walkStat(path: string): fs.Stats | null {
    let stats = this.walkStats.get(path);
    if (stats === undefined) this.walkStats.set(path, (stats = quietLstat(path) ?? null));
    return stats;
  }

  /** Whether `dir` and every folder above it are root's and writable by nobody else (cached). */
  /**
   * Whether `dir` and every folder above it are root's, writable by nobody else and open to all:
   * the system's own, what any user could look at (cached for the scan).
   */
  isSystemFolder(dir: string): boolean {
    return this.isSystemDir(dir);
  }

  private isSystemDir(dir: string): boolean {
    const cached = this.systemDirs.get(dir);
    if (cached !== undefined) return cached;
    let ok: boolean;
    try {
      const stats = fs.lstatSync(dir);
      ok = stats.isDirectory() && stats.uid === 0 && (stats.mode & 0o022) === 0 && (stats.mode & 0o001) !== 0;
      const parent = dirname(dir);
      if (ok && parent !== dir) ok = this.isSystemDir(parent);
    } catch {
      ok = false;
    }
    this.systemDirs.set(dir, ok);
    return ok;
  }

  /**
   * Whether `path` is locked as enforcement locks what it keeps (enforce/steps.ts `lock`): no
   * permission bits at all, and, when this scan runs as root, owned by root, which no user can
   * make. On Windows, where locks are ACLs the mode does not show, every path counts as locked.
   */
  isLocked(path: string): boolean {
    if (process.platform === 'win32') return true;
    const stats = this.pathHandles ? this.walkNoLinks(path) : this.lstat(path);
    return stats !== null && (stats.mode & 0o7777) === 0 && (!this.asRoot || stats.uid === 0);
  }

  /**
   * The stat of what `path` names, reached one component at a time from `/`, each held by an
   * O_PATH handle and looked up through the one before (/proc/self/fd), the last one not
   * followed; null when a component is missing, a link, or not a folder where one is needed. So
   * a user who swaps a folder of the path for a link during the walk gets null, never the stat of
   * whatever the link leads to.
   */
  private walkNoLinks(path: string): fs.Stats | null {
    const names = path.split(SEP).filter((name) => name !== '');
    if (!path.startsWith(SEP) || names.some((name) => name === '.' || name === '..')) return null;
    let handle = -1;
    try {
      handle = fs.openSync(SEP, O_PATH | O_DIRECTORY);
      let stats = fs.fstatSync(handle);
      for (const name of names) {
        if (!stats.isDirectory()) return null;
        const next = fs.openSync(`/proc/self/fd/${handle}/${name}`, O_PATH | NOFOLLOW);
        closeQuietly(handle);
        handle = next;
        stats = fs.fstatSync(handle);
        if (stats.isSymbolicLink()) return null;
      }
      return stats;
    } catch {
      return null;
    } finally {
      if (handle >= 0) closeQuietly(handle);
    }
  }

  /**
   * lstat, or null when there is none (an error other than a missing file is recorded). As root,
   * in a guarded home, a path whose folder is reached through links and a place its user cannot
   * search is not looked at (see hiddenLink).
   */
  lstat(path: string): fs.Stats | null {
    if (this.hiddenLink(dirname(path))) return null;
    try {
      return fs.lstatSync(path);
    } catch (error) {
      this.fail(path, error);
      return null;
    }
  }

  /** stat (links followed), as lstat: null when there is none or, as root, when hiddenLink. */
  stat(path: string): fs.Stats | null {
    if (this.hiddenLink(path)) return null;
    try {
      return fs.statSync(path);
    } catch (error) {
      this.fail(path, error);
      return null;
    }
  }

  isDirectory(path: string): boolean {
    return this.stat(path)?.isDirectory() ?? false;
  }

  isFile(path: string): boolean {
    return this.stat(path)?.isFile() ?? false;
  }

  /**
   * The canonical path (symlinks resolved), cached for the scan; null for missing files, loops,
   * denials. A scan asks for thousands of paths under a few folders, so off Windows a plain
   * absolute path is resolved from its parent's real path (cached) with one lstat of its last
   * name (and a readlink when that is a link: an npm bin link costs one call, not one per
   * component as in realpath(3)). Anything else, and every failure but a missing file, goes to
   * realpath(3), so that what is recorded is the system's word on the path asked for; except, as
   * root, for a path in a guarded home, which then leads nowhere (see below).
   */
  realpath(path: string): string | null {
    const cached = this.realpaths.get(path);
    if (cached !== undefined) return cached;
    const resolved = this.resolve(path, 0);
    let real = resolved.real;
    // realpath(3) walks as root through folders the user may not enter (a link's `x/../..` comes
    // back out only if `x` exists there): in a guarded home such a path leads nowhere.
    if (real === undefined) real = this.asRoot && this.homeOf(path) !== null ? null : this.nativeRealpath(path);
    else if (real !== null && resolved.links > 0 && this.asRoot) {
      // Through links, in a guarded home, only where the user could walk: else whether (and
      // what) lies beyond a folder closed to them would show in what the scan does next.
      const guard = this.homeOf(path);
      if (guard !== null && this.reachBy(path, guard.uid) !== 'walkable') real = null;
    }
    this.realpaths.set(path, real);
    return real;
  }

  /**
   * realpath by components, recording nothing (cached for the scan): the real path, null when a
   * component is missing, undefined when realpath(3) must answer (not a plain absolute path, a
   * link target with `.` or `..` after its leading `..`s, more than MAX_LINKS links in all, any
   * other error); and how many links the whole resolution followed, as the kernel counts them
   * for ELOOP. `depth`: links being followed above this call (a loop stops there). `known`: an
   * lstat of `path` the caller has just taken (saves the call).
   */
  private resolve(path: string, depth: number, known?: fs.Stats): Resolved {
    const cached = this.resolved.get(path);
    if (cached !== undefined) return cached;
    let out: Resolved = ASK_REALPATH;
    if (SEP === '/' && path.startsWith('/') && path.length > 1 && !UNPLAIN.test(path)) {
      const parent = dirname(path);
      const up = parent === '/' ? ROOT : this.resolve(parent, depth);
      if (typeof up.real !== 'string') {
        out = up;
      } else {
        const name = path.slice(parent.length === 1 ? 1 : parent.length + 1);
        const candidate = child(up.real, name);
        try {
          // A name this scan listed needs no lstat of its own: the listing says whether it is a
          // link, or that it is not there (a complete listing); else lstat, which says "missing"
          // without an exception (most paths a scan asks for are missing).
          const listing = this.listed.get(parent);
          const entry = listing === undefined ? undefined : entriesByName(listing).get(name);
          const stats =
            listing === undefined ? (known ?? fs.lstatSync(candidate, { throwIfNoEntry: false })) : undefined;
          const isLink = entry !== undefined ? entry.isSymbolicLink : (stats?.isSymbolicLink() ?? false);
          if (entry === undefined && stats === undefined) out = { real: null, links: up.links };
          else if (!isLink) out = { real: candidate, links: up.links };
          else {
            const target = this.follow(candidate, up.real, depth);
            const links = up.links + 1 + target.links;
            out = typeof target.real === 'string' && links > MAX_LINKS ? ASK_REALPATH : { real: target.real, links };
          }
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          out = code === 'ENOENT' || code === 'ENOTDIR' ? { real: null, links: up.links } : ASK_REALPATH;
        }
      }
    }
    // A result cut short by a loop in progress is not this path's answer for other callers.
    if (depth < MAX_LINKS) this.resolved.set(path, out);
    return out;
  }

  /** What this scan's complete listing of `dir` (if any) said `name` is. */
  private listedEntry(dir: string, name: string): DirEntry | undefined {
    const entries = this.listed.get(dir);
    return entries === undefined ? undefined : entriesByName(entries).get(name);
  }

  /**
   * Where a link at `link` (in the real folder `realParent`) leads, as resolve gives it, with the
   * links that resolution followed (the link itself not counted). The target is walked one name
   * at a time from a real folder, as the kernel walks it: `.` stays, `..` goes up from the real
   * folder reached so far (which must be a folder), any other name is resolved there (links in
   * it followed). So `./cli.js` and `a/../b` give their exact real paths, in a guarded home too.
   */
  private follow(link: string, realParent: string, depth: number): Resolved {
    if (depth >= MAX_LINKS) return ASK_REALPATH;
    const target = fs.readlinkSync(link);
    if (target === '') return { real: null, links: 0 };
    const names = target.split('/');
    if (names.length > MAX_TARGET_NAMES) return ASK_REALPATH;
    let at = target.startsWith('/') ? '/' : realParent;
    let links = 0;
    // Whether `at` is known to be a folder: the start is, and so is what `..` leads to.
    let folder = true;
    for (const name of names) {
      if (name === '' || name === '.') {
        if (!folder && !isFolder(at)) return { real: null, links };
        folder = true;
        continue;
      }
      if (name === '..') {
        if (!folder && !isFolder(at)) return { real: null, links };
        at = dirname(at);
        folder = true;
        continue;
      }
      const step = this.resolve(child(at, name), depth + 1);
      if (typeof step.real !== 'string') return step.real === null ? { real: null, links: links + step.links } : step;
      links += step.links;
      if (links > MAX_LINKS) return ASK_REALPATH;
      at = step.real;
      folder = false;
    }
    return { real: at, links };
  }

  private nativeRealpath(path: string): string | null {
    try {
      return fs.realpathSync.native(path);
    } catch (error) {
      this.fail(path, error);
      return null;
    }
  }

  /** A symlink whose target does not exist (loops are reported by realpath as such). */
  isBrokenLink(path: string): boolean {
    if (this.hiddenLink(path)) return false;
    try {
      if (!fs.lstatSync(path).isSymbolicLink()) return false;
    } catch {
      return false;
    }
    try {
      fs.statSync(path);
      return false;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ENOENT';
    }
  }

  readlink(path: string): string | null {
    try {
      return fs.readlinkSync(path);
    } catch (error) {
      this.fail(path, error);
      return null;
    }
  }

  /** Missing files are normal while probing layouts; everything else is worth reporting. */
  private fail(path: string, error: unknown): void {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return;
    this.skips.add(path, reasonFor(code, error));
  }
}

/**
 * Outside the guarded homes (system locations, a root-owned home), as root: a file its owner
 * keeps from others (not world-readable) is read only by its own name, not through a link that
 * someone (say, a user's project that a system-wide `npm link` points at) may have aimed at it.
 * Costs nothing for the usual world-readable manifest.
 */
function linkedPrivate(path: string, target: Located): string | null {
  if ((target.stats.mode & 0o004) !== 0 || !target.stats.isFile()) return null;
  return target.where() === path ? null : 'a private file reached through a link; not read';
}

/** A check on the real path of the file opened; `refused`: the skip reason when it fails. */
export interface Accept {
  accept(real: string): boolean;
  refused: string;
}

function acceptable(accept: Accept, target: Located): boolean {
  const real = target.where();
  return real !== null && accept.accept(real);
}

/** Whether `child` is `parent` or lies inside it (both absolute; compared as given). */
export function isInside(child: string, parent: string): boolean {
  if (child === parent) return true;
  if (parent.endsWith(SEP)) return child.startsWith(parent);
  // As child.startsWith(parent + SEP), without making that string (called per path, per scan).
  return child.length > parent.length && child[parent.length] === SEP && child.startsWith(parent);
}

/** The first bytes of the open regular file `fd` (whose stat is `stats`), at most maxBytes. */
function headOf(fd: number, stats: fs.Stats, maxBytes: number): Buffer {
  return readFully(fd, Buffer.allocUnsafe(Math.min(maxBytes, stats.size)), 0);
}

/**
 * Per listing (the array, which a memo hands to every scan while the folder keeps its stamp):
 * its entries by name, made once.
 */
const byNameOf = new WeakMap<readonly DirEntry[], Map<string, DirEntry>>();

function entriesByName(entries: readonly DirEntry[]): Map<string, DirEntry> {
  let byName = byNameOf.get(entries);
  if (byName === undefined) byNameOf.set(entries, (byName = new Map(entries.map((e) => [e.name, e]))));
  return byName;
}

/** ScanFs.targetRefusal's one reason. */
export const LINK_NOT_FOLLOWED =
  "leads nowhere, or to a file that is not the user's own in the home nor a root file in a system folder; not followed";

/** `at(position, length)` for readPartsDerived: the bytes of `fd` there (fewer past the end). */
function partsOf(fd: number): (position: number, length: number) => Buffer {
  return (position, length) => readFully(fd, Buffer.allocUnsafe(length), position);
}

/** lstat or nothing, without recording: the caller goes on to the read, which records. */
/**
 * The rest of `fd` after its first bytes `head`, for a file whose size says nothing (procfs), at
 * most maxBytes in all; null (after `tooLarge`) past that.
 */
function readToEnd(fd: number, head: Buffer, maxBytes: number, tooLarge: () => void): Buffer | null {
  const chunks = [Buffer.from(head)];
  let total = head.length;
  for (;;) {
    const chunk = Buffer.allocUnsafe(CHUNK);
    const n = fs.readSync(fd, chunk, 0, CHUNK, total);
    if (n === 0) return Buffer.concat(chunks, total);
    total += n;
    if (total > maxBytes) {
      tooLarge();
      return null;
    }
    chunks.push(chunk.subarray(0, n));
  }
}

/** Whether the real path `path` is a folder (lstat: it has no links to follow). */
function isFolder(path: string): boolean {
  return quietLstat(path)?.isDirectory() ?? false;
}

function quietLstat(path: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // nothing to do: the handle is gone either way
  }
}

function reasonFor(code: string | undefined, error: unknown): string {
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ELOOP':
      return 'symlink loop';
    case 'ENAMETOOLONG':
      return 'path too long';
    case 'EISDIR':
      return 'a directory where a file was expected';
    case 'ESPIPE':
    case 'EAGAIN':
    case 'ENXIO':
      // Pipes, sockets and devices: what a FIFO or socket named like a manifest gives.
      return 'not a regular file';
    case 'EIO':
      return 'I/O error';
    case 'EMFILE':
    case 'ENFILE':
      return 'too many open files';
    default:
      return code ? `cannot read (${code})` : `cannot read (${error instanceof Error ? error.message : String(error)})`;
  }
}
