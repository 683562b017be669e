/** Small system files: .npmrc, dpkg's status database and apk's installed database (/etc/passwd: agent/host/users.ts). */

/**
 * The `prefix` an .npmrc sets, with `~` and `${HOME}` expanded; null when absent or when it
 * refers to other environment variables we cannot know for that user.
 */
export function parseNpmrcPrefix(text: string, home: string): string | null {
  return parseNpmrcPath(text, home, 'prefix');
}

/**
 * The folder an `.npmrc` sets for `key` (`prefix`, or `cache`: where npm keeps `_cacache` and
 * npx its `_npx`; docs.npmjs.com "config"), `~`/`$HOME` expanded; null when unset or naming other
 * variables. The last setting wins, as in npm.
 */
export function parseNpmrcPath(text: string, home: string, key: 'prefix' | 'cache'): string | null {
  let prefix: string | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) continue;
    const m = /^([a-z]+)\s*=\s*(.*)$/.exec(line);
    if (m?.[1] !== key) continue;
    let value = m[2]!.trim();
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'")))
      value = value.slice(1, -1);
    prefix = value;
  }
  if (!prefix) return null;
  prefix = prefix.replace(/\$\{HOME\}|\$HOME\b|\$\{USERPROFILE\}|%USERPROFILE%/g, home);
  if (prefix === '~' || prefix.startsWith('~/') || prefix.startsWith('~\\')) prefix = home + prefix.slice(1);
  if (/\$\{|%[A-Za-z_]+%/.test(prefix)) return null;
  return prefix;
}

/**
 * Yarn 1's `.yarnrc` (lines `key "value"` or `key value`): the `global-folder` and `prefix` it
 * sets, `~`/`$HOME` expanded; values naming other variables are dropped (yarnpkg.com "yarnrc").
 */
export function parseYarnrc(text: string, home: string): { globalFolder: string | null; prefix: string | null } {
  const out: { globalFolder: string | null; prefix: string | null } = { globalFolder: null, prefix: null };
  for (const raw of text.split(/\r?\n/)) {
    const m = /^\s*(?:--)?(global-folder|prefix)\s+(?:"([^"]*)"|(\S+))\s*$/.exec(raw);
    if (!m) continue;
    let value = (m[2] ?? m[3] ?? '').replace(/\$\{HOME\}|\$HOME\b/g, home);
    if (value === '~' || value.startsWith('~/')) value = home + value.slice(1);
    if (value === '' || value.includes('$')) continue;
    if (m[1] === 'prefix') out.prefix = value;
    else out.globalFolder = value;
  }
  return out;
}

export interface InstalledPackage {
  name: string;
  version: string | null;
}

/** dpkg's /var/lib/dpkg/status: stanzas with Package, Status and Version; only installed ones. */
export function parseDpkgStatus(text: string, wanted?: ReadonlySet<string>): InstalledPackage[] {
  const out: InstalledPackage[] = [];
  for (const stanza of text.split(/\r?\n\r?\n/)) {
    const name = /^Package:\s*(\S+)/m.exec(stanza)?.[1];
    if (!name || (wanted && !wanted.has(name.toLowerCase()))) continue;
    const status = /^Status:\s*(.+)$/m.exec(stanza)?.[1]?.trim();
    if (status && !/\binstalled$/.test(status)) continue;
    if (status && /\bnot-installed$|\bconfig-files$/.test(status)) continue;
    out.push({ name, version: /^Version:\s*(\S+)/m.exec(stanza)?.[1] ?? null });
  }
  return out;
}

/** apk's /lib/apk/db/installed: stanzas of `X:value` lines; P is the name, V the version. */
export function parseApkInstalled(text: string, wanted?: ReadonlySet<string>): InstalledPackage[] {
  const out: InstalledPackage[] = [];
  for (const stanza of text.split(/\r?\n\r?\n/)) {
    const name = /^P:(\S+)/m.exec(stanza)?.[1];
    if (!name || (wanted && !wanted.has(name.toLowerCase()))) continue;
    out.push({ name, version: /^V:(\S+)/m.exec(stanza)?.[1] ?? null });
  }
  return out;
}
