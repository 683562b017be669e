/**
 * The device wire contract: bodies and replies exchanged between `aigate-agent` and
 * `aigate-server` on every device route (enroll, policy, check-in, events, exception requests).
 * One definition for both sides (fleet's `server/fleet/orbit.go` pattern): the server's routes
 * validate requests and serialise replies with these schemas, and the agent checks every reply
 * against them at run time. Limits (how many instances, events, users) are defined here once
 * and exported, so neither side repeats the numbers. Pure: schemas and the types derived from
 * them, no I/O.
 */
import { type Static, type TSchema, Type } from '@sinclair/typebox';

import { EVENT_TYPES } from './events.js';
import { ToolInstance } from './inventory.js';
import { OsName } from './schema.js';
import { Verdict } from './verdict.js';

// --- limits ----------------------------------------------------------------------------------

/** Tool instances (and verdicts) in one check-in. */
export const MAX_INSTANCES = 2000;
/** Events in one POST /v1/events batch; the agent splits longer spools into batches. */
export const MAX_EVENTS_PER_BATCH = 500;
/** Local users a device may report (enroll and check-in). */
export const MAX_USERS = 500;
/** Reasons in one health report. */
const MAX_HEALTH_REASONS = 20;
/**
 * Largest request bodies the server accepts by default, in bytes (an operator may change them;
 * a larger body gets 413 `body_too_large`). Agents split event batches to stay below.
 */
export const MAX_CHECKIN_BODY_BYTES = 4 * 1024 * 1024;
export const MAX_EVENTS_BODY_BYTES = 1024 * 1024;
/** The longest `Prefer: wait=N` the server honours for GET /v1/policy, in seconds. */
export const MAX_POLICY_WAIT_SECONDS = 60;

// --- building blocks -------------------------------------------------------------------------

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** An instant in replies: RFC 3339, UTC. */
export const Instant = Type.String({ description: 'RFC 3339 instant (UTC)' });

/**
 * C0 (U+0000–U+001F), DEL and C1 (U+0080–U+009F) control characters. A device's short texts
 * (hostname, user names, an exception reason) end up on admins' terminals and in CSV cells; an
 * escape sequence in them could repaint a terminal or set its title, so they are refused.
 */
const NO_CONTROL_CHARACTERS_PATTERN = '^[^\\u0000-\\u001f\\u007f-\\u009f]*$';

/**
 * A short text a device sends that people will read: no control characters, bounded length.
 * The description is what a validation error says is expected.
 */
const DeviceText = (options: { minLength?: number; maxLength: number }) =>
  Type.String({
    minLength: options.minLength ?? 1,
    maxLength: options.maxLength,
    pattern: NO_CONTROL_CHARACTERS_PATTERN,
    description: 'text without control characters',
  });

/** A local user name as the device reports it. */
const UserName = DeviceText({ maxLength: 200 });
const Hostname = DeviceText({ maxLength: 255 });
const AgentVersion = DeviceText({ maxLength: 50 });

// --- health ----------------------------------------------------------------------------------

/** Why an agent says enforcement on its device cannot be trusted right now. */
const HEALTH_REASON_CODES = [
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
    reasons: Type.Array(HealthReason, { maxItems: MAX_HEALTH_REASONS }),
  },
  { additionalProperties: false },
);
export type AgentHealth = Static<typeof AgentHealth>;

// --- POST /v1/enroll -------------------------------------------------------------------------

const PublicKeyJwk = Type.Object(
  {
    kty: Type.Literal('OKP'),
    crv: Type.Literal('Ed25519'),
    x: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$', description: 'the 32-byte public key, base64url' }),
    kid: Type.Optional(Type.String({ maxLength: 200 })),
    alg: Type.Optional(Type.Union([Type.Literal('EdDSA'), Type.Literal('Ed25519')])),
    use: Type.Optional(Type.Literal('sig')),
  },
  { additionalProperties: false, description: 'an Ed25519 public JWK (no private part)' },
);
export type PublicKeyJwk = Static<typeof PublicKeyJwk>;

/** A device registers its Ed25519 public key with an enroll secret (no device token yet). */
export const EnrollBody = Type.Object(
  {
    secret: Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'an enroll secret from `aigate enroll-secret create`',
    }),
    publicKey: PublicKeyJwk,
    hostname: Hostname,
    os: OsName,
    osVersion: Type.Optional(DeviceText({ minLength: 0, maxLength: 100 })),
    arch: Type.Optional(DeviceText({ minLength: 0, maxLength: 50 })),
    users: Type.Array(UserName, { maxItems: MAX_USERS }),
    agentVersion: AgentVersion,
  },
  { additionalProperties: false },
);
export type EnrollBody = Static<typeof EnrollBody>;

export const EnrollReply = Type.Object({
  deviceId: Type.String(),
  group: Type.String(),
  created: Type.Boolean({ description: 'false when this key was already enrolled' }),
  enrolledAt: Instant,
  audience: Type.String({ description: 'the `aud` every device token must carry' }),
  policyKey: Type.Object({
    kid: Type.String(),
    jwk: Type.Object({ kty: Type.String(), crv: Type.String(), x: Type.String() }, { additionalProperties: true }),
    fingerprint: Type.String({ description: 'RFC 7638 SHA-256 thumbprint of the policy signing key; pin it' }),
  }),
});
export type EnrollReply = Static<typeof EnrollReply>;

// --- GET /v1/policy-key ----------------------------------------------------------------------

/** The `typ` of a key proof: a policy key's signature over a device's challenge, never a bundle. */
export const KEY_PROOF_TYP = 'aigate-key-proof+jws';
/** A key proof is a few hundred characters. */
export const MAX_KEY_PROOF_CHARS = 4096;

/**
 * `?challenge=`: 32 random bytes in base64url from the agent, so the server must sign now, with the
 * private policy key, to prove it holds the key the agent was told to pin (before any secret is sent).
 */
export const KeyProofQuery = Type.Object(
  { challenge: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$', description: '32 random bytes, base64url' }) },
  { additionalProperties: false },
);
export type KeyProofQuery = Static<typeof KeyProofQuery>;

/** What a key proof signs: the challenge, and when (seconds since the epoch). */
export const KeyProofPayload = Type.Object(
  { challenge: Type.String(), iat: Type.Integer({ minimum: 0 }) },
  { additionalProperties: false },
);
export type KeyProofPayload = Static<typeof KeyProofPayload>;

export const KeyProofReply = Type.Object({
  policyKey: EnrollReply.properties.policyKey,
  proof: Type.String({
    maxLength: MAX_KEY_PROOF_CHARS,
    description: `compact JWS (EdDSA, typ ${KEY_PROOF_TYP}) over { challenge, iat }, signed by the policy key`,
  }),
});
export type KeyProofReply = Static<typeof KeyProofReply>;

// --- GET /v1/policy --------------------------------------------------------------------------

export const PolicyReply = Type.Object({
  revision: Type.Integer({ minimum: 1 }),
  etag: Type.String(),
  publishedAt: Instant,
  bundle: Type.String({ description: 'compact JWS (EdDSA, typ aigate-policy+jws) signed by the policy key' }),
});
export type PolicyReply = Static<typeof PolicyReply>;

// --- POST /v1/checkin ------------------------------------------------------------------------

/** The agent reports what it found and what it decided, and how healthy it is. */
export const CheckinBody = Type.Object(
  {
    policyRevision: Nullable(
      Type.Integer({ minimum: 1, description: 'the revision the agent applies; null before its first policy' }),
    ),
    agentVersion: AgentVersion,
    inventory: Type.Array(ToolInstance, { maxItems: MAX_INSTANCES }),
    verdicts: Type.Array(Verdict, { maxItems: MAX_INSTANCES }),
    hostname: Type.Optional(Hostname),
    users: Type.Optional(Type.Array(UserName, { maxItems: MAX_USERS })),
    scannedAt: Type.Optional(Type.String({ format: 'date-time' })),
    /** The agent's own health: `degraded` with reasons when enforcement cannot be trusted. */
    health: Type.Optional(AgentHealth),
  },
  { additionalProperties: false },
);
export type CheckinBody = Static<typeof CheckinBody>;

export const CheckinReply = Type.Object({
  receivedAt: Instant,
  serverTime: Type.String({
    description: 'compact JWS (typ aigate-time+jws) of the server time, bound to this device',
  }),
  policy: Nullable(Type.Object({ revision: Type.Integer(), etag: Type.String() })),
  changes: Type.Object({
    appeared: Type.Integer(),
    changed: Type.Integer(),
    disappeared: Type.Integer(),
    unchanged: Type.Integer(),
  }),
});
export type CheckinReply = Static<typeof CheckinReply>;

// --- POST /v1/events -------------------------------------------------------------------------

const DeviceEvent = Type.Object(
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
      Type.Record(
        Type.String({ maxLength: 100 }),
        Type.Union([Type.String({ maxLength: 4096 }), Type.Number(), Type.Boolean(), Type.Null()]),
        {
          maxProperties: 50,
          description: 'flat key/value facts (strings, numbers, booleans, null)',
        },
      ),
    ),
  },
  { additionalProperties: false },
);
export type DeviceEvent = Static<typeof DeviceEvent>;

export const EventsBody = Type.Object(
  { events: Type.Array(DeviceEvent, { minItems: 1, maxItems: MAX_EVENTS_PER_BATCH }) },
  { additionalProperties: false },
);
export type EventsBody = Static<typeof EventsBody>;

export const EventsReply = Type.Object({
  accepted: Type.Integer({ description: 'events stored now' }),
  duplicates: Type.Integer({ description: 'events this device had sent before (ignored)' }),
});
export type EventsReply = Static<typeof EventsReply>;

// --- /v1/exception-requests ------------------------------------------------------------------

/**
 * An employee asks (through the agent) for an exception. `toolId` is a catalogued tool id, or an
 * `unknown:` id this device reported; `user` is a user this device reported. The server refuses
 * anything else (no `*`, no vendor:/category: selectors, no made-up users).
 */
export const ExceptionRequestBody = Type.Object(
  {
    id: Type.Optional(
      Type.String({ format: 'uuid', description: 'client UUID; sending the same one again returns the first request' }),
    ),
    toolId: DeviceText({ maxLength: 300 }),
    installPath: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    version: Type.Optional(Nullable(DeviceText({ minLength: 0, maxLength: 100 }))),
    user: Type.Optional(UserName),
    reason: DeviceText({ maxLength: 2000 }),
    until: Type.Optional(
      Type.String({ minLength: 1, maxLength: 40, description: 'requested end: YYYY-MM-DD or an RFC 3339 instant' }),
    ),
  },
  { additionalProperties: false },
);
export type ExceptionRequestBody = Static<typeof ExceptionRequestBody>;

/**
 * `revoked`: it was approved, but the policy in force no longer contains its exception (a
 * rollback or an edit removed it); it becomes `approved` again if a later revision restores it.
 */
export const EXCEPTION_REQUEST_STATUSES = ['pending', 'approved', 'denied', 'revoked'] as const;
export type ExceptionRequestStatus = (typeof EXCEPTION_REQUEST_STATUSES)[number];

export const DeviceExceptionRequestView = Type.Object({
  id: Type.String({ description: 'the request id: the one reference for the employee, IT and the audit log' }),
  toolId: Type.String(),
  status: Type.Union(EXCEPTION_REQUEST_STATUSES.map((s) => Type.Literal(s))),
  requestedAt: Instant,
  decidedAt: Nullable(Instant),
  decisionReason: Nullable(Type.String()),
  policyRevision: Nullable(Type.Integer()),
});
export type DeviceExceptionRequestView = Static<typeof DeviceExceptionRequestView>;

// --- POST /v1/fingerprints -------------------------------------------------------------------

/** Fingerprints in one POST /v1/fingerprints body. */
export const MAX_FINGERPRINTS_PER_REPORT = 200;
/** Fingerprints a signed bundle carries at most (about 150 bytes each in the bundle). */
export const MAX_SHIPPED_FINGERPRINTS = 5000;
/** The largest file a fingerprint may describe: the agent does not hash larger files (agent/sentinel/fingerprints.ts). */
export const MAX_FINGERPRINT_FILE_BYTES = 1024 * 1024 * 1024;

/**
 * What the fingerprinted file is: `entry`, a script a tool's manifest names in `bin` (run by a
 * runtime: `node cli.js`); `native`, a native executable of the tool or its per-platform package.
 */
export const FINGERPRINT_KINDS = ['entry', 'native'] as const;
export type FingerprintKind = (typeof FINGERPRINT_KINDS)[number];

/** A SHA-256 digest as 64 lower-case hex digits. */
export const Sha256Hex = Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256, 64 lower-case hex digits' });

/**
 * One file fingerprint: the bytes of a catalogued tool's entry file or native binary. A device
 * reports those it learned; the signed bundle carries those the server ships (approved by an
 * admin or corroborated by several devices, see server/services/fingerprint-service.ts).
 */
export const ToolFingerprint = Type.Object(
  {
    sha256: Sha256Hex,
    size: Type.Integer({
      minimum: 1,
      maximum: MAX_FINGERPRINT_FILE_BYTES,
      description: 'file size in bytes (1 to 1 GiB)',
    }),
    toolId: Type.String({
      pattern: '^[a-z0-9]+(-[a-z0-9]+)*$',
      maxLength: 100,
      description: 'a catalogued tool id (kebab-case)',
    }),
    version: Nullable(DeviceText({ maxLength: 100 })),
    kind: Type.Union(
      FINGERPRINT_KINDS.map((k) => Type.Literal(k)),
      { description: FINGERPRINT_KINDS.join(' | ') },
    ),
  },
  { additionalProperties: false },
);
export type ToolFingerprint = Static<typeof ToolFingerprint>;

/**
 * A device reports fingerprints it learned from tool instances it found. Each must be of a tool
 * this device reported in its last check-in; the server refuses the whole body otherwise.
 */
export const FingerprintsBody = Type.Object(
  { fingerprints: Type.Array(ToolFingerprint, { minItems: 1, maxItems: MAX_FINGERPRINTS_PER_REPORT }) },
  { additionalProperties: false },
);
export type FingerprintsBody = Static<typeof FingerprintsBody>;

export const FingerprintsReply = Type.Object({
  received: Type.Integer({ description: 'fingerprints in the body' }),
  new: Type.Integer({ description: 'fingerprints no device had reported before' }),
});
export type FingerprintsReply = Static<typeof FingerprintsReply>;

/**
 * Request header of GET /v1/policy listing the optional bundle fields an agent understands
 * (comma-separated). Agents from before a field refuse a bundle carrying it (the payload schema
 * admits no unknown field), so the server serves them the same revision signed without it.
 */
export const BUNDLE_FEATURES_HEADER = 'aigate-bundle-features';
/** The bundle features this code understands: `fingerprints` (BundlePayload.fingerprints). */
export const BUNDLE_FEATURES = ['fingerprints'] as const;
