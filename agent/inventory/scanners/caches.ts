/**
 * Package-runner caches and package stores that hold complete, runnable copies of a tool (issue 12
 * item 1): what `npx <pkg>` runs, and what yarn and bun unpack before linking. A copy found here is
 * an instance of its tool like any other (identified by content, see policies/catalog/npm.ts), in
 * the channel `npm`, owned by the home it is in.
 *
 * Layouts (read from real installs, npm 11.19 / yarn 1.22 / bun 1.x, and their sources):
 * - npx: `<npm cache>/_npx/<16 hex>/node_modules/<pkg>`, bins in `node_modules/.bin` (npm
 *   libnpmexec: the `_npx` folder beside `_cacache`, one sub-folder per hash of the requested
 *   specs). The npm cache is `cache=` in ~/.npmrc, npm_config_cache, else
 *   `~/.npm/_cacache` (Unix) / `%LocalAppData%\npm-cache\_cacache` (Windows) — so `_npx` sits
 *   beside `_cacache` under `~/.npm` or `%LocalAppData%\npm-cache` (docs.npmjs.com "config: cache").
 * - yarn 1: `<cache>/v6/npm-<name>-<version>-<hash>-integrity/node_modules/<name>`, cache =
 *   `$YARN_CACHE_FOLDER`, `$XDG_CACHE_HOME/yarn`, `~/.cache/yarn` (Linux), `~/Library/Caches/Yarn`
 *   (macOS), `%LocalAppData%\Yarn\Cache` (yarn src/util/user-dirs.js, constants.js CACHE_VERSION 6).
 * - bun: `<cache>/<name>@<version>@@@1/` (scoped: `<cache>/@scope/<name>@<version>@@@1/`), cache =
 *   `$BUN_INSTALL_CACHE_DIR`, else `$BUN_INSTALL/install/cache`, default ~/.bun/install/cache
 *   (bun docs "Global cache").
 * - pnpm dlx: `<cacheDir>/dlx/<64 hex>/<prepare dir>/node_modules/<pkg>`, a pnpm node_modules
 *   (`<pkg>` links into its `.pnpm`), beside a `pkg` link to the newest prepare dir (read from a
 *   real `pnpm dlx` 10.x). cacheDir = `$XDG_CACHE_HOME/pnpm`, else `~/.cache/pnpm` (Linux),
 *   `~/Library/Caches/pnpm` (macOS), `%LocalAppData%\pnpm-cache` (Windows) (pnpm docs
 *   "settings: cacheDir").
 */
import * as path from 'node:path';

import type { ToolInstance } from '../../../policies/inventory.js';
import type { ScanContext } from '../context.js';
import { child } from '../fs.js';
import type { NpmRoot } from '../npm-roots.js';
import { parseNpmrcPath } from '../parse/system.js';
import type { Home } from '../users.js';
import { attachPlatformParts, readPackage, scanModules } from './npm.js';

export async function scanCaches(ctx: ScanContext): Promise<ToolInstance[]> {
  const out: ToolInstance[] = [];
  if (ctx.npmPrefixes) return out;
  // A home cut short (its share of the time budget spent) leaves the next homes their turn.
  homes: for (const home of ctx.homes) {
    for (const cache of npmCacheDirs(ctx, home)) {
      const npx = path.join(cache, '_npx');
      for (const entry of ctx.fs.list(npx) ?? []) {
        if (!entry.isDirectory) continue;
        const modules = child(child(npx, entry.name), 'node_modules');
        await scanModules(ctx, { modules, binDirs: [child(modules, '.bin')], home }, out);
        if (ctx.expired(npx)) continue homes;
      }
    }
    for (const cache of yarnCacheDirs(ctx, home)) {
      // Each package is an entry of its own: a platform package (every platform's, as yarn 1
      // caches them all) joins the tool's entry of the same version, never a tool by itself.
      const inCache: ToolInstance[] = [];
      for (const entry of ctx.fs.list(cache) ?? []) {
        if (!entry.isDirectory || !entry.name.startsWith('npm-')) continue;
        await scanModules(
          ctx,
          { modules: child(child(cache, entry.name), 'node_modules'), binDirs: [], home },
          inCache,
        );
        if (ctx.expired(cache)) break;
      }
      out.push(...attachPlatformParts(inCache));
      if (ctx.expired(cache)) continue homes;
    }
    for (const cache of bunCacheDirs(ctx, home)) await scanBunCache(ctx, cache, home, out);
    for (const dlx of pnpmDlxDirs(ctx, home)) {
      for (const spec of ctx.fs.list(dlx) ?? []) {
        if (!spec.isDirectory) continue;
        // Every prepare dir, not only the one `pkg` links to: an older one still runs.
        for (const prepared of ctx.fs.list(child(dlx, spec.name)) ?? []) {
          if (!prepared.isDirectory) continue;
          const modules = path.join(dlx, spec.name, prepared.name, 'node_modules');
          await scanModules(ctx, { modules, binDirs: [path.join(modules, '.bin')], home }, out);
        }
        if (ctx.expired(dlx)) continue homes;
      }
    }
  }
  return out;
}

/** The npm cache folders of a home (the parent of `_cacache`, where `_npx` lives). */
export function npmCacheDirs(ctx: ScanContext, home: Home): string[] {
  // The user's own `.npmrc` is theirs to write: its cache counts only inside the home.
  const fromRc =
    ctx.fs.readDerived('npmrc-cache', path.join(home.dir, '.npmrc'), ctx.limits.maxManifestBytes, (text) =>
      parseNpmrcPath(text, home.dir, 'cache'),
    ) ?? null;
  const dirs: string[] = [
    ...(fromRc !== null ? [ctx.userChosen(home, fromRc, '.npmrc cache')].filter((d) => d !== null) : []),
    ...ctx.envValues(home, 'npm_config_cache'),
    ...ctx.envValues(home, 'NPM_CONFIG_CACHE'),
  ].filter((dir) => path.isAbsolute(dir));
  dirs.push(
    ctx.platform === 'windows' ? path.join(home.dir, 'AppData', 'Local', 'npm-cache') : path.join(home.dir, '.npm'),
  );
  return [...new Set(dirs)];
}

function yarnCacheDirs(ctx: ScanContext, home: Home): string[] {
  const bases = [
    ctx.envFor(home, 'YARN_CACHE_FOLDER'),
    ctx.envFor(home, 'XDG_CACHE_HOME') && path.join(ctx.envFor(home, 'XDG_CACHE_HOME')!, 'yarn'),
  ];
  if (ctx.platform === 'windows') bases.push(path.join(home.dir, 'AppData', 'Local', 'Yarn', 'Cache'));
  else if (ctx.platform === 'darwin') bases.push(path.join(home.dir, 'Library', 'Caches', 'Yarn'));
  bases.push(path.join(home.dir, '.cache', 'yarn'));
  return [...new Set(bases.filter((b): b is string => !!b && path.isAbsolute(b)).map((b) => path.join(b, 'v6')))];
}

/** The `dlx` folders of a home's pnpm cache (see the layout above). */
function pnpmDlxDirs(ctx: ScanContext, home: Home): string[] {
  const xdg = ctx.envFor(home, 'XDG_CACHE_HOME');
  const bases = [xdg && path.isAbsolute(xdg) ? path.join(xdg, 'pnpm') : undefined];
  if (ctx.platform === 'windows') bases.push(path.join(home.dir, 'AppData', 'Local', 'pnpm-cache'));
  else if (ctx.platform === 'darwin') bases.push(path.join(home.dir, 'Library', 'Caches', 'pnpm'));
  bases.push(path.join(home.dir, '.cache', 'pnpm'));
  return [...new Set(bases.filter((b): b is string => !!b).map((b) => path.join(b, 'dlx')))];
}

function bunCacheDirs(ctx: ScanContext, home: Home): string[] {
  const install = ctx.envFor(home, 'BUN_INSTALL') ?? path.join(home.dir, '.bun');
  const dirs = [ctx.envFor(home, 'BUN_INSTALL_CACHE_DIR'), path.join(install, 'install', 'cache')];
  return [...new Set(dirs.filter((d): d is string => !!d && path.isAbsolute(d)))];
}

/** `claude-code@2.1.50@@@1` -> `claude-code` (bun's cache folder name: name@version@@@<n>). */
export function bunCacheEntryName(entry: string): string | null {
  const m = /^(.+?)@[^@/]+@@@\d+$/.exec(entry);
  return m ? m[1]! : null;
}

async function scanBunCache(ctx: ScanContext, cache: string, home: Home, out: ToolInstance[]): Promise<void> {
  const root: NpmRoot = { modules: cache, binDirs: [], home };
  const found: ToolInstance[] = [];
  const read = (scope: string | null, name: string, dir: string) => {
    const pkg = bunCacheEntryName(name);
    if (pkg === null) return;
    readPackage(ctx, root, scope ? `${scope}/${pkg}` : pkg, dir, found);
  };
  for (const entry of ctx.fs.list(cache) ?? []) {
    if (!entry.isDirectory) continue;
    if (/^\.bunx-\d+$/.test(entry.name)) {
      await scanBunx(ctx, child(cache, entry.name), home, out);
      continue;
    }
    if (entry.name.startsWith('@') && !entry.name.includes('@', 1)) {
      const scopeDir = child(cache, entry.name);
      for (const sub of ctx.fs.list(scopeDir) ?? []) {
        if (!sub.isDirectory) continue;
        // A scope folder may hold thousands of packages: each is a checkpoint of its own.
        if (ctx.expired(cache)) break;
        read(entry.name, sub.name, child(scopeDir, sub.name));
      }
    } else {
      read(null, entry.name, child(cache, entry.name));
    }
    if (ctx.expired(cache)) break;
    await ctx.breathe();
  }
  // Platform packages sit beside their tool in the cache, as in a hoisted node_modules.
  out.push(...attachPlatformParts(found));
}

/**
 * What `bunx <pkg>` installed, in `<bun cache>/.bunx-<uid>/<pkg>@<version>/node_modules/<pkg>`
 * (scoped: `.bunx-<uid>/@scope/<name>@<version>/...`), bins in its `node_modules/.bin` (read from
 * a real `bunx` of bun 1.4.5; tools that tell a transient run by a `/.bunx-` path segment look
 * for the same folder).
 */
async function scanBunx(ctx: ScanContext, bunx: string, home: Home, out: ToolInstance[]): Promise<void> {
  const specs: string[] = [];
  for (const entry of ctx.fs.list(bunx) ?? []) {
    if (!entry.isDirectory) continue;
    if (!entry.name.startsWith('@') || entry.name.includes('@', 1)) specs.push(child(bunx, entry.name));
    else
      for (const sub of ctx.fs.list(child(bunx, entry.name)) ?? []) specs.push(path.join(bunx, entry.name, sub.name));
  }
  for (const spec of specs) {
    if (ctx.expired(bunx)) return;
    const modules = child(spec, 'node_modules');
    await scanModules(ctx, { modules, binDirs: [child(modules, '.bin')], home }, out);
  }
}
