/** Small schema helpers shared by the route groups. */
import { Type } from '@sinclair/typebox';

import { ErrorBody } from '../../policies/errors.js';

export { Instant, Nullable } from '../../policies/protocol.js';

export const iso = (ms: number | null | undefined): string | null =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString();

/** A UUID in a path parameter. */
export const IdParams = Type.Object(
  { id: Type.String({ format: 'uuid', description: 'a UUID' }) },
  { additionalProperties: false },
);

const errors = (...codes: number[]) => Object.fromEntries(codes.map((code) => [code, ErrorBody]));

/** Error responses every authenticated route can give. */
export const deviceErrors = errors(400, 401, 403, 404, 409, 413, 415, 429, 503);
export const adminErrors = errors(400, 401, 403, 404, 409, 413, 415, 429);

/** A device group's name (enroll secrets, filters). */
export const GroupName = Type.String({
  minLength: 1,
  maxLength: 200,
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
  description: 'a group name: letters, digits, . _ - (starting with a letter or digit)',
});
