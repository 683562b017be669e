/**
 * The rules of the scan memo and of the caches by content key (agent/inventory/memo.ts), on real
 * files' stats with the clock given: a stamp younger than RACY_MS is not kept, nothing is reused
 * past its reuse limit (writes through a shared mapping leave the stamp as it was), a changed
 * stamp is a miss, and a memo never holds more than MAX_KEPT, nor more than MAX_KEPT_PER_OWNER of
 * one owner's folders and files.
 */
import { chownSync, statSync } from 'node:fs';

import { afterAll, describe, expect, it } from 'vitest';

import type { DirEntry } from '../../../agent/inventory/fs.js';
import {
  COST_UNIT_BYTES,
  entryCost,
  listingCost,
  MAX_KEPT,
  MAX_KEPT_PER_OWNER,
  MAX_REUSE_MS,
  RACY_MS,
  ScanMemo,
  StampCache,
} from '../../../agent/inventory/memo.js';
import { cleanup, scratch } from './fixtures.js';

afterAll(cleanup);

const t = scratch('aigate-memo-rules-');
const file = t.file('package.json', '{"name":"x","version":"1.0.0"}');
const dir = t.dir('node_modules');
const catalog = {};
const entries: DirEntry[] = [{ name: 'x', isDirectory: true, isSymbolicLink: false, isFile: false }];

/** A scan's clock: `after` ms after the file's last change. */
const at = (after: number) => statSync(file).ctimeMs + after;
const isRoot = process.getuid?.() === 0;

describe('entryCost', () => {
  it.each([
    ['a null verdict', null, 4096, 1],
    ['a boolean', true, 4096, 1],
    ['a parse of 1,000 bytes', { name: 'x' }, 1000, 1 + 4],
    ['a parse of exactly one unit', { name: 'x' }, COST_UNIT_BYTES, 1 + 1],
    ['a parse of nothing', { name: '' }, 0, 1 + 1],
    ['a parse with a 1 MB name made from a few bytes', { name: 'A'.repeat(1 << 20) }, 600, 1 + 4097],
  ])('%s costs %#', (_what, value, textBytes, cost) => {
    expect(entryCost('/home/u/package.json', value, textBytes)).toBe(cost);
  });

  it('charges a long path one unit per COST_UNIT_BYTES', () => {
    expect(entryCost(`/${'x'.repeat(2 * COST_UNIT_BYTES)}`, null, 0)).toBe(3);
  });
});

describe('listingCost', () => {
  const named = (...names: string[]) => names.map((name) => ({ ...entries[0]!, name }));
  it.each([
    ['no entries', '/home/u/x', named(), 1],
    ['short paths: 1 per entry', '/home/u/.npm-global/lib/node_modules', named('a', 'b', 'c'), 1 + 3],
    // Two paths of about 300 bytes per entry: 2 units more each.
    ['a 300-byte folder', `/${'x'.repeat(299)}`, named('a', 'b'), 1 + 1 + 2 * (1 + 2)],
    ['a 3,000-byte folder', `/${'x'.repeat(2999)}`, named('a'), 1 + 11 + (1 + 23)],
  ])('%s costs %#', (_what, dir, listed, cost) => {
    expect(listingCost(dir, listed)).toBe(cost);
  });
});

describe('ScanMemo', () => {
  it('keeps what it may, gives it back while the stamp holds, and forgets what a scan did not use', () => {
    const memo = new ScanMemo();
    expect(memo.begin(catalog, at(RACY_MS + 10))).toBe(true);
    memo.keepFile('kind', file, statSync(file), { made: 1 });
    memo.keepListing(dir, statSync(dir), entries);
    memo.end();
    expect(memo.size).toMatchObject({ listings: 1, files: 1 });

    memo.begin(catalog, at(RACY_MS + 20));
    expect(memo.file('kind', file, statSync(file))).toEqual({ made: 1 });
    expect(memo.file('other kind', file, statSync(file))).toBeUndefined();
    memo.end();
    // The listing was not used by that scan: gone.
    expect(memo.size).toMatchObject({ listings: 0, files: 1 });
  });

  it('keeps nothing changed within RACY_MS of the scan, and serves one scan at a time', () => {
    const memo = new ScanMemo();
    memo.begin(catalog, at(RACY_MS - 1));
    expect(memo.begin(catalog, at(RACY_MS - 1))).toBe(false);
    memo.keepFile('kind', file, statSync(file), 1);
    memo.end();
    expect(memo.size.files).toBe(0);
  });

  it('misses on a changed stamp, a new catalog, and after the reuse limit', () => {
    const memo = new ScanMemo();
    const start = at(RACY_MS + 10);
    memo.begin(catalog, start);
    memo.keepFile('kind', file, statSync(file), 1);
    memo.end();
    memo.begin({}, start + 1);
    expect(memo.file('kind', file, statSync(file))).toBeUndefined();
    memo.keepFile('kind', file, statSync(file), 1);
    memo.end();
    const other = statSync(dir);
    memo.begin(catalog, start + 2);
    memo.keepFile('kind', file, statSync(file), 1);
    expect(memo.file('kind', file, other)).toBeUndefined();
    memo.end();
    memo.begin(catalog, start + MAX_REUSE_MS / 2 - 1);
    expect(memo.file('kind', file, statSync(file))).toBe(1);
    memo.end();
    memo.begin(catalog, start + 2 + MAX_REUSE_MS + 1);
    expect(memo.file('kind', file, statSync(file))).toBeUndefined();
    memo.end();
  });

  it("holds at most MAX_KEPT_PER_OWNER of one owner's listing entries and file values", () => {
    const memo = new ScanMemo();
    memo.begin(catalog, at(RACY_MS + 10));
    const huge = Array.from({ length: MAX_KEPT_PER_OWNER }, (_, i) => ({ ...entries[0]!, name: `n${i}` }));
    memo.keepListing(dir, statSync(dir), huge);
    expect(memo.size.listings).toBe(0);
    memo.keepListing(dir, statSync(dir), huge.slice(0, MAX_KEPT_PER_OWNER - 1));
    // The same owner's file: over the share.
    memo.keepFile('kind', file, statSync(file), 1);
    expect(memo.size).toEqual({ listings: 1, files: 0, kinds: 0, cost: MAX_KEPT_PER_OWNER });
    memo.end();
    // A listing no scan used is dropped, and its owner's share is free again.
    memo.begin(catalog, at(RACY_MS + 20));
    memo.end();
    memo.begin(catalog, at(RACY_MS + 30));
    memo.keepFile('kind', file, statSync(file), 1);
    expect(memo.size).toEqual({ listings: 0, files: 1, kinds: 1, cost: 1 });
    memo.end();
  });

  it.skipIf(!isRoot)("keeps other owners' entries when one owner's share is full, and MAX_KEPT in all", () => {
    // Real folders and files of six owners (uids that need no account: chown is root's).
    const owned = (uid: number, kind: 'dir' | 'file') => {
      const made = kind === 'dir' ? t.dir(`owners/d${uid}`) : t.file(`owners/f${uid}`, String(uid));
      chownSync(made, uid, uid);
      return made;
    };
    const [d1, d2, d3, d4] = [4001, 4002, 4003, 4004].map((uid) => owned(uid, 'dir'));
    const [f4, f5, f6] = [4004, 4005, 4006].map((uid) => owned(uid, 'file'));
    const memo = new ScanMemo();
    memo.begin(catalog, Date.now() + RACY_MS + 1000);
    const listing = (n: number) => Array.from({ length: n }, (_, i) => ({ ...entries[0]!, name: `n${i}` }));
    const share = MAX_KEPT_PER_OWNER;
    for (const d of [d1!, d2!, d3!]) memo.keepListing(d, statSync(d), listing(share - 1));
    // 4004's share is not full: its listing and its file fit.
    memo.keepListing(d4!, statSync(d4!), listing(share - 3));
    memo.keepFile('kind', f4!, statSync(f4!), 4);
    expect(memo.size).toEqual({ listings: 4, files: 1, kinds: 1, cost: MAX_KEPT - 1 });
    memo.keepFile('kind', f5!, statSync(f5!), 5);
    memo.keepFile('kind', f6!, statSync(f6!), 6);
    // The memo is full: 4006's file, its first entry, is not kept.
    expect(memo.size).toEqual({ listings: 4, files: 2, kinds: 1, cost: MAX_KEPT });
    expect(memo.file('kind', f5!, statSync(f5!))).toBe(5);
    expect(memo.file('kind', f6!, statSync(f6!))).toBeUndefined();
    memo.end();
  });

  it('holds no kind of value it keeps nothing of: refused entries make none, a scan that used none drops it', () => {
    const memo = new ScanMemo();
    memo.begin(catalog, at(RACY_MS - 1));
    for (let i = 0; i < 100; i++) memo.keepFile(`racy ${i}`, file, statSync(file), i);
    expect(memo.size).toMatchObject({ files: 0, kinds: 0 });
    memo.end();
    memo.begin(catalog, at(RACY_MS + 10));
    for (let i = 0; i < 100; i++) memo.keepFile(`kind ${i}`, file, statSync(file), i);
    memo.end();
    expect(memo.size).toMatchObject({ files: 100, kinds: 100 });
    memo.begin(catalog, at(RACY_MS + 20));
    expect(memo.file('kind 7', file, statSync(file))).toBe(7);
    memo.end();
    expect(memo.size).toMatchObject({ files: 1, kinds: 1 });
    memo.begin(catalog, at(RACY_MS + 30));
    memo.end();
    expect(memo.size).toMatchObject({ files: 0, kinds: 0 });
  });
});

describe('StampCache', () => {
  it('keeps a value learned from a file changed long enough ago, for at most MAX_REUSE_MS', () => {
    const cache = new StampCache<string>(2);
    cache.set('young', 'v', statSync(file), at(RACY_MS - 1));
    expect(cache.get('young', at(RACY_MS))).toBeUndefined();
    const kept = at(RACY_MS + 1);
    cache.set('a', 'v', statSync(file), kept);
    expect(cache.get('a', kept + MAX_REUSE_MS / 2 - 1)).toBe('v');
    expect(cache.get('a', kept + MAX_REUSE_MS + 1)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('drops the oldest entry when full, and takes bigint stats', () => {
    const cache = new StampCache<number>(2);
    const now = at(RACY_MS + 1) + 60_000;
    for (const key of ['a', 'b', 'c']) cache.set(key, 1, statSync(file, { bigint: true }), now);
    expect([cache.get('a', now), cache.get('b', now), cache.get('c', now)]).toEqual([undefined, 1, 1]);
  });
});
