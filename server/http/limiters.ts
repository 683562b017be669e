/**
 * Rate limits: per device on device routes, per token on admin routes, per client address on
 * enrollment. Each is one shared counter store, so a device's budget covers all device routes.
 * They run after authentication (keys are verified identities, so nobody can spend another
 * device's budget) and before the body is parsed.
 */
import type { FastifyInstance } from 'fastify';

import type { RateLimits } from '../config.js';

type Limiter = ReturnType<FastifyInstance['rateLimit']>;

export interface Limiters {
  device: Limiter;
  admin: Limiter;
  enroll: Limiter;
}

declare module 'fastify' {
  interface FastifyInstance {
    limiters: Limiters;
  }
}

export function createLimiters(app: FastifyInstance, limits: RateLimits): Limiters {
  const minute = 60_000;
  return {
    device: app.rateLimit({
      max: limits.devicePerMinute,
      timeWindow: minute,
      cache: 500_000,
      keyGenerator: (req) => `device:${req.device?.id ?? req.ip}`,
    }),
    admin: app.rateLimit({
      max: limits.tokenPerMinute,
      timeWindow: minute,
      cache: 10_000,
      keyGenerator: (req) => `token:${req.admin?.id ?? req.ip}`,
    }),
    enroll: app.rateLimit({ max: limits.enrollPerMinutePerIp, timeWindow: minute, cache: 100_000 }),
  };
}
