/** Liveness for load balancers and the installer: no authentication, no database access. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Nullable } from '../http/schemas.js';

export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['meta'],
        summary: 'Liveness check',
        response: { 200: Type.Object({ ok: Type.Literal(true), policyRevision: Nullable(Type.Integer()) }) },
      },
    },
    async () => ({ ok: true as const, policyRevision: app.aigate.channel.current?.revision ?? null }),
  );
};
