/**
 * npm-style global installs: system and per-user prefixes (`.npmrc` prefix=, ~/.npm-global),
 * Node version managers (nvm, fnm, asdf, mise, nvm-windows), Volta, pnpm, bun and yarn global
 * dirs, and Windows' %APPDATA%\npm (no lib/ level, .cmd/.ps1 shims beside node_modules).
 * Catalogued packages are reported by tool id; others whose dependencies include an AI SDK as
 * `unknown:npm:<package>`.
 */
import * as path from 'node:path';

import type { CatalogIndex } from '../../../policies/catalog/index.js';
import { identifyNpmPackage, type NpmIdentity, npmManifestNeedles } from '../../../policies/catalog/npm.js';
import type { ToolInstance } from '../../../policies/inventory.js';
import { mayNameNpmAiSdk, NPM_SDK_KEY, npmAiSdks } from '../ai-sdks.js';
import { entryFiles, scanFileContent } from '../content.js';
import type { ScanContext } from '../context.js';
import { child, type DirEntry, isInside } from '../fs.js';
import { versionFields } from '../instances.js';
import { findLaunchers, homeBinDirs } from '../launchers.js';
import { type NpmRoot, npmRoots, voltaHomes } from '../npm-roots.js';
import { isPackageName, parsePackageJson } from '../parse/package-json.js';
import { escapeRegExp } from '../parse/text.js';
import type { Home } from '../users.js';

export type { NpmRoot } from '../npm-roots.js';

export async function scanNpm(ctx: ScanContext): Promise<ToolInstance[]> {
  const out: ToolInstance[] = [];
  const seen = new Set<string>();
  for (const root of npmRoots(ctx)) {
    // Every root is a checkpoint, one that leads nowhere too (its realpath is work of its home's).
    if (ctx.expired(root.modules)) continue;
    const real = ctx.fs.realpath(root.modules);
    if (real === null || seen.has(real)) continue;
    seen.add(real);
    await scanModules(ctx, root, out);
    await ctx.breathe();
  }
  for (const home of ctx.npmPrefixes ? [] : ctx.homes) await scanVolta(ctx, home, out);
  return out;
}

/**
 * Reads every package folder of one node_modules (scoped ones too, and hidden leftovers), and
 * records the AI tools among them with their per-platform packages attached.
 */
export async function scanModules(ctx: ScanContext, root: NpmRoot, out: ToolInstance[]): Promise<void> {
  const entries = ctx.fs.list(root.modules);
  if (!entries) return;
  const found: ToolInstance[] = [];
  const folders = packageFolders(root.modules, entries, null);
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (entry.isFile || !mayHoldPackage(entry.name)) continue;
    const folder = folders[i]!;
    if (entry.name.startsWith('@')) {
      const subs = ctx.fs.list(folder.dir) ?? [];
      const scoped = packageFolders(folder.dir, subs, entry.name);
      for (let j = 0; j < subs.length; j++) {
        const sub = subs[j]!;
        if (sub.isFile || !mayHoldPackage(sub.name)) continue;
        // A scope folder may hold thousands of packages: each is a checkpoint of its own.
        if (ctx.expired(root.modules)) break;
        const { name, dir, manifest } = scoped[j]!;
        readPackage(ctx, root, name, dir, found, 'npm', manifest);
      }
    } else {
      readPackage(ctx, root, folder.name, folder.dir, found, 'npm', folder.manifest);
    }
    if (ctx.expired(root.modules)) break;
    await ctx.breathe();
  }
  const instances = attachPlatformParts(found);
  // pnpm links the package in from elsewhere (.pnpm/<name>@<ver>/node_modules, store/v11/links).
  // (The folder's real path is asked only when there is an instance: most cache folders have none.)
  const modulesReal = instances.length ? ctx.fs.realpath(root.modules) : null;
  for (const instance of instances)
    if (holdingModules(instance.installPath) !== modulesReal) addLinkedParts(ctx, instance, root.home);
  out.push(...instances);
}

/** A listed folder of a node_modules (or of a scope in one) as readPackage is given it. */
interface PackageFolder {
  /** `name` or `@scope/name`. */
  name: string;
  dir: string;
  manifest: string;
}

/**
 * Per listing (the array a memo hands every scan while the folder keeps its stamp): its entries'
 * PackageFolders, index for index, made once. The same strings every scan, so the memo's lookups
 * by path hash them once and no path is built again per package per scan.
 */
const foldersOf = new WeakMap<readonly DirEntry[], { base: string; folders: readonly PackageFolder[] }>();

function packageFolders(base: string, entries: readonly DirEntry[], scope: string | null): readonly PackageFolder[] {
  const known = foldersOf.get(entries);
  if (known !== undefined && known.base === base) return known.folders;
  const folders = entries.map((e) => {
    const dir = child(base, e.name);
    return { name: scope === null ? e.name : `${scope}/${e.name}`, dir, manifest: child(dir, 'package.json') };
  });
  foldersOf.set(entries, { base, folders });
  return folders;
}

/** The node_modules folder a package folder sits in (its scope folder's parent for `@scope/name`). */
function holdingModules(packageDir: string): string {
  const parent = path.dirname(packageDir);
  return path.basename(parent).startsWith('@') ? path.dirname(parent) : parent;
}

/**
 * A per-platform package that pnpm links beside the tool's real folder (in the store or in
 * `.pnpm/<name>@<ver>/node_modules`) is a part of the instance.
 */
function addLinkedParts(ctx: ScanContext, instance: ToolInstance, home: Home | null): void {
  const modules = holdingModules(instance.installPath);
  if (path.basename(modules) !== 'node_modules') return;
  const found: ToolInstance[] = [];
  const root: NpmRoot = { modules, binDirs: [], home };
  for (const entry of ctx.fs.list(modules) ?? []) {
    if (entry.name.startsWith('@')) {
      for (const sub of ctx.fs.list(child(modules, entry.name)) ?? [])
        if (sub.isDirectory || sub.isSymbolicLink)
          readPackage(ctx, root, `${entry.name}/${sub.name}`, child(child(modules, entry.name), sub.name), found);
    } else if ((entry.isDirectory || entry.isSymbolicLink) && !entry.name.startsWith('.')) {
      readPackage(ctx, root, entry.name, child(modules, entry.name), found);
    }
  }
  // Only per-platform packages: another copy of the tool beside it is an instance of its own.
  const parts = found
    .filter((i) => platformParts.has(i) && i.toolId === instance.toolId && i.installPath !== instance.installPath)
    .map((i) => i.installPath);
  if (parts.length) instance.parts = [...new Set([...(instance.parts ?? []), ...parts])].sort();
}

/**
 * Folder names that may hold a package: names npm accepts, and hidden folders such as npm's
 * `.claude-code-XXXXXXXX` left behind by a failed update (anthropics/claude-code#12026), which
 * stay runnable. npm's and pnpm's own bookkeeping (`.bin`, `.pnpm`, `.package-lock.json`, ...)
 * is not.
 */
function mayHoldPackage(name: string): boolean {
  if (!name.startsWith('.')) return true;
  return !NPM_BOOKKEEPING.has(name) && /^\.[a-z0-9@][a-z0-9._~-]*$/i.test(name);
}

const NPM_BOOKKEEPING = new Set([
  '.bin',
  '.pnpm',
  '.cache',
  '.staging',
  '.modules.yaml',
  '.package-lock.json',
  '.yarn-integrity',
  '.yarn-state.yml',
  '.ignored',
  '.vite',
  '.store',
]);

/** Instances that are a per-platform package (reported as part of their tool's instance). */
const platformParts = new WeakSet<ToolInstance>();

/**
 * A per-platform package beside its tool in the same node_modules (hoisted by yarn or bun, or
 * installed at top level as npm's "Missing optional dependency" workaround) becomes a part of that
 * tool's instance. One with no tool beside it is still the tool's code, so it stays an instance of
 * the tool, at the tool's version.
 */
export function attachPlatformParts(found: readonly ToolInstance[]): ToolInstance[] {
  const tools = found.filter((i) => !platformParts.has(i));
  const out = [...tools];
  for (const part of found) {
    if (!platformParts.has(part)) continue;
    const owners = tools.filter((t) => t.toolId === part.toolId && t.owner === part.owner);
    const owner = owners.find((t) => t.version === part.version) ?? owners[0];
    if (owner) {
      owner.parts = [...new Set([...(owner.parts ?? []), part.installPath])].sort();
      owner.evidence = [...new Set([...owner.evidence, ...part.evidence])];
      owner.launchers = [...new Set([...owner.launchers, ...part.launchers])].sort();
    } else {
      out.push(part);
    }
  }
  return out;
}

/**
 * Reads one package folder and, if it is (part of) an AI tool, records it. The folder's name
 * counts only when it is a package name; a hidden or renamed folder is known by its manifest
 * (name, platform family, or bin names with repository/homepage). `manifestPath`: the folder's
 * package.json (callers that keep that string pass it).
 */
export function readPackage(
  ctx: ScanContext,
  root: NpmRoot,
  folderName: string,
  dir: string,
  out: ToolInstance[],
  channel: 'npm' | 'legacy-local' = 'npm',
  manifestPath = child(dir, 'package.json'),
): void {
  // A folder linked to where the user cannot look (as root): one word, nothing read there.
  const refused = ctx.fs.linkRefusal(dir);
  if (refused !== null) {
    ctx.skip(dir, refused);
    return;
  }
  const named = isPackageName(folderName) ? folderName : null;
  const byFolder = named
    ? identifyNpmPackage(ctx.catalog, { folderName: named, name: null, version: null, bins: NO_NAMES, urls: NO_NAMES })
    : null;
  // Neither catalogued nor naming an AI SDK or a catalogued bin name (whose file could be the
  // tool's code under another package name): nothing to learn from parsing it (null).
  const look = byFolder
    ? ctx.fs.readDerived('npm-manifest', manifestPath, ctx.limits.maxManifestBytes, parsePackageJson)
    : ctx.fs.readDerived('npm-manifest-if-named', manifestPath, ctx.limits.maxManifestBytes, parseIfNamed(ctx));
  if (look === undefined) {
    // A catalogued folder whose manifest cannot be read is still reported, without a version.
    if (byFolder?.role === 'tool' && ctx.fs.isDirectory(dir)) {
      const real = ctx.fs.shownRealpath(dir);
      if (real)
        reportBare({ ctx, root, folderName, manifestPath, channel, out }, byFolder.tool.id, real, {
          version: null,
          versionError: 'package.json is missing or unreadable',
        });
    } else if (ctx.fs.isBrokenLink(dir)) {
      ctx.skip(dir, 'broken symlink');
    } else if (ctx.fs.isDirectory(dir)) {
      // No manifest (deleted to hide the copy): its top-level scripts say what it is.
      const found = byEntryContent(ctx, dir, null);
      const real = found && ctx.fs.shownRealpath(dir);
      if (found && real)
        reportBare(
          { ctx, root, folderName, manifestPath, channel, out },
          found.match.tool.id,
          real,
          found.match.version === null
            ? { version: null, versionError: 'package.json is missing; known by content' }
            : { version: found.match.version },
          { evidence: [found.why] },
        );
    }
    return;
  }
  if (look === null) return;
  const parsed = look;
  if (!parsed.ok) {
    if (byFolder?.role === 'tool') {
      const real = ctx.fs.shownRealpath(dir);
      if (real)
        reportBare({ ctx, root, folderName, manifestPath, channel, out }, byFolder.tool.id, real, {
          version: null,
          versionError: `package.json: ${parsed.error}`,
        });
    } else {
      ctx.skip(manifestPath, parsed.error);
    }
    return;
  }
  const manifest = parsed.value;
  const claimed = identifyNpmPackage(ctx.catalog, {
    folderName: named,
    name: manifest.name,
    version: manifest.version.version,
    bins: Object.keys(manifest.bin),
    urls: manifest.urls,
  });
  // The code decides over the manifest: a bin file that is another tool's code makes the folder
  // that tool's (a Claude Code copy whose package.json says @openai/codex is Claude Code).
  const found = byEntryContent(ctx, dir, Object.values(manifest.bin));
  const overridden = found !== null && found.match.tool.id !== claimed?.tool.id;
  const identity: NpmIdentity | null =
    found && overridden
      ? {
          tool: found.match.tool,
          role: 'tool',
          version: found.match.version,
          why: `${found.why}; ${claimed ? `the manifest says ${claimed.tool.id}` : `package named ${manifest.name ?? 'nothing'}`} (evidence: content, manifest mismatch)`,
        }
      : claimed;
  const tool = identity?.tool;
  let toolId: string;
  let evidence: string[] = [];
  if (tool) {
    toolId = tool.id;
    // Say why when the folder's own name is not the tool's package (alias, hidden, renamed, platform).
    if (identity.role === 'platform' || named === null || ctx.catalog.bySignature('npm', named)?.id !== tool.id)
      evidence = [identity.why];
  } else {
    const sdks = npmAiSdks(Object.keys(manifest.dependencies));
    if (sdks.length === 0) return;
    toolId = `unknown:npm:${folderName}`;
    evidence = sdks.map((sdk) => `depends on ${sdk} ${manifest.dependencies[sdk] ?? ''}`.trim());
  }
  const real = ctx.fs.realpath(dir);
  if (!real) return;
  const bins = new Set(Object.keys(manifest.bin));
  if (tool && identity.role === 'tool')
    for (const name of [...(tool.detect.binaries ?? []), ...(tool.detect.ambiguousBinaries ?? [])]) bins.add(name);
  const version = identity
    ? overridden && identity.version === null
      ? { version: null, versionError: 'known by content; the manifest version is not its own' }
      : versionFields(identity.version === null ? manifest.version : { version: identity.version })
    : versionFields(manifest.version);
  const instance = instanceFor(
    ctx,
    root,
    toolId,
    named ?? manifest.name ?? folderName,
    real,
    manifestPath,
    version,
    { bins, evidence },
    channel,
  );
  if (!tool) instance.name = folderName;
  if (identity?.role === 'platform') platformParts.add(instance);
  out.push(instance);
}

const NO_NAMES: readonly string[] = [];

/** What readPackage reports a tool instance known without a usable manifest with. */
interface BareReport {
  ctx: ScanContext;
  root: NpmRoot;
  folderName: string;
  manifestPath: string;
  channel: 'npm' | 'legacy-local';
  out: ToolInstance[];
}

/**
 * Reports a tool instance known without a usable manifest (no bins from it; `version` says why
 * none), at `real`: the folder's real path as the home may show it (shownRealpath), since nothing
 * read in it vouches for where it lies.
 */
function reportBare(
  { ctx, root, folderName, manifestPath, channel, out }: BareReport,
  toolId: string,
  real: string,
  version: Parameters<typeof instanceFor>[6],
  extra: Parameters<typeof instanceFor>[7] = {},
): void {
  out.push(instanceFor(ctx, root, toolId, folderName, real, manifestPath, version, extra, channel));
}

const manifestParsers = new WeakMap<object, (text: string) => ReturnType<typeof parsePackageJson> | null>();

/**
 * For a folder not catalogued by name: the parse of a manifest that names an AI SDK or a
 * catalogued bin name, else null. One function per catalog (the memo keeps what it makes).
 */
function parseIfNamed(ctx: ScanContext): (text: string) => ReturnType<typeof parsePackageJson> | null {
  let parse = manifestParsers.get(ctx.catalog);
  if (parse === undefined) {
    const { catalog } = ctx;
    parse = (text) => (worthParsing(catalog, text) || namesToolBin(catalog, text) ? parsePackageJson(text) : null);
    manifestParsers.set(catalog, parse);
  }
  return parse;
}

/**
 * Whether the manifest text holds a catalogued (unambiguous) bin name as a JSON string, e.g.
 * `"claude"`: a copy whose name and homepage were edited but whose bin was kept.
 */
function namesToolBin(catalog: CatalogIndex, text: string): boolean {
  let re = binPatterns.get(catalog);
  if (re === undefined) {
    const names = [...catalog.signatureValues('binaries')].map(escapeRegExp);
    binPatterns.set(catalog, (re = names.length ? new RegExp(`"(?:${names.join('|')})"`, 'i') : null));
  }
  return re !== null && re.test(text);
}

const binPatterns = new WeakMap<object, RegExp | null>();

/** The first of a package's entry files whose content is a catalogued tool, with why. */
function byEntryContent(
  ctx: ScanContext,
  dir: string,
  binTargets: readonly string[] | null,
): { match: NonNullable<ReturnType<typeof scanFileContent>>; why: string } | null {
  for (const file of entryFiles(ctx, dir, binTargets)) {
    // Each entry file is up to two 4 MiB windows read and searched: a checkpoint of its own.
    if (ctx.expired(dir)) return null;
    const match = scanFileContent(ctx, file);
    if (match) return { match, why: `${file}: ${match.why}` };
  }
  return null;
}

/**
 * A quick look for anything parsing could show: an AI SDK among the keys (mayNameNpmAiSdk), or
 * anything `identifyNpmPackage` could match (a catalogued name, a platform family, a repository,
 * looked for lower-cased), so unrelated manifests are not parsed. The latter catches aliased
 * installs (`npm i -g foo@npm:@openai/codex`) and copies whose `name` was edited.
 *
 * One case-insensitive pass finds both (the SDK keys in any case: more, never fewer). Lower-casing
 * turns only two non-ASCII characters into ASCII letters (U+0130 into `i̇`, the Kelvin sign U+212A
 * into `k`); where one occurs, the exact checks run instead.
 */
function worthParsing(catalog: CatalogIndex, text: string): boolean {
  let quick = quickLooks.get(catalog);
  if (!quick) quickLooks.set(catalog, (quick = quickLook(npmManifestNeedles(catalog))));
  if (quick.pattern !== null) {
    const match = quick.pattern.exec(text);
    if (match === null) return false;
    if (match[0] !== '\u0130' && match[0] !== '\u212a') return true;
  }
  if (mayNameNpmAiSdk(text)) return true;
  const lower = text.toLowerCase();
  return quick.needles.some((n) => lower.includes(n));
}

/**
 * The catalog's needles and the one pattern for worthParsing: of the lower-case needles (one with
 * a capital is never in lower-cased text); null if a needle is not ASCII.
 */
function quickLook(needles: readonly string[]): { needles: readonly string[]; pattern: RegExp | null } {
  if (needles.some((n) => !/^[\x00-\x7f]*$/.test(n))) return { needles, pattern: null };
  const lower = needles.filter((n) => n === n.toLowerCase()).map(escapeRegExp);
  const alternatives = [...lower, '[\\u0130\\u212a]', NPM_SDK_KEY.source];
  return { needles, pattern: new RegExp(alternatives.join('|'), 'i') };
}

const quickLooks = new WeakMap<object, { needles: readonly string[]; pattern: RegExp | null }>();

function instanceFor(
  ctx: ScanContext,
  root: NpmRoot,
  toolId: string,
  packageName: string,
  installReal: string,
  manifestPath: string,
  version: Pick<ToolInstance, 'version' | 'versionError'>,
  extra: { bins?: Set<string>; evidence?: string[] },
  channel: 'npm' | 'legacy-local',
): ToolInstance {
  const tool = ctx.catalog.tool(toolId);
  // A manifest with no bins (a per-platform package) is looked for under the tool's command
  // names: a launcher may lead straight to its native binary (bun's ~/.bun/bin/claude).
  const names = extra.bins?.size
    ? extra.bins
    : new Set([...(tool?.detect.binaries ?? []), ...(tool?.detect.ambiguousBinaries ?? [])]);
  const own = [...root.binDirs, ...(root.home ? homeBinDirs(root.home) : [])];
  const launchers = findLaunchers(ctx, {
    dirs: [...own, ...ctx.pathDirs],
    names,
    installReal,
    packageName,
    // A user's install: a system folder's script that names the package (an admin's wrapper of
    // the system-wide copy) is not its launcher; only a link into the install is.
    ...(root.home ? { shimDirs: own } : {}),
    ...(root.byNameDirs ? { byNameDirs: root.byNameDirs } : {}),
  });
  // An install whose real path lies outside the home (a user's link to a system install) is its
  // owner's, not the user's: a rule for that user must not quarantine what everyone uses.
  const homeReal = root.home ? (ctx.fs.realpath(root.home.dir) ?? root.home.dir) : null;
  const inHome = homeReal !== null && (isInside(installReal, homeReal) || isInside(installReal, root.home!.dir));
  return {
    toolId,
    ...version,
    channel,
    installPath: installReal,
    launchers,
    owner: inHome ? root.home!.user : ctx.users.ownerOf(ctx.fs.stat(installReal)),
    evidence: [manifestPath, ...(extra.evidence ?? [])],
  };
}

/**
 * Volta keeps each global package in its own image (tools/image/packages/<pkg>/lib/node_modules/
 * <pkg>) and launches it through name-dispatching shims in ~/.volta/bin.
 */
async function scanVolta(ctx: ScanContext, home: Home, out: ToolInstance[]): Promise<void> {
  // A checkpoint at the start of this home's work, so it is not counted for the home before.
  if (ctx.expired(home.dir)) return;
  for (const voltaHome of voltaHomes(ctx, home)) await scanVoltaHome(ctx, home, voltaHome, out);
}

async function scanVoltaHome(ctx: ScanContext, home: Home, voltaHome: string, out: ToolInstance[]): Promise<void> {
  const packagesDir = path.join(voltaHome, 'tools', 'image', 'packages');
  const entries = ctx.fs.list(packagesDir);
  if (!entries) return;
  const images: [string, string][] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.') || entry.isFile) continue;
    if (entry.name.startsWith('@')) {
      for (const sub of ctx.fs.list(path.join(packagesDir, entry.name)) ?? [])
        images.push([`${entry.name}/${sub.name}`, path.join(packagesDir, entry.name, sub.name)]);
    } else images.push([entry.name, path.join(packagesDir, entry.name)]);
  }
  for (const [name, image] of images) {
    const nameParts = name.split('/');
    const candidates = [
      path.join(image, 'lib', 'node_modules', ...nameParts),
      path.join(image, 'node_modules', ...nameParts),
    ];
    const dir = candidates.find((c) => ctx.fs.isDirectory(c));
    if (!dir) continue;
    const root: NpmRoot = { modules: path.dirname(dir), binDirs: [], byNameDirs: [path.join(voltaHome, 'bin')], home };
    readPackage(ctx, root, name, dir, out);
    await ctx.breathe();
  }
}
