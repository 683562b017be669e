/** Shared guards for admin routes. */
import type { FastifyInstance } from 'fastify';

import { type Access, adminGuard } from '../auth.js';

/** onRequest hooks for an admin route: authenticate (and authorise), then rate-limit per token. */
export function adminAccess(app: FastifyInstance, access: Access) {
  return [adminGuard(app.aigate.stores.tokens, access), app.limiters.admin];
}

export const adminSecurity = [{ adminToken: [] }];
