/**
 * Reading policy dates and durations. Bare dates and local date-times are wall-clock times in
 * the policy's IANA timezone; they are turned into instants with the same "compatible"
 * disambiguation as Temporal: a time that falls in a DST gap moves forward by the gap, and a
 * time that occurs twice takes the earlier instant.
 */

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const LOCAL_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;
const INSTANT = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;
const DURATION = /^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$/;

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

export function isValidTimeZone(timeZone: string): boolean {
  if (timeZone.length === 0 || timeZone.length > 64) return false;
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** All IANA zone names this runtime knows, for "did you mean" suggestions. */
export function knownTimeZones(): string[] {
  return [...Intl.supportedValuesOf('timeZone'), 'UTC'];
}

/** The zone's offset from UTC at an instant, in milliseconds (east positive). */
export function zoneOffsetMs(timeZone: string, epochMs: number): number {
  const wall = wallFields(epochMs, timeZone);
  const wallAsUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
  const wholeSeconds = Math.floor(epochMs / 1000) * 1000;
  return wallAsUtc - wholeSeconds;
}

/** The instant at which the wall clock in `timeZone` shows the given local time. */
function localToInstant(
  timeZone: string,
  wall: { year: number; month: number; day: number; hour?: number; minute?: number; second?: number },
): number {
  const wallMs = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour ?? 0, wall.minute ?? 0, wall.second ?? 0);
  const offsetBefore = zoneOffsetMs(timeZone, wallMs - DAY_MS);
  const offsetAfter = zoneOffsetMs(timeZone, wallMs + DAY_MS);
  const valid = [offsetBefore, offsetAfter]
    .map((offset) => wallMs - offset)
    .filter((instant) => wallMs - zoneOffsetMs(timeZone, instant) === instant);
  if (valid.length > 0) return Math.min(...valid);
  // In a DST gap: read the wall time with the offset in force before the gap, which lands
  // the same distance past the transition.
  return wallMs - offsetBefore;
}

function validCalendarDate(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

export type ParsedTime = { ok: true; epochMs: number } | { ok: false; error: string };

/**
 * Parse a policy date (`2026-07-10`), local date-time (`2026-07-10T09:30`) or RFC 3339 instant.
 * Dates without an offset are read in `timeZone`.
 */
export function parseDateOrInstant(text: string, timeZone: string): ParsedTime {
  let match = DATE_ONLY.exec(text) ?? LOCAL_DATE_TIME.exec(text);
  if (match) {
    const [year, month, day, hour = 0, minute = 0, second = 0] = match
      .slice(1)
      .map((s) => (s === undefined ? 0 : Number(s)));
    if (!validCalendarDate(year!, month!, day!)) return { ok: false, error: `"${text}" is not a calendar date` };
    if (hour > 23 || minute > 59 || second > 59) return { ok: false, error: `"${text}" has an impossible time of day` };
    return {
      ok: true,
      epochMs: localToInstant(timeZone, { year: year!, month: month!, day: day!, hour, minute, second }),
    };
  }
  match = INSTANT.exec(text);
  if (match) {
    const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number);
    if (!validCalendarDate(year!, month!, day!)) return { ok: false, error: `"${text}" is not a calendar date` };
    if (hour! > 23 || minute! > 59 || second! > 60)
      return { ok: false, error: `"${text}" has an impossible time of day` };
    const epochMs = Date.parse(text.replace(' ', 'T'));
    if (Number.isNaN(epochMs)) return { ok: false, error: `"${text}" is not a valid RFC 3339 instant` };
    return { ok: true, epochMs };
  }
  return {
    ok: false,
    error: `"${text}" is not a date: use YYYY-MM-DD, YYYY-MM-DDTHH:MM (policy timezone) or an RFC 3339 instant such as 2026-07-10T00:00:00Z`,
  };
}

export type ParsedDuration = { ok: true; ms: number } | { ok: false; error: string };

/** Parse `14d`, `2w`, `36h`, `90m` or a combination in that order such as `1d12h`. */
export function parseDuration(text: string): ParsedDuration {
  const match = DURATION.exec(text);
  if (!match || text.length === 0) {
    return {
      ok: false,
      error: `"${text}" is not a duration: use weeks, days, hours, minutes such as 14d, 2w, 36h or 1d12h`,
    };
  }
  const [weeks = 0, days = 0, hours = 0, minutes = 0] = match.slice(1).map((s) => (s === undefined ? 0 : Number(s)));
  const ms = weeks * 7 * DAY_MS + days * DAY_MS + hours * HOUR_MS + minutes * MINUTE_MS;
  if (ms <= 0) return { ok: false, error: `"${text}" must be longer than zero` };
  if (ms > 3660 * DAY_MS) return { ok: false, error: `"${text}" is longer than ten years` };
  return { ok: true, ms };
}

/**
 * The instant `duration` before `epochMs`, counting weeks and days on the wall clock of
 * `timeZone` (so "14d" before midnight is midnight, also across a DST change) and hours and
 * minutes as elapsed time. Returns null when the duration does not parse.
 */
export function subtractDuration(epochMs: number, duration: string, timeZone: string): number | null {
  const match = DURATION.exec(duration);
  if (!match || !parseDuration(duration).ok) return null;
  const [weeks = 0, days = 0, hours = 0, minutes = 0] = match.slice(1).map((s) => (s === undefined ? 0 : Number(s)));
  const wall = wallFields(epochMs, timeZone);
  const dayShifted = localToInstant(timeZone, { ...wall, day: wall.day - weeks * 7 - days });
  // Keep sub-second precision of the original instant.
  return dayShifted + (epochMs - Math.floor(epochMs / 1000) * 1000) - hours * HOUR_MS - minutes * MINUTE_MS;
}

function wallFields(
  epochMs: number,
  timeZone: string,
): { year: number; month: number; day: number; hour: number; minute: number; second: number } {
  const parts = formatterFor(timeZone).formatToParts(new Date(epochMs));
  const field = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value);
  return {
    year: field('year'),
    month: field('month'),
    day: field('day'),
    hour: field('hour'),
    minute: field('minute'),
    second: field('second'),
  };
}

export function toIso(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

/** `2026-07-10 00:00:00 Asia/Shanghai`: an instant as the wall clock in a zone shows it. */
export function formatInZone(epochMs: number, timeZone: string): string {
  const parts = formatterFor(timeZone).formatToParts(new Date(epochMs));
  const field = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '??';
  return `${field('year')}-${field('month')}-${field('day')} ${field('hour')}:${field('minute')}:${field('second')} ${timeZone}`;
}

/** A rough, readable span for notices: "13 days", "5 hours 20 minutes", "40 seconds". */
export function formatSpan(ms: number): string {
  const abs = Math.abs(ms);
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  const days = Math.floor(abs / DAY_MS);
  const hours = Math.floor((abs % DAY_MS) / HOUR_MS);
  const minutes = Math.floor((abs % HOUR_MS) / MINUTE_MS);
  const seconds = Math.floor((abs % MINUTE_MS) / 1000);
  if (days >= 2) return plural(days, 'day');
  if (days === 1) return hours > 0 ? `${plural(1, 'day')} ${plural(hours, 'hour')}` : plural(1, 'day');
  if (hours > 0) return minutes > 0 ? `${plural(hours, 'hour')} ${plural(minutes, 'minute')}` : plural(hours, 'hour');
  if (minutes > 0) return plural(minutes, 'minute');
  return plural(seconds, 'second');
}
