/**
 * npm's cached tarballs of npm-installed instances (issue 12 item 1: `npx --offline
 * @anthropic-ai/claude-code` unpacked the copy again after every cycle). npm keeps every tarball
 * it fetched in its cache, `<cache>/_cacache/content-v2/sha512/<2 hex>/<2 hex>/<124 hex>`, named
 * by the tarball's integrity (cacache lib/content/path.js `contentPath`: the hex digest split
 * 2/2/rest; checked on npm 11's cache), and records that integrity per package in the hidden
 * lockfile beside an install, `node_modules/.package-lock.json` (`packages["node_modules/<name>"]
 * .integrity`, `sha512-<base64>`; npx's `_npx/<hash>` and project installs: npm 11 writes none
 * for a global prefix, whose tarballs are therefore not found). Such a tarball,
 * the user's own regular file, becomes a part of the instance: quarantined with it, npm cannot
 * unpack that version again offline (`ENOTCACHED`), and it is put back on lift.
 */
import * as path from 'node:path';

import type { ToolInstance } from '../../../policies/inventory.js';
import { MAX_FINGERPRINT_FILE_BYTES } from '../../../policies/protocol.js';
import type { ScanContext } from '../context.js';
import { npmCacheDirs } from './caches.js';

/** The hidden lockfile's integrity per package path (`node_modules/<name>`), sha512 only. */
function parseHiddenLockfile(text: string): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return out;
  }
  const packages = (parsed as { packages?: unknown } | null)?.packages;
  if (typeof packages !== 'object' || packages === null) return out;
  for (const [key, entry] of Object.entries(packages as Record<string, unknown>)) {
    const integrity = (entry as { integrity?: unknown } | null)?.integrity;
    if (typeof integrity !== 'string') continue;
    // Several hashes may be listed; the sha512 one names the cache's file.
    const sha512 = integrity.split(/\s+/).find((one) => one.startsWith('sha512-'));
    if (sha512 === undefined) continue;
    const hex = Buffer.from(sha512.slice('sha512-'.length), 'base64').toString('hex');
    if (hex.length === 128) out.set(key, hex);
  }
  return out;
}

/** The `node_modules` folder `dir` (a package folder, scoped or not) lies in, and its key there. */
function lockfileSlot(dir: string): { modules: string; key: string } | null {
  const parent = path.dirname(dir);
  const modules = path.basename(parent).startsWith('@') ? path.dirname(parent) : parent;
  if (path.basename(modules) !== 'node_modules') return null;
  return { modules, key: `node_modules/${path.relative(modules, dir).split(path.sep).join('/')}` };
}

/**
 * Adds, to each npm-installed instance of a home, the cached tarballs of its install and parts.
 * A tarball counts only when its bytes have the digest its name and the lockfile say (the user
 * writes both): hashed once per file stamp, within the home's share of limits.maxDigestBytesPerHome.
 */
export async function attachCachedTarballs(ctx: ScanContext, found: readonly ToolInstance[]): Promise<void> {
  if (ctx.npmPrefixes || ctx.platform === 'windows') return;
  for (const home of ctx.homes) {
    const uid = ctx.fs.stat(home.dir)?.uid;
    if (uid === undefined) continue;
    const caches = npmCacheDirs(ctx, home)
      .map((dir) => path.join(dir, '_cacache', 'content-v2', 'sha512'))
      .filter((dir) => ctx.fs.isDirectory(dir));
    if (caches.length === 0) continue;
    const budget: { bytes: number; spent?: boolean } = { bytes: ctx.limits.maxDigestBytesPerHome };
    const pause = async () => {
      await ctx.breathe();
      return !ctx.expired(home.dir);
    };
    for (const instance of found) {
      if (ctx.expired(home.dir)) break;
      if (instance.owner !== home.user || instance.channel !== 'npm') continue;
      const tarballs: string[] = [];
      for (const dir of [instance.installPath, ...(instance.parts ?? [])]) {
        const slot = lockfileSlot(dir);
        if (slot === null) continue;
        const integrity = ctx.fs
          .readDerived(
            'npm-hidden-lockfile',
            path.join(slot.modules, '.package-lock.json'),
            ctx.limits.maxDatabaseBytes,
            parseHiddenLockfile,
          )
          ?.get(slot.key);
        if (integrity === undefined) continue;
        for (const cache of caches) {
          const file = path.join(cache, integrity.slice(0, 2), integrity.slice(2, 4), integrity.slice(4));
          const stats = ctx.fs.lstat(file);
          // Any link count: enforcement sets a file with other names aside without locking it.
          if (!stats?.isFile() || stats.uid !== uid) continue;
          if ((await ctx.fs.digest(file, 'sha512', MAX_FINGERPRINT_FILE_BYTES, pause, budget)) !== integrity) continue;
          const real = ctx.fs.shownRealpath(file);
          if (real !== null && !tarballs.includes(real)) tarballs.push(real);
        }
      }
      if (tarballs.length) instance.parts = [...new Set([...(instance.parts ?? []), ...tarballs])].sort();
    }
    if (budget.spent)
      ctx.skip(
        home.dir,
        `npm tarball lookup stopped: more than ${ctx.limits.maxDigestBytesPerHome} bytes to hash this scan`,
      );
  }
}
