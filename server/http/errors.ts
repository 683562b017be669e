/**
 * Every error leaves the server as JSON `{ "error": code, "code": code, "message": text }` with a
 * code from policies/errors.ts (the one list shared with the agent and the CLI). Handlers throw
 * `ApiError` for anything the client got wrong; the error handler below maps Fastify's own
 * errors (validation, body parsing, size limits, rate limits) onto the same shape and turns
 * anything else into a 500 that is logged in full but never echoed to the client.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

import type { ErrorBody, ErrorCode } from '../../policies/errors.js';
import { isStorageFull, STORAGE_FULL_RETRY_AFTER_S } from '../db/storage-health.js';

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
    /** Extra response headers, e.g. WWW-Authenticate or Retry-After. */
    readonly headers: Record<string, string> = {},
    /** Itemised problems (an invalid policy), sent as `problems`. */
    readonly problems?: ErrorBody['problems'],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (message: string, code: ErrorCode = 'invalid_request') => new ApiError(400, code, message);
export const unauthorized = (message: string, code: ErrorCode = 'unauthorized') =>
  new ApiError(401, code, message, { 'www-authenticate': 'Bearer' });
export const forbidden = (message: string, code: ErrorCode = 'forbidden') => new ApiError(403, code, message);
export const notFound = (message: string, code: ErrorCode = 'not_found') => new ApiError(404, code, message);
export const conflict = (message: string, code: ErrorCode = 'conflict') => new ApiError(409, code, message);

/** A write refused because the disk is full: 503 with Retry-After (not a bug, not a 500). */
const storageFull = () =>
  new ApiError(
    503,
    'storage_full',
    "the server's disk is full, so nothing was written; retry later (the server's operator must free space)",
    {
      'retry-after': String(STORAGE_FULL_RETRY_AFTER_S),
    },
  );

/**
 * Map a full-disk failure (SQLITE_FULL, ENOSPC) to `storageFull()`, telling `onFull` first;
 * any other error is returned unchanged.
 */
export function mapStorageFull<E>(error: E, onFull?: (error: unknown) => void): E | ApiError {
  if (!isStorageFull(error)) return error;
  onFull?.(error);
  return storageFull();
}

/** Fastify error codes we map to our own codes; the status comes from Fastify. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_content_length',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_EMPTY_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_TYPE: 'unsupported_media_type',
  FST_ERR_VALIDATION: 'invalid_request',
  FST_ERR_BAD_URL: 'bad_url',
  FST_ERR_ASYNC_CONSTRAINT: 'invalid_request',
};

function send(
  reply: FastifyReply,
  status: number,
  code: ErrorCode,
  message: string,
  problems?: ErrorBody['problems'],
): FastifyReply {
  const body: ErrorBody = problems ? { error: code, code, message, problems } : { error: code, code, message };
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

function errorHandler(
  error: FastifyError | ApiError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
  onStorageFull?: (error: unknown) => void,
): FastifyReply {
  if (isStorageFull(error)) request.log.error({ err: error }, 'write refused: the disk is full');
  error = mapStorageFull(error, onStorageFull);
  if (error instanceof ApiError) {
    for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
    if (error.statusCode >= 500) request.log.error({ err: error }, 'request failed');
    return send(reply, error.statusCode, error.code, error.message, error.problems);
  }
  const fastifyError = error as FastifyError & { validationContext?: string };
  const status = typeof fastifyError.statusCode === 'number' ? fastifyError.statusCode : 500;

  if (fastifyError.code === 'FST_ERR_HANDLER_TIMEOUT') {
    return send(reply, 503, 'timeout', 'the server took too long to answer; retry shortly');
  }
  if (status === 429) {
    // @fastify/rate-limit builds its own error; keep its message (it says when to retry).
    return send(reply, 429, 'rate_limited', fastifyError.message || 'too many requests');
  }
  if (error instanceof SyntaxError && status === 400) {
    return send(reply, 400, 'invalid_json', `the request body is not valid JSON: ${error.message}`);
  }
  if (status >= 400 && status < 500) {
    const code: ErrorCode = (fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined) ?? 'invalid_request';
    let message = fastifyError.message;
    if (code === 'invalid_json') message = `the request body is not valid JSON: ${message}`;
    if (code === 'unsupported_media_type') {
      message = `the request body must be JSON (Content-Type: application/json), not ${request.headers['content-type'] ?? 'a body without a Content-Type'}`;
    }
    return send(reply, status, code, message);
  }
  // A real bug: log everything, tell the client nothing it could use.
  request.log.error({ err: error }, 'unhandled error');
  return send(reply, 500, 'internal_error', `internal server error (request id ${request.id})`);
}

function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return send(reply, 404, 'not_found', `no route for ${request.method} ${request.url.split('?')[0]}`);
}

/**
 * Install the JSON error shape on an instance (and, through encapsulation, its children).
 * `onStorageFull` hears of every write refused for a full disk (the storage health).
 */
/**
 * For Fastify's `frameworkErrors` option: errors Fastify raises before routing (a URL it cannot
 * decode, FST_ERR_BAD_URL) get the same body and code as every other error (`bad_url`), not
 * Fastify's own `{ statusCode, code: "FST_ERR_BAD_URL" }`.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  errorHandler(error, request, reply);
}

export function installErrorHandling(app: FastifyInstance, onStorageFull?: (error: unknown) => void): void {
  app.setErrorHandler((error: FastifyError | ApiError | Error, request, reply) =>
    errorHandler(error, request, reply, onStorageFull),
  );
  app.setNotFoundHandler(notFoundHandler);
}
