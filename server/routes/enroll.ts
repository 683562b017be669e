/**
 * POST /v1/enroll: a device registers its Ed25519 public key with an enroll secret. The same
 * key enrolling again gets the same device id back (facts refreshed, no extra use counted), so
 * an agent may safely retry after a lost response.
 *
 * GET /v1/policy-key?challenge=: the policy key and its signature over the agent's random challenge,
 * so an agent told which key to pin checks that this server holds it BEFORE sending the enroll
 * secret (a look-alike server can copy the public key, not sign with it).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { calculateJwkThumbprint } from 'jose';

import { signCompactJws, validatePublicJwk } from '../../policies/keys.js';
import {
  EnrollBody,
  EnrollReply,
  KEY_PROOF_TYP,
  type KeyProofPayload,
  KeyProofQuery,
  KeyProofReply,
} from '../../policies/protocol.js';
import { ApiError, badRequest, forbidden, unauthorized } from '../http/errors.js';
import { deviceErrors, iso } from '../http/schemas.js';
import { newId } from '../security/secrets.js';

const SECRET_REFUSALS = {
  unknown: 'the enroll secret is not valid',
  revoked: 'the enroll secret has been revoked',
  expired: 'the enroll secret has expired',
  'used-up': 'the enroll secret has been used the maximum number of times',
} as const;

export const enrollRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, stores, deviceAuth, signingKey, policyKeyFingerprint, audience } = app.aigate;
  const policyKey = {
    kid: signingKey.kid,
    jwk: signingKey.publicJwk as { kty: string; crv: string; x: string },
    fingerprint: policyKeyFingerprint,
  };

  app.get(
    '/v1/policy-key',
    {
      onRequest: [app.limiters.enroll],
      schema: {
        tags: ['device'],
        summary: "The policy key, with its signature over the caller's challenge (checked before enrolling)",
        querystring: KeyProofQuery,
        response: { 200: KeyProofReply, ...deviceErrors },
      },
    },
    async (request) => {
      const payload: KeyProofPayload = { challenge: request.query.challenge, iat: Math.floor(Date.now() / 1000) };
      return { policyKey, proof: await signCompactJws(payload, KEY_PROOF_TYP, signingKey) };
    },
  );

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
          throw secret.reason === 'unknown'
            ? unauthorized(SECRET_REFUSALS.unknown, 'invalid_enroll_secret')
            : forbidden(SECRET_REFUSALS[secret.reason], 'enroll_secret_refused');
        }
        const group = secret.record.group;
        const existing = stores.devices.findByThumbprint(thumbprint);
        if (existing) {
          if (existing.revokedAt !== null)
            throw forbidden('this device key has been revoked; generate a new key to enroll again', 'device_revoked');
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
      request.log.info(
        { deviceId: outcome.device.id, group: outcome.device.group, created: outcome.created },
        'device enrolled',
      );
      return reply.code(outcome.created ? 201 : 200).send({
        deviceId: outcome.device.id,
        group: outcome.device.group,
        created: outcome.created,
        enrolledAt: iso(outcome.device.enrolledAt)!,
        audience,
        policyKey,
      });
    },
  );
};
