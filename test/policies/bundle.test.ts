import { CompactSign, importJWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';

import {
  type BundlePayload,
  canonicalJson,
  decodeBundleUnverified,
  hashPolicy,
  signBundle,
  verifyBundle,
} from '../../policies/bundle.js';
import { builtinCatalog } from '../../policies/catalog/index.js';
import {
  exportPublicJwk,
  generateSigningKey,
  publicKeyFingerprint,
  type SigningKey,
  validatePublicJwk,
} from '../../policies/keys.js';
import type { PolicyDocument } from '../../policies/schema.js';
import { signServerTime, verifyServerTime } from '../../policies/signed-time.js';

const POLICY: PolicyDocument = {
  apiVersion: 'aigate/v1',
  kind: 'Policy',
  metadata: { name: 'ban' },
  spec: {
    timezone: 'Asia/Shanghai',
    rules: [{ tools: ['claude-code'], action: 'block', effective: '2026-07-10', warnFor: '14d' }],
  },
};

let key: SigningKey;
let otherKey: SigningKey;

beforeAll(async () => {
  key = await generateSigningKey();
  otherKey = await generateSigningKey();
});

const payload = (revision: number, extra: Partial<BundlePayload> = {}): BundlePayload => ({
  iss: 'https://aigate.example',
  iat: 1_780_000_000,
  revision,
  policy: POLICY,
  policyHash: hashPolicy(POLICY),
  ...extra,
});

/** Signs arbitrary header and payload bytes with `signer`, bypassing signBundle's checks. */
async function forge(header: Record<string, unknown>, body: unknown, signer: SigningKey): Promise<string> {
  const privateKey = await importJWK(signer.privateJwk, 'EdDSA');
  return new CompactSign(new TextEncoder().encode(JSON.stringify(body)))
    .setProtectedHeader(header as { alg: string })
    .sign(privateKey);
}

describe('signed policy bundles', () => {
  it('round-trips a policy and its catalog, with key id, revision, issued-at and issuer', async () => {
    const token = await signBundle(payload(7, { catalog: builtinCatalog }), key);
    const result = await verifyBundle(token, {
      trustedKeys: [key.publicJwk],
      lastRevision: 6,
      issuer: 'https://aigate.example',
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.kid).toBe(key.kid);
    expect(result.payload).toMatchObject({
      revision: 7,
      iat: 1_780_000_000,
      iss: 'https://aigate.example',
      policy: POLICY,
    });
    expect(result.payload.catalog?.tools.length).toBe(builtinCatalog.tools.length);
    const decoded = decodeBundleUnverified(token);
    expect(decoded.ok && decoded.header).toEqual({ alg: 'EdDSA', kid: key.kid, typ: 'aigate-policy+jws' });
  });

  it('accepts the first bundle when nothing was accepted before', async () => {
    const result = await verifyBundle(await signBundle(payload(1), key), {
      trustedKeys: [key.publicJwk],
      lastRevision: null,
    });
    expect(result.ok).toBe(true);
  });

  it('accepts a bundle signed by any pinned key (rotation)', async () => {
    const result = await verifyBundle(await signBundle(payload(2), otherKey), {
      trustedKeys: [key.publicJwk, otherKey.publicJwk],
      lastRevision: 1,
    });
    expect(result.ok).toBe(true);
  });

  const refusals: Array<{
    name: string;
    token: () => Promise<string>;
    lastRevision?: number | null;
    issuer?: string;
    code: string;
    message: RegExp;
  }> = [
    {
      name: 'a bundle signed by another key',
      token: () => signBundle(payload(5), otherKey),
      code: 'unknown-key',
      message: /not trusted/,
    },
    {
      name: 'another key claiming the pinned kid',
      token: () => forge({ alg: 'EdDSA', kid: key.kid, typ: 'aigate-policy+jws' }, payload(5), otherKey),
      code: 'bad-signature',
      message: /does not verify/,
    },
    {
      name: 'a tampered payload',
      token: async () => {
        const [h, , s] = (await signBundle(payload(5), key)).split('.');
        const evil = Buffer.from(JSON.stringify({ ...payload(5), policy: { ...POLICY, spec: {} } })).toString(
          'base64url',
        );
        return `${h}.${evil}.${s}`;
      },
      code: 'bad-signature',
      message: /does not verify/,
    },
    {
      name: 'alg none',
      token: async () =>
        `${Buffer.from(JSON.stringify({ alg: 'none', kid: 'x', typ: 'aigate-policy+jws' })).toString('base64url')}.${Buffer.from('{}').toString('base64url')}.`,
      code: 'wrong-algorithm',
      message: /only "EdDSA"/,
    },
    {
      name: 'alg HS256',
      token: async () =>
        `${Buffer.from(JSON.stringify({ alg: 'HS256', kid: key.kid, typ: 'aigate-policy+jws' })).toString('base64url')}.e30.c2ln`,
      code: 'wrong-algorithm',
      message: /HS256/,
    },
    {
      name: 'an embedded jwk header',
      token: () =>
        forge({ alg: 'EdDSA', kid: key.kid, typ: 'aigate-policy+jws', jwk: otherKey.publicJwk }, payload(5), key),
      code: 'malformed',
      message: /unsupported member "jwk"/,
    },
    {
      name: 'a signed time statement passed as a bundle',
      token: () => signServerTime({ deviceId: 'd', nowMs: 1 }, key),
      code: 'malformed',
      message: /typ/,
    },
    { name: 'two parts', token: async () => 'abc.def', code: 'malformed', message: /3 dot-separated parts/ },
    { name: 'garbage', token: async () => '!!!.???.***', code: 'malformed', message: /base64url/ },
    { name: 'an empty token', token: async () => '', code: 'malformed', message: /empty/ },
    {
      name: 'an oversize token',
      token: async () => 'a'.repeat(5 * 1024 * 1024),
      code: 'malformed',
      message: /longer than/,
    },
    {
      name: 'the same revision again',
      token: () => signBundle(payload(5), key),
      lastRevision: 5,
      code: 'stale-revision',
      message: /not newer than the accepted revision 5/,
    },
    {
      name: 'an older revision',
      token: () => signBundle(payload(4), key),
      lastRevision: 5,
      code: 'stale-revision',
      message: /revision 4/,
    },
    {
      name: 'a payload of the wrong shape',
      token: () =>
        forge({ alg: 'EdDSA', kid: key.kid, typ: 'aigate-policy+jws' }, { ...payload(6), revision: 'six' }, key),
      code: 'bad-payload',
      message: /payload\.revision/,
    },
    {
      name: 'a policy hash that does not match',
      token: () =>
        forge(
          { alg: 'EdDSA', kid: key.kid, typ: 'aigate-policy+jws' },
          { ...payload(6), policyHash: '0'.repeat(64) },
          key,
        ),
      code: 'bad-payload',
      message: /policyHash/,
    },
    {
      name: 'another issuer',
      token: () => signBundle(payload(6, { iss: 'https://evil.example' }), key),
      issuer: 'https://aigate.example',
      code: 'wrong-issuer',
      message: /evil/,
    },
  ];

  it.each(refusals)('refuses $name', async ({ token, lastRevision = null, issuer, code, message }) => {
    const result = await verifyBundle(await token(), {
      trustedKeys: [key.publicJwk],
      lastRevision,
      ...(issuer ? { issuer } : {}),
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toBe(code);
    expect(result.message).toMatch(message);
  });

  it('refuses to sign a payload it would not accept', async () => {
    await expect(signBundle({ ...payload(1), revision: 0 }, key)).rejects.toThrow(/invalid bundle/);
  });

  it('hashes policies independently of key order', () => {
    const reordered = JSON.parse(
      `{"spec":${JSON.stringify(POLICY.spec)},"metadata":{"name":"ban"},"kind":"Policy","apiVersion":"aigate/v1"}`,
    ) as PolicyDocument;
    expect(hashPolicy(reordered)).toBe(hashPolicy(POLICY));
    expect(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }] })).toBe('{"a":[{"c":2,"d":1}],"b":1}');
  });
});

describe('keys', () => {
  it('fingerprints equal the kid and survive JWK export', async () => {
    expect(await publicKeyFingerprint(key.publicJwk)).toBe(key.kid);
    expect(exportPublicJwk(key)).toEqual({ kty: 'OKP', crv: 'Ed25519', x: key.publicJwk.x });
  });

  it.each<[string, () => unknown, RegExp]>([
    ['private material', () => ({ ...key.privateJwk }), /private key material/],
    ['an RSA key', () => ({ kty: 'RSA', n: 'x', e: 'AQAB' }), /kty must be "OKP"/],
    ['another curve', () => ({ kty: 'OKP', crv: 'X25519', x: key.publicJwk.x }), /crv must be "Ed25519"/],
    ['a short x', () => ({ kty: 'OKP', crv: 'Ed25519', x: 'abc' }), /32-byte/],
    ['not an object', () => 'key', /JSON object/],
  ])('refuses %s as a public key', (_name, make, message) => {
    const result = validatePublicJwk(make());
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(message);
  });
});

describe('signed server time', () => {
  it('verifies for the device it was made for, and only that one', async () => {
    const token = await signServerTime({ deviceId: 'dev-1', nowMs: 1_780_000_000_123 }, key);
    expect(await verifyServerTime(token, { trustedKeys: [key.publicJwk], deviceId: 'dev-1' })).toEqual({
      ok: true,
      timeMs: 1_780_000_000_123,
    });
    expect(await verifyServerTime(token, { trustedKeys: [key.publicJwk], deviceId: 'dev-2' })).toMatchObject({
      ok: false,
      code: 'wrong-device',
    });
    expect(await verifyServerTime(token, { trustedKeys: [otherKey.publicJwk], deviceId: 'dev-1' })).toMatchObject({
      ok: false,
      code: 'unknown-key',
    });
  });

  it('is not accepted as a policy bundle, nor a bundle as a time', async () => {
    const bundle = await signBundle(payload(1), key);
    expect(await verifyServerTime(bundle, { trustedKeys: [key.publicJwk], deviceId: 'dev-1' })).toMatchObject({
      ok: false,
      code: 'malformed',
    });
  });
});
