/**
 * The device wire contract: bodies and replies exchanged between `aigate-agent` and
 * `aigate-server`. One definition for both sides (fleet's `server/fleet/orbit.go` pattern). Pure:
 * schemas and the types derived from them, no I/O.
 */
import { Type, type Static } from '@sinclair/typebox';

/** Why an agent says enforcement on its device cannot be trusted right now. */
export const HEALTH_REASON_CODES = [
  /** The enforcement ledger cannot be read; nothing is changed until it is repaired. */
  'ledger-damaged',
  /** An enforcement operation failed (and was undone, or could not be). */
  'enforcement-failing',
  /** Events could not be spooled, were dropped, or spool files were set aside as damaged. */
  'spool-trouble',
  /** A part of the scan or of the cycle failed (a channel, a home, a launcher that is a FIFO...). */
  'cycle-errors',
  /** Something a local user put in place looked like an attack and was left alone. */
  'suspicious-layout',
] as const;
export type HealthReasonCode = (typeof HEALTH_REASON_CODES)[number];

export const HealthReason = Type.Object(
  {
    code: Type.Union(HEALTH_REASON_CODES.map((code) => Type.Literal(code))),
    message: Type.String({ minLength: 1, maxLength: 1000 }),
    /** When the agent first saw this reason (RFC 3339). */
    since: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);
export type HealthReason = Static<typeof HealthReason>;

/**
 * The agent's own account of its health, sent with every check-in. `degraded` from the first
 * cycle with any reason; the server shows it in `aigate devices`, the coverage report and the
 * dashboard.
 */
export const AgentHealth = Type.Object(
  {
    state: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
    reasons: Type.Array(HealthReason, { maxItems: 20 }),
  },
  { additionalProperties: false },
);
export type AgentHealth = Static<typeof AgentHealth>;
