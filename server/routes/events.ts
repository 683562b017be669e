/**
 * POST /v1/events: batches of agent events with client-generated UUIDs. A batch is stored in one
 * transaction; ids already stored for this device are accepted and ignored, so an agent can
 * resend its spool after a lost reply without creating duplicates.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { deviceGuard } from '../http/auth.js';
import { deviceErrors, Nullable } from '../http/schemas.js';
import { EVENT_TYPES, type DeviceEvent } from '../store/events.js';

export const MAX_EVENTS_PER_BATCH = 500;

export const EventSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid', description: 'client-generated UUID; resending it is harmless' }),
    type: Type.Union(
      EVENT_TYPES.map((t) => Type.Literal(t)),
      { description: EVENT_TYPES.join(' | ') },
    ),
    at: Type.String({ format: 'date-time', description: 'when it happened on the device' }),
    toolId: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })),
    installPath: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    version: Type.Optional(Nullable(Type.String({ maxLength: 100 }))),
    user: Type.Optional(Type.String({ maxLength: 200 })),
    policyRevision: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
    message: Type.Optional(Type.String({ maxLength: 4000 })),
    details: Type.Optional(
      Type.Record(Type.String({ maxLength: 100 }), Type.Union([Type.String({ maxLength: 4096 }), Type.Number(), Type.Boolean(), Type.Null()]), {
        maxProperties: 50,
        description: 'flat key/value facts (strings, numbers, booleans, null)',
      }),
    ),
  },
  { additionalProperties: false },
);

export const EventsBody = Type.Object(
  { events: Type.Array(EventSchema, { minItems: 1, maxItems: MAX_EVENTS_PER_BATCH }) },
  { additionalProperties: false },
);

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
        response: { 200: Type.Object({ accepted: Type.Integer(), duplicates: Type.Integer() }), ...deviceErrors },
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
