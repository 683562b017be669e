/** User names from user ids, via the password file (Linux, and local accounts on macOS). */
import { readFileSync } from 'node:fs';

let cache: Map<number, string> | null = null;

function load(): Map<number, string> {
  const map = new Map<number, string>();
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , uid] = line.split(':');
      if (name && uid && /^\d+$/.test(uid) && !map.has(Number(uid))) map.set(Number(uid), name);
    }
  } catch {
    // No password file (Windows, or a locked-down system): names stay unknown.
  }
  return map;
}

/** The account name of `uid`, or null when it cannot be looked up. */
export function userNameOf(uid: number): string | null {
  cache ??= load();
  return cache.get(uid) ?? null;
}
