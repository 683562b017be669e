/**
 * `GET /` sends browsers to the dashboard (/ui).
 *
 * Health for load balancers, monitoring and the installer: no authentication. 200 `{ ok: true }`
 * while the server can serve and write; 503 `{ ok: false, problems }` saying why not (a full
 * disk). No database access unless a write was just refused (then one tiny probe write).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';

import { STORAGE_FULL_RETRY_AFTER_S } from '../db/storage-health.js';
import { Nullable } from '../http/schemas.js';

const Health = Type.Object({
  ok: Type.Boolean(),
  policyRevision: Nullable(Type.Integer()),
  problems: Type.Array(Type.String(), { description: 'why the server is not healthy, for people; empty when ok' }),
});

export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // People type the server's address into a browser: send them to the dashboard.
  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/ui', 302));

  app.get(
    '/healthz',
    {
      schema: {
        tags: ['meta'],
        summary: 'Health: 200 when the server can serve and write, 503 with the problems otherwise',
        response: { 200: Health, 503: Health },
      },
    },
    async (_request, reply) => {
      const storage = app.aigate.storage.check();
      const policyRevision = app.aigate.channel.current?.revision ?? null;
      if (storage.ok) return { ok: true, policyRevision, problems: [] };
      reply.code(503).header('retry-after', String(STORAGE_FULL_RETRY_AFTER_S));
      return { ok: false, policyRevision, problems: [storage.problem!] };
    },
  );
};
