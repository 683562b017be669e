/**
 * Reports, rollups and the dashboard, wired into the server: `app.reports` (the report service,
 * the rollup job, the overview), the /v1/reports routes and /ui. Wrapped with fastify-plugin so
 * `app.reports` is visible to the whole server (tests reach it too). Check-ins feed the running
 * observer themselves (server/routes/checkin.ts); nothing here re-reads request bodies.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

import { builtinCatalog, catalogIndex } from '../../policies/catalog/index.js';
import { RollupJob } from '../jobs/rollup-job.js';
import { buildOverview, type Overview } from '../reports/overview.js';
import type {} from '../reports/runtime.js';
import { ReportService } from '../reports/service.js';
import { reportRoutes } from '../routes/reports.js';
import { dashboardRoutes } from '../ui/plugin.js';

async function reports(app: FastifyInstance): Promise<void> {
  const context = app.aigate;
  const { db, options, now, stores, running } = context;
  const catalog = catalogIndex(builtinCatalog);
  const currentPolicy = () => {
    const current = stores.policies.current();
    return current ? { revision: current.revision, document: current.document } : null;
  };
  const rollups = new RollupJob({
    db,
    databaseFile: context.startup.databaseFile,
    now,
    log: app.log.child({ component: 'rollups' }),
    schedule: options.rollupSchedule,
    eventRetentionMs: options.eventRetentionMs,
    catalog: builtinCatalog,
    currentPolicy,
    running,
  });
  const service = new ReportService({
    databaseFile: context.startup.databaseFile,
    now,
    staleAfterMs: options.staleAfterMs,
    currentRevision: () => context.channel.current?.revision ?? null,
    catalog,
    beforeRun: () => running.flush(),
  });
  const overview = (days = 30): Overview => {
    rollups.refreshIfPolicyChanged();
    return buildOverview({
      db,
      now: now(),
      staleAfterMs: options.staleAfterMs,
      policy: stores.policies.current(),
      current: rollups.current(),
      lastRunAt: rollups.status().lastRunAt,
      catalog,
      days,
    });
  };
  app.decorate('reports', { service, rollups, overview });

  app.addHook('onReady', async () => {
    rollups.start(options.rollupOnStart);
  });
  app.addHook('preClose', async () => {
    service.abortAll('the server is shutting down');
    await rollups.stop();
  });

  await app.register(reportRoutes, { prefix: '/v1/reports' });
  await app.register(dashboardRoutes, { prefix: '/ui' });
}

export const reportsPlugin = fp(reports, { name: 'aigate-reports', fastify: '5.x' });
