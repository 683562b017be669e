/**
 * /v1/reports: compliance reports for admins and auditors, streamed as CSV, JSON or NDJSON;
 * the dashboard's overview figures; and the daily rollups (status, run now).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';

import { adminErrors } from '../http/schemas.js';
import { RollupStatusSchema } from '../jobs/rollup-job.js';
import { describeColumns, rowSchema } from '../reports/columns.js';
import type { ReportDefinition } from '../reports/definition.js';
import { querySchema, type RawQuery } from '../reports/filters.js';
import { REPORTS } from '../reports/kinds/index.js';
import { OverviewSchema } from '../reports/overview.js';
import { REPORT_TIMEOUT_MS, sendReport, sendSignedDocument } from '../reports/service.js';
import { adminAccess, adminSecurity } from './admin/access.js';

function reportResponse(report: ReportDefinition) {
  const row = rowSchema(report.columns);
  return {
    description: `Rows as CSV (header line, then one line per row), JSON ({ report, generatedAt, filters, columns, rows, ... }) or NDJSON (one row object per line), chosen by \`format\`. Columns:\n\n${describeColumns(report.columns)}`,
    content: {
      'text/csv': { schema: Type.String({ description: `columns: ${report.columns.map((c) => c.name).join(', ')}` }) },
      'application/json': {
        schema: Type.Object({
          report: Type.Literal(report.kind),
          generatedAt: Type.String({ format: 'date-time' }),
          filters: Type.Record(Type.String(), Type.Unknown()),
          columns: Type.Array(Type.String()),
          rows: Type.Array(row),
        }),
      },
      'application/x-ndjson': { schema: row },
    },
  };
}

function signedDocumentResponse(report: ReportDefinition) {
  return {
    description: `A signed JSON document { format, attestation, signature: { alg, kid, typ, publicJwk, jws } }; jws is a detached Ed25519 compact JWS over the canonical JSON of \`attestation\` (see policies/attestation.ts). JSON only. Fields of each tool entry:\n\n${describeColumns(report.columns)}`,
    content: {
      'application/json': {
        schema: Type.Object({ format: Type.String(), attestation: Type.Unknown(), signature: Type.Unknown() }),
      },
    },
  };
}

export const reportRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { service, rollups, overview } = app.reports;

  app.get(
    '/',
    {
      onRequest: adminAccess(app, 'read'),
      schema: {
        tags: ['reports'],
        summary: 'The reports, their filters and columns',
        security: adminSecurity,
        response: {
          200: Type.Object({
            reports: Type.Array(
              Type.Object({
                kind: Type.String(),
                title: Type.String(),
                summary: Type.String(),
                description: Type.String(),
                path: Type.String(),
                formats: Type.Array(Type.String()),
                filters: Type.Array(Type.String()),
                columns: Type.Array(
                  Type.Object({ name: Type.String(), type: Type.String(), description: Type.String() }),
                ),
              }),
            ),
          }),
          ...adminErrors,
        },
      },
    },
    async () => ({
      reports: REPORTS.map((report) => ({
        kind: report.kind,
        title: report.title,
        summary: report.summary,
        description: report.description,
        path: `/v1/reports/${report.kind}`,
        formats: report.document ? ['json'] : ['csv', 'json', 'ndjson'],
        filters: [...report.filters],
        columns: report.columns.map((c) => ({ name: c.name, type: c.type, description: c.description })),
      })),
    }),
  );

  app.get(
    '/overview',
    {
      onRequest: adminAccess(app, 'read'),
      schema: {
        tags: ['reports'],
        summary:
          'The fleet at a glance (the dashboard overview): devices, compliance, blocked launches, trends, next scheduled change',
        security: adminSecurity,
        querystring: Type.Object(
          {
            days: Type.Optional(
              Type.Integer({ minimum: 7, maximum: 366, description: 'days of history in the charts (default 30)' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: OverviewSchema, ...adminErrors },
      },
    },
    async (request) => overview(request.query.days ?? 30),
  );

  app.get(
    '/rollups',
    {
      onRequest: adminAccess(app, 'read'),
      schema: {
        tags: ['reports'],
        summary: 'State of the daily rollup job',
        security: adminSecurity,
        response: { 200: RollupStatusSchema, ...adminErrors },
      },
    },
    async () => rollups.status(),
  );

  app.post(
    '/rollups/run',
    {
      onRequest: adminAccess(app, 'write'),
      handlerTimeout: REPORT_TIMEOUT_MS,
      schema: {
        tags: ['reports'],
        summary: 'Run the rollup job now (recompute changed days, prune old events) and wait for it',
        security: adminSecurity,
        body: Type.Optional(Type.Union([Type.Object({}, { additionalProperties: false }), Type.Null()])),
        response: { 200: RollupStatusSchema, ...adminErrors },
      },
    },
    async () => {
      await rollups.runNow();
      return rollups.status();
    },
  );

  for (const report of REPORTS) {
    app.get(
      `/${report.kind}`,
      {
        onRequest: adminAccess(app, 'read'),
        handlerTimeout: REPORT_TIMEOUT_MS,
        schema: {
          tags: ['reports'],
          summary: report.summary,
          description: report.description,
          security: adminSecurity,
          querystring: querySchema(report.filters, report.overrides),
          response: { 200: report.document ? signedDocumentResponse(report) : reportResponse(report), ...adminErrors },
        },
      },
      async (request, reply) => {
        if (!report.document) return sendReport(reply, service.run(report, request.query as RawQuery));
        // A document report (attestation): built from one snapshot, signed with the policy key.
        return sendSignedDocument(
          reply,
          await service.signedDocument(report, request.query as RawQuery, app.aigate.signingKey),
        );
      },
    );
  }
};
