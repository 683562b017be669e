/**
 * Device side of exception requests: an employee asks (through the agent) for an exception for
 * a tool; the device can read back the status of its own requests, never another device's.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

import { DeviceExceptionRequestView, ExceptionRequestBody } from '../../policies/protocol.js';
import { notFound } from '../http/errors.js';
import { deviceErrors, IdParams, iso } from '../http/schemas.js';
import type { ExceptionRequestRecord } from '../store/exception-requests.js';
import { deviceGuard } from './auth.js';

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
  const { stores, deviceAuth, exceptions } = app.aigate;
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
      const { record, created } = exceptions.request(request.device!.id, {
        clientId: body.id?.toLowerCase() ?? null,
        toolId: body.toolId,
        installPath: body.installPath ?? null,
        version: body.version ?? null,
        user: body.user ?? null,
        reason: body.reason,
        requestedUntil: body.until ?? null,
      });
      if (created)
        request.log.info(
          { request: record.id, deviceId: record.deviceId, toolId: record.toolId },
          'exception requested',
        );
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
      const record = stores.exceptionRequests.find(request.params.id.toLowerCase());
      // Another device's request is reported exactly like a missing one.
      if (!record || record.deviceId !== request.device!.id)
        throw notFound(`there is no exception request ${request.params.id} from this device`);
      return view(record);
    },
  );
};
