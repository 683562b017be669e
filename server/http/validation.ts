/**
 * Request validation with TypeBox's compiled checkers instead of Fastify's default Ajv setup:
 * bodies are checked strictly (no type coercion, unknown fields rejected, nothing silently
 * removed), while query strings, params and headers are first converted from text (they are
 * always strings on the wire). Errors name the field: `body.inventory[3].version: expected a
 * string or null, got 42`.
 */
import { FormatRegistry, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value, type ValueError, ValueErrorType } from '@sinclair/typebox/value';
import type { FastifySchemaCompiler } from 'fastify';

import { formatPath, pointerSegments } from '../../policies/problem.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

// TypeBox checks `format` only for formats registered here (unregistered ones always fail).
if (!FormatRegistry.Has('uuid')) FormatRegistry.Set('uuid', (value) => UUID.test(value));
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (value) => DATE_TIME.test(value) && Number.isFinite(Date.parse(value)));
}

export class RequestValidationError extends Error {
  readonly statusCode = 400;
  readonly code = 'FST_ERR_VALIDATION';
  constructor(
    message: string,
    readonly validationContext: string,
  ) {
    super(message);
    this.name = 'RequestValidationError';
  }
}

/** `body` + `/inventory/0/sha` -> `body.inventory[0].sha` (the one path format, policies/problem.ts). */
function fieldPath(root: string, pointer: string): string {
  return formatPath([root, ...pointerSegments(pointer)]);
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  return `${typeof value} ${String(value)}`;
}

function expected(schema: TSchema): string {
  const s = schema as Record<string, unknown>;
  if ('const' in s) return typeof s.const === 'string' ? s.const : JSON.stringify(s.const);
  if (Array.isArray(s.anyOf)) {
    const options = s.anyOf as Record<string, unknown>[];
    // A choice of words reads best as `linux | darwin | windows`.
    if (options.every((o) => typeof o.const === 'string')) {
      return options.length <= 12 ? options.map((o) => o.const as string).join(' | ') : 'one of the allowed values';
    }
    const parts = options.map((o) => expected(o as TSchema));
    return parts.length <= 4
      ? `${parts.slice(0, -1).join(', ')}${parts.length > 1 ? ' or ' : ''}${parts[parts.length - 1]}`
      : 'one of the allowed values';
  }
  switch (s.type) {
    case 'string':
      if (s.format === 'uuid') return 'a UUID';
      if (s.format === 'date-time') return 'an RFC 3339 date-time';
      // A pattern is unreadable in a message; the schema's description says it in words.
      if (typeof s.pattern === 'string' && typeof s.description === 'string') return s.description;
      return 'a string';
    case 'integer':
      return 'an integer';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'true or false';
    case 'array':
      return 'a list';
    case 'object':
      return 'an object';
    case 'null':
      return 'null';
    default:
      return 'a different value';
  }
}

function allowedFields(schema: TSchema): string {
  const properties = (schema as { properties?: Record<string, unknown> }).properties;
  return properties ? Object.keys(properties).join(', ') : '(none)';
}

function describeError(error: ValueError): string {
  const s = error.schema as Record<string, unknown>;
  switch (error.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return 'is required';
    case ValueErrorType.ObjectAdditionalProperties:
      return `is not a known field (allowed: ${allowedFields(error.schema)})`;
    case ValueErrorType.StringMinLength:
      return s.minLength === 1 ? 'must not be empty' : `must be at least ${String(s.minLength)} characters`;
    case ValueErrorType.StringMaxLength:
      return `is too long (at most ${String(s.maxLength)} characters)`;
    case ValueErrorType.ArrayMinItems:
      return `must have at least ${String(s.minItems)} item${s.minItems === 1 ? '' : 's'}`;
    case ValueErrorType.ArrayMaxItems:
      return `has too many items (at most ${String(s.maxItems)})`;
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.IntegerMinimum:
      return `must be at least ${String(s.minimum)}, got ${describeValue(error.value)}`;
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.IntegerMaximum:
      return `must be at most ${String(s.maximum)}, got ${describeValue(error.value)}`;
    case ValueErrorType.StringPattern:
    case ValueErrorType.StringFormat:
      return `expected ${expected(error.schema)}, got ${describeValue(error.value)}`;
    case ValueErrorType.ObjectMaxProperties:
      return `has too many fields (at most ${String(s.maxProperties)})`;
    default:
      return `expected ${expected(error.schema)}, got ${describeValue(error.value)}`;
  }
}

/** The first few problems, one per field, as one readable sentence. */
export function formatErrors(root: string, errors: Iterable<ValueError>, limit = 3): string {
  const seen = new Set<string>();
  const parts: string[] = [];
  let more = 0;
  for (const error of errors) {
    // TypeBox reports an unknown field at its own path, so the message names the field itself.
    const path = fieldPath(root, error.path);
    if (seen.has(path)) continue;
    seen.add(path);
    if (parts.length < limit) parts.push(`${path} ${describeError(error)}`);
    else more++;
    if (more > 50) break;
  }
  if (parts.length === 0) return `${root} is invalid`;
  return parts.join('; ') + (more ? `; and ${more} more problem${more === 1 ? '' : 's'}` : '');
}

const ROOT_NAMES: Record<string, string> = { body: 'body', querystring: 'query', params: 'params', headers: 'headers' };

/** Fastify validator compiler: strict bodies, converted query/params/headers, clear messages. */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = TypeCompiler.Compile(schema);
  const part = httpPart ?? 'body';
  const root = ROOT_NAMES[part] ?? part;
  const convert = part !== 'body';
  return (input: unknown) => {
    const value = convert ? Value.Convert(schema, input) : input;
    if (check.Check(value)) return { value };
    if (part === 'body' && (input === null || input === undefined)) {
      return { error: new RequestValidationError('the request needs a JSON body', part) };
    }
    return { error: new RequestValidationError(formatErrors(root, check.Errors(value)), part) };
  };
};
