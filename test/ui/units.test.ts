/** The dashboard's pure pieces: escaping, numbers and times in words, chart axes, line diffs. */
import { describe, expect, it } from 'vitest';

import { isoUtc } from '../../server/reports/columns.js';
import { niceMax, sparkline } from '../../server/ui/charts.js';
import { diffLines, hunks } from '../../server/ui/diff.js';
import { describeChange, noun, percent, plural, relative, utc } from '../../server/ui/format.js';
import { escapeHtml, href, html, raw } from '../../server/ui/html.js';

const NOW = Date.parse('2026-06-10T08:00:00Z');

describe('html', () => {
  it('escapes every interpolated value and nothing built by html or raw', () => {
    const name = `<img src=x onerror="alert('x')">&`;
    expect(html`<p title="${name}">${name}</p>`.value).toBe(
      '<p title="&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;">&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;</p>',
    );
    expect(html`<ul>${['a<', html`<li>b</li>`, null, undefined, false, 3]}</ul>`.value).toBe(
      '<ul>a&lt;<li>b</li>3</ul>',
    );
    expect(html`${raw('<svg/>')}`.value).toBe('<svg/>');
    expect(escapeHtml(`"'&<>`)).toBe('&quot;&#39;&amp;&lt;&gt;');
  });

  it('builds links with encoded query values and without empty ones', () => {
    expect(href('/ui/devices', { q: 'a b&c', status: '', page: 2, group: undefined })).toBe(
      '/ui/devices?q=a+b%26c&page=2',
    );
    expect(href('/ui/devices')).toBe('/ui/devices');
  });
});

describe('words', () => {
  it('says counts with one plural helper', () => {
    expect([plural(0, 'device'), plural(1, 'device'), plural(2, 'device'), plural(1204, 'device')]).toEqual([
      '0 devices',
      '1 device',
      '2 devices',
      '1,204 devices',
    ]);
    expect([plural(1, 'launch', 'launches'), plural(3, 'launch', 'launches')]).toEqual(['1 launch', '3 launches']);
    expect([noun(1, 'has', 'have'), noun(2, 'has', 'have'), noun(0, 'day')]).toEqual(['has', 'have', 'days']);
  });

  it.each([
    [
      { toolName: 'Claude Code', from: 'warn', to: 'block', at: '2026-06-19T00:00:00Z', devices: 1204 },
      'Claude Code becomes blocked in 8 days on 1,204 devices',
    ],
    [
      { toolName: 'Gemini CLI', from: 'allow', to: 'warn', at: '2026-06-11T00:00:00Z', devices: 1 },
      'Gemini CLI warnings start in 16 hours on 1 device',
    ],
    [
      { toolName: 'Aider', from: 'block', to: 'allow', at: '2026-06-10T09:00:00Z', devices: 3 },
      'Aider becomes allowed again in 1 hour on 3 devices',
    ],
    [
      { toolName: 'Aider', from: 'allow', to: 'block', at: '2026-06-10T08:00:00Z', devices: 3 },
      'Aider becomes blocked now on 3 devices',
    ],
    [
      { toolName: 'Codex', from: 'allow', to: 'block', at: '2026-06-11T20:30:00Z', devices: 2 },
      'Codex becomes blocked in 1 day 12 hours on 2 devices',
    ],
  ])('%o reads "%s"', (change, text) => {
    expect(describeChange(change, NOW)).toBe(text);
  });

  it.each([
    [NOW - 30_000, 'just now'],
    [NOW - 5 * 60_000, '5 minutes ago'],
    [NOW + 3 * 3_600_000, 'in 3 hours'],
    [NOW - 86_400_000, '1 day ago'],
    [NOW + 9 * 86_400_000, 'in 9 days'],
    [null, 'never'],
  ])('%s is %s', (at, text) => {
    expect(relative(at, NOW)).toBe(text);
  });

  it('formats shares and instants', () => {
    expect([percent(2 / 3), percent(1), percent(0), percent(null), percent(0.1234, 0)]).toEqual([
      '66.7%',
      '100%',
      '0%',
      '–',
      '12%',
    ]);
    expect(utc('2026-06-20T00:00:00.000Z')).toBe('2026-06-20 00:00 UTC');
    expect(utc(null)).toBe('–');
  });

  it('formats instants exactly as toISOString, faster', () => {
    const samples = [
      0,
      1,
      999,
      86_399_999,
      NOW,
      NOW + 123,
      Date.parse('2000-02-29T23:59:59.999Z'),
      253_402_300_799_999,
      -1,
      253_402_300_800_000,
    ];
    for (let i = 0; i < 2000; i++) samples.push(Math.floor((i * 7_919_123_457) % 4_102_444_800_000));
    for (const ms of samples) expect(isoUtc(ms), String(ms)).toBe(new Date(ms).toISOString());
  });
});

describe('chart axes', () => {
  it.each([
    [0, 4],
    [1, 4],
    [4, 4],
    [5, 8],
    [10, 12],
    [18, 20],
    [100, 100],
    [1000, 1000],
    [1204, 1600],
    [37_000, 40_000],
  ])('counts up to %i get an axis to %i in four whole steps', (max, axis) => {
    expect(niceMax(max)).toBe(axis);
    expect(Number.isInteger(axis / 4)).toBe(true);
  });

  it('allows fractional steps when asked', () => {
    expect(niceMax(1, false)).toBe(1);
    expect(niceMax(0.3, false)).toBe(0.4);
  });

  it('draws sparklines with a text alternative', () => {
    expect(sparkline([0, 2, 4], 'Installs 0 then 4').value).toMatch(/aria-label="Installs 0 then 4"/);
  });
});

describe('line diffs', () => {
  it('marks removed and added lines with their numbers, removals first', () => {
    const lines = diffLines('a\nb\nc\nd\n', 'a\nB\nc\nd\ne\n')!;
    expect(lines.map((l) => [l.kind, l.text, l.oldLine, l.newLine])).toEqual([
      ['same', 'a', 1, 1],
      ['remove', 'b', 2, null],
      ['add', 'B', null, 2],
      ['same', 'c', 3, 3],
      ['same', 'd', 4, 4],
      ['add', 'e', null, 5],
    ]);
  });

  it('groups changes into hunks with context', () => {
    const before = Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\n');
    const after = before.replace('line 3', 'line three').replace('line 25', 'line twenty-five');
    const groups = hunks(diffLines(before, after)!, 2);
    expect(groups).toHaveLength(2);
    expect(groups[0]!.lines.map((l) => l.text)).toEqual([
      'line 1',
      'line 2',
      'line 3',
      'line three',
      'line 4',
      'line 5',
    ]);
    expect(hunks(diffLines(before, before)!)).toEqual([]);
  });

  it('declines texts too large to compare line by line', () => {
    const huge = Array.from({ length: 3001 }, (_, i) => String(i)).join('\n');
    expect(diffLines(huge, 'x')).toBeNull();
  });
});
