/**
 * package.json as the npm scanner needs it: name, version, bin names, runtime dependencies and
 * where it says it comes from (repository, homepage).
 */
import { isRecord, type Parsed, parseJson } from './text.js';
import { checkVersion, type VersionRead } from './version.js';

export interface PackageManifest {
  name: string | null;
  version: VersionRead;
  /** bin name -> script path inside the package. */
  bin: Record<string, string>;
  /** dependencies and optionalDependencies: name -> range. */
  dependencies: Record<string, string>;
  /** `repository` (a string or its `url`) and `homepage`, as written (at most 2). */
  urls: string[];
}

export function parsePackageJson(text: string): Parsed<PackageManifest> {
  const json = parseJson(text);
  if (!json.ok) return json;
  if (!isRecord(json.value)) return { ok: false, error: 'package.json is not an object' };
  const data = json.value;
  const name = typeof data.name === 'string' && data.name.trim() !== '' ? data.name.trim() : null;
  return {
    ok: true,
    value: {
      name,
      version: checkVersion(data.version, 'package.json'),
      bin: binEntries(data.bin, name),
      dependencies: dependencyEntries(data),
      urls: sourceUrls(data),
    },
  };
}

/** npm's rule: a string bin is named after the package (without its scope). */
function binEntries(bin: unknown, name: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof bin === 'string') {
    if (name) out[name.replace(/^@[^/]+\//, '')] = bin;
  } else if (isRecord(bin)) {
    for (const [key, value] of Object.entries(bin))
      if (typeof value === 'string' && isSafeBinName(key)) out[key] = value;
  }
  return out;
}

/** npm refuses bin names with path separators; so do we, since they become file names. */
function isSafeBinName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !/[\\/:\0]/.test(name) && name.length <= 200;
}

function sourceUrls(data: Record<string, unknown>): string[] {
  const repository = isRecord(data.repository) ? data.repository.url : data.repository;
  return [repository, data.homepage].filter(
    (u): u is string => typeof u === 'string' && u.length > 0 && u.length <= 2048,
  );
}

function dependencyEntries(data: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const field of ['dependencies', 'optionalDependencies'] as const) {
    const deps = data[field];
    if (!isRecord(deps)) continue;
    for (const [key, value] of Object.entries(deps)) out[key] = typeof value === 'string' ? value : '';
  }
  return out;
}

/** An npm package name is what may stand in node_modules/<name>: scoped or not, no traversal. */
export function isPackageName(name: string): boolean {
  return /^(@[a-z0-9~][a-z0-9._~-]*\/)?[a-z0-9~][a-z0-9._~-]*$/i.test(name) && name.length <= 214;
}
