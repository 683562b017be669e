import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { builtinCatalog } from '../../policies/catalog/index.js';
import { type CompiledPolicy, compilePolicy } from '../../policies/compile.js';
import { evaluate, evaluateInstance } from '../../policies/evaluate.js';
import type { DeviceFacts, ToolInstance } from '../../policies/inventory.js';
import { loadPolicy } from '../../policies/load.js';
import { subtractDuration } from '../../policies/time.js';
import { trustedNow } from '../../policies/trusted-time.js';
import type { Verdict } from '../../policies/verdict.js';

const examples = new URL('../../policies/examples/', import.meta.url);

function compile(yaml: string): CompiledPolicy {
  const loaded = loadPolicy(yaml);
  if (!loaded.ok) throw new Error(`test policy invalid: ${JSON.stringify(loaded.errors)}`);
  return compilePolicy(loaded.policy, builtinCatalog);
}

function compileExample(file: string): CompiledPolicy {
  return compile(readFileSync(new URL(file, examples), 'utf8'));
}

/** A policy from spec lines (YAML, indented under spec). */
function policy(specLines: string[]): CompiledPolicy {
  return compile(
    `apiVersion: aigate/v1\nkind: Policy\nmetadata:\n  name: test\nspec:\n${specLines.map((l) => `  ${l}`).join('\n')}\n`,
  );
}

function instance(
  toolId: string,
  version: string | null = '1.0.0',
  overrides: Partial<ToolInstance> = {},
): ToolInstance {
  return {
    toolId,
    version,
    channel: 'npm',
    installPath: `/opt/${toolId}`,
    launchers: [],
    owner: 'alice',
    evidence: [],
    ...overrides,
  };
}

const LINUX: DeviceFacts = { os: 'linux', group: 'engineering', deviceId: 'dev-1', hostname: 'alice-laptop' };
const at = (iso: string) => Date.parse(iso);

/** The parts of a verdict a table row checks. */
function summary(verdict: Verdict) {
  return {
    action: verdict.action,
    phase: verdict.phase,
    decidedBy: verdict.decidedBy.name,
    nextChangeAt: verdict.nextChangeAt,
  };
}

describe('the July 10 ban (ban-claude-code.yaml, Asia/Shanghai)', () => {
  const ban = compileExample('ban-claude-code.yaml');
  const claude = instance('claude-code', '2.1.91');
  // Midnight 2026-07-10 in Shanghai is 2026-07-09T16:00Z; the 14-day window opens 2026-06-26 00:00 Shanghai.
  it.each([
    [
      'the day before the warn window',
      '2026-06-24T16:00:00Z',
      { action: 'allow', phase: 'in-effect', decidedBy: 'default', nextChangeAt: '2026-06-25T16:00:00.000Z' },
    ],
    [
      'one second before the warn window',
      '2026-06-25T15:59:59Z',
      { action: 'allow', phase: 'in-effect', decidedBy: 'default', nextChangeAt: '2026-06-25T16:00:00.000Z' },
    ],
    [
      'the first instant of the warn window',
      '2026-06-25T16:00:00Z',
      { action: 'warn', phase: 'warn-window', decidedBy: 'ban-claude-code', nextChangeAt: '2026-07-09T16:00:00.000Z' },
    ],
    [
      'inside the warn window',
      '2026-07-01T00:00:00Z',
      { action: 'warn', phase: 'warn-window', decidedBy: 'ban-claude-code', nextChangeAt: '2026-07-09T16:00:00.000Z' },
    ],
    [
      'one second before midnight in Shanghai',
      '2026-07-09T15:59:59Z',
      { action: 'warn', phase: 'warn-window', decidedBy: 'ban-claude-code', nextChangeAt: '2026-07-09T16:00:00.000Z' },
    ],
    [
      'midnight in Shanghai',
      '2026-07-09T16:00:00Z',
      { action: 'block', phase: 'in-effect', decidedBy: 'ban-claude-code', nextChangeAt: null },
    ],
    [
      'months after',
      '2026-11-25T00:00:00Z',
      { action: 'block', phase: 'in-effect', decidedBy: 'ban-claude-code', nextChangeAt: null },
    ],
  ] as const)('%s (%s)', (_name, when, expected) => {
    expect(summary(evaluateInstance(ban, claude, LINUX, at(when)))).toEqual(expected);
  });

  it('counts down to the block in the warn window and names the instant', () => {
    const verdict = evaluateInstance(ban, claude, LINUX, at('2026-07-01T00:00:00Z'));
    expect(verdict).toMatchObject({
      upcomingAction: 'block',
      effectiveAt: '2026-07-09T16:00:00.000Z',
      enforce: true,
      until: null,
    });
    expect(verdict.message).toMatch(/from 10 July 2026/);
    expect(verdict.contact).toBe('https://it.example.com/ai-tools or the #it-help channel');
    expect(verdict.alternatives).toEqual(['Qwen Code', 'Tongyi Lingma', 'GitHub Copilot']);
  });

  it('leaves every other tool allowed', () => {
    const verdicts = evaluate(
      ban,
      [instance('qwen-code'), instance('cursor'), instance('openai-codex-cli')],
      LINUX,
      at('2026-08-01T00:00:00Z'),
    );
    expect(verdicts.map((v) => v.action)).toEqual(['allow', 'allow', 'allow']);
    expect(verdicts.every((v) => v.alternatives.length === 0)).toBe(true);
  });

  it('reads a bare date as midnight in the policy zone, not UTC', () => {
    const utc = policy(['timezone: UTC', 'rules:', '  - {tools: [claude-code], action: block, effective: 2026-07-10}']);
    const shanghai = policy([
      'timezone: Asia/Shanghai',
      'rules:',
      '  - {tools: [claude-code], action: block, effective: 2026-07-10}',
    ]);
    const instant = at('2026-07-09T16:00:00Z');
    expect(evaluateInstance(shanghai, claude, LINUX, instant).action).toBe('block');
    expect(evaluateInstance(utc, claude, LINUX, instant).action).toBe('allow');
    expect(evaluateInstance(utc, claude, LINUX, at('2026-07-10T00:00:00Z')).action).toBe('block');
  });
});

describe('daylight saving time', () => {
  const claude = instance('claude-code');
  it.each([
    // New York springs forward 2026-03-08 02:00 -> 03:00; 02:30 does not exist and means 03:30 EDT.
    [
      'effective inside a DST gap',
      [
        'timezone: America/New_York',
        'rules:',
        '  - {tools: [claude-code], action: block, effective: "2026-03-08T02:30"}',
      ],
      '2026-03-08T07:29:59Z',
      '2026-03-08T07:30:00Z',
    ],
    // New York falls back 2026-11-01 02:00 -> 01:00; 01:30 happens twice, the first (EDT) counts.
    [
      'effective in a repeated hour',
      [
        'timezone: America/New_York',
        'rules:',
        '  - {tools: [claude-code], action: block, effective: "2026-11-01T01:30"}',
      ],
      '2026-11-01T05:29:59Z',
      '2026-11-01T05:30:00Z',
    ],
    // Midnight after the fall-back is EST (-05:00).
    [
      'midnight after fall-back',
      ['timezone: America/New_York', 'rules:', '  - {tools: [claude-code], action: block, effective: 2026-11-02}'],
      '2026-11-02T04:59:59Z',
      '2026-11-02T05:00:00Z',
    ],
  ])('%s', (_name, lines, before, after) => {
    const compiled = policy(lines);
    expect(evaluateInstance(compiled, claude, LINUX, at(before)).action).toBe('allow');
    expect(evaluateInstance(compiled, claude, LINUX, at(after)).action).toBe('block');
  });

  it('counts warn days on the wall clock: a 1-day window across spring-forward lasts 23 hours', () => {
    // Effective 2026-03-09 00:00 EDT (04:00Z); the window opens 2026-03-08 00:00 EST (05:00Z).
    const compiled = policy([
      'timezone: America/New_York',
      'rules:',
      '  - {tools: [claude-code], action: block, effective: 2026-03-09, warnFor: 1d}',
    ]);
    expect(evaluateInstance(compiled, claude, LINUX, at('2026-03-08T04:59:59Z')).action).toBe('allow');
    expect(evaluateInstance(compiled, claude, LINUX, at('2026-03-08T05:00:00Z'))).toMatchObject({
      action: 'warn',
      phase: 'warn-window',
    });
    expect(evaluateInstance(compiled, claude, LINUX, at('2026-03-09T04:00:00Z')).action).toBe('block');
  });

  it.each([
    ['14d before midnight in Shanghai', '2026-07-09T16:00:00Z', '14d', 'Asia/Shanghai', '2026-06-25T16:00:00.000Z'],
    [
      '1d across Berlin fall-back is 25 hours',
      '2026-10-26T00:00:00+01:00',
      '1d',
      'Europe/Berlin',
      '2026-10-24T22:00:00.000Z',
    ],
    ['hours are elapsed time', '2026-03-08T12:00:00Z', '36h', 'America/New_York', '2026-03-07T00:00:00.000Z'],
    ['weeks and days combine', '2026-07-10T00:00:00Z', '1w2d', 'UTC', '2026-07-01T00:00:00.000Z'],
  ])('subtractDuration: %s', (_name, from, duration, zone, expected) => {
    expect(new Date(subtractDuration(Date.parse(from), duration, zone)!).toISOString()).toBe(expected);
  });
});

describe('rule order, selectors, versions and scopes', () => {
  const NOW = at('2026-08-01T00:00:00Z');
  const cases: Array<{
    name: string;
    spec: string[];
    inst: ToolInstance;
    device?: DeviceFacts;
    action: string;
    decidedBy: string;
  }> = [
    {
      name: 'the first matching rule wins',
      spec: [
        'rules:',
        '  - {name: allow-research, tools: [claude-code], action: allow, groups: [research]}',
        '  - {name: ban, tools: ["vendor:anthropic"], action: block}',
      ],
      inst: instance('claude-code'),
      device: { ...LINUX, group: 'research' },
      action: 'allow',
      decidedBy: 'allow-research',
    },
    {
      name: 'a non-matching scope falls through to the next rule',
      spec: [
        'rules:',
        '  - {name: allow-research, tools: [claude-code], action: allow, groups: [research]}',
        '  - {name: ban, tools: ["vendor:anthropic"], action: block}',
      ],
      inst: instance('claude-code'),
      action: 'block',
      decidedBy: 'ban',
    },
    {
      name: 'an earlier broader rule decides before a later specific one',
      spec: [
        'rules:',
        '  - {name: ban-vendor, tools: ["vendor:anthropic"], action: block}',
        '  - {name: allow-cc, tools: [claude-code], action: allow, users: [bob]}',
      ],
      inst: instance('claude-code', '1.0.0', { owner: 'bob' }),
      action: 'block',
      decidedBy: 'ban-vendor',
    },
    {
      name: 'no rule matches: the default decides',
      spec: ['default: block', 'rules:', '  - {tools: [cursor], action: allow}'],
      inst: instance('claude-code'),
      action: 'block',
      decidedBy: 'default',
    },
    {
      name: 'the default is allow when not given',
      spec: ['rules:', '  - {tools: [cursor], action: block}'],
      inst: instance('claude-code'),
      action: 'allow',
      decidedBy: 'default',
    },
    {
      name: 'category selector',
      spec: ['rules:', '  - {name: ext, tools: ["category:ide-extension"], action: warn}'],
      inst: instance('github-copilot-ide'),
      action: 'warn',
      decidedBy: 'ext',
    },
    {
      name: 'category selector does not match other categories',
      spec: ['rules:', '  - {name: ext, tools: ["category:ide-extension"], action: warn}'],
      inst: instance('claude-code'),
      action: 'allow',
      decidedBy: 'default',
    },
    {
      name: 'star selects every catalogued tool',
      spec: ['rules:', '  - {name: all, tools: ["*"], action: warn}'],
      inst: instance('kimi-cli'),
      action: 'warn',
      decidedBy: 'all',
    },
    {
      name: 'a range that includes the version',
      spec: ['rules:', '  - {name: r, tools: [claude-code], versions: ">=2.1.91", action: block}'],
      inst: instance('claude-code', '2.1.91'),
      action: 'block',
      decidedBy: 'r',
    },
    {
      name: 'a range that excludes the version',
      spec: ['rules:', '  - {name: r, tools: [claude-code], versions: ">=2.1.91", action: block}'],
      inst: instance('claude-code', '2.1.90'),
      action: 'allow',
      decidedBy: 'default',
    },
    {
      name: 'a prerelease inside the range',
      spec: ['rules:', '  - {name: r, tools: [claude-code], versions: ">=2.1.91", action: block}'],
      inst: instance('claude-code', '2.2.0-beta.1'),
      action: 'block',
      decidedBy: 'r',
    },
    {
      name: 'a non-semver version is coerced',
      spec: ['rules:', '  - {name: r, tools: [cursor], versions: ">=2026.1.0", action: warn}'],
      inst: instance('cursor', '2026.01.15-abc123'),
      action: 'warn',
      decidedBy: 'r',
    },
    {
      name: 'a missing version is inside a restricting range',
      spec: ['rules:', '  - {name: r, tools: [claude-code], versions: ">=2.1.91", action: block}'],
      inst: instance('claude-code', null),
      action: 'block',
      decidedBy: 'r',
    },
    {
      name: 'an unreadable version is inside a restricting range',
      spec: ['rules:', '  - {name: r, tools: [claude-code], versions: ">=2.1.91", action: block}'],
      inst: instance('claude-code', 'nightly'),
      action: 'block',
      decidedBy: 'r',
    },
    {
      name: 'an unreadable version is outside a granting range',
      spec: ['default: block', 'rules:', '  - {name: ok, tools: [claude-code], versions: "<2.1.91", action: allow}'],
      inst: instance('claude-code', null),
      action: 'block',
      decidedBy: 'default',
    },
    {
      name: 'os scope matches',
      spec: ['rules:', '  - {name: mac, tools: [cursor], action: block, os: [darwin]}'],
      inst: instance('cursor'),
      device: { os: 'darwin' },
      action: 'block',
      decidedBy: 'mac',
    },
    {
      name: 'os scope does not match',
      spec: ['rules:', '  - {name: mac, tools: [cursor], action: block, os: [darwin]}'],
      inst: instance('cursor'),
      action: 'allow',
      decidedBy: 'default',
    },
    {
      name: 'device scope by id',
      spec: ['rules:', '  - {name: d, tools: [cursor], action: block, devices: [dev-1]}'],
      inst: instance('cursor'),
      action: 'block',
      decidedBy: 'd',
    },
    {
      name: 'device scope by hostname',
      spec: ['rules:', '  - {name: d, tools: [cursor], action: block, devices: [alice-laptop]}'],
      inst: instance('cursor'),
      action: 'block',
      decidedBy: 'd',
    },
    {
      name: 'a group scope never matches a device without a group',
      spec: ['rules:', '  - {name: g, tools: [cursor], action: block, groups: [engineering]}'],
      inst: instance('cursor'),
      device: { os: 'linux' },
      action: 'allow',
      decidedBy: 'default',
    },
    {
      name: 'a user scope never matches an instance without an owner',
      spec: ['rules:', '  - {name: u, tools: [cursor], action: block, users: [alice]}'],
      inst: instance('cursor', '1.0.0', { owner: null }),
      action: 'allow',
      decidedBy: 'default',
    },
    {
      name: 'all scopes given must match',
      spec: ['rules:', '  - {name: both, tools: [cursor], action: block, users: [alice], os: [windows]}'],
      inst: instance('cursor'),
      action: 'allow',
      decidedBy: 'default',
    },
    {
      name: 'an exception is checked before any rule',
      spec: [
        'rules:',
        '  - {name: ban, tools: [claude-code], action: block}',
        'exceptions:',
        '  - {name: sec, tools: [claude-code], groups: [engineering], reason: SEC-1}',
      ],
      inst: instance('claude-code'),
      action: 'allow',
      decidedBy: 'sec',
    },
    {
      name: 'an exception with a version range does not cover other versions',
      spec: [
        'rules:',
        '  - {name: ban, tools: [claude-code], action: block}',
        'exceptions:',
        '  - {name: old, tools: [claude-code], versions: "<2.1.91", reason: pinned}',
      ],
      inst: instance('claude-code', '2.1.91'),
      action: 'block',
      decidedBy: 'ban',
    },
    {
      name: 'an exception never covers an unreadable version when it has a range',
      spec: [
        'rules:',
        '  - {name: ban, tools: [claude-code], action: block}',
        'exceptions:',
        '  - {name: old, tools: [claude-code], versions: "<2.1.91", reason: pinned}',
      ],
      inst: instance('claude-code', null),
      action: 'block',
      decidedBy: 'ban',
    },
  ];

  it.each(cases)('$name', ({ spec, inst, device, action, decidedBy }) => {
    const verdict = evaluateInstance(policy(spec), inst, device ?? LINUX, NOW);
    expect({ action: verdict.action, decidedBy: verdict.decidedBy.name }).toEqual({ action, decidedBy });
  });

  it('names unnamed rules and exceptions by position', () => {
    const compiled = policy([
      'rules:',
      '  - {tools: [cursor], action: allow}',
      '  - {tools: [claude-code], action: block}',
    ]);
    expect(evaluateInstance(compiled, instance('claude-code'), LINUX, NOW).decidedBy).toEqual({
      kind: 'rule',
      index: 1,
      name: 'rules[1]',
    });
  });
});

describe('time limits: until, from, expired exceptions', () => {
  const claude = instance('claude-code');
  const spec = [
    'timezone: UTC',
    'rules:',
    '  - {name: ban, tools: [claude-code], action: block, effective: 2026-07-10}',
    'exceptions:',
    '  - {name: trial, tools: [claude-code], users: [alice], from: 2026-08-01, until: 2026-09-01, reason: "trial, ticket SEC-9"}',
  ];
  const compiled = policy(spec);
  it.each([
    [
      'before the ban',
      '2026-07-01T00:00:00Z',
      { action: 'allow', phase: 'in-effect', decidedBy: 'default', nextChangeAt: '2026-07-10T00:00:00.000Z' },
    ],
    [
      'the ban, with the exception still ahead',
      '2026-07-20T00:00:00Z',
      { action: 'block', phase: 'in-effect', decidedBy: 'ban', nextChangeAt: '2026-08-01T00:00:00.000Z' },
    ],
    [
      'during the exception',
      '2026-08-15T00:00:00Z',
      { action: 'allow', phase: 'in-effect', decidedBy: 'trial', nextChangeAt: '2026-09-01T00:00:00.000Z' },
    ],
    [
      'after the exception expired',
      '2026-09-01T00:00:00Z',
      { action: 'block', phase: 'in-effect', decidedBy: 'ban', nextChangeAt: null },
    ],
  ] as const)('%s', (_name, when, expected) => {
    expect(summary(evaluateInstance(compiled, claude, LINUX, at(when)))).toEqual(expected);
  });

  it('an exception verdict says why and until when', () => {
    const verdict = evaluateInstance(compiled, claude, LINUX, at('2026-08-15T00:00:00Z'));
    expect(verdict).toMatchObject({
      decidedBy: { kind: 'exception', index: 0, name: 'trial' },
      until: '2026-09-01T00:00:00.000Z',
    });
    expect(verdict.message).toContain('trial, ticket SEC-9');
  });

  it('a rule with until stops applying then, and says so in advance', () => {
    const temporary = policy(['rules:', '  - {name: freeze, tools: [cursor], action: block, until: 2026-09-01}']);
    expect(summary(evaluateInstance(temporary, instance('cursor'), LINUX, at('2026-08-31T23:59:59Z')))).toEqual({
      action: 'block',
      phase: 'in-effect',
      decidedBy: 'freeze',
      nextChangeAt: '2026-09-01T00:00:00.000Z',
    });
    expect(evaluateInstance(temporary, instance('cursor'), LINUX, at('2026-09-01T00:00:00Z')).decidedBy.name).toBe(
      'default',
    );
  });

  it('a later rule that will start does not change nextChangeAt while an earlier one decides', () => {
    const layered = policy([
      'rules:',
      '  - {name: first, tools: [cursor], action: warn}',
      '  - {name: later, tools: [cursor], action: block, effective: 2026-12-01}',
    ]);
    expect(evaluateInstance(layered, instance('cursor'), LINUX, at('2026-08-01T00:00:00Z')).nextChangeAt).toBeNull();
  });
});

describe('monitor mode and unknown tools', () => {
  it('monitor mode reports the would-be action and forbids changes', () => {
    const monitor = compileExample('monitor-only.yaml');
    const verdict = evaluateInstance(monitor, instance('claude-code'), LINUX, at('2026-08-01T00:00:00Z'));
    expect(verdict).toMatchObject({ action: 'block', enforce: false, decidedBy: { name: 'would-ban-claude-code' } });
  });

  it.each([
    ['report', 'allow'],
    ['warn', 'warn'],
    ['block', 'block'],
  ] as const)('unknownTools: %s gives %s, whatever the rules say', (setting, action) => {
    const compiled = policy([
      `unknownTools: ${setting}`,
      'default: allow',
      'rules:',
      '  - {tools: ["*"], action: allow}',
    ]);
    const unknown = instance('unknown:npm:ai-helper', '0.1.0', { name: 'ai-helper' });
    const verdict = evaluateInstance(compiled, unknown, LINUX, at('2026-08-01T00:00:00Z'));
    expect(verdict).toMatchObject({ action, decidedBy: { kind: 'unknown-tools', index: null }, nextChangeAt: null });
    expect(verdict.message).toContain('ai-helper');
  });
});

describe('evaluate', () => {
  it('returns one verdict per instance, in order, with the instance identity', () => {
    const ban = compileExample('allowlist-strict.yaml');
    const inventory = [
      instance('qwen-code'),
      instance('claude-code'),
      instance('openai-codex-cli', '0.150.0'),
      instance('openai-codex-cli', '0.160.0'),
      instance('cursor'),
    ];
    const verdicts = evaluate(ban, inventory, { os: 'linux', group: 'ml-platform' }, at('2026-08-01T00:00:00Z'));
    expect(verdicts.map((v) => [v.toolId, v.version, v.action, v.decidedBy.name])).toEqual([
      ['qwen-code', '1.0.0', 'allow', 'approved-assistants'],
      ['claude-code', '1.0.0', 'allow', 'ml-platform-evaluation'],
      ['openai-codex-cli', '0.150.0', 'block', 'codex-outdated'],
      ['openai-codex-cli', '0.160.0', 'allow', 'codex-current-only'],
      ['cursor', '1.0.0', 'block', 'default'],
    ]);
    expect(verdicts[4]!.message).toMatch(/approved by the AI governance board/);
    expect(verdicts[2]!.alternatives).toEqual(['openai-codex-cli 0.160.0 or newer']);
  });
});

describe('trustedNow', () => {
  it.each([
    ['local clock ahead of the floor', 2_000, 1_000, 2_000],
    ['clock rolled back below the floor', 1_000, 5_000, 5_000],
    ['no signed time yet', 1_000, null, 1_000],
    ['a broken local clock', Number.NaN, 5_000, 5_000],
  ] as const)('%s', (_name, local, floor, expected) => {
    expect(trustedNow(local, floor)).toBe(expected);
  });

  it('a clock rolled back before the ban date does not lift the ban', () => {
    const ban = compileExample('ban-claude-code.yaml');
    const rolledBack = at('2026-07-01T00:00:00Z');
    const newestSignedServerTime = at('2026-07-20T00:00:00Z');
    expect(evaluateInstance(ban, instance('claude-code'), LINUX, rolledBack).action).toBe('warn');
    expect(
      evaluateInstance(ban, instance('claude-code'), LINUX, trustedNow(rolledBack, newestSignedServerTime)).action,
    ).toBe('block');
  });
});
