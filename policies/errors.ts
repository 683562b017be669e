/**
 * Every error code the server sends, in one list shared by the server (which sends them), the
 * agent and the admin CLI (which branch on them; never on a message's text). Modelled on
 * fastify's `lib/errors.js`: one table of codes, and a test (test/policies/error-codes.test.ts)
 * that the README lists every one.
 *
 * Every error reply is `ErrorBody`: `{ "error": code, "code": code, "message": text }`, plus
 * `problems` for an invalid policy. `error` and `code` carry the same value (`error` is the
 * field older clients read).
 */
import { type Static, Type } from '@sinclair/typebox';

/** The codes, with the HTTP status each comes with and what a client should do. */
export const ERROR_CODES = {
  invalid_request: {
    status: 400,
    meaning: 'a field is missing, malformed or refers to something that cannot be used; the message names the field',
  },
  invalid_json: {
    status: 400,
    meaning: 'the body is not JSON, is empty, or holds a forbidden key such as `__proto__`',
  },
  invalid_policy: {
    status: 400,
    meaning: 'the policy does not validate; `problems` lists every problem with its line and column',
  },
  invalid_content_length: { status: 400, meaning: 'the Content-Length header does not match the body' },
  bad_url: { status: 400, meaning: 'the URL cannot be decoded' },
  unauthorized: { status: 401, meaning: 'not signed in' },
  missing_token: { status: 401, meaning: 'no Authorization header: send a device token or an admin token' },
  invalid_token: {
    status: 401,
    meaning: 'the token is malformed, unknown, for another server, or its signature does not verify',
  },
  token_expired: { status: 401, meaning: 'the device token has expired: sign a new one' },
  token_too_old: { status: 401, meaning: 'the device token was issued before the server started: sign a new one' },
  token_replayed: { status: 401, meaning: 'this device token was already used: sign a new one per request' },
  token_revoked: { status: 401, meaning: 'the admin token was revoked' },
  invalid_enroll_secret: { status: 401, meaning: 'the enroll secret is not valid' },
  forbidden: { status: 403, meaning: 'the token may not do this (an auditor token writing, a form from another site)' },
  enroll_secret_refused: { status: 403, meaning: 'the enroll secret was revoked, has expired or is used up' },
  device_revoked: { status: 403, meaning: 'this device was revoked: enroll again with a new key' },
  not_found: { status: 404, meaning: 'no such route or object' },
  conflict: { status: 409, meaning: 'the request conflicts with the current state' },
  already_decided: { status: 409, meaning: 'the exception request was already approved or denied' },
  no_policy: { status: 409, meaning: 'no policy has been published yet' },
  last_admin_token: { status: 409, meaning: 'revoking this token would leave no admin token' },
  confirmation_required: {
    status: 409,
    meaning:
      'the change removes something (such as approved exceptions); the reply says what; repeat it with `confirm: true` (`aigate policy rollback N --yes`)',
  },
  body_too_large: { status: 413, meaning: 'the body is larger than this route accepts (send fewer events per batch)' },
  unsupported_media_type: { status: 415, meaning: 'the body must be JSON (Content-Type: application/json)' },
  rate_limited: { status: 429, meaning: 'too many requests: retry after the time the message gives' },
  too_many_reports: { status: 429, meaning: 'too many report exports are running: retry after Retry-After seconds' },
  internal_error: {
    status: 500,
    meaning: 'a bug: the server logged the details under the request id the message gives',
  },
  busy: { status: 503, meaning: 'the server is overloaded: retry after Retry-After seconds' },
  timeout: { status: 503, meaning: 'the server took too long to answer: retry shortly' },
  storage_full: {
    status: 503,
    meaning:
      "the server's disk is full: nothing was written; retry after Retry-After seconds (an operator must free space)",
  },
} as const satisfies Record<string, { status: number; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** All codes, in table order. */
export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as ErrorCode[];

/** True when `value` is one of the codes above (for clients reading a reply). */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

const CodeSchema = Type.Union(
  ERROR_CODE_LIST.map((code) => Type.Literal(code)),
  { description: 'a stable, machine-readable code (see the README: Error codes)' },
);

/** One problem found in a policy (policies/problem.ts `Problem`). */
export const ProblemSchema = Type.Object({
  path: Type.String(),
  message: Type.String(),
  line: Type.Optional(Type.Integer()),
  column: Type.Optional(Type.Integer()),
});

/** The body of every error reply. */
export const ErrorBody = Type.Object(
  {
    error: CodeSchema,
    code: CodeSchema,
    message: Type.String({ description: 'what went wrong, for people' }),
    problems: Type.Optional(
      Type.Array(ProblemSchema, {
        description: 'for invalid policies: every problem found, with field path and position',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ErrorBody = Static<typeof ErrorBody>;
