/** The audit log: read it page by page, and check its hash chain. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';

import { adminErrors, Instant, Nullable } from '../../http/schemas.js';
import { adminAccess, adminSecurity } from './access.js';

export const AuditEntry = Type.Object({
  seq: Type.Integer(),
  at: Instant,
  actorId: Nullable(Type.String()),
  actorName: Type.String(),
  actorRole: Type.String(),
  action: Type.String(),
  target: Nullable(Type.String()),
  details: Type.Unknown(),
  remoteIp: Nullable(Type.String()),
  prevHash: Type.String(),
  hash: Type.String(),
});

export const VerifyReply = Type.Object({
  ok: Type.Boolean(),
  entries: Type.Integer(),
  headHash: Type.String({ description: 'hash of the last good entry; record it to detect later truncation' }),
  brokenAt: Type.Optional(Type.Integer()),
  problem: Type.Optional(Type.String()),
});

export const auditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { stores } = app.aigate;

  app.get(
    '/',
    {
      onRequest: adminAccess(app, 'read'),
      schema: {
        tags: ['admin'],
        summary: 'Audit entries in order (page with `after`)',
        security: adminSecurity,
        querystring: Type.Object(
          {
            after: Type.Optional(Type.Integer({ minimum: 0, description: 'entries after this sequence number' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, description: 'default 500' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ entries: Type.Array(AuditEntry), next: Nullable(Type.Integer()) }),
          ...adminErrors,
        },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? 500;
      const entries = stores.audit.list(request.query.after ?? 0, limit);
      return {
        entries: entries.map((entry) => ({
          ...entry,
          at: new Date(entry.at).toISOString(),
          details: JSON.parse(entry.details) as unknown,
        })),
        next: entries.length === limit ? entries[entries.length - 1]!.seq : null,
      };
    },
  );

  app.get(
    '/verify',
    {
      onRequest: adminAccess(app, 'read'),
      schema: {
        tags: ['admin'],
        summary: 'Recompute the hash chain; reports the first entry that does not fit',
        security: adminSecurity,
        response: {
          200: VerifyReply,
          ...adminErrors,
        },
      },
    },
    async () => stores.audit.verify(),
  );
};
