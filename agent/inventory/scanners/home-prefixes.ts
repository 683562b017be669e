/**
 * npm prefixes a user made anywhere in their home (`npm i -g --prefix ~/apps/cc <pkg>`, issue 12
 * item 6), which no configuration names: a bounded walk of the home's visible folders, two levels
 * deep, for `<dir>/lib/node_modules` (Unix) or `<dir>/node_modules` beside npm's cmd-shims
 * (Windows: a `<name>.cmd` next to it is not checked; any `node_modules` with packages counts).
 * Hidden folders are skipped (the known roots under them are read by the npm scanner), so are
 * bulky folders that are never a prefix. At most MAX_CHECKS folders are looked at, and
 * `limits.maxWalkNames` names listed, per home.
 */
import * as path from 'node:path';

import type { ToolInstance } from '../../../policies/inventory.js';
import type { ScanContext } from '../context.js';
import { scanModules } from './npm.js';

const MAX_CHECKS = 2000;
const NEVER_PREFIX = new Set([
  'node_modules',
  'Library',
  'AppData',
  'snap',
  'go',
  'Downloads',
  'Pictures',
  'Music',
  'Videos',
  'Movies',
]);

export async function scanHomePrefixes(ctx: ScanContext): Promise<ToolInstance[]> {
  const out: ToolInstance[] = [];
  if (ctx.npmPrefixes) return out;
  for (const home of ctx.homes) {
    let checks = 0;
    let listed = 0;
    const level = (dir: string): string[] => {
      const entries = ctx.fs.list(dir) ?? [];
      listed += entries.length;
      return entries
        .filter((e) => e.isDirectory && !e.name.startsWith('.') && !NEVER_PREFIX.has(e.name))
        .map((e) => path.join(dir, e.name));
    };
    const candidates: string[] = [];
    for (const first of level(home.dir)) {
      // Each folder listed is a checkpoint: a home may hold thousands of folders of thousands of names.
      if (ctx.expired(first)) break;
      candidates.push(first);
      for (const second of level(first)) candidates.push(second);
      if (listed >= ctx.limits.maxWalkNames) {
        ctx.skip(home.dir, `home walk for npm prefixes stopped after listing ${ctx.limits.maxWalkNames} names`);
        break;
      }
      if (candidates.length >= MAX_CHECKS) break;
      await ctx.breathe();
    }
    for (const dir of candidates.slice(0, MAX_CHECKS)) {
      checks++;
      const unix = path.join(dir, 'lib', 'node_modules');
      const modules = ctx.fs.isDirectory(unix)
        ? unix
        : ctx.platform === 'windows' && ctx.fs.isDirectory(path.join(dir, 'node_modules'))
          ? path.join(dir, 'node_modules')
          : null;
      if (!modules) continue;
      await scanModules(ctx, { modules, binDirs: [modules === unix ? path.join(dir, 'bin') : dir], home }, out);
      if (ctx.expired(home.dir)) break;
    }
    if (checks >= MAX_CHECKS) ctx.skip(home.dir, `home walk for npm prefixes stopped after ${MAX_CHECKS} folders`);
  }
  return out;
}
