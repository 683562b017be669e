/**
 * Whose homes to scan: people's accounts from the password database, plus folders under /home,
 * /Users or C:\Users that it does not list (directory-service users), and the owner of a file by
 * its uid.
 */
import * as os from 'node:os';
import * as path from 'node:path';

import type { OsName } from '../../policies/schema.js';
import { homesFolder, isPersonAccount, isPersonFolder, parsePasswd, type PasswdEntry } from '../host/users.js';
import type { ScanFs } from './fs.js';

export interface Home {
  user: string;
  dir: string;
  /** The home of the user running the scan (whose environment variables apply). */
  current: boolean;
}

export interface UserDirectory {
  homes: Home[];
  /** The user owning a file, by uid (null where uids mean nothing, e.g. Windows). */
  ownerOf(stats: { uid: number } | null): string | null;
  /** The uid of the account whose home (in /etc/passwd) has the real path `homeReal`, if any. */
  uidOfHome(homeReal: string): number | null;
}

export function discoverHomes(fs: ScanFs, root: string, platform: OsName): UserDirectory {
  const passwd = platform === 'windows' ? [] : readPasswd(fs, root);
  const homes = new Map<string, Home>();
  const current = currentHome(fs);
  const add = (user: string, dir: string) => {
    const real = fs.realpath(dir);
    if (!real || homes.has(real) || !fs.isDirectory(real)) return;
    homes.set(real, { user, dir, current: real === current });
  };
  for (const entry of passwd) if (isPersonAccount(entry)) add(entry.name, path.join(root, entry.home));
  const dir = path.join(root, homesFolder(platform));
  for (const entry of fs.list(dir) ?? [])
    if (entry.isDirectory && isPersonFolder(entry.name, platform)) add(entry.name, path.join(dir, entry.name));
  return directory(fs, [...homes.values()], passwd, platform, root);
}

export function explicitHomes(fs: ScanFs, root: string, platform: OsName, dirs: readonly string[]): UserDirectory {
  const passwd = platform === 'windows' ? [] : readPasswd(fs, root);
  const byHome = new Map<string, string>();
  for (const entry of passwd) {
    const real = fs.realpath(path.join(root, entry.home));
    if (real && !byHome.has(real)) byHome.set(real, entry.name);
  }
  const current = currentHome(fs);
  const homes = new Map<string, Home>();
  for (const dir of dirs) {
    const abs = path.resolve(dir);
    const real = fs.realpath(abs) ?? abs;
    if (homes.has(real)) continue;
    homes.set(real, { user: byHome.get(real) ?? path.basename(abs), dir: abs, current: real === current });
  }
  return directory(fs, [...homes.values()], passwd, platform, root);
}

function directory(fs: ScanFs, homes: Home[], passwd: PasswdEntry[], platform: OsName, root: string): UserDirectory {
  const names = new Map<number, string>();
  for (const entry of passwd) if (!names.has(entry.uid)) names.set(entry.uid, entry.name);
  const meaningfulUids = process.platform !== 'win32' && platform !== 'windows';
  if (meaningfulUids) {
    // Directory-service users (macOS, LDAP) are missing from /etc/passwd: their home tells.
    for (const home of homes) {
      const stats = fs.stat(home.dir);
      if (stats && !names.has(stats.uid)) names.set(stats.uid, home.user);
    }
  }
  homes.sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : a.dir < b.dir ? -1 : 1));
  let uidsByHome: Map<string, number> | null = null;
  return {
    homes,
    ownerOf: (stats) => (meaningfulUids && stats ? (names.get(stats.uid) ?? null) : null),
    uidOfHome: (homeReal) => {
      if (!meaningfulUids) return null;
      if (uidsByHome === null) {
        uidsByHome = new Map();
        for (const entry of passwd) {
          const real = fs.realpath(path.join(root, entry.home));
          if (real !== null && !uidsByHome.has(real)) uidsByHome.set(real, entry.uid);
        }
      }
      return uidsByHome.get(homeReal) ?? null;
    },
  };
}

function readPasswd(fs: ScanFs, root: string): PasswdEntry[] {
  const text = fs.readText(path.join(root, 'etc', 'passwd'), 8 * 1024 * 1024);
  return text === null ? [] : parsePasswd(text);
}

function currentHome(fs: ScanFs): string | null {
  try {
    return fs.realpath(os.homedir());
  } catch {
    return null;
  }
}
