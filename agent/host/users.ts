/**
 * People and their homes: the password file, the folders under /home, /Users or C:\Users, and
 * user names by uid. Used by the inventory (whose homes to scan), the enforcement guard (a home is
 * never an install), the sentinel and events (who ran it) and the machine facts (who uses it).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

import type { OsName } from '../../policies/schema.js';
import { hostOs } from './os.js';

/** One line of /etc/passwd (name:password:uid:gid:gecos:home:shell). */
export interface PasswdEntry {
  name: string;
  uid: number;
  home: string;
  shell: string;
}

/** The entries of a password file; malformed lines (fewer than 7 fields, no name, uid or home) are skipped. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    if (fields.length < 7) continue;
    const uid = Number(fields[2]);
    if (!fields[0] || !Number.isInteger(uid) || uid < 0 || !fields[5]) continue;
    out.push({ name: fields[0], uid, home: fields[5], shell: fields[6] ?? '' });
  }
  return out;
}

/** Accounts that belong to people (or root): a login shell and a uid outside the system range. */
export function isPersonAccount(entry: PasswdEntry): boolean {
  if (/(nologin|false|sync|shutdown|halt)$/.test(entry.shell)) return false;
  return entry.uid === 0 || (entry.uid >= 1000 && entry.uid !== 65534);
}

/** The folder holding people's homes, relative to the system root: `home` or `Users`. */
export function homesFolder(os: OsName): string {
  return os === 'linux' ? 'home' : 'Users';
}

const NOT_PEOPLE_WINDOWS = new Set([
  'public',
  'default',
  'default user',
  'all users',
  'defaultapppool',
  'wdagutilityaccount',
]);
const NOT_PEOPLE_MAC = new Set(['shared', 'guest']);

/** Whether a folder under the homes folder is a person's home (not Public, Shared, a dot folder...). */
export function isPersonFolder(name: string, os: OsName): boolean {
  if (name.startsWith('.') || name === 'lost+found') return false;
  const lower = name.toLowerCase();
  if (os === 'windows') return !NOT_PEOPLE_WINDOWS.has(lower);
  if (os === 'darwin') return !NOT_PEOPLE_MAC.has(lower);
  return true;
}

function homesRoot(os: OsName): string {
  return os === 'windows' ? `${process.env.SystemDrive ?? 'C:'}\\Users` : `/${homesFolder(os)}`;
}

/** Names of the people's folders under this machine's homes folder (at most 500). */
export function localUsers(os: OsName = hostOs()): string[] {
  try {
    return readdirSync(homesRoot(os), { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && isPersonFolder(entry.name, os))
      .map((entry) => entry.name)
      .slice(0, 500);
  } catch {
    return [];
  }
}

/**
 * Every folder that may be someone's home, for the enforcement guard (a home is never an
 * install): `explicit` ones, every folder under the homes folder (dot folders too: a guard errs
 * on the side of more), /root and the agent's own home.
 */
export function machineHomes(explicit: readonly string[] | undefined): string[] {
  const os = hostOs();
  const homes = new Set<string>(explicit ?? []);
  const root = homesRoot(os);
  try {
    for (const entry of readdirSync(root, { withFileTypes: true }))
      if (entry.isDirectory()) homes.add(join(root, entry.name));
  } catch {
    // not there
  }
  if (os !== 'windows') homes.add('/root');
  homes.add(homedir());
  return [...homes];
}

let names: Map<number, string> | null = null;

/** The account name of `uid` from /etc/passwd (read once), or null when unknown (Windows, directory users). */
export function userNameOf(uid: number): string | null {
  if (!names) {
    names = new Map();
    try {
      for (const entry of parsePasswd(readFileSync('/etc/passwd', 'utf8')))
        if (!names.has(entry.uid)) names.set(entry.uid, entry.name);
    } catch {
      // No password file (Windows, or a locked-down system): names stay unknown.
    }
  }
  return names.get(uid) ?? null;
}
