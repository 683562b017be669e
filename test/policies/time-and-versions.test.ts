import { describe, expect, it } from 'vitest';

import { builtinCatalog } from '../../policies/catalog/index.js';
import { compilePolicy } from '../../policies/compile.js';
import { evaluateInstance } from '../../policies/evaluate.js';
import type { ToolInstance } from '../../policies/inventory.js';
import { loadPolicy } from '../../policies/load.js';
import {
  formatInZone,
  formatSpan,
  isValidTimeZone,
  parseDateOrInstant,
  parseDuration,
  zoneOffsetMs,
} from '../../policies/time.js';
import { coerceVersion, compareVersions, parseRange, versionInRange, versionScheme } from '../../policies/versions.js';

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

/** `range` contains `version` read in the order of `channel`, for a restricting rule. */
function contains(range: string, version: string, channel?: string): boolean {
  const parsed = parseRange(range);
  if (!parsed.ok) throw new Error(parsed.error);
  return versionInRange(parsed.range, version, 'restrict', channel);
}

/** Every pair in `ascending` compares in list order (and equal to itself). */
function expectAscending(ascending: readonly string[], scheme: Parameters<typeof compareVersions>[2]): void {
  for (let i = 0; i < ascending.length; i++) {
    expect(compareVersions(ascending[i]!, ascending[i]!, scheme), `${ascending[i]} == itself`).toBe(0);
    for (let j = i + 1; j < ascending.length; j++) {
      expect(
        Math.sign(compareVersions(ascending[i]!, ascending[j]!, scheme) ?? NaN),
        `${ascending[i]} < ${ascending[j]}`,
      ).toBe(-1);
      expect(
        Math.sign(compareVersions(ascending[j]!, ascending[i]!, scheme) ?? NaN),
        `${ascending[j]} > ${ascending[i]}`,
      ).toBe(1);
    }
  }
}

describe('version order per ecosystem', () => {
  it('chooses the order by channel', () => {
    expect(
      ['npm', 'native', 'uv', 'pipx', 'pip', 'homebrew-formula', 'homebrew-cask', 'vscode-extension', 'app-bundle'].map(
        versionScheme,
      ),
    ).toEqual(['semver', 'semver', 'pep440', 'pep440', 'pep440', 'homebrew', 'homebrew', 'vscode', 'loose']);
  });

  // PEP 440, "Summary of permitted suffixes and relative ordering": the specification's example
  // list, in ascending order (https://peps.python.org/pep-0440/#summary-of-permitted-suffixes-and-relative-ordering).
  it("PEP 440: the specification's ordering example", () => {
    expectAscending(
      [
        '1.dev0',
        '1.0.dev456',
        '1.0a1',
        '1.0a2.dev456',
        '1.0a12.dev456',
        '1.0a12',
        '1.0b1.dev456',
        '1.0b2',
        '1.0b2.post345.dev456',
        '1.0b2.post345',
        '1.0rc1.dev456',
        '1.0rc1',
        '1.0',
        '1.0+abc.5',
        '1.0+abc.7',
        '1.0+5',
        '1.0.post456.dev34',
        '1.0.post456',
        '1.0.15',
        '1.1.dev1',
      ],
      'pep440',
    );
  });

  // PEP 440 "Version epochs" and "Normalization" examples.
  it.each([
    ['2013.10', '1!1.0', -1],
    ['1!1.0', '1!2.0', -1],
    ['1.0', '1.0.0', 0],
    ['1.1RC1', '1.1rc1', 0],
    ['1.0-alpha.1', '1.0a1', 0],
    ['1.0c1', '1.0rc1', 0],
    ['1.0.preview2', '1.0rc2', 0],
    ['1.0-1', '1.0.post1', 0],
    ['1.0-r4', '1.0.post4', 0],
    ['1.0.dev', '1.0.dev0', 0],
    ['1.0a', '1.0a0', 0],
    ['v1.0', '1.0', 0],
    ['1.0+ubuntu-1', '1.0+ubuntu.1', 0],
  ] as const)('PEP 440: %s vs %s -> %d', (a, b, order) => {
    expect(Math.sign(compareVersions(a, b, 'pep440')!)).toBe(order);
  });

  // The field case (aider from the main branch, Aider-AI/aider#3901): a dev build of 0.86.2 is
  // before 0.86.2, with the uv channel and also when the channel is not known (policy explain).
  it.each([
    ['<0.86.2', '0.86.2.dev12+g1a2b3c4', 'uv', true],
    ['<0.86.2', '0.86.2.dev12+g1a2b3c4', undefined, true],
    ['<0.86.2', '0.86.2rc1', 'pipx', true],
    ['<0.86.2', '0.86.2', 'uv', false],
    ['<0.86.2', '0.86.2.post1', 'pip', false],
    ['<0.86.2', '0.86.2+local.1', 'uv', false],
    ['>=0.86.2', '0.86.2.dev12+g1a2b3c4', 'uv', false],
    ['>=0.86.2', '0.86.2+local.1', 'uv', true],
    ['^0.86.0', '0.86.5.post1', 'uv', true],
    ['^0.86.0', '0.87.0.dev1', 'uv', false],
    ['^0.86.0', '0.87.0rc1', 'uv', false],
    ['0.86.x', '0.86.0.dev3', 'uv', true],
    ['<1.0.0-rc.1', '1.0.0b5', 'pip', true],
    ['<1.0.0-rc.1', '1.0.0rc1', 'pip', false],
    ['>=2.0.0', '1!0.1', 'pip', true],
  ] as const)('PEP 440: %s contains %s (%s): %s', (range, version, channel, expected) => {
    expect(contains(range, version, channel)).toBe(expected);
  });

  // Homebrew: Library/Homebrew/test/version_spec.rb ("comparing", alpha/beta/rc/patch), formula
  // revisions (pkg_version `1.2.3_1`, Formula Cookbook "revision") and cask `version,build`.
  it('Homebrew: version_spec.rb orderings, revisions, cask builds', () => {
    expectAscending(
      [
        '1.2.3alpha4',
        '1.2.3beta2',
        '1.2.3rc3',
        '1.2.3',
        '1.2.3_1',
        '1.2.3_2',
        '1.2.3-p33',
        '1.2.3-p34',
        '1.2.4',
        '1.2.4.1',
      ],
      'homebrew',
    );
    expectAscending(['0.1', '0.2', '1.2.2', '1.2.3'], 'homebrew');
    expectAscending(['1.0beta6', '1.0b7'], 'homebrew');
    expectAscending(['1.2.3', '1.2.3a'], 'homebrew');
    expectAscending(['1.2.3alpha', '1.2.3'], 'homebrew');
    expectAscending(['3.2.0b4', '3.2.0'], 'homebrew');
    expectAscending(['1.2.3,455', '1.2.3,456', '1.2.3,1000', '1.2.4,1'], 'homebrew');
    expect(compareVersions('0.1', '0.1.0', 'homebrew')).toBe(0);
    expect(compareVersions('1.2.3alpha4', '1.2.3a4', 'homebrew')).toBe(0);
    expect(compareVersions('1.2.3-p34', '1.2.3-P34', 'homebrew')).toBe(0);
  });

  it.each([
    ['<1.2.3', '1.2.3rc3', 'homebrew-formula', true],
    ['<1.2.4', '1.2.3_1', 'homebrew-formula', true],
    ['>1.2.3', '1.2.3_1', 'homebrew-formula', true],
    ['>=1.2.3', '1.2.3-p34', 'homebrew-formula', true],
    ['<1.2.3', '1.2.3,4567', 'homebrew-cask', false],
    ['<1.2.4', '1.2.3,4567', 'homebrew-cask', true],
    ['^1.2.0', '1.3.0beta1', 'homebrew-formula', true],
    ['^1.2.0', '2.0.0rc1', 'homebrew-formula', false],
  ] as const)('Homebrew: %s contains %s (%s): %s', (range, version, channel, expected) => {
    expect(contains(range, version, channel)).toBe(expected);
  });

  // VS Code: a target-platform suffix is not a prerelease (vscode TargetPlatform; folder
  // anthropic.claude-code-2.0.50-linux-x64); pre-release extensions use plain semver numbers.
  it.each([
    ['<2.0.50', '2.0.50-linux-x64', 'vscode-extension', false],
    ['>=2.0.50', '2.0.50-darwin-arm64', 'vscode-extension', true],
    ['>=2.0.50', '2.0.50-universal', 'vscode-extension', true],
    ['<2.0.50', '2.0.49', 'vscode-extension', true],
    // npm semver keeps prereleases before the release, and build metadata does not count.
    ['<1.0.0', '1.0.0-rc.1', 'npm', true],
    ['>=1.0.0', '1.0.0+build.5', 'npm', true],
    ['<1.0.0', '1.0.0+build.5', 'npm', false],
  ] as const)('%s contains %s (%s): %s', (range, version, channel, expected) => {
    expect(contains(range, version, channel)).toBe(expected);
  });

  it('npm semver: the semver.org precedence example', () => {
    expectAscending(
      [
        '1.0.0-alpha',
        '1.0.0-alpha.1',
        '1.0.0-alpha.beta',
        '1.0.0-beta',
        '1.0.0-beta.2',
        '1.0.0-beta.11',
        '1.0.0-rc.1',
        '1.0.0',
      ],
      'semver',
    );
  });

  it('the evaluator compares in the instance\'s ecosystem: versions "<0.86.2" blocks aider 0.86.2.dev12+g1a2b3c4', () => {
    const loaded = loadPolicy(
      'apiVersion: aigate/v1\nkind: Policy\nmetadata: { name: aider-minimum }\nspec:\n  default: allow\n  rules:\n    - tools: [aider]\n      versions: "<0.86.2"\n      action: block\n',
    );
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
    const policy = compilePolicy(loaded.policy, builtinCatalog);
    const aider = (version: string, channel: ToolInstance['channel']): ToolInstance => ({
      toolId: 'aider',
      version,
      channel,
      installPath: '/x',
      launchers: [],
      owner: 'alice',
      evidence: [],
    });
    const now = Date.parse('2026-11-29T00:00:00Z');
    expect(evaluateInstance(policy, aider('0.86.2.dev12+g1a2b3c4', 'uv'), { os: 'linux' }, now).action).toBe('block');
    expect(evaluateInstance(policy, aider('0.86.2.post1', 'pipx'), { os: 'linux' }, now).action).toBe('allow');
    expect(evaluateInstance(policy, aider('0.86.2', 'homebrew-formula'), { os: 'linux' }, now).action).toBe('allow');
    expect(evaluateInstance(policy, aider('0.86.1_2', 'homebrew-formula'), { os: 'linux' }, now).action).toBe('block');
  });
});
