/** Enroll secrets: created (shown once), listed (never shown again), revoked. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';

import { parseDateOrInstant, parseDuration } from '../../../policies/time.js';
import { badRequest, notFound } from '../../http/errors.js';
import { adminErrors, GroupName, IdParams, Instant, iso, Nullable } from '../../http/schemas.js';
import type { EnrollSecretRecord } from '../../store/enroll-secrets.js';
import { actorOf } from '../auth.js';
import { adminAccess, adminSecurity } from './access.js';

const DEFAULT_SECRET_LIFETIME = '7d';

const CreateBody = Type.Object(
  {
    group: GroupName,
    expiresIn: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 40,
        description: `a duration such as 7d or 12h (default ${DEFAULT_SECRET_LIFETIME})`,
      }),
    ),
    expiresAt: Type.Optional(
      Type.String({ minLength: 1, maxLength: 40, description: 'a date or RFC 3339 instant (instead of expiresIn)' }),
    ),
    maxUses: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    note: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);

export const SecretView = Type.Object({
  id: Type.String(),
  group: Type.String(),
  note: Nullable(Type.String()),
  expiresAt: Nullable(Instant),
  maxUses: Nullable(Type.Integer()),
  uses: Type.Integer(),
  createdAt: Instant,
  createdBy: Nullable(Type.String()),
  revokedAt: Nullable(Instant),
});

const view = (record: EnrollSecretRecord) => ({
  id: record.id,
  group: record.group,
  note: record.note,
  expiresAt: iso(record.expiresAt),
  maxUses: record.maxUses,
  uses: record.uses,
  createdAt: iso(record.createdAt)!,
  createdBy: record.createdBy,
  revokedAt: iso(record.revokedAt),
});

export const enrollSecretRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, stores, now } = app.aigate;

  app.post(
    '/',
    {
      onRequest: adminAccess(app, 'write'),
      schema: {
        tags: ['admin'],
        summary: 'Create an enroll secret (the secret is in this reply only)',
        security: adminSecurity,
        body: CreateBody,
        response: { 201: Type.Composite([SecretView, Type.Object({ secret: Type.String() })]), ...adminErrors },
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (body.expiresIn !== undefined && body.expiresAt !== undefined)
        throw badRequest('give body.expiresIn or body.expiresAt, not both');
      let expiresAt: number;
      if (body.expiresAt !== undefined) {
        const parsed = parseDateOrInstant(body.expiresAt, 'UTC');
        if (!parsed.ok) throw badRequest(`body.expiresAt: ${parsed.error}`);
        expiresAt = parsed.epochMs;
      } else {
        const parsed = parseDuration(body.expiresIn ?? DEFAULT_SECRET_LIFETIME);
        if (!parsed.ok) throw badRequest(`body.expiresIn: ${parsed.error}`);
        expiresAt = now() + parsed.ms;
      }
      if (expiresAt <= now()) throw badRequest('the secret would already be expired; choose a later expiry');
      const actor = actorOf(request);
      const { record, secret } = db.transaction(() => {
        const created = stores.enrollSecrets.create({
          group: body.group,
          note: body.note ?? null,
          expiresAt,
          maxUses: body.maxUses ?? null,
          createdBy: actor.name,
        });
        stores.audit.append({
          actor,
          action: 'enroll-secret.create',
          target: `enroll-secret:${created.record.id}`,
          details: { group: body.group, expiresAt: iso(expiresAt), maxUses: body.maxUses ?? null },
          remoteIp: request.ip,
        });
        return created;
      })();
      return reply.code(201).send({ ...view(record), secret });
    },
  );

  app.get(
    '/',
    {
      onRequest: adminAccess(app, 'read'),
      schema: {
        tags: ['admin'],
        summary: 'Enroll secrets (without the secrets)',
        security: adminSecurity,
        response: { 200: Type.Object({ secrets: Type.Array(SecretView) }), ...adminErrors },
      },
    },
    async () => ({ secrets: stores.enrollSecrets.list().map(view) }),
  );

  app.post(
    '/:id/revoke',
    {
      onRequest: adminAccess(app, 'write'),
      schema: {
        tags: ['admin'],
        summary: 'Revoke an enroll secret',
        security: adminSecurity,
        params: IdParams,
        response: { 200: SecretView, ...adminErrors },
      },
    },
    async (request) => {
      const id = request.params.id.toLowerCase();
      const found = stores.enrollSecrets.get(id);
      if (!found) throw notFound(`there is no enroll secret ${request.params.id}`);
      if (found.revokedAt === null) {
        db.transaction(() => {
          stores.enrollSecrets.revoke(id);
          stores.audit.append({
            actor: actorOf(request),
            action: 'enroll-secret.revoke',
            target: `enroll-secret:${id}`,
            details: { group: found.group },
            remoteIp: request.ip,
          });
        })();
      }
      return view(stores.enrollSecrets.get(id)!);
    },
  );
};
