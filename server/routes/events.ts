/**
 * POST /v1/events: batches of agent events with client-generated UUIDs. A batch is stored in one
 * transaction; ids already stored for this device are accepted and ignored, so an agent can
 * resend its spool after a lost reply without creating duplicates.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

import { EventsBody, EventsReply } from '../../policies/protocol.js';
import { deviceErrors } from '../http/schemas.js';
import type { DeviceEvent } from '../store/events.js';
import { deviceGuard } from './auth.js';

export const eventRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { stores, deviceAuth, lastSeen, now, options } = app.aigate;
  app.post(
    '/v1/events',
    {
      onRequest: [deviceGuard(deviceAuth), app.limiters.device],
      bodyLimit: options.bodyLimits.events,
      schema: {
        tags: ['device'],
        summary: 'Report a batch of events',
        security: [{ deviceToken: [] }],
        body: EventsBody,
        response: { 200: EventsReply, ...deviceErrors },
      },
    },
    async (request) => {
      const device = request.device!;
      const receivedAt = now();
      const events: DeviceEvent[] = request.body.events.map((event) => ({
        id: event.id,
        type: event.type,
        at: Date.parse(event.at),
        toolId: event.toolId ?? null,
        installPath: event.installPath ?? null,
        version: event.version ?? null,
        user: event.user ?? null,
        policyRevision: event.policyRevision ?? null,
        message: event.message ?? null,
        details: event.details ?? null,
      }));
      const result = stores.events.addBatch(device.id, receivedAt, events);
      lastSeen.note(device.id, receivedAt);
      return result;
    },
  );
};
