/**
 * Each user's own environment, for the variables that move install roots (PNPM_HOME, NVM_DIR,
 * XDG_DATA_HOME, ...). A daemon runs with none of them, so they are read without running any shell:
 *
 * - statically from the user's startup files: `/etc/environment`, `~/.config/environment.d/*.conf`,
 *   `~/.profile`, `~/.bash_profile`, `~/.bash_login`, `~/.bashrc`, `~/.zshenv`, then `$ZDOTDIR` (or
 *   `~`)`/.zprofile`, `.zshrc`, `.zlogin`, fish's `config.fish`, `conf.d/*.fish` and
 *   `fish_variables`, and the files these `source` (two levels deep at most);
 * - from the environment of the user's running processes (`/proc/<pid>/environ` of processes
 *   whose owner is the user; Linux, scanning this machine; as root, or one's own processes).
 *
 * Every value is a candidate: a variable set differently in bash and in fish gives both roots.
 * Nothing is trusted: a file is read only when its real path lies inside the user's home, at most
 * MAX_FILE_BYTES of it, never a FIFO or device (ScanFs); a root taken from these values counts
 * only when its real path lies inside the user's home (see ScanContext.envValues).
 */
import * as path from 'node:path';

import { isInside } from './context.js';
import type { ScanFs } from './fs.js';
import {
  evaluateStartup,
  parseEnviron,
  type StartupCommands,
  startupCommands,
  type StartupDialect,
} from './parse/shell-env.js';

/** The variables that move a root the scanners read. */
const ROOT_VARIABLES = [
  'PNPM_HOME',
  'NVM_DIR',
  'FNM_DIR',
  'BUN_INSTALL',
  'BUN_INSTALL_GLOBAL_DIR',
  'BUN_INSTALL_BIN',
  'VOLTA_HOME',
  'PIPX_HOME',
  'PIPX_BIN_DIR',
  'UV_TOOL_DIR',
  'UV_TOOL_BIN_DIR',
  'NPM_CONFIG_PREFIX',
  'npm_config_prefix',
  'MISE_DATA_DIR',
  'ASDF_DATA_DIR',
  'XDG_DATA_HOME',
  'XDG_CONFIG_HOME',
  'COREPACK_HOME',
  'VSCODE_EXTENSIONS',
  'YARN_GLOBAL_FOLDER',
  'YARN_PREFIX',
  'HOMEBREW_PREFIX',
  // Package-runner caches (scanners/caches.ts): npm's (npx), yarn's, bun's, and pnpm's under XDG.
  'npm_config_cache',
  'NPM_CONFIG_CACHE',
  'XDG_CACHE_HOME',
  'YARN_CACHE_FOLDER',
  'BUN_INSTALL_CACHE_DIR',
  // The user's own PATH: its folders inside the home are launcher folders (path-binaries.ts), so
  // an install under a hidden --prefix whose bin only the user's PATH names is found.
  'PATH',
] as const;
export type RootVariable = (typeof ROOT_VARIABLES)[number];

const WANTED = new Set<string>(ROOT_VARIABLES);
const MAX_FILE_BYTES = 256 * 1024;
const MAX_FILES = 40;
const MAX_SOURCE_DEPTH = 2;
/** Processes read per owner (a person runs a few hundred). */
export const MAX_PROCESSES = 4096;
const MAX_ENVIRON_BYTES = 256 * 1024;
/**
 * The most distinct folders of one variable scanned (after the inside-the-home check, in the
 * order found): each is a root every scanner probes, and a real user sets a variable a handful of
 * ways at most. More are reported as skipped, never dropped silently (ScanContext.envValues).
 */
export const MAX_VALUES_PER_VARIABLE = 8;
/** The most folders of a user's PATH in their home scanned as launcher folders (as above). */
export const MAX_PATH_FOLDERS = 64;
/**
 * The most distinct candidate values of one variable kept from startup files and processes,
 * before any is checked: values a user's files give that lead nowhere (`export PNPM_HOME=~/junk`
 * many times over) must not push the real one out unseen, so there is room for many, and more
 * than this is reported (UserEnv.overflowed). Each is resolved as the user would walk it, so not
 * more: thousands of values through long link chains made one home's scan take minutes.
 */
export const MAX_CANDIDATES_PER_VARIABLE = 64;

/**
 * What `$PATH` expands to in startup files: the PATH the login gave, not known here. A value
 * built on it (`export PATH=~/bin:$PATH`) keeps its own folders (UserEnv.add).
 */
const INHERITED_PATH = '\u0000inherited';

/**
 * A value of a root variable as one folder: absolute, `.` and `..` taken by name and no trailing
 * separator (`~/pnpm/` and `~/pnpm/./` are `~/pnpm`); null for a relative or empty value, which
 * names no root. Taking `..` by name may name another folder than the kernel would through a link
 * (`~/a/../b` with `~/a` a link): either way only a folder inside the home is scanned.
 */
export function rootValue(raw: string): string | null {
  if (raw === '' || !path.isAbsolute(raw)) return null;
  return path.normalize(raw).replace(/(.)[\\/]+$/, '$1');
}

/**
 * The values of the root variables found for one user: variable name -> the distinct values, as
 * rootValue gives them, in the order found, at most MAX_CANDIDATES_PER_VARIABLE each.
 */
export class UserEnv {
  private readonly found = new Map<string, string[]>();
  private readonly over = new Set<string>();

  /**
   * Records `value` for `name` when `name` is a root variable and the value names a folder; a
   * PATH as its folders (the part a startup file's `$PATH` stood for, INHERITED_PATH, left out).
   */
  add(name: string, raw: string): void {
    if (!WANTED.has(name)) return;
    if (name === 'PATH') {
      for (const dir of raw.split(':')) if (!dir.includes(INHERITED_PATH)) this.addOne(name, dir);
      return;
    }
    this.addOne(name, raw);
  }

  private addOne(name: string, raw: string): void {
    const value = rootValue(raw);
    if (value === null) return;
    const list = this.found.get(name);
    if (!list) this.found.set(name, [value]);
    else if (list.includes(value)) return;
    else if (list.length < MAX_CANDIDATES_PER_VARIABLE) list.push(value);
    else this.over.add(name);
  }

  /** The values found for `name`, in the order found. */
  get(name: string): readonly string[] {
    return this.found.get(name) ?? [];
  }

  /** Whether more than MAX_CANDIDATES_PER_VARIABLE distinct values of `name` were found. */
  overflowed(name: string): boolean {
    return this.over.has(name);
  }

  /** Adds `from`'s values after this one's (duplicates dropped). */
  merge(from: UserEnv | undefined): this {
    if (!from) return this;
    for (const [name, values] of from.found) for (const value of values) this.add(name, value);
    for (const name of from.over) this.over.add(name);
    return this;
  }
}

/** What reading one user's startup files needs. */
export interface StartupSource {
  fs: ScanFs;
  /** The home as given, and its real path (files must resolve inside it). */
  homeDir: string;
  /** The user's login name ($USER, $LOGNAME, `~name`), when known. */
  user?: string;
  homeReal: string;
  /** `/etc/environment` under the scan's root, or null not to read it. */
  etcEnvironment: string | null;
  skip(path: string, reason: string): void;
  /**
   * Whether a folder is the system's own (root's, writable by nobody else, open to all): a file
   * sourced from there (a distribution's `.bashrc` sources /usr/share/bash-completion) is not
   * read, and not reported as skipped either.
   */
  systemFolder?(dir: string): boolean;
  /** The scan's checkpoint (ScanContext.expired): true stops reading this home's files. */
  expired?(where: string): boolean;
}

/** What a startup file sourced from outside the home is recorded with (never looked at). */
export const OUTSIDE_HOME = "leads outside the user's home; not read";
/**
 * The most commands of one home's startup files evaluated per scan (a real set has a few hundred;
 * 40 files of thousands of `source` lines each would otherwise cost seconds every scan).
 */
export const MAX_STARTUP_COMMANDS = 20_000;

/** The root variables set by one user's startup files. */
export function readStartupEnv(source: StartupSource): UserEnv {
  const env = new UserEnv();
  let budget = MAX_FILES;
  const h = (...parts: string[]) => path.join(source.homeDir, ...parts);

  // Most startup files are absent: one listing per folder answers that, instead of one failed
  // open (and its thrown error) per file.
  const listings = new Map<string, { names: Set<string>; whole: boolean } | null>();
  const present = (file: string): boolean => {
    const dir = path.dirname(file);
    let listing = listings.get(dir);
    if (listing === undefined) {
      const entries = source.fs.list(dir);
      listing =
        entries === null
          ? null
          : { names: new Set(entries.map((e) => e.name)), whole: entries.length < source.fs.maxEntries };
      listings.set(dir, listing);
    }
    if (listing === null) return false;
    // A listing cut short (a home of 100,000 files) does not say a file is absent: asked for itself.
    return listing.names.has(path.basename(file)) || (!listing.whole && source.fs.lstat(file) !== null);
  };

  // The login environment every shell starts from; `$PATH` stands for what the login gave.
  const base = new Map<string, string>([
    ['HOME', source.homeDir],
    ['PATH', INHERITED_PATH],
    ...(source.user ? [['USER', source.user] as const, ['LOGNAME', source.user] as const] : []),
  ]);
  const insideHomePath = (file: string) => isInside(file, source.homeDir) || isInside(file, source.homeReal);
  let commandsLeft = MAX_STARTUP_COMMANDS;
  // Per shell (scope): the files each has read.
  const tried = new Map<Map<string, string>, Set<string>>();
  let cut = false;
  const read = (
    given: string,
    dialect: StartupDialect,
    scope: Map<string, string>,
    depth: number,
    insideHome = true,
  ): void => {
    // `..` taken by name, as the path reads: a link inside the home cannot lead `..` out of it.
    const file = path.resolve(given);
    // A file sourced again (`. ~/.profile` forty times over) is read once: repeats cost nothing
    // and cannot use up the files' budget before the one that matters.
    let seenHere = tried.get(scope);
    if (!seenHere) tried.set(scope, (seenHere = new Set()));
    if (seenHere.has(file)) return;
    seenHere.add(file);
    if (budget <= 0) {
      if (!cut) source.skip(file, `more than ${MAX_FILES} startup files in this home; the rest not read`);
      cut = true;
      return;
    }
    if (insideHome && !insideHomePath(file)) {
      // Not listed, not opened: whether a file exists outside the home is not the user's to learn.
      budget--;
      if (!(source.systemFolder?.(path.dirname(file)) ?? false)) source.skip(file, OUTSIDE_HOME);
      return;
    }
    // (/etc is not listed for one file: a missing /etc/environment is one quiet failed open.)
    if (insideHome && !present(file)) return;
    if (source.expired?.(file)) {
      budget = 0;
      cut = true;
      return;
    }
    // Every file tried counts, read or refused (too big, a link out of the home).
    budget--;
    const commands = readCommands(source, file, dialect, insideHome);
    if (commands === undefined) return;
    if (commands.commands.length + commands.universal.length > commandsLeft) {
      budget = 0;
      cut = true;
      source.skip(file, `more than ${MAX_STARTUP_COMMANDS} commands in this home's startup files; the rest not read`);
      return;
    }
    commandsLeft -= commands.commands.length + commands.universal.length;
    const parsed = evaluateStartup(commands, scope);
    for (const { name, value } of parsed.assignments) env.add(name, value);
    if (depth >= MAX_SOURCE_DEPTH) return;
    for (const target of parsed.sourced) {
      const resolved = path.isAbsolute(target) ? target : path.join(source.homeDir, target);
      read(resolved, dialect === 'fish-universal' ? 'fish' : dialect, scope, depth + 1);
    }
  };
  if (source.etcEnvironment) read(source.etcEnvironment, 'sh', base, MAX_SOURCE_DEPTH, false);
  if (present(h('.config', 'environment.d')))
    for (const file of sortedFiles(source, h('.config', 'environment.d'), '.conf'))
      read(file, 'sh', base, MAX_SOURCE_DEPTH);

  const posix = new Map(base);
  for (const name of ['.profile', '.bash_profile', '.bash_login', '.bashrc']) read(h(name), 'sh', posix, 0);

  const zsh = new Map(base);
  read(h('.zshenv'), 'sh', zsh, 0);
  // zsh reads the rest from $ZDOTDIR when .zshenv sets it (a common way to tidy the home).
  const zdot = zsh.get('ZDOTDIR');
  const zdir = zdot && path.isAbsolute(zdot) ? zdot : source.homeDir;
  if (zdir !== source.homeDir) read(path.join(zdir, '.zshenv'), 'sh', zsh, 0);
  for (const name of ['.zprofile', '.zshrc', '.zlogin']) read(path.join(zdir, name), 'sh', zsh, 0);

  const fish = new Map(base);
  const fishDir = h('.config', 'fish');
  if (!present(fishDir)) return env;
  read(path.join(fishDir, 'fish_variables'), 'fish-universal', fish, MAX_SOURCE_DEPTH);
  if (present(path.join(fishDir, 'conf.d')))
    for (const file of sortedFiles(source, path.join(fishDir, 'conf.d'), '.fish')) read(file, 'fish', fish, 0);
  read(path.join(fishDir, 'config.fish'), 'fish', fish, 0);
  return env;
}

/** `*.conf` (or `*.fish`) files of a folder, sorted by name as systemd and fish read them. */
function sortedFiles(source: StartupSource, dir: string, suffix: string): string[] {
  const entries = source.fs.list(dir);
  if (!entries) return [];
  return entries
    .filter((e) => e.name.endsWith(suffix) && !e.name.startsWith('.') && !e.isDirectory)
    .map((e) => e.name)
    .sort()
    .map((name) => path.join(dir, name));
}

const readers: Record<StartupDialect, (text: string) => StartupCommands> = {
  sh: (text) => startupCommands(text, 'sh'),
  fish: (text) => startupCommands(text, 'fish'),
  'fish-universal': (text) => startupCommands(text, 'fish-universal'),
};

/**
 * A startup file's commands (kept by a daemon's memo while the file keeps its stamp), only from a
 * file that really lies inside the home (checked on the opened file), or any file for system ones;
 * undefined when missing, unreadable or refused (recorded).
 */
function readCommands(
  source: StartupSource,
  file: string,
  dialect: StartupDialect,
  insideHome: boolean,
): StartupCommands | undefined {
  if (!insideHome) return source.fs.readDerived(`startup-${dialect}`, file, MAX_FILE_BYTES, readers[dialect]);
  // The check depends on whose home reads: the kind names that home, so a file kept for one home
  // (another user's own, sourced by theirs) is never handed to another without the check.
  const where = { accept: (real: string) => isInside(real, source.homeReal), refused: OUTSIDE_HOME };
  return source.fs.readDerived(`startup-${dialect}@${source.homeReal}`, file, MAX_FILE_BYTES, readers[dialect], where);
}

/**
 * The root variables in the environments of running processes, per owner uid (Linux `/proc`).
 * Only processes of `uids` are read, at most MAX_PROCESSES per owner (`cut` is told of an owner
 * with more); unreadable ones (another user's, when not root) are passed over silently, as are
 * processes that end while being read.
 */
export function readProcessEnvs(
  fs: ScanFs,
  procDir: string,
  uids: ReadonlySet<number>,
  canRead: (uid: number) => boolean,
  cut?: (uid: number) => void,
): Map<number, UserEnv> {
  const out = new Map<number, UserEnv>();
  if (uids.size === 0) return out;
  const entries = fs.list(procDir);
  if (!entries) return out;
  const seen = new Map<number, number>();
  for (const entry of entries) {
    if (!/^\d+$/.test(entry.name)) continue;
    const dir = path.join(procDir, entry.name);
    const uid = quietUid(fs, dir);
    if (uid === null || !uids.has(uid) || !canRead(uid)) continue;
    // Counted per owner: another user's thousands of idle processes must not push out the one
    // that carries this user's PATH; a user's own are cut with a word.
    const count = (seen.get(uid) ?? 0) + 1;
    seen.set(uid, count);
    if (count > MAX_PROCESSES) {
      if (count === MAX_PROCESSES + 1) cut?.(uid);
      continue;
    }
    const bytes = fs.readBytes(path.join(dir, 'environ'), MAX_ENVIRON_BYTES);
    if (!bytes || bytes.length === 0) continue;
    let env = out.get(uid);
    if (!env) out.set(uid, (env = new UserEnv()));
    for (const [name, value] of parseEnviron(bytes)) env.add(name, value);
  }
  return out;
}

function quietUid(fs: ScanFs, dir: string): number | null {
  return fs.stat(dir)?.uid ?? null;
}
