/**
 * Route guards. Device routes accept only device JWTs; admin routes only admin/auditor tokens.
 * Guards run as `onRequest` hooks, before the body is read, so an unauthenticated client cannot
 * make the server parse a large body.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

import { forbidden, unauthorized } from '../http/errors.js';
import type { AuthenticatedDevice, DeviceAuthenticator } from '../security/device-auth.js';
import { TOKEN_PREFIX } from '../security/secrets.js';
import type { Actor } from '../store/audit.js';
import type { TokenRecord, TokenStore } from '../store/tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    device: AuthenticatedDevice | null;
    admin: TokenRecord | null;
  }
}

export type Access = 'read' | 'write';

export function deviceGuard(authenticator: DeviceAuthenticator) {
  return async function requireDevice(request: FastifyRequest): Promise<void> {
    request.device = await authenticator.authenticate(request.headers.authorization);
  };
}

/** `read`: admins and auditors. `write`: admins only. */
export function adminGuard(tokens: TokenStore, access: Access) {
  return async function requireAdmin(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const header = request.headers.authorization;
    if (!header)
      throw unauthorized('this route needs an admin or auditor token: Authorization: Bearer aigt_...', 'missing_token');
    const match = /^Bearer +(\S+)$/.exec(header);
    if (!match) throw unauthorized('the Authorization header is not "Bearer <token>"', 'invalid_token');
    const token = match[1]!;
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) {
      throw unauthorized(
        `this route needs an admin or auditor token (they start with ${TOKEN_PREFIX})`,
        'invalid_token',
      );
    }
    const result = tokens.authenticate(token);
    if (!result.ok) {
      throw result.reason === 'revoked'
        ? unauthorized('this token has been revoked', 'token_revoked')
        : unauthorized('unknown token', 'invalid_token');
    }
    if (access === 'write' && result.record.role !== 'admin') {
      throw forbidden(`an ${result.record.role} token can read and export only; this needs an admin token`);
    }
    request.admin = result.record;
  };
}

export function actorOf(request: FastifyRequest): Actor {
  const admin = request.admin;
  if (!admin) throw unauthorized('not authenticated');
  return { id: admin.id, name: admin.name, role: admin.role };
}
