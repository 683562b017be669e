/**
 * macOS application bundles in /Applications and ~/Applications, matched by bundle name or by
 * the CFBundleIdentifier in Contents/Info.plist (XML or binary); the version is
 * CFBundleShortVersionString (else CFBundleVersion).
 */
import * as path from 'node:path';

import type { CatalogTool } from '../../../policies/catalog/schema.js';
import type { ToolInstance } from '../../../policies/inventory.js';
import type { ScanContext } from '../context.js';
import { versionFields } from '../instances.js';
import { bundleInfo, parsePlist } from '../parse/plist.js';
import { checkVersion, type VersionRead } from '../parse/version.js';
import type { Home } from '../users.js';

export async function scanMacApps(ctx: ScanContext): Promise<ToolInstance[]> {
  if (ctx.platform !== 'darwin') return [];
  const out: ToolInstance[] = [];
  const places: [string, Home | null][] = ctx.homes.map((home) => [path.join(home.dir, 'Applications'), home]);
  if (ctx.systemRoots) places.unshift([ctx.sys('Applications'), null]);
  for (const [dir, home] of places) {
    if (ctx.expired(dir)) continue;
    for (const entry of ctx.fs.list(dir) ?? []) {
      if (!entry.name.toLowerCase().endsWith('.app') || entry.isFile) continue;
      const instance = readApp(ctx, path.join(dir, entry.name), entry.name, home);
      if (instance) out.push(instance);
    }
    await ctx.breathe();
  }
  return out;
}

function readApp(ctx: ScanContext, app: string, name: string, home: Home | null): ToolInstance | null {
  const plistPath = path.join(app, 'Contents', 'Info.plist');
  const byName = ctx.catalog.bySignature('macAppNames', name);
  const bytes = ctx.fs.readBytes(plistPath, ctx.limits.maxManifestBytes);
  let tool: CatalogTool | undefined = byName;
  let version: VersionRead = { version: null, error: 'Contents/Info.plist is missing or unreadable' };
  if (bytes) {
    const parsed = parsePlist(bytes);
    if (parsed.ok) {
      const info = bundleInfo(parsed.value);
      tool = (info.id ? ctx.catalog.bySignature('macBundleIds', info.id) : undefined) ?? byName;
      version = info.shortVersion
        ? checkVersion(info.shortVersion, 'CFBundleShortVersionString')
        : checkVersion(info.version ?? undefined, 'Info.plist');
    } else {
      version = { version: null, error: `Info.plist: ${parsed.error}` };
      if (byName) ctx.skip(plistPath, parsed.error);
    }
  }
  if (!tool) return null;
  const real = ctx.fs.shownRealpath(app);
  if (!real) return null;
  return {
    toolId: tool.id,
    ...versionFields(version),
    channel: 'app-bundle',
    installPath: real,
    launchers: [],
    owner: home ? home.user : ctx.users.ownerOf(ctx.fs.stat(real)),
    evidence: [bytes ? plistPath : app],
  };
}
