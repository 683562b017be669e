/**
 * The locale a user's session runs in, for the notices the root daemon shows them (desktop
 * notifications, the sentinel's block notice on their terminal). A daemon has none of the
 * user's environment, so it is read, never executed, from (first found wins):
 *
 * 1. the environment of one of the user's own processes (`/proc/<pid>/environ`, Linux): a given
 *    process (the one the sentinel stops), else the oldest process of the user, which is their
 *    session's manager or shell and carries what their login set;
 * 2. the user's `~/.config/locale.conf` (`$XDG_CONFIG_HOME/locale.conf`; read at login by
 *    systemd-based distributions' /etc/profile.d/locale.sh; format of locale.conf(5));
 * 3. the system's `/etc/locale.conf` (systemd, locale.conf(5)) or `/etc/default/locale` (Debian,
 *    Ubuntu: the same KEY=value lines).
 *
 * In each, LC_ALL > LC_MESSAGES > LANG (notice-locale.ts localeFromEnv). Files in the home are
 * read through ScanFs with the home guarded: only when they really lie inside the home and belong
 * to its owner, bounded, never a FIFO or device. Nothing here throws: unknown is null.
 */
import { realpathSync } from 'node:fs';
import * as path from 'node:path';

import { localeFromEnv } from '../../policies/notice-locale.js';
import { parsePasswd } from '../host/users.js';
import { isInside, ScanFs } from '../inventory/fs.js';
import { parseEnviron, parseStartupFile } from '../inventory/parse/shell-env.js';

const MAX_ENVIRON_BYTES = 256 * 1024;
const MAX_FILE_BYTES = 64 * 1024;
const MAX_PROCESSES = 4096;

export interface LocaleSources {
  /** Default `/proc`. */
  procDir?: string;
  /** Default `/etc`. */
  etcDir?: string;
}

/** A locale named by an environment given as `/proc/<pid>/environ` bytes. */
function localeFromEnviron(bytes: Uint8Array): string | null {
  return localeFromEnv(Object.fromEntries(parseEnviron(bytes)));
}

/** A locale named by a locale.conf-style file (KEY=value lines, shell quoting). */
export function localeFromConf(text: string): string | null {
  const values: Record<string, string> = {};
  for (const { name, value } of parseStartupFile(text, 'sh', new Map()).assignments)
    if (value !== null) values[name] = value;
  return localeFromEnv(values);
}

function quietFs(): ScanFs {
  return new ScanFs({ add: () => undefined }, MAX_PROCESSES);
}

/** The locale in the environment of process `pid` if it is `uid`'s, else null. */
export function processLocale(pid: number, uid: number, sources: LocaleSources = {}): string | null {
  const fs = quietFs();
  const dir = path.join(sources.procDir ?? '/proc', String(pid));
  if (fs.stat(dir)?.uid !== uid) return null;
  const bytes = fs.readBytes(path.join(dir, 'environ'), MAX_ENVIRON_BYTES);
  return bytes ? localeFromEnviron(bytes) : null;
}

/** The home of `uid` from the passwd file, or null. */
function homeOf(fs: ScanFs, uid: number, etcDir: string): string | null {
  const text = fs.readText(path.join(etcDir, 'passwd'), 4 * 1024 * 1024);
  const home = text === null ? undefined : parsePasswd(text).find((entry) => entry.uid === uid)?.home;
  return home !== undefined && path.isAbsolute(home) ? home : null;
}

/** The locale of `uid`'s session (see the module comment), or null when nothing names one. */
export function sessionLocale(uid: number, sources: LocaleSources = {}): string | null {
  const procDir = sources.procDir ?? '/proc';
  const etcDir = sources.etcDir ?? '/etc';
  const fs = quietFs();

  // 1. The user's processes, oldest (lowest pid) first.
  const pids = (fs.list(procDir) ?? [])
    .filter((entry) => /^\d+$/.test(entry.name))
    .map((entry) => Number(entry.name))
    .sort((a, b) => a - b);
  for (const pid of pids) {
    const dir = path.join(procDir, String(pid));
    if (fs.stat(dir)?.uid !== uid) continue;
    const bytes = fs.readBytes(path.join(dir, 'environ'), MAX_ENVIRON_BYTES);
    const found = bytes ? localeFromEnviron(bytes) : null;
    if (found) return found;
  }

  // 2. ~/.config/locale.conf, only if it really lies inside the home and is the owner's.
  const home = homeOf(fs, uid, etcDir);
  if (home !== null) {
    let real: string | null = null;
    try {
      real = realpathSync(home);
    } catch {
      real = null;
    }
    if (real !== null) {
      fs.guardHomes([{ dir: home, real, uid }]);
      const text = fs.readTextWhere(
        path.join(home, '.config', 'locale.conf'),
        MAX_FILE_BYTES,
        (where) => isInside(where, real),
        "leads outside the user's home; not read",
      );
      const found = text === null ? null : localeFromConf(text);
      if (found) return found;
    }
  }

  // 3. The system's default.
  for (const file of ['locale.conf', path.join('default', 'locale')]) {
    const text = fs.readText(path.join(etcDir, file), MAX_FILE_BYTES);
    const found = text === null ? null : localeFromConf(text);
    if (found) return found;
  }
  return null;
}
