/**
 * Checking a version string read from disk before it goes into a report: it must be short,
 * printable and without spaces, or it is rejected with the reason (never silently dropped).
 */
export type VersionRead = { version: string; error?: undefined } | { version: null; error: string };

const PRINTABLE = /^[\x21-\x7e]{1,100}$/;

export function checkVersion(value: unknown, source: string): VersionRead {
  if (value === undefined || value === null) return { version: null, error: `${source} has no version` };
  if (typeof value !== 'string') return { version: null, error: `${source} version is not a string` };
  const trimmed = value.trim();
  if (trimmed === '') return { version: null, error: `${source} version is empty` };
  if (!PRINTABLE.test(trimmed)) return { version: null, error: `${source} version is not a plain version string` };
  return { version: trimmed };
}
