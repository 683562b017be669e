/**
 * Signed attestations: a compliance document ("what was installed, what the policy said, what
 * the agent had applied, as of an instant") signed by the server's policy key so an auditor can
 * check it later, offline. Pure: keys are passed in, nothing is read or written.
 *
 * File format (JSON): `{ format, attestation, signature: { alg, kid, typ, publicJwk, jws } }`.
 * `jws` is a detached compact JWS (RFC 7515 appendix F: `header..signature`) whose payload is
 * the canonical JSON (policies/bundle.ts canonicalJson: keys sorted, no whitespace) of the
 * `attestation` member. What is signed is therefore the content, not the layout: re-indenting
 * the file keeps it valid, changing any value, key or array order does not. `publicJwk` is a
 * convenience copy of the key; a verifier trusts it only when its RFC 7638 thumbprint equals a
 * fingerprint it already pins (or uses a key it was given instead).
 */
import type { JWK } from 'jose';

import { canonicalJson } from './bundle.js';
import {
  exportPublicJwk,
  parseCompactJws,
  type PublicJwk,
  publicKeyFingerprint,
  signCompactJws,
  type SigningKey,
  validatePublicJwk,
  verifyCompactJws,
} from './keys.js';

/** The JWS `typ` of an attestation: a signature over something else cannot pass as one. */
export const ATTESTATION_TYP = 'aigate-attestation+jws';
/** The file's `format` member. */
const ATTESTATION_FORMAT = 'aigate-attestation/1';
/** Longest canonical attestation accepted for verification, in characters of the JWS (about 96 MiB). */
const MAX_ATTESTATION_CHARS = 128 * 1024 * 1024;

interface AttestationSignature {
  alg: 'EdDSA';
  /** The signing key's RFC 7638 thumbprint (the policy key fingerprint agents pin). */
  kid: string;
  typ: typeof ATTESTATION_TYP;
  publicJwk: PublicJwk;
  /** Detached compact JWS: `base64url(header)..base64url(signature)`. */
  jws: string;
}

export interface AttestationFile<T = unknown> {
  format: typeof ATTESTATION_FORMAT;
  attestation: T;
  signature: AttestationSignature;
}

/**
 * Signs `attestation` (JSON data: no undefined, functions or non-finite numbers). Throws
 * TypeError when it is not JSON data or the key is inconsistent. The canonical form is RFC 8785
 * for documents whose object keys are not array indexes such as "10" (JavaScript orders those
 * numerically); the server's documents have none, and signer and verifier agree either way.
 */
export async function signAttestation<T>(attestation: T, key: SigningKey): Promise<AttestationFile<T>> {
  const canonical = canonicalJson(attestation);
  if (typeof canonical !== 'string') throw new TypeError('the attestation is not JSON data');
  // signCompactJws serialises with JSON.stringify: given the canonical text's own parse, it
  // signs exactly the canonical bytes (which a verifier recomputes from the file's content).
  const token = await signCompactJws(JSON.parse(canonical) as object, ATTESTATION_TYP, key);
  const [header, , signature] = token.split('.') as [string, string, string];
  return {
    format: ATTESTATION_FORMAT,
    attestation,
    signature: {
      alg: 'EdDSA',
      kid: key.kid,
      typ: ATTESTATION_TYP,
      publicJwk: exportPublicJwk(key),
      jws: `${header}..${signature}`,
    },
  };
}

/** Why a file did not verify. */
type AttestationRefusal = 'not-an-attestation' | 'untrusted-key' | 'malformed-signature' | 'bad-signature';

export type AttestationVerifyResult =
  { ok: true; kid: string; attestation: unknown } | { ok: false; code: AttestationRefusal; message: string };

/** How the verifier knows the key: a public JWK it holds, or a fingerprint it pins (then the file's copy of the key is used if it matches). */
export type AttestationTrust = { key: JWK } | { fingerprint: string };

/**
 * Verifies a parsed attestation file. Never throws on untrusted input; a `trust.key` that is not
 * an Ed25519 public key is a configuration error and throws TypeError.
 */
export async function verifyAttestation(file: unknown, trust: AttestationTrust): Promise<AttestationVerifyResult> {
  if (typeof file !== 'object' || file === null || Array.isArray(file))
    return refuse('not-an-attestation', 'the file is not a JSON object');
  const { format, attestation, signature } = file as Record<string, unknown>;
  if (format !== ATTESTATION_FORMAT)
    return refuse(
      'not-an-attestation',
      `format is ${JSON.stringify(format) ?? 'missing'}, expected "${ATTESTATION_FORMAT}"`,
    );
  if (attestation === undefined) return refuse('not-an-attestation', 'the file has no "attestation" member');
  if (typeof signature !== 'object' || signature === null || Array.isArray(signature))
    return refuse('malformed-signature', 'the file has no "signature" object');
  const { jws, publicJwk } = signature as Record<string, unknown>;
  if (typeof jws !== 'string') return refuse('malformed-signature', 'signature.jws is missing');
  const parts = jws.split('.');
  if (parts.length !== 3 || parts[1] !== '')
    return refuse('malformed-signature', 'signature.jws is not a detached compact JWS (header..signature)');

  let trusted: JWK;
  if ('key' in trust) {
    trusted = trust.key;
  } else {
    const embedded = validatePublicJwk(publicJwk);
    if (!embedded.ok) return refuse('untrusted-key', `signature.publicJwk: ${embedded.message}`);
    const fingerprint = await publicKeyFingerprint(embedded.jwk);
    if (fingerprint !== trust.fingerprint) {
      return refuse(
        'untrusted-key',
        `the file is signed by key ${fingerprint}, not by the pinned key ${trust.fingerprint}`,
      );
    }
    trusted = embedded.jwk;
  }

  const canonical = canonicalJson(attestation);
  const token = `${parts[0]}.${Buffer.from(canonical, 'utf8').toString('base64url')}.${parts[2]}`;
  const parsed = parseCompactJws(token, MAX_ATTESTATION_CHARS);
  if (parsed.ok && parsed.header.typ !== ATTESTATION_TYP) {
    return refuse(
      'malformed-signature',
      `the signature's typ is ${JSON.stringify(parsed.header.typ) ?? 'missing'}, expected "${ATTESTATION_TYP}"`,
    );
  }
  const verified = await verifyCompactJws(token, {
    trustedKeys: [trusted],
    typ: ATTESTATION_TYP,
    maxLength: MAX_ATTESTATION_CHARS,
  });
  if (verified.ok) return { ok: true, kid: verified.kid, attestation };
  switch (verified.code) {
    case 'bad-signature':
      return refuse(
        'bad-signature',
        `the signature does not match the attestation's content (changed after signing, or signed by another key): ${verified.message}`,
      );
    case 'unknown-key':
      return refuse('untrusted-key', verified.message);
    default:
      return refuse('malformed-signature', verified.message);
  }
}

function refuse(code: AttestationRefusal, message: string): AttestationVerifyResult {
  return { ok: false, code, message };
}
