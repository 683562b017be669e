/**
 * The daily rollups on a real server whose clock the test moves: per-day figures from the
 * instance history, late check-ins and late events counted on their own day, idempotent reruns,
 * retention, the next scheduled change, the overview, the schedule and the startup run.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { builtinCatalog } from '../../policies/catalog/index.js';
import { compilePolicy } from '../../policies/compile.js';
import { loadPolicy } from '../../policies/load.js';
import { buildServer } from '../../server/app.js';
import { changesAhead } from '../../server/jobs/current-pass.js';
import { DayCounters, type DeviceInfo, HistoryAccumulator, unionSpans } from '../../server/jobs/inventory-pass.js';
import { headlineChange, type Overview } from '../../server/reports/overview.js';
import { csvObjects, DAY, developerTools, Fleet, FLEET_POLICY, HOUR } from '../ui/fleet.js';
import { npmInstance, tempDir } from './helpers.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let fleet: Fleet;

const T0 = Date.parse('2026-06-01T08:00:00Z');

beforeEach(async () => {
  dir = await tempDir('aigate-rollups-');
});
afterEach(async () => {
  await fleet?.close();
  await dir.remove();
});

const usage = async () => csvObjects((await fleet.report('/usage?format=csv')).text);
const cell = (rows: Record<string, string>[], day: string, tool: string) =>
  rows.find((r) => r.day === day && r.tool_id === tool);
const run = () => fleet.server.app.reports.rollups.runNow();

describe('day spans', () => {
  it.each([
    [[], []],
    [[[1, 3]], [[1, 3]]],
    [
      [
        [5, 7],
        [1, 3],
      ],
      [
        [1, 3],
        [5, 7],
      ],
    ],
    [
      [
        [1, 3],
        [3, 5],
      ],
      [[1, 5]],
    ],
    [
      [
        [1, 10],
        [2, 3],
        [9, 12],
      ],
      [[1, 12]],
    ],
  ] as [number, number][][][])('unions %j into %j', (spans, merged) => {
    expect(unionSpans(spans as [number, number][])).toEqual(merged);
  });

  it('counts a device with two installs of one tool once, and only the last state of a day', () => {
    const devices = new Map<string, DeviceInfo>([
      ['d1', { group: 'g', enrolledDay: 10, revokedDay: 14, reported: true }],
    ]);
    const counters = new DayCounters(10, 15);
    counters.addGroup('g', 'devices', [10, 14]);
    const history = new HistoryAccumulator(devices, counters);
    const at = (day: number, hour = 0) => day * DAY + hour * HOUR;
    history.push({
      device_id: 'd1',
      instance_key: 'claude-code\u0000/a',
      at: at(10),
      change: 'appeared',
      new_action: 'block',
    });
    history.push({
      device_id: 'd1',
      instance_key: 'claude-code\u0000/a',
      at: at(12, 1),
      change: 'verdict-changed',
      new_action: 'allow',
    });
    history.push({
      device_id: 'd1',
      instance_key: 'claude-code\u0000/b',
      at: at(11),
      change: 'appeared',
      new_action: 'allow',
    });
    // Gone and back within day 11: present at the end of it.
    history.push({
      device_id: 'd1',
      instance_key: 'claude-code\u0000/b',
      at: at(11, 2),
      change: 'disappeared',
      new_action: null,
    });
    history.push({
      device_id: 'd1',
      instance_key: 'claude-code\u0000/b',
      at: at(11, 3),
      change: 'appeared',
      new_action: 'allow',
    });
    history.finish();
    const installs = [10, 11, 12, 13, 14, 15].map((day) => counters.toolRows(day)[0]?.installs ?? 0);
    const devicesWithTool = [10, 11, 12, 13, 14, 15].map((day) => counters.toolRows(day)[0]?.devices ?? 0);
    const blocked = [10, 11, 12, 13, 14, 15].map((day) => counters.toolRows(day)[0]?.block ?? 0);
    const compliant = [10, 11, 12, 13, 14, 15].map((day) => counters.complianceRows(day)[0]?.compliant ?? 0);
    expect(installs).toEqual([1, 2, 2, 2, 0, 0]); // revoked on day 14
    expect(devicesWithTool).toEqual([1, 1, 1, 1, 0, 0]);
    expect(blocked).toEqual([1, 1, 0, 0, 0, 0]);
    expect(compliant).toEqual([0, 0, 1, 1, 0, 0]);
  });
});

describe('daily figures', () => {
  it('counts check-ins that arrive after their day was rolled up, and reruns change nothing', async () => {
    fleet = await Fleet.start(dir.path, T0);
    await fleet.publish();
    const a = await fleet.enroll('roll-a', { user: 'alice' });
    const b = await fleet.enroll('roll-b', { user: 'bob' });
    await fleet.checkin(a, developerTools('alice'));
    fleet.clock.ms = Date.parse('2026-06-01T23:50:00Z');
    expect((await run()).inventory.daysChanged).toBe(1);
    expect(cell(await usage(), '2026-06-01', 'claude-code')).toMatchObject({ installs: '2', devices: '1' });

    // Ten minutes after the run, still on 1 June: bob's first check-in.
    fleet.clock.ms = Date.parse('2026-06-01T23:58:00Z');
    await fleet.checkin(b, developerTools('bob'));
    fleet.clock.ms = Date.parse('2026-06-02T00:05:00Z');
    const second = await run();
    expect(second.inventory).toMatchObject({ rebuilt: true, days: 2, daysChanged: 2 });
    const rows = await usage();
    expect(cell(rows, '2026-06-01', 'claude-code')).toMatchObject({
      installs: '4',
      devices: '2',
      block_instances: '4',
    });
    expect(cell(rows, '2026-06-02', 'claude-code')).toMatchObject({ installs: '4', devices: '2' });

    // Nothing new: the inventory pass is skipped; asked for by hand, it finds no day to change.
    const scheduled = await fleet.server.app.reports.rollups.runNow('schedule');
    expect(scheduled.inventory.rebuilt).toBe(false);
    const manual = await run();
    expect(manual.inventory).toMatchObject({ rebuilt: true, daysChanged: 0 });
    expect(await usage()).toEqual(rows);
  });

  it('keeps counting an install through days without check-ins, until a check-in no longer reports it', async () => {
    fleet = await Fleet.start(dir.path, T0);
    await fleet.publish();
    const a = await fleet.enroll('roll-a', { user: 'alice' });
    await fleet.checkin(a, developerTools('alice'));
    fleet.clock.advance(4 * DAY);
    await fleet.checkin(
      a,
      developerTools('alice').filter((i) => i.toolId !== 'openai-codex-cli'),
    );
    await run();
    const rows = await usage();
    expect(
      ['2026-06-01', '2026-06-02', '2026-06-03', '2026-06-04', '2026-06-05'].map(
        (day) => cell(rows, day, 'openai-codex-cli')?.installs ?? '0',
      ),
    ).toEqual(['1', '1', '1', '1', '0']);
    const overview = await fleet.json<Overview>('/overview?days=7');
    expect(overview.charts.days).toEqual([
      '2026-05-30',
      '2026-05-31',
      '2026-06-01',
      '2026-06-02',
      '2026-06-03',
      '2026-06-04',
      '2026-06-05',
    ]);
    expect(overview.charts.installs.find((s) => s.toolId === 'openai-codex-cli')!.values).toEqual([
      null,
      null,
      1,
      1,
      1,
      1,
      0,
    ]);
    // Compliant only once Codex (warned) is gone; Claude Code is still blocked.
    expect(overview.charts.compliance).toEqual([null, null, 0, 0, 0, 0, 0]);
  });

  it('counts events that arrive late on the day they happened, and keeps counts after pruning raw events', async () => {
    fleet = await Fleet.start(dir.path, T0, { eventRetentionMs: 30 * DAY });
    await fleet.publish();
    const a = await fleet.enroll('roll-a', { user: 'alice' });
    await fleet.checkin(a, developerTools('alice'));
    const blocked = (at: number) => ({ type: 'blocked-launch', at, toolId: 'claude-code' });
    await fleet.events(a, [blocked(T0 + HOUR)]);
    await run();
    expect(cell(await usage(), '2026-06-01', 'claude-code')).toMatchObject({ blocked_launches: '1' });

    fleet.clock.advance(3 * DAY);
    await fleet.events(a, [blocked(T0 + 2 * HOUR), blocked(T0 + 3 * HOUR), blocked(T0 + DAY)]);
    const late = await run();
    expect(late.eventDays).toBe(3); // 1 June, 2 June and today
    let rows = await usage();
    expect(cell(rows, '2026-06-01', 'claude-code')).toMatchObject({ blocked_launches: '3' });
    expect(cell(rows, '2026-06-02', 'claude-code')).toMatchObject({ blocked_launches: '1' });

    // 40 days on: the raw events are gone, their daily counts are not.
    fleet.clock.advance(40 * DAY);
    await fleet.events(a, [blocked(T0 + 5 * HOUR)]); // too late: older than the retention
    const pruning = await run();
    expect(pruning.pruned.events).toBe(5);
    expect(pruning.eventsBefore).toBe('2026-06-14T00:00:00.000Z');
    expect((await fleet.json<{ rows: unknown[] }>('/events')).rows).toHaveLength(0);
    rows = await usage();
    expect(cell(rows, '2026-06-01', 'claude-code')).toMatchObject({ blocked_launches: '3' });
    expect(cell(rows, '2026-06-02', 'claude-code')).toMatchObject({ blocked_launches: '1' });
  });
});

describe('next scheduled change', () => {
  it('follows each instance through its coming changes with the shared evaluator', () => {
    const loaded = loadPolicy(FLEET_POLICY);
    if (!loaded.ok) throw new Error('policy');
    const compiled = compilePolicy(loaded.policy, builtinCatalog);
    const gemini = npmInstance('gemini-cli', '@google/gemini-cli', '0.21.0', 'alice');
    expect(changesAhead(compiled, gemini, { os: 'linux' }, T0)).toEqual([
      { at: Date.parse('2026-06-13T00:00:00Z'), from: 'allow', to: 'warn' },
      { at: Date.parse('2026-06-20T00:00:00Z'), from: 'warn', to: 'block' },
    ]);
    expect(
      changesAhead(
        compiled,
        npmInstance('claude-code', '@anthropic-ai/claude-code', '2.1.91', 'alice'),
        { os: 'linux' },
        T0,
      ),
    ).toEqual([]);
    expect(headlineChange([])).toBeNull();
  });

  it('is in the overview, with device counts, and follows a new policy revision', async () => {
    fleet = await Fleet.start(dir.path, T0);
    await fleet.publish();
    for (const name of ['up-a', 'up-b', 'up-c']) {
      const device = await fleet.enroll(name, { user: name.slice(3) });
      await fleet.checkin(
        device,
        name === 'up-c'
          ? [npmInstance('qwen-code', '@qwen-code/qwen-code', '0.4.1', 'c')]
          : developerTools(name.slice(3)),
      );
    }
    await run();
    const overview = await fleet.json<Overview>('/overview');
    expect(overview.nextChange).toEqual({
      at: '2026-06-20T00:00:00.000Z',
      toolId: 'gemini-cli',
      toolName: 'Gemini CLI',
      from: 'warn',
      to: 'block',
      devices: 2,
      instances: 2,
    });
    expect(overview.upcoming.map((u) => [u.at.slice(0, 10), u.toolId, u.to, u.devices])).toEqual([
      ['2026-06-13', 'gemini-cli', 'warn', 2],
      ['2026-06-20', 'gemini-cli', 'block', 2],
    ]);
    expect(overview.upcomingPolicyRevision).toBe(1);

    await fleet.publish(FLEET_POLICY.replace('effective: 2026-06-20', 'effective: 2026-07-01'));
    await fleet.json<Overview>('/overview'); // notices the new revision and refreshes in the background
    const deadline = Date.now() + 5000;
    let refreshed = await fleet.json<Overview>('/overview');
    while (refreshed.upcomingPolicyRevision !== 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      refreshed = await fleet.json<Overview>('/overview');
    }
    expect(refreshed.nextChange).toMatchObject({
      at: '2026-07-01T00:00:00.000Z',
      toolId: 'gemini-cli',
      to: 'block',
      devices: 2,
    });
  });
});

describe('the overview', () => {
  it('counts devices, compliance and this week’s launches', async () => {
    fleet = await Fleet.start(dir.path, T0);
    await fleet.publish();
    const a = await fleet.enroll('ov-a', { user: 'alice' });
    const b = await fleet.enroll('ov-b', { user: 'bob' });
    const stale = await fleet.enroll('ov-stale', { user: 'sam' });
    await fleet.enroll('ov-never', { user: 'nina' });
    const gone = await fleet.enroll('ov-gone', { user: 'gus' });
    await fleet.checkin(stale, [npmInstance('qwen-code', '@qwen-code/qwen-code', '0.4.1', 'sam')]);
    fleet.clock.advance(8 * DAY);
    await fleet.checkin(a, developerTools('alice'));
    await fleet.checkin(b, [npmInstance('qwen-code', '@qwen-code/qwen-code', '0.4.1', 'bob')]);
    await fleet.admin.post(`/devices/${gone.id}/revoke`);
    await fleet.events(a, [
      { type: 'blocked-launch', at: fleet.clock.ms - HOUR, toolId: 'claude-code' },
      { type: 'blocked-launch', at: fleet.clock.ms - 2 * DAY, toolId: 'claude-code' },
      { type: 'blocked-launch', at: fleet.clock.ms - 8 * DAY, toolId: 'claude-code' },
      { type: 'warned-launch', at: fleet.clock.ms - HOUR, toolId: 'openai-codex-cli' },
    ]);
    await run();
    const overview = await fleet.json<Overview>('/overview');
    expect(overview.devices).toEqual({ enrolled: 4, active: 2, stale: 1, neverSeen: 1, revoked: 1, degraded: 0 });
    expect(overview.compliance).toEqual({
      day: '2026-06-09',
      devices: 3,
      compliant: 2,
      share: 2 / 3,
      withBlockedTool: 1,
      withWarnedTool: 1,
    });
    expect(overview.launches).toMatchObject({ blocked: 2, warned: 1 });
    expect(overview.policy).toMatchObject({
      revision: 1,
      name: 'fleet-policy',
      mode: 'enforce',
      publishedBy: 'bootstrap',
    });
    expect(overview.asOf).toBe(new Date(fleet.clock.ms).toISOString());
    // The same figures as the coverage report.
    const coverage = csvObjects((await fleet.report('/coverage?format=csv')).text);
    expect(coverage.filter((r) => r.status === 'active')).toHaveLength(overview.devices.active);
    expect(coverage.filter((r) => r.status === 'stale')).toHaveLength(overview.devices.stale);
    expect(coverage.filter((r) => r.status === 'never-seen')).toHaveLength(overview.devices.neverSeen);
    expect(
      coverage.filter((r) => r.status !== 'revoked' && r.status !== 'never-seen' && r.violations === '0'),
    ).toHaveLength(overview.compliance.compliant);
  });
});

describe('scheduling', () => {
  it('runs at startup and on its cron schedule', async () => {
    fleet = await Fleet.start(dir.path, T0, { rollupOnStart: true, rollupSchedule: '*/1 * * * * *' });
    const rollups = fleet.server.app.reports.rollups;
    const deadline = Date.now() + 5000;
    const reasons = new Set<string>();
    while (Date.now() < deadline && !reasons.has('schedule')) {
      const reason = rollups.status().lastRun?.reason;
      if (reason) reasons.add(reason);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(reasons.has('startup')).toBe(true);
    expect(reasons.has('schedule')).toBe(true);
    const status = await fleet.json<{
      schedule: string;
      nextRunAt: string;
      lastRunAt: string;
      eventRetentionDays: number;
    }>('/rollups');
    expect(status).toMatchObject({ schedule: '*/1 * * * * *', eventRetentionDays: 400 });
    expect(Date.parse(status.nextRunAt)).toBeGreaterThan(Date.now() - 1000);
  });

  it('refuses a schedule that is not a cron expression', async () => {
    await expect(buildServer({ dataDir: dir.path, logLevel: 'silent', rollupSchedule: 'every day' })).rejects.toThrow(
      /the rollup schedule "every day" is not a valid cron expression/,
    );
  });
});
