/**
 * pnpm's newer global layouts and its store, which the plain node_modules roots miss (issue 12
 * item 2). Read from real installs (`pnpm add -g --ignore-scripts`, pnpm 12.21 and 10.x):
 *
 * - pnpm 11-12 global: `$PNPM_HOME/global/v11/<n>-<hex>-0/node_modules/<pkg>`, with a sibling
 *   symlink named by a 64-hex hash pointing at that folder (bins in `$PNPM_HOME/bin` name the hash
 *   path). `<pkg>` there is a symlink into the store:
 *   `$PNPM_HOME/store/v11/links/<pkg>/<version>/<hash>/node_modules/<pkg>`, and the tool's
 *   per-platform optional dependency is a sibling symlink in that same store node_modules
 *   (`.../links/@openai/codex/0.111.0/<hash>/node_modules/@openai/codex-linux-x64` ->
 *   `.../links/@openai/codex/0.111.0-linux-x64/<hash>/node_modules/@openai/codex`).
 * - pnpm 10 global: `$PNPM_HOME/global/5/node_modules/<pkg>` -> `.pnpm/<name>@<ver>/node_modules/<pkg>`
 *   (read as an ordinary root by npm-roots.ts); the platform package is again a sibling of the
 *   real folder.
 * - The store's `links/` keeps every package pnpm linked, runnable, until `pnpm store prune`.
 *   (pnpm 10's `files/` holds content-addressed files without names and is not runnable as such.)
 *
 * Store location: `store-dir`, default `<PNPM_HOME>/store` (pnpm docs "settings: storeDir").
 */
import * as path from 'node:path';

import type { ToolInstance } from '../../../policies/inventory.js';
import type { ScanContext } from '../context.js';
import { child } from '../fs.js';
import { pnpmHomes } from '../npm-roots.js';
import type { Home } from '../users.js';
import { attachPlatformParts, readPackage, scanModules } from './npm.js';

export async function scanPnpm(ctx: ScanContext): Promise<ToolInstance[]> {
  const out: ToolInstance[] = [];
  if (ctx.npmPrefixes) return out;
  const seen = new Set<string>();
  // A home cut short (its share of the time budget spent) leaves the next homes their turn.
  homes: for (const home of ctx.homes) {
    for (const pnpmHome of pnpmHomes(ctx, home)) {
      const binDirs = [pnpmHome, path.join(pnpmHome, 'bin')];
      const global = path.join(pnpmHome, 'global');
      for (const layout of ctx.fs.list(global) ?? []) {
        if (!layout.isDirectory || !/^v\d+$/.test(layout.name)) continue;
        for (const entry of ctx.fs.list(path.join(global, layout.name)) ?? []) {
          // The hash-named symlinks lead to the same folders; the real path dedupes them.
          if (!entry.isDirectory) continue;
          const modules = path.join(global, layout.name, entry.name, 'node_modules');
          const real = ctx.fs.realpath(modules);
          if (real === null || seen.has(real)) continue;
          seen.add(real);
          const found: ToolInstance[] = [];
          await scanModules(ctx, { modules, binDirs, home }, found);
          out.push(...found);
          if (ctx.expired(global)) continue homes;
        }
      }
      for (const store of ctx.fs.list(path.join(pnpmHome, 'store')) ?? []) {
        if (store.isDirectory && /^v\d+$/.test(store.name))
          await scanStoreLinks(ctx, path.join(pnpmHome, 'store', store.name, 'links'), home, out);
      }
    }
  }
  return out;
}

/** `links/<name>/<version>/<hash>/node_modules/<name>`: every package the store has linked. */
async function scanStoreLinks(ctx: ScanContext, links: string, home: Home, out: ToolInstance[]): Promise<void> {
  const found: ToolInstance[] = [];
  const names: [string, string][] = [];
  for (const entry of ctx.fs.list(links) ?? []) {
    if (!entry.isDirectory) continue;
    if (entry.name.startsWith('@')) {
      for (const sub of ctx.fs.list(child(links, entry.name)) ?? [])
        if (sub.isDirectory) names.push([`${entry.name}/${sub.name}`, child(child(links, entry.name), sub.name)]);
    } else names.push([entry.name, child(links, entry.name)]);
  }
  for (const [name, dir] of names) {
    for (const version of ctx.fs.list(dir) ?? []) {
      if (!version.isDirectory) continue;
      for (const hash of ctx.fs.list(child(dir, version.name)) ?? []) {
        if (!hash.isDirectory) continue;
        const modules = child(child(child(dir, version.name), hash.name), 'node_modules');
        readPackage(ctx, { modules, binDirs: [], home }, name, name.split('/').reduce(child, modules), found);
      }
    }
    if (ctx.expired(links)) break;
    await ctx.breathe();
  }
  // A platform package in the store belongs to the tool's store copy of the same version.
  out.push(...attachPlatformParts(found));
}
