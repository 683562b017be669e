/**
 * Server-signed time, bound to one device: the agent's trusted-time floor. The agent evaluates
 * with max(local clock, newest signed time seen), so turning the clock back cannot lift a ban.
 * Binding the statement to the device id stops one machine's token being fed to another. Old
 * tokens need no expiry: a floor can only be raised, so replaying an old one changes nothing.
 */
import { type Static, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { JWK } from 'jose';

import { describe, type JwsRefusalCode, signCompactJws, type SigningKey, verifyCompactJws } from './keys.js';

const TIME_TYP = 'aigate-time+jws';

/** A time statement is a few hundred characters. */
const MAX_TIME_TOKEN_CHARS = 4096;

const ServerTimePayload = Type.Object(
  {
    sub: Type.String({ minLength: 1, maxLength: 200, description: 'the device id the statement is for' }),
    t: Type.Integer({
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      description: 'server time, milliseconds since the epoch',
    }),
    iat: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'the same instant in seconds' }),
  },
  { additionalProperties: false },
);
export type ServerTimePayload = Static<typeof ServerTimePayload>;

type ServerTimeRefusalCode = JwsRefusalCode | 'bad-payload' | 'wrong-device';

export type ServerTimeResult =
  { ok: true; timeMs: number } | { ok: false; code: ServerTimeRefusalCode; message: string };

const payloadCheck = TypeCompiler.Compile(ServerTimePayload);

/** Signs "it is `nowMs` for device `deviceId`". Throws TypeError on a bad deviceId or nowMs. */
export async function signServerTime(statement: { deviceId: string; nowMs: number }, key: SigningKey): Promise<string> {
  const { deviceId, nowMs } = statement;
  const payload: ServerTimePayload = { sub: deviceId, t: nowMs, iat: Math.floor(nowMs / 1000) };
  if (!payloadCheck.Check(payload)) {
    throw new TypeError(
      `cannot sign server time: deviceId must be a non-empty string (at most 200 characters) and nowMs a non-negative integer, got ${describe(deviceId)} and ${describe(nowMs)}`,
    );
  }
  return signCompactJws(payload, TIME_TYP, key);
}

/** Verifies a signed time statement for this device. Never throws on a bad token. */
export async function verifyServerTime(
  token: string,
  options: { trustedKeys: readonly JWK[]; deviceId: string },
): Promise<ServerTimeResult> {
  const verified = await verifyCompactJws(token, {
    trustedKeys: options.trustedKeys,
    typ: TIME_TYP,
    maxLength: MAX_TIME_TOKEN_CHARS,
  });
  if (!verified.ok) return verified;
  const payload = verified.payload;
  if (!payloadCheck.Check(payload)) {
    const first = payloadCheck.Errors(payload).First();
    return {
      ok: false,
      code: 'bad-payload',
      message: `the time statement does not match its schema${first ? ` at ${first.path || '/'}: ${first.message}` : ''}`,
    };
  }
  if (payload.iat !== Math.floor(payload.t / 1000)) {
    return { ok: false, code: 'bad-payload', message: 'the time statement has iat and t for different instants' };
  }
  if (payload.sub !== options.deviceId) {
    return {
      ok: false,
      code: 'wrong-device',
      message: `the time statement is for device ${describe(payload.sub)}, not ${describe(options.deviceId)}`,
    };
  }
  return { ok: true, timeMs: payload.t };
}
