/**
 * The agent's one family of contact errors (issue 11 item 3), and the run-time check of every
 * device-route reply against the wire contract (policies/protocol.ts). A caller tells "offline"
 * from "the server said no" from "the server answered nonsense" by class, and branches on the
 * server's error `code` (policies/errors.ts), never on a message's text.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';

import { type ErrorCode, isErrorCode } from '../../policies/errors.js';

/** Any failure to get a usable answer from the server. `status` is null when none came back. */
export class ContactError extends Error {
  constructor(
    message: string,
    readonly status: number | null = null,
    readonly code: ErrorCode | null = null,
  ) {
    super(message);
    this.name = 'ContactError';
  }
}

/** No answer at all: connection refused, DNS, TLS, timeout. */
export class ServerUnreachable extends ContactError {
  constructor(
    readonly url: string,
    cause: string,
  ) {
    super(`cannot reach ${url}: ${cause}`);
    this.name = 'ServerUnreachable';
  }
}

/** The server does not accept this device (401/403: revoked, unknown, bad token). */
export class DeviceRejected extends ContactError {
  constructor(status: number, code: ErrorCode | null, message: string) {
    super(message, status, code);
    this.name = 'DeviceRejected';
  }
}

/** The server answered with an error status the caller does not handle itself. */
export class ServerError extends ContactError {
  constructor(message: string, status: number | null = null, code: ErrorCode | null = null) {
    super(message, status, code);
    this.name = 'ServerError';
  }
}

/** The server answered 2xx with a body the protocol does not allow (another program, a broken proxy, a bug). */
export class MalformedReply extends ContactError {
  constructor(what: string, status: number, problem: string) {
    super(
      `${what}: the server's answer is not what the aigate protocol says (${problem}); is this an aigate server of a matching version?`,
      status,
    );
    this.name = 'MalformedReply';
  }
}

/** The server's error code in an error reply (`code`, or `error` from older servers), if it is one of ours. */
export function errorCode(body: unknown): ErrorCode | null {
  if (typeof body !== 'object' || body === null) return null;
  const { code, error } = body as { code?: unknown; error?: unknown };
  return isErrorCode(code) ? code : isErrorCode(error) ? error : null;
}

/** The server's message in an error reply, or `HTTP <status>`. */
export function errorMessage(reply: { status: number; body: unknown }): string {
  const body = reply.body as { message?: unknown } | null;
  if (body && typeof body === 'object' && typeof body.message === 'string') return body.message;
  return `HTTP ${reply.status}`;
}

/** The contact error for an error reply to `what` (a route, for the message). */
export function replyError(what: string, reply: { status: number; body: unknown }): ContactError {
  const code = errorCode(reply.body);
  if (reply.status === 401 || reply.status === 403)
    return new DeviceRejected(reply.status, code, `the server does not accept this device: ${errorMessage(reply)}`);
  return new ServerError(`${what} answered HTTP ${reply.status}: ${errorMessage(reply)}`, reply.status, code);
}

// Compiled once per schema: a reply check costs a function call, not a schema walk.
const checkers = new WeakMap<TSchema, TypeCheck<TSchema>>();

/** `reply.body` as `schema` says, or a MalformedReply naming the first field that is wrong. */
export function checkReply<T extends TSchema>(
  schema: T,
  what: string,
  reply: { status: number; body: unknown },
): Static<T> {
  let checker = checkers.get(schema);
  if (!checker) checkers.set(schema, (checker = TypeCompiler.Compile(schema)));
  if (checker.Check(reply.body)) return reply.body as Static<T>;
  const first = checker.Errors(reply.body).First();
  throw new MalformedReply(
    what,
    reply.status,
    first ? `${first.path || '/'}: ${first.message}` : 'not the expected shape',
  );
}
