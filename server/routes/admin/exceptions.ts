/** Exception requests for admins: list, show, approve (publishes a new revision), deny. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';

import { notFound } from '../../http/errors.js';
import { adminErrors, IdParams, Instant, iso, Nullable } from '../../http/schemas.js';
import { type ExceptionRequestRecord, REQUEST_STATUSES } from '../../store/exception-requests.js';
import { actorOf } from '../auth.js';
import { adminAccess, adminSecurity } from './access.js';

const Status = Type.Union(
  REQUEST_STATUSES.map((s) => Type.Literal(s)),
  { description: REQUEST_STATUSES.join(' | ') },
);

export const RequestView = Type.Object({
  id: Type.String(),
  deviceId: Type.String(),
  hostname: Nullable(Type.String()),
  group: Nullable(Type.String()),
  toolId: Type.String(),
  installPath: Nullable(Type.String()),
  version: Nullable(Type.String()),
  user: Nullable(Type.String()),
  reason: Type.String(),
  requestedUntil: Nullable(Type.String()),
  requestedAt: Instant,
  status: Status,
  decidedAt: Nullable(Instant),
  decidedBy: Nullable(Type.String()),
  decisionReason: Nullable(Type.String()),
  policyRevision: Nullable(Type.Integer({ description: 'the revision that approved it' })),
  approvedUntil: Nullable(
    Type.String({ description: 'the end the approval gave the exception (date or instant), null for none' }),
  ),
  revokedAt: Nullable(Instant),
  revokedInRevision: Nullable(
    Type.Integer({ description: 'the revision that removed the exception (status revoked)' }),
  ),
});

const ApproveBody = Type.Object(
  {
    until: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 40,
        description: 'end of the exception (default: as requested, else none)',
      }),
    ),
    scope: Type.Optional(
      Type.Union([Type.Literal('device'), Type.Literal('user')], { description: 'device (default) | user' }),
    ),
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
  },
  { additionalProperties: false },
);
const DenyBody = Type.Object(
  { reason: Type.String({ minLength: 1, maxLength: 500, description: 'why, shown to the employee' }) },
  { additionalProperties: false },
);

export const exceptionAdminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { stores, exceptions } = app.aigate;
  const view = (record: ExceptionRequestRecord) => {
    const device = stores.devices.get(record.deviceId);
    return {
      id: record.id,
      deviceId: record.deviceId,
      hostname: device?.hostname ?? null,
      group: device?.group ?? null,
      toolId: record.toolId,
      installPath: record.installPath,
      version: record.version,
      user: record.user,
      reason: record.reason,
      requestedUntil: record.requestedUntil,
      requestedAt: iso(record.requestedAt)!,
      status: record.status,
      decidedAt: iso(record.decidedAt),
      decidedBy: record.decidedBy,
      decisionReason: record.decisionReason,
      policyRevision: record.policyRevision,
      approvedUntil: record.approvedUntil,
      revokedAt: iso(record.revokedAt),
      revokedInRevision: record.revokedInRevision,
    };
  };

  app.get(
    '/',
    {
      onRequest: adminAccess(app, 'read'),
      schema: {
        tags: ['admin'],
        summary: 'Exception requests, newest first',
        security: adminSecurity,
        querystring: Type.Object(
          {
            status: Type.Optional(Status),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'default 200' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ requests: Type.Array(RequestView) }), ...adminErrors },
      },
    },
    async (request) => {
      const filter = request.query.status ? { status: request.query.status } : {};
      return { requests: stores.exceptionRequests.list(filter, request.query.limit ?? 200).map(view) };
    },
  );

  app.get(
    '/:id',
    {
      onRequest: adminAccess(app, 'read'),
      schema: {
        tags: ['admin'],
        summary: 'One exception request',
        security: adminSecurity,
        params: IdParams,
        response: { 200: RequestView, ...adminErrors },
      },
    },
    async (request) => {
      const record = stores.exceptionRequests.find(request.params.id.toLowerCase());
      if (!record) throw notFound(`there is no exception request ${request.params.id}`);
      return view(record);
    },
  );

  app.post(
    '/:id/approve',
    {
      onRequest: adminAccess(app, 'write'),
      schema: {
        tags: ['admin'],
        summary: 'Approve: adds an exception to a new policy revision',
        security: adminSecurity,
        params: IdParams,
        body: Nullable(ApproveBody),
        response: {
          200: Type.Object({
            request: RequestView,
            revision: Type.Integer(),
            etag: Type.String(),
            scope: Type.Union([Type.Literal('device'), Type.Literal('user')], {
              description: 'what the exception covers: the whole device, or the requesting user on it',
            }),
            scopeReason: Type.String({ description: 'why that scope: chosen by the admin, or the default and why' }),
          }),
          ...adminErrors,
        },
      },
    },
    async (request) => {
      const body = request.body ?? {};
      const input: Parameters<typeof exceptions.approve>[1] = { actor: actorOf(request), remoteIp: request.ip };
      if (body.until !== undefined) input.until = body.until;
      if (body.scope !== undefined) input.scope = body.scope;
      if (body.reason !== undefined) input.reason = body.reason;
      const result = await exceptions.approve(request.params.id.toLowerCase(), input);
      return {
        request: view(result.request),
        revision: result.publish.revision,
        etag: result.publish.etag,
        scope: result.scope.scope,
        scopeReason: result.scope.why,
      };
    },
  );

  app.post(
    '/:id/deny',
    {
      onRequest: adminAccess(app, 'write'),
      schema: {
        tags: ['admin'],
        summary: 'Deny, with a reason',
        security: adminSecurity,
        params: IdParams,
        body: DenyBody,
        response: { 200: RequestView, ...adminErrors },
      },
    },
    async (request) =>
      view(
        exceptions.deny(request.params.id.toLowerCase(), {
          actor: actorOf(request),
          remoteIp: request.ip,
          reason: request.body.reason,
        }),
      ),
  );
};
