/** Which OS this is, and the facts about this machine sent at enrollment and check-in. */
import { arch, hostname, platform, release } from 'node:os';

import type { OsName } from '../../policies/schema.js';
import { localUsers } from './users.js';

/** The policy's OS name for a Node platform (anything not macOS or Windows is treated as Linux). */
export function osName(p: NodeJS.Platform = platform()): OsName {
  if (p === 'darwin') return 'darwin';
  if (p === 'win32') return 'windows';
  return 'linux';
}

/** This machine's OS name. */
export function hostOs(): OsName {
  return osName(process.platform);
}

export interface MachineFacts {
  hostname: string;
  os: OsName;
  osVersion: string;
  arch: string;
  /** People's home folder names (see localUsers). */
  users: string[];
}

/** This machine's facts now (host name and OS version cut to the lengths the server accepts). */
export function machineFacts(): MachineFacts {
  return {
    hostname: hostname().slice(0, 255) || 'unknown',
    os: osName(),
    osVersion: release().slice(0, 100),
    arch: arch(),
    users: localUsers(),
  };
}
