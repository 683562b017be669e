/**
 * `app.reports`: what the report routes and the dashboard share at run time (the report
 * service, the rollup job, the overview). Built by server/plugins/reports.ts.
 */
import type { RollupJob } from '../jobs/rollup-job.js';
import type { Overview } from './overview.js';
import type { ReportService } from './service.js';

interface ReportsRuntime {
  service: ReportService;
  rollups: RollupJob;
  /** The overview figures (charts over `days` days). */
  overview(days?: number): Overview;
}

declare module 'fastify' {
  interface FastifyInstance {
    reports: ReportsRuntime;
  }
}
