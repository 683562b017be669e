/**
 * POST /v1/fingerprints: a device reports file fingerprints it learned from tool instances it
 * found (agent/sentinel/fingerprints.ts). The report is untrusted: it is stored, and shipped to
 * other agents only under the trust rule of server/services/fingerprint-service.ts.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

import { FingerprintsBody, FingerprintsReply } from '../../policies/protocol.js';
import { deviceErrors } from '../http/schemas.js';
import { deviceGuard } from './auth.js';

export const fingerprintRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { deviceAuth, fingerprints, lastSeen, now } = app.aigate;
  app.post(
    '/v1/fingerprints',
    {
      onRequest: [deviceGuard(deviceAuth), app.limiters.device],
      schema: {
        tags: ['device'],
        summary: 'Report fingerprints of catalogued tools’ files this device learned',
        security: [{ deviceToken: [] }],
        body: FingerprintsBody,
        response: { 200: FingerprintsReply, ...deviceErrors },
      },
    },
    async (request) => {
      const device = request.device!;
      const result = await fingerprints.report(device.id, request.body.fingerprints);
      lastSeen.note(device.id, now());
      return result;
    },
  );
};
