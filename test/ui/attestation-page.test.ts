/**
 * The dashboard's attestation page over plain HTTP: every unusable input is said on the form
 * (400, the field named as on the form), never a crash; a good one shows the report's document
 * and links to a download that is the API's signed file and verifies. The browser test
 * (dashboard.test.ts) checks the rendering against the API device by device.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type AttestationFile, verifyAttestation } from '../../policies/attestation.js';
import type { AttestationDocument } from '../../server/reports/kinds/attestation.js';
import { tempDir } from '../server/helpers.js';
import { DAY, developerTools, Fleet } from './fleet.js';
import { Browser } from './http-browser.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let fleet: Fleet;
let browser: Browser;

beforeAll(async () => {
  dir = await tempDir('aigate-ui-attestation-');
  fleet = await Fleet.start(dir.path);
  await fleet.publish();
  const device = await fleet.enroll('att-a', { user: 'alice', group: 'engineering' });
  await fleet.checkin(device, developerTools('alice'));
  fleet.clock.advance(2 * DAY);
  browser = new Browser(fleet.url);
  expect((await browser.signIn(fleet.adminToken)).response.status).toBe(303);
});

afterAll(async () => {
  await fleet?.close();
  await dir?.remove();
});

/** The notice of a page (the error said on the form), tags stripped. */
const notice = (text: string) =>
  /<div class="notice notice-error" role="alert">([\s\S]*?)<\/div>/.exec(text)?.[1]?.replace(/<[^>]+>/g, '') ?? null;

describe('the attestation page', () => {
  it('shows only the form until an instant is given', async () => {
    const { response, text } = await browser.get('/ui/attestation');
    expect(response.status).toBe(200);
    expect(text).toContain('name="at"');
    expect(text).not.toContain('data-attestation-at');
  });

  it.each([
    ['a word for the instant', { at: 'yesterday' }, /^Instant: /],
    ['an instant in the future', { at: '2027-01-01T00:00:00+08:00' }, /^Instant: .* is in the future/],
    ['a group that cannot be a group name', { at: '2026-06-02', group: '../etc' }, /^Group: /],
    ['an instant longer than any instant', { at: '2026-06-02T00:00:00+08:00'.padEnd(41, '0') }, /at/],
  ])('says what is wrong with %s on the form (400)', async (_name, query, message) => {
    const { response, text } = await browser.get(`/ui/attestation?${new URLSearchParams(query)}`);
    expect(response.status).toBe(400);
    const said = notice(text) ?? /<section class="card"><p>([^<]*)<\/p>/.exec(text)?.[1] ?? '';
    expect(said).toMatch(message);
  });

  it('shows the document for an instant with an offset, and its download is the signed file of the API', async () => {
    const at = '2026-06-02T08:00:00+08:00';
    const { response, text } = await browser.get(`/ui/attestation?${new URLSearchParams({ at, group: '' })}`);
    expect(response.status).toBe(200);
    expect(text).toContain('data-at-utc>2026-06-02T00:00:00.000Z<');
    expect(text).toContain('revision 1');
    const link = /<a class="button" href="([^"]+)" download data-download>/.exec(text)?.[1]?.replaceAll('&amp;', '&');
    expect(link).toBe(`/ui/export/attestation?format=json&at=${encodeURIComponent(at)}`);
    const download = await browser.get(link!);
    expect(download.response.status).toBe(200);
    expect(download.response.headers.get('content-disposition')).toMatch(/^attachment; filename="aigate-attestation-/);
    const file = JSON.parse(download.text) as AttestationFile<AttestationDocument>;
    const api = await fleet.json<AttestationFile<AttestationDocument>>(`/attestation?at=${encodeURIComponent(at)}`);
    expect(file).toEqual(api);
    expect(file.attestation.devices.map((d) => d.tools.length)).toEqual([5]);
    const verified = await verifyAttestation(file, { fingerprint: fleet.server.app.aigate.policyKeyFingerprint });
    expect(verified.ok).toBe(true);
    // One changed byte and it no longer verifies.
    const changed = JSON.parse(download.text.replace('"alice"', '"alicf"')) as unknown;
    expect((await verifyAttestation(changed, { fingerprint: fleet.server.app.aigate.policyKeyFingerprint })).ok).toBe(
      false,
    );
  });
});
