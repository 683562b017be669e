/**
 * Device request authentication. Each request carries `Authorization: Bearer <JWT>`, signed by
 * the device's own Ed25519 key (EdDSA), with header `typ: aigate-device+jwt` and claims
 * `sub` (device id), `aud` (this server's audience), `iat`, `exp` (at most 5 minutes after
 * iat) and a unique `jti`. Checked here: signature against the key registered at enrollment,
 * audience, expiry, lifetime, replay, revocation.
 *
 * Replay protection is an in-memory jti cache (see replay-cache.ts). Because a restart forgets
 * it, tokens issued before this server process started are refused: the agent mints a fresh
 * token per request anyway, so only a token captured before the restart is affected.
 */
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, importJWK, jwtVerify, type JWK } from 'jose';
import { ApiError, forbidden, unauthorized } from '../http/errors.js';
import type { DeviceStore } from '../store/devices.js';
import type { ReplayCache } from './replay-cache.js';

export const DEVICE_TOKEN_TYP = 'aigate-device+jwt';
export const MAX_DEVICE_TOKEN_LIFETIME_S = 300;
/** Allowed difference between the device's clock and ours. */
export const CLOCK_TOLERANCE_S = 60;

export interface AuthenticatedDevice {
  id: string;
  group: string;
}

interface CachedDevice {
  id: string;
  group: string;
  key: Awaited<ReturnType<typeof importJWK>>;
  revoked: boolean;
}

const MAX_CACHED_KEYS = 200_000;

export class DeviceAuthenticator {
  private readonly keys = new Map<string, CachedDevice>();
  private readonly bootSeconds: number;

  constructor(
    private readonly devices: DeviceStore,
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
    if (!authorization) throw unauthorized('this route needs a device token: Authorization: Bearer <JWT signed by the device key>', 'missing_token');
    const match = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(authorization);
    if (!match) throw unauthorized('the Authorization header is not "Bearer <JWT>"', 'invalid_token');
    const token = match[1]!;

    let subject: unknown;
    try {
      const header = decodeProtectedHeader(token);
      if (header.alg !== 'EdDSA' && header.alg !== 'Ed25519') throw unauthorized(`device tokens must be signed with EdDSA, not ${String(header.alg)}`, 'invalid_token');
      subject = decodeJwt(token).sub;
    } catch (error) {
      if (error instanceof ApiError) throw error;
      throw unauthorized('the device token is not a well-formed JWT', 'invalid_token');
    }
    if (typeof subject !== 'string' || subject.length === 0 || subject.length > 200) {
      throw unauthorized('the device token has no "sub" (device id) claim', 'invalid_token');
    }
    const device = await this.lookup(subject);
    // Same answer for an unknown device and a bad signature: do not help anyone probe ids.
    if (!device) throw unauthorized('the device token is not valid for any enrolled device', 'invalid_token');

    const nowMs = this.now();
    let payload;
    try {
      ({ payload } = await jwtVerify(token, device.key, {
        algorithms: ['EdDSA', 'Ed25519'],
        audience: this.audience,
        typ: DEVICE_TOKEN_TYP,
        clockTolerance: CLOCK_TOLERANCE_S,
        requiredClaims: ['sub', 'iat', 'exp', 'jti'],
        currentDate: new Date(nowMs),
      }));
    } catch (error) {
      throw this.explain(error);
    }
    const { iat, exp, jti } = payload as { iat: number; exp: number; jti: unknown };
    if (exp - iat > MAX_DEVICE_TOKEN_LIFETIME_S) {
      throw unauthorized(`the device token lives ${exp - iat} s; at most ${MAX_DEVICE_TOKEN_LIFETIME_S} s is allowed`, 'invalid_token');
    }
    if (iat > nowMs / 1000 + CLOCK_TOLERANCE_S) throw unauthorized('the device token is issued in the future; check the device clock', 'invalid_token');
    if (typeof jti !== 'string' || jti.length < 8 || jti.length > 200) {
      throw unauthorized('the device token needs a unique "jti" of 8 to 200 characters', 'invalid_token');
    }
    if (device.revoked) throw forbidden('this device has been revoked; enroll it again with a new key', 'device_revoked');
    if (iat < this.bootSeconds) {
      throw unauthorized('the device token was issued before the server started; sign a new one', 'token_too_old');
    }
    const remembered = this.replay.remember(`${device.id}\u0000${jti}`, (exp + CLOCK_TOLERANCE_S) * 1000);
    if (remembered === 'replayed') throw unauthorized('this device token was already used (replay); sign a new one per request', 'token_replayed');
    if (remembered === 'full') throw new ApiError(503, 'busy', 'too many device tokens in flight; retry shortly', { 'retry-after': '5' });
    return { id: device.id, group: device.group };
  }

  private explain(error: unknown): ApiError {
    if (error instanceof joseErrors.JWTExpired) return unauthorized('the device token has expired; sign a new one', 'token_expired');
    if (error instanceof joseErrors.JWTClaimValidationFailed) {
      if (error.claim === 'aud') return unauthorized('the device token is for another server (aud)', 'invalid_token');
      if (error.claim === 'typ') return unauthorized(`the device token header must have typ "${DEVICE_TOKEN_TYP}"`, 'invalid_token');
      if (error.reason === 'missing') return unauthorized(`the device token has no "${error.claim}" claim`, 'invalid_token');
      return unauthorized(`the device token's "${error.claim}" claim is not acceptable: ${error.message}`, 'invalid_token');
    }
    if (error instanceof joseErrors.JWSSignatureVerificationFailed) return unauthorized('the device token signature does not verify', 'invalid_token');
    if (error instanceof joseErrors.JOSEAlgNotAllowed) return unauthorized('device tokens must be signed with EdDSA', 'invalid_token');
    return unauthorized('the device token is not valid', 'invalid_token');
  }

  private async lookup(id: string): Promise<CachedDevice | undefined> {
    const cached = this.keys.get(id);
    if (cached) return cached;
    const record = this.devices.get(id);
    if (!record) return undefined;
    const key = await importJWK(JSON.parse(record.publicJwk) as JWK, 'EdDSA');
    // Read again after the await: a revocation may have landed meanwhile, and from here to the
    // cache write nothing else can run.
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
