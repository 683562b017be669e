/**
 * The compliance report (GET /v1/reports/compliance) and the overview's compliance by group and
 * by OS, on a real server whose clock the test moves: live figures today, and the share 7 and
 * 30 days ago read from the daily rollups built from the instance history.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Overview } from '../../server/reports/overview.js';
import { csvObjects, DAY, Fleet, type FleetDevice } from '../ui/fleet.js';
import { npmInstance, tempDir } from './helpers.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let fleet: Fleet;

const claude = (user: string) => npmInstance('claude-code', '@anthropic-ai/claude-code', '2.1.91', user);
const oldCodex = (user: string) => npmInstance('openai-codex-cli', '@openai/codex', '0.155.0', user);
const qwen = (user: string) => npmInstance('qwen-code', '@qwen-code/qwen-code', '0.4.1', user);
const sick = {
  state: 'degraded' as const,
  reasons: [{ code: 'ledger-damaged', message: 'the ledger cannot be read' }],
};

beforeAll(async () => {
  dir = await tempDir('aigate-compliance-');
  // Day 0 is 1 June 2026; the fleet policy blocks Claude Code and warns about Codex before 0.160.
  fleet = await Fleet.start(dir.path, Date.parse('2026-06-01T08:00:00Z'));
  await fleet.publish(undefined, 'fleet policy');
  const d: Record<string, FleetDevice> = {};
  d.engA = await fleet.enroll('eng-a', { group: 'engineering', user: 'ann', os: 'linux' });
  d.engB = await fleet.enroll('eng-b', { group: 'engineering', user: 'ben', os: 'linux' });
  d.engC = await fleet.enroll('eng-c', { group: 'engineering', user: 'cat', os: 'darwin' });
  d.desA = await fleet.enroll('des-a', { group: 'design', user: 'dee', os: 'darwin' });
  await fleet.enroll('des-b', { group: 'design', user: 'eve', os: 'windows' }); // never checks in
  // Day 0: ben has Claude Code (blocked), dee an old Codex (warned), the others nothing banned.
  await fleet.checkin(d.engA, [qwen('ann')]);
  await fleet.checkin(d.engB, [claude('ben')]);
  await fleet.checkin(d.engC, []);
  await fleet.checkin(d.desA, [oldCodex('dee')]);
  // Day 20: ben removes Claude Code; ann's laptop checks in for the last time.
  fleet.clock.advance(20 * DAY);
  await fleet.checkin(d.engB, []);
  await fleet.checkin(d.engA, [qwen('ann')]);
  // Day 28 (29 June): cat installs Claude Code; dee upgrades Codex away by removing it.
  fleet.clock.advance(8 * DAY);
  await fleet.checkin(d.engC, [claude('cat')]);
  await fleet.checkin(d.desA, []);
  // Day 31 (2 July): everyone but ann checks in; cat's agent says it is degraded.
  fleet.clock.advance(3 * DAY);
  await fleet.checkin(d.engB, []);
  await fleet.checkin(d.engC, [claude('cat')], { health: sick });
  await fleet.checkin(d.desA, []);
  await fleet.server.app.reports.rollups.runNow();
}, 60_000);

afterAll(async () => {
  await fleet?.close();
  await dir?.remove();
});

type Row = Record<string, string | number | null>;

describe('compliance by group and by OS', () => {
  it('gives each group its devices, compliant share now, and the share 7 and 30 days ago from the rollups', async () => {
    const json = await fleet.json<{
      by: string;
      trendDays: Record<string, string | null>;
      columns: { name: string }[];
      rows: Row[];
    }>('/compliance');
    expect(json.by).toBe('group');
    // 2 July minus 7 and 30 days: the rollups have every day since 1 June.
    expect(json.trendDays).toEqual({ '7d': '2026-06-25', '30d': '2026-06-02' });
    expect(json.rows).toEqual([
      {
        group: 'design',
        os: null,
        devices: 2,
        active: 1,
        reporting: 1,
        compliant: 1,
        share_compliant: 1,
        devices_with_block: 0,
        devices_with_warn: 0,
        degraded: 0,
        share_compliant_7d_ago: 0,
        share_compliant_30d_ago: 0,
      },
      {
        group: 'engineering',
        os: null,
        devices: 3,
        active: 2, // ann's last check-in was 11 days ago
        reporting: 3,
        compliant: 2,
        share_compliant: 0.6667,
        devices_with_block: 1,
        devices_with_warn: 0,
        degraded: 1,
        share_compliant_7d_ago: 1, // 25 June: ben had removed Claude Code, cat had not installed it
        share_compliant_30d_ago: 0.6667, // 2 June: ben still had it
      },
    ]);
  });

  it('gives the same per OS (no trend: the rollups are per group), as CSV and NDJSON too', async () => {
    const csv = await fleet.report('/compliance?format=csv&by=os');
    expect(csv.status).toBe(200);
    expect(csv.headers.get('x-aigate-trend-days')).toBe('7d=none, 30d=none');
    expect(csv.text.split('\n')[0]).toBe(
      'group,os,devices,active,reporting,compliant,share_compliant,devices_with_block,devices_with_warn,degraded,share_compliant_7d_ago,share_compliant_30d_ago',
    );
    const rows = csvObjects(csv.text);
    expect(
      rows.map((r) => [
        r.os,
        r.devices,
        r.reporting,
        r.compliant,
        r.share_compliant,
        r.devices_with_block,
        r.degraded,
        r.share_compliant_7d_ago,
      ]),
    ).toEqual([
      ['darwin', '2', '2', '1', '0.5', '1', '1', ''],
      ['linux', '2', '2', '2', '1', '0', '0', ''],
      ['windows', '1', '0', '0', '', '0', '0', ''],
    ]);
    const ndjson = await fleet.report('/compliance?format=ndjson&group=engineering');
    const lines = ndjson.text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Row);
    expect(lines.map((r) => r.group)).toEqual(['engineering']);
  });

  it('refuses an unknown `by` with a 400 that names it', async () => {
    const bad = await fleet.report('/compliance?by=department');
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/by/);
  });

  it('is on the overview with the same figures', async () => {
    const overview = await fleet.json<Overview>('/overview');
    const engineering = overview.complianceBy.group.find((r) => r.key === 'engineering')!;
    expect(engineering).toMatchObject({
      devices: 3,
      active: 2,
      reporting: 3,
      compliant: 2,
      withBlock: 1,
      withWarn: 0,
      degraded: 1,
    });
    expect(engineering.trend).toEqual([1, 2 / 3]);
    expect(overview.complianceBy.trendDays).toEqual(['2026-06-25', '2026-06-02']);
    expect(overview.complianceBy.os.map((r) => [r.key, r.devices, r.compliant])).toEqual([
      ['darwin', 2, 1],
      ['linux', 2, 2],
      ['windows', 1, 0],
    ]);
  });
});
