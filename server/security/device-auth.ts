/**
 * Device request authentication. Each request carries `Authorization: Bearer <JWT>`, signed by
 * the device's own Ed25519 key (EdDSA), with header `typ: aigate-device+jwt` and claims
 * `sub` (device id), `aud` (this server's audience), `iat`, `exp` (at most 5 minutes after
 * iat) and a unique `jti`. Checked here: signature against the key registered at enrollment,
 * audience, expiry, lifetime, replay, revocation.
 *
 * Verification runs on every device request: the token is parsed strictly by policies/keys.ts,
 * then the signature is checked with WebCrypto's Ed25519 and a cached key. WebCrypto runs the
 * verification on libuv's thread pool, so the event loop spends about 20 µs on it instead of the
 * 80-100 µs a synchronous verify costs on this class of CPU (see test/bench/checkin).
 *
 * Replay protection is an in-memory jti cache (see replay-cache.ts). Because a restart forgets
 * it, tokens issued before this server process started are refused: the agent mints a fresh
 * token per request anyway, so only a token captured before the restart is affected.
 */
import { webcrypto } from 'node:crypto';

import { DEVICE_TOKEN_TYP, MAX_DEVICE_TOKEN_LIFETIME_S } from '../../policies/device-token.js';
import { decodeJwsPayload, parseCompactJws } from '../../policies/keys.js';
import { ApiError, forbidden, unauthorized } from '../http/errors.js';
import type { ReplayCache } from './replay-cache.js';

// One definition, shared with the agent that mints the tokens.
export {};

/** Allowed difference between the device's clock and ours. */
const CLOCK_TOLERANCE_S = 60;

/**
 * What the authenticator reads about a device (the device store provides it). An interface
 * rather than the store itself, so this layer does not depend on the one above it.
 */
export interface DeviceKeyLookup {
  get(
    id: string,
  ): { id: string; group: string; publicJwk: string; keyThumbprint: string; revokedAt: number | null } | undefined;
}

export interface AuthenticatedDevice {
  id: string;
  group: string;
}

interface CachedDevice {
  id: string;
  group: string;
  key: webcrypto.CryptoKey;
  revoked: boolean;
}

const MAX_CACHED_KEYS = 200_000;
/** Device tokens are a few hundred characters; anything far longer is refused unparsed. */
const MAX_DEVICE_TOKEN_CHARS = 8192;
const ED25519_SIGNATURE = /^[A-Za-z0-9_-]{86}$/;

interface DeviceClaims {
  sub: string;
  iat: number;
  exp: number;
  jti: unknown;
  aud: unknown;
  nbf?: unknown;
}

export class DeviceAuthenticator {
  private readonly keys = new Map<string, CachedDevice>();
  private readonly bootSeconds: number;

  constructor(
    private readonly devices: DeviceKeyLookup,
    private readonly replay: ReplayCache,
    private readonly audience: string,
    private readonly now: () => number,
  ) {
    this.bootSeconds = Math.floor(now() / 1000);
  }

  /** Forget what is cached about a device (after revocation, re-enrollment or a group move). */
  invalidate(deviceId: string): void {
    this.keys.delete(deviceId);
  }

  async authenticate(authorization: string | undefined): Promise<AuthenticatedDevice> {
    if (!authorization)
      throw unauthorized(
        'this route needs a device token: Authorization: Bearer <JWT signed by the device key>',
        'missing_token',
      );
    const match = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(authorization);
    if (!match) throw unauthorized('the Authorization header is not "Bearer <JWT>"', 'invalid_token');
    const token = match[1]!;

    const parsed = parseCompactJws(token, MAX_DEVICE_TOKEN_CHARS);
    if (!parsed.ok) throw unauthorized('the device token is not a well-formed JWT', 'invalid_token');
    const { header } = parsed;
    if (header.alg !== 'EdDSA' && header.alg !== 'Ed25519')
      throw unauthorized(`device tokens must be signed with EdDSA, not ${String(header.alg)}`, 'invalid_token');
    if (header.typ !== DEVICE_TOKEN_TYP)
      throw unauthorized(`the device token header must have typ "${DEVICE_TOKEN_TYP}"`, 'invalid_token');
    // No JWS extensions are understood, and keys never come from the token itself.
    const extension = ['crit', 'b64', 'jwk', 'jku', 'x5c', 'x5u'].find((member) => Object.hasOwn(header, member));
    if (extension !== undefined)
      throw unauthorized(`the device token header has an unsupported member "${extension}"`, 'invalid_token');
    const decoded = decodeJwsPayload(parsed.payloadPart);
    if (
      !decoded.ok ||
      typeof decoded.payload !== 'object' ||
      decoded.payload === null ||
      Array.isArray(decoded.payload)
    ) {
      throw unauthorized('the device token is not a well-formed JWT', 'invalid_token');
    }
    const claims = decoded.payload as Partial<DeviceClaims>;
    const subject = claims.sub;
    if (typeof subject !== 'string' || subject.length === 0 || subject.length > 200) {
      throw unauthorized('the device token has no "sub" (device id) claim', 'invalid_token');
    }
    const device = await this.lookup(subject);
    // Same answer for an unknown device and a bad signature: do not help anyone probe ids.
    if (!device) throw unauthorized('the device token is not valid for any enrolled device', 'invalid_token');

    if (!ED25519_SIGNATURE.test(parsed.signaturePart))
      throw unauthorized('the device token signature does not verify', 'invalid_token');
    const signed = Buffer.from(`${token.slice(0, token.length - parsed.signaturePart.length - 1)}`, 'latin1');
    if (
      !(await webcrypto.subtle.verify('Ed25519', device.key, Buffer.from(parsed.signaturePart, 'base64url'), signed))
    ) {
      throw unauthorized('the device token signature does not verify', 'invalid_token');
    }

    const nowMs = this.now();
    const nowS = nowMs / 1000;
    for (const claim of ['iat', 'exp', 'jti'] as const) {
      if (claims[claim] === undefined) throw unauthorized(`the device token has no "${claim}" claim`, 'invalid_token');
    }
    if (typeof claims.iat !== 'number' || !Number.isFinite(claims.iat))
      throw unauthorized('the device token\'s "iat" claim must be a number', 'invalid_token');
    if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp))
      throw unauthorized('the device token\'s "exp" claim must be a number', 'invalid_token');
    const audience = claims.aud;
    if (!(audience === this.audience || (Array.isArray(audience) && audience.includes(this.audience)))) {
      throw unauthorized('the device token is for another server (aud)', 'invalid_token');
    }
    if (claims.exp <= nowS - CLOCK_TOLERANCE_S)
      throw unauthorized('the device token has expired; sign a new one', 'token_expired');
    if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf > nowS + CLOCK_TOLERANCE_S)) {
      throw unauthorized('the device token is not valid yet (nbf)', 'invalid_token');
    }
    const { iat, exp, jti } = claims as DeviceClaims;
    if (exp - iat > MAX_DEVICE_TOKEN_LIFETIME_S) {
      throw unauthorized(
        `the device token lives ${exp - iat} s; at most ${MAX_DEVICE_TOKEN_LIFETIME_S} s is allowed`,
        'invalid_token',
      );
    }
    if (iat > nowS + CLOCK_TOLERANCE_S)
      throw unauthorized('the device token is issued in the future; check the device clock', 'invalid_token');
    if (typeof jti !== 'string' || jti.length < 8 || jti.length > 200) {
      throw unauthorized('the device token needs a unique "jti" of 8 to 200 characters', 'invalid_token');
    }
    if (device.revoked)
      throw forbidden('this device has been revoked; enroll it again with a new key', 'device_revoked');
    if (iat < this.bootSeconds) {
      throw unauthorized('the device token was issued before the server started; sign a new one', 'token_too_old');
    }
    const remembered = this.replay.remember(`${device.id}\u0000${jti}`, (exp + CLOCK_TOLERANCE_S) * 1000);
    if (remembered === 'replayed')
      throw unauthorized('this device token was already used (replay); sign a new one per request', 'token_replayed');
    if (remembered === 'full')
      throw new ApiError(503, 'busy', 'too many device tokens in flight; retry shortly', { 'retry-after': '5' });
    return { id: device.id, group: device.group };
  }

  private async lookup(id: string): Promise<CachedDevice | undefined> {
    const cached = this.keys.get(id);
    if (cached) return cached;
    const record = this.devices.get(id);
    if (!record) return undefined;
    let key: webcrypto.CryptoKey;
    try {
      key = await webcrypto.subtle.importKey(
        'jwk',
        JSON.parse(record.publicJwk) as webcrypto.JsonWebKey,
        { name: 'Ed25519' },
        false,
        ['verify'],
      );
    } catch {
      // Enrollment validated the key; an unreadable one means the row was edited by hand.
      return undefined;
    }
    // Read again after the await: a revocation or re-enrollment may have landed meanwhile.
    const fresh = this.devices.get(id);
    if (!fresh || fresh.keyThumbprint !== record.keyThumbprint) return undefined;
    const entry: CachedDevice = { id: fresh.id, group: fresh.group, key, revoked: fresh.revokedAt !== null };
    if (this.keys.size >= MAX_CACHED_KEYS) {
      // Drop the oldest entry; a miss only costs one indexed read and a key import.
      const oldest = this.keys.keys().next().value;
      if (oldest !== undefined) this.keys.delete(oldest);
    }
    this.keys.set(id, entry);
    return entry;
  }
}
