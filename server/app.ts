/**
 * `buildServer(options)`: the whole HTTP server as a Fastify instance, not yet listening, so
 * the CLI, the tests and the benchmark all start exactly the same thing. Route groups are
 * plugins; the shared pieces (database, key, caches) live in `app.aigate`.
 */
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import type { LoggerOptions } from 'pino';

import { resolveOptions, type ServerOptions } from './config.js';
import { createContext, type ServerContext } from './context.js';
import { frameworkErrors, installErrorHandling } from './http/errors.js';
import { installJsonBodyParser } from './http/json-body.js';
import { createLimiters } from './http/limiters.js';
import { validatorCompiler } from './http/validation.js';
import { reportsPlugin } from './plugins/reports.js';
import { adminRoutes } from './routes/admin/index.js';
import { checkinRoutes } from './routes/checkin.js';
import { enrollRoutes } from './routes/enroll.js';
import { eventRoutes } from './routes/events.js';
import { exceptionRequestRoutes } from './routes/exception-requests.js';
import { fingerprintRoutes } from './routes/fingerprints.js';
import { healthRoutes } from './routes/health.js';
import { policyRoutes } from './routes/policy.js';

declare module 'fastify' {
  interface FastifyInstance {
    aigate: ServerContext;
  }
  interface FastifyContextConfig {
    /**
     * The route is on the devices' hot path and cannot hang (its waits are bounded), so it skips
     * the per-request handler timeout, whose timer and AbortController cost measurable time.
     */
    hotPath?: boolean;
  }
}

/** A handler still running after this long gets a 503 (routes may set their own). */
const HANDLER_TIMEOUT_MS = 15_000;

export type AigateServer = FastifyInstance;

/** Paths pino replaces with "[redacted]" wherever they appear in a log line. */
const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'authorization',
  'token',
  'secret',
  '*.token',
  '*.secret',
  '*.authorization',
  'body.secret',
  'body.token',
  'privateJwk',
  '*.privateJwk',
];

function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { service: 'aigate-server' },
  };
}

export async function buildServer(options: ServerOptions): Promise<AigateServer> {
  const resolved = resolveOptions(options);
  const context = await createContext(resolved);
  try {
    const app = Fastify({
      logger: { ...loggerOptions(resolved.logLevel), ...(resolved.logStream ? { stream: resolved.logStream } : {}) },
      bodyLimit: resolved.bodyLimits.default,
      requestTimeout: resolved.requestTimeoutMs,
      // Long polls hold connections for up to a minute; keep-alive must outlast them.
      keepAliveTimeout: 75_000,
      forceCloseConnections: 'idle',
      trustProxy: resolved.trustProxy,
      onProtoPoisoning: 'error',
      onConstructorPoisoning: 'error',
      return503OnClosing: true,
      frameworkErrors,
      ...(resolved.tls ? { https: { key: resolved.tls.key, cert: resolved.tls.cert } } : {}),
    });

    // Every route gets a handler timeout unless it sets its own or is on the devices' hot path.
    app.addHook('onRoute', (route) => {
      if (route.handlerTimeout === undefined && route.config?.hotPath !== true)
        route.handlerTimeout = HANDLER_TIMEOUT_MS;
    });
    app.decorate('aigate', context);
    app.decorateRequest('device', null);
    app.decorateRequest('admin', null);
    app.setValidatorCompiler(validatorCompiler);
    installErrorHandling(app, (error) => context.storage.noteFull(error));
    // JSON only: any other content type gets 415.
    installJsonBodyParser(app);

    await app.register(helmet, {
      // The API serves JSON; the docs page needs the Swagger UI's own scripts and styles.
      contentSecurityPolicy: {
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'", 'https:'],
          imgSrc: ["'self'", 'data:', 'validator.swagger.io'],
          frameAncestors: ["'none'"],
          // Over plain HTTP to a host name (no TLS here, none in front) the browser would ask for
          // every script and style over https and show a blank page.
          upgradeInsecureRequests: null,
        },
      },
      hsts: resolved.tls ? { maxAge: 15_552_000, includeSubDomains: true } : false,
    });
    await app.register(rateLimit, {
      global: false,
      // Headers only once a client is over its limit: they are noise on every normal reply.
      addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
    });
    app.decorate('limiters', createLimiters(app, resolved.rateLimits));
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'aigate server',
          description: 'Policy distribution, device check-ins and administration for aigate.',
          version: '1',
        },
        components: {
          securitySchemes: {
            deviceToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT (EdDSA, signed by the device key)' },
            adminToken: { type: 'http', scheme: 'bearer', bearerFormat: 'aigt_… admin or auditor token' },
          },
        },
        tags: [
          { name: 'device', description: 'Routes agents call' },
          { name: 'admin', description: 'Administration (admin tokens; auditors read only)' },
          { name: 'meta', description: 'Health and documentation' },
        ],
      },
    });
    await app.register(swaggerUi, {
      routePrefix: '/docs',
      staticCSP: true,
      // The UI's own header (hashes of its inline parts) says `upgrade-insecure-requests` too,
      // and lets any page of this origin frame it.
      transformStaticCSP: (header) =>
        header
          .replace(/\s*upgrade-insecure-requests;?/, '')
          .replace("frame-ancestors 'self'", "frame-ancestors 'none'"),
    });

    app.addHook('preClose', async () => {
      // Answer long polls now so closing does not wait for their timeouts.
      context.channel.releaseAll();
    });
    app.addHook('onClose', async () => {
      context.close();
    });

    await app.register(healthRoutes);
    await app.register(enrollRoutes);
    await app.register(policyRoutes);
    await app.register(checkinRoutes);
    await app.register(eventRoutes);
    await app.register(exceptionRequestRoutes);
    await app.register(fingerprintRoutes);
    await app.register(adminRoutes, { prefix: '/v1/admin' });
    await app.register(reportsPlugin);
    return app;
  } catch (error) {
    context.close();
    throw error;
  }
}
