/**
 * The dashboard over plain HTTP: signing in and out, the session cookie, CSRF and origin
 * checks, roles, the Content-Security-Policy and the markup it allows, exports, static files.
 */
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DATABASE_FILE } from '../../server/context.js';
import { safeNext, UI_CSP } from '../../server/ui/plugin.js';
import { tempDir } from '../server/helpers.js';
import { DAY, developerTools, Fleet, type FleetDevice, HOUR } from './fleet.js';
import { Browser } from './http-browser.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let fleet: Fleet;
let auditorToken: string;
let device: FleetDevice;
let requestId: string;

beforeAll(async () => {
  dir = await tempDir('aigate-ui-session-');
  fleet = await Fleet.start(dir.path);
  await fleet.publish();
  auditorToken = await fleet.token('audrey', 'auditor');
  device = await fleet.enroll('sess-a', { user: 'alice' });
  await fleet.checkin(device, developerTools('alice'));
  requestId = await fleet.requestException(device, 'claude-code', 'Security review SEC-1', { user: 'alice' });
  await fleet.server.app.reports.rollups.runNow();
});
afterAll(async () => {
  await fleet?.close();
  await dir?.remove();
});

describe('signing in', () => {
  it('sends visitors without a session to the sign-in page, and back afterwards', async () => {
    const browser = new Browser(fleet.url);
    const first = await browser.get('/ui/devices?q=sess');
    expect(first.response.status).toBe(303);
    expect(first.response.headers.get('location')).toBe('/ui/login?next=%2Fui%2Fdevices%3Fq%3Dsess');
    const login = await browser.get('/ui/login?next=%2Fui%2Fdevices%3Fq%3Dsess');
    expect(login.response.headers.getSetCookie()[0]).toMatch(
      /^aigate_login=[\w-]{43}; Max-Age=3600; Path=\/ui; HttpOnly; SameSite=Strict$/,
    );
    const csrf = /name="csrf" value="([^"]+)"/.exec(login.text)![1]!;
    const signedIn = await browser.post('/ui/login', { csrf, token: fleet.adminToken, next: '/ui/devices?q=sess' });
    expect(signedIn.response.status).toBe(303);
    expect(signedIn.response.headers.get('location')).toBe('/ui/devices?q=sess');
    const cookie = signedIn.response.headers.getSetCookie().find((c) => c.startsWith('aigate_session='))!;
    expect(cookie).toMatch(/^aigate_session=[\w-]{43}; Path=\/ui; HttpOnly; SameSite=Strict$/);
    const page = await browser.get('/ui/devices?q=sess');
    expect(page.response.status).toBe(200);
    expect(page.text).toContain('sess-a');
  });

  it('keeps only a hash of the session id and never the token', async () => {
    const browser = new Browser(fleet.url);
    await browser.signIn(fleet.adminToken);
    const session = browser.cookies.get('aigate_session')!;
    const raw = new Database(join(dir.path, DATABASE_FILE), { readonly: true });
    try {
      const rows = raw.prepare('SELECT * FROM ui_sessions').all() as Record<string, unknown>[];
      const text = JSON.stringify(rows);
      expect(text).not.toContain(session);
      expect(text).not.toContain(fleet.adminToken);
    } finally {
      raw.close();
    }
    for (const path of ['/ui', '/ui/policy', '/ui/exceptions'])
      expect((await browser.get(path)).text).not.toContain(fleet.adminToken);
  });

  it.each([
    ['a wrong token', 'aigt_' + 'x'.repeat(43), 401, /not a valid admin or auditor token/],
    ['something that is no token', 'password123', 401, /not a valid admin or auditor token/],
  ])('refuses %s', async (_what, token, status, message) => {
    const browser = new Browser(fleet.url);
    const result = await browser.signIn(token);
    expect(result.response.status).toBe(status);
    expect(result.text).toMatch(message);
    expect(browser.cookies.has('aigate_session')).toBe(false);
  });

  it('refuses a sign-in form from another site or without its form token', async () => {
    const other = new Browser(fleet.url, 'https://evil.example');
    const page = await other.get('/ui/login');
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const cross = await other.post('/ui/login', { csrf, token: fleet.adminToken });
    expect(cross.response.status).toBe(403);
    const browser = new Browser(fleet.url);
    await browser.get('/ui/login');
    const forged = await browser.post('/ui/login', { csrf: 'not-the-form-token', token: fleet.adminToken });
    expect(forged.response.status).toBe(403);
    expect(forged.text).toMatch(/The sign-in form expired/);
    expect(browser.cookies.has('aigate_session')).toBe(false);
  });

  it('follows only dashboard paths after signing in', () => {
    expect(safeNext('/ui/devices?q=a')).toBe('/ui/devices?q=a');
    for (const bad of [
      'https://evil.example/',
      '//evil.example/ui',
      '/uix',
      '/ui\\..\\x',
      '/docs',
      'javascript:alert(1)',
      undefined,
    ])
      expect(safeNext(bad)).toBe('/ui');
  });

  it('audits sign-ins', async () => {
    const browser = new Browser(fleet.url);
    await browser.signIn(auditorToken);
    const audit = await fleet.admin.get<{ entries: { action: string; actorName: string }[] }>('/audit?limit=5000');
    expect(audit.entries.some((e) => e.action === 'dashboard.sign-in' && e.actorName === 'audrey')).toBe(true);
  });
});

describe('sessions end', () => {
  it('on signing out', async () => {
    const browser = new Browser(fleet.url);
    await browser.signIn(fleet.adminToken);
    const cookie = browser.cookies.get('aigate_session')!;
    const out = await browser.post('/ui/logout', { csrf: await browser.csrf() });
    expect(out.response.headers.get('location')).toBe('/ui/login?signedOut=1');
    expect(browser.cookies.has('aigate_session')).toBe(false);
    browser.cookies.set('aigate_session', cookie);
    expect((await browser.get('/ui')).response.status).toBe(303);
  });

  it('when the token is revoked', async () => {
    const token = await fleet.admin.post<{ id: string; token: string }>('/tokens', { name: 'temp', role: 'auditor' });
    const browser = new Browser(fleet.url);
    await browser.signIn(token.token);
    expect((await browser.get('/ui')).response.status).toBe(200);
    await fleet.admin.post(`/tokens/${token.id}/revoke`);
    expect((await browser.get('/ui')).response.status).toBe(303);
  });

  it('after an hour without a request', async () => {
    const browser = new Browser(fleet.url);
    await browser.signIn(fleet.adminToken);
    fleet.clock.advance(30 * 60_000);
    expect((await browser.get('/ui')).response.status).toBe(200);
    fleet.clock.advance(61 * 60_000);
    expect((await browser.get('/ui')).response.status).toBe(303);
    fleet.clock.advance(-91 * 60_000);
  });
});

describe('changes need the session, its CSRF token, this origin and the admin role', () => {
  it('refuses an approval without the CSRF token or from another origin', async () => {
    const browser = new Browser(fleet.url);
    await browser.signIn(fleet.adminToken);
    const missing = await browser.post(`/ui/exceptions/${requestId}/approve`, { csrf: 'wrong' });
    expect(missing.response.status).toBe(403);
    expect(missing.text).toMatch(/this form has expired or did not come from this dashboard/);
    const csrf = await browser.csrf();
    const crossSite = await browser.post(
      `/ui/exceptions/${requestId}/approve`,
      { csrf },
      { origin: 'https://evil.example' },
    );
    expect(crossSite.response.status).toBe(403);
    const dupe = await fetch(`${fleet.url}/ui/exceptions/${requestId}/approve`, {
      method: 'POST',
      headers: {
        cookie: `aigate_session=${browser.cookies.get('aigate_session')}`,
        'content-type': 'application/x-www-form-urlencoded',
        origin: fleet.url,
      },
      body: `csrf=${csrf}&csrf=${csrf}`,
      redirect: 'manual',
    });
    expect(dupe.status).toBe(400);
    expect(await dupe.text()).toMatch(/the form field &quot;csrf&quot; was sent more than once/);
    expect((await fleet.admin.get<{ status: string }>(`/exception-requests/${requestId}`)).status).toBe('pending');
  });

  it('lets auditors read exceptions but not decide them', async () => {
    const browser = new Browser(fleet.url);
    await browser.signIn(auditorToken);
    const page = await browser.get('/ui/exceptions');
    expect(page.text).toContain('Security review SEC-1');
    expect(page.text).not.toMatch(/>Approve</);
    expect(page.text).toMatch(/only admins can approve or deny them/);
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const tried = await browser.post(`/ui/exceptions/${requestId}/approve`, { csrf });
    expect(tried.response.status).toBe(403);
    expect(tried.text).toMatch(/only admins can do this; you are signed in with the auditor token &quot;audrey&quot;/);
    const refresh = await browser.post('/ui/rollups/run', { csrf });
    expect(refresh.response.status).toBe(403);
  });

  it('lets admins deny with a reason', async () => {
    const other = await fleet.requestException(device, 'openai-codex-cli', 'old version please');
    const browser = new Browser(fleet.url);
    await browser.signIn(fleet.adminToken);
    const csrf = await browser.csrf();
    const empty = await browser.post(`/ui/exceptions/${other}/deny`, { csrf, reason: '' });
    expect(empty.response.status).toBe(400);
    expect(empty.text).toMatch(/body\.reason must not be empty/);
    const denied = await browser.post(`/ui/exceptions/${other}/deny`, { csrf, reason: 'Upgrade to 0.160 instead' });
    expect(denied.response.status).toBe(303);
    expect(
      await fleet.admin.get<{ status: string; decisionReason: string; decidedBy: string }>(
        `/exception-requests/${other}`,
      ),
    ).toMatchObject({ status: 'denied', decisionReason: 'Upgrade to 0.160 instead', decidedBy: 'bootstrap' });
    const again = await browser.post(`/ui/exceptions/${other}/deny`, { csrf, reason: 'twice' });
    expect(again.response.status).toBe(409);
  });
});

describe('pages', () => {
  it('carry a strict Content-Security-Policy and no inline script, style or handler', async () => {
    expect(UI_CSP).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    const browser = new Browser(fleet.url);
    await browser.signIn(fleet.adminToken);
    const paths = [
      '/ui',
      '/ui/tools',
      '/ui/tools/claude-code',
      '/ui/devices',
      `/ui/devices/${device.id}`,
      '/ui/policy',
      '/ui/policy/revisions/1',
      '/ui/exceptions?status=all',
      '/ui/reports',
      '/ui/nope',
    ];
    for (const path of paths) {
      const { response, text } = await browser.get(path);
      expect(response.status, path).toBe(path === '/ui/nope' ? 404 : 200);
      expect(response.headers.get('content-security-policy'), path).toBe(UI_CSP);
      expect(response.headers.get('cache-control'), path).toBe('no-store');
      expect(response.headers.get('content-type'), path).toBe('text/html; charset=utf-8');
      expect(text, path).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
      expect(text, path).not.toMatch(/\sstyle=/i);
      expect(text, path).not.toMatch(/\son[a-z]+=/i);
      // Nothing loads from elsewhere (links to vendors' pages are fine).
      expect(text, path).not.toMatch(/\s(src|action|srcset|data)="https?:/i);
      expect(text, path).not.toMatch(/<link[^>]+href="https?:/i);
      expect(text.match(/<h1>/g), path).toHaveLength(1);
    }
  });

  it('serve the stylesheet and script with long caching by content hash', async () => {
    const page = await new Browser(fleet.url).get('/ui/login');
    const css = /href="(\/ui\/static\/app\.css\?v=([\w-]+))"/.exec(page.text)!;
    const response = await fetch(`${fleet.url}${css[1]}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const again = await fetch(`${fleet.url}/ui/static/app.css`, { headers: { 'if-none-match': `"${css[2]}"` } });
    expect(again.status).toBe(304);
    expect((await fetch(`${fleet.url}/ui/static/../../etc/passwd`)).status).toBe(404);
    expect((await fetch(`${fleet.url}/ui/static/secret.txt`)).status).toBe(404);
  });

  it('escape what devices report', async () => {
    const evil = await fleet.enroll('<script>alert(1)</script>', { user: 'mallory' });
    await fleet.checkin(evil, [{ ...developerTools('mallory')[0]!, installPath: '/tmp/<img src=x onerror=alert(1)>' }]);
    const browser = new Browser(fleet.url);
    await browser.signIn(fleet.adminToken);
    const page = await browser.get(`/ui/devices/${evil.id}`);
    expect(page.text).not.toContain('<script>alert(1)</script>');
    expect(page.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page.text).toContain('/tmp/&lt;img src=x onerror=alert(1)&gt;');
  });
});

describe('exports from the dashboard', () => {
  it('stream the same report as the API, ignoring empty filter fields', async () => {
    const browser = new Browser(fleet.url);
    await browser.signIn(auditorToken);
    const { response, text } = await browser.get(
      '/ui/export/violations?format=csv&from=&to=&tool=claude-code&group=&user=&device=&verdict=',
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-disposition')).toMatch(
      /^attachment; filename="aigate-violations-\d{8}-\d{6}Z\.csv"$/,
    );
    expect(text).toBe((await fleet.report('/violations?format=csv&tool=claude-code')).text);
  });

  it('explain a bad filter on a page', async () => {
    const browser = new Browser(fleet.url);
    await browser.signIn(auditorToken);
    const { response, text } = await browser.get('/ui/export/inventory?format=csv&tool=claud');
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(text).toMatch(
      /query\.tool: &quot;claud&quot; is not a tool of the catalog; did you mean &quot;claude-code&quot;\?/,
    );
    expect((await browser.get('/ui/export/nothing?format=csv')).response.status).toBe(404);
    expect((await browser.get('/ui/export/coverage?format=csv&colour=red')).text).toMatch(
      /query\.colour is not a known field/,
    );
  });

  it('need a session', async () => {
    const response = await fetch(`${fleet.url}/ui/export/audit?format=csv`, { redirect: 'manual' });
    expect(response.status).toBe(303);
  });
});

describe('the overview', () => {
  it('shows the figures of the overview API', async () => {
    fleet.clock.advance(HOUR);
    await fleet.events(device, [{ type: 'blocked-launch', at: fleet.clock.ms - 2 * DAY, toolId: 'claude-code' }]);
    const browser = new Browser(fleet.url);
    await browser.signIn(auditorToken);
    const api = await fleet.json<{ devices: { enrolled: number }; launches: { blocked: number } }>('/overview');
    const page = (await browser.get('/ui')).text;
    expect(page).toContain(`data-kpi="devices-enrolled">${api.devices.enrolled}<`);
    expect(page).toContain(`data-kpi="blocked-launches-week">${api.launches.blocked}<`);
    expect(page).not.toMatch(/Refresh figures now/); // auditors cannot rebuild
  });
});

describe('device health and exception state on the dashboard', () => {
  it('shows a degraded device with its reasons in the list, the detail page and the overview', async () => {
    const sick = await fleet.enroll('sess-sick', { user: 'sam' });
    const result = await fleet.send(sick, 'POST', '/v1/checkin', {
      policyRevision: null,
      agentVersion: '0.4.0',
      inventory: [],
      verdicts: [],
      health: {
        state: 'degraded',
        reasons: [{ code: 'ledger-damaged', message: 'the ledger does not parse <b>here</b>' }],
      },
    });
    expect(result.status).toBe(200);
    const browser = new Browser(fleet.url);
    await browser.signIn(auditorToken);
    const list = (await browser.get('/ui/devices?health=degraded')).text;
    expect(list).toContain('sess-sick');
    expect(list).not.toContain('>sess-a<');
    expect(list).toMatch(
      /class="badge health-degraded" title="ledger-damaged: the ledger does not parse &lt;b&gt;here&lt;\/b&gt;">degraded</,
    );
    const detail = (await browser.get(`/ui/devices/${sick.id}`)).text;
    expect(detail).toMatch(
      /<dt>Agent health<\/dt><dd>.*degraded.*<code>ledger-damaged<\/code>: the ledger does not parse &lt;b&gt;here&lt;\/b&gt;/s,
    );
    expect((await browser.get('/ui')).text).toMatch(/data-kpi="devices-degraded">1</);
  });

  it('shows the end an approval gave, and a revoked request under its own tab', async () => {
    const id = await fleet.requestException(device, 'gemini-cli', 'Trying it for a week', { user: 'alice' });
    const before = await fleet.currentRevision();
    await fleet.admin.post(`/exception-requests/${id}/approve`, { until: '2026-12-31' });
    const browser = new Browser(fleet.url);
    await browser.signIn(auditorToken);
    const approved = (await browser.get('/ui/exceptions?status=approved')).text;
    expect(approved).toMatch(new RegExp(`data-request="${id}"[\\s\\S]*?data-approved-until>2026-12-31<`));
    await fleet.admin.post(`/policies/${before}/rollback`, { confirm: true });
    const revoked = (await browser.get('/ui/exceptions?status=revoked')).text;
    expect(revoked).toContain(`data-request="${id}"`);
    expect(revoked).toMatch(
      /Revoked: <a href="\/ui\/policy\/revisions\/\d+">policy revision \d+<\/a> no longer has this exception/,
    );
  });
});
