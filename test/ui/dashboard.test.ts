/**
 * The dashboard in a real browser (Debian's chromium, driven by playwright-core) against a real
 * server seeded through the real API: sign in, compare the overview with the API, search and
 * open a device, preview a draft policy, approve an exception and see the policy revision go
 * up, download a CSV, and check keyboard use, labels and that nothing is fetched from
 * elsewhere. Screenshots of every page go to test-artifacts/ui/.
 *
 * Chromium is required: without /usr/bin/chromium these tests fail (CI installs it).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { verifyAttestation } from '../../policies/attestation.js';
import type { Overview } from '../../server/reports/overview.js';
import { npmInstance, tempDir } from '../server/helpers.js';
import { DAY, developerTools, Fleet, type FleetDevice, HOUR } from './fleet.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/ui/', import.meta.url));

let dir: Awaited<ReturnType<typeof tempDir>>;
let fleet: Fleet;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let auditorToken: string;
const devices: FleetDevice[] = [];
let requestId: string;
/** Every URL the browser asked for, and every console error. */
const requested: string[] = [];
const consoleErrors: string[] = [];

async function shot(name: string, target: Page = page): Promise<void> {
  await target.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Every page of the dashboard, by name, with a tool, a device and a revision of the fleet. */
async function dashboardPages(): Promise<[string, string][]> {
  return [
    ['overview', '/ui'],
    ['tools', '/ui/tools'],
    ['tool', '/ui/tools/claude-code'],
    ['devices', '/ui/devices'],
    ['device', `/ui/devices/${devices[0]!.id}`],
    ['policy', '/ui/policy'],
    ['policy-revision', `/ui/policy/revisions/${await fleet.currentRevision()}`],
    ['exceptions', '/ui/exceptions?status=all'],
    ['reports', '/ui/reports'],
    ['attestation', `/ui/attestation?at=${encodeURIComponent(ATTEST_AT)}`],
  ];
}

/** The instant the attestation tests look at: midnight in China on 3 June, after two days of check-ins. */
const ATTEST_AT = '2026-06-03T00:00:00+08:00';

async function signIn(target: Page, token: string): Promise<void> {
  await target.goto(`${fleet.url}/ui`);
  await target.waitForURL(/\/ui\/login/);
  await target.getByLabel('Admin or auditor token').fill(token);
  await target.getByRole('button', { name: 'Sign in' }).click();
  await target.waitForURL(`${fleet.url}/ui`);
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); the browser tests do not skip`,
    );
  }
  await mkdir(ARTIFACTS, { recursive: true });
  dir = await tempDir('aigate-ui-browser-');
  fleet = await Fleet.start(dir.path, Date.parse('2026-06-01T08:00:00Z'));
  await fleet.publish(undefined, 'first policy');
  auditorToken = await fleet.token('audrey', 'auditor');
  const people = ['alice', 'bob', 'carol', 'dan', 'erin', 'frank'];
  for (const [i, user] of people.entries())
    devices.push(await fleet.enroll(`dash-${user}`, { user, group: i < 4 ? 'engineering' : 'design' }));
  await fleet.enroll('dash-new', { user: 'nora' }); // never checks in
  for (let day = 0; day < 5; day++) {
    for (const [i, device] of devices.entries()) {
      if (i === 5 && day > 0) continue; // frank's laptop goes quiet
      const user = people[i]!;
      const tools =
        i === 3
          ? [npmInstance('qwen-code', '@qwen-code/qwen-code', '0.4.1', user)]
          : developerTools(user, { claudeRunning: i === 0 });
      await fleet.checkin(device, tools);
    }
    await fleet.events(devices[0]!, [
      { type: 'blocked-launch', at: fleet.clock.ms - HOUR, toolId: 'claude-code', user: 'alice' },
    ]);
    fleet.clock.advance(DAY);
  }
  fleet.clock.advance(4 * DAY); // 10 June: frank is stale
  for (const [i, device] of devices.entries())
    if (i !== 5)
      await fleet.checkin(
        device,
        i === 3
          ? [npmInstance('qwen-code', '@qwen-code/qwen-code', '0.4.1', 'dan')]
          : developerTools(people[i]!, { claudeRunning: i === 0 }),
      );
  requestId = await fleet.requestException(
    devices[1]!,
    'claude-code',
    'Security review of the payment service (SEC-4411).',
    { user: 'bob', installPath: '/home/bob/.npm-global/lib/node_modules/@anthropic-ai/claude-code' },
  );
  await fleet.server.app.reports.rollups.runNow();

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  context = await browser.newContext({ viewport: { width: 1366, height: 900 }, acceptDownloads: true });
  context.on('request', (request) => requested.push(request.url()));
  page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(error.message));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await fleet?.close();
  await dir?.remove();
});

describe('the dashboard in a browser', () => {
  it('signs in with a token and shows the overview figures of the API', async () => {
    await signIn(page, fleet.adminToken);
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'aigate_session')!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/ui' });
    // The token is nowhere the page's scripts could read it.
    // (Page scripts are strings: this project's type-check has no DOM library.)
    const storage = await page.evaluate<string>(
      'JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie })',
    );
    expect(storage).not.toContain('aigt_');
    expect(storage).not.toContain(session.value);

    const api = await fleet.json<Overview>('/overview');
    const kpi = (id: string) => page.locator(`[data-kpi="${id}"]`).innerText();
    expect(await kpi('devices-enrolled')).toBe(String(api.devices.enrolled));
    expect(await kpi('devices-active')).toBe(String(api.devices.active));
    expect(await kpi('devices-stale')).toBe(String(api.devices.stale));
    expect(await kpi('devices-never-seen')).toBe(String(api.devices.neverSeen));
    expect(await kpi('compliant')).toBe(String(api.compliance.compliant));
    expect(await kpi('reporting')).toBe(String(api.compliance.devices));
    expect(await kpi('compliant-share')).toBe(`${Math.round(api.compliance.share! * 1000) / 10}%`.replace('.0%', '%'));
    expect(await kpi('devices-with-blocked-tool')).toBe(String(api.compliance.withBlockedTool));
    expect(await kpi('blocked-launches-week')).toBe(String(api.launches.blocked));
    expect(api.devices).toEqual({ enrolled: 7, active: 5, stale: 1, neverSeen: 1, revoked: 0, degraded: 0 });
    expect(api.compliance).toMatchObject({ devices: 6, compliant: 1, withBlockedTool: 5 });
    expect(await page.locator('[data-next-change]').innerText()).toBe(
      `Gemini CLI becomes blocked in 9 days on ${api.nextChange!.devices} devices`,
    );
    expect(await page.locator('[data-policy-revision]').innerText()).toBe('1');
    expect(await page.locator('svg.chart').count()).toBe(3);
    // Compliance by group and by OS: the API's figures, one row each.
    for (const row of api.complianceBy.group) {
      const cell = page.locator(`table[data-compliance="group"] tr[data-key="${row.key}"] [data-share]`);
      expect(await cell.innerText()).toBe(row.share === null ? '–' : `${Math.round(row.share * 100)}%`);
    }
    expect(await page.locator('table[data-compliance="group"] tbody tr').count()).toBe(api.complianceBy.group.length);
    expect(await page.locator('table[data-compliance="os"] tbody tr').count()).toBe(api.complianceBy.os.length);
    expect(api.complianceBy.group.map((r) => r.key)).toEqual(['design', 'engineering']);
    await shot('overview');
  });

  it('lists the tools with their installs, and shows one tool', async () => {
    await page.getByRole('link', { name: 'Tools', exact: true }).click();
    await page.waitForURL(/\/ui\/tools$/);
    const claudeRow = page.locator('tbody tr', { has: page.getByRole('link', { name: 'Claude Code', exact: true }) });
    const usage = await fleet.json<{ rows: { tool_id: string; installs: number; devices: number }[] }>(
      '/usage?from=2026-06-10&tool=claude-code',
    );
    expect(await claudeRow.locator('td').nth(0).innerText()).toBe(String(usage.rows[0]!.installs));
    expect(await claudeRow.locator('td').nth(1).innerText()).toBe(String(usage.rows[0]!.devices));
    await shot('tools');
    await page.getByRole('link', { name: 'Claude Code', exact: true }).click();
    await page.waitForURL(/\/ui\/tools\/claude-code$/);
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Claude Code');
    expect(await page.locator('table.data').nth(0).innerText()).toContain('2.1.91');
    await shot('tool');
  });

  it('searches devices and opens one with its tools, verdicts and events', async () => {
    await page.getByRole('link', { name: 'Devices', exact: true }).click();
    await page.getByLabel('Search').fill('alice');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/\/ui\/devices\?q=alice/);
    const rows = page.locator('table.data tbody tr');
    expect(await rows.count()).toBe(1);
    await shot('devices');
    await page.getByRole('link', { name: 'dash-alice' }).click();
    await page.waitForURL(new RegExp(`/ui/devices/${devices[0]!.id}$`));
    const api = await fleet.admin.get<{
      instances: { instance: { toolId: string }; verdict: { action: string } | null; present: boolean }[];
    }>(`/devices/${devices[0]!.id}`);
    const toolRows = page.locator('section[aria-labelledby="tools-title"] tbody tr');
    expect(await toolRows.count()).toBe(api.instances.filter((i) => i.present).length);
    const blocked = api.instances.filter((i) => i.present && i.verdict?.action === 'block').length;
    expect(await page.locator('section[aria-labelledby="tools-title"] .badge-block').count()).toBe(blocked);
    expect(await page.locator('section[aria-labelledby="tools-title"]').innerText()).toContain('running');
    expect(await page.locator('section[aria-labelledby="events-title"] li').count()).toBe(5);
    await shot('device');
  });

  it('previews a draft policy with the same figures as the API', async () => {
    await page.getByRole('link', { name: 'Policy', exact: true }).click();
    expect(await page.locator('[data-current-revision]').innerText()).toBe('1');
    const draft = (await page.getByLabel('Draft policy (YAML or JSON)').inputValue()).replace(
      'effective: 2026-06-20',
      'effective: 2026-06-01',
    );
    await page.getByLabel('Draft policy (YAML or JSON)').fill(draft);
    await page.getByRole('button', { name: 'Preview impact' }).click();
    await page.locator('#preview-result').waitFor();
    const api = await fleet.admin.post<{ totals: { block: { devices: number }; warn: { devices: number } } }>(
      '/policies/preview',
      { source: draft },
    );
    expect(await page.locator('[data-preview="block-devices"]').innerText()).toBe(String(api.totals.block.devices));
    expect(await page.locator('[data-preview="warn-devices"]').innerText()).toBe(String(api.totals.warn.devices));
    // Focus moved to the result for keyboard and screen reader users.
    expect(await page.evaluate<string>('document.activeElement && document.activeElement.id')).toBe('preview-result');
    await shot('policy-preview');
  });

  it('approves an exception, which publishes the next policy revision', async () => {
    const before = await fleet.currentRevision();
    await page.getByRole('link', { name: /Exceptions/ }).click();
    await page.waitForURL(/\/ui\/exceptions$/);
    await shot('exceptions');
    const request = page.locator(`[data-request="${requestId}"]`);
    await request.getByLabel('Until').fill('2026-12-31');
    page.once('dialog', (dialog) => void dialog.accept());
    await request.getByRole('button', { name: /Approve/ }).click();
    await page.waitForURL(/status=approved/);
    const after = await fleet.currentRevision();
    expect(after).toBe(before + 1);
    expect(await page.locator('[data-approved-revision]').innerText()).toBe(String(after));
    const decided = await fleet.admin.get<{ status: string; policyRevision: number; decidedBy: string }>(
      `/exception-requests/${requestId}`,
    );
    expect(decided).toMatchObject({ status: 'approved', policyRevision: after, decidedBy: 'bootstrap' });
    await shot('exception-approved');
    await page.getByRole('link', { name: 'Policy', exact: true }).click();
    expect(await page.locator('[data-current-revision]').innerText()).toBe(String(after));
    await page.getByRole('link', { name: `compare with ${after - 1}` }).click();
    expect(await page.locator('table.diff').innerText()).toContain(`exception-request-${requestId}`);
    await shot('policy-revision');
  });

  it('downloads a CSV report', async () => {
    await page.getByRole('link', { name: 'Reports', exact: true }).click();
    await shot('reports');
    const form = page.locator('section', { has: page.getByRole('heading', { name: 'Violations' }) });
    await form.getByLabel('Tool').fill('claude-code');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      form.getByRole('button', { name: 'Download violations' }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/^aigate-violations-\d{8}-\d{6}Z\.csv$/);
    const text = await readFile((await download.path())!, 'utf8');
    expect(text).toBe((await fleet.report('/violations?format=csv&tool=claude-code')).text);
    expect(text.split('\n')[0]).toMatch(/^device_id,hostname,group,user,tool_id,/);

    await page.getByRole('link', { name: 'Overview', exact: true }).click();
    const [inventory] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('group', { name: 'Export inventory' }).getByRole('link', { name: 'CSV' }).click(),
    ]);
    expect(await readFile((await inventory.path())!, 'utf8')).toBe((await fleet.report('/inventory?format=csv')).text);
  });

  it('shows the attestation as of an instant (the document of the API), downloads it signed, and says how to verify it', async () => {
    await page.goto(`${fleet.url}/ui/reports`);
    await page.locator('[data-open="attestation"]').click();
    await page.waitForURL(/\/ui\/attestation$/);
    // A wrong instant is said on the form, not as a crash.
    await page.getByLabel('Instant', { exact: true }).fill('yesterday');
    await page.getByRole('button', { name: 'Show the attestation' }).click();
    expect(await page.getByRole('alert').innerText()).toMatch(/^Instant: /);
    // Answered 400, which the browser logs: expected here, so it is not one of the errors looked for at the end.
    const logged = consoleErrors.findIndex((text) => /status of 400/.test(text));
    expect(logged).toBeGreaterThanOrEqual(0);
    consoleErrors.splice(logged, 1);
    await page.getByLabel('Instant', { exact: true }).fill(ATTEST_AT);
    await page.getByRole('button', { name: 'Show the attestation' }).click();
    await page.waitForURL(/\/ui\/attestation\?at=/);

    type Doc = {
      at: string;
      policy: { revision: number } | null;
      devices: {
        deviceId: string;
        tools: { toolId: string; version: string | null; policy: { action: string } | null }[];
        exceptions: unknown[];
        appliedRevisionInForce: boolean | null;
      }[];
    };
    const api = await fleet.json<{ attestation: Doc }>(`/attestation?at=${encodeURIComponent(ATTEST_AT)}`);
    const doc = api.attestation;
    expect(doc.at).toBe('2026-06-02T16:00:00.000Z');
    expect(await page.locator('[data-at-utc]').innerText()).toBe(doc.at);
    expect(await page.locator('[data-policy-in-force]').innerText()).toContain(`revision ${doc.policy!.revision}`);
    expect(await page.locator('[data-devices]').innerText()).toBe(String(doc.devices.length));
    expect(await page.locator('section[data-device]').count()).toBe(doc.devices.length);
    expect(doc.devices.length).toBe(7);
    for (const device of doc.devices) {
      const section = page.locator(`section[data-device="${device.deviceId}"]`);
      const rows = section.locator('tbody tr');
      expect(await rows.count()).toBe(device.tools.length);
      for (const [i, tool] of device.tools.entries()) {
        expect(await rows.nth(i).getAttribute('data-tool')).toBe(tool.toolId);
        expect(await rows.nth(i).locator('[data-version]').innerText()).toBe(tool.version ?? 'unreadable');
        if (tool.policy)
          expect(await rows.nth(i).locator('[data-policy-said] .badge').getAttribute('class')).toContain(
            `badge-${tool.policy.action}`,
          );
      }
    }
    // Dan's laptop had Qwen Code only; Alice's had Claude Code blocked.
    const alice = doc.devices.find((d) => d.deviceId === devices[0]!.id)!;
    expect(alice.tools.some((t) => t.toolId === 'claude-code' && t.policy?.action === 'block')).toBe(true);
    expect(await page.locator('[data-fingerprint]').innerText()).toBe(fleet.server.app.aigate.policyKeyFingerprint);
    await shot('attestation');

    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-download]').click()]);
    expect(download.suggestedFilename()).toMatch(/^aigate-attestation-\d{8}-\d{6}Z\.json$/);
    const file = JSON.parse(await readFile((await download.path())!, 'utf8')) as { attestation: Doc };
    // The same document as the API's (the server's clock is fixed), and its signature holds.
    expect(file.attestation).toEqual(doc);
    const verified = await verifyAttestation(file, { fingerprint: fleet.server.app.aigate.policyKeyFingerprint });
    expect(verified.ok).toBe(true);
  });

  it('works with the keyboard and labels every control', async () => {
    await page.goto(`${fleet.url}/ui/devices`);
    await page.keyboard.press('Tab');
    expect(await page.evaluate<string>('document.activeElement && document.activeElement.textContent')).toBe(
      'Skip to content',
    );
    await page.keyboard.press('Enter');
    expect(await page.evaluate<string>('document.activeElement && document.activeElement.id')).toBe('main');
    for (const path of [
      '/ui',
      '/ui/devices',
      '/ui/policy',
      '/ui/exceptions?status=all',
      '/ui/reports',
      '/ui/attestation',
    ]) {
      await page.goto(`${fleet.url}${path}`);
      const unlabelled = await page.evaluate<
        string[]
      >(`[...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
          .filter((el) => !((el.labels && el.labels.length) || el.getAttribute('aria-label') || (el.tagName === 'BUTTON' && el.textContent.trim())))
          .map((el) => el.outerHTML)`);
      expect(unlabelled, path).toEqual([]);
      expect(await page.evaluate<string>('document.documentElement.lang'), path).toBe('en');
      expect(await page.locator('img:not([alt])').count(), path).toBe(0);
    }
  });

  it('shows auditors the exceptions read-only', async () => {
    const auditorContext = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    auditorContext.on('request', (request) => requested.push(request.url()));
    const auditorPage = await auditorContext.newPage();
    await signIn(auditorPage, auditorToken);
    await auditorPage.goto(`${fleet.url}/ui/exceptions?status=all`);
    expect(await auditorPage.getByRole('button', { name: /Approve|Deny/ }).count()).toBe(0);
    await auditorPage.goto(`${fleet.url}/ui/exceptions`);
    expect(await auditorPage.getByRole('note').innerText()).toMatch(/only admins can approve or deny/);
    expect(await auditorPage.getByRole('button', { name: 'Refresh figures now' }).count()).toBe(0);
    await shot('exceptions-auditor', auditorPage);
    await auditorPage.getByRole('button', { name: 'Sign out' }).click();
    await auditorPage.waitForURL(/\/ui\/login\?signedOut=1/);
    await auditorPage.goto(`${fleet.url}/ui`);
    await auditorPage.waitForURL(/\/ui\/login/);
    await auditorContext.close();
  });

  it('colours verdicts by meaning (blocked red, warned amber, compliant green) and says every count with the right plural', async () => {
    await page.goto(`${fleet.url}/ui`);
    if (page.url().includes('/ui/login')) await signIn(page, fleet.adminToken); // when run on its own
    const colour = (selector: string, property: string) =>
      page.evaluate<string>(
        `getComputedStyle(document.querySelector(${JSON.stringify(selector)}))[${JSON.stringify(property)}]`,
      );
    const RED = 'rgb(207, 34, 46)';
    const AMBER = 'rgb(176, 122, 0)';
    const GREEN = 'rgb(26, 127, 55)';
    const swatch = (name: string) =>
      page.evaluate<string>(
        `getComputedStyle([...document.querySelectorAll('.legend li')].find((li) => li.textContent.trim() === ${JSON.stringify(name)}).querySelector('.swatch')).backgroundColor`,
      );
    expect(await swatch('Blocked launches')).toBe(RED);
    expect(await swatch('Warned launches')).toBe(AMBER);
    expect(await colour('svg[aria-labelledby^="compliance-"] path.line', 'stroke')).toBe(GREEN);
    expect(await colour('svg[aria-labelledby^="launches-"] rect.bar.t-block', 'fill')).toBe(RED);
    // No series of tools borrows a verdict's colour.
    const toolLines = await page.evaluate<string[]>(
      `[...document.querySelectorAll('svg[aria-labelledby^="installs-"] path.line')].map((p) => getComputedStyle(p).stroke)`,
    );
    expect(toolLines.length).toBeGreaterThan(0);
    for (const stroke of toolLines) expect([RED, AMBER, GREEN]).not.toContain(stroke);
    expect(await colour('[data-kpi="devices-with-blocked-tool"]', 'color')).toBe(await colour('.text-block', 'color'));
    expect(await colour('[data-kpi="compliant-share"]', 'color')).toBe('rgb(17, 97, 43)');
    await page.goto(`${fleet.url}/ui/tools`);
    expect(await colour('.vbar .v-block', 'fill')).toBe(RED);
    expect(await colour('.vbar .v-allow', 'fill')).toBe(GREEN);
    await page.goto(`${fleet.url}/ui/devices`);
    expect(await page.locator('table.data .text-block').first().innerText()).toMatch(/^\d+ blocked$/);
    expect(await colour('table.data .text-block', 'color')).toBe('rgb(156, 13, 35)');

    // Plurals: no "1 devices", no "2 device", on any page.
    const NOUNS = 'device|tool|AI tool|install|request|launch|rule|exception|day|hour|minute|version|line|user|change';
    const one = new RegExp(
      `(?<![\\d.,])1 (?:pending |approved |denied |revoked |reporting |active |warned |blocked )?(?:${NOUNS.replace(/\|/g, 's|')}s|launches)\\b`,
    );
    const many = new RegExp(
      `(?<![\\d.,])(?:0|[2-9]|\\d{2,}|\\d{1,3}(?:,\\d{3})+) (?:pending |approved |denied |revoked |reporting |active |warned |blocked )?(?:${NOUNS})(?![a-z])`,
    );
    for (const [name, path] of await dashboardPages()) {
      await page.goto(`${fleet.url}${path}`);
      await page.evaluate<void>("document.querySelectorAll('details').forEach((d) => { d.open = true; })");
      const text = await page.locator('body').innerText();
      expect(text.match(one)?.[0] ?? null, `${name}: a single thing said as many`).toBeNull();
      expect(text.match(many)?.[0] ?? null, `${name}: many things said as one`).toBeNull();
    }
  });

  it('fits a 390 px phone screen on every page: nothing scrolls sideways, tables scroll inside their card', async () => {
    const phone = await browser.newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 1,
      isMobile: true,
      hasTouch: true,
    });
    phone.on('request', (request) => requested.push(request.url()));
    const phonePage = await phone.newPage();
    phonePage.on('pageerror', (error) => consoleErrors.push(error.message));
    await phonePage.goto(`${fleet.url}/ui/login`);
    await shot('phone-login', phonePage);
    await signIn(phonePage, fleet.adminToken);
    for (const [name, path] of await dashboardPages()) {
      await phonePage.goto(`${fleet.url}${path}`);
      // Open every <details> so hidden tables are measured too.
      await phonePage.evaluate<void>("document.querySelectorAll('details').forEach((d) => { d.open = true; })");
      const widths = await phonePage.evaluate<{ scroll: number; inner: number; wide: string[] }>(`(() => {
        const inner = window.innerWidth;
        // Elements reaching past the screen that are not inside a scrolling box: what to fix.
        const wide = [...document.querySelectorAll('body *')].filter((el) => {
          const r = el.getBoundingClientRect();
          if (r.right <= 390.5) return false;
          for (let p = el.parentElement; p; p = p.parentElement) if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(p).overflowX)) return false;
          return true;
        }).slice(0, 5).map((el) => el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).split(' ').join('.') : '') + ' ' + Math.round(el.getBoundingClientRect().right));
        return { scroll: document.documentElement.scrollWidth, inner, wide };
      })()`);
      // A phone widens its layout viewport to fit wider content, so the screen's 390 px is the bound.
      const why = `${name} (${path}) is ${widths.scroll}px wide on a 390px screen: ${widths.wide.join(', ')}`;
      expect(widths.scroll, why).toBeLessThanOrEqual(widths.inner);
      expect(widths.inner, why).toBe(390);
      await shot(`phone-${name}`, phonePage);
    }
    // The wide tables are still whole: they scroll inside their card.
    await phonePage.goto(`${fleet.url}/ui/devices`);
    const wrap = await phonePage.evaluate<{ scroll: number; client: number; overflow: string }>(
      "(() => { const w = document.querySelector('.table-wrap'); return { scroll: w.scrollWidth, client: w.clientWidth, overflow: getComputedStyle(w).overflowX }; })()",
    );
    expect(wrap.overflow).toBe('auto');
    expect(wrap.scroll).toBeGreaterThan(wrap.client);
    await phone.close();
  });

  it('asked nothing of any other host and hit no script or policy errors', () => {
    expect(requested.length).toBeGreaterThan(20);
    expect(requested.filter((url) => !url.startsWith(fleet.url) && !url.startsWith('data:'))).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});

describe('the API docs page', () => {
  it('renders over plain HTTP from another host name (no request is upgraded to https)', async () => {
    // A name that is not loopback to the browser: Chromium upgrades subresource requests under
    // `upgrade-insecure-requests` except for potentially trustworthy origins such as 127.0.0.1.
    const port = new URL(fleet.url).port;
    const remote = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--headless', '--disable-gpu', '--host-resolver-rules=MAP aigate.test 127.0.0.1'],
    });
    try {
      const docs = await remote.newPage();
      const failed: string[] = [];
      docs.on('requestfailed', (request) => failed.push(request.url()));
      await docs.goto(`http://aigate.test:${port}/docs/`);
      await docs.locator('.swagger-ui .info .title').waitFor({ timeout: 20_000 });
      expect(await docs.locator('.swagger-ui .info .title').innerText()).toContain('aigate server');
      expect(failed).toEqual([]);
    } finally {
      await remote.close();
    }
  }, 60_000);
});
