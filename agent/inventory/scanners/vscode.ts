/**
 * VS Code-family extensions in each home: VS Code (and Insiders, Server, code-server,
 * openvscode-server), VSCodium, Cursor, Windsurf, Kiro, Trae, Void and their remote servers. A
 * folder counts only while the editor still lists it: folders in `.obsolete`, or missing from
 * every existing `extensions.json`, are uninstalled or superseded versions waiting for cleanup and
 * are not reported.
 *
 * Profiles: all profiles share the extensions folder, but an extension installed only in a named
 * profile is listed in `<user data>/User/profiles/<id>/extensions.json`, not in the folder's own
 * `extensions.json` (VS Code userDataProfile.ts: a named profile's extensionsResource is
 * `<profile>/extensions.json`; osquery/osquery#9055). What any profile lists counts as installed,
 * and a profile entry whose location lies in another folder of the home is read there.
 */
import * as path from 'node:path';

import type { ToolInstance } from '../../../policies/inventory.js';
import { isInside, type ScanContext } from '../context.js';
import { child } from '../fs.js';
import { versionFields } from '../instances.js';
import { xdgConfigDirs, xdgDataDirs } from '../npm-roots.js';
import { parsePackageJson } from '../parse/package-json.js';
import { escapeRegExp, type Parsed } from '../parse/text.js';
import { checkVersion } from '../parse/version.js';
import { parseExtensionFolderName, parseExtensionsJson, parseObsolete } from '../parse/vscode.js';
import type { Home } from '../users.js';

/** Editor (reported as `host`) -> its extensions folder, relative to the home. */
const EDITOR_EXTENSION_DIRS: readonly (readonly [string, string])[] = [
  ['vscode', '.vscode/extensions'],
  ['vscode-insiders', '.vscode-insiders/extensions'],
  ['vscode-server', '.vscode-server/extensions'],
  ['vscode-server-insiders', '.vscode-server-insiders/extensions'],
  ['vscode-remote-containers', '.vscode-remote/extensions'],
  ['code-server', '.local/share/code-server/extensions'],
  ['openvscode-server', '.openvscode-server/extensions'],
  ['vscodium', '.vscode-oss/extensions'],
  ['vscodium-server', '.vscodium-server/extensions'],
  ['cursor', '.cursor/extensions'],
  ['cursor-server', '.cursor-server/extensions'],
  ['windsurf', '.windsurf/extensions'],
  ['windsurf-server', '.windsurf-server/extensions'],
  ['kiro', '.kiro/extensions'],
  ['kiro-server', '.kiro-server/extensions'],
  ['trae', '.trae/extensions'],
  ['trae-cn', '.trae-cn/extensions'],
  ['trae-server', '.trae-server/extensions'],
  ['void', '.void-editor/extensions'],
];

/**
 * Editor -> its user data folder name (under ~/.config, ~/Library/Application Support or
 * %APPDATA%), or for servers the folder relative to the home, whose `User/profiles` hold the
 * per-profile lists (VS Code product.json `nameLong`/`dataFolderName`; servers keep `data/`).
 */
const USER_DATA: Record<string, { app?: string; home?: string }> = {
  vscode: { app: 'Code' },
  'vscode-insiders': { app: 'Code - Insiders' },
  vscodium: { app: 'VSCodium' },
  cursor: { app: 'Cursor' },
  windsurf: { app: 'Windsurf' },
  kiro: { app: 'Kiro' },
  trae: { app: 'Trae' },
  'trae-cn': { app: 'Trae CN' },
  void: { app: 'Void' },
  'vscode-server': { home: '.vscode-server/data' },
  'vscode-server-insiders': { home: '.vscode-server-insiders/data' },
  'vscodium-server': { home: '.vscodium-server/data' },
  'cursor-server': { home: '.cursor-server/data' },
  'windsurf-server': { home: '.windsurf-server/data' },
  'kiro-server': { home: '.kiro-server/data' },
  'trae-server': { home: '.trae-server/data' },
  'openvscode-server': { home: '.openvscode-server/data' },
};

export async function scanVscode(ctx: ScanContext): Promise<ToolInstance[]> {
  const out: ToolInstance[] = [];
  for (const home of ctx.homes) {
    if (ctx.expired(home.dir)) continue;
    for (const [host, dir] of extensionDirs(ctx, home)) scanExtensionsDir(ctx, home, host, dir, out);
    await ctx.breathe();
  }
  return out;
}

/** [host, extensions folder] pairs of one home, including moved ones (VSCODE_EXTENSIONS, XDG). */
function extensionDirs(ctx: ScanContext, home: Home): [string, string][] {
  const out = new Map<string, string>();
  for (const [host, relative] of EDITOR_EXTENSION_DIRS) out.set(path.join(home.dir, ...relative.split('/')), host);
  // code-server keeps its data under $XDG_DATA_HOME; VS Code honours VSCODE_EXTENSIONS.
  for (const data of xdgDataDirs(ctx, home))
    if (!out.has(path.join(data, 'code-server', 'extensions')))
      out.set(path.join(data, 'code-server', 'extensions'), 'code-server');
  for (const dir of ctx.envValues(home, 'VSCODE_EXTENSIONS')) if (!out.has(dir)) out.set(dir, 'vscode');
  return [...out].map(([dir, host]) => [host, dir]);
}

/** The `User/profiles` folders of an editor in one home. */
function profileRoots(ctx: ScanContext, home: Home, host: string): string[] {
  const data = USER_DATA[host];
  if (host === 'code-server') return xdgDataDirs(ctx, home).map((d) => path.join(d, 'code-server', 'User', 'profiles'));
  if (!data) return [];
  if (data.home) return [path.join(home.dir, ...data.home.split('/'), 'User', 'profiles')];
  const bases =
    ctx.platform === 'windows'
      ? [path.join(home.dir, 'AppData', 'Roaming')]
      : ctx.platform === 'darwin'
        ? [path.join(home.dir, 'Library', 'Application Support')]
        : xdgConfigDirs(ctx, home);
  return bases.map((base) => path.join(base, data.app!, 'User', 'profiles'));
}

function scanExtensionsDir(ctx: ScanContext, home: Home, host: string, dir: string, out: ToolInstance[]): void {
  const entries = ctx.fs.list(dir);
  const profiles = readProfiles(ctx, home, host);
  if (!entries && profiles.elsewhere.length === 0) return;
  // Only folders that start like a catalogued extension are parsed, and the editor's records
  // are read only when there is one (most extensions are not AI tools).
  const catalogued = cataloguedFolderPattern(ctx);
  const candidates: [string, string][] = (entries ?? [])
    .filter((e) => !e.isFile && catalogued.test(e.name))
    .map((e) => [e.name, child(dir, e.name)]);
  // Profile entries in another folder of the home (an extension installed from a folder, say).
  for (const location of profiles.elsewhere) {
    const name = path.basename(location);
    if (catalogued.test(name) && path.dirname(location) !== dir && isInside(location, home.dir))
      candidates.push([name, location]);
  }
  if (candidates.length === 0) return;
  const obsolete = readObsolete(ctx, dir);
  const own = readInstalled(ctx, path.join(dir, 'extensions.json'));
  // A list that cannot be read may hold anything: then every folder counts, as with no list at all.
  const installed =
    profiles.broken || (own === null && profiles.lists === 0) ? null : mergeInstalled(own, profiles.installed);
  const homeReal = ctx.fs.realpath(home.dir) ?? home.dir;
  for (const [name, extDir] of candidates) {
    // Each candidate's manifest is a read: a home may hold thousands of catalogued-looking folders.
    if (ctx.expired(extDir)) return;
    const folder = parseExtensionFolderName(name);
    if (!folder) continue;
    const tool = ctx.catalog.bySignature('vscodeExtensions', folder.id);
    if (!tool) continue;
    const lower = name.toLowerCase();
    if (obsolete.has(lower)) continue;
    if (installed && !installed.folders.has(lower) && !installed.ids.has(`${folder.id}@${folder.version}`)) continue;
    const real = ctx.fs.shownRealpath(extDir);
    if (!real || !ctx.fs.isDirectory(real)) continue;
    if (path.dirname(extDir) !== dir && !isInside(real, homeReal)) {
      ctx.skip(extDir, "a profile's extension outside the user's home; not read");
      continue;
    }
    const manifestPath = child(extDir, 'package.json');
    // The same kind of value as npm's manifests: the memo keeps one parse per file for both.
    const manifest = ctx.fs.readDerived('npm-manifest', manifestPath, ctx.limits.maxManifestBytes, parsePackageJson);
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
      evidence: [manifest === undefined ? extDir : manifestPath],
      host,
    });
  }
}

interface Installed {
  folders: ReadonlySet<string>;
  ids: ReadonlySet<string>;
}

function mergeInstalled(a: Installed | null, b: Installed): Installed {
  return a === null ? b : { folders: new Set([...a.folders, ...b.folders]), ids: new Set([...a.ids, ...b.ids]) };
}

/** What the editor's named profiles list, and profile entries located outside the extensions folder. */
function readProfiles(
  ctx: ScanContext,
  home: Home,
  host: string,
): { installed: Installed; lists: number; broken: boolean; elsewhere: string[] } {
  const folders = new Set<string>();
  const ids = new Set<string>();
  const elsewhere = new Set<string>();
  let lists = 0;
  let broken = false;
  for (const root of profileRoots(ctx, home, host)) {
    for (const entry of ctx.fs.list(root) ?? []) {
      if (entry.isFile) continue;
      // Cut short, the lists not read may name any folder: every folder counts, as when broken.
      if (ctx.expired(root)) {
        broken = true;
        break;
      }
      const file = path.join(root, entry.name, 'extensions.json');
      const parsed = readInstalled(ctx, file, elsewhere);
      if (!parsed) {
        if (ctx.fs.lstat(file)) broken = true;
        continue;
      }
      lists++;
      for (const f of parsed.folders) folders.add(f);
      for (const id of parsed.ids) ids.add(id);
    }
  }
  return { installed: { folders, ids }, lists, broken, elsewhere: [...elsewhere] };
}

const folderPatterns = new WeakMap<object, RegExp>();

/** `^(?:anthropic\.claude-code|github\.copilot|...)-\d`, case-insensitive, per catalog. */
function cataloguedFolderPattern(ctx: ScanContext): RegExp {
  let pattern = folderPatterns.get(ctx.catalog);
  if (!pattern) {
    const ids = [...ctx.catalog.signatureValues('vscodeExtensions')].map(escapeRegExp);
    pattern = ids.length ? new RegExp(`^(?:${ids.join('|')})-\\d`, 'i') : /$^/;
    folderPatterns.set(ctx.catalog, pattern);
  }
  return pattern;
}

/**
 * The lower-cased folder names a `.obsolete` file marks as removed; an empty file marks none. A
 * pure function of the text, so the memo keeps it between scans (shared: never changed).
 */
function obsoleteOf(text: string): Parsed<ReadonlySet<string>> {
  return text.trim() === '' ? { ok: true, value: new Set() } : parseObsolete(text);
}

function readObsolete(ctx: ScanContext, dir: string): ReadonlySet<string> {
  const file = path.join(dir, '.obsolete');
  const parsed = ctx.fs.readDerived('vscode-obsolete', file, ctx.limits.maxManifestBytes, obsoleteOf);
  if (parsed === undefined) return new Set();
  if (parsed.ok) return parsed.value;
  ctx.skip(file, parsed.error);
  return new Set();
}

/** What one extensions.json lists, or null when there is none usable (older editors). */
function readInstalled(ctx: ScanContext, file: string, locations?: Set<string>): Installed | null {
  const parsed = ctx.fs.readDerived('vscode-installed', file, ctx.limits.maxDatabaseBytes, installedOf);
  if (parsed === undefined) return null;
  if (!parsed.ok) {
    ctx.skip(file, `${parsed.error}; every extension folder counted as installed`);
    return null;
  }
  if (locations) for (const location of parsed.value.locations) locations.add(location);
  return parsed.value;
}

/**
 * What an extensions.json lists, as the scan looks it up: a pure function of the text, so the
 * memo keeps it between scans (shared: never changed).
 */
function installedOf(text: string): Parsed<Installed & { locations: readonly string[] }> {
  const parsed = parseExtensionsJson(text);
  if (!parsed.ok) return parsed;
  const entries = parsed.value;
  return {
    ok: true,
    value: {
      folders: new Set(entries.map((e) => e.folder).filter((f): f is string => f !== null)),
      ids: new Set(entries.filter((e) => e.version !== null).map((e) => `${e.id}@${e.version}`)),
      locations: entries.flatMap((e) =>
        e.location && path.isAbsolute(e.location) ? [path.normalize(e.location)] : [],
      ),
    },
  };
}
