/**
 * Windows program folders from the catalog's windowsPaths (%LOCALAPPDATA%\Programs\cursor,
 * %ProgramFiles%\cursor, ...), per user and system-wide, matched case-insensitively as Windows
 * does. Electron apps keep their version in resources\app\package.json (Windsurf also in
 * product.json's windsurfVersion).
 */
import * as path from 'node:path';

import type { CatalogTool } from '../../../policies/catalog/schema.js';
import type { ToolInstance } from '../../../policies/inventory.js';
import type { ScanContext } from '../context.js';
import { versionFields } from '../instances.js';
import { segments } from '../parse/layouts.js';
import { isRecord, parseJson } from '../parse/text.js';
import { checkVersion, type VersionRead } from '../parse/version.js';
import type { Home } from '../users.js';

const HOME_VARS: Record<string, string[]> = {
  USERPROFILE: [],
  APPDATA: ['AppData', 'Roaming'],
  LOCALAPPDATA: ['AppData', 'Local'],
};
const SYSTEM_VARS: Record<string, string[]> = {
  PROGRAMFILES: ['Program Files'],
  'PROGRAMFILES(X86)': ['Program Files (x86)'],
  PROGRAMDATA: ['ProgramData'],
};

export async function scanWindowsPrograms(ctx: ScanContext): Promise<ToolInstance[]> {
  if (ctx.platform !== 'windows') return [];
  const out: ToolInstance[] = [];
  for (const tool of ctx.catalog.catalog.tools) {
    for (const template of tool.detect.windowsPaths ?? []) {
      const m = /^%([^%]+)%[\\/]?(.*)$/.exec(template);
      if (!m) continue;
      const variable = m[1]!.toUpperCase();
      const rest = segments(m[2]!);
      if (coveredByNative(tool, variable, rest)) continue;
      if (HOME_VARS[variable]) {
        for (const home of ctx.homes) {
          const dir = resolveFolder(ctx, home.dir, [...HOME_VARS[variable]!, ...rest]);
          if (dir) out.push(program(ctx, tool, dir, home));
        }
      } else if (SYSTEM_VARS[variable] && ctx.systemRoots) {
        const dir = resolveFolder(ctx, ctx.root, [...SYSTEM_VARS[variable]!, ...rest]);
        if (dir) out.push(program(ctx, tool, dir, null));
      }
    }
    await ctx.breathe();
  }
  return out;
}

/** %USERPROFILE%\.local\share\claude holds the native versions folder, read by that scanner. */
function coveredByNative(tool: CatalogTool, variable: string, rest: string[]): boolean {
  if (variable !== 'USERPROFILE') return false;
  const wanted = rest.join('/').toLowerCase();
  return (tool.detect.nativeVersionDirs ?? []).some(
    (dir) => dir.toLowerCase() === wanted || dir.toLowerCase().startsWith(`${wanted}/`),
  );
}

/** Walks `parts` below `base`, matching each folder name without regard to case. */
function resolveFolder(ctx: ScanContext, base: string, parts: string[]): string | null {
  let current = base;
  for (const part of parts) {
    const entries = ctx.fs.list(current);
    if (!entries) return null;
    const hit = entries.find((e) => e.name.toLowerCase() === part.toLowerCase() && !e.isFile);
    if (!hit) return null;
    current = path.join(current, hit.name);
  }
  return ctx.fs.isDirectory(current) ? current : null;
}

function program(ctx: ScanContext, tool: CatalogTool, dir: string, home: Home | null): ToolInstance {
  const { version, evidence } = electronVersion(ctx, dir);
  return {
    toolId: tool.id,
    ...versionFields(version),
    channel: 'windows-program',
    installPath: ctx.fs.realpath(dir) ?? dir,
    launchers: [],
    owner: home ? home.user : ctx.users.ownerOf(ctx.fs.stat(dir)),
    evidence: [evidence ?? dir],
  };
}

/** An Electron app's version: product.json windsurfVersion, else resources/app/package.json. */
export function electronVersion(ctx: ScanContext, dir: string): { version: VersionRead; evidence: string | null } {
  const appDir = path.join(dir, 'resources', 'app');
  const productPath = path.join(appDir, 'product.json');
  const product = readJsonObject(ctx, productPath);
  if (product && typeof product.windsurfVersion === 'string')
    return { version: checkVersion(product.windsurfVersion, 'product.json'), evidence: productPath };
  const packagePath = path.join(appDir, 'package.json');
  const pkg = readJsonObject(ctx, packagePath);
  if (pkg && pkg.version !== undefined)
    return { version: checkVersion(pkg.version, 'resources/app/package.json'), evidence: packagePath };
  if (product && typeof product.version === 'string')
    return { version: checkVersion(product.version, 'product.json'), evidence: productPath };
  return { version: { version: null, error: 'no resources/app/package.json or product.json version' }, evidence: null };
}

function readJsonObject(ctx: ScanContext, file: string): Record<string, unknown> | null {
  const text = ctx.fs.readText(file, ctx.limits.maxManifestBytes);
  if (text === null) return null;
  const json = parseJson(text);
  if (!json.ok) {
    ctx.skip(file, json.error);
    return null;
  }
  return isRecord(json.value) ? json.value : null;
}
