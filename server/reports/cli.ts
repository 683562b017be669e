/**
 * `aigate report export KIND --format csv|json|ndjson [filters] [-o FILE]`: stream a report from
 * the server to a file (written beside it, then renamed, so a failed export never leaves half a
 * file under the real name) or to standard output. Filters are checked against the report
 * before asking the server; the server checks their values.
 */
import { rename, rm } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { EXIT_INVALID, EXIT_OK, EXIT_USAGE, type Output } from '../cli/policy-file.js';
import type { FilterName } from './filters.js';
import { REPORTS, REPORT_KINDS } from './kinds/index.js';

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
  present: 'present',
};
const flagName = (option: string) => `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** Emits whole lines through `io.out` (which adds the newline), so the output is the exact text. */
class LineWriter {
  private rest = '';
  constructor(private readonly io: Output) {}
  write(text: string): void {
    const parts = (this.rest + text).split('\n');
    this.rest = parts.pop() ?? '';
    for (const line of parts) this.io.out(line);
  }
  end(): void {
    if (this.rest !== '') this.io.out(this.rest);
    this.rest = '';
  }
}

export async function reportExport(server: string, token: string, kind: string, options: ExportOptions, io: Output): Promise<number> {
  const report = REPORTS.find((r) => r.kind === kind);
  if (!report) {
    io.err(`aigate: there is no report "${kind}"; choose one of ${REPORT_KINDS.join(', ')}`);
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

  let response: Response;
  try {
    response = await fetch(`${server.replace(/\/+$/, '')}/v1/reports/${kind}?${query}`, { headers: { authorization: `Bearer ${token}` } });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    io.err(`aigate: cannot reach ${server}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
    return EXIT_INVALID;
  }
  if (!response.ok || !response.body) {
    const text = await response.text();
    let message = `HTTP ${response.status}`;
    let code = 'http_error';
    try {
      const body = JSON.parse(text) as { error?: string; message?: string };
      message = body.message ?? message;
      code = body.error ?? code;
    } catch {
      // not JSON: keep the status
    }
    io.err(`aigate: ${message} (HTTP ${response.status}, ${code})`);
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
      io.err(`aigate: the export to ${target} failed: ${(error as Error).message}`);
      return EXIT_INVALID;
    }
    io.err(`exported the ${kind} report as ${options.format.toUpperCase()} to ${target}`);
  } else {
    const lines = new LineWriter(io);
    body.setEncoding('utf8');
    for await (const chunk of body) lines.write(chunk as string);
    lines.end();
  }

  if (kind === 'audit' && response.headers.get('x-aigate-audit-verified') === 'broken') {
    io.err(`aigate: warning: the audit log's hash chain is BROKEN at entry ${response.headers.get('x-aigate-audit-broken-at') ?? '?'}; see the chain column`);
    return EXIT_INVALID;
  }
  return EXIT_OK;
}

/** `aigate report rollup`: rebuild the daily rollups now (admin) and say what changed. */
export async function reportRollup(server: string, token: string, options: { json?: boolean }, io: Output): Promise<number> {
  let response: Response;
  try {
    response = await fetch(`${server.replace(/\/+$/, '')}/v1/reports/rollups/run`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    io.err(`aigate: cannot reach ${server}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
    return EXIT_INVALID;
  }
  const body = (await response.json().catch(() => null)) as
    | { error?: string; message?: string; lastRun?: { durationMs: number; inventory: { days: number; daysChanged: number; rebuilt: boolean }; eventDays: number; pruned: { events: number }; error?: string } | null }
    | null;
  if (!response.ok || !body) {
    io.err(`aigate: ${body?.message ?? `HTTP ${response.status}`} (HTTP ${response.status}, ${body?.error ?? 'http_error'})`);
    return EXIT_INVALID;
  }
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
