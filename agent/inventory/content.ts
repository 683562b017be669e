/**
 * Reads a file's first and last CONTENT_WINDOW_BYTES and asks the catalog which tool the bytes are
 * (policies/catalog/content.ts): identity by what the code is, not what its manifest says. Used by
 * the npm scanner on a package's bin files (or, with no manifest, on its top-level scripts) and by
 * the sentinel on the file a process runs. Results are cached by contentKey (device, inode, size,
 * mtime, ctime), so a 10 MB bundle is read once per change, and every later scan costs one stat.
 */
import * as fs from 'node:fs';

import { CONTENT_WINDOW_BYTES, type ContentMatch, identifyContent } from '../../policies/catalog/content.js';
import type { CatalogIndex } from '../../policies/catalog/index.js';
import { readFully } from '../host/read-fully.js';
import type { ScanContext } from './context.js';
import { child } from './fs.js';
import { StampCache } from './memo.js';

export type { ContentMatch } from '../../policies/catalog/content.js';

const CACHE_MAX = 20_000;
/** Per catalog: the verdict on each file by contentKey (null: no tool). */
const caches = new WeakMap<CatalogIndex, StampCache<ContentMatch | null>>();
/** Smaller files cannot hold a marker set worth matching. */
const MIN_BYTES = 16;
/** At most this many top-level files of a folder without a manifest are read. */
const MAX_LOOSE_FILES = 32;

function cacheFor(catalog: CatalogIndex): StampCache<ContentMatch | null> {
  let cache = caches.get(catalog);
  if (!cache) caches.set(catalog, (cache = new StampCache(CACHE_MAX)));
  return cache;
}

/**
 * The identity of a file's content on this device: dev, inode, size, mtime and ctime (ns when a
 * bigint stat gives them). One key for every cache and re-check of what a file held (scan,
 * sentinel, stop). ctime is what makes it hold against the file's owner: anyone who may write a
 * file may also set its mtime back (utimensat), but only the kernel sets ctime, on every change.
 */
export function contentKey(stat: fs.Stats | fs.BigIntStats): string {
  return 'mtimeNs' in stat
    ? `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`
    : `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`;
}

/** The two windows as latin1 text (one window when the file fits in two). */
function windows(at: (position: number, length: number) => Buffer, size: number): { head: string; tail: string } {
  if (size <= 2 * CONTENT_WINDOW_BYTES) return { head: at(0, size).toString('latin1'), tail: '' };
  return {
    head: at(0, CONTENT_WINDOW_BYTES).toString('latin1'),
    tail: at(size - CONTENT_WINDOW_BYTES, CONTENT_WINDOW_BYTES).toString('latin1'),
  };
}

/**
 * The tool a file found by the inventory is, by content, or null. Read through the scan's guarded
 * file access (ctx.fs: regular files only, as root only what the home's owner may show); the
 * cache is asked only after those checks passed, with the stat of the very file they held, and a
 * verdict is kept under the stat of the file its bytes came from: a link swapped between two
 * looks, or a link to another user's file, never meets a verdict made on another file.
 */
export function scanFileContent(ctx: ScanContext, file: string): ContentMatch | null {
  const cache = cacheFor(ctx.catalog);
  // A daemon's scan takes the verdict of the scan before while the file keeps its stamp (memo.ts).
  return ctx.fs.readPartsDerived(
    'content',
    file,
    (at, size, held) => {
      const read = windows(at, size);
      const match = identifyContent(ctx.catalog, read.head, read.tail);
      cache.set(contentKey(held), match, held);
      return match;
    },
    {
      worth: () => {
        // A cheap first look (by path) passes over folders and tiny files without a recorded skip.
        const stat = ctx.fs.stat(file);
        return stat !== null && stat.isFile() && stat.size >= MIN_BYTES;
      },
      known: (held) => (held.size < MIN_BYTES ? null : cache.get(contentKey(held))),
    },
  );
}

/**
 * The files of a package folder worth reading for content: its bin targets (inside the folder,
 * no `..`), or, with no manifest, its top-level regular files that are executable or end in
 * .js/.mjs/.cjs (at most MAX_LOOSE_FILES, none when there are more: not an unpacked CLI).
 */
export function entryFiles(ctx: ScanContext, dir: string, binTargets: readonly string[] | null): string[] {
  if (binTargets) {
    const out = new Set<string>();
    for (const target of binTargets) {
      const parts = target
        .replace(/\\/g, '/')
        .split('/')
        .filter((p) => p !== '' && p !== '.');
      if (parts.length === 0 || parts.includes('..')) continue;
      out.add(parts.reduce((d, p) => child(d, p), dir));
    }
    return [...out];
  }
  const entries = ctx.fs.list(dir);
  if (!entries) return [];
  const loose = entries.filter((e) => e.isFile && !e.name.startsWith('.'));
  if (loose.length > MAX_LOOSE_FILES) return [];
  return loose
    .filter((e) => /\.(c|m)?js$/i.test(e.name) || ((ctx.fs.stat(child(dir, e.name))?.mode ?? 0) & 0o111) !== 0)
    .map((e) => child(dir, e.name));
}

/** What the sentinel learns of a file by content: the match and the stat of the file read. */
export interface FileContent {
  match: ContentMatch;
  /** Owner, device and inode of the file that was read (through the same handle). */
  stat: fs.Stats;
}

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
/** Opening a file in a user's tree as root: never through a final link, never blocking on a FIFO. */
export const OPEN_FLAGS = O_RDONLY | (O_NOFOLLOW ?? 0) | (O_NONBLOCK ?? 0);

/**
 * The tool the file at `file` (a real path: a final symlink is refused) is by content, read
 * through one O_NOFOLLOW|O_NONBLOCK handle so a FIFO or a swapped link never blocks or redirects
 * the read; null when it is not a regular file, unreadable, or matches nothing.
 */
export function fileContent(file: string, catalog: CatalogIndex): FileContent | null {
  let fd: number;
  try {
    fd = fs.openSync(file, OPEN_FLAGS);
  } catch {
    return null;
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile() || stat.size < MIN_BYTES) return null;
    const cache = cacheFor(catalog);
    let match = cache.get(contentKey(stat));
    if (match === undefined) {
      const read = windows((position, length) => readFully(fd, Buffer.allocUnsafe(length), position), stat.size);
      match = identifyContent(catalog, read.head, read.tail);
      cache.set(contentKey(stat), match, stat);
    }
    return match ? { match, stat } : null;
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}
