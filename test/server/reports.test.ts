/**
 * The reports over HTTP against a real server and database file, with data created only through
 * the real API (enroll, check-in, events, publish): every column of every report, each format,
 * each filter, bad filters, roles, spreadsheet neutralisation, and the audit chain's
 * verification after the database file is edited behind the server's back.
 */
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { builtinCatalog } from '../../policies/catalog/index.js';
import { compilePolicy } from '../../policies/compile.js';
import { evaluate } from '../../policies/evaluate.js';
import type { ToolInstance } from '../../policies/inventory.js';
import { loadPolicy } from '../../policies/load.js';
import { DATABASE_FILE } from '../../server/context.js';
import { REPORTS } from '../../server/reports/kinds/index.js';
import { agentAction } from '../../server/reports/kinds/violations.js';
import { csvObjects, DAY, developerTools, Fleet, FLEET_POLICY, type FleetDevice, HOUR, parseCsv } from '../ui/fleet.js';
import { npmInstance, tempDir } from './helpers.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let fleet: Fleet;
let auditorToken: string;
let a: FleetDevice;
let b: FleetDevice;
let c: FleetDevice;
let d: FleetDevice;
let rev1: number;
let rev2: number;

const T0 = Date.parse('2026-06-01T08:00:00Z');
const T1 = T0 + DAY;
const T9 = T0 + 9 * DAY;
const iso = (ms: number) => new Date(ms).toISOString();

/** An instance whose every text field tries to be a spreadsheet formula. */
const EVIL: ToolInstance = {
  toolId: 'unknown:npm:evil-tool',
  name: '=HYPERLINK("http://attacker.example/","open me")',
  version: '+1.0.0',
  channel: 'npm',
  installPath: '@SUM(1+1)*cmd|/C calc',
  launchers: [],
  owner: 'alice',
  evidence: [],
  host: '\t=1+1',
};

const aliceTools = () => [...developerTools('alice', { claudeRunning: true }), EVIL];
const aliceNpm = (pkg: string) => `/home/alice/.npm-global/lib/node_modules/${pkg}`;
const aliceNative = '/home/alice/.local/share/claude/versions/2.1.92';

beforeAll(async () => {
  dir = await tempDir('aigate-reports-');
  fleet = await Fleet.start(dir.path, T0);
  auditorToken = await fleet.token('carol', 'auditor');
  rev1 = await fleet.publish(FLEET_POLICY, 'initial');
  a = await fleet.enroll('dev-a', { user: 'alice' });
  b = await fleet.enroll('dev-b', { group: 'design', user: 'bob' });
  c = await fleet.enroll('dev-c', { user: 'carl' });
  d = await fleet.enroll('dev-d', { user: 'dora' });

  await fleet.checkin(a, aliceTools());
  await fleet.checkin(b, [npmInstance('qwen-code', '@qwen-code/qwen-code', '0.4.1', 'bob')], { withoutVerdicts: true });
  await fleet.checkin(d, developerTools('dora'));
  await fleet.events(a, [
    { type: 'policy-applied', at: T0 },
    {
      type: 'blocked-launch',
      at: T0 + HOUR,
      toolId: 'claude-code',
      installPath: aliceNpm('@anthropic-ai/claude-code'),
      version: '2.1.91',
      user: 'alice',
      message: 'Claude Code is blocked',
    },
    {
      type: 'warned-launch',
      at: T0 + HOUR + 60_000,
      toolId: 'openai-codex-cli',
      installPath: aliceNpm('@openai/codex'),
      user: 'alice',
    },
    {
      type: 'blocked-launch',
      at: T0 + 2 * HOUR,
      toolId: 'claude-code',
      installPath: aliceNpm('@anthropic-ai/claude-code'),
      user: 'alice',
    },
    {
      type: 'quarantined',
      at: T0 + 3 * HOUR,
      toolId: 'claude-code',
      installPath: aliceNpm('@anthropic-ai/claude-code'),
      details: { movedTo: '/x/.aigate-quarantine' },
    },
    {
      type: 'tamper',
      at: T0 + 4 * HOUR,
      toolId: 'claude-code',
      installPath: aliceNative,
      message: 'launcher stub replaced by hand',
    },
    { type: 'policy-refused', at: T0 + 5 * HOUR, message: 'signature does not verify' },
  ]);

  fleet.clock.advance(DAY); // T1
  await fleet.checkin(a, aliceTools());

  fleet.clock.advance(8 * DAY); // T9: alice removed Qwen Code; dora's machine has gone quiet
  await fleet.checkin(
    a,
    aliceTools().filter((i) => i.toolId !== 'qwen-code'),
  );
  await fleet.checkin(b, [npmInstance('qwen-code', '@qwen-code/qwen-code', '0.4.1', 'bob')], { withoutVerdicts: true });
  // An event from the first day, sent only now (the agent was offline).
  await fleet.events(a, [
    {
      type: 'blocked-launch',
      at: T0 + 30 * 60_000,
      toolId: 'claude-code',
      installPath: aliceNpm('@anthropic-ai/claude-code'),
      user: 'alice',
    },
  ]);

  const dave = await fleet.token('dave', 'admin');
  rev2 = (
    await new (await import('../../server/client/admin-client.js')).AdminClient(fleet.url, dave).post<{
      revision: number;
    }>('/policies', {
      source: FLEET_POLICY.replace('name: fleet-policy', 'name: fleet-policy-v2'),
      comment: 'second',
    })
  ).revision;
});

afterAll(async () => {
  await fleet?.close();
  await dir?.remove();
});

function verdictsNow(instances: ToolInstance[], device: FleetDevice, at: number) {
  const loaded = loadPolicy(FLEET_POLICY);
  if (!loaded.ok) throw new Error('policy');
  return evaluate(
    compilePolicy(loaded.policy, builtinCatalog),
    instances,
    { os: 'linux', group: device.group, deviceId: device.id, hostname: device.hostname },
    at,
  );
}

describe('the list of reports and the OpenAPI document', () => {
  it('lists every report with its filters and columns', async () => {
    const listed = await fleet.json<{ reports: { kind: string; columns: { name: string }[]; filters: string[] }[] }>(
      '/',
    );
    expect(listed.reports.map((r) => r.kind)).toEqual([
      'inventory',
      'violations',
      'events',
      'coverage',
      'compliance',
      'usage',
      'policies',
      'audit',
      'attestation',
    ]);
    for (const report of listed.reports)
      expect(report.columns.map((c) => c.name)).toEqual(
        REPORTS.find((r) => r.kind === report.kind)!.columns.map((c) => c.name),
      );
  });

  it('documents every report, its filters and columns in /docs', async () => {
    const doc = (await (await fetch(`${fleet.url}/docs/json`)).json()) as {
      paths: Record<
        string,
        { get?: { parameters?: { name: string }[]; responses: Record<string, { description: string }> } }
      >;
    };
    for (const report of REPORTS) {
      const get = doc.paths[`/v1/reports/${report.kind}`]?.get;
      expect(get, report.kind).toBeDefined();
      expect(get!.parameters!.map((p) => p.name).sort()).toEqual(['format', ...report.filters].sort());
      for (const col of report.columns) expect(get!.responses['200']!.description).toContain(`\`${col.name}\``);
    }
    expect(doc.paths['/v1/reports/overview']).toBeDefined();
  });
});

describe('inventory', () => {
  it('has every column right for an instance, compared with what was checked in', async () => {
    const rows = csvObjects((await fleet.report('/inventory?format=csv')).text);
    const npm = rows.find((r) => r.device_id === a.id && r.install_path === aliceNpm('@anthropic-ai/claude-code'))!;
    const verdict = verdictsNow(aliceTools(), a, T0)[0]!;
    expect(npm).toEqual({
      device_id: a.id,
      hostname: 'dev-a',
      group: 'engineering',
      user: 'alice',
      tool_id: 'claude-code',
      tool_name: 'Claude Code',
      vendor: 'Anthropic',
      version: '2.1.91',
      channel: 'npm',
      install_path: aliceNpm('@anthropic-ai/claude-code'),
      editor: '',
      first_seen: iso(T0),
      last_seen: iso(T9),
      present: 'true',
      removed_at: '',
      running: '',
      running_last_seen: '',
      verdict: 'block',
      enforced: 'true',
      phase: 'in-effect',
      decided_by: 'ban-claude-code',
      effective_at: verdict.effectiveAt!,
      violation_since: iso(T0),
      policy_revision: String(rev1),
    });
    const native = rows.find((r) => r.install_path === aliceNative)!;
    expect(native).toMatchObject({
      channel: 'native',
      tool_name: 'Claude Code',
      running: 'true',
      running_last_seen: iso(T9),
    });
    const qwen = rows.find((r) => r.device_id === a.id && r.tool_id === 'qwen-code')!;
    // Removed at T9: last reported by the check-in of T1.
    expect(qwen).toMatchObject({
      present: 'false',
      removed_at: iso(T9),
      last_seen: iso(T1),
      first_seen: iso(T0),
      verdict: 'allow',
      decided_by: 'default',
      violation_since: '',
    });
    const bobs = rows.find((r) => r.device_id === b.id)!;
    expect(bobs).toMatchObject({
      group: 'design',
      verdict: '',
      enforced: '',
      policy_revision: '',
      vendor: 'Alibaba Cloud',
    });
    expect(rows).toHaveLength(6 + 1 + 5);
    expect(rows.some((r) => r.device_id === c.id)).toBe(false);
  });

  it('matches the device API for every instance', async () => {
    const rows = (await fleet.json<{ rows: Record<string, string | boolean | null>[] }>('/inventory')).rows;
    for (const device of [a, d]) {
      const api = await fleet.admin.get<{
        instances: {
          instance: ToolInstance;
          firstSeenAt: string;
          lastSeenAt: string;
          present: boolean;
          violationSince: string | null;
          verdict: { action: string } | null;
        }[];
      }>(`/devices/${device.id}`);
      for (const stored of api.instances) {
        const row = rows.find((r) => r.device_id === device.id && r.install_path === stored.instance.installPath)!;
        expect(row, stored.instance.installPath).toBeDefined();
        expect(row.first_seen).toBe(stored.firstSeenAt);
        expect(row.last_seen).toBe(stored.lastSeenAt);
        expect(row.present).toBe(stored.present);
        expect(row.violation_since).toBe(stored.violationSince);
        expect(row.verdict).toBe(stored.verdict?.action ?? null);
        expect(row.version).toBe(stored.instance.version);
      }
    }
  });

  it('gives the same rows as CSV, JSON and NDJSON', async () => {
    const csv = await fleet.report('/inventory?format=csv');
    const json = await fleet.report('/inventory?format=json');
    const ndjson = await fleet.report('/inventory?format=ndjson');
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(json.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(ndjson.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    expect(csv.headers.get('content-disposition')).toMatch(
      /^attachment; filename="aigate-inventory-20260610-080000Z\.csv"$/,
    );
    const document = JSON.parse(json.text) as {
      report: string;
      generatedAt: string;
      filters: object;
      columns: string[];
      rows: Record<string, unknown>[];
    };
    expect(document).toMatchObject({ report: 'inventory', generatedAt: iso(T9), filters: {} });
    const lines = ndjson.text
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toEqual(document.rows);
    const asText = (value: unknown) => (value === null ? '' : String(value));
    const csvRows = parseCsv(csv.text);
    expect(csvRows[0]).toEqual(document.columns);
    document.rows.forEach((row, i) => {
      // The CSV differs only where a cell had to be neutralised.
      expect(csvRows[i + 1]!.map((cell) => cell.replace(/^'(?=[=+\-@\t\r])/, ''))).toEqual(
        document.columns.map((name) => asText(row[name])),
      );
    });
    const first = document.rows.find((row) => row.device_id === a.id)!;
    expect(typeof first.present).toBe('boolean');
    expect(typeof first.policy_revision).toBe('number');
  });

  it('neutralises cells a spreadsheet would run as formulas, in CSV only', async () => {
    const csv = csvObjects((await fleet.report('/inventory?format=csv&tool=unknown:npm:evil-tool')).text);
    expect(csv).toHaveLength(1);
    expect(csv[0]).toMatchObject({
      tool_name: `'=HYPERLINK("http://attacker.example/","open me")`,
      version: "'+1.0.0",
      install_path: "'@SUM(1+1)*cmd|/C calc",
      editor: "'\t=1+1",
    });
    const json = await fleet.json<{ rows: Record<string, unknown>[] }>('/inventory?tool=unknown:npm:evil-tool');
    expect(json.rows[0]).toMatchObject({ tool_name: EVIL.name, version: '+1.0.0', install_path: EVIL.installPath });
  });

  it.each([
    ['tool=claude-code', (r: Record<string, string>) => r.tool_id === 'claude-code', 4],
    ['group=design', (r: Record<string, string>) => r.group === 'design', 1],
    ['user=dora', (r: Record<string, string>) => r.user === 'dora', 5],
    ['verdict=block', (r: Record<string, string>) => r.verdict === 'block', 4],
    ['verdict=warn', (r: Record<string, string>) => r.verdict === 'warn', 2],
    ['verdict=none', (r: Record<string, string>) => r.verdict === '', 1],
    ['present=false', (r: Record<string, string>) => r.present === 'false', 1],
    ['device=dev-d', (r: Record<string, string>) => r.hostname === 'dev-d', 5],
    // Seen at some time from 2026-06-05 on: alice's and bob's current tools (dora's were last seen on 06-01).
    ['from=2026-06-05', (r: Record<string, string>) => (r.last_seen ?? '') >= '2026-06-05', 6],
    // First seen before 06-01 09:00: all of the first check-ins.
    ['to=2026-06-01T09:00', (r: Record<string, string>) => (r.first_seen ?? '') < '2026-06-01T09:00', 12],
    ['to=2026-06-01T08:00:00Z', () => false, 0],
  ])('filters by %s', async (query, keep, count) => {
    const all = csvObjects((await fleet.report('/inventory?format=csv')).text);
    const filtered = csvObjects((await fleet.report(`/inventory?format=csv&${query}`)).text);
    expect(filtered).toEqual(all.filter(keep));
    expect(filtered).toHaveLength(count);
  });

  it('filters by device id too', async () => {
    const rows = (await fleet.json<{ rows: { device_id: string }[] }>(`/inventory?device=${b.id}`)).rows;
    expect(rows.map((r) => r.device_id)).toEqual([b.id]);
  });
});

describe('bad filters are a 400 naming the filter', () => {
  it.each([
    ['/inventory?colour=red', /query\.colour is not a known field/],
    ['/inventory?verdict=maybe', /query\.verdict expected allow \| warn \| block \| none/],
    ['/inventory?format=xml', /query\.format expected csv \| json \| ndjson/],
    ['/inventory?from=yesterday', /query\.from: "yesterday" is not a date/],
    ['/inventory?from=2026-06-05&to=2026-06-01', /query\.from \(2026-06-05\) must be before query\.to/],
    ['/inventory?tool=claude', /query\.tool: "claude" is not a tool of the catalog; did you mean "claude-code"\?/],
    ['/inventory?present=perhaps', /query\.present expected true or false/],
    [
      '/events?verdict=block',
      /query\.verdict is not a known field \(allowed: format, from, to, tool, group, user, device, type\)/,
    ],
    ['/violations?verdict=allow', /query\.verdict expected warn \| block/],
    ['/coverage?staleAfter=soon', /query\.staleAfter: "soon" is not a duration/],
    ['/coverage?status=lost', /query\.status expected active \| stale \| never-seen \| revoked/],
    ['/usage?user=alice', /query\.user is not a known field/],
    ['/inventory?group=not%20a%20group', /query\.group expected a group name/],
  ])('%s', async (path, message) => {
    const result = await fleet.report(path);
    expect(result.status).toBe(400);
    const body = JSON.parse(result.text) as { error: string; message: string };
    expect(body.error).toBe('invalid_request');
    expect(body.message).toMatch(message);
  });
});

describe('violations', () => {
  it('lists warned and blocked installs with since-when, the rule and what the agent did', async () => {
    const rows = csvObjects((await fleet.report('/violations?format=csv')).text);
    expect(rows).toHaveLength(6);
    const npm = rows.find((r) => r.install_path === aliceNpm('@anthropic-ai/claude-code'))!;
    expect(npm).toEqual({
      device_id: a.id,
      hostname: 'dev-a',
      group: 'engineering',
      user: 'alice',
      tool_id: 'claude-code',
      tool_name: 'Claude Code',
      vendor: 'Anthropic',
      version: '2.1.91',
      channel: 'npm',
      install_path: aliceNpm('@anthropic-ai/claude-code'),
      verdict: 'block',
      enforced: 'true',
      phase: 'in-effect',
      decided_by: 'ban-claude-code',
      effective_at: '2020-01-01T00:00:00.000Z',
      // Reported as blocked at T0, T1 and T9: still the first moment.
      violation_since: iso(T0),
      last_seen: iso(T9),
      policy_revision: String(rev1),
      agent_action: 'quarantined',
      blocked_launches: '3',
      warned_launches: '0',
      quarantined_at: iso(T0 + 3 * HOUR),
      restored_at: '',
      last_tamper_at: '',
      last_event: `quarantined ${iso(T0 + 3 * HOUR)}`,
    });
    expect(rows.find((r) => r.install_path === aliceNative)).toMatchObject({
      agent_action: 'none-reported',
      last_tamper_at: iso(T0 + 4 * HOUR),
      last_event: `tamper ${iso(T0 + 4 * HOUR)}`,
    });
    expect(rows.find((r) => r.device_id === a.id && r.tool_id === 'openai-codex-cli')).toMatchObject({
      verdict: 'warn',
      decided_by: 'old-codex',
      agent_action: 'launches-warned',
      warned_launches: '1',
    });
    expect(rows.filter((r) => r.device_id === d.id).map((r) => r.agent_action)).toEqual([
      'none-reported',
      'none-reported',
      'none-reported',
    ]);
  });

  it.each([
    ['verdict=warn', 2],
    ['verdict=block', 4],
    ['tool=openai-codex-cli', 2],
    ['user=alice', 3],
    ['device=dev-d', 3],
    ['group=design', 0],
    ['from=2026-06-01&to=2026-06-02', 6],
    ['from=2026-06-02', 0],
  ])('filters by %s', async (query, count) => {
    expect((await fleet.json<{ rows: unknown[] }>(`/violations?${query}`)).rows).toHaveLength(count);
  });

  it.each([
    [{ enforce: 0, quarantined_at: 5, restored_at: null, blocked_launches: 3, warned_launches: 0 }, 'monitor-only'],
    [{ enforce: 1, quarantined_at: 5, restored_at: null, blocked_launches: 3, warned_launches: 0 }, 'quarantined'],
    [{ enforce: 1, quarantined_at: 5, restored_at: 9, blocked_launches: 3, warned_launches: 0 }, 'launches-blocked'],
    [
      { enforce: 1, quarantined_at: null, restored_at: null, blocked_launches: 0, warned_launches: 2 },
      'launches-warned',
    ],
    [
      { enforce: null, quarantined_at: null, restored_at: null, blocked_launches: 0, warned_launches: 0 },
      'none-reported',
    ],
  ] as const)('summarises what the agent did: %o is %s', (row, expected) => {
    expect(agentAction(row)).toBe(expected);
  });
});

describe('events', () => {
  it('lists events oldest first, with late arrivals in place and policy-applied left out', async () => {
    const rows = csvObjects((await fleet.report('/events?format=csv')).text);
    expect(rows.map((r) => r.type)).toEqual([
      'blocked-launch',
      'blocked-launch',
      'warned-launch',
      'blocked-launch',
      'quarantined',
      'tamper',
      'policy-refused',
    ]);
    expect(rows[0]).toMatchObject({
      at: iso(T0 + 30 * 60_000),
      received_at: iso(T9),
      hostname: 'dev-a',
      group: 'engineering',
      tool_id: 'claude-code',
      tool_name: 'Claude Code',
      user: 'alice',
    });
    const first = rows.find((r) => r.message === 'Claude Code is blocked')!;
    expect(first).toMatchObject({
      at: iso(T0 + HOUR),
      received_at: iso(T0),
      device_id: a.id,
      version: '2.1.91',
      install_path: aliceNpm('@anthropic-ai/claude-code'),
      policy_revision: '',
      details: '',
    });
    expect(first.event_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(rows.find((r) => r.type === 'quarantined')!.details).toBe('{"movedTo":"/x/.aigate-quarantine"}');
    const json = await fleet.json<{ rows: { type: string; details: unknown }[] }>('/events?type=quarantined');
    expect(json.rows[0]!.details).toEqual({ movedTo: '/x/.aigate-quarantine' });
  });

  it.each([
    ['type=blocked-launch', 3],
    ['type=policy-applied', 1],
    ['tool=claude-code', 5],
    ['user=alice', 4],
    ['group=design', 0],
    ['device=dev-a', 7],
    ['from=2026-06-01T09:00&to=2026-06-01T11:00:00%2B00:00', 3],
  ])('filters by %s', async (query, count) => {
    expect((await fleet.json<{ rows: unknown[] }>(`/events?${query}`)).rows).toHaveLength(count);
  });
});

describe('coverage', () => {
  it('gives every device its status, agent, policy revision and counts', async () => {
    const rows = csvObjects((await fleet.report('/coverage?format=csv')).text);
    expect(rows.map((r) => [r.hostname, r.status, r.stale])).toEqual([
      ['dev-b', 'active', 'false'],
      ['dev-a', 'active', 'false'],
      ['dev-c', 'never-seen', 'true'],
      ['dev-d', 'stale', 'true'],
    ]);
    expect(rows.find((r) => r.hostname === 'dev-a')).toEqual({
      device_id: a.id,
      hostname: 'dev-a',
      group: 'engineering',
      os: 'linux',
      os_version: 'Ubuntu 24.04',
      arch: 'x64',
      users: 'alice',
      agent_version: '0.3.1',
      enrolled_at: iso(T0),
      last_checkin: iso(T9),
      last_contact: iso(T9),
      status: 'active',
      stale: 'false',
      days_since_checkin: '0',
      policy_revision: String(rev1),
      current_policy_revision: String(rev2),
      policy_up_to_date: 'false',
      tools: '5',
      violations: '3',
      revoked_at: '',
      health: 'unknown',
      health_reasons: '',
      health_detail: '',
      degraded_since: '',
    });
    expect(rows.find((r) => r.hostname === 'dev-d')).toMatchObject({
      days_since_checkin: '9',
      last_checkin: iso(T0),
      violations: '3',
    });
    expect(rows.find((r) => r.hostname === 'dev-c')).toMatchObject({
      last_checkin: '',
      days_since_checkin: '',
      policy_revision: '',
      tools: '0',
    });
    const json = await fleet.json<{ rows: { users: string[] }[]; staleAfterMs: number }>(
      '/coverage?device=x'.replace('?device=x', ''),
    );
    expect(json.rows[0]!.users).toEqual(['bob']);
    expect(json.staleAfterMs).toBe(7 * DAY);
  });

  it.each([
    ['status=stale', ['dev-d']],
    ['status=never-seen', ['dev-c']],
    ['staleAfter=10d', ['dev-b', 'dev-a', 'dev-c', 'dev-d']],
    ['staleAfter=10d&status=stale', []],
    ['group=design', ['dev-b']],
    ['user=carl', ['dev-c']],
  ])('filters by %s', async (query, hostnames) => {
    expect(
      (await fleet.json<{ rows: { hostname: string }[] }>(`/coverage?${query}`)).rows.map((r) => r.hostname),
    ).toEqual(hostnames);
  });

  it('shows revoked devices as revoked', async () => {
    const e = await fleet.enroll('dev-e', { user: 'eve' });
    await fleet.admin.post(`/devices/${e.id}/revoke`);
    expect(
      (await fleet.json<{ rows: { hostname: string; revoked_at: string }[] }>('/coverage?status=revoked')).rows,
    ).toEqual([expect.objectContaining({ hostname: 'dev-e', revoked_at: iso(T9) })]);
  });
});

describe('usage (from the rollups)', () => {
  beforeAll(async () => {
    await fleet.server.app.reports.rollups.runNow();
  });

  it('counts installs, devices, running and launches per tool and day', async () => {
    const rows = csvObjects((await fleet.report('/usage?format=csv')).text);
    const cell = (day: string, tool: string) => rows.find((r) => r.day === day && r.tool_id === tool);
    expect(cell('2026-06-01', 'claude-code')).toEqual({
      day: '2026-06-01',
      tool_id: 'claude-code',
      tool_name: 'Claude Code',
      vendor: 'Anthropic',
      installs: '4',
      devices: '2',
      devices_running: '1',
      warn_instances: '0',
      block_instances: '4',
      warned_launches: '0',
      // Two sent that day, one sent nine days later for that day.
      blocked_launches: '3',
    });
    expect(cell('2026-06-01', 'openai-codex-cli')).toMatchObject({
      installs: '2',
      warn_instances: '2',
      warned_launches: '1',
    });
    expect(cell('2026-06-01', 'qwen-code')).toMatchObject({ installs: '3', devices: '3' });
    expect(cell('2026-06-05', 'qwen-code')).toMatchObject({ installs: '3' });
    expect(cell('2026-06-10', 'qwen-code')).toMatchObject({ installs: '2', devices: '2' });
    expect(cell('2026-06-05', 'claude-code')).toMatchObject({
      installs: '4',
      devices_running: '0',
      blocked_launches: '0',
    });
    expect(cell('2026-06-10', 'claude-code')).toMatchObject({ devices_running: '1' });
    expect(cell('2026-06-01', 'unknown:npm:evil-tool')).toMatchObject({ tool_name: 'evil-tool', vendor: '' });
    expect(new Set(rows.map((r) => r.day)).size).toBe(10);
  });

  it('filters by days, tool and group', async () => {
    const rows = (
      await fleet.json<{ rows: { day: string; tool_id: string }[]; rollupAt: string }>(
        '/usage?from=2026-06-09&to=2026-06-10&tool=qwen-code',
      )
    ).rows;
    expect(rows.map((r) => r.day)).toEqual(['2026-06-09', '2026-06-10']);
    const design = (
      await fleet.json<{ rows: { installs: number }[] }>('/usage?group=design&tool=qwen-code&from=2026-06-10')
    ).rows;
    expect(design).toEqual([expect.objectContaining({ installs: 1, devices: 1 })]);
    const result = await fleet.report('/usage?format=csv');
    expect(result.headers.get('x-aigate-rollup-at')).toBe(iso(T9));
  });
});

describe('policies', () => {
  it('lists every revision with who published it, when and why', async () => {
    const rows = csvObjects((await fleet.report('/policies?format=csv')).text);
    expect(rows).toEqual([
      expect.objectContaining({
        revision: String(rev1),
        name: 'fleet-policy',
        published_at: iso(T0),
        published_by: 'bootstrap',
        comment: 'initial',
        mode: 'enforce',
        rules: '3',
        exceptions: '0',
        current: 'false',
        source_format: 'yaml',
        source: FLEET_POLICY,
        rollback_of: '',
        exception_request: '',
      }),
      expect.objectContaining({
        revision: String(rev2),
        name: 'fleet-policy-v2',
        published_at: iso(T9),
        published_by: 'dave',
        comment: 'second',
        current: 'true',
      }),
    ]);
    expect(rows[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect((await fleet.json<{ rows: unknown[] }>('/policies?from=2026-06-02')).rows).toHaveLength(1);
  });
});

describe('audit', () => {
  it('lists the chain, verified', async () => {
    const result = await fleet.report('/audit?format=csv');
    expect(result.headers.get('x-aigate-audit-verified')).toBe('ok');
    const rows = csvObjects(result.text);
    expect(rows.length).toBeGreaterThanOrEqual(7);
    expect(rows.every((r) => r.chain === 'ok')).toBe(true);
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => String(i + 1)));
    expect(rows.find((r) => r.action === 'policy.publish' && r.actor_name === 'dave')).toMatchObject({
      target: `policy:${rev2}`,
      actor_role: 'admin',
      at: iso(T9),
    });
    expect(result.headers.get('x-aigate-audit-entries')).toBe(String(rows.length));
    expect(result.headers.get('x-aigate-audit-head')).toBe(rows[rows.length - 1]!.hash);
    const json = await fleet.json<{ verification: { ok: boolean; entries: number }; rows: { details: unknown }[] }>(
      '/audit',
    );
    expect(json.verification).toMatchObject({ ok: true, entries: rows.length });
    expect(typeof json.rows[0]!.details).toBe('object');
    expect((await fleet.json<{ rows: unknown[] }>('/audit?from=2026-06-02')).rows).toHaveLength(
      rows.filter((r) => (r.at ?? '') >= '2026-06-02').length,
    );
  });

  it('detects rows edited in the database file behind the server', async () => {
    const raw = new Database(join(dir.path, DATABASE_FILE));
    try {
      raw.exec('DROP TRIGGER audit_log_no_update');
      raw.prepare('UPDATE audit_log SET details = \'{"name":"innocent"}\' WHERE seq = 3').run();
      raw.prepare("UPDATE audit_log SET hash = 'f00d' || substr(hash, 5) WHERE seq = 5").run();
    } finally {
      raw.close();
    }
    const result = await fleet.report('/audit?format=csv');
    expect(result.headers.get('x-aigate-audit-verified')).toBe('broken');
    expect(result.headers.get('x-aigate-audit-broken-at')).toBe('3');
    const rows = csvObjects(result.text);
    expect(rows.slice(0, 7).map((r) => r.chain)).toEqual(['ok', 'ok', 'changed', 'ok', 'changed', 'unlinked', 'ok']);
    const json = await fleet.json<{ verification: { ok: boolean; brokenAt: number; problem: string } }>('/audit');
    expect(json.verification).toMatchObject({
      ok: false,
      brokenAt: 3,
      problem: 'entry 3 was changed after it was written',
    });
  });
});

describe('who may read reports', () => {
  it('admins and auditors may; devices and strangers may not', async () => {
    expect((await fleet.report('/violations?format=csv', auditorToken)).status).toBe(200);
    expect((await fleet.report('/overview', auditorToken)).status).toBe(200);
    const noToken = await fetch(`${fleet.url}/v1/reports/inventory`);
    expect(noToken.status).toBe(401);
    const asDevice = await fleet.send(a, 'GET', '/v1/reports/inventory');
    expect(asDevice.status).toBe(401);
    expect((await fleet.report('/inventory', 'aigt_' + 'x'.repeat(43))).status).toBe(401);
  });

  it('only admins may run the rollups on demand', async () => {
    const asAuditor = await fetch(`${fleet.url}/v1/reports/rollups/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${auditorToken}` },
    });
    expect(asAuditor.status).toBe(403);
    const asAdmin = await fetch(`${fleet.url}/v1/reports/rollups/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fleet.adminToken}` },
    });
    expect(asAdmin.status).toBe(200);
    const status = (await asAdmin.json()) as { lastRun: { reason: string; inventory: { rebuilt: boolean } } };
    expect(status.lastRun).toMatchObject({ reason: 'manual', inventory: { rebuilt: true } });
  });
});
