/**
 * Version matching. Policies write npm semver ranges (`<0.86.2`, `^2.1.0`, `1.x || >=2.5.0`); a
 * found version is compared against a range's bounds in its own ecosystem's order, chosen by the
 * instance's channel:
 *
 * | scheme   | channels                          | order                                                        |
 * |----------|-----------------------------------|--------------------------------------------------------------|
 * | semver   | npm, native, legacy-local         | semver 2.0 (prereleases before the release)                   |
 * | pep440   | pipx, uv, pip                     | PEP 440: epoch, release, a/b/rc, post, dev, local             |
 * | homebrew | homebrew-formula, homebrew-cask   | Homebrew's Version tokens; `_N` revision; cask `version,build` |
 * | vscode   | vscode-extension                  | semver after a target-platform suffix (`-linux-x64`) is cut    |
 * | loose    | anything else                     | strict semver, else the leading numbers                       |
 *
 * A semver-scheme version that is not semver is read as PEP 440, then loosely (a caller that does
 * not know the channel, such as `aigate policy explain`, still orders `0.86.2.dev12` before
 * `0.86.2`). A range's bound `X.Y.Z-0` (what `^`, `~` and `x` ranges put as the exclusive upper
 * bound, meaning "below every X.Y.Z") is the lowest version of X.Y.Z in every scheme (PEP 440's
 * `X.Y.Z.dev0` and below).
 *
 * A version that is missing or cannot be read follows one rule, chosen so that an unreadable
 * version never weakens a policy: it is treated as inside a range on rules that restrict (warn,
 * block) and outside a range on anything that grants (allow rules, exceptions). Pure.
 */
import semver from 'semver';

const SEMVER_OPTIONS = { includePrerelease: true } as const;

export type ParsedRange = { ok: true; range: semver.Range } | { ok: false; error: string };

export function parseRange(text: string): ParsedRange {
  try {
    const range = new semver.Range(text, SEMVER_OPTIONS);
    return { ok: true, range };
  } catch {
    return {
      ok: false,
      error: `"${text}" is not an npm semver range (examples: ">=2.1.91", "<0.160.0", "1.x || >=2.5.0")`,
    };
  }
}

/** The semver a found version string stands for, or null if it cannot be read as one (loose reading). */
export function coerceVersion(version: string | null | undefined): semver.SemVer | null {
  if (!version) return null;
  // Strict semver keeps its prerelease tag ("1.2.3-beta.1"). Anything else is read by its
  // leading numbers: "2026.01.15-abc123" (a date and a build id, not a prerelease) -> 2026.1.15,
  // "1.2,456" -> 1.2.0, "0.86.1.post1" -> 0.86.1.
  const strict = semver.parse(version);
  if (strict) return strict;
  const numbers = LEADING_NUMBERS.exec(version);
  if (!numbers) return null;
  const [major, minor = '0', patch = '0'] = numbers
    .slice(1)
    .map((n) => (n === undefined ? undefined : String(Number(n))));
  return semver.parse(`${major}.${minor}.${patch}`);
}

/** The first run of up to three dot-separated numbers; leading zeros are dropped by Number(). */
const LEADING_NUMBERS = /(\d{1,15})(?:\.(\d{1,15}))?(?:\.(\d{1,15}))?/;

export type RangeIntent = 'restrict' | 'grant';

export type VersionScheme = 'semver' | 'pep440' | 'homebrew' | 'vscode' | 'loose';

/** The version order an instance of `channel` follows (see the module comment). */
export function versionScheme(channel: string | undefined): VersionScheme {
  switch (channel) {
    case 'npm':
    case 'native':
    case 'legacy-local':
    case undefined:
      return 'semver';
    case 'pipx':
    case 'uv':
    case 'pip':
      return 'pep440';
    case 'homebrew-formula':
    case 'homebrew-cask':
      return 'homebrew';
    case 'vscode-extension':
      return 'vscode';
    default:
      return 'loose';
  }
}

/** A found version, read once in its scheme, ready to be tested against any number of ranges. */
export type ReadVersion =
  | { kind: 'semver'; value: semver.SemVer }
  | { kind: 'pep440'; value: Pep440 }
  | { kind: 'homebrew'; value: BrewVersion };

/** Reads `version` in the order of `channel`; null when it cannot be read at all. */
export function readVersion(version: string | null | undefined, channel?: string): ReadVersion | null {
  if (!version) return null;
  const text = version.trim();
  switch (versionScheme(channel)) {
    case 'semver': {
      const strict = semver.parse(text);
      if (strict) return { kind: 'semver', value: strict };
      const pep = parsePep440(text);
      if (pep) return { kind: 'pep440', value: pep };
      return loose(text);
    }
    case 'pep440': {
      const pep = parsePep440(text);
      return pep ? { kind: 'pep440', value: pep } : loose(text);
    }
    case 'homebrew': {
      const brew = parseHomebrew(text);
      return brew ? { kind: 'homebrew', value: brew } : null;
    }
    case 'vscode': {
      const strict = semver.parse(text.replace(VSCODE_TARGET_SUFFIX, ''));
      return strict ? { kind: 'semver', value: strict } : loose(text);
    }
    case 'loose':
      return loose(text);
  }
}

function loose(text: string): ReadVersion | null {
  const coerced = coerceVersion(text);
  return coerced ? { kind: 'semver', value: coerced } : null;
}

/** VS Code's target platforms (vscode src/vs/platform/extensions/common/extensions.ts TargetPlatform). */
const VSCODE_TARGET_SUFFIX = /-(?:win32|linux|alpine|darwin)-(?:x64|arm64|ia32|armhf)$|-(?:web|universal)$/i;

/** Whether the read version lies in `range`, each bound compared in the version's own order. */
export function rangeIncludes(range: semver.Range, read: ReadVersion): boolean {
  if (read.kind === 'semver') return range.test(read.value);
  return range.set.some((comparators) => comparators.every((c) => comparatorHolds(c, read)));
}

function comparatorHolds(c: semver.Comparator, read: ReadVersion): boolean {
  // The "any version" comparator has no version of its own.
  if (!(c.semver instanceof semver.SemVer)) return true;
  const order =
    read.kind === 'pep440'
      ? comparePep440(read.value, pep440Bound(c.semver))
      : read.kind === 'homebrew'
        ? compareHomebrew(read.value, homebrewBound(c.semver))
        : semver.compare(read.value, c.semver);
  switch (c.operator) {
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    case '>=':
      return order >= 0;
    default:
      return order === 0;
  }
}

/**
 * Does `version` fall in `range`? Compared in the order of `channel` (default: semver). For
 * versions that cannot be read the answer depends on whether the caller restricts or grants (see
 * the module comment).
 */
export function versionInRange(
  range: semver.Range,
  version: string | null | undefined,
  intent: RangeIntent,
  channel?: string,
): boolean {
  const read = readVersion(version, channel);
  if (!read) return intent === 'restrict';
  return rangeIncludes(range, read);
}

/** Orders two versions of one scheme (negative, 0, positive), or null when either cannot be read. */
export function compareVersions(a: string, b: string, scheme: VersionScheme): number | null {
  const channel = {
    semver: 'npm',
    pep440: 'pip',
    homebrew: 'homebrew-formula',
    vscode: 'vscode-extension',
    loose: 'binary',
  }[scheme];
  const x = readVersion(a, channel);
  const y = readVersion(b, channel);
  if (!x || !y) return null;
  if (x.kind === 'semver' && y.kind === 'semver') return semver.compare(x.value, y.value);
  if (x.kind === 'pep440' && y.kind === 'pep440') return comparePep440(x.value, y.value);
  if (x.kind === 'homebrew' && y.kind === 'homebrew') return compareHomebrew(x.value, y.value);
  // Mixed readings (one semver, one PEP 440) are compared as PEP 440.
  const px = x.kind === 'pep440' ? x.value : x.kind === 'semver' ? pep440Bound(x.value) : null;
  const py = y.kind === 'pep440' ? y.value : y.kind === 'semver' ? pep440Bound(y.value) : null;
  return px && py ? comparePep440(px, py) : null;
}

// --- PEP 440 -------------------------------------------------------------------------------

/**
 * A PEP 440 version as its sort key parts (packaging's `_cmpkey`): pre/post/dev use -Infinity /
 * +Infinity where the specification orders an absent part before or after every present one.
 */
interface Pep440 {
  epoch: number;
  /** Release numbers with trailing zeros removed (1.0 == 1.0.0). */
  release: number[];
  /** [phase (0 a, 1 b, 2 rc), number]; [-Infinity] = dev-only (before any pre), [Infinity] = none. */
  pre: [number, number?];
  post: number;
  dev: number;
  /** Local segments: numbers sort after strings; [] = none (before any local). */
  local: (number | string)[] | null;
}

// The specification's canonical pattern (PEP 440, Appendix B), case-insensitive.
const PEP440 =
  /^\s*v?(?:(?:(\d+)!)?(\d+(?:\.\d+)*)([-_.]?(alpha|a|beta|b|preview|pre|c|rc)[-_.]?(\d+)?)?((?:-(\d+))|(?:[-_.]?(post|rev|r)[-_.]?(\d+)?))?([-_.]?(dev)[-_.]?(\d+)?)?)(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?\s*$/i;

/** A PEP 440 version, or null if the text is not one. */
function parsePep440(text: string): Pep440 | null {
  const m = PEP440.exec(text);
  if (!m) return null;
  const num = (s: string | undefined) => (s === undefined ? 0 : Number(s));
  const release = m[2]!.split('.').map(Number);
  while (release.length > 1 && release[release.length - 1] === 0) release.pop();
  const hasPre = m[3] !== undefined;
  const hasPost = m[6] !== undefined;
  const hasDev = m[10] !== undefined;
  const label = (m[4] ?? '').toLowerCase();
  const phase = label === 'a' || label === 'alpha' ? 0 : label === 'b' || label === 'beta' ? 1 : 2;
  if ([...release, num(m[1])].some((n) => !Number.isSafeInteger(n))) return null;
  return {
    epoch: num(m[1]),
    release,
    pre: hasPre ? [phase, num(m[5])] : hasDev && !hasPost ? [-Infinity] : [Infinity],
    post: hasPost ? num(m[7] ?? m[9]) : -Infinity,
    dev: hasDev ? num(m[12]) : Infinity,
    local:
      m[13] === undefined
        ? null
        : m[13]
            .toLowerCase()
            .split(/[-_.]/)
            .map((s) => (/^\d+$/.test(s) ? Number(s) : s)),
  };
}

function comparePep440(a: Pep440, b: Pep440): number {
  return (
    a.epoch - b.epoch ||
    compareNumberLists(a.release, b.release) ||
    compareNumbers(a.pre[0], b.pre[0]) ||
    compareNumbers(a.pre[1] ?? 0, b.pre[1] ?? 0) ||
    compareNumbers(a.post, b.post) ||
    compareNumbers(a.dev, b.dev) ||
    compareLocal(a.local, b.local)
  );
}

/** A range bound X.Y.Z[-pre] as PEP 440 (X.Y.Z-0: below every X.Y.Z, its dev releases included). */
function pep440Bound(v: semver.SemVer): Pep440 {
  const release = [v.major, v.minor, v.patch];
  while (release.length > 1 && release[release.length - 1] === 0) release.pop();
  if (v.prerelease.length === 0)
    return { epoch: 0, release, pre: [Infinity], post: -Infinity, dev: Infinity, local: null };
  if (v.prerelease.length === 1 && v.prerelease[0] === 0)
    return { epoch: 0, release, pre: [-Infinity], post: -Infinity, dev: -Infinity, local: null };
  const pep = parsePep440(`${v.major}.${v.minor}.${v.patch}-${v.prerelease.join('.')}`);
  return pep ?? { epoch: 0, release, pre: [-Infinity], post: -Infinity, dev: -Infinity, local: null };
}

function compareLocal(a: (number | string)[] | null, b: (number | string)[] | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (typeof x === 'number' && typeof y === 'number') {
      if (x !== y) return x - y;
    } else if (typeof x === 'number') return 1;
    else if (typeof y === 'number') return -1;
    else if (x !== y) return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

// --- Homebrew ------------------------------------------------------------------------------

/**
 * Homebrew's order (Library/Homebrew/version.rb): a version is split into tokens, numbers compared
 * as numbers, `alpha` < `beta` < `pre` < `rc` < (nothing) < `patch` < `post` around a release, and
 * plain words below numbers; a formula's `_N` revision (pkg_version) decides between equal
 * versions; a cask's `version,build` compares the build after the version.
 */
interface BrewVersion {
  tokens: BrewToken[];
  revision: number;
}

type BrewToken =
  | { kind: 'number'; n: number }
  | { kind: 'tag'; rank: number; n: number }
  | { kind: 'word'; s: string }
  | { kind: 'floor' };

/**
 * Tag ranks relative to "no more tokens" (0): pre-releases below, patch/post above. A bare letter
 * (`1.2.3a`) is a plain word, which sorts above the release (Homebrew's AlphaToken needs `alpha`
 * or `a<digits>`; version_spec.rb: `1.2.3 < 1.2.3a`, `1.2.3alpha < 1.2.3`, `1.2.3alpha4 == 1.2.3a4`).
 */
const BREW_TAGS: [RegExp, number][] = [
  [/^(?:alpha(\d*)|a(\d+))$/i, -4],
  [/^(?:beta(\d*)|b(\d+))$/i, -3],
  [/^pre(\d*)$/i, -2],
  [/^rc(\d*)$/i, -1],
  [/^(?:patch(\d*)|p(\d*))$/i, 1],
  [/^post(\d*)$/i, 2],
];

function parseHomebrew(text: string): BrewVersion | null {
  let body = text.trim();
  let revision = 0;
  const rev = /_(\d+)$/.exec(body);
  if (rev) {
    revision = Number(rev[1]);
    body = body.slice(0, rev.index);
  }
  const tokens: BrewToken[] = [];
  for (const raw of body.match(/[0-9]+|[a-z]+[0-9]*/gi) ?? []) {
    if (/^\d+$/.test(raw)) {
      tokens.push({ kind: 'number', n: Number(raw) });
      continue;
    }
    const tag = BREW_TAGS.find(([pattern]) => pattern.test(raw));
    const digits = tag ? tag[0].exec(raw)! : null;
    if (tag) tokens.push({ kind: 'tag', rank: tag[1], n: Number(digits![1] || digits![2] || 0) });
    else tokens.push({ kind: 'word', s: raw.toLowerCase() });
  }
  if (tokens.length === 0 || tokens[0]!.kind !== 'number') return null;
  return { tokens, revision };
}

function compareHomebrew(a: BrewVersion, b: BrewVersion): number {
  const length = Math.max(a.tokens.length, b.tokens.length);
  for (let i = 0; i < length; i++) {
    const order = compareBrewToken(a.tokens[i], b.tokens[i]);
    if (order !== 0) return order;
  }
  return a.revision - b.revision;
}

/** Position value of a token for ordering against "nothing" (undefined) and other kinds. */
function compareBrewToken(x: BrewToken | undefined, y: BrewToken | undefined): number {
  if (x?.kind === 'floor' || y?.kind === 'floor') return x?.kind === y?.kind ? 0 : x?.kind === 'floor' ? -1 : 1;
  // Words sort above the release (StringToken > NullToken) and below numbers.
  const rank = (t: BrewToken | undefined) =>
    t === undefined ? 0 : t.kind === 'number' ? (t.n === 0 ? 0 : 10) : t.kind === 'tag' ? t.rank : 0.5;
  if (x?.kind === 'number' && y?.kind === 'number') return x.n - y.n;
  if (x?.kind === 'tag' && y?.kind === 'tag') return x.rank - y.rank || x.n - y.n;
  if (x?.kind === 'word' && y?.kind === 'word') return x.s < y.s ? -1 : x.s > y.s ? 1 : 0;
  // A number against nothing: 1.0 == 1.0.0, 1.0.1 > 1.0; tags and words against the rest.
  if (x?.kind === 'number' && y === undefined) return x.n === 0 ? 0 : 1;
  if (y?.kind === 'number' && x === undefined) return y.n === 0 ? 0 : -1;
  if (x?.kind === 'number') return 1;
  if (y?.kind === 'number') return -1;
  return compareNumbers(rank(x), rank(y));
}

/** A range bound as Homebrew tokens (X.Y.Z-0: below every X.Y.Z). */
function homebrewBound(v: semver.SemVer): BrewVersion {
  const tokens: BrewToken[] = [v.major, v.minor, v.patch].map((n) => ({ kind: 'number', n }));
  if (v.prerelease.length === 1 && v.prerelease[0] === 0) tokens.push({ kind: 'floor' });
  else if (v.prerelease.length)
    tokens.push(...(parseHomebrew(`0.${v.prerelease.join('.')}`)?.tokens.slice(1) ?? [{ kind: 'floor' } as BrewToken]));
  return { tokens, revision: 0 };
}

// --- helpers ---------------------------------------------------------------------------------

function compareNumbers(a: number, b: number): number {
  return a === b ? 0 : a < b ? -1 : 1;
}

function compareNumberLists(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const order = compareNumbers(a[i] ?? 0, b[i] ?? 0);
    if (order !== 0) return order;
  }
  return 0;
}
