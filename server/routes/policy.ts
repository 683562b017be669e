/**
 * GET /v1/policy: the current signed bundle. `If-None-Match` with the current ETag gives 304;
 * `Prefer: wait=N` (N <= 60) holds the request until a new revision is published or N seconds
 * pass, so online agents see a publish within moments. Served from memory: no database access.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';

import { BUNDLE_FEATURES_HEADER, PolicyReply } from '../../policies/protocol.js';
import { badRequest, notFound } from '../http/errors.js';
import { deviceErrors } from '../http/schemas.js';
import type { CurrentPolicy } from '../policy-channel.js';
import { acceptsFeature, LegacyBundles } from '../services/legacy-bundle.js';
import { deviceGuard } from './auth.js';

/** The `wait` preference of a Prefer header (RFC 7240), clamped to `max`; null when absent. */
export function parseWait(prefer: string | undefined, max: number): number | null {
  if (!prefer) return null;
  for (const preference of prefer.split(',')) {
    const [token] = preference.split(';');
    const match = /^\s*wait\s*=\s*"?([^"\s]*)"?\s*$/i.exec(token ?? '');
    if (!match) continue;
    const value = match[1]!;
    if (!/^\d{1,6}$/.test(value))
      throw badRequest(`Prefer: wait must be a whole number of seconds (0 to ${max}), got "${value}"`);
    return Math.min(Number(value), max);
  }
  return null;
}

/** Entity tags listed in If-None-Match; weak tags compare equal to strong ones for GET. */
export function parseIfNoneMatch(header: string | undefined): Set<string> {
  const tags = new Set<string>();
  if (!header) return tags;
  for (const match of header.matchAll(/(\*|(?:W\/)?"[^"]*")/g)) tags.add(match[1]!.replace(/^W\//, ''));
  return tags;
}

const matches = (tags: Set<string>, policy: CurrentPolicy | null) =>
  policy !== null && (tags.has('*') || tags.has(policy.etag));

export const policyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { channel, deviceAuth, lastSeen, now, options, signingKey } = app.aigate;
  const legacy = new LegacyBundles(signingKey);
  app.get(
    '/v1/policy',
    {
      onRequest: [deviceGuard(deviceAuth), app.limiters.device],
      // Read by agents, not browsers, at a high rate: skip helmet's per-reply work (nosniff is set below).
      helmet: false,
      // Bounded by itself: a long poll ends after at most maxWaitSeconds.
      config: { hotPath: true },
      schema: {
        tags: ['device'],
        summary: 'The current signed policy bundle (ETag, 304, long-poll with Prefer: wait=N)',
        security: [{ deviceToken: [] }],
        headers: Type.Object({
          'if-none-match': Type.Optional(Type.String({ maxLength: 1000 })),
          prefer: Type.Optional(Type.String({ maxLength: 200 })),
          [BUNDLE_FEATURES_HEADER]: Type.Optional(
            Type.String({
              maxLength: 200,
              description: 'optional bundle fields the agent understands, e.g. fingerprints',
            }),
          ),
        }),
        response: {
          200: PolicyReply,
          304: Type.Unsafe<undefined>({ description: 'unchanged since the ETag given: no body' }),
          ...deviceErrors,
        },
      },
    },
    async (request, reply) => {
      const wait = parseWait(request.headers.prefer, options.maxWaitSeconds);
      const known = parseIfNoneMatch(request.headers['if-none-match']);
      lastSeen.note(request.device!.id, now());
      // An agent that does not say it understands fingerprints gets the bundle without them.
      const fingerprints = acceptsFeature(request.headers, 'fingerprints');
      const served = async (current: CurrentPolicy | null) =>
        current === null || fingerprints ? current : legacy.withoutFingerprints(current);
      let current = channel.current;
      let policy = await served(current);
      if (wait !== null) reply.header('preference-applied', `wait=${wait}`);
      if ((policy === null || matches(known, policy)) && wait !== null && wait > 0) {
        current = await channel.waitForChange(current?.etag ?? null, wait * 1000, request.signal);
        policy = await served(current);
      }
      reply.header('cache-control', 'no-cache, private').header('x-content-type-options', 'nosniff');
      if (policy === null) throw notFound('no policy has been published yet', 'no_policy');
      reply.header('etag', policy.etag);
      if (matches(known, policy)) return reply.code(304).send(undefined);
      return {
        revision: policy.revision,
        etag: policy.etag,
        publishedAt: new Date(policy.publishedAt).toISOString(),
        bundle: policy.bundle,
      };
    },
  );
};
