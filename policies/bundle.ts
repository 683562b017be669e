/**
 * Signed policy bundles: what the server publishes and the agent accepts. A bundle is a compact
 * JWS (EdDSA, typ `aigate-policy+jws`) over { iss, iat, revision, policy, catalog?, policyHash?,
 * fingerprints? }. `fingerprints` (file fingerprints of tools' code the server ships, see
 * ToolFingerprint) is optional and left out when there are none, so a bundle without them is
 * exactly what agents before it accept.
 *
 * The agent accepts a bundle only if it is signed by a pinned key, is newer than the last
 * revision it accepted (so an old, validly signed bundle cannot be replayed to lift a ban), and
 * has exactly the expected shape. The policy inside is checked structurally here; its meaning
 * (dates, ranges, selectors) is the loader's business.
 */
import { createHash } from 'node:crypto';

import { type Static, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { JWK } from 'jose';

import { Catalog } from './catalog/schema.js';
import {
  decodeJwsPayload,
  describe,
  parseCompactJws,
  signCompactJws,
  type SigningKey,
  verifyCompactJws,
} from './keys.js';
import { MAX_SHIPPED_FINGERPRINTS, ToolFingerprint } from './protocol.js';
import { PolicyDocument } from './schema.js';

const BUNDLE_TYP = 'aigate-policy+jws';

/** A bundle holds one policy (at most 1 MiB) and perhaps a catalog; anything far larger is refused unparsed. */
const MAX_BUNDLE_CHARS = 4 * 1024 * 1024;

export const BundlePayload = Type.Object(
  {
    iss: Type.String({ minLength: 1, maxLength: 500, description: 'the server that signed the bundle' }),
    iat: Type.Integer({
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      description: 'when it was signed, seconds since the epoch',
    }),
    revision: Type.Integer({
      minimum: 1,
      maximum: Number.MAX_SAFE_INTEGER,
      description: 'policy revision; only ever increases',
    }),
    policy: PolicyDocument,
    catalog: Type.Optional(Catalog),
    policyHash: Type.Optional(
      Type.String({ pattern: '^[0-9a-f]{64}$', description: 'hashPolicy(policy): SHA-256 of its canonical JSON, hex' }),
    ),
    fingerprints: Type.Optional(
      Type.Array(ToolFingerprint, {
        maxItems: MAX_SHIPPED_FINGERPRINTS,
        description: 'fingerprints of tools’ files the server ships: approved by an admin or corroborated by devices',
      }),
    ),
  },
  { additionalProperties: false },
);
export type BundlePayload = Static<typeof BundlePayload>;

export type BundleRefusalCode =
  'malformed' | 'wrong-algorithm' | 'unknown-key' | 'bad-signature' | 'stale-revision' | 'bad-payload' | 'wrong-issuer';

export type VerifyResult =
  { ok: true; payload: BundlePayload; kid: string } | { ok: false; code: BundleRefusalCode; message: string };

export interface VerifyBundleOptions {
  /** Pinned policy keys. An invalid entry is a configuration error and throws TypeError. */
  trustedKeys: readonly JWK[];
  /** The newest revision already accepted, or null if none: only a higher revision is accepted. */
  lastRevision: number | null;
  /** When given, the bundle's `iss` must equal it. */
  issuer?: string;
}

const payloadCheck = TypeCompiler.Compile(BundlePayload);

/** Signs a bundle. Throws if the payload is not one verifyBundle would accept. */
export async function signBundle(payload: BundlePayload, key: SigningKey): Promise<string> {
  const problem = payloadProblem(payload);
  if (problem !== null) throw new TypeError(`refusing to sign an invalid bundle: ${problem}`);
  return signCompactJws(payload, BUNDLE_TYP, key);
}

/** Verifies a bundle from an untrusted source. Never throws on a bad token. */
export async function verifyBundle(token: string, options: VerifyBundleOptions): Promise<VerifyResult> {
  const verified = await verifyCompactJws(token, {
    trustedKeys: options.trustedKeys,
    typ: BUNDLE_TYP,
    maxLength: MAX_BUNDLE_CHARS,
  });
  if (!verified.ok) return verified;
  const problem = payloadProblem(verified.payload);
  if (problem !== null) return { ok: false, code: 'bad-payload', message: problem };
  const payload = verified.payload as BundlePayload;
  if (options.issuer !== undefined && payload.iss !== options.issuer) {
    return {
      ok: false,
      code: 'wrong-issuer',
      message: `the bundle was issued by ${describe(payload.iss)}, expected ${describe(options.issuer)}`,
    };
  }
  if (options.lastRevision !== null && payload.revision <= options.lastRevision) {
    return {
      ok: false,
      code: 'stale-revision',
      message: `the bundle has revision ${payload.revision}, not newer than the accepted revision ${options.lastRevision}`,
    };
  }
  return { ok: true, payload, kid: verified.kid };
}

/**
 * Reads a bundle WITHOUT checking its signature, for showing to people (status output,
 * debugging). Nothing it returns may be trusted or acted on. Never throws.
 */
export function decodeBundleUnverified(
  token: string,
): { ok: true; header: Record<string, unknown>; payload: unknown } | { ok: false; message: string } {
  const parsed = parseCompactJws(token, MAX_BUNDLE_CHARS);
  if (!parsed.ok) return parsed;
  const decoded = decodeJwsPayload(parsed.payloadPart);
  if (!decoded.ok) return decoded;
  return { ok: true, header: parsed.header, payload: decoded.payload };
}

/**
 * JSON with object keys sorted (by UTF-16 code units) at every level, no whitespace: for JSON
 * data this is the RFC 8785 canonical form, so equal documents hash equally whatever the key
 * order they were written in.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

/** SHA-256 of the policy's canonical JSON, lower-case hex. */
export function hashPolicy(policy: PolicyDocument): string {
  return createHash('sha256').update(canonicalJson(policy), 'utf8').digest('hex');
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    // defineProperty, so a "__proto__" member stays data instead of changing the prototype.
    Object.defineProperty(sorted, key, {
      value: sortKeys((value as Record<string, unknown>)[key]),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return sorted;
}

/** The first thing wrong with a would-be payload, or null when it is a valid bundle payload. */
function payloadProblem(value: unknown): string | null {
  if (!payloadCheck.Check(value)) {
    let first: { path: string; message: string } | undefined;
    let count = 0;
    for (const error of payloadCheck.Errors(value)) {
      first ??= error;
      if (++count > 100) break;
    }
    if (!first) return 'the payload does not match the bundle schema';
    const more = count > 1 ? ` (and ${count > 100 ? 'over 100' : count - 1} more problems)` : '';
    return `${pointerToPath(first.path)}: ${first.message}${more}`;
  }
  if (value.policyHash !== undefined && value.policyHash !== hashPolicy(value.policy)) {
    return 'payload.policyHash does not match the policy it accompanies';
  }
  const seen = new Set<string>();
  for (const [index, fp] of (value.fingerprints ?? []).entries()) {
    if (seen.has(fp.sha256)) return `payload.fingerprints[${index}] repeats the SHA-256 ${fp.sha256}`;
    seen.add(fp.sha256);
  }
  return null;
}

/** `/policy/spec/rules/0/action` -> `payload.policy.spec.rules[0].action`. */
function pointerToPath(pointer: string): string {
  let path = 'payload';
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    path += /^\d+$/.test(segment) ? `[${segment}]` : `.${segment}`;
  }
  return path;
}
