import { describe, expect, it } from 'vitest';
import { formatInZone, formatSpan, isValidTimeZone, parseDateOrInstant, parseDuration, zoneOffsetMs } from '../../policies/time.js';
import { coerceVersion, parseRange, versionInRange } from '../../policies/versions.js';

const iso = (text: string, zone: string) => {
  const parsed = parseDateOrInstant(text, zone);
  if (!parsed.ok) throw new Error(parsed.error);
  return new Date(parsed.epochMs).toISOString();
};

describe('parseDateOrInstant', () => {
  it.each([
    // Bare dates are midnight in the policy zone.
    ['2026-07-10', 'Asia/Shanghai', '2026-07-09T16:00:00.000Z'],
    ['2026-07-10', 'UTC', '2026-07-10T00:00:00.000Z'],
    ['2026-07-10', 'America/Los_Angeles', '2026-07-10T07:00:00.000Z'],
    ['2026-01-10', 'America/Los_Angeles', '2026-01-10T08:00:00.000Z'],
    ['2026-07-10T09:30', 'Asia/Shanghai', '2026-07-10T01:30:00.000Z'],
    ['2026-07-10T09:30:15', 'Asia/Kolkata', '2026-07-10T04:00:15.000Z'],
    // Explicit instants ignore the zone.
    ['2026-07-10T00:00:00Z', 'Asia/Shanghai', '2026-07-10T00:00:00.000Z'],
    ['2026-07-10T00:00:00+08:00', 'UTC', '2026-07-09T16:00:00.000Z'],
    ['2026-07-10T00:00:00.250-05:30', 'UTC', '2026-07-10T05:30:00.250Z'],
    // Spring forward in New York (2026-03-08 02:00 -> 03:00): 02:30 does not exist and moves on by the gap.
    ['2026-03-08T02:30', 'America/New_York', '2026-03-08T07:30:00.000Z'],
    ['2026-03-08T01:59:59', 'America/New_York', '2026-03-08T06:59:59.000Z'],
    ['2026-03-08T03:00', 'America/New_York', '2026-03-08T07:00:00.000Z'],
    // Fall back in Berlin (2026-10-25 03:00 -> 02:00): 02:30 happens twice, the earlier one counts.
    ['2026-10-25T02:30', 'Europe/Berlin', '2026-10-25T00:30:00.000Z'],
    ['2026-10-25T03:30', 'Europe/Berlin', '2026-10-25T02:30:00.000Z'],
    // A zone whose DST change happens at midnight: Santiago springs forward at 00:00 on 2026-09-06.
    ['2026-09-06', 'America/Santiago', '2026-09-06T04:00:00.000Z'],
    // Leap day.
    ['2028-02-29', 'UTC', '2028-02-29T00:00:00.000Z'],
  ])('%s in %s is %s', (text, zone, expected) => {
    expect(iso(text, zone)).toBe(expected);
  });

  it.each([
    ['2026-02-30', /not a calendar date/],
    ['2027-02-29', /not a calendar date/],
    ['2026-13-01', /not a calendar date/],
    ['2026-07-10T24:00', /impossible time/],
    ['2026-07-10T12:60', /impossible time/],
    ['10/07/2026', /is not a date/],
    ['tomorrow', /is not a date/],
    ['2026-7-1', /is not a date/],
    ['', /is not a date/],
  ])('refuses %j', (text, message) => {
    const parsed = parseDateOrInstant(text, 'UTC');
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(message);
  });
});

describe('zones', () => {
  it.each([
    ['Asia/Shanghai', true],
    ['UTC', true],
    ['Europe/Berlin', true],
    ['Asia/Shangai', false],
    ['Mars/Olympus', false],
    ['', false],
  ])('isValidTimeZone(%j) = %s', (zone, valid) => {
    expect(isValidTimeZone(zone)).toBe(valid);
  });

  it('knows offsets on both sides of a DST change', () => {
    expect(zoneOffsetMs('Europe/Berlin', Date.parse('2026-10-25T00:59:59Z'))).toBe(2 * 3600_000);
    expect(zoneOffsetMs('Europe/Berlin', Date.parse('2026-10-25T01:00:00Z'))).toBe(3600_000);
  });

  it('formats an instant on the zone wall clock', () => {
    expect(formatInZone(Date.parse('2026-07-09T16:00:00Z'), 'Asia/Shanghai')).toBe('2026-07-10 00:00:00 Asia/Shanghai');
  });
});

describe('parseDuration', () => {
  it.each([
    ['14d', 14 * 86_400_000],
    ['2w', 14 * 86_400_000],
    ['36h', 36 * 3_600_000],
    ['90m', 90 * 60_000],
    ['1d12h', 36 * 3_600_000],
    ['1w2d3h4m', (9 * 24 + 3) * 3_600_000 + 4 * 60_000],
  ])('%s', (text, ms) => {
    expect(parseDuration(text)).toEqual({ ok: true, ms });
  });

  it.each(['', '0d', '14', 'd', '14 d', '2 weeks', '3h1d', '-1d', '1.5d', '99999d'])('refuses %j', (text) => {
    expect(parseDuration(text).ok).toBe(false);
  });
});

describe('formatSpan', () => {
  it.each([
    [14 * 86_400_000, '14 days'],
    [86_400_000 + 3 * 3_600_000, '1 day 3 hours'],
    [5 * 3_600_000 + 20 * 60_000, '5 hours 20 minutes'],
    [60_000, '1 minute'],
    [1000, '1 second'],
  ])('%d ms', (ms, text) => {
    expect(formatSpan(ms)).toBe(text);
  });
});

describe('versions', () => {
  it.each([
    ['2.1.91', '2.1.91'],
    ['v2.1.91', '2.1.91'],
    ['1.0.0-beta.2', '1.0.0-beta.2'],
    ['2026.01.15-abc123', '2026.1.15'],
    ['0.86.1.post1', '0.86.1'],
    ['1.2,456', '1.2.0'],
    ['1.104', '1.104.0'],
    ['nightly', null],
    [null, null],
  ] as const)('coerceVersion(%j) = %j', (input, expected) => {
    expect(coerceVersion(input)?.version ?? null).toBe(expected);
  });

  it.each([
    ['>=2.1.91', '2.1.91', 'restrict', true],
    ['>=2.1.91', '2.1.90', 'restrict', false],
    ['>=2.1.91', '2.1.100', 'restrict', true],
    ['<0.160.0', '0.159.9', 'restrict', true],
    ['<0.160.0', '0.160.0', 'restrict', false],
    ['>=1.0.0', '1.1.0-beta.1', 'restrict', true],
    ['1.x || >=2.5.0', '2.4.0', 'grant', false],
    // Unreadable versions: inside a restricting range, outside a granting one.
    ['>=2.1.91', null, 'restrict', true],
    ['>=2.1.91', 'nightly', 'restrict', true],
    ['>=2.1.91', null, 'grant', false],
    ['>=0.0.0', 'nightly', 'grant', false],
  ] as const)('%s contains %j (%s): %s', (range, version, intent, expected) => {
    const parsed = parseRange(range);
    if (!parsed.ok) throw new Error(parsed.error);
    expect(versionInRange(parsed.range, version, intent)).toBe(expected);
  });

  it.each(['>>2', 'banana', '1.2.3.4', '^^1'])('parseRange refuses %j', (range) => {
    expect(parseRange(range).ok).toBe(false);
  });
});
