/**
 * Finding the files that start an install: bin links, shims and wrappers in the prefix's bin dir,
 * the home's launcher dirs and PATH. A file counts when its real path lies inside the install, or
 * (for script shims, which cannot be symlinks on Windows) when its text names the package.
 */
import * as path from 'node:path';

import { isInside, type ScanContext } from './context.js';
import { child } from './fs.js';
import { MAX_PACKAGE_NAME, shimPackages, shimRunsPackage } from './parse/layouts.js';
import type { Home } from './users.js';

const WINDOWS_SUFFIXES = ['', '.exe', '.cmd', '.bat', '.ps1', '.bunx'];
const SHIM_HEAD_BYTES = 16 * 1024;

/** A directory's file names (lower-cased keys on Windows, which ignores case), kept for the scan. */
function dirNames(ctx: ScanContext, dir: string): ReadonlyMap<string, string> | null {
  return ctx.fs.names(dir, ctx.platform === 'windows');
}

/** Existing files in `dir` that a command `name` would run (with Windows' extensions there). */
export function commandFiles(ctx: ScanContext, dir: string, name: string): string[] {
  const names = dirNames(ctx, dir);
  if (!names) return [];
  const out: string[] = [];
  const suffixes = ctx.platform === 'windows' ? WINDOWS_SUFFIXES : [''];
  for (const suffix of suffixes) {
    const key = ctx.platform === 'windows' ? (name + suffix).toLowerCase() : name + suffix;
    const actual = names.get(key);
    if (actual !== undefined) out.push(child(dir, actual));
  }
  return out;
}

/** Where users' own launchers live, whether or not they are on the scanning process's PATH. */
export function homeBinDirs(home: Home): readonly string[] {
  let dirs = binDirsOf.get(home);
  if (dirs === undefined)
    binDirsOf.set(home, (dirs = [path.join(home.dir, '.local', 'bin'), path.join(home.dir, 'bin')]));
  return dirs;
}

const binDirsOf = new WeakMap<Home, readonly string[]>();

export interface LauncherQuery {
  dirs: readonly string[];
  names: Iterable<string>;
  /** The install's real path. */
  installReal: string;
  /** npm package name whose shims (cmd-shim, pnpm, bun) count even though they are not links. */
  packageName?: string;
  /** Where such shims count (default: every folder of `dirs`). */
  shimDirs?: readonly string[];
  /** Directories whose files count by name alone (Volta and asdf shims dispatch by name). */
  byNameDirs?: readonly string[];
}

/**
 * Whether the script shim at `file` runs `packageName` (shimRunsPackage on its head). What the
 * head names is kept by a daemon's memo, one value per file whatever package is asked about.
 */
function shimRuns(ctx: ScanContext, file: string, packageName: string): boolean {
  const name = packageName.toLowerCase();
  if (name.length <= MAX_PACKAGE_NAME && name.split('/').length <= 2) {
    const named = ctx.fs.readHeadDerived('shim-packages', file, SHIM_HEAD_BYTES, (head) =>
      shimPackages(head.toString('latin1')),
    );
    if (named === undefined) return false;
    if (named !== null) return named.includes(name);
  }
  const head = ctx.fs.readHead(file, SHIM_HEAD_BYTES);
  return head !== null && shimRunsPackage(head.toString('latin1'), packageName);
}

export function findLaunchers(ctx: ScanContext, query: LauncherQuery): string[] {
  const found = new Set<string>();
  const names = [...new Set(query.names)];
  const byName = new Set(query.byNameDirs ?? []);
  for (const dir of new Set([...query.dirs, ...byName])) {
    for (const name of names) {
      for (const file of commandFiles(ctx, dir, name)) {
        if (byName.has(dir)) {
          found.add(file);
          continue;
        }
        const real = ctx.fs.realpath(file);
        if (real !== null && isInside(real, query.installReal)) {
          found.add(file);
          continue;
        }
        if (query.packageName && real !== null && real === file && (!query.shimDirs || query.shimDirs.includes(dir))) {
          if (shimRuns(ctx, file, query.packageName)) found.add(file);
        }
      }
    }
  }
  return [...found].sort();
}
