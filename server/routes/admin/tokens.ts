/** Admin and auditor tokens: create (shown once), list, revoke. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';

import { conflict, notFound } from '../../http/errors.js';
import { adminErrors, IdParams, Instant, iso, Nullable } from '../../http/schemas.js';
import { ROLES, type TokenRecord } from '../../store/tokens.js';
import { actorOf } from '../auth.js';
import { adminAccess, adminSecurity } from './access.js';

const Role = Type.Union(
  ROLES.map((r) => Type.Literal(r)),
  { description: 'admin (everything) | auditor (read and export only)' },
);

export const TokenView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: Role,
  createdAt: Instant,
  createdBy: Nullable(Type.String()),
  lastUsedAt: Nullable(Instant),
  revokedAt: Nullable(Instant),
});

const view = (record: TokenRecord) => ({
  id: record.id,
  name: record.name,
  role: record.role,
  createdAt: iso(record.createdAt)!,
  createdBy: record.createdBy,
  lastUsedAt: iso(record.lastUsedAt),
  revokedAt: iso(record.revokedAt),
});

export const tokenRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, stores } = app.aigate;

  app.post(
    '/',
    {
      onRequest: adminAccess(app, 'write'),
      schema: {
        tags: ['admin'],
        summary: 'Create a token (the token is in this reply only)',
        security: adminSecurity,
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 100 }), role: Role },
          { additionalProperties: false },
        ),
        response: { 201: Type.Composite([TokenView, Type.Object({ token: Type.String() })]), ...adminErrors },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      const { record, token } = db.transaction(() => {
        const created = stores.tokens.create(request.body.name, request.body.role, actor.name);
        stores.audit.append({
          actor,
          action: 'token.create',
          target: `token:${created.record.id}`,
          details: { name: created.record.name, role: created.record.role },
          remoteIp: request.ip,
        });
        return created;
      })();
      return reply.code(201).send({ ...view(record), token });
    },
  );

  app.get(
    '/',
    {
      onRequest: adminAccess(app, 'read'),
      schema: {
        tags: ['admin'],
        summary: 'Tokens (never the secrets)',
        security: adminSecurity,
        response: { 200: Type.Object({ tokens: Type.Array(TokenView) }), ...adminErrors },
      },
    },
    async () => ({ tokens: stores.tokens.list().map(view) }),
  );

  app.post(
    '/:id/revoke',
    {
      onRequest: adminAccess(app, 'write'),
      schema: {
        tags: ['admin'],
        summary: 'Revoke a token',
        security: adminSecurity,
        params: IdParams,
        response: { 200: TokenView, ...adminErrors },
      },
    },
    async (request) => {
      const id = request.params.id.toLowerCase();
      const target = stores.tokens.get(id);
      if (!target) throw notFound(`there is no token ${request.params.id}`);
      if (target.revokedAt === null) {
        db.transaction(() => {
          // Never leave the server without a working admin token.
          if (target.role === 'admin' && stores.tokens.activeAdminCount() <= 1) {
            throw conflict('this is the last active admin token; create another admin token first', 'last_admin_token');
          }
          stores.tokens.revoke(id);
          stores.audit.append({
            actor: actorOf(request),
            action: 'token.revoke',
            target: `token:${id}`,
            details: { name: target.name, role: target.role },
            remoteIp: request.ip,
          });
        })();
      }
      return view(stores.tokens.get(id)!);
    },
  );
};
