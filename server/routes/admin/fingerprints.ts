/**
 * File fingerprints for admins: list what devices reported (and whether each is shipped and
 * why), approve one (ships it whatever the devices said) or revoke one (never shipped again).
 * A decision that changes the bundle publishes a new policy revision.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';

import { FINGERPRINT_KINDS, Sha256Hex } from '../../../policies/protocol.js';
import { adminErrors, Instant, iso, Nullable } from '../../http/schemas.js';
import type { ShipState } from '../../services/fingerprint-service.js';
import { FINGERPRINT_STATUSES, type FingerprintRecord } from '../../store/fingerprints.js';
import { actorOf } from '../auth.js';
import { adminAccess, adminSecurity } from './access.js';

const Status = Type.Union(
  FINGERPRINT_STATUSES.map((s) => Type.Literal(s)),
  { description: FINGERPRINT_STATUSES.join(' | ') },
);

export const FingerprintView = Type.Object({
  sha256: Type.String(),
  toolId: Type.String(),
  kind: Type.Union(FINGERPRINT_KINDS.map((k) => Type.Literal(k))),
  size: Type.Integer({ description: 'bytes' }),
  version: Nullable(Type.String()),
  status: Status,
  shipped: Type.Boolean({ description: 'whether the signed bundle carries it' }),
  why: Type.String({ description: 'approved | corroborated, or why it is not shipped' }),
  devices: Type.Integer({ description: 'distinct devices that reported it' }),
  agreeing: Type.Integer({ description: 'devices whose claim (tool, kind, size) matches' }),
  firstReportedAt: Instant,
  lastReportedAt: Instant,
  decidedAt: Nullable(Instant),
  decidedBy: Nullable(Type.String()),
  shippedRevision: Nullable(Type.Integer({ description: 'the first revision whose bundle carried it' })),
});

const view = (record: FingerprintRecord, state: ShipState) => ({
  sha256: record.sha256,
  toolId: record.toolId,
  kind: record.kind,
  size: record.size,
  version: record.version,
  status: record.status,
  shipped: state.shipped,
  why: state.why,
  devices: record.devices,
  agreeing: record.agreeing,
  firstReportedAt: iso(record.firstReportedAt)!,
  lastReportedAt: iso(record.lastReportedAt)!,
  decidedAt: iso(record.decidedAt),
  decidedBy: record.decidedBy,
  shippedRevision: record.shippedRevision,
});

const ShaParams = Type.Object({ sha256: Sha256Hex }, { additionalProperties: false });
const DecisionReply = Type.Object({
  fingerprint: FingerprintView,
  revision: Nullable(Type.Integer({ description: 'the policy revision published for it, null if none was needed' })),
});

export const fingerprintAdminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { fingerprints } = app.aigate;
  const stateOf = (sha256: string) => fingerprints.all().find((item) => item.record.sha256 === sha256)!;

  app.get(
    '/',
    {
      onRequest: adminAccess(app, 'read'),
      schema: {
        tags: ['admin'],
        summary: 'Fingerprints devices reported, newest first, with whether each is shipped and why',
        security: adminSecurity,
        querystring: Type.Object(
          {
            status: Type.Optional(Status),
            shipped: Type.Optional(Type.Boolean()),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, description: 'default 500' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ fingerprints: Type.Array(FingerprintView) }), ...adminErrors },
      },
    },
    async (request) => {
      const { status, shipped, limit } = request.query;
      const items = fingerprints
        .all()
        .filter(
          ({ record, state }) =>
            (!status || record.status === status) && (shipped === undefined || state.shipped === shipped),
        )
        .slice(0, limit ?? 500);
      return { fingerprints: items.map(({ record, state }) => view(record, state)) };
    },
  );

  for (const [verb, status] of [
    ['approve', 'approved'],
    ['revoke', 'revoked'],
  ] as const) {
    app.post(
      `/:sha256/${verb}`,
      {
        onRequest: adminAccess(app, 'write'),
        schema: {
          tags: ['admin'],
          summary:
            verb === 'approve'
              ? 'Approve: the signed bundle carries it (a new revision when that changes the bundle)'
              : 'Revoke: never shipped again, whatever devices report (a new revision when that changes the bundle)',
          security: adminSecurity,
          params: ShaParams,
          response: { 200: DecisionReply, ...adminErrors },
        },
      },
      async (request) => {
        const result = await fingerprints.decide(request.params.sha256, status, {
          actor: actorOf(request),
          remoteIp: request.ip,
        });
        const { record, state } = stateOf(result.record.sha256);
        return { fingerprint: view(record, state), revision: result.revision };
      },
    );
  }
};
