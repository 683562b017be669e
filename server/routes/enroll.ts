/**
 * POST /v1/enroll: a device registers its Ed25519 public key with an enroll secret. The same
 * key enrolling again gets the same device id back (facts refreshed, no extra use counted), so
 * an agent may safely retry after a lost response.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { calculateJwkThumbprint } from 'jose';
import { validatePublicJwk } from '../../policies/keys.js';
import { OsName } from '../../policies/schema.js';
import { ApiError, badRequest, forbidden, unauthorized } from '../http/errors.js';
import { Instant, iso, deviceErrors } from '../http/schemas.js';
import { newId } from '../security/secrets.js';

export const PublicKeyJwk = Type.Object(
  {
    kty: Type.Literal('OKP'),
    crv: Type.Literal('Ed25519'),
    x: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$', description: 'the 32-byte public key, base64url' }),
    kid: Type.Optional(Type.String({ maxLength: 200 })),
    alg: Type.Optional(Type.Union([Type.Literal('EdDSA'), Type.Literal('Ed25519')])),
    use: Type.Optional(Type.Literal('sig')),
  },
  { additionalProperties: false, description: 'an Ed25519 public JWK (no private part)' },
);

export const EnrollBody = Type.Object(
  {
    secret: Type.String({ minLength: 1, maxLength: 200, description: 'an enroll secret from `aigate enroll-secret create`' }),
    publicKey: PublicKeyJwk,
    hostname: Type.String({ minLength: 1, maxLength: 255 }),
    os: OsName,
    osVersion: Type.Optional(Type.String({ maxLength: 100 })),
    arch: Type.Optional(Type.String({ maxLength: 50 })),
    users: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 500 }),
    agentVersion: Type.String({ minLength: 1, maxLength: 50 }),
  },
  { additionalProperties: false },
);

const EnrollReply = Type.Object({
  deviceId: Type.String(),
  group: Type.String(),
  created: Type.Boolean({ description: 'false when this key was already enrolled' }),
  enrolledAt: Instant,
  audience: Type.String({ description: 'the `aud` every device token must carry' }),
  policyKey: Type.Object({
    kid: Type.String(),
    jwk: Type.Object({ kty: Type.String(), crv: Type.String(), x: Type.String() }, { additionalProperties: true }),
    fingerprint: Type.String({ description: 'RFC 7638 SHA-256 thumbprint of the policy signing key; pin it' }),
  }),
});

const SECRET_REFUSALS = {
  unknown: 'the enroll secret is not valid',
  revoked: 'the enroll secret has been revoked',
  expired: 'the enroll secret has expired',
  'used-up': 'the enroll secret has been used the maximum number of times',
} as const;

export const enrollRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, stores, deviceAuth, signingKey, policyKeyFingerprint, audience } = app.aigate;
  app.post(
    '/v1/enroll',
    {
      onRequest: [app.limiters.enroll],
      bodyLimit: app.aigate.options.bodyLimits.enroll,
      schema: {
        tags: ['device'],
        summary: 'Register a device key with an enroll secret',
        body: EnrollBody,
        response: { 200: EnrollReply, 201: EnrollReply, ...deviceErrors },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const validJwk = validatePublicJwk(body.publicKey);
      if (!validJwk.ok) throw badRequest(`body.publicKey: ${validJwk.message}`);
      const thumbprint = await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: body.publicKey.x }, 'sha256');
      const facts = {
        hostname: body.hostname,
        os: body.os,
        osVersion: body.osVersion ?? null,
        arch: body.arch ?? null,
        users: body.users,
        agentVersion: body.agentVersion,
      };

      const outcome = db.transaction(() => {
        const secret = stores.enrollSecrets.check(body.secret);
        if (!secret.ok) {
          throw secret.reason === 'unknown' ? unauthorized(SECRET_REFUSALS.unknown, 'invalid_enroll_secret') : forbidden(SECRET_REFUSALS[secret.reason], 'enroll_secret_refused');
        }
        const group = secret.record.group;
        const existing = stores.devices.findByThumbprint(thumbprint);
        if (existing) {
          if (existing.revokedAt !== null) throw forbidden('this device key has been revoked; generate a new key to enroll again', 'device_revoked');
          stores.devices.updateFacts(existing.id, group, facts);
          return { device: stores.devices.get(existing.id)!, created: false };
        }
        stores.enrollSecrets.recordUse(secret.record.id);
        const device = stores.devices.create({
          id: newId(),
          keyThumbprint: thumbprint,
          publicJwk: JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: body.publicKey.x }),
          group,
          enrollSecretId: secret.record.id,
          facts,
        });
        return { device, created: true };
      })();
      if (!outcome.device) throw new ApiError(500, 'internal_error', 'enrollment did not produce a device');
      deviceAuth.invalidate(outcome.device.id);
      request.log.info({ deviceId: outcome.device.id, group: outcome.device.group, created: outcome.created }, 'device enrolled');
      return reply.code(outcome.created ? 201 : 200).send({
        deviceId: outcome.device.id,
        group: outcome.device.group,
        created: outcome.created,
        enrolledAt: iso(outcome.device.enrolledAt)!,
        audience,
        policyKey: { kid: signingKey.kid, jwk: signingKey.publicJwk as { kty: string; crv: string; x: string }, fingerprint: policyKeyFingerprint },
      });
    },
  );
};
