/**
 * Where npm-style global packages live on this machine: every global node_modules folder of every
 * install method, per user, with the variables that move them (read from the user's own
 * environment, see user-env.ts). What a package folder *is* is decided in scanners/npm.ts.
 *
 * Layouts (sources):
 * - npm: `<prefix>/lib/node_modules` + `<prefix>/bin` (Unix), `<prefix>\node_modules` + shims beside
 *   it (Windows); prefix from `~/.npmrc`/`/etc/npmrc` `prefix=`, NPM_CONFIG_PREFIX (docs.npmjs.com
 *   "folders", "config").
 * - nvm: `$NVM_DIR/versions/node/<v>`; the installer sets NVM_DIR to `$XDG_CONFIG_HOME/nvm` when
 *   XDG_CONFIG_HOME is set, else `~/.nvm` (nvm-sh/nvm README, install.sh `nvm_install_dir`).
 * - fnm: `$FNM_DIR/node-versions/<v>/installation`, default `$XDG_DATA_HOME/fnm` (fnm README).
 * - asdf: `$ASDF_DATA_DIR/installs/nodejs/<v>` (+ `.npm` for globals), shims in `$ASDF_DATA_DIR/shims`
 *   (asdf docs "Configuration": ASDF_DATA_DIR, default ~/.asdf).
 * - mise: `$MISE_DATA_DIR/installs/node/<v>`; its npm backend installs each package with
 *   `npm install -g --prefix <installs>/npm-<name>/<v>` (or, with `npm.bun`, bun with
 *   BUN_INSTALL_GLOBAL_DIR=<that folder>), shims in `$MISE_DATA_DIR/shims` dispatch by name
 *   (jdx/mise src/backend/npm.rs; docs/dev-tools/backends/npm.md; MISE_DATA_DIR default
 *   `$XDG_DATA_HOME/mise`, docs/configuration.md).
 * - Volta: Node images `$VOLTA_HOME/tools/image/node/<v>` (packages: see scanVolta).
 * - pnpm: `$PNPM_HOME/global/<n>/node_modules`, default `$XDG_DATA_HOME/pnpm` / `~/Library/pnpm` /
 *   `%LOCALAPPDATA%\pnpm`; PNPM_HOME is usually exported from the shell profile (pnpm/pnpm#4658).
 * - bun: `$BUN_INSTALL/install/global/node_modules`, or BUN_INSTALL_GLOBAL_DIR, bins in
 *   `$BUN_INSTALL/bin` or BUN_INSTALL_BIN (bun docs "bun install -g", "Global cache").
 * - yarn 1: `<data dir>/global/node_modules` where the data dir is `$XDG_DATA_HOME/yarn`, else
 *   `$XDG_CONFIG_HOME/yarn` / `~/.config/yarn` (yarn src/util/user-dirs.js), or `.yarnrc`
 *   `global-folder`; bins in `<prefix>/bin` (`.yarnrc` `prefix`, default `~/.yarn/bin`).
 * - corepack (COREPACK_HOME) holds only package managers; the globals those install are found
 *   through the roots above.
 */
import * as path from 'node:path';

import type { ScanContext } from './context.js';
import { parseNpmrcPrefix, parseYarnrc } from './parse/system.js';
import type { Home } from './users.js';

export interface NpmRoot {
  /** The node_modules folder holding global packages. */
  modules: string;
  /** Where this install method puts launchers (checked by real path or shim text). */
  binDirs: readonly string[];
  /** Launcher dirs whose files dispatch by name (Volta, asdf and mise shims). */
  byNameDirs?: string[];
  home: Home | null;
}

/** The user's XDG data folders: $XDG_DATA_HOME values, then ~/.local/share. */
export function xdgDataDirs(ctx: ScanContext, home: Home): string[] {
  return ctx.envDirs(home, 'XDG_DATA_HOME', [path.join(home.dir, '.local', 'share')]);
}

/** The user's XDG config folders: $XDG_CONFIG_HOME values, then ~/.config. */
export function xdgConfigDirs(ctx: ScanContext, home: Home): string[] {
  return ctx.envDirs(home, 'XDG_CONFIG_HOME', [path.join(home.dir, '.config')]);
}

/** mise's data folders ($MISE_DATA_DIR, $XDG_DATA_HOME/mise, ~/.local/share/mise). */
function miseDataDirs(ctx: ScanContext, home: Home): string[] {
  const defaults = xdgDataDirs(ctx, home).map((d) => path.join(d, 'mise'));
  if (ctx.platform === 'windows') defaults.push(path.join(home.dir, 'AppData', 'Local', 'mise'));
  return ctx.envDirs(home, 'MISE_DATA_DIR', defaults);
}

/** Volta's homes ($VOLTA_HOME, then ~/.volta or %LOCALAPPDATA%\Volta). */
export function voltaHomes(ctx: ScanContext, home: Home): string[] {
  return ctx.envDirs(home, 'VOLTA_HOME', [
    ctx.platform === 'windows' ? path.join(home.dir, 'AppData', 'Local', 'Volta') : path.join(home.dir, '.volta'),
  ]);
}

/** pnpm's homes ($PNPM_HOME, then the platform default under the XDG data folders). */
export function pnpmHomes(ctx: ScanContext, home: Home): string[] {
  const h = (...parts: string[]) => path.join(home.dir, ...parts);
  const defaults =
    ctx.platform === 'windows'
      ? [h('AppData', 'Local', 'pnpm')]
      : ctx.platform === 'darwin'
        ? [h('Library', 'pnpm')]
        : xdgDataDirs(ctx, home).map((d) => path.join(d, 'pnpm'));
  return ctx.envDirs(home, 'PNPM_HOME', defaults);
}

/**
 * One installed version's subfolders of a version manager (`<dir>/<version>`), hidden ones
 * skipped; symlinked versions (aliases) are kept, the real path dedupes them later. At most
 * MAX_VERSION_DIRS (the rest recorded as skipped).
 */
export function versionDirs(ctx: ScanContext, dir: string, filter: (name: string) => boolean = () => true): string[] {
  const out: string[] = [];
  for (const entry of ctx.fs.list(dir) ?? []) {
    if (entry.name.startsWith('.') || !(entry.isDirectory || entry.isSymbolicLink) || !filter(entry.name)) continue;
    if (out.length === MAX_VERSION_DIRS) {
      ctx.skip(dir, `more than ${MAX_VERSION_DIRS} version folders; the rest not read`);
      break;
    }
    out.push(path.join(dir, entry.name));
  }
  return out;
}

/**
 * The most version folders read in one version manager's folder, and mise backend installs in
 * one home: each is a root, and a home could otherwise make thousands (links to one folder).
 */
const MAX_VERSION_DIRS = 256;

/** The mise npm-backend install folders: `<data>/installs/npm-<name>/<version>`. */
export function miseBackendInstalls(
  ctx: ScanContext,
  home: Home,
  backend: 'npm' | 'pipx',
): { install: string; shims: string }[] {
  const out: { install: string; shims: string }[] = [];
  for (const data of miseDataDirs(ctx, home)) {
    const shims = path.join(data, 'shims');
    for (const tool of versionDirs(ctx, path.join(data, 'installs'), (name) => name.startsWith(`${backend}-`))) {
      for (const version of versionDirs(ctx, tool)) {
        if (out.length === MAX_VERSION_DIRS) {
          ctx.skip(path.join(data, 'installs'), `more than ${MAX_VERSION_DIRS} ${backend} installs; the rest not read`);
          return out;
        }
        out.push({ install: version, shims });
      }
    }
  }
  return out;
}

/** The global node_modules folders to read, most specific first. */
export function npmRoots(ctx: ScanContext): NpmRoot[] {
  const roots: NpmRoot[] = [];
  const win = ctx.platform === 'windows';
  const prefix = (
    dir: string,
    home: Home | null,
    layout: 'unix' | 'windows' | 'auto' = win ? 'windows' : 'unix',
    byNameDirs?: string[],
  ) => {
    const useWindows =
      layout === 'windows' ||
      (layout === 'auto' &&
        !ctx.fs.isDirectory(path.join(dir, 'lib', 'node_modules')) &&
        ctx.fs.isDirectory(path.join(dir, 'node_modules')));
    const root: NpmRoot = useWindows
      ? { modules: path.join(dir, 'node_modules'), binDirs: [dir], home }
      : { modules: path.join(dir, 'lib', 'node_modules'), binDirs: [path.join(dir, 'bin')], home };
    if (byNameDirs) root.byNameDirs = byNameDirs;
    roots.push(root);
  };

  if (ctx.npmPrefixes) {
    for (const dir of ctx.npmPrefixes) prefix(dir, homeContaining(ctx, dir), 'auto');
    return roots;
  }

  for (const home of ctx.homes) {
    const h = (...parts: string[]) => path.join(home.dir, ...parts);
    // The user's own `.npmrc` is theirs to write: its prefix counts only inside the home.
    const fromRc =
      ctx.fs.readDerived('npmrc-prefix', h('.npmrc'), ctx.limits.maxManifestBytes, (text) =>
        parseNpmrcPrefix(text, home.dir),
      ) ?? null;
    const configured = [
      fromRc !== null ? ctx.userChosen(home, fromRc, '.npmrc prefix') : null,
      ...ctx.envValues(home, 'NPM_CONFIG_PREFIX'),
      ...ctx.envValues(home, 'npm_config_prefix'),
    ];
    for (const dir of configured) if (dir && path.isAbsolute(dir)) prefix(dir, home);
    prefix(h('.npm-global'), home);
    // A `bin` folder on the user's own PATH is an npm prefix's if `../lib/node_modules` is there
    // (`npm i -g --prefix ~/.x`): its packages are found whatever their launchers are named.
    if (!win)
      for (const dir of ctx.envValues(home, 'PATH')) if (path.basename(dir) === 'bin') prefix(path.dirname(dir), home);
    if (win) {
      prefix(h('AppData', 'Roaming', 'npm'), home, 'windows');
      for (const v of versionDirs(ctx, h('AppData', 'Roaming', 'nvm'))) prefix(v, home, 'windows');
      for (const fnm of ctx.envDirs(home, 'FNM_DIR', [h('AppData', 'Roaming', 'fnm')]))
        for (const v of versionDirs(ctx, path.join(fnm, 'node-versions')))
          prefix(path.join(v, 'installation'), home, 'windows');
      for (const pnpmHome of pnpmHomes(ctx, home)) pnpm(pnpmHome, home);
      roots.push({
        modules: h('AppData', 'Local', 'Yarn', 'Data', 'global', 'node_modules'),
        binDirs: [h('AppData', 'Local', 'Yarn', 'bin')],
        home,
      });
    } else {
      const nvmDirs = ctx.envDirs(home, 'NVM_DIR', [
        h('.nvm'),
        ...xdgConfigDirs(ctx, home).map((d) => path.join(d, 'nvm')),
      ]);
      for (const nvm of nvmDirs) for (const v of versionDirs(ctx, path.join(nvm, 'versions', 'node'))) prefix(v, home);
      const fnmDirs = ctx.envDirs(home, 'FNM_DIR', [
        ...xdgDataDirs(ctx, home).map((d) => path.join(d, 'fnm')),
        h('.fnm'),
        h('Library', 'Application Support', 'fnm'),
      ]);
      for (const fnm of fnmDirs)
        for (const v of versionDirs(ctx, path.join(fnm, 'node-versions'))) prefix(path.join(v, 'installation'), home);
      for (const asdf of ctx.envDirs(home, 'ASDF_DATA_DIR', [h('.asdf')])) {
        const shims = [path.join(asdf, 'shims')];
        for (const v of versionDirs(ctx, path.join(asdf, 'installs', 'nodejs'))) {
          roots.push({
            modules: path.join(v, '.npm', 'lib', 'node_modules'),
            binDirs: [path.join(v, '.npm', 'bin')],
            byNameDirs: shims,
            home,
          });
          roots.push({
            modules: path.join(v, 'lib', 'node_modules'),
            binDirs: [path.join(v, 'bin')],
            byNameDirs: shims,
            home,
          });
        }
      }
      for (const mise of miseDataDirs(ctx, home))
        for (const v of versionDirs(ctx, path.join(mise, 'installs', 'node')))
          prefix(v, home, 'unix', [path.join(mise, 'shims')]);
      for (const volta of voltaHomes(ctx, home))
        for (const v of versionDirs(ctx, path.join(volta, 'tools', 'image', 'node')))
          prefix(v, home, 'unix', [path.join(volta, 'bin')]);
      for (const pnpmHome of pnpmHomes(ctx, home)) pnpm(pnpmHome, home);
      yarn(home);
    }
    // mise's npm backend: one npm prefix (or bun global dir) per package and version.
    for (const { install, shims } of miseBackendInstalls(ctx, home, 'npm')) {
      // npm: a Unix prefix (or, on Windows, node_modules + shims in the folder); bun
      // (`npm.bun`): node_modules right in the folder, bins in <folder>/bin.
      if (!win) prefix(install, home, 'unix', [shims]);
      roots.push({
        modules: path.join(install, 'node_modules'),
        binDirs: win ? [install, path.join(install, 'bin')] : [path.join(install, 'bin')],
        byNameDirs: [shims],
        home,
      });
    }
    const binOverrides = ctx.envValues(home, 'BUN_INSTALL_BIN');
    for (const bun of ctx.envDirs(home, 'BUN_INSTALL', [h('.bun')])) {
      const binDirs = [path.join(bun, 'bin'), ...binOverrides];
      roots.push({
        modules: path.join(bun, 'install', 'global', 'node_modules'),
        binDirs,
        ...(win ? { byNameDirs: binDirs } : {}),
        home,
      });
    }
    for (const global of ctx.envValues(home, 'BUN_INSTALL_GLOBAL_DIR')) {
      const binDirs = [...binOverrides, h('.bun', 'bin')];
      roots.push({
        modules: path.join(global, 'node_modules'),
        binDirs,
        ...(win ? { byNameDirs: binDirs } : {}),
        home,
      });
    }
  }

  if (ctx.systemRoots) {
    if (win) {
      prefix(ctx.sys('Program Files', 'nodejs'), null, 'windows');
    } else {
      const configured =
        ctx.fs.readDerived('npmrc-prefix-system', ctx.sys('etc', 'npmrc'), ctx.limits.maxManifestBytes, (text) =>
          parseNpmrcPrefix(text, ''),
        ) ?? null;
      if (configured && path.isAbsolute(configured)) prefix(ctx.sys(configured), null);
      for (const dir of [['usr', 'local'], ['usr'], ['opt', 'homebrew'], ['home', 'linuxbrew', '.linuxbrew']])
        prefix(ctx.sys(...dir), null);
      // The Node running the agent has its own global prefix (when scanning this machine).
      if (ctx.root === path.parse(ctx.root).root) prefix(path.dirname(path.dirname(process.execPath)), null);
    }
  }
  return roots;

  function pnpm(pnpmHome: string, home: Home) {
    const binDirs = [pnpmHome, path.join(pnpmHome, 'bin')];
    for (const entry of ctx.fs.list(path.join(pnpmHome, 'global')) ?? []) {
      if (entry.isDirectory)
        roots.push({ modules: path.join(pnpmHome, 'global', entry.name, 'node_modules'), binDirs, home });
    }
  }

  function yarn(home: Home) {
    const h = (...parts: string[]) => path.join(home.dir, ...parts);
    const config = ctx.fs.readDerived('yarnrc', h('.yarnrc'), ctx.limits.maxManifestBytes, (text) =>
      parseYarnrc(text, home.dir),
    ) ?? { globalFolder: null, prefix: null };
    const chosen = (dir: string | null, source: string) => {
      const real = dir ? ctx.userChosen(home, dir, source) : null;
      return real === null ? [] : [real];
    };
    const globals = ctx.envDirs(home, 'YARN_GLOBAL_FOLDER', [
      ...chosen(config.globalFolder, '.yarnrc global-folder'),
      ...ctx.envValues(home, 'XDG_DATA_HOME').map((d) => path.join(d, 'yarn', 'global')),
      ...xdgConfigDirs(ctx, home).map((d) => path.join(d, 'yarn', 'global')),
    ]);
    const prefixes = ctx.envDirs(home, 'YARN_PREFIX', [...chosen(config.prefix, '.yarnrc prefix'), h('.yarn')]);
    const binDirs = prefixes.map((p) => path.join(p, 'bin'));
    for (const global of globals) roots.push({ modules: path.join(global, 'node_modules'), binDirs, home });
  }
}

/** The scanned home holding `dir`, if any. */
function homeContaining(ctx: ScanContext, dir: string): Home | null {
  const real = ctx.fs.realpath(dir) ?? dir;
  for (const home of ctx.homes) {
    const homeReal = ctx.fs.realpath(home.dir) ?? home.dir;
    if (real === homeReal || real.startsWith(homeReal + path.sep)) return home;
  }
  return null;
}
