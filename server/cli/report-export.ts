/**
 * `aigate report export KIND --format csv|json|ndjson [filters] [-o FILE]`: stream a report from
 * the server to a file (written beside it, then renamed, so a failed export never leaves half a
 * file under the real name) or to standard output (through `io.data`, which escapes control
 * characters when that is a terminal). Filters are checked against the report before asking
 * the server; the server checks their values. Loaded only when a report command runs.
 */
import { rename, rm } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { AdminClient } from '../client/admin-client.js';
import type { RollupStatus } from '../jobs/rollup-job.js';
import { EXIT_INVALID, EXIT_OK, EXIT_USAGE, line, type Output } from './output.js';
import type { FilterName } from '../reports/filters.js';
import { REPORTS, REPORT_KINDS } from '../reports/kinds/index.js';

export interface ExportOptions {
  format: string;
  output?: string;
  from?: string;
  to?: string;
  tool?: string;
  group?: string;
  user?: string;
  device?: string;
  verdict?: string;
  type?: string;
  status?: string;
  staleAfter?: string;
  by?: string;
  present?: string;
}

/** CLI option → query parameter, for the filters a report may take. */
const FLAG_OF: Record<Exclude<FilterName, 'format'>, keyof ExportOptions> = {
  from: 'from',
  to: 'to',
  tool: 'tool',
  group: 'group',
  user: 'user',
  device: 'device',
  verdict: 'verdict',
  type: 'type',
  status: 'status',
  staleAfter: 'staleAfter',
  by: 'by',
  present: 'present',
};
const flagName = (option: string) => `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** Emits whole lines through `emit` (which adds the newline), so the output is the exact text. */
class LineWriter {
  private rest = '';
  constructor(private readonly emit: (text: string) => void) {}
  write(text: string): void {
    const parts = (this.rest + text).split('\n');
    this.rest = parts.pop() ?? '';
    for (const part of parts) this.emit(part);
  }
  end(): void {
    if (this.rest !== '') this.emit(this.rest);
    this.rest = '';
  }
}

/** Stream one report; returns the exit code (1 also when an audit export finds the chain broken). */
export async function reportExport(client: AdminClient, kind: string, options: ExportOptions, io: Output): Promise<number> {
  const report = REPORTS.find((r) => r.kind === kind);
  if (!report) {
    io.err(line`aigate: there is no report "${kind}"; choose one of ${REPORT_KINDS.join(', ')}`);
    return EXIT_USAGE;
  }
  const query = new URLSearchParams({ format: options.format });
  for (const [filter, option] of Object.entries(FLAG_OF) as [FilterName, keyof ExportOptions][]) {
    const value = options[option];
    if (value === undefined) continue;
    if (!report.filters.includes(filter)) {
      const accepted = report.filters.map((f) => flagName(FLAG_OF[f as Exclude<FilterName, 'format'>])).join(', ') || 'no filters';
      io.err(`aigate: ${flagName(option)} does not apply to the ${kind} report (it takes ${accepted})`);
      return EXIT_USAGE;
    }
    query.set(filter, value);
  }

  // Errors (unreachable, HTTP status) are thrown as AdminApiError and reported by the caller.
  const response = await client.report(kind, query);
  if (!response.body) {
    io.err('aigate: the server sent no report body');
    return EXIT_INVALID;
  }
  const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  if (options.output) {
    const target = options.output;
    const partial = join(dirname(target), `.${basename(target)}.partial`);
    try {
      await pipeline(body, createWriteStream(partial, { mode: 0o600 }));
      await rename(partial, target);
    } catch (error) {
      await rm(partial, { force: true });
      io.err(line`aigate: the export to ${target} failed: ${(error as Error).message}`);
      return EXIT_INVALID;
    }
    io.err(line`exported the ${kind} report as ${options.format.toUpperCase()} to ${target}`);
  } else {
    const lines = new LineWriter(io.data ?? io.out);
    body.setEncoding('utf8');
    for await (const chunk of body) lines.write(chunk as string);
    lines.end();
  }

  if (kind === 'audit' && response.headers.get('x-aigate-audit-verified') === 'broken') {
    io.err(line`aigate: the audit log's hash chain is BROKEN at entry ${response.headers.get('x-aigate-audit-broken-at') ?? '?'}; see the chain column`);
    return EXIT_INVALID;
  }
  return EXIT_OK;
}

/** `aigate report rollup`: rebuild the daily rollups now (admin) and say what changed. */
export async function reportRollup(client: AdminClient, options: { json?: boolean }, io: Output): Promise<number> {
  const body = await client.runRollups<RollupStatus>();
  if (options.json) {
    io.out(JSON.stringify(body, null, 2));
    return EXIT_OK;
  }
  const run = body.lastRun;
  if (!run) {
    io.err('aigate: the server reported no run');
    return EXIT_INVALID;
  }
  io.out(
    `rollups built in ${run.durationMs} ms: ${run.inventory.rebuilt ? `${run.inventory.daysChanged} of ${run.inventory.days} days changed` : 'inventory unchanged'}, events recounted for ${run.eventDays} days, ${run.pruned.events} old events pruned`,
  );
  return EXIT_OK;
}
