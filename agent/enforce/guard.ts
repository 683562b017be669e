/**
 * What enforcement may touch. The agent only ever changes the launchers and the install folder
 * of a detected instance of a catalogued tool; this module refuses anything else (relative or
 * odd paths, system folders, homes, the agent's own state) before a single byte moves. Pure.
 */
import * as path from 'node:path';

/** Folders that are never an install of one tool, whatever a scan says. */
const POSIX_NEVER = [
  '/',
  '/bin',
  '/sbin',
  '/boot',
  '/dev',
  '/etc',
  '/home',
  '/lib',
  '/lib64',
  '/opt',
  '/proc',
  '/root',
  '/run',
  '/srv',
  '/sys',
  '/tmp',
  '/usr',
  '/usr/bin',
  '/usr/sbin',
  '/usr/lib',
  '/usr/lib64',
  '/usr/libexec',
  '/usr/local',
  '/usr/local/bin',
  '/usr/local/lib',
  '/usr/local/lib/node_modules',
  '/usr/lib/node_modules',
  '/usr/share',
  '/var',
  '/var/lib',
  '/Applications',
  '/Library',
  '/System',
  '/Users',
  '/Volumes',
  '/private',
  '/opt/homebrew',
  '/opt/homebrew/bin',
  '/opt/homebrew/Cellar',
  '/opt/homebrew/Caskroom',
  '/usr/local/Cellar',
  '/usr/local/Caskroom',
];

/** Last path components that name a shared folder, not one install. */
const SHARED_NAMES = new Set(['bin', 'lib', 'node_modules', 'site-packages', 'dist-packages', 'extensions', 'plugins', 'versions', 'Cellar', 'Caskroom', 'Applications', 'Programs', 'Program Files', 'Program Files (x86)', 'AppData', 'Local', 'Roaming']);

export type GuardResult = { ok: true } | { ok: false; reason: string };

export interface GuardContext {
  platform: NodeJS.Platform;
  /** Home folders found on the machine (never an install themselves). */
  homes: readonly string[];
  /** The agent's state directory (never touched by enforcement). */
  stateDir: string;
}

function pathApi(platform: NodeJS.Platform): typeof path.posix {
  return platform === 'win32' ? path.win32 : path.posix;
}

export function isWithin(child: string, parent: string, platform: NodeJS.Platform = process.platform): boolean {
  const api = pathApi(platform);
  const rel = api.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !api.isAbsolute(rel));
}

function wellFormed(p: string, platform: NodeJS.Platform): GuardResult {
  const api = pathApi(platform);
  if (typeof p !== 'string' || p.length === 0 || p.length > 4096) return { ok: false, reason: 'the path is empty or too long' };
  if (p.includes('\0')) return { ok: false, reason: 'the path contains a NUL character' };
  if (!api.isAbsolute(p)) return { ok: false, reason: `${p} is not an absolute path` };
  if (api.normalize(p) !== p || (p.length > 1 && /[\\/]$/.test(p))) return { ok: false, reason: `${p} is not a normalised path` };
  return { ok: true };
}

function protectedFolder(p: string, ctx: GuardContext): string | null {
  const api = pathApi(ctx.platform);
  const compare = (a: string) => (ctx.platform === 'win32' ? a.toLowerCase() : a);
  if (api.dirname(p) === p) return 'a file-system root';
  if (ctx.platform !== 'win32' && POSIX_NEVER.includes(p)) return 'a system folder';
  if (ctx.platform === 'win32') {
    const depth = p.split(/[\\/]+/).filter(Boolean).length;
    if (depth < 3) return 'a top-level Windows folder';
  }
  if (SHARED_NAMES.has(api.basename(p))) return 'a folder shared by many tools';
  for (const home of ctx.homes) {
    if (compare(p) === compare(home)) return 'a home folder';
    if (isWithin(home, p, ctx.platform)) return 'a folder holding home folders';
  }
  if (isWithin(p, ctx.stateDir, ctx.platform) || isWithin(ctx.stateDir, p, ctx.platform)) return "the agent's own state";
  return null;
}

/** May the install folder (or file) at `installPath` be quarantined? */
export function checkInstallPath(installPath: string, ctx: GuardContext): GuardResult {
  const formed = wellFormed(installPath, ctx.platform);
  if (!formed.ok) return formed;
  const why = protectedFolder(installPath, ctx);
  if (why) return { ok: false, reason: `${installPath} is ${why}; aigate never quarantines it` };
  if (installPath.split(/[\\/]+/).filter(Boolean).length < 2) return { ok: false, reason: `${installPath} is too close to the root to be one tool's install` };
  return { ok: true };
}

/** May the launcher at `launcher` be replaced by a stub? */
export function checkLauncherPath(launcher: string, ctx: GuardContext): GuardResult {
  const formed = wellFormed(launcher, ctx.platform);
  if (!formed.ok) return formed;
  const api = pathApi(ctx.platform);
  if (api.basename(launcher).startsWith('.') && api.basename(launcher).includes('.aigate-')) return { ok: false, reason: `${launcher} is one of aigate's own files` };
  const why = protectedFolder(launcher, ctx);
  if (why && why !== 'a folder shared by many tools') return { ok: false, reason: `${launcher} is ${why}; aigate never replaces it` };
  if (ctx.platform === 'win32' && /\.(exe|com)$/i.test(launcher)) {
    // A script cannot stand in for an executable: such a tool is blocked by its quarantine alone.
    return { ok: false, reason: `${launcher} is a Windows executable; aigate replaces only .cmd, .ps1 and script launchers` };
  }
  return { ok: true };
}
