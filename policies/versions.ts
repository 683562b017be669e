/**
 * Version matching. Policies use npm semver ranges. Installed versions that are not strict
 * semver (Cursor's `2026.01.15-abc123`, Homebrew's `1.2.3,456`, Python's `0.86.1.post1`) are
 * coerced to the nearest semver. A version that is missing or cannot be coerced follows one
 * rule, chosen so that an unreadable version never weakens a policy: it is treated as inside a
 * range on rules that restrict (warn, block) and outside a range on anything that grants
 * (allow rules, exceptions).
 */
import semver from 'semver';

const SEMVER_OPTIONS = { includePrerelease: true } as const;

export type ParsedRange = { ok: true; range: semver.Range } | { ok: false; error: string };

export function parseRange(text: string): ParsedRange {
  try {
    const range = new semver.Range(text, SEMVER_OPTIONS);
    return { ok: true, range };
  } catch {
    return { ok: false, error: `"${text}" is not an npm semver range (examples: ">=2.1.91", "<0.160.0", "1.x || >=2.5.0")` };
  }
}

/** The semver a found version string stands for, or null if it cannot be read as one. */
export function coerceVersion(version: string | null | undefined): semver.SemVer | null {
  if (!version) return null;
  // Strict semver keeps its prerelease tag ("1.2.3-beta.1"). Anything else is read by its
  // leading numbers: "2026.01.15-abc123" (a date and a build id, not a prerelease) -> 2026.1.15,
  // "1.2,456" -> 1.2.0, "0.86.1.post1" -> 0.86.1.
  const strict = semver.parse(version);
  if (strict) return strict;
  const numbers = LEADING_NUMBERS.exec(version);
  if (!numbers) return null;
  const [major, minor = '0', patch = '0'] = numbers.slice(1).map((n) => (n === undefined ? undefined : String(Number(n))));
  return semver.parse(`${major}.${minor}.${patch}`);
}

/** The first run of up to three dot-separated numbers; leading zeros are dropped by Number(). */
const LEADING_NUMBERS = /(\d{1,15})(?:\.(\d{1,15}))?(?:\.(\d{1,15}))?/;

export type RangeIntent = 'restrict' | 'grant';

/**
 * Does `version` fall in `range`? For versions that cannot be parsed the answer depends on
 * whether the caller restricts or grants (see the module comment).
 */
export function versionInRange(range: semver.Range, version: string | null | undefined, intent: RangeIntent): boolean {
  const parsed = coerceVersion(version);
  if (!parsed) return intent === 'restrict';
  return range.test(parsed);
}
