/**
 * Names and contents that say which install a file belongs to: version entries of native
 * installers, npm/pnpm/cmd-shim launcher scripts, and paths inside known layouts.
 */

const TRANSIENT = /\.(tmp|temp|lock|partial|download|part|old|bak)$/i;
const TRIPLE = /-(x86_64|aarch64|arm64|amd64|x64|i686|armv7|universal)(-[A-Za-z0-9_]+)*$/;

/**
 * The version an entry of a native installer's versions folder stands for: `2.1.50`,
 * `2026.01.23-916f423`, `0.149.1-x86_64-unknown-linux-musl` (target triple dropped),
 * `2.1.50.exe` (Windows). Null for anything else (`current`, `.DS_Store`, `2.1.51.tmp`).
 */
export function parseNativeVersionEntry(name: string): string | null {
  if (name.startsWith('.') || TRANSIENT.test(name)) return null;
  let version = name.replace(/\.exe$/i, '');
  if (!/^\d+(\.\d+)+/.test(version)) return null;
  version = version.replace(TRIPLE, '');
  return /^[\x21-\x7e]{1,100}$/.test(version) ? version : null;
}

/**
 * Whether a launcher script (npm's cmd-shim `.cmd`/`.ps1`/sh shim, pnpm's, bun's) runs the given
 * package: it names `node_modules/<package>/` with either kind of slash.
 */
export function shimRunsPackage(script: string, packageName: string): boolean {
  const text = script.replace(/\\/g, '/').toLowerCase();
  return text.includes(`node_modules/${packageName.toLowerCase()}/`);
}

/** The longest package name npm accepts (and so the longest shimPackages records). */
export const MAX_PACKAGE_NAME = 214;
const MAX_SHIM_PACKAGES = 64;

/**
 * The package names (lower-cased) a launcher script names as `node_modules/<name>/`, with either
 * kind of slash: for each mention, the next segment and the next two joined (`@scope/name`), as
 * long as npm allows a name to be; null when it names more than MAX_SHIM_PACKAGES. For a name of
 * at most one slash and MAX_PACKAGE_NAME characters, `shimRunsPackage(script, name)` is
 * `shimPackages(script).includes(name.toLowerCase())`: a value the memo can keep whatever package
 * it is asked about.
 */
export function shimPackages(script: string): string[] | null {
  const text = script.replace(/\\/g, '/').toLowerCase();
  const marker = 'node_modules/';
  const out = new Set<string>();
  for (let at = text.indexOf(marker); at !== -1; at = text.indexOf(marker, at + 1)) {
    const start = at + marker.length;
    const first = text.indexOf('/', start);
    if (first === -1) break;
    if (first - start <= MAX_PACKAGE_NAME) out.add(text.slice(start, first));
    const second = text.indexOf('/', first + 1);
    if (second !== -1 && second - start <= MAX_PACKAGE_NAME) out.add(text.slice(start, second));
    if (out.size > MAX_SHIM_PACKAGES) return null;
  }
  return [...out];
}

/** Splits any path into its segments, whichever separator it uses. */
export function segments(path: string): string[] {
  return path.split(/[\\/]+/).filter((s) => s !== '');
}

/**
 * For a path inside `.../node_modules/<pkg>/...`, the package folder's path and name (innermost
 * node_modules wins, so a bundled dependency is not taken for the tool).
 */
export function npmPackageOf(path: string): { dir: string; name: string } | null {
  const parts = path.split(/([\\/]+)/);
  // parts alternates segment, separator, segment, ...
  for (let i = parts.length - 1; i >= 0; i -= 1) {
    if (parts[i] !== 'node_modules') continue;
    const first = parts[i + 2];
    if (!first) return null;
    let end = i + 2;
    let name = first;
    if (first.startsWith('@')) {
      const second = parts[i + 4];
      if (!second) return null;
      name = `${first}/${second}`;
      end = i + 4;
    }
    return { dir: parts.slice(0, end + 1).join(''), name };
  }
  return null;
}
