/** Devices and groups: list, show (with inventory), revoke. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';

import { ToolInstance } from '../../../policies/inventory.js';
import { HealthReason } from '../../../policies/protocol.js';
import { Verdict } from '../../../policies/verdict.js';
import { notFound } from '../../http/errors.js';
import { adminErrors, IdParams, Instant, iso, Nullable } from '../../http/schemas.js';
import { DEVICE_STATUSES, deviceStatus } from '../../reports/filters.js';
import type { DeviceRecord } from '../../store/devices.js';
import { actorOf } from '../auth.js';
import { adminAccess, adminSecurity } from './access.js';

export const DeviceView = Type.Object({
  id: Type.String(),
  hostname: Type.String(),
  group: Type.String(),
  os: Type.String(),
  osVersion: Nullable(Type.String()),
  arch: Nullable(Type.String()),
  users: Type.Array(Type.String()),
  agentVersion: Type.String(),
  keyThumbprint: Type.String(),
  enrolledAt: Instant,
  lastSeenAt: Nullable(Instant),
  lastCheckinAt: Nullable(Instant),
  policyRevision: Nullable(Type.Integer()),
  revokedAt: Nullable(Instant),
  status: Type.Union(
    DEVICE_STATUSES.map((status) => Type.Literal(status)),
    {
      description:
        "revoked; never-seen (enrolled, no check-in yet); stale (no check-in within the server's --stale-after); else active",
    },
  ),
  health: Type.Union([Type.Literal('ok'), Type.Literal('degraded'), Type.Literal('unknown')], {
    description: "the agent's own health report; unknown until it sends one",
  }),
  healthReasons: Type.Array(HealthReason, {
    description: 'why the agent says enforcement cannot be trusted; empty unless degraded',
  }),
  degradedSince: Nullable(Instant),
});

export const InstanceView = Type.Object({
  instance: ToolInstance,
  verdict: Nullable(Verdict),
  present: Type.Boolean(),
  firstSeenAt: Instant,
  lastSeenAt: Instant,
  disappearedAt: Nullable(Instant),
  violationSince: Nullable(Instant),
  policyRevision: Nullable(Type.Integer()),
});

const HistoryView = Type.Object({
  at: Instant,
  toolId: Type.String(),
  installPath: Type.String(),
  change: Type.String(),
  oldVersion: Nullable(Type.String()),
  newVersion: Nullable(Type.String()),
  oldAction: Nullable(Type.String()),
  newAction: Nullable(Type.String()),
});

function deviceView(device: DeviceRecord, staleBefore: number) {
  return {
    id: device.id,
    hostname: device.hostname,
    group: device.group,
    os: device.os,
    osVersion: device.osVersion,
    arch: device.arch,
    users: device.users,
    agentVersion: device.agentVersion,
    keyThumbprint: device.keyThumbprint,
    enrolledAt: iso(device.enrolledAt)!,
    lastSeenAt: iso(device.lastSeenAt),
    lastCheckinAt: iso(device.lastCheckinAt),
    policyRevision: device.policyRevision,
    revokedAt: iso(device.revokedAt),
    status: deviceStatus(device, staleBefore),
    health: device.health ?? ('unknown' as const),
    healthReasons: device.healthReasons,
    degradedSince: iso(device.degradedSince),
  };
}

export const deviceAdminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, stores, deviceAuth, options, now } = app.aigate;
  const staleBefore = () => now() - options.staleAfterMs;

  app.get(
    '/devices',
    {
      onRequest: adminAccess(app, 'read'),
      schema: {
        tags: ['admin'],
        summary: 'Enrolled devices, ordered by id (page with `after`)',
        security: adminSecurity,
        querystring: Type.Object(
          {
            group: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            includeRevoked: Type.Optional(Type.Boolean()),
            after: Type.Optional(Type.String({ maxLength: 100, description: 'the last id of the previous page' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, description: 'default 1000' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ devices: Type.Array(DeviceView), next: Nullable(Type.String()) }),
          ...adminErrors,
        },
      },
    },
    async (request) => {
      const { group, includeRevoked, after, limit = 1000 } = request.query;
      const filter: { group?: string; includeRevoked?: boolean } = { includeRevoked: includeRevoked ?? false };
      if (group !== undefined) filter.group = group;
      const page: { after?: string; limit: number } = { limit };
      if (after !== undefined) page.after = after;
      const devices = stores.devices.list(filter, page);
      return {
        devices: devices.map((device) => deviceView(device, staleBefore())),
        next: devices.length === limit ? devices[devices.length - 1]!.id : null,
      };
    },
  );

  app.get(
    '/devices/:id',
    {
      onRequest: adminAccess(app, 'read'),
      schema: {
        tags: ['admin'],
        summary: 'One device with its inventory and recent changes',
        security: adminSecurity,
        params: IdParams,
        response: {
          200: Type.Object({
            device: DeviceView,
            instances: Type.Array(InstanceView),
            history: Type.Array(HistoryView),
          }),
          ...adminErrors,
        },
      },
    },
    async (request) => {
      const device = stores.devices.get(request.params.id.toLowerCase());
      if (!device) throw notFound(`there is no device ${request.params.id}`);
      return {
        device: deviceView(device, staleBefore()),
        instances: stores.inventory.forDevice(device.id).map((stored) => ({
          instance: stored.instance,
          verdict: stored.verdict,
          present: stored.present,
          firstSeenAt: iso(stored.firstSeenAt)!,
          lastSeenAt: iso(stored.lastSeenAt)!,
          disappearedAt: iso(stored.disappearedAt),
          violationSince: iso(stored.violationSince),
          policyRevision: stored.policyRevision,
        })),
        history: stores.inventory.historyFor(device.id, 200).map((entry) => ({ ...entry, at: iso(entry.at)! })),
      };
    },
  );

  app.post(
    '/devices/:id/revoke',
    {
      onRequest: adminAccess(app, 'write'),
      schema: {
        tags: ['admin'],
        summary: 'Revoke a device: its tokens stop working at once',
        security: adminSecurity,
        params: IdParams,
        response: { 200: DeviceView, ...adminErrors },
      },
    },
    async (request) => {
      const id = request.params.id.toLowerCase();
      const device = stores.devices.get(id);
      if (!device) throw notFound(`there is no device ${request.params.id}`);
      if (device.revokedAt === null) {
        db.transaction(() => {
          stores.devices.revoke(id);
          stores.audit.append({
            actor: actorOf(request),
            action: 'device.revoke',
            target: `device:${id}`,
            details: { hostname: device.hostname, group: device.group },
            remoteIp: request.ip,
          });
        })();
        deviceAuth.invalidate(id);
      }
      return deviceView(stores.devices.get(id)!, staleBefore());
    },
  );

  app.get(
    '/groups',
    {
      onRequest: adminAccess(app, 'read'),
      schema: {
        tags: ['admin'],
        summary: 'Device groups with counts',
        security: adminSecurity,
        response: {
          200: Type.Object({
            groups: Type.Array(
              Type.Object({
                group: Type.String(),
                devices: Type.Integer(),
                active: Type.Integer(),
                lastCheckinAt: Nullable(Instant),
              }),
            ),
          }),
          ...adminErrors,
        },
      },
    },
    async () => ({ groups: stores.devices.groups().map((g) => ({ ...g, lastCheckinAt: iso(g.lastCheckinAt) })) }),
  );
};
