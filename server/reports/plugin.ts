/**
 * Reports, rollups and the dashboard, wired into the server: `app.reports` (the report service,
 * the rollup job, the running observer, the overview), the /v1/reports routes and /ui. Loaded
 * into the root context (like fastify-plugin does) so the check-in observer sees /v1/checkin
 * and tests can reach `app.reports`.
 */
import type { FastifyInstance } from 'fastify';
import { builtinCatalog, catalogIndex } from '../../policies/catalog/index.js';
import { RollupJob } from '../jobs/rollup-job.js';
import { RunningObserver, type CheckinInventory } from '../jobs/running-observer.js';
import { reportRoutes } from '../routes/reports.js';
import { dashboardRoutes } from '../ui/plugin.js';
import { buildOverview, type Overview } from './overview.js';
import { ReportService } from './service.js';

export interface ReportsRuntime {
  service: ReportService;
  rollups: RollupJob;
  running: RunningObserver;
  /** The overview figures (charts over `days` days). */
  overview(days?: number): Overview;
}

declare module 'fastify' {
  interface FastifyInstance {
    reports: ReportsRuntime;
  }
}

async function reportsPlugin(app: FastifyInstance): Promise<void> {
  const context = app.aigate;
  const { db, options, now, stores } = context;
  const catalog = catalogIndex(builtinCatalog);
  const currentPolicy = () => {
    const current = stores.policies.current();
    return current ? { revision: current.revision, document: current.document } : null;
  };
  const running = new RunningObserver(db);
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
  app.decorate('reports', { service, rollups, running, overview });

  app.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode === 200 && request.device && request.routeOptions.url === '/v1/checkin') {
      running.noteCheckin(request.device.id, now(), request.body as CheckinInventory);
    }
  });
  app.addHook('onReady', async () => {
    running.start();
    rollups.start(options.rollupOnStart);
  });
  app.addHook('preClose', async () => {
    service.abortAll('the server is shutting down');
    await rollups.stop();
    running.stop();
  });

  await app.register(reportRoutes, { prefix: '/v1/reports' });
  await app.register(dashboardRoutes, { prefix: '/ui' });
}

/** Load into the parent context instead of an encapsulated child (what fastify-plugin marks). */
Object.assign(reportsPlugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'aigate-reports' });

export { reportsPlugin };
