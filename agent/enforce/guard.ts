/**
 * What enforcement may touch, by name (pure; the on-disk half is safe-fs.ts). An allowlist: a
 * launcher or install folder is a candidate only when it lies strictly inside a trusted root —
 * a user's home, a system prefix such as /usr/local or /opt, or a folder the administrator named
 * with --home, --npm-prefix or --path — and is not a root itself, a home, a folder shared by
 * many tools, or the agent's own state. Passing here is necessary, never sufficient: before any
 * change, safe-fs.ts walks every component from `/` down without following symlinks and checks
 * owners and modes.
 */
import * as path from 'node:path';

/**
 * A folder under which enforcement may act. `home`: a user's home (its owner is the owner of
 * what is inside). `prefix`: an install prefix; trusted only while every component from `/` is
 * owned by root (or by the prefix's owner) and not writable by others.
 */
export interface TrustedRoot {
  path: string;
  kind: 'home' | 'prefix';
}

/**
 * System install prefixes trusted by default (each still passes the on-disk ownership walk).
 * /usr/local and /opt/homebrew hold npm/Homebrew globals, /opt and /Applications vendor apps.
 */
const SYSTEM_PREFIXES_POSIX = ['/usr', '/usr/local', '/opt', '/opt/homebrew', '/Applications', '/Library', '/snap'];

/** Last path components that name a shared folder, not one install. */
const SHARED_NAMES = new Set([
  'bin',
  'sbin',
  'lib',
  'lib32',
  'lib64',
  'libexec',
  'share',
  'include',
  'etc',
  'var',
  'opt',
  'src',
  'node_modules',
  'site-packages',
  'dist-packages',
  'extensions',
  'plugins',
  'versions',
  'Cellar',
  'Caskroom',
  'Applications',
  'Frameworks',
  'Application Support',
  'Programs',
  'Program Files',
  'Program Files (x86)',
  'AppData',
  'Local',
  'Roaming',
  'home',
  'Users',
]);

export type GuardResult = { ok: true } | { ok: false; reason: string };

export interface GuardContext {
  platform: NodeJS.Platform;
  /** Home folders found on the machine (never an install themselves; trusted roots). */
  homes: readonly string[];
  /** The agent's state directory (never touched by enforcement). */
  stateDir: string;
  /**
   * Extra trusted roots (prefixes and bin folders named by flags, roots recorded in the ledger).
   * The homes and, unless `systemPrefixes` is false, SYSTEM_PREFIXES_POSIX (or Program Files on
   * Windows) are roots too.
   */
  roots?: readonly TrustedRoot[];
  systemPrefixes?: boolean;
}

function pathApi(platform: NodeJS.Platform): typeof path.posix {
  return platform === 'win32' ? path.win32 : path.posix;
}

export function isWithin(child: string, parent: string, platform: NodeJS.Platform = process.platform): boolean {
  const api = pathApi(platform);
  const rel = api.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !api.isAbsolute(rel));
}

/** Every trusted root of the context (homes, system prefixes, extra roots), deduplicated. */
function trustedRoots(ctx: GuardContext): TrustedRoot[] {
  const system =
    ctx.systemPrefixes === false
      ? []
      : ctx.platform === 'win32'
        ? ['C:\\Program Files', 'C:\\Program Files (x86)']
        : SYSTEM_PREFIXES_POSIX;
  const all: TrustedRoot[] = [
    ...ctx.homes.map((home) => ({ path: home, kind: 'home' as const })),
    ...system.map((p) => ({ path: p, kind: 'prefix' as const })),
    ...(ctx.roots ?? []),
  ];
  const seen = new Map<string, TrustedRoot>();
  for (const root of all) if (wellFormed(root.path, ctx.platform).ok && !seen.has(root.path)) seen.set(root.path, root);
  return [...seen.values()];
}

/** The deepest trusted root strictly containing `p`, or null. */
export function rootOf(p: string, ctx: GuardContext): TrustedRoot | null {
  let best: TrustedRoot | null = null;
  for (const root of trustedRoots(ctx)) {
    if (root.path === p || !isWithin(p, root.path, ctx.platform)) continue;
    if (!best || root.path.length > best.path.length) best = root;
  }
  return best;
}

function wellFormed(p: string, platform: NodeJS.Platform): GuardResult {
  const api = pathApi(platform);
  if (typeof p !== 'string' || p.length === 0 || p.length > 4096)
    return { ok: false, reason: 'the path is empty or too long' };
  if (p.includes('\0')) return { ok: false, reason: 'the path contains a NUL character' };
  if (!api.isAbsolute(p)) return { ok: false, reason: `${p} is not an absolute path` };
  if (api.normalize(p) !== p || (p.length > 1 && /[\\/]$/.test(p)))
    return { ok: false, reason: `${p} is not a normalised path` };
  return { ok: true };
}

function protectedFolder(p: string, ctx: GuardContext): string | null {
  const api = pathApi(ctx.platform);
  const compare = (a: string) => (ctx.platform === 'win32' ? a.toLowerCase() : a);
  if (api.dirname(p) === p) return 'a file-system root';
  for (const home of ctx.homes) {
    if (compare(p) === compare(home)) return 'a home folder';
    if (isWithin(home, p, ctx.platform)) return 'a folder holding home folders';
  }
  if (trustedRoots(ctx).some((root) => compare(root.path) === compare(p))) return 'a trusted root folder';
  if (SHARED_NAMES.has(api.basename(p))) return 'a folder shared by many tools';
  if (isWithin(p, ctx.stateDir, ctx.platform) || isWithin(ctx.stateDir, p, ctx.platform))
    return "the agent's own state";
  if (!rootOf(p, ctx)) return 'outside every home and trusted install prefix';
  return null;
}

/** May the install folder (or file) at `installPath` be quarantined? */
export function checkInstallPath(installPath: string, ctx: GuardContext): GuardResult {
  const formed = wellFormed(installPath, ctx.platform);
  if (!formed.ok) return formed;
  const why = protectedFolder(installPath, ctx);
  if (why) return { ok: false, reason: `${installPath} is ${why}; aigate never quarantines it` };
  if (installPath.split(/[\\/]+/).filter(Boolean).length < 2)
    return { ok: false, reason: `${installPath} is too close to the root to be one tool's install` };
  return { ok: true };
}

/** May the launcher at `launcher` be replaced by a stub? */
export function checkLauncherPath(launcher: string, ctx: GuardContext): GuardResult {
  const formed = wellFormed(launcher, ctx.platform);
  if (!formed.ok) return formed;
  const api = pathApi(ctx.platform);
  if (api.basename(launcher).startsWith('.') && api.basename(launcher).includes('.aigate-'))
    return { ok: false, reason: `${launcher} is one of aigate's own files` };
  const why = protectedFolder(launcher, ctx);
  if (why && why !== 'a folder shared by many tools')
    return { ok: false, reason: `${launcher} is ${why}; aigate never replaces it` };
  if (ctx.platform === 'win32' && /\.(exe|com)$/i.test(launcher)) {
    // A script cannot stand in for an executable: such a tool is blocked by its quarantine alone.
    return {
      ok: false,
      reason: `${launcher} is a Windows executable; aigate replaces only .cmd, .ps1 and script launchers`,
    };
  }
  return { ok: true };
}
