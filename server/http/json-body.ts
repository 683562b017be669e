/**
 * The JSON body parser: plain JSON.parse (its messages say where the syntax breaks), plus a
 * refusal of `__proto__` / `constructor.prototype` keys, which some later merge could turn into
 * prototype pollution. The key scan only runs when the raw text mentions those names, so
 * ordinary bodies pay nothing for it.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';

import { ApiError } from './errors.js';

const SUSPICIOUS = /"(?:__proto__|constructor)"/;

function forbiddenKey(value: unknown): string | null {
  if (value === null || typeof value !== 'object') return null;
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = forbiddenKey(item);
      if (found) return found;
    }
    return null;
  }
  for (const key of Object.keys(value)) {
    if (key === '__proto__') return '__proto__';
    const child = (value as Record<string, unknown>)[key];
    if (key === 'constructor' && child !== null && typeof child === 'object' && Object.hasOwn(child, 'prototype'))
      return 'constructor.prototype';
    const found = forbiddenKey(child);
    if (found) return found;
  }
  return null;
}

function parseJsonBody(text: string): unknown {
  if (text.length === 0) throw new ApiError(400, 'invalid_json', 'the request body is empty; send a JSON document');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, 'invalid_json', `the request body is not valid JSON: ${(error as Error).message}`);
  }
  if (SUSPICIOUS.test(text)) {
    const key = forbiddenKey(value);
    if (key) throw new ApiError(400, 'invalid_json', `the request body contains a forbidden "${key}" key`);
  }
  return value;
}

export function installJsonBodyParser(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  const parser = (
    _request: FastifyRequest,
    body: string | Buffer,
    done: (error: Error | null, value?: unknown) => void,
  ) => {
    try {
      done(null, parseJsonBody(typeof body === 'string' ? body : body.toString('utf8')));
    } catch (error) {
      done(error as Error, undefined);
    }
  };
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parser);
  app.addContentTypeParser(/^application\/[a-z0-9.+-]+\+json$/, { parseAs: 'string' }, parser);
}
