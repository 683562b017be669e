/**
 * Ed25519 keys and the compact-JWS profile every aigate signature uses (policy bundles, signed
 * server time). One canonical key identity: the RFC 7638 SHA-256 JWK thumbprint, base64url
 * (43 characters). It is both the `kid` in signed headers and the fingerprint admins pin.
 *
 * The verifier parses the token strictly itself before handing it to jose, so each refusal has
 * a precise code, and nothing an attacker controls (alg, crit, b64, embedded jwk/jku, unknown
 * kids) can steer which key or algorithm is used.
 */
import { createPrivateKey, type KeyObject, sign as signBytes } from 'node:crypto';

import { type Static, Type } from '@sinclair/typebox';
import {
  calculateJwkThumbprint,
  compactVerify,
  errors as joseErrors,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
} from 'jose';

/** The only signature algorithm aigate signs with or accepts. */
const SIGNING_ALGORITHM = 'EdDSA';

const BASE64URL_32_BYTES = '^[A-Za-z0-9_-]{43}$';

/** An Ed25519 public key as a JWK, reduced to exactly the members its thumbprint covers. */
export const PublicJwk = Type.Object(
  {
    kty: Type.Literal('OKP'),
    crv: Type.Literal('Ed25519'),
    x: Type.String({ pattern: BASE64URL_32_BYTES, description: 'the 32-byte public key, base64url' }),
  },
  { additionalProperties: false },
);
export type PublicJwk = Static<typeof PublicJwk>;

export interface SigningKey {
  /** RFC 7638 SHA-256 thumbprint of the public key, base64url; equals publicKeyFingerprint(publicJwk). */
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
}

/** Members that only a private or symmetric key has (RFC 7517/7518, and AKP's `priv`). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'] as const;
/** Optional public members we tolerate (and drop); anything else is refused. */
const TOLERATED_MEMBERS = new Set(['kty', 'crv', 'x', 'kid', 'alg', 'use', 'key_ops', 'ext']);

export async function generateSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALGORITHM, { crv: 'Ed25519', extractable: true });
  const privateJwk = await exportJWK(privateKey);
  const publicJwk = await exportJWK(publicKey);
  return { kid: await calculateJwkThumbprint(publicJwk, 'sha256'), privateJwk, publicJwk };
}

/**
 * Checks a JWK from untrusted JSON that must be an Ed25519 *public* key. Private-key material
 * is refused outright: a "public" key carrying `d` means a secret has leaked into a place meant
 * for public data. On success the key is returned in its canonical form `{ kty, crv, x }`.
 */
export function validatePublicJwk(value: unknown): { ok: true; jwk: PublicJwk } | { ok: false; message: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, message: 'a JWK must be a JSON object' };
  }
  const jwk = value as Record<string, unknown>;
  const privateMember = PRIVATE_MEMBERS.find((member) => Object.hasOwn(jwk, member));
  if (privateMember !== undefined) {
    return {
      ok: false,
      message: `the JWK contains private key material ("${privateMember}"); supply only the public key`,
    };
  }
  if (jwk.kty !== 'OKP') return { ok: false, message: `kty must be "OKP" (an Ed25519 key), got ${describe(jwk.kty)}` };
  if (jwk.crv !== 'Ed25519') return { ok: false, message: `crv must be "Ed25519", got ${describe(jwk.crv)}` };
  if (typeof jwk.x !== 'string' || !isCanonicalBase64url(jwk.x, 32)) {
    return { ok: false, message: 'x must be the 32-byte public key in unpadded base64url (43 characters)' };
  }
  if (jwk.alg !== undefined && jwk.alg !== 'EdDSA' && jwk.alg !== 'Ed25519') {
    return { ok: false, message: `alg must be "EdDSA" when present, got ${describe(jwk.alg)}` };
  }
  if (jwk.use !== undefined && jwk.use !== 'sig')
    return { ok: false, message: `use must be "sig" when present, got ${describe(jwk.use)}` };
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.every((op) => op === 'verify'))) {
    return { ok: false, message: 'key_ops may only contain "verify" for a public signature key' };
  }
  const unexpected = Object.keys(jwk).find((member) => !TOLERATED_MEMBERS.has(member));
  if (unexpected !== undefined) return { ok: false, message: `unexpected JWK member "${unexpected}"` };
  return { ok: true, jwk: { kty: 'OKP', crv: 'Ed25519', x: jwk.x } };
}

/**
 * The pinned identity of a public key: its RFC 7638 SHA-256 thumbprint in base64url, exactly
 * what jose's calculateJwkThumbprint(jwk, 'sha256') returns, and the `kid` of signatures made
 * with the key. Throws TypeError if `jwk` is not a valid Ed25519 public key (validate untrusted
 * input with validatePublicJwk first).
 */
export async function publicKeyFingerprint(jwk: JWK): Promise<string> {
  return calculateJwkThumbprint(requirePublicJwk(jwk, 'jwk'), 'sha256');
}

/** The public half of a signing key in canonical `{ kty, crv, x }` form, safe to publish. */
export function exportPublicJwk(key: SigningKey): PublicJwk {
  return requirePublicJwk(key.publicJwk, 'key.publicJwk');
}

function requirePublicJwk(jwk: unknown, name: string): PublicJwk {
  const checked = validatePublicJwk(jwk);
  if (!checked.ok) throw new TypeError(`${name}: ${checked.message}`);
  return checked.jwk;
}

// ---------------------------------------------------------------------------------------------
// Signing

/** Imported private keys, checked once per SigningKey object (the server signs on every check-in). */
const importedSigningKeys = new WeakMap<SigningKey, Promise<KeyObject>>();

/**
 * Signs `payload` (serialised as JSON) as a compact JWS with header { alg: 'EdDSA', kid, typ }.
 * Throws if the key is not a consistent Ed25519 key pair whose kid is its thumbprint: a server
 * must never publish signatures its agents cannot verify.
 */
export async function signCompactJws(payload: object, typ: string, key: SigningKey): Promise<string> {
  const privateKey = await signingCryptoKey(key);
  // node:crypto signs synchronously, several times faster than WebCrypto for this hot path;
  // the output is the same compact JWS jose produces (and the key self-test proves jose verifies it).
  const header = Buffer.from(JSON.stringify({ alg: SIGNING_ALGORITHM, kid: key.kid, typ })).toString('base64url');
  const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  const signingInput = `${header}.${body}`;
  return `${signingInput}.${signBytes(null, Buffer.from(signingInput, 'latin1'), privateKey).toString('base64url')}`;
}

function signingCryptoKey(key: SigningKey): Promise<KeyObject> {
  let imported = importedSigningKeys.get(key);
  if (!imported) {
    imported = importCheckedSigningKey(key);
    importedSigningKeys.set(key, imported);
    // A failed import is not cached: a later call reports the problem again.
    imported.catch(() => importedSigningKeys.delete(key));
  }
  return imported;
}

async function importCheckedSigningKey(key: SigningKey): Promise<KeyObject> {
  const publicJwk = requirePublicJwk(key.publicJwk, 'signing key publicJwk');
  const { privateJwk } = key;
  if (
    privateJwk.kty !== 'OKP' ||
    privateJwk.crv !== 'Ed25519' ||
    typeof privateJwk.d !== 'string' ||
    !isCanonicalBase64url(privateJwk.d, 32)
  ) {
    throw new TypeError('signing key privateJwk must be an Ed25519 private JWK (kty OKP, crv Ed25519, d)');
  }
  if (privateJwk.x !== publicJwk.x) throw new TypeError('signing key privateJwk and publicJwk are different keys');
  const thumbprint = await calculateJwkThumbprint(publicJwk, 'sha256');
  if (key.kid !== thumbprint)
    throw new TypeError(`signing key kid ${key.kid} is not the thumbprint of its public key (${thumbprint})`);

  const privateKey = createPrivateKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: publicJwk.x, d: privateJwk.d },
    format: 'jwk',
  });
  const publicKey = await importJWK(publicJwk, SIGNING_ALGORITHM);
  // `d` alone determines the key; prove that it really belongs to `x`, and that what we sign
  // verifies with jose, before signing anything with it.
  const probeInput = `${Buffer.from(JSON.stringify({ alg: SIGNING_ALGORITHM })).toString('base64url')}.${Buffer.from('aigate signing key self-test').toString('base64url')}`;
  const probe = `${probeInput}.${signBytes(null, Buffer.from(probeInput, 'latin1'), privateKey).toString('base64url')}`;
  try {
    await compactVerify(probe, publicKey, { algorithms: [SIGNING_ALGORITHM] });
  } catch {
    throw new TypeError('signing key privateJwk.d does not belong to its public key x');
  }
  return privateKey;
}

// ---------------------------------------------------------------------------------------------
// Verifying

export type JwsRefusalCode = 'malformed' | 'wrong-algorithm' | 'unknown-key' | 'bad-signature';

export type JwsVerifyResult =
  { ok: true; kid: string; payload: unknown } | { ok: false; code: JwsRefusalCode | 'bad-payload'; message: string };

export interface JwsVerifyOptions {
  /** Pinned public keys. An invalid entry is a configuration error and throws TypeError. */
  trustedKeys: readonly JWK[];
  /** The exact `typ` the header must carry, so one kind of signed statement cannot pass as another. */
  typ: string;
  /** Longest token accepted, in characters; longer input is refused before any parsing. */
  maxLength: number;
}

/**
 * Splits a compact JWS and decodes its header, verifying nothing. The header must be canonical
 * unpadded base64url of a UTF-8 JSON object; payload and signature are returned still encoded,
 * so the caller can judge the algorithm before their form. Never throws.
 */
export function parseCompactJws(
  token: unknown,
  maxLength: number,
):
  | { ok: true; header: Record<string, unknown>; payloadPart: string; signaturePart: string }
  | { ok: false; message: string } {
  if (typeof token !== 'string') return { ok: false, message: 'the token must be a string' };
  if (token.length === 0) return { ok: false, message: 'the token is empty' };
  if (token.length > maxLength) return { ok: false, message: `the token is longer than ${maxLength} characters` };
  const parts = token.split('.');
  if (parts.length !== 3)
    return { ok: false, message: `a compact JWS has 3 dot-separated parts, this token has ${parts.length}` };
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  if (headerPart.length === 0 || !isCanonicalBase64url(headerPart))
    return { ok: false, message: 'the JWS header is not unpadded base64url' };
  const headerText = decodeUtf8(Buffer.from(headerPart, 'base64url'));
  if (headerText === null) return { ok: false, message: 'the JWS header is not UTF-8' };
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch {
    return { ok: false, message: 'the JWS header is not JSON' };
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    return { ok: false, message: 'the JWS header is not a JSON object' };
  return { ok: true, header: header as Record<string, unknown>, payloadPart, signaturePart };
}

/** Decodes a JWS payload part to JSON, or says what is wrong with it. Never throws. */
export function decodeJwsPayload(payloadPart: string): { ok: true; payload: unknown } | { ok: false; message: string } {
  if (!isCanonicalBase64url(payloadPart)) return { ok: false, message: 'the JWS payload is not unpadded base64url' };
  const text = decodeUtf8(Buffer.from(payloadPart, 'base64url'));
  if (text === null) return { ok: false, message: 'the payload is not UTF-8' };
  try {
    return { ok: true, payload: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, message: 'the payload is not JSON' };
  }
}

/**
 * Verifies a compact JWS made by signCompactJws against pinned keys and returns its parsed JSON
 * payload (shape still unchecked: the caller validates it). Never throws on untrusted tokens.
 */
export async function verifyCompactJws(token: unknown, options: JwsVerifyOptions): Promise<JwsVerifyResult> {
  // Configuration first, so a bad pin is reported whatever token arrives.
  const trusted = await Promise.all(
    options.trustedKeys.map(async (jwk, index) => {
      const publicJwk = requirePublicJwk(jwk, `trustedKeys[${index}]`);
      return { publicJwk, kid: await calculateJwkThumbprint(publicJwk, 'sha256') };
    }),
  );

  const parsed = parseCompactJws(token, options.maxLength);
  if (!parsed.ok) return { ok: false, code: 'malformed', message: parsed.message };
  const { header } = parsed;

  if (header.alg !== SIGNING_ALGORITHM) {
    return {
      ok: false,
      code: 'wrong-algorithm',
      message: `the token is signed with alg ${describe(header.alg)}; only "${SIGNING_ALGORITHM}" is accepted`,
    };
  }
  // We understand no JWS extensions (crit, b64) and never take keys from the token (jwk, jku,
  // x5c, x5u), so only these three members may appear.
  const unexpected = Object.keys(header).find((member) => member !== 'alg' && member !== 'kid' && member !== 'typ');
  if (unexpected !== undefined)
    return { ok: false, code: 'malformed', message: `the JWS header has an unsupported member "${unexpected}"` };
  if (header.typ !== options.typ) {
    return {
      ok: false,
      code: 'malformed',
      message: `the JWS header typ is ${describe(header.typ)}, expected "${options.typ}"`,
    };
  }
  if (typeof header.kid !== 'string' || header.kid.length === 0)
    return { ok: false, code: 'malformed', message: 'the JWS header has no kid' };
  if (parsed.payloadPart.length === 0 || !isCanonicalBase64url(parsed.payloadPart)) {
    return { ok: false, code: 'malformed', message: 'the JWS payload is empty or not unpadded base64url' };
  }
  if (!isCanonicalBase64url(parsed.signaturePart, 64)) {
    return {
      ok: false,
      code: 'malformed',
      message: 'the JWS signature is not a 64-byte Ed25519 signature in unpadded base64url',
    };
  }

  const match = trusted.find((entry) => entry.kid === header.kid);
  if (!match) {
    const pinned =
      trusted.length === 0 ? 'no keys are trusted' : `trusted: ${trusted.map((entry) => entry.kid).join(', ')}`;
    return {
      ok: false,
      code: 'unknown-key',
      message: `the token is signed by key ${describe(header.kid)}, which is not trusted (${pinned})`,
    };
  }

  try {
    const key = await importJWK(match.publicJwk, SIGNING_ALGORITHM);
    await compactVerify(token as string, key, { algorithms: [SIGNING_ALGORITHM] });
  } catch (error) {
    if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
      return { ok: false, code: 'bad-signature', message: `the signature does not verify with key ${match.kid}` };
    }
    return {
      ok: false,
      code: 'malformed',
      message: `the token could not be verified: ${error instanceof Error ? error.message : String(error)}`,
    };
  }

  const decoded = decodeJwsPayload(parsed.payloadPart);
  if (!decoded.ok) return { ok: false, code: 'bad-payload', message: decoded.message };
  return { ok: true, kid: match.kid, payload: decoded.payload };
}

// ---------------------------------------------------------------------------------------------
// Helpers

/**
 * True when `text` is unpadded base64url in its one canonical spelling (unused trailing bits
 * zero), so one key or signature cannot be written several ways. Optionally checks the length.
 */
function isCanonicalBase64url(text: string, byteLength?: number): boolean {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return false;
  const bytes = Buffer.from(text, 'base64url');
  if (byteLength !== undefined && bytes.length !== byteLength) return false;
  return bytes.toString('base64url') === text;
}

function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return null;
  }
}

/** A short, safe rendering of an untrusted value for an error message. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}
