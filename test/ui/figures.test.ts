/**
 * Every figure on the overview and the tool pages is either live or says what it is as of
 * (issue 14, item 5: "DEVICES 2" beside "0 of 1 reporting devices"; a tool page saying 1 install
 * above a table of 2). The rollups run, then a second device enrolls and reports: the live
 * figures count it at once and agree with each other and with the lists, and what still comes
 * from the rollups is labelled with when they were built.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { formatInZone } from '../../policies/time.js';
import type { Overview } from '../../server/reports/overview.js';
import { overviewPage } from '../../server/ui/pages/overview.js';
import { tempDir } from '../server/helpers.js';
import { developerTools, Fleet, HOUR } from './fleet.js';
import { Browser } from './http-browser.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let fleet: Fleet;
let browser: Browser;
let rolledUpAt: string;

/** The text of the element carrying data-kpi="id" (its value, tags stripped). */
function kpi(page: string, id: string): string {
  const match = new RegExp(`data-kpi="${id}">([^<]*)<`).exec(page);
  if (!match) throw new Error(`no figure ${id} on the page`);
  return match[1]!;
}

/** The "as of" labels of a page: how many say live, and the instants the rollup ones give. */
function labels(page: string): { live: number; rollups: string[] } {
  return {
    live: [...page.matchAll(/data-as-of="live">live, as of /g)].length,
    rollups: [...page.matchAll(/data-as-of="rollups">from the daily rollups, as of ([^<]*)</g)].map((m) => m[1]!),
  };
}

beforeAll(async () => {
  dir = await tempDir('aigate-ui-figures-');
  fleet = await Fleet.start(dir.path);
  await fleet.publish();
  const first = await fleet.enroll('fig-a', { user: 'alice' });
  await fleet.checkin(first, developerTools('alice'));
  await fleet.server.app.reports.rollups.runNow();
  rolledUpAt = fleet.server.app.reports.rollups.status().lastRunAt!;
  // After the rollup: a second device with the same tools, and a third that never checks in.
  fleet.clock.advance(HOUR);
  const second = await fleet.enroll('fig-b', { user: 'bob' });
  await fleet.checkin(second, developerTools('bob'));
  await fleet.enroll('fig-c', { user: 'carol' });
  browser = new Browser(fleet.url);
  expect((await browser.signIn(fleet.adminToken)).response.status).toBe(303);
});

afterAll(async () => {
  await fleet?.close();
  await dir?.remove();
});

describe('figures that agree, or say what they are as of', () => {
  it('overview: rollups of an older policy revision tell nothing of the next change under the current one', async () => {
    const api = await fleet.json<Overview>('/overview');
    const current = api.policy!.revision;
    const older = { ...api, upcomingPolicyRevision: current - 1 };
    const stale = overviewPage(older, Date.parse(api.generatedAt), false, 'x').body.toString();
    expect(stale).toContain(`data-next-change>Being worked out for policy revision ${current}`);
    const fresh = overviewPage(
      { ...api, upcomingPolicyRevision: current },
      Date.parse(api.generatedAt),
      false,
      'x',
    ).body.toString();
    expect(fresh).not.toContain('Being worked out');
    // The instant also in the policy's own zone when that is not UTC (as `policy explain` and the notice say it).
    expect(api.nextChange).not.toBeNull();
    const zoned = overviewPage(
      { ...api, upcomingPolicyRevision: current, policy: { ...api.policy!, timezone: 'Asia/Shanghai' } },
      Date.parse(api.generatedAt),
      false,
      'x',
    ).body.toString();
    expect(zoned).toContain(
      `(${formatInZone(Date.parse(api.nextChange!.at), 'Asia/Shanghai').slice(0, 16)} Asia/Shanghai)`,
    );
    expect(fresh).not.toContain('Asia/Shanghai');
  });

  it('overview: the key figures count the device enrolled after the rollup; charts say when they were built', async () => {
    const { text, response } = await browser.get('/ui');
    expect(response.status).toBe(200);
    expect(kpi(text, 'devices-enrolled')).toBe('3');
    expect(kpi(text, 'devices-never-seen')).toBe('1');
    // Two devices have checked in, both with a blocked tool: none compliant, 2 reporting.
    expect(kpi(text, 'reporting')).toBe('2');
    expect(kpi(text, 'compliant')).toBe('0');
    expect(kpi(text, 'devices-with-blocked-tool')).toBe('2');
    // The compliance table by group says the same.
    expect(text).toMatch(/data-compliance="group"[\s\S]*data-key="engineering"[\s\S]*?0 of 2<\/span>/);
    // The API gives the same figures.
    const api = await fleet.json<Overview>('/overview');
    expect(api.compliance).toMatchObject({ devices: 2, compliant: 0, withBlockedTool: 2 });
    expect(api.devices).toMatchObject({ enrolled: 3, neverSeen: 1 });
    expect(api.asOf).toBe(rolledUpAt);
    // Labels: the key figures and the compliance tables are live; the three charts and the next
    // change (and the subheading) name the rollups' time.
    const said = labels(text);
    expect(said.live).toBeGreaterThanOrEqual(3);
    const rollupTime = `${rolledUpAt.slice(0, 16).replace('T', ' ')} UTC`;
    expect(said.rollups.length).toBeGreaterThanOrEqual(4);
    for (const at of said.rollups) expect(at).toBe(rollupTime);
  });

  it('tools: installs, devices and versions are live and match the list of installs', async () => {
    const tools = (await browser.get('/ui/tools')).text;
    const row = /<a href="\/ui\/tools\/claude-code">Claude Code<\/a>[\s\S]*?<\/tr>/.exec(tools)?.[0];
    expect(row).toBeDefined();
    // developerTools has two Claude Code installs (npm and native) per device: 4 on 2 devices.
    const cells = [...row!.matchAll(/<td class="num">([^<]*)<\/td>/g)].map((m) => m[1]);
    expect(cells).toEqual(['4', '2']);
    expect(labels(tools).live).toBe(1);
    expect(labels(tools).rollups).toHaveLength(1);

    const tool = (await browser.get('/ui/tools/claude-code')).text;
    expect(tool).toMatch(/<dt>Installs<\/dt><dd>4 on 2 devices<\/dd>/);
    const listed = /<h2>Where it is installed<\/h2>[\s\S]*?<tbody>([\s\S]*?)<\/tbody>/.exec(tool)![1]!;
    expect([...listed.matchAll(/<tr>/g)]).toHaveLength(4);
    expect(listed).toContain('fig-b');
    // Versions: each install counted, on both devices.
    const versions = /<h2>Versions<\/h2>[\s\S]*?<tbody>([\s\S]*?)<\/tbody>/.exec(tool)![1]!;
    const counted = [...versions.matchAll(/<td class="num">(\d+)<\/td><td class="num">(\d+)<\/td>/g)].map((m) => [
      Number(m[1]),
      Number(m[2]),
    ]);
    expect(counted.reduce((sum, [instances]) => sum + instances!, 0)).toBe(4);
    for (const [, devices] of counted) expect(devices).toBe(2);
    const said = labels(tool);
    expect(said.live).toBe(3);
    expect(said.rollups).toEqual([`${rolledUpAt.slice(0, 16).replace('T', ' ')} UTC`]);
  });
});
