/**
 * Device side of exception requests: an employee asks (through the agent) for an exception for
 * a tool; the device can read back the status of its own requests, never another device's.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { deviceGuard } from '../http/auth.js';
import { badRequest, notFound } from '../http/errors.js';
import { parseDateOrInstant } from '../../policies/time.js';
import { deviceErrors, IdParams, Instant, iso, Nullable } from '../http/schemas.js';
import type { ExceptionRequestRecord } from '../store/exception-requests.js';

export const ExceptionRequestBody = Type.Object(
  {
    id: Type.Optional(Type.String({ format: 'uuid', description: 'client UUID; sending the same one again returns the first request' })),
    toolId: Type.String({ minLength: 1, maxLength: 300 }),
    installPath: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    version: Type.Optional(Nullable(Type.String({ maxLength: 100 }))),
    user: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    reason: Type.String({ minLength: 1, maxLength: 2000 }),
    until: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: 'requested end: YYYY-MM-DD or an RFC 3339 instant' })),
  },
  { additionalProperties: false },
);

export const DeviceExceptionRequestView = Type.Object({
  id: Type.String(),
  toolId: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('denied')]),
  requestedAt: Instant,
  decidedAt: Nullable(Instant),
  decisionReason: Nullable(Type.String()),
  policyRevision: Nullable(Type.Integer()),
});

const view = (record: ExceptionRequestRecord) => ({
  id: record.id,
  toolId: record.toolId,
  status: record.status,
  requestedAt: iso(record.requestedAt)!,
  decidedAt: iso(record.decidedAt),
  decisionReason: record.decisionReason,
  policyRevision: record.policyRevision,
});

export const exceptionRequestRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { stores, deviceAuth } = app.aigate;
  const guard = [deviceGuard(deviceAuth), app.limiters.device];

  app.post(
    '/v1/exception-requests',
    {
      onRequest: guard,
      schema: {
        tags: ['device'],
        summary: 'Ask for an exception',
        security: [{ deviceToken: [] }],
        body: ExceptionRequestBody,
        response: { 200: DeviceExceptionRequestView, 201: DeviceExceptionRequestView, ...deviceErrors },
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (body.until !== undefined) {
        const until = parseDateOrInstant(body.until, 'UTC');
        if (!until.ok) throw badRequest(`body.until: ${until.error}`);
      }
      const { record, created } = stores.exceptionRequests.create(request.device!.id, {
        clientId: body.id?.toLowerCase() ?? null,
        toolId: body.toolId,
        installPath: body.installPath ?? null,
        version: body.version ?? null,
        user: body.user ?? null,
        reason: body.reason,
        requestedUntil: body.until ?? null,
      });
      if (created) request.log.info({ request: record.id, deviceId: record.deviceId, toolId: record.toolId }, 'exception requested');
      return reply.code(created ? 201 : 200).send(view(record));
    },
  );

  app.get(
    '/v1/exception-requests/:id',
    {
      onRequest: guard,
      schema: {
        tags: ['device'],
        summary: "Status of one of this device's exception requests",
        security: [{ deviceToken: [] }],
        params: IdParams,
        response: { 200: DeviceExceptionRequestView, ...deviceErrors },
      },
    },
    async (request) => {
      const record = stores.exceptionRequests.get(request.params.id.toLowerCase());
      // Another device's request is reported exactly like a missing one.
      if (!record || record.deviceId !== request.device!.id) throw notFound(`there is no exception request ${request.params.id} from this device`);
      return view(record);
    },
  );
};
