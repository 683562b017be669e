/**
 * Events the agent reports: the same shape POST /v1/events takes. Each carries a client UUID,
 * so a batch sent again after a lost reply is stored once.
 */
import { randomUUID } from 'node:crypto';

import { type Static, Type } from '@sinclair/typebox';

import { EVENT_TYPES, type EventType } from '../../policies/events.js';

export { type EventType };

export const AgentEvent = Type.Object(
  {
    id: Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' }),
    type: Type.Union(EVENT_TYPES.map((t) => Type.Literal(t))),
    at: Type.String({ maxLength: 40 }),
    toolId: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })),
    installPath: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    version: Type.Optional(Type.Union([Type.String({ maxLength: 100 }), Type.Null()])),
    user: Type.Optional(Type.String({ maxLength: 200 })),
    policyRevision: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
    message: Type.Optional(Type.String({ maxLength: 4000 })),
    details: Type.Optional(
      Type.Record(
        Type.String({ maxLength: 100 }),
        Type.Union([Type.String({ maxLength: 4096 }), Type.Number(), Type.Boolean(), Type.Null()]),
        { maxProperties: 50 },
      ),
    ),
  },
  { additionalProperties: false },
);
export type AgentEvent = Static<typeof AgentEvent>;

export type EventFields = Omit<AgentEvent, 'id' | 'type' | 'at'>;

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** A new event with a fresh id; long texts are clipped to what the server accepts. */
export function newEvent(type: EventType, at: number, fields: EventFields = {}, id: string = randomUUID()): AgentEvent {
  const event: AgentEvent = { id, type, at: new Date(at).toISOString(), ...fields };
  if (event.message !== undefined) event.message = clip(event.message, 4000);
  if (event.user !== undefined) event.user = clip(event.user, 200);
  if (event.details) {
    for (const [key, value] of Object.entries(event.details))
      if (typeof value === 'string') event.details[key] = clip(value, 4096);
  }
  return event;
}

/** A UUID-shaped id derived from a name: the same name always gives the same id. */
export function stableEventId(name: string, hash: (text: string) => string): string {
  const hex = hash(name).slice(0, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
