/**
 * Device request tokens: a short-lived compact JWT (EdDSA) signed by the device's own Ed25519
 * key, with header `typ: aigate-device+jwt` and claims sub (device id), aud (the server's
 * audience), iat, exp and a unique jti. The agent mints one per request; the server verifies it
 * against the key registered at enrollment (server/security/device-auth.ts).
 *
 * Crypto only, no I/O: node:crypto signs synchronously, so minting is cheap enough to do per
 * request even in a load generator.
 */
import { type KeyObject, randomUUID, sign } from 'node:crypto';

export const DEVICE_TOKEN_TYP = 'aigate-device+jwt';
/** Longest lifetime (exp - iat) the server accepts. */
export const MAX_DEVICE_TOKEN_LIFETIME_S = 300;
/** Lifetime the agent asks for: short, with room for clock skew and slow links. */
const DEFAULT_DEVICE_TOKEN_LIFETIME_S = 120;

export interface DeviceTokenInput {
  deviceId: string;
  audience: string;
  /** The device's Ed25519 private key. */
  privateKey: KeyObject;
  /** Issue time, seconds since the epoch. */
  nowSeconds: number;
  lifetimeSeconds?: number;
  /** Default: a fresh random UUID. */
  jti?: string;
}

/** Fields a test may force to forge a bad token; never set by the agent. */
export interface DeviceTokenOverrides {
  sub?: string;
  aud?: string;
  iat?: number;
  exp?: number;
  jti?: string;
  typ?: string;
  alg?: string;
  /** Sign with this key instead of the device's own. */
  key?: KeyObject;
}

const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

/** A compact JWS device token. Throws TypeError on a key that is not Ed25519 private. */
export function mintDeviceToken(input: DeviceTokenInput, overrides: DeviceTokenOverrides = {}): string {
  const key = overrides.key ?? input.privateKey;
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519')
    throw new TypeError('device tokens are signed with an Ed25519 private key');
  const iat = overrides.iat ?? Math.floor(input.nowSeconds);
  const lifetime = Math.min(input.lifetimeSeconds ?? DEFAULT_DEVICE_TOKEN_LIFETIME_S, MAX_DEVICE_TOKEN_LIFETIME_S);
  const header = { alg: overrides.alg ?? 'EdDSA', typ: overrides.typ ?? DEVICE_TOKEN_TYP };
  const payload = {
    sub: overrides.sub ?? input.deviceId,
    aud: overrides.aud ?? input.audience,
    iat,
    exp: overrides.exp ?? iat + lifetime,
    jti: overrides.jti ?? input.jti ?? randomUUID(),
  };
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${signingInput}.${b64url(sign(null, Buffer.from(signingInput), key))}`;
}
