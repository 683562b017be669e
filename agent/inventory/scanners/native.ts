/**
 * Native installers that keep one entry per version in a home folder (Claude Code's
 * ~/.local/share/claude/versions/<ver>, Cursor CLI's ~/.local/share/cursor-agent/versions/<ver>,
 * Codex's ~/.codex/packages/standalone/releases/<ver>-<triple>, Lingma's ~/.lingma/bin/<ver>).
 * The entry's name is the version; launchers are the links (~/.local/bin/claude) that resolve
 * into it. Every version on disk is an instance; usually only the newest has a launcher.
 */
import * as path from 'node:path';

import type { CatalogTool } from '../../../policies/catalog/schema.js';
import type { ToolInstance } from '../../../policies/inventory.js';
import { coerceVersion } from '../../../policies/versions.js';
import type { ScanContext } from '../context.js';
import { commandFiles, findLaunchers, homeBinDirs } from '../launchers.js';
import { parseNativeVersionEntry, segments } from '../parse/layouts.js';
import type { Home } from '../users.js';

export async function scanNative(ctx: ScanContext): Promise<ToolInstance[]> {
  const out: ToolInstance[] = [];
  for (const tool of ctx.catalog.catalog.tools) {
    for (const relative of tool.detect.nativeVersionDirs ?? []) {
      for (const home of ctx.homes) {
        if (ctx.expired(home.dir)) continue;
        out.push(...versionsIn(ctx, tool, home, path.join(home.dir, ...segments(relative))));
      }
    }
    await ctx.breathe();
  }
  return out;
}

function versionsIn(ctx: ScanContext, tool: CatalogTool, home: Home, dir: string): ToolInstance[] {
  const entries = ctx.fs.list(dir);
  if (!entries) return [];
  const names = [...(tool.detect.binaries ?? []), ...(tool.detect.ambiguousBinaries ?? [])];
  const launcherDirs = [...homeBinDirs(home), ...ctx.pathDirs];
  const found: ToolInstance[] = [];
  for (const entry of entries) {
    const version = parseNativeVersionEntry(entry.name);
    if (version === null) continue;
    const entryPath = path.join(dir, entry.name);
    const real = ctx.fs.shownRealpath(entryPath);
    if (real === null) continue;
    found.push({
      toolId: tool.id,
      version,
      channel: 'native',
      installPath: real,
      launchers: findLaunchers(ctx, { dirs: launcherDirs, names, installReal: real }),
      owner: home.user,
      evidence: [entryPath],
    });
  }
  if (ctx.platform === 'windows') attachWindowsCopies(ctx, home, names, found);
  return found;
}

/**
 * The Windows installers copy the executable to %USERPROFILE%\.local\bin\<name>.exe instead of
 * linking it, so the copy cannot be traced by path: it launches the newest version.
 */
function attachWindowsCopies(ctx: ScanContext, home: Home, names: string[], found: ToolInstance[]): void {
  if (found.length === 0 || found.some((i) => i.launchers.length > 0)) return;
  const newest = [...found].sort((a, b) => compareVersions(b.version, a.version))[0]!;
  const copies = names.flatMap((name) => commandFiles(ctx, path.join(home.dir, '.local', 'bin'), name));
  newest.launchers = [...new Set([...newest.launchers, ...copies])].sort();
}

function compareVersions(a: string | null, b: string | null): number {
  const va = coerceVersion(a);
  const vb = coerceVersion(b);
  if (va && vb) return va.compare(vb) || (a! < b! ? -1 : a! > b! ? 1 : 0);
  return va ? 1 : vb ? -1 : 0;
}
