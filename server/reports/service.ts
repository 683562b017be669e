/**
 * Running a report: check the filters, open a read connection (its own snapshot), and return a
 * stream that writes the chosen format as the client reads it. Used by the /v1/reports routes
 * and by the dashboard's export buttons.
 */
import type { Readable } from 'node:stream';

import type { FastifyReply } from 'fastify';

import { signAttestation } from '../../policies/attestation.js';
import { builtinCatalog, type CatalogIndex, catalogIndex } from '../../policies/catalog/index.js';
import type { SigningKey } from '../../policies/keys.js';
import { openReadConnection } from '../db/read-connection.js';
import { ApiError } from '../http/errors.js';
import type { ReportDefinition } from './definition.js';
import { type RawQuery, resolveFilters } from './filters.js';
import { ReportStream } from './stream.js';
import { createWriter } from './writers.js';

export interface ReportServiceOptions {
  databaseFile: string;
  now: () => number;
  staleAfterMs: number;
  currentRevision: () => number | null;
  catalog?: CatalogIndex;
  /** Exports streaming at once; more are refused with 429 (each holds a connection and a snapshot). */
  maxConcurrent?: number;
  /** Called before a report reads (to write buffered observations first). */
  beforeRun?: () => void;
}

export interface RunningReport {
  stream: Readable;
  contentType: string;
  /** A download name such as aigate-inventory-20260601-120000Z.csv. */
  filename: string;
  headers: Record<string, string>;
}

function stamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace('T', '-')
    .replace(/\.\d+Z$/, 'Z');
}

export class ReportService {
  private active = 0;
  private readonly streams = new Set<ReportStream>();
  private readonly catalog: CatalogIndex;
  private readonly maxConcurrent: number;

  constructor(private readonly options: ReportServiceOptions) {
    this.catalog = options.catalog ?? catalogIndex(builtinCatalog);
    this.maxConcurrent = options.maxConcurrent ?? 4;
  }

  get running(): number {
    return this.active;
  }

  /** End every export in progress (shutdown must not wait for a client that stopped reading). */
  abortAll(reason: string): void {
    for (const stream of this.streams) stream.destroy(new Error(reason));
  }

  /**
   * Build a document report (one that defines `document`, such as attestation) from its own
   * read snapshot; the caller signs and sends it. Returns it with its download name.
   */
  document(report: ReportDefinition, query: RawQuery): { document: unknown; filename: string } {
    if (!report.document) throw new TypeError(`the ${report.kind} report is a row stream, not a document`);
    const filters = resolveFilters(query, this.catalog, { staleAfterMs: this.options.staleAfterMs });
    this.options.beforeRun?.();
    const now = this.options.now();
    const connection = openReadConnection(this.options.databaseFile);
    try {
      const document = report.document(
        { db: connection.db, now, catalog: this.catalog, currentRevision: this.options.currentRevision() },
        filters,
      );
      return { document, filename: `aigate-${report.kind}-${stamp(now)}.json` };
    } finally {
      connection.release();
    }
  }

  /**
   * A document report signed with the server's policy key (policies/attestation.ts), as the file
   * served: indented JSON for the people who read it (the signature covers the content, not the
   * layout). Used by GET /v1/reports/<kind> and the dashboard's download, so both serve the same.
   */
  async signedDocument(
    report: ReportDefinition,
    query: RawQuery,
    key: SigningKey,
  ): Promise<{ text: string; filename: string }> {
    const { document, filename } = this.document(report, query);
    return { text: `${JSON.stringify(await signAttestation(document, key), null, 2)}\n`, filename };
  }

  run(report: ReportDefinition, query: RawQuery): RunningReport {
    const filters = resolveFilters(query, this.catalog, { staleAfterMs: this.options.staleAfterMs });
    if (this.active >= this.maxConcurrent) {
      throw new ApiError(
        429,
        'too_many_reports',
        `${this.active} reports are being exported right now; try again when one has finished`,
        { 'retry-after': '5' },
      );
    }
    this.options.beforeRun?.();
    const now = this.options.now();
    const connection = openReadConnection(this.options.databaseFile);
    this.active++;
    let counted = true;
    const release = () => {
      connection.release();
      if (counted) {
        counted = false;
        this.active--;
      }
    };
    try {
      const opened = report.open(
        { db: connection.db, now, catalog: this.catalog, currentRevision: this.options.currentRevision() },
        filters,
      );
      const writer = createWriter(filters.format, report.columns, {
        report: report.kind,
        generatedAt: new Date(now).toISOString(),
        filters: filters.echo,
        meta: opened.meta ?? {},
      });
      const stream: ReportStream = new ReportStream(opened.rows, writer, () => {
        this.streams.delete(stream);
        release();
      });
      this.streams.add(stream);
      return {
        stream,
        contentType: writer.contentType,
        filename: `aigate-${report.kind}-${stamp(now)}.${writer.extension}`,
        headers: opened.headers ?? {},
      };
    } catch (error) {
      release();
      throw error;
    }
  }
}

/** A report may stream for a long time; the server-wide handler timeout must not cut it off. */
export const REPORT_TIMEOUT_MS = 6 * 3600_000;

/** Send a signed document report (ReportService.signedDocument) as a JSON download, no caching. */
export function sendSignedDocument(reply: FastifyReply, signed: { text: string; filename: string }): FastifyReply {
  return (
    reply
      .header('content-type', 'application/json; charset=utf-8')
      .header('content-disposition', `attachment; filename="${signed.filename}"`)
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
      // A string with a JSON content type is sent as is (not serialised again).
      .send(signed.text as never)
  );
}

/** Send a running report: download name, format, report facts as headers, no caching. */
export function sendReport(reply: FastifyReply, running: RunningReport): FastifyReply {
  reply
    .header('content-type', running.contentType)
    .header('content-disposition', `attachment; filename="${running.filename}"`)
    .header('cache-control', 'no-store')
    .header('x-content-type-options', 'nosniff');
  for (const [name, value] of Object.entries(running.headers)) reply.header(name, value);
  return reply.send(running.stream);
}
