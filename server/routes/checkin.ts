/**
 * POST /v1/checkin: the agent reports what it found and what it decided. The device is the one
 * the token was signed by; the body cannot name another. The reply carries a server time signed
 * for this device (the agent's trusted-time floor) and the current policy ETag.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

import { instanceKey, type ToolInstance } from '../../policies/inventory.js';
import { CheckinBody, CheckinReply } from '../../policies/protocol.js';
import { signServerTime } from '../../policies/signed-time.js';
import type { Verdict } from '../../policies/verdict.js';
import { badRequest } from '../http/errors.js';
import { deviceErrors } from '../http/schemas.js';
import { InventoryStore, type ReportedInstance, violationStart } from '../store/inventory.js';
import { deviceGuard } from './auth.js';

function describeInstance(item: { toolId: string; installPath: string }): string {
  return `${item.toolId} at ${JSON.stringify(item.installPath)}`;
}

/** Pair each instance with its verdict; refuse duplicates and verdicts for unreported instances. */
function pairVerdicts(inventory: readonly ToolInstance[], verdicts: readonly Verdict[]): ReportedInstance[] {
  const byKey = new Map<string, ReportedInstance>();
  inventory.forEach((instance, index) => {
    const key = instanceKey(instance);
    if (byKey.has(key))
      throw badRequest(`body.inventory[${index}] repeats ${describeInstance(instance)}; report each instance once`);
    byKey.set(key, { instance, verdict: null });
  });
  verdicts.forEach((verdict, index) => {
    const entry = byKey.get(instanceKey(verdict));
    if (!entry)
      throw badRequest(`body.verdicts[${index}] is for ${describeInstance(verdict)}, which is not in body.inventory`);
    if (entry.verdict) throw badRequest(`body.verdicts[${index}] repeats the verdict for ${describeInstance(verdict)}`);
    entry.verdict = verdict;
  });
  return [...byKey.values()];
}

export const checkinRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { writes, stores, channel, deviceAuth, signingKey, running, now, options } = app.aigate;
  app.post(
    '/v1/checkin',
    {
      onRequest: [deviceGuard(deviceAuth), app.limiters.device],
      // Read by agents, not browsers, at a high rate: skip helmet's per-reply work (nosniff is set below).
      helmet: false,
      config: { hotPath: true },
      bodyLimit: options.bodyLimits.checkin,
      schema: {
        tags: ['device'],
        summary: 'Report inventory and verdicts',
        security: [{ deviceToken: [] }],
        body: CheckinBody,
        response: { 200: CheckinReply, ...deviceErrors },
      },
    },
    async (request, reply) => {
      reply.header('x-content-type-options', 'nosniff');
      const device = request.device!;
      const body = request.body;
      const latest = channel.current?.revision ?? 0;
      if (body.policyRevision !== null && body.policyRevision > latest) {
        throw badRequest(
          `body.policyRevision ${body.policyRevision} has never been published (latest is ${latest || 'none'})`,
        );
      }
      const reported = pairVerdicts(body.inventory, body.verdicts);
      const digest = InventoryStore.checkinDigest(body.inventory, body.verdicts);
      const at = now();
      // Group commit: concurrent check-ins share one transaction; this resolves after it commits.
      const changes = await writes.submit(() => {
        const summary = stores.inventory.applyCheckin(
          device.id,
          device.group,
          at,
          body.policyRevision,
          reported,
          digest,
          violationStart(at, body.scannedAt),
        );
        const update: Parameters<typeof stores.devices.recordCheckin>[2] = {
          policyRevision: body.policyRevision,
          agentVersion: body.agentVersion,
        };
        if (body.hostname !== undefined) update.hostname = body.hostname;
        if (body.users !== undefined) update.users = body.users;
        if (body.health !== undefined) update.health = body.health;
        stores.devices.recordCheckin(device.id, at, update);
        return summary;
      });
      stores.inventory.rememberApplied(device.id, digest);
      running.noteCheckin(device.id, at, body);
      const serverTime = await signServerTime({ deviceId: device.id, nowMs: at }, signingKey);
      const current = channel.current;
      return {
        receivedAt: new Date(at).toISOString(),
        serverTime,
        policy: current ? { revision: current.revision, etag: current.etag } : null,
        changes,
      };
    },
  );
};
