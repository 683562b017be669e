import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { formatProblem, loadPolicy, type LoadResult, type Problem, validatePolicyValue } from '../../policies/load.js';

const examplesDir = join(import.meta.dirname, '../../policies/examples');

/** A minimal valid policy with `spec` lines spliced in (YAML, two-space indented under spec). */
function policyYaml(
  specLines: string[] = [],
  head = 'apiVersion: aigate/v1\nkind: Policy\nmetadata:\n  name: test-policy\n',
): string {
  return `${head}spec:\n${specLines.map((line) => `  ${line}`).join('\n')}\n`;
}

function errorsOf(result: LoadResult): Problem[] {
  if (result.ok)
    throw new Error(`expected the policy to be refused, but it loaded (warnings: ${JSON.stringify(result.warnings)})`);
  return result.errors;
}

describe('loadPolicy: the shipped examples', () => {
  const files = readdirSync(examplesDir).filter((f) => f.endsWith('.yaml'));
  it('has the three examples the docs refer to', () => {
    expect(files.sort()).toEqual(['allowlist-strict.yaml', 'ban-claude-code.yaml', 'monitor-only.yaml']);
  });
  it.each(files)('%s is valid and has no lint warnings', (file) => {
    const result = loadPolicy(readFileSync(join(examplesDir, file), 'utf8'), { filename: file });
    expect(result.ok ? result.warnings : result.errors).toEqual([]);
    expect(result.ok).toBe(true);
  });
});

describe('loadPolicy: refusals name the field, what was expected, and where', () => {
  const cases: Array<{ name: string; yaml: string; path: string; message: RegExp; line?: number; column?: number }> = [
    {
      name: 'unknown top-level field',
      yaml: policyYaml(['rules: []']) + 'extra: 1\n',
      path: 'extra',
      message: /unknown field "extra"/,
      line: 7,
      column: 1,
    },
    {
      name: 'unknown rule field, with a suggestion',
      yaml: policyYaml(['rules:', '  - tools: [claude-code]', '    action: block', '    efective: 2026-07-10']),
      path: 'spec.rules[0].efective',
      message: /unknown field "efective" \(did you mean "effective"\?\)/,
      line: 9,
      column: 7,
    },
    {
      name: 'bad action',
      yaml: policyYaml(['rules:', '  - tools: [claude-code]', '    action: deny']),
      path: 'spec.rules[0].action',
      message: /expected allow \| warn \| block, got "deny"/,
      line: 8,
      column: 15,
    },
    {
      name: 'missing action',
      yaml: policyYaml(['rules:', '  - tools: [claude-code]']),
      path: 'spec.rules[0].action',
      message: /is required/,
    },
    {
      name: 'empty selector list',
      yaml: policyYaml(['rules:', '  - tools: []', '    action: block']),
      path: 'spec.rules[0].tools',
      message: /must not be empty/,
    },
    {
      name: 'empty selector string',
      yaml: policyYaml(['rules:', '  - tools: [""]', '    action: block']),
      path: 'spec.rules[0].tools[0]',
      message: /must not be empty/,
    },
    {
      name: 'unknown tool id, with did-you-mean',
      yaml: policyYaml(['rules:', '  - tools: [clade-code]', '    action: block']),
      path: 'spec.rules[0].tools[0]',
      message: /unknown tool "clade-code" \(did you mean "claude-code"\?\)/,
      line: 7,
      column: 15,
    },
    {
      name: 'unknown vendor',
      yaml: policyYaml(['rules:', '  - tools: ["vendor:antropic"]', '    action: block']),
      path: 'spec.rules[0].tools[0]',
      message: /unknown vendor "antropic" \(did you mean "vendor:anthropic"\?\)/,
    },
    {
      name: 'unknown category',
      yaml: policyYaml(['rules:', '  - tools: ["category:agents"]', '    action: block']),
      path: 'spec.rules[0].tools[0]',
      message: /unknown category "agents"/,
    },
    {
      name: 'bad date',
      yaml: policyYaml(['rules:', '  - tools: [claude-code]', '    action: block', '    effective: 2026-02-30']),
      path: 'spec.rules[0].effective',
      message: /not a calendar date/,
      line: 9,
    },
    {
      name: 'date in another format',
      yaml: policyYaml(['rules:', '  - tools: [claude-code]', '    action: block', '    effective: 10/07/2026']),
      path: 'spec.rules[0].effective',
      message: /is not a date: use YYYY-MM-DD/,
    },
    {
      name: 'bad duration',
      yaml: policyYaml([
        'rules:',
        '  - tools: [claude-code]',
        '    action: block',
        '    effective: 2026-07-10',
        '    warnFor: 2 weeks',
      ]),
      path: 'spec.rules[0].warnFor',
      message: /is not a duration/,
    },
    {
      name: 'zero duration',
      yaml: policyYaml([
        'rules:',
        '  - tools: [claude-code]',
        '    action: block',
        '    effective: 2026-07-10',
        '    warnFor: 0d',
      ]),
      path: 'spec.rules[0].warnFor',
      message: /longer than zero/,
    },
    {
      name: 'warnFor without effective',
      yaml: policyYaml(['rules:', '  - tools: [claude-code]', '    action: block', '    warnFor: 14d']),
      path: 'spec.rules[0].warnFor',
      message: /needs an effective date/,
    },
    {
      name: 'until before effective',
      yaml: policyYaml([
        'rules:',
        '  - tools: [claude-code]',
        '    action: block',
        '    effective: 2026-07-10',
        '    until: 2026-07-01',
      ]),
      path: 'spec.rules[0].until',
      message: /must be after effective/,
    },
    {
      name: 'bad semver range',
      yaml: policyYaml(['rules:', '  - tools: [claude-code]', '    action: block', '    versions: ">>2.1"']),
      path: 'spec.rules[0].versions',
      message: /not an npm semver range/,
    },
    {
      name: 'unknown timezone, with did-you-mean',
      yaml: policyYaml(['timezone: Asia/Shangai']),
      path: 'spec.timezone',
      message: /unknown timezone "Asia\/Shangai" \(did you mean "Asia\/Shanghai"\?\)/,
    },
    {
      name: 'exception without a reason',
      yaml: policyYaml(['exceptions:', '  - tools: [claude-code]', '    groups: [research]']),
      path: 'spec.exceptions[0].reason',
      message: /is required/,
    },
    {
      name: 'exception ending before it starts',
      yaml: policyYaml([
        'exceptions:',
        '  - tools: [claude-code]',
        '    reason: r',
        '    from: 2026-08-01',
        '    until: 2026-07-01',
      ]),
      path: 'spec.exceptions[0].until',
      message: /must be after from/,
    },
    {
      name: 'duplicate rule names',
      yaml: policyYaml([
        'rules:',
        '  - {name: a, tools: [claude-code], action: block}',
        '  - {name: a, tools: [cursor], action: block}',
      ]),
      path: 'spec.rules[1].name',
      message: /already used by spec.rules\[0\]/,
    },
    {
      name: 'bad os in a scope',
      yaml: policyYaml(['rules:', '  - tools: [claude-code]', '    action: block', '    os: [macos]']),
      path: 'spec.rules[0].os[0]',
      message: /expected linux \| darwin \| windows, got "macos"/,
    },
    {
      name: 'wrong apiVersion',
      yaml: policyYaml([], 'apiVersion: aigate/v2\nkind: Policy\nmetadata:\n  name: x\n'),
      path: 'apiVersion',
      message: /expected "aigate\/v1", got "aigate\/v2"/,
      line: 1,
      column: 13,
    },
    {
      name: 'bad metadata name',
      yaml: policyYaml([], 'apiVersion: aigate/v1\nkind: Policy\nmetadata:\n  name: My Policy\n'),
      path: 'metadata.name',
      message: /lower-case name/,
    },
    {
      name: 'a list where an object belongs',
      yaml: policyYaml(['notice: [a, b]']),
      path: 'spec.notice',
      message: /expected an object, got a list/,
    },
  ];

  it.each(cases)('$name', ({ yaml, path, message, line, column }) => {
    const errors = errorsOf(loadPolicy(yaml, { filename: 'p.yaml' }));
    const problem = errors.find((e) => e.path === path);
    expect(problem, `no error at ${path}; got ${JSON.stringify(errors)}`).toBeDefined();
    expect(problem!.message).toMatch(message);
    if (line !== undefined) expect(problem!.line).toBe(line);
    if (column !== undefined) expect(problem!.column).toBe(column);
  });

  it.each([
    ['YAML syntax error', 'apiVersion: aigate/v1\nkind: [Policy\n', 'yaml', /YAML syntax/],
    ['duplicate YAML key', 'apiVersion: aigate/v1\napiVersion: aigate/v1\n', 'yaml', /YAML syntax: .*unique/i],
    ['JSON syntax error', '{"apiVersion": "aigate/v1",\n  "kind": }', 'json', /JSON syntax/],
    ['not an object', '- a\n- b\n', 'yaml', /must be an object/],
    ['empty document', '', 'yaml', /must be an object/],
  ] as const)('%s', (_name, text, format, message) => {
    const errors = errorsOf(loadPolicy(text, { format }));
    expect(errors[0]!.message).toMatch(message);
  });

  it('reports the JSON syntax position', () => {
    const errors = errorsOf(loadPolicy('{\n  "apiVersion": "aigate/v1",\n  "kind": }', { format: 'json' }));
    expect(errors[0]!.line).toBe(3);
  });

  it('refuses oversize input without parsing it', () => {
    const errors = errorsOf(loadPolicy('#'.repeat(1024 * 1024 + 1)));
    expect(errors[0]!.message).toMatch(/larger than/);
  });

  it('refuses alias bombs', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
    ].join('\n');
    expect(loadPolicy(bomb).ok).toBe(false);
  });
});

describe('loadPolicy: JSON input and in-memory values', () => {
  const json = JSON.stringify({
    apiVersion: 'aigate/v1',
    kind: 'Policy',
    metadata: { name: 'json-policy' },
    spec: { rules: [{ tools: ['claude-code'], action: 'block', effective: '2026-07-10T00:00:00+08:00' }] },
  });

  it('loads JSON text', () => {
    const result = loadPolicy(json, { filename: 'p.json' });
    expect(result.ok).toBe(true);
  });

  it('gives positions in JSON too', () => {
    const bad =
      '{\n  "apiVersion": "aigate/v1",\n  "kind": "Policy",\n  "metadata": {"name": "x"},\n  "spec": {"mode": "strict"}\n}';
    const problem = errorsOf(loadPolicy(bad, { format: 'json' }))[0]!;
    expect(problem).toMatchObject({ path: 'spec.mode', line: 5, column: 20 });
  });

  it('validates values without text', () => {
    const value = JSON.parse(json) as { spec: { default?: string } };
    value.spec.default = 'maybe';
    const problem = errorsOf(validatePolicyValue(value))[0]!;
    expect(problem.path).toBe('spec.default');
    expect(problem.line).toBeUndefined();
  });
});

describe('lint warnings', () => {
  const warningsOf = (lines: string[], nowMs?: number): Problem[] => {
    const result = loadPolicy(policyYaml(lines), nowMs === undefined ? {} : { nowMs });
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    return result.warnings;
  };

  it.each([
    [
      'a rule after a catch-all',
      ['rules:', '  - {tools: ["*"], action: allow}', '  - {tools: [claude-code], action: block}'],
      'spec.rules[1]',
      /rules\[0\] comes first/,
    ],
    [
      'a rule after the same tool with no narrowing',
      [
        'rules:',
        '  - {tools: [claude-code, cursor], action: warn}',
        '  - {tools: [claude-code], action: block, versions: ">=2"}',
      ],
      'spec.rules[1]',
      /can never match/,
    ],
    [
      'a vendor rule covers an id rule',
      [
        'rules:',
        '  - {tools: ["vendor:anthropic"], action: block}',
        '  - {tools: [claude-code], action: allow, groups: [a]}',
      ],
      'spec.rules[1]',
      /can never match/,
    ],
    [
      'a wider version range first',
      [
        'rules:',
        '  - {tools: [claude-code], action: block, versions: ">=2.0.0"}',
        '  - {tools: [claude-code], action: block, versions: ">=2.1.91"}',
      ],
      'spec.rules[1]',
      /can never match/,
    ],
    [
      'rules on disjoint tools',
      [
        'rules:',
        '  - {tools: ["vendor:anthropic", claude-code], action: block}',
        '  - {tools: ["category:ide"], action: warn, groups: [x]}',
      ],
      null,
      null,
    ],
    [
      'warnFor on an allow rule',
      ['rules:', '  - {tools: [claude-code], action: allow, effective: 2026-07-10, warnFor: 3d}'],
      'spec.rules[0].warnFor',
      /no effect/,
    ],
  ] as const)('%s', (_name, lines, path, message) => {
    const warnings = warningsOf([...lines]);
    if (path === null) {
      expect(warnings.filter((w) => /can never match/.test(w.message))).toEqual([]);
      return;
    }
    const warning = warnings.find((w) => w.path === path);
    expect(warning, JSON.stringify(warnings)).toBeDefined();
    expect(warning!.message).toMatch(message!);
  });

  it.each([
    [
      'a narrower scope first',
      [
        'rules:',
        '  - {tools: [claude-code], action: allow, groups: [research]}',
        '  - {tools: [claude-code], action: block}',
      ],
    ],
    [
      'a narrower version range first',
      [
        'rules:',
        '  - {tools: [claude-code], action: block, versions: ">=2.1.91"}',
        '  - {tools: [claude-code], action: warn}',
      ],
    ],
    [
      'a dated rule first',
      [
        'rules:',
        '  - {tools: [claude-code], action: block, effective: 2026-07-10}',
        '  - {tools: [claude-code], action: warn}',
      ],
    ],
    [
      'a rule that ends first',
      [
        'rules:',
        '  - {tools: [claude-code], action: allow, until: 2026-07-10}',
        '  - {tools: [claude-code], action: block}',
      ],
    ],
    [
      'an allow range cannot cover unreadable versions of a block rule',
      [
        'rules:',
        '  - {tools: [claude-code], action: allow, versions: ">=0.0.0"}',
        '  - {tools: [claude-code], action: block, versions: ">=2.1.91"}',
      ],
    ],
  ] as const)('no shadowing warning: %s', (_name, lines) => {
    expect(warningsOf([...lines]).filter((w) => /can never match/.test(w.message))).toEqual([]);
  });

  it('warns about an expired exception when the time is known', () => {
    const lines = ['exceptions:', '  - {tools: [claude-code], reason: trial, until: 2026-01-31}'];
    expect(warningsOf(lines)).toEqual([]);
    const warnings = warningsOf(lines, Date.parse('2026-03-01T00:00:00Z'));
    expect(warnings[0]).toMatchObject({ path: 'spec.exceptions[0].until', line: 7 });
    expect(warnings[0]!.message).toMatch(/expired on 2026-01-31/);
  });
});

describe('formatProblem', () => {
  it.each([
    [{ path: 'spec.mode', message: 'bad', line: 3, column: 9 }, 'p.yaml', 'p.yaml:3:9: spec.mode: bad'],
    [{ path: 'spec.mode', message: 'bad' }, 'p.yaml', 'p.yaml: spec.mode: bad'],
    [{ path: '', message: 'bad' }, undefined, 'bad'],
  ] as const)('%j', (problem, file, text) => {
    expect(formatProblem(problem, file)).toBe(text);
  });
});
