/**
 * npm's cached tarballs of npm-installed instances (issue 12 item 1: `npx --offline
 * @anthropic-ai/claude-code` unpacked the copy again after every cycle). npm keeps every tarball
 * it fetched in its cache, `<cache>/_cacache/content-v2/sha512/<2 hex>/<2 hex>/<124 hex>`, named
 * by the tarball's integrity (cacache lib/content/path.js `contentPath`: the hex digest split
 * 2/2/rest; checked on npm 11's cache), and records that integrity per package in the hidden
 * lockfile beside an install, `node_modules/.package-lock.json` (`packages["node_modules/<name>"]
 * .integrity`, `sha512-<base64>`; npx's `_npx/<hash>` and project installs). npm 11 writes no
 * such lockfile for a global prefix: there the cache's own index names it (`index-v5`, the entry
 * for the tarball's registry URL; see tarballKey, bucketOf). Such a tarball,
 * the user's own regular file, becomes a part of the instance: quarantined with it, npm cannot
 * unpack that version again offline (`ENOTCACHED`), and it is put back on lift.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';

import type { ToolInstance } from '../../../policies/inventory.js';
import { MAX_FINGERPRINT_FILE_BYTES } from '../../../policies/protocol.js';
import type { ScanContext } from '../context.js';
import { parsePackageJson } from '../parse/package-json.js';
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

/** The largest cache index bucket read (bytes): npm appends a line of a few hundred bytes per fetch of a key. */
const MAX_BUCKET_BYTES = 1024 * 1024;

/** npm's default registry (docs.npmjs.com "config: registry"). */
const DEFAULT_REGISTRY = 'https://registry.npmjs.org/';

/** The `registry=` a user's `.npmrc` sets (an http(s) URL ending in `/`), or null. */
function parseNpmrcRegistry(text: string): string | null {
  let found: string | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const m = /^\s*registry\s*=\s*(\S+)\s*$/.exec(raw);
    if (m) found = m[1]!.replace(/^(["'])(.*)\1$/, '$2');
  }
  if (found === null || !/^https?:\/\/[^\s]+$/.test(found)) return null;
  return found.endsWith('/') ? found : `${found}/`;
}

/**
 * The cache key npm files a registry tarball under: make-fetch-happen's
 * `make-fetch-happen:request-cache:<url>` (lib/cache/key.js) of the tarball's URL on the
 * registry, `<registry><name>/-/<name without scope>-<version>.tgz` (npm's registry layout).
 */
function tarballKey(registry: string, name: string, version: string): string | null {
  try {
    const url = new URL(`${name}/-/${name.split('/').pop()!}-${version}.tgz`, registry);
    return `make-fetch-happen:request-cache:${url.href}`;
  } catch {
    return null;
  }
}

/**
 * cacache's index bucket of `key` under `cacheDir` (`_cacache`): `index-v5/<2>/<2>/<rest>` of
 * the key's SHA-256 (cacache lib/entry-index.js bucketPath, hashToSegments; checked on npm 11).
 */
function bucketOf(cacheDir: string, key: string): string {
  const hashed = createHash('sha256').update(key).digest('hex');
  return path.join(cacheDir, 'index-v5', hashed.slice(0, 2), hashed.slice(2, 4), hashed.slice(4));
}

/**
 * The sha512 (hex) a bucket's last entry for `key` names: lines `<sha1 of json>\t<json>`, later
 * lines winning, an entry with no integrity a deletion (cacache entry-index.js insert, find).
 */
function parseBucket(text: string, key: string): string | null {
  let found: string | null = null;
  for (const line of text.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab < 0) continue;
    let entry: unknown;
    try {
      entry = JSON.parse(line.slice(tab + 1));
    } catch {
      continue;
    }
    const { key: k, integrity } = (entry ?? {}) as { key?: unknown; integrity?: unknown };
    if (k !== key) continue;
    const sha512 =
      typeof integrity === 'string' ? integrity.split(/\s+/).find((one) => one.startsWith('sha512-')) : undefined;
    const hex = sha512 === undefined ? '' : Buffer.from(sha512.slice('sha512-'.length), 'base64').toString('hex');
    found = hex.length === 128 ? hex : null;
  }
  return found;
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
 * A tarball counts only when its bytes have the digest its name and the lockfile (or the index)
 * say (the user writes both): hashed once per file stamp, at most limits.maxDigestBytesPerHome
 * per home and scan (a budget of its own, beside the pnpm store lookup's).
 */
export async function attachCachedTarballs(ctx: ScanContext, found: readonly ToolInstance[]): Promise<void> {
  if (ctx.npmPrefixes || ctx.platform === 'windows') return;
  for (const home of ctx.homes) {
    const uid = ctx.fs.stat(home.dir)?.uid;
    if (uid === undefined) continue;
    const cacheDirs = npmCacheDirs(ctx, home)
      .map((dir) => path.join(dir, '_cacache'))
      .filter((dir) => ctx.fs.isDirectory(path.join(dir, 'content-v2', 'sha512')));
    const caches = cacheDirs.map((dir) => path.join(dir, 'content-v2', 'sha512'));
    if (caches.length === 0) continue;
    const fromRc = ctx.fs.readDerived(
      'npmrc-registry',
      path.join(home.dir, '.npmrc'),
      ctx.limits.maxManifestBytes,
      parseNpmrcRegistry,
    );
    const registries = [...new Set([DEFAULT_REGISTRY, ...(fromRc ? [fromRc] : [])])];
    /**
     * What npm's index says of `dir`'s package (name and version from its manifest) fetched from
     * one of the registries: for a global install, which has no hidden lockfile (npm 11 writes
     * none for `-g`), so `npm i -g --offline` would install it again from the cache.
     */
    // Each index bucket read once per home and scan, however many instances and folders name it.
    const buckets = new Map<string, string | null>();
    const indexed = async (dir: string): Promise<string[]> => {
      // The npm scanner's own parse of the manifest (the same key: read once per scan).
      const parsed = ctx.fs.readDerived(
        'npm-manifest',
        path.join(dir, 'package.json'),
        ctx.limits.maxManifestBytes,
        parsePackageJson,
      );
      const name = parsed?.ok ? parsed.value.name : null;
      const version = parsed?.ok ? parsed.value.version.version : null;
      const manifest = name !== null && version !== null && /^[\w.+-]+$/.test(version) ? { name, version } : null;
      if (!manifest) return [];
      const out: string[] = [];
      for (const registry of registries) {
        const key = tarballKey(registry, manifest.name, manifest.version);
        if (key === null) continue;
        for (const cacheDir of cacheDirs) {
          const bucket = bucketOf(cacheDir, key);
          let hex = buckets.get(bucket);
          if (hex === undefined) {
            // A bucket holds a few lines per key: a huge one is not npm's (MAX_BUCKET_BYTES).
            if (ctx.expired(home.dir)) return out;
            await ctx.breathe();
            hex =
              ctx.fs.readDerived('cacache-bucket', bucket, MAX_BUCKET_BYTES, (text) => parseBucket(text, key)) ?? null;
            buckets.set(bucket, hex);
          }
          if (hex) out.push(hex);
        }
      }
      return out;
    };
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
        const locked = ctx.fs
          .readDerived(
            'npm-hidden-lockfile',
            path.join(slot.modules, '.package-lock.json'),
            ctx.limits.maxDatabaseBytes,
            parseHiddenLockfile,
          )
          ?.get(slot.key);
        for (const integrity of new Set(locked !== undefined ? [locked] : await indexed(dir)))
          for (const cache of caches) {
            const file = path.join(cache, integrity.slice(0, 2), integrity.slice(2, 4), integrity.slice(4));
            const stats = ctx.fs.lstat(file);
            // Any link count: enforcement sets a file with other names aside without locking it.
            if (!stats?.isFile() || stats.uid !== uid) continue;
            if ((await ctx.fs.digest(file, 'sha512', MAX_FINGERPRINT_FILE_BYTES, pause, budget)) !== integrity)
              continue;
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
