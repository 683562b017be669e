/**
 * npm-style global installs: system and per-user prefixes (`.npmrc` prefix=, ~/.npm-global),
 * Node version managers (nvm, fnm, asdf, mise, nvm-windows), Volta, pnpm, bun and yarn global
 * dirs, and Windows' %APPDATA%\npm (no lib/ level, .cmd/.ps1 shims beside node_modules).
 * Catalogued packages are reported by tool id; others whose dependencies include an AI SDK as
 * `unknown:npm:<package>`.
 */
import * as path from 'node:path';
import type { ToolInstance } from '../../../policies/inventory.js';
import { mayNameNpmAiSdk, npmAiSdks } from '../ai-sdks.js';
import type { ScanContext } from '../context.js';
import { child } from '../fs.js';
import { versionFields } from '../instances.js';
import { findLaunchers, homeBinDirs } from '../launchers.js';
import { isPackageName, parsePackageJson } from '../parse/package-json.js';
import { parseNpmrcPrefix } from '../parse/system.js';
import type { Home } from '../users.js';

export interface NpmRoot {
  /** The node_modules folder holding global packages. */
  modules: string;
  /** Where this install method puts launchers (checked by real path or shim text). */
  binDirs: string[];
  /** Launcher dirs whose files dispatch by name (Volta, asdf shims). */
  byNameDirs?: string[];
  home: Home | null;
}

export async function scanNpm(ctx: ScanContext): Promise<ToolInstance[]> {
  const out: ToolInstance[] = [];
  const seen = new Set<string>();
  for (const root of npmRoots(ctx)) {
    const real = ctx.fs.realpath(root.modules);
    if (real === null || seen.has(real)) continue;
    seen.add(real);
    if (ctx.expired(root.modules)) break;
    await scanModules(ctx, root, out);
    await ctx.breathe();
  }
  for (const home of ctx.npmPrefixes ? [] : ctx.homes) await scanVolta(ctx, home, out);
  return out;
}

/** The global node_modules folders to read, most specific first. */
export function npmRoots(ctx: ScanContext): NpmRoot[] {
  const roots: NpmRoot[] = [];
  const win = ctx.platform === 'windows';
  const prefix = (dir: string, home: Home | null, layout: 'unix' | 'windows' | 'auto' = win ? 'windows' : 'unix') => {
    const useWindows = layout === 'windows' || (layout === 'auto' && !ctx.fs.isDirectory(path.join(dir, 'lib', 'node_modules')) && ctx.fs.isDirectory(path.join(dir, 'node_modules')));
    roots.push(useWindows ? { modules: path.join(dir, 'node_modules'), binDirs: [dir], home } : { modules: path.join(dir, 'lib', 'node_modules'), binDirs: [path.join(dir, 'bin')], home });
  };
  const eachVersion = (dir: string, fn: (versionDir: string) => void) => {
    for (const entry of ctx.fs.list(dir) ?? []) if (!entry.name.startsWith('.') && (entry.isDirectory || entry.isSymbolicLink)) fn(path.join(dir, entry.name));
  };

  if (ctx.npmPrefixes) {
    for (const dir of ctx.npmPrefixes) prefix(dir, homeContaining(ctx, dir), 'auto');
    return roots;
  }

  for (const home of ctx.homes) {
    const h = (...parts: string[]) => path.join(home.dir, ...parts);
    const npmrc = ctx.fs.readText(h('.npmrc'), ctx.limits.maxManifestBytes);
    const configured = [npmrc === null ? null : parseNpmrcPrefix(npmrc, home.dir), ctx.envFor(home, 'NPM_CONFIG_PREFIX') ?? ctx.envFor(home, 'npm_config_prefix')];
    for (const dir of configured) if (dir && path.isAbsolute(dir)) prefix(dir, home);
    prefix(h('.npm-global'), home);
    if (win) {
      prefix(h('AppData', 'Roaming', 'npm'), home, 'windows');
      eachVersion(h('AppData', 'Roaming', 'nvm'), (v) => prefix(v, home, 'windows'));
      eachVersion(h('AppData', 'Roaming', 'fnm', 'node-versions'), (v) => prefix(path.join(v, 'installation'), home, 'windows'));
      pnpm(ctx.envFor(home, 'PNPM_HOME') ?? h('AppData', 'Local', 'pnpm'), home);
      roots.push({ modules: h('AppData', 'Local', 'Yarn', 'Data', 'global', 'node_modules'), binDirs: [h('AppData', 'Local', 'Yarn', 'bin')], home });
    } else {
      eachVersion(path.join(ctx.envFor(home, 'NVM_DIR') ?? h('.nvm'), 'versions', 'node'), (v) => prefix(v, home));
      const fnmDirs = [h('.local', 'share', 'fnm'), h('.fnm'), h('Library', 'Application Support', 'fnm')];
      const fnmEnv = ctx.envFor(home, 'FNM_DIR');
      if (fnmEnv) fnmDirs.unshift(fnmEnv);
      for (const fnm of fnmDirs) eachVersion(path.join(fnm, 'node-versions'), (v) => prefix(path.join(v, 'installation'), home));
      eachVersion(h('.asdf', 'installs', 'nodejs'), (v) => {
        roots.push({ modules: path.join(v, '.npm', 'lib', 'node_modules'), binDirs: [path.join(v, '.npm', 'bin')], byNameDirs: [h('.asdf', 'shims')], home });
        roots.push({ modules: path.join(v, 'lib', 'node_modules'), binDirs: [path.join(v, 'bin')], byNameDirs: [h('.asdf', 'shims')], home });
      });
      eachVersion(h('.local', 'share', 'mise', 'installs', 'node'), (v) => prefix(v, home));
      pnpm(ctx.envFor(home, 'PNPM_HOME') ?? (ctx.platform === 'darwin' ? h('Library', 'pnpm') : h('.local', 'share', 'pnpm')), home);
      roots.push({ modules: h('.config', 'yarn', 'global', 'node_modules'), binDirs: [h('.yarn', 'bin')], home });
    }
    const bun = ctx.envFor(home, 'BUN_INSTALL') ?? h('.bun');
    roots.push({ modules: path.join(bun, 'install', 'global', 'node_modules'), binDirs: [path.join(bun, 'bin')], ...(win ? { byNameDirs: [path.join(bun, 'bin')] } : {}), home });
  }

  if (ctx.systemRoots) {
    if (win) {
      prefix(ctx.sys('Program Files', 'nodejs'), null, 'windows');
    } else {
      const npmrc = ctx.fs.readText(ctx.sys('etc', 'npmrc'), ctx.limits.maxManifestBytes);
      const configured = npmrc === null ? null : parseNpmrcPrefix(npmrc, '');
      if (configured && path.isAbsolute(configured)) prefix(ctx.sys(configured), null);
      for (const dir of [['usr', 'local'], ['usr'], ['opt', 'homebrew'], ['home', 'linuxbrew', '.linuxbrew']]) prefix(ctx.sys(...dir), null);
      // The Node running the agent has its own global prefix (when scanning this machine).
      if (ctx.root === path.parse(ctx.root).root) prefix(path.dirname(path.dirname(process.execPath)), null);
    }
  }
  return roots;

  function pnpm(pnpmHome: string, home: Home) {
    const binDirs = [pnpmHome, path.join(pnpmHome, 'bin')];
    for (const entry of ctx.fs.list(path.join(pnpmHome, 'global')) ?? []) {
      if (entry.isDirectory) roots.push({ modules: path.join(pnpmHome, 'global', entry.name, 'node_modules'), binDirs, home });
    }
  }
}

function homeContaining(ctx: ScanContext, dir: string): Home | null {
  const real = ctx.fs.realpath(dir) ?? dir;
  for (const home of ctx.homes) {
    const homeReal = ctx.fs.realpath(home.dir) ?? home.dir;
    if (real === homeReal || real.startsWith(homeReal + path.sep)) return home;
  }
  return null;
}

async function scanModules(ctx: ScanContext, root: NpmRoot, out: ToolInstance[]): Promise<void> {
  const entries = ctx.fs.list(root.modules);
  if (!entries) return;
  for (const entry of entries) {
    if (entry.name.startsWith('.') || entry.isFile) continue;
    if (entry.name.startsWith('@')) {
      const scopeDir = child(root.modules, entry.name);
      for (const sub of ctx.fs.list(scopeDir) ?? []) {
        if (sub.name.startsWith('.') || sub.isFile) continue;
        readPackage(ctx, root, `${entry.name}/${sub.name}`, child(scopeDir, sub.name), out);
      }
    } else {
      readPackage(ctx, root, entry.name, child(root.modules, entry.name), out);
    }
    if (ctx.expired(root.modules)) return;
    await ctx.breathe();
  }
}

/** Reads one global package and, if it is an AI tool, records it. */
export function readPackage(ctx: ScanContext, root: NpmRoot, folderName: string, dir: string, out: ToolInstance[], channel: 'npm' | 'legacy-local' = 'npm'): void {
  if (!isPackageName(folderName)) return;
  const manifestPath = child(dir, 'package.json');
  const text = ctx.fs.readText(manifestPath, ctx.limits.maxManifestBytes);
  const byFolder = ctx.catalog.bySignature('npm', folderName);
  if (text === null) {
    // A catalogued folder whose manifest cannot be read is still reported, without a version.
    if (byFolder && ctx.fs.isDirectory(dir)) {
      const real = ctx.fs.realpath(dir);
      if (real) out.push(instanceFor(ctx, root, byFolder.id, folderName, real, manifestPath, { version: null, versionError: 'package.json is missing or unreadable' }, {}, channel));
    } else if (ctx.fs.isBrokenLink(dir)) {
      ctx.skip(dir, 'broken symlink');
    }
    return;
  }
  // Neither catalogued nor naming an AI SDK anywhere: nothing to learn from parsing it.
  if (!byFolder && !mayNameNpmAiSdk(text) && !mayBeCatalogued(ctx, text)) return;
  const parsed = parsePackageJson(text);
  if (!parsed.ok) {
    if (byFolder) {
      const real = ctx.fs.realpath(dir);
      if (real) out.push(instanceFor(ctx, root, byFolder.id, folderName, real, manifestPath, { version: null, versionError: `package.json: ${parsed.error}` }, {}, channel));
    } else {
      ctx.skip(manifestPath, parsed.error);
    }
    return;
  }
  const manifest = parsed.value;
  const tool = byFolder ?? (manifest.name ? ctx.catalog.bySignature('npm', manifest.name) : undefined);
  let toolId: string;
  let evidence: string[] = [];
  if (tool) {
    toolId = tool.id;
  } else {
    const sdks = npmAiSdks(Object.keys(manifest.dependencies));
    if (sdks.length === 0) return;
    toolId = `unknown:npm:${folderName}`;
    evidence = sdks.map((sdk) => `depends on ${sdk} ${manifest.dependencies[sdk] ?? ''}`.trim());
  }
  const real = ctx.fs.realpath(dir);
  if (!real) return;
  const bins = new Set(Object.keys(manifest.bin));
  if (tool) for (const name of [...(tool.detect.binaries ?? []), ...(tool.detect.ambiguousBinaries ?? [])]) bins.add(name);
  const instance = instanceFor(ctx, root, toolId, folderName, real, manifestPath, versionFields(manifest.version), { bins, evidence }, channel);
  if (!tool) instance.name = folderName;
  out.push(instance);
}

/**
 * An aliased install (`npm i -g foo@npm:@openai/codex`) sits in a folder named otherwise but
 * keeps the real name in its manifest; a quick look for a catalogued name catches it.
 */
function mayBeCatalogued(ctx: ScanContext, text: string): boolean {
  let pattern = catalogNamePatterns.get(ctx.catalog);
  if (!pattern) {
    const names = [...ctx.catalog.signatureValues('npm')].map((n) => n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
    pattern = names.length ? new RegExp(`"name"\\s*:\\s*"(?:${names.join('|')})"`, 'i') : /$^/;
    catalogNamePatterns.set(ctx.catalog, pattern);
  }
  return pattern.test(text);
}

const catalogNamePatterns = new WeakMap<object, RegExp>();

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
  const names = extra.bins ?? new Set([...(tool?.detect.binaries ?? []), ...(tool?.detect.ambiguousBinaries ?? [])]);
  const dirs = [...root.binDirs, ...(root.home ? homeBinDirs(root.home) : []), ...ctx.pathDirs];
  const launchers = findLaunchers(ctx, { dirs, names, installReal, packageName, ...(root.byNameDirs ? { byNameDirs: root.byNameDirs } : {}) });
  return {
    toolId,
    ...version,
    channel,
    installPath: installReal,
    launchers,
    owner: root.home ? root.home.user : ctx.users.ownerOf(ctx.fs.stat(installReal)),
    evidence: [manifestPath, ...(extra.evidence ?? [])],
  };
}

/**
 * Volta keeps each global package in its own image (tools/image/packages/<pkg>/lib/node_modules/
 * <pkg>) and launches it through name-dispatching shims in ~/.volta/bin.
 */
async function scanVolta(ctx: ScanContext, home: Home, out: ToolInstance[]): Promise<void> {
  const win = ctx.platform === 'windows';
  const voltaHome = ctx.envFor(home, 'VOLTA_HOME') ?? (win ? path.join(home.dir, 'AppData', 'Local', 'Volta') : path.join(home.dir, '.volta'));
  const packagesDir = path.join(voltaHome, 'tools', 'image', 'packages');
  const entries = ctx.fs.list(packagesDir);
  if (!entries) return;
  const images: [string, string][] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.') || entry.isFile) continue;
    if (entry.name.startsWith('@')) {
      for (const sub of ctx.fs.list(path.join(packagesDir, entry.name)) ?? []) images.push([`${entry.name}/${sub.name}`, path.join(packagesDir, entry.name, sub.name)]);
    } else images.push([entry.name, path.join(packagesDir, entry.name)]);
  }
  for (const [name, image] of images) {
    const nameParts = name.split('/');
    const candidates = [path.join(image, 'lib', 'node_modules', ...nameParts), path.join(image, 'node_modules', ...nameParts)];
    const dir = candidates.find((c) => ctx.fs.isDirectory(c));
    if (!dir) continue;
    const root: NpmRoot = { modules: path.dirname(dir), binDirs: [], byNameDirs: [path.join(voltaHome, 'bin')], home };
    readPackage(ctx, root, name, dir, out);
    await ctx.breathe();
  }
}
