/** Facts about this machine sent at enrollment and check-in. */
import { readdirSync } from 'node:fs';
import { arch, hostname, platform, release } from 'node:os';

import type { OsName } from '../policies/schema.js';

export function osName(p: NodeJS.Platform = platform()): OsName {
  if (p === 'darwin') return 'darwin';
  if (p === 'win32') return 'windows';
  return 'linux';
}

const NOT_PEOPLE = new Set(['Shared', 'Public', 'Default', 'Default User', 'All Users', 'lost+found', 'Guest']);

/** Names of the folders under the usual homes root: the people who use this machine. */
export function localUsers(p: NodeJS.Platform = platform()): string[] {
  const root = p === 'darwin' ? '/Users' : p === 'win32' ? `${process.env.SystemDrive ?? 'C:'}\\Users` : '/home';
  try {
    return readdirSync(root, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.') && !NOT_PEOPLE.has(entry.name))
      .map((entry) => entry.name)
      .slice(0, 500);
  } catch {
    return [];
  }
}

export interface MachineFacts {
  hostname: string;
  os: OsName;
  osVersion: string;
  arch: string;
  users: string[];
}

export function machineFacts(): MachineFacts {
  return {
    hostname: hostname().slice(0, 255) || 'unknown',
    os: osName(),
    osVersion: release().slice(0, 100),
    arch: arch(),
    users: localUsers(),
  };
}
