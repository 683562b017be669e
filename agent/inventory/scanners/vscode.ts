/**
 * VS Code-family extensions in each home: VS Code (and Insiders, Server, code-server), VSCodium,
 * Cursor, Windsurf, Kiro and Trae. A folder counts only while the editor still lists it: folders
 * in `.obsolete`, or missing from an existing `extensions.json`, are uninstalled or superseded
 * versions waiting for cleanup and are not reported.
 */
import * as path from 'node:path';
import type { ToolInstance } from '../../../policies/inventory.js';
import type { ScanContext } from '../context.js';
import { child } from '../fs.js';
import { versionFields } from '../instances.js';
import { parsePackageJson } from '../parse/package-json.js';
import { checkVersion } from '../parse/version.js';
import { parseExtensionFolderName, parseExtensionsJson, parseObsolete } from '../parse/vscode.js';
import type { Home } from '../users.js';

/** Editor (reported as `host`) -> its extensions folder, relative to the home. */
export const EDITOR_EXTENSION_DIRS: readonly (readonly [string, string])[] = [
  ['vscode', '.vscode/extensions'],
  ['vscode-insiders', '.vscode-insiders/extensions'],
  ['vscode-server', '.vscode-server/extensions'],
  ['vscode-server-insiders', '.vscode-server-insiders/extensions'],
  ['code-server', '.local/share/code-server/extensions'],
  ['vscodium', '.vscode-oss/extensions'],
  ['vscodium-server', '.vscodium-server/extensions'],
  ['cursor', '.cursor/extensions'],
  ['cursor-server', '.cursor-server/extensions'],
  ['windsurf', '.windsurf/extensions'],
  ['windsurf-server', '.windsurf-server/extensions'],
  ['kiro', '.kiro/extensions'],
  ['trae', '.trae/extensions'],
  ['trae-cn', '.trae-cn/extensions'],
];

export async function scanVscode(ctx: ScanContext): Promise<ToolInstance[]> {
  const out: ToolInstance[] = [];
  for (const home of ctx.homes) {
    if (ctx.expired(home.dir)) break;
    for (const [host, relative] of EDITOR_EXTENSION_DIRS) scanExtensionsDir(ctx, home, host, path.join(home.dir, ...relative.split('/')), out);
    await ctx.breathe();
  }
  return out;
}

function scanExtensionsDir(ctx: ScanContext, home: Home, host: string, dir: string, out: ToolInstance[]): void {
  const entries = ctx.fs.list(dir);
  if (!entries) return;
  // Only folders that start like a catalogued extension are parsed, and the editor's records
  // are read only when there is one (most extensions are not AI tools).
  const catalogued = cataloguedFolderPattern(ctx);
  const candidates = entries.filter((e) => !e.isFile && catalogued.test(e.name));
  if (candidates.length === 0) return;
  const obsolete = readObsolete(ctx, dir);
  const installed = readInstalled(ctx, dir);
  for (const entry of candidates) {
    const folder = parseExtensionFolderName(entry.name);
    if (!folder) continue;
    const tool = ctx.catalog.bySignature('vscodeExtensions', folder.id);
    if (!tool) continue;
    const lower = entry.name.toLowerCase();
    if (obsolete.has(lower)) continue;
    if (installed && !installed.folders.has(lower) && !installed.ids.has(`${folder.id}@${folder.version}`)) continue;
    const extDir = child(dir, entry.name);
    const real = ctx.fs.realpath(extDir);
    if (!real || !ctx.fs.isDirectory(real)) continue;
    const manifestPath = child(extDir, 'package.json');
    const text = ctx.fs.readText(manifestPath, ctx.limits.maxManifestBytes);
    const manifest = text === null ? null : parsePackageJson(text);
    if (manifest && !manifest.ok) ctx.skip(manifestPath, manifest.error);
    const fromManifest = manifest?.ok ? manifest.value.version : null;
    const version = fromManifest?.version ? fromManifest : checkVersion(folder.version, 'extension folder name');
    out.push({
      toolId: tool.id,
      ...versionFields(version),
      channel: 'vscode-extension',
      installPath: real,
      launchers: [],
      owner: home.user,
      evidence: [text === null ? extDir : manifestPath],
      host,
    });
  }
}

const folderPatterns = new WeakMap<object, RegExp>();

/** `^(?:anthropic\.claude-code|github\.copilot|...)-\d`, case-insensitive, per catalog. */
function cataloguedFolderPattern(ctx: ScanContext): RegExp {
  let pattern = folderPatterns.get(ctx.catalog);
  if (!pattern) {
    const ids = [...ctx.catalog.signatureValues('vscodeExtensions')].map((id) => id.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
    pattern = ids.length ? new RegExp(`^(?:${ids.join('|')})-\\d`, 'i') : /$^/;
    folderPatterns.set(ctx.catalog, pattern);
  }
  return pattern;
}

function readObsolete(ctx: ScanContext, dir: string): Set<string> {
  const file = path.join(dir, '.obsolete');
  const text = ctx.fs.readText(file, ctx.limits.maxManifestBytes);
  if (text === null || text.trim() === '') return new Set();
  const parsed = parseObsolete(text);
  if (parsed.ok) return parsed.value;
  ctx.skip(file, parsed.error);
  return new Set();
}

/** What extensions.json lists, or null when there is no usable extensions.json (older editors). */
function readInstalled(ctx: ScanContext, dir: string): { folders: Set<string>; ids: Set<string> } | null {
  const file = path.join(dir, 'extensions.json');
  const text = ctx.fs.readText(file, ctx.limits.maxDatabaseBytes);
  if (text === null) return null;
  const parsed = parseExtensionsJson(text);
  if (!parsed.ok) {
    ctx.skip(file, `${parsed.error}; every extension folder counted as installed`);
    return null;
  }
  return {
    folders: new Set(parsed.value.map((e) => e.folder).filter((f): f is string => f !== null)),
    ids: new Set(parsed.value.filter((e) => e.version !== null).map((e) => `${e.id}@${e.version}`)),
  };
}
