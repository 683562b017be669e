/**
 * Which catalogued tool an npm package folder belongs to, from what its manifest says rather than
 * where it sits or what it is called: the package name, the per-platform package family
 * (`<base>-<os>-<arch>[-<variant>]`, also when installed under an alias), and the manifest's bin
 * names together with its repository/homepage (which survive an edited `"name"`). Pure: the
 * inventory scanners and the sentinel hand in what they read.
 *
 * Sources for the layouts: the published manifests of @anthropic-ai/claude-code (optional deps
 * `@anthropic-ai/claude-code-linux-x64` ...), @openai/codex (aliases
 * `"@openai/codex-linux-x64": "npm:@openai/codex@0.171.0-linux-x64"`), @github/copilot
 * (`@github/copilot-linuxmusl-x64`), opencode-ai (`opencode-linux-x64-baseline-musl`), checked
 * with `npm view <name> optionalDependencies` on 2026-11-29.
 */
import type { CatalogIndex } from './index.js';
import type { CatalogTool } from './schema.js';

const OS = 'linux|linuxmusl|darwin|macos|win32|windows|freebsd|openbsd|netbsd|android|sunos|aix';
const ARCH = 'x64|arm64|ia32|x86|arm|x86_64|aarch64|amd64|ppc64|ppc64le|s390x|riscv64|loong64|universal';
const VARIANT = 'musl|gnu|baseline|msvc|gnueabihf|eabi';
/** `-<os>-<arch>[-<variant>...]` at the end of a package name or version. */
const PLATFORM_SUFFIX = new RegExp(`-(?:${OS})-(?:${ARCH})(?:-(?:${VARIANT}))*$`, 'i');

/** What the scanner read from one package folder. */
export interface NpmPackageFacts {
  /** The folder's package name (`@scope/name`), or null for a hidden or renamed folder. */
  folderName: string | null;
  /** `name` from package.json, or null. */
  name: string | null;
  /** `version` from package.json, or null. */
  version: string | null;
  /** Bin names the manifest declares. */
  bins: readonly string[];
  /** `repository` (string or `.url`) and `homepage` from package.json, as written. */
  urls: readonly string[];
}

/** A package folder identified as (part of) a catalogued tool. */
export interface NpmIdentity {
  tool: CatalogTool;
  /** `tool`: the tool's own package; `platform`: a per-platform package carrying its binary. */
  role: 'tool' | 'platform';
  /** The tool's version (a platform suffix removed), or null when the manifest has none. */
  version: string | null;
  /** Why, in words for the evidence list. */
  why: string;
}

/**
 * `{ base, platform }` when `value` ends in a platform suffix (`@openai/codex-linux-x64` ->
 * base `@openai/codex`, platform `linux-x64`; `0.111.0-linux-x64` -> base `0.111.0`), else null.
 */
export function splitPlatformSuffix(value: string): { base: string; platform: string } | null {
  const m = PLATFORM_SUFFIX.exec(value);
  if (!m || m.index === 0) return null;
  return { base: value.slice(0, m.index), platform: m[0].slice(1) };
}

/** A version without a platform suffix: `0.111.0-linux-x64` -> `0.111.0`; others unchanged. */
export function toolVersion(version: string): string {
  return splitPlatformSuffix(version)?.base ?? version;
}

/**
 * A repository or homepage URL as the catalog writes it: host/path, lower case, without scheme,
 * user, `www.`, `.git`, query, fragment or trailing slash. npm's shorthands (`github:o/r`,
 * `o/r`) become github.com/o/r. Null for anything that is not such a URL.
 */
export function normalizeSourceUrl(raw: string): string | null {
  let s = raw.trim().toLowerCase();
  if (s === '' || s.length > 2048) return null;
  // GitHub owners have no dots, so `owner/repo` cannot be mistaken for `host.tld/path`.
  const shorthand = /^(?:(github|gitlab|bitbucket):)?([a-z0-9][\w-]*\/[\w.-]+)$/.exec(s);
  if (shorthand) {
    const host =
      shorthand[1] === 'gitlab' ? 'gitlab.com' : shorthand[1] === 'bitbucket' ? 'bitbucket.org' : 'github.com';
    s = `${host}/${shorthand[2]}`;
  }
  s = s
    .replace(/^git\+/, '')
    .replace(/^[a-z][a-z0-9+.-]*:\/\//, '')
    .replace(/^git@([^:/]+):/, '$1/');
  s = s
    .replace(/^[^/@]*@/, '')
    .replace(/[?#].*$/, '')
    .replace(/\/+$/, '')
    .replace(/\.git$/, '')
    .replace(/^www\./, '');
  return /^[a-z0-9.-]+\.[a-z]{2,}(\/[^\s]*)?$/.test(s) ? s : null;
}

/** Whether a normalized URL is the catalogued one or a page under it. */
function urlMatches(url: string, catalogued: string): boolean {
  return url === catalogued || url.startsWith(`${catalogued}/`);
}

/**
 * Identifies a package folder. In order: the manifest's name, the folder's name (each either a
 * tool's package or a member of its platform family; a tool's name with a platform-suffixed
 * version is the aliased platform package), then content (a bin name of the tool and its
 * repository/homepage). Null when nothing ties it to a catalogued tool.
 */
export function identifyNpmPackage(index: CatalogIndex, facts: NpmPackageFacts): NpmIdentity | null {
  // The folder decides first when catalogued (an alias folder @openai/codex-linux-x64 holding
  // "name": "@openai/codex" is the platform package), then the manifest's name.
  const folder = byName(index, facts.version, facts.folderName, 'folder');
  if (folder)
    return folder.role === 'platform' || !facts.name
      ? folder
      : (byName(index, facts.version, facts.name, 'package') ?? folder);
  const named = byName(index, facts.version, facts.name, 'package');
  if (named) return named;
  return byContent(index, facts);
}

/**
 * A package or folder `name` (said to come from `source`) as a tool's package or a member of its
 * platform family, with the manifest's `version`; null when neither.
 */
function byName(index: CatalogIndex, version: string | null, name: string | null, source: string): NpmIdentity | null {
  if (!name) return null;
  const tool = index.bySignature('npm', name);
  if (tool) {
    const split = version ? splitPlatformSuffix(version) : null;
    if (split && (tool.detect.npmPlatformFamilies ?? []).some((f) => f.toLowerCase() === name.toLowerCase())) {
      return { tool, role: 'platform', version: split.base, why: `${source} ${name} at platform version ${version}` };
    }
    return { tool, role: 'tool', version, why: `${source} ${name}` };
  }
  const split = splitPlatformSuffix(name);
  const family = split ? index.bySignature('npmPlatformFamilies', split.base) : undefined;
  if (split && family)
    return {
      tool: family,
      role: 'platform',
      version: version === null ? null : toolVersion(version),
      why: `${source} ${name} is a ${split.platform} package of ${family.id}`,
    };
  return null;
}

function byContent(index: CatalogIndex, facts: NpmPackageFacts): NpmIdentity | null {
  if (facts.bins.length === 0 || facts.urls.length === 0) return null;
  const urls = facts.urls.map(normalizeSourceUrl).filter((u): u is string => u !== null);
  if (urls.length === 0) return null;
  for (const bin of facts.bins) {
    const tool = index.bySignature('binaries', bin) ?? index.bySignature('ambiguousBinaries', bin);
    if (!tool) continue;
    const url = urls.find((u) => (tool.detect.repositories ?? []).some((r) => urlMatches(u, r.toLowerCase())));
    if (url)
      return {
        tool,
        role: 'tool',
        version: facts.version,
        why: `bin ${bin} and source ${url} are ${tool.id}'s (package named ${facts.name ?? 'nothing'})`,
      };
  }
  return null;
}

/**
 * Lower-case strings one of which a manifest must contain for `identifyNpmPackage` to find
 * anything in it: catalogued names, platform family bases and repositories. Lets a scanner skip
 * parsing the thousands of unrelated manifests.
 */
export function npmManifestNeedles(index: CatalogIndex): readonly string[] {
  return [
    ...new Set([
      ...index.signatureValues('npm'),
      ...index.signatureValues('npmPlatformFamilies'),
      ...index.signatureValues('repositories'),
    ]),
  ];
}
