/** Policy administration: validate, preview impact, publish, history, show, roll back. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';

import { builtinCatalog } from '../../../policies/catalog/index.js';
import { ProblemSchema } from '../../../policies/errors.js';
import { loadPolicy, MAX_POLICY_BYTES } from '../../../policies/load.js';
import { EXCEPTION_REQUEST_STATUSES } from '../../../policies/protocol.js';
import { parseDateOrInstant } from '../../../policies/time.js';
import { badRequest, notFound } from '../../http/errors.js';
import { adminErrors, Instant, iso, Nullable } from '../../http/schemas.js';
import { guessFormat, invalidPolicy } from '../../services/policy-service.js';
import { previewPolicy } from '../../services/preview.js';
import type { PolicyRevisionSummary } from '../../store/policies.js';
import { actorOf } from '../auth.js';
import { adminAccess, adminSecurity } from './access.js';

const Format = Type.Union([Type.Literal('yaml'), Type.Literal('json')], {
  description: 'yaml | json (default: guessed from the text)',
});
const Source = Type.String({
  minLength: 1,
  maxLength: MAX_POLICY_BYTES,
  description: 'the policy file text (YAML or JSON)',
});

const Problem = ProblemSchema;

const ValidateBody = Type.Object({ source: Source, format: Type.Optional(Format) }, { additionalProperties: false });
const PublishBody = Type.Object(
  {
    source: Source,
    format: Type.Optional(Format),
    comment: Type.Optional(Type.String({ maxLength: 500 })),
    confirm: Type.Optional(
      Type.Boolean({
        description:
          'publish even though the policy leaves out exceptions of approved requests now in force (otherwise 409 confirmation_required)',
      }),
    ),
  },
  { additionalProperties: false },
);
const PreviewBody = Type.Object(
  {
    source: Source,
    format: Type.Optional(Format),
    at: Type.Optional(
      Type.String({ minLength: 1, maxLength: 40, description: 'evaluate at this date or instant (default now)' }),
    ),
  },
  { additionalProperties: false },
);
const RollbackBody = Type.Object(
  {
    comment: Type.Optional(Type.String({ maxLength: 500 })),
    dryRun: Type.Optional(Type.Boolean({ description: 'only say what the rollback would remove; publish nothing' })),
    confirm: Type.Optional(
      Type.Boolean({
        description:
          'publish even though the rollback removes exceptions now in force (otherwise 409 confirmation_required)',
      }),
    ),
  },
  { additionalProperties: false },
);
const RemovedException = Type.Object({
  name: Nullable(Type.String()),
  tools: Type.Array(Type.String()),
  until: Nullable(Type.String()),
  reason: Type.String(),
  request: Nullable(
    Type.Object({
      id: Type.String(),
      status: Nullable(Type.Union(EXCEPTION_REQUEST_STATUSES.map((s) => Type.Literal(s)))),
    }),
  ),
});
export const RollbackPlanReply = Type.Object({
  dryRun: Type.Literal(true),
  toRevision: Type.Integer(),
  fromRevision: Nullable(Type.Integer()),
  removes: Type.Array(RemovedException, {
    description: 'exceptions in force now that the target revision does not have',
  }),
});
const FollowedRequests = Type.Object(
  { revoked: Type.Array(Type.String()), reinstated: Type.Array(Type.String()) },
  { description: 'exception requests whose state changed with this revision (their exception left or came back)' },
);
const RevisionParams = Type.Object({ revision: Type.Integer({ minimum: 1 }) }, { additionalProperties: false });

export const RevisionSummary = Type.Object({
  revision: Type.Integer(),
  name: Type.String(),
  sha256: Type.String(),
  etag: Type.String(),
  publishedAt: Instant,
  publishedBy: Nullable(Type.String()),
  comment: Nullable(Type.String()),
  rollbackOf: Nullable(Type.Integer()),
  exceptionRequest: Nullable(Type.String()),
  current: Type.Boolean(),
});
export const RevisionDetail = Type.Composite([
  RevisionSummary,
  Type.Object({
    source: Type.String(),
    sourceFormat: Format,
    document: Type.Unknown({ description: 'the validated policy as JSON' }),
    bundle: Type.String(),
  }),
]);
export const PublishReply = Type.Object({
  revision: Type.Integer(),
  etag: Type.String(),
  name: Type.String(),
  sha256: Type.String(),
  warnings: Type.Array(Problem),
  exceptionRequests: FollowedRequests,
});
/** A publish or a rollback, with the exceptions in force it removed (confirmed). */
export const RollbackReply = Type.Composite([PublishReply, Type.Object({ removed: Type.Array(RemovedException) })]);
const CountSet = Type.Object({ devices: Type.Integer(), users: Type.Integer(), instances: Type.Integer() });
const Action = Type.Union([Type.Literal('allow'), Type.Literal('warn'), Type.Literal('block')]);
export const PreviewReply = Type.Object({
  at: Instant,
  policy: Type.Object({ name: Type.String(), mode: Type.String() }),
  devices: Type.Integer({ description: 'active devices evaluated' }),
  instances: Type.Integer(),
  totals: Type.Object({ block: CountSet, warn: CountSet, allow: CountSet }),
  rows: Type.Array(
    Type.Object({
      toolId: Type.String(),
      name: Nullable(Type.String()),
      action: Action,
      phase: Type.String(),
      effectiveAt: Nullable(Type.String()),
      upcomingAction: Nullable(Action),
      devices: Type.Integer(),
      users: Type.Integer(),
      instances: Type.Integer(),
      changed: Type.Integer({ description: 'instances whose verdict differs from what their agent last reported' }),
    }),
  ),
  warnings: Type.Array(Problem),
});

export const policyAdminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { stores, policies, channel, now, options } = app.aigate;
  const bodyLimit = options.bodyLimits.policy;
  const summary = (revision: PolicyRevisionSummary) => ({
    revision: revision.revision,
    name: revision.name,
    sha256: revision.sha256,
    etag: revision.etag,
    publishedAt: iso(revision.publishedAt)!,
    publishedBy: revision.publishedBy,
    comment: revision.comment,
    rollbackOf: revision.rollbackOf,
    exceptionRequest: revision.exceptionRequest,
    current: channel.current?.revision === revision.revision,
  });

  app.post(
    '/validate',
    {
      onRequest: adminAccess(app, 'read'),
      bodyLimit,
      schema: {
        tags: ['admin'],
        summary: 'Validate a policy without publishing it',
        security: adminSecurity,
        body: ValidateBody,
        response: {
          200: Type.Object({ valid: Type.Boolean(), errors: Type.Array(Problem), warnings: Type.Array(Problem) }),
          ...adminErrors,
        },
      },
    },
    async (request) => {
      const { source, format } = request.body;
      const result = loadPolicy(source, { format: format ?? guessFormat(source), nowMs: now() });
      return result.ok
        ? { valid: true, errors: [], warnings: result.warnings }
        : { valid: false, errors: result.errors, warnings: result.warnings };
    },
  );

  app.post(
    '/preview',
    {
      onRequest: adminAccess(app, 'read'),
      bodyLimit,
      schema: {
        tags: ['admin'],
        summary: 'Preview the impact of a draft policy on the current inventory',
        security: adminSecurity,
        body: PreviewBody,
        response: { 200: PreviewReply, ...adminErrors },
      },
    },
    async (request) => {
      const { source, format, at } = request.body;
      const result = loadPolicy(source, { format: format ?? guessFormat(source), nowMs: now() });
      if (!result.ok) throw invalidPolicy(result.errors);
      let atMs = now();
      if (at !== undefined) {
        const parsed = parseDateOrInstant(at, result.policy.spec.timezone ?? 'UTC');
        if (!parsed.ok) throw badRequest(`body.at: ${parsed.error}`);
        atMs = parsed.epochMs;
      }
      return { ...previewPolicy(result.policy, builtinCatalog, stores.inventory, atMs), warnings: result.warnings };
    },
  );

  app.post(
    '/',
    {
      onRequest: adminAccess(app, 'write'),
      bodyLimit,
      schema: {
        tags: ['admin'],
        summary: 'Publish a policy as the next revision',
        description:
          'A policy that leaves out the exception of an approved request now in force (a file older than the approval) is refused with 409 confirmation_required naming them, ' +
          'unless `confirm` is true; those requests then become `revoked`.',
        security: adminSecurity,
        body: PublishBody,
        response: { 201: RollbackReply, ...adminErrors },
      },
    },
    async (request, reply) => {
      const { source, format, comment, confirm } = request.body;
      const result = await policies.publish({
        source,
        format: format ?? guessFormat(source),
        comment: comment ?? null,
        actor: actorOf(request),
        remoteIp: request.ip,
        confirm: confirm ?? false,
      });
      request.log.info({ revision: result.revision, by: request.admin!.name }, 'policy published');
      return reply.code(201).send(result);
    },
  );

  app.get(
    '/',
    {
      onRequest: adminAccess(app, 'read'),
      schema: {
        tags: ['admin'],
        summary: 'Policy history, newest first',
        security: adminSecurity,
        querystring: Type.Object(
          {
            before: Type.Optional(Type.Integer({ minimum: 1, description: 'only revisions older than this' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'default 100' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ revisions: Type.Array(RevisionSummary) }), ...adminErrors },
      },
    },
    async (request) => {
      const before = request.query.before ?? Number.MAX_SAFE_INTEGER;
      return { revisions: stores.policies.list(before, request.query.limit ?? 100).map(summary) };
    },
  );

  const detail = (revision: number) => {
    const found = stores.policies.get(revision);
    if (!found) throw notFound(`there is no policy revision ${revision}`);
    return {
      ...summary(found),
      source: found.source,
      sourceFormat: found.sourceFormat,
      document: found.document,
      bundle: found.bundle,
    };
  };

  app.get(
    '/current',
    {
      onRequest: adminAccess(app, 'read'),
      schema: {
        tags: ['admin'],
        summary: 'The current revision',
        security: adminSecurity,
        response: { 200: RevisionDetail, ...adminErrors },
      },
    },
    async () => {
      const current = channel.current;
      if (!current) throw notFound('no policy has been published yet', 'no_policy');
      return detail(current.revision);
    },
  );

  app.get(
    '/:revision',
    {
      onRequest: adminAccess(app, 'read'),
      schema: {
        tags: ['admin'],
        summary: 'One revision with its source and signed bundle',
        security: adminSecurity,
        params: RevisionParams,
        response: { 200: RevisionDetail, ...adminErrors },
      },
    },
    async (request) => detail(request.params.revision),
  );

  app.post(
    '/:revision/rollback',
    {
      onRequest: adminAccess(app, 'write'),
      schema: {
        tags: ['admin'],
        summary: 'Publish the content of an earlier revision as a new revision',
        description:
          'A rollback that removes exceptions now in force (approved requests among them) is refused with 409 confirmation_required naming them, ' +
          'unless `confirm` is true; `dryRun` returns what it would remove without publishing. Requests whose exception is removed become `revoked`.',
        security: adminSecurity,
        params: RevisionParams,
        body: Nullable(RollbackBody),
        response: { 200: RollbackPlanReply, 201: RollbackReply, ...adminErrors },
      },
    },
    async (request, reply) => {
      if (request.body?.dryRun)
        return reply.code(200).send({ dryRun: true as const, ...policies.rollbackPlan(request.params.revision) });
      const result = await policies.rollback(request.params.revision, {
        actor: actorOf(request),
        comment: request.body?.comment ?? null,
        remoteIp: request.ip,
        confirm: request.body?.confirm ?? false,
      });
      return reply.code(201).send(result);
    },
  );
};
