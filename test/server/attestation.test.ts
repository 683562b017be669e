/**
 * Attestation as of an instant (issue 14): a real server on 127.0.0.1 with a real SQLite file,
 * devices checking in through the test device client (test/support, via the Fleet helper on a
 * clock the test moves), the export through the API and `aigate report export`, and
 * `aigate report verify`, which must refuse a file with one byte changed.
 */
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  ATTESTATION_TYP,
  type AttestationFile,
  signAttestation,
  verifyAttestation,
} from '../../policies/attestation.js';
import { generateSigningKey } from '../../policies/keys.js';
import { runAigate } from '../../server/cli/aigate.js';
import type { AttestationDocument } from '../../server/reports/kinds/attestation.js';
import { DAY, developerTools, Fleet, FLEET_POLICY, type FleetDevice, HOUR } from '../ui/fleet.js';
import { npmInstance, tempDir } from './helpers.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let fleet: Fleet;
let auditor: string;
let laptop: FleetDevice;
let designer: FleetDevice;
/** Instants the test attests, and the revisions in force then. */
let firstDay: number;
let later: number;

const CLAUDE_NPM = '/home/alice/.npm-global/lib/node_modules/@anthropic-ai/claude-code';
const EXCEPTION_POLICY = FLEET_POLICY.replace(
  '  rules:\n',
  `  exceptions:
    - name: gemini-pilot
      tools: [gemini-cli]
      groups: [engineering]
      until: 2026-12-31
      reason: pilot approved by the CISO
  rules:
`,
);

/** An instant as the auditor would give it: the same instant written at UTC+08:00. */
const at8 = (ms: number) => new Date(ms + 8 * HOUR).toISOString().replace(/\.\d{3}Z$/, '+08:00');

/** The event the agent sends when a revision is in force on the device (agent/policy/sync.ts). */
async function policyApplied(device: FleetDevice, revision: number): Promise<void> {
  const event = {
    id: randomUUID(),
    type: 'policy-applied',
    at: new Date(fleet.clock.ms).toISOString(),
    policyRevision: revision,
    message: `revision ${revision} is now in force`,
  };
  const result = await fleet.send(device, 'POST', '/v1/events', { events: [event] });
  if (result.status !== 200) throw new Error(`events: ${result.status} ${result.text}`);
}

beforeAll(async () => {
  dir = await tempDir('aigate-attestation-');
  fleet = await Fleet.start(join(dir.path, 'data'));
  auditor = await fleet.token('carol', 'auditor');
  await fleet.publish(); // revision 1
  laptop = await fleet.enroll('laptop', { user: 'alice' });
  designer = await fleet.enroll('mac', { group: 'design', user: 'bob', os: 'darwin' });
  await fleet.checkin(laptop, developerTools('alice'));
  await fleet.checkin(designer, [npmInstance('qwen-code', '@qwen-code/qwen-code', '0.4.1', 'bob')]);
  fleet.clock.advance(5_000);
  await policyApplied(laptop, 1);
  await fleet.events(laptop, [
    {
      type: 'quarantined',
      at: fleet.clock.ms + 1000,
      toolId: 'claude-code',
      installPath: CLAUDE_NPM,
      version: '2.1.91',
    },
  ]);
  fleet.clock.advance(DAY);
  firstDay = fleet.clock.ms;

  // Later: Claude Code's npm copy is gone, Qwen Code upgraded, and an exception is published
  // (revision 2) that the laptop applies.
  fleet.clock.advance(HOUR);
  await fleet.publish(EXCEPTION_POLICY);
  const tools = developerTools('alice')
    .filter((tool) => tool.installPath !== CLAUDE_NPM)
    .map((tool) => (tool.toolId === 'qwen-code' ? { ...tool, version: '0.5.0' } : tool));
  await fleet.checkin(laptop, tools);
  await policyApplied(laptop, 2);
  fleet.clock.advance(HOUR);
  later = fleet.clock.ms;
  fleet.clock.advance(HOUR);
});
afterAll(async () => {
  await fleet?.close();
  await dir?.remove();
});

async function aigate(args: string[], token = auditor) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runAigate(
    ['--server', fleet.url, '--token', token, ...args],
    { out: (t) => out.push(t), err: (t) => err.push(t) },
    { AIGATE_CONFIG: join(dir.path, 'none.json') },
  );
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

async function attestation(query: string): Promise<AttestationFile<AttestationDocument>> {
  return fleet.json<AttestationFile<AttestationDocument>>(`/attestation?${query}`, auditor);
}

describe('GET /v1/reports/attestation', () => {
  it('states what was installed, what the policy in force said and what the agent had applied at the instant', async () => {
    const file = await attestation(`at=${encodeURIComponent(at8(firstDay))}`);
    const doc = file.attestation;
    expect(doc.at).toBe(new Date(firstDay).toISOString());
    expect(doc.atAsGiven).toBe(at8(firstDay));
    expect(doc.policy).toMatchObject({ revision: 1, name: 'fleet-policy', mode: 'enforce' });
    expect(doc.devices.map((d) => d.hostname)).toEqual(['laptop', 'mac']);
    const device = doc.devices[0]!;
    expect(device.policyApplied?.revision).toBe(1);
    expect(device.appliedRevisionInForce).toBe(true);
    expect(device.exceptions).toEqual([]);
    const claude = device.tools.find((tool) => tool.installPath === CLAUDE_NPM);
    expect(claude).toMatchObject({
      toolId: 'claude-code',
      version: '2.1.91',
      policy: { action: 'block', decidedBy: 'ban-claude-code' },
      enforcement: { event: 'quarantined' },
    });
    expect(claude?.agentReported?.action).toBe('block');
    expect(device.tools.find((tool) => tool.toolId === 'qwen-code')?.version).toBe('0.4.1');
    expect(device.tools.find((tool) => tool.toolId === 'openai-codex-cli')?.policy?.action).toBe('warn');
    expect(file.signature).toMatchObject({ alg: 'EdDSA', typ: ATTESTATION_TYP });
    expect(file.signature.jws).toMatch(/^[\w-]+\.\.[\w-]+$/);
  });

  it('a later instant sees the later revision, the exception in force, the removal and the upgrade', async () => {
    const doc = (await attestation(`at=${encodeURIComponent(new Date(later).toISOString())}&group=engineering`))
      .attestation;
    expect(doc.policy?.revision).toBe(2);
    expect(doc.filters).toEqual({ group: 'engineering' });
    expect(doc.devices.map((d) => d.hostname)).toEqual(['laptop']);
    const device = doc.devices[0]!;
    expect(device.tools.some((tool) => tool.installPath === CLAUDE_NPM)).toBe(false);
    expect(device.tools.find((tool) => tool.toolId === 'qwen-code')?.version).toBe('0.5.0');
    expect(device.tools.find((tool) => tool.toolId === 'gemini-cli')?.policy).toMatchObject({
      action: 'allow',
      decidedBy: 'gemini-pilot',
    });
    expect(device.exceptions).toEqual([
      expect.objectContaining({ name: 'gemini-pilot', tools: ['gemini-cli'], reason: 'pilot approved by the CISO' }),
    ]);
    expect(device.policyApplied?.revision).toBe(2);
  });

  it('before anything was enrolled it attests an empty fleet; the instant is required, and the future and CSV/NDJSON are refused', async () => {
    const empty = (await attestation('at=2026-05-01')).attestation;
    expect(empty.policy).toBeNull();
    expect(empty.devices).toEqual([]);
    for (const [query, message] of [
      ['at=2026-06-01&format=csv', /signed JSON document; CSV would not be signed/],
      ['at=2026-06-01&format=ndjson', /NDJSON would not be signed/],
      ['', /query\.at: the instant to attest is required/],
      ['at=2030-01-01', /is in the future/],
      ['at=yesterday', /query\.at/],
      ['at=2026-06-01&tool=claude-code', /tool/],
    ] as const) {
      const result = await fleet.report(`/attestation?${query}`, auditor);
      expect(result.status, query).toBe(400);
      expect(result.text, query).toMatch(message);
    }
  });
});

describe('aigate report export attestation / aigate report verify', () => {
  let file: string;
  let text: string;

  beforeAll(async () => {
    file = join(dir.path, 'attestation.json');
    const exported = await aigate(['report', 'export', 'attestation', '--at', at8(firstDay), '-o', file]);
    expect(exported.code, exported.stderr).toBe(0);
    text = await readFile(file, 'utf8');
  });

  it('exports the signed document and verify accepts it, saying what it attests', async () => {
    expect((JSON.parse(text) as AttestationFile<AttestationDocument>).attestation.policy?.revision).toBe(1);
    const verified = await aigate(['report', 'verify', file]);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/^VALID: .* is signed by policy key [\w-]{43} \(the policy key of http/);
    expect(verified.stdout).toMatch(/policy in force: revision 1 "fleet-policy" \(enforce\)/);
    expect(verified.stdout).toMatch(
      /laptop \(engineering\): applied revision 1 at .*claude-code@2\.1\.91=block \(quarantined\)/,
    );
    const json = await aigate(['report', 'verify', file, '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ valid: true, policyRevision: 1, devices: 2 });
  });

  it('one byte changed: verify fails and names what is wrong', async () => {
    const index = text.indexOf('"version": "0.4.1"');
    expect(index).toBeGreaterThan(0);
    const digit = index + '"version": "0.4.'.length;
    const tampered = join(dir.path, 'tampered.json');
    await writeFile(tampered, text.slice(0, digit) + '2' + text.slice(digit + 1));
    const result = await aigate(['report', 'verify', tampered]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/INVALID: .*the signature does not match the attestation's content/);
    const json = await aigate(['report', 'verify', tampered, '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ valid: false, code: 'bad-signature' });

    // A byte of the signature itself.
    const sig = text.indexOf('"jws": "') + '"jws": "'.length + 10;
    const badSignature = join(dir.path, 'bad-signature.json');
    await writeFile(badSignature, text.slice(0, sig) + (text[sig] === 'A' ? 'B' : 'A') + text.slice(sig + 1));
    expect((await aigate(['report', 'verify', badSignature])).code).toBe(1);

    // Re-indenting changes no content: still valid (the signature covers the canonical JSON).
    const reindented = join(dir.path, 'reindented.json');
    await writeFile(reindented, JSON.stringify(JSON.parse(text)));
    expect((await aigate(['report', 'verify', reindented])).code).toBe(0);
  });

  it('verifies offline against a key file or a pinned fingerprint, and refuses another key', async () => {
    const file0 = JSON.parse(text) as AttestationFile<AttestationDocument>;
    const keyFile = join(dir.path, 'policy-key.jwk');
    await writeFile(keyFile, JSON.stringify(file0.signature.publicJwk));
    const offline = async (args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      // No --server and no saved login: the key comes from the flags alone.
      const code = await runAigate(
        ['report', 'verify', ...args],
        { out: (t) => out.push(t), err: (t) => err.push(t) },
        { AIGATE_CONFIG: join(dir.path, 'none.json') },
      );
      return { code, stderr: err.join('\n') };
    };
    expect((await offline([file, '--key', keyFile])).code).toBe(0);
    expect((await offline([file, '--policy-key-fingerprint', file0.signature.kid])).code).toBe(0);

    const other = await generateSigningKey();
    await writeFile(keyFile, JSON.stringify(other.publicJwk));
    const wrongKey = await offline([file, '--key', keyFile]);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/not trusted/);
    const wrongPin = await offline([file, '--policy-key-fingerprint', other.kid]);
    expect(wrongPin.code).toBe(1);
    expect(wrongPin.stderr).toMatch(
      new RegExp(`signed by key ${file0.signature.kid}, not by the pinned key ${other.kid}`),
    );

    // A file signed by another key that carries that key: the pin decides, not the file.
    const forged = join(dir.path, 'forged.json');
    await writeFile(forged, JSON.stringify(await signAttestation(file0.attestation, other)));
    expect((await aigate(['report', 'verify', forged])).code).toBe(1);

    expect((await offline([file])).code).toBe(2);
    expect((await offline([join(dir.path, 'missing.json'), '--key', keyFile])).code).toBe(2);
    expect((await offline([file, '--policy-key-fingerprint', 'short'])).code).toBe(2);
  });

  it('usage errors: CSV for an attestation, no --at', async () => {
    const csv = await aigate(['report', 'export', 'attestation', '--at', '2026-06-01', '--format', 'csv']);
    expect(csv.code).toBe(2);
    expect(csv.stderr).toMatch(/signed JSON only; CSV would not be signed/);
    const noAt = await aigate(['report', 'export', 'attestation']);
    expect(noAt.code).toBe(2);
    expect(noAt.stderr).toMatch(/needs --at/);
    const noFormat = await aigate(['report', 'export', 'inventory']);
    expect(noFormat.code).toBe(2);
    expect(noFormat.stderr).toMatch(/--format <format>' not specified/);
  });
});

describe('policies/attestation', () => {
  it('signs the canonical JSON: key order does not matter, content does', async () => {
    const key = await generateSigningKey();
    const signed = await signAttestation({ b: 1, a: [{ y: 'x', x: null }] }, key);
    expect(
      (await verifyAttestation({ ...signed, attestation: { a: [{ x: null, y: 'x' }], b: 1 } }, { key: key.publicJwk }))
        .ok,
    ).toBe(true);
    const changed = await verifyAttestation(
      { ...signed, attestation: { a: [{ x: null, y: 'x' }], b: 2 } },
      { key: key.publicJwk },
    );
    expect(changed).toMatchObject({ ok: false, code: 'bad-signature' });
    expect(await verifyAttestation({ ...signed, format: 'other' }, { key: key.publicJwk })).toMatchObject({
      ok: false,
      code: 'not-an-attestation',
    });
    expect(await verifyAttestation('text', { key: key.publicJwk })).toMatchObject({
      ok: false,
      code: 'not-an-attestation',
    });
  });
});
