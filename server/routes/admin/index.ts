/** The admin API under /v1/admin. `read` routes take admin or auditor tokens; `write` routes admin only. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';

import { adminErrors } from '../../http/schemas.js';
import { adminAccess, adminSecurity } from './access.js';
import { auditRoutes } from './audit.js';
import { deviceAdminRoutes } from './devices.js';
import { enrollSecretRoutes } from './enroll-secrets.js';
import { exceptionAdminRoutes } from './exceptions.js';
import { fingerprintAdminRoutes } from './fingerprints.js';
import { policyAdminRoutes } from './policies.js';
import { tokenRoutes } from './tokens.js';

export const WhoamiReply = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: Type.String(),
  serverId: Type.String(),
  policyKeyFingerprint: Type.String({ description: 'pass to aigate-agent enroll --policy-key-fingerprint' }),
});

export const adminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/whoami',
    {
      onRequest: adminAccess(app, 'read'),
      schema: {
        tags: ['admin'],
        summary: 'The token in use (id, name, role), and the policy key fingerprint agents pin at enrollment',
        security: adminSecurity,
        response: {
          200: WhoamiReply,
          ...adminErrors,
        },
      },
    },
    async (request) => ({
      id: request.admin!.id,
      name: request.admin!.name,
      role: request.admin!.role,
      serverId: app.aigate.serverId,
      policyKeyFingerprint: app.aigate.policyKeyFingerprint,
    }),
  );
  await app.register(policyAdminRoutes, { prefix: '/policies' });
  await app.register(deviceAdminRoutes);
  await app.register(enrollSecretRoutes, { prefix: '/enroll-secrets' });
  await app.register(exceptionAdminRoutes, { prefix: '/exception-requests' });
  await app.register(fingerprintAdminRoutes, { prefix: '/fingerprints' });
  await app.register(tokenRoutes, { prefix: '/tokens' });
  await app.register(auditRoutes, { prefix: '/audit' });
};
