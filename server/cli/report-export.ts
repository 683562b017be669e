/**
 * `aigate report export KIND --format csv|json|ndjson [filters] [-o FILE]`: stream a report from
 * the server to a file (written beside it, then renamed, so a failed export never leaves half a
 * file under the real name) or to standard output (through `io.data`, which escapes control
 * characters when that is a terminal). Filters are checked against the report before asking
 * the server; the server checks their values. Loaded only when a report command runs.
 */
import { createWriteStream } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';

import type { PublicJwk } from '../../policies/keys.js';
import type { AdminClient } from '../client/admin-client.js';
import type { RollupStatus } from '../jobs/rollup-job.js';
import type { FilterName } from '../reports/filters.js';
import { REPORT_KINDS, REPORTS } from '../reports/kinds/index.js';
import { EXIT_INVALID, EXIT_OK, EXIT_USAGE, line, type Output } from './output.js';

export interface ExportOptions {
  /** Required except for attestation (signed JSON only). */
  format?: string;
  output?: string;
  at?: string;
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
  at: 'at',
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
export async function reportExport(
  client: AdminClient,
  kind: string,
  options: ExportOptions,
  io: Output,
): Promise<number> {
  const report = REPORTS.find((r) => r.kind === kind);
  if (!report) {
    io.err(line`aigate: there is no report "${kind}"; choose one of ${REPORT_KINDS.join(', ')}`);
    return EXIT_USAGE;
  }
  const format = options.format ?? (report.document ? 'json' : undefined);
  if (format === undefined) {
    io.err("error: required option '--format <format>' not specified");
    return EXIT_USAGE;
  }
  if (report.document && format !== 'json') {
    io.err(
      `aigate: the ${kind} report is signed JSON only; ${format.toUpperCase()} would not be signed (use --format json)`,
    );
    return EXIT_USAGE;
  }
  if (kind === 'attestation' && options.at === undefined) {
    io.err('aigate: the attestation needs --at <instant>, such as --at 2026-07-10T00:00:00+08:00');
    return EXIT_USAGE;
  }
  const query = new URLSearchParams({ format });
  for (const [filter, option] of Object.entries(FLAG_OF) as [FilterName, keyof ExportOptions][]) {
    const value = options[option];
    if (value === undefined) continue;
    if (!report.filters.includes(filter)) {
      const accepted =
        report.filters.map((f) => flagName(FLAG_OF[f as Exclude<FilterName, 'format'>])).join(', ') || 'no filters';
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
    io.err(line`exported the ${kind} report as ${format.toUpperCase()} to ${target}`);
  } else {
    const lines = new LineWriter(io.data ?? io.out);
    body.setEncoding('utf8');
    for await (const chunk of body) lines.write(chunk as string);
    lines.end();
  }

  if (kind === 'audit' && response.headers.get('x-aigate-audit-verified') === 'broken') {
    io.err(
      line`aigate: the audit log's hash chain is BROKEN at entry ${response.headers.get('x-aigate-audit-broken-at') ?? '?'}; see the chain column`,
    );
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

export interface VerifyOptions {
  key?: string;
  policyKeyFingerprint?: string;
  json?: boolean;
}

/**
 * `aigate report verify FILE`: check a signed attestation (policies/attestation.ts) against the
 * policy key given with --key (a public JWK file), pinned with --policy-key-fingerprint, or
 * else the fingerprint the server reports (GET /v1/admin/whoami), and say what it attests.
 * Exit 0 valid, 1 invalid (naming what is wrong), 2 usage (unreadable key or file).
 */
export async function reportVerify(
  client: AdminClient | null,
  file: string,
  options: VerifyOptions,
  io: Output,
): Promise<number> {
  const { verifyAttestation } = await import('../../policies/attestation.js');
  const { validatePublicJwk } = await import('../../policies/keys.js');
  if (options.key !== undefined && options.policyKeyFingerprint !== undefined) {
    io.err('aigate: give either --key or --policy-key-fingerprint, not both');
    return EXIT_USAGE;
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    io.err(line`aigate: cannot read ${file}: ${(error as Error).message}`);
    return EXIT_USAGE;
  }
  let trust: { key: PublicJwk } | { fingerprint: string };
  let trustSource: string;
  if (options.key !== undefined) {
    let jwk: unknown;
    try {
      jwk = JSON.parse(await readFile(options.key, 'utf8'));
    } catch (error) {
      io.err(line`aigate: cannot read the key ${options.key}: ${(error as Error).message}`);
      return EXIT_USAGE;
    }
    const checked = validatePublicJwk(jwk);
    if (!checked.ok) {
      io.err(line`aigate: ${options.key} is not an Ed25519 public key: ${checked.message}`);
      return EXIT_USAGE;
    }
    trust = { key: checked.jwk };
    trustSource = `the key in ${options.key}`;
  } else if (options.policyKeyFingerprint !== undefined) {
    if (!/^[A-Za-z0-9_-]{43}$/.test(options.policyKeyFingerprint)) {
      io.err('aigate: --policy-key-fingerprint must be the 43-character key fingerprint (aigate whoami shows it)');
      return EXIT_USAGE;
    }
    trust = { fingerprint: options.policyKeyFingerprint };
    trustSource = 'the pinned fingerprint';
  } else if (client) {
    const who = await client.get<{ policyKeyFingerprint: string }>('/whoami');
    trust = { fingerprint: who.policyKeyFingerprint };
    trustSource = `the policy key of ${client.baseUrl}`;
  } else {
    io.err('aigate: give --key, --policy-key-fingerprint or a server to take the key from');
    return EXIT_USAGE;
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return invalid(io, options, file, `the file is not JSON: ${(error as Error).message}`);
  }
  const result = await verifyAttestation(parsed, trust);
  if (!result.ok) return invalid(io, options, file, result.message, result.code);
  const summary = summarise(result.attestation);
  if (options.json) {
    io.out(JSON.stringify({ valid: true, file, kid: result.kid, ...summary.facts }, null, 2));
    return EXIT_OK;
  }
  io.out(line`VALID: ${file} is signed by policy key ${result.kid} (${trustSource})`);
  for (const text of summary.lines) io.out(text);
  return EXIT_OK;
}

function invalid(io: Output, options: VerifyOptions, file: string, message: string, code = 'not-json'): number {
  if (options.json) io.out(JSON.stringify({ valid: false, file, code, message }, null, 2));
  io.err(line`INVALID: ${file}: ${message}`);
  return EXIT_INVALID;
}

/** What a verified attestation says, in a few lines (its shape is the server's; read defensively). */
function summarise(attestation: unknown): { facts: Record<string, unknown>; lines: string[] } {
  const doc = (attestation ?? {}) as {
    at?: string;
    atAsGiven?: string;
    generatedAt?: string;
    policy?: { revision?: number; name?: string; mode?: string; publishedAt?: string } | null;
    devices?: {
      hostname?: string;
      group?: string;
      policyApplied?: { revision?: number | null; at?: string } | null;
      tools?: {
        toolId?: string;
        version?: string | null;
        policy?: { action?: string } | null;
        enforcement?: { event?: string } | null;
      }[];
      exceptions?: unknown[];
    }[];
  };
  const devices = Array.isArray(doc.devices) ? doc.devices : [];
  const lines = [
    line`attests the fleet at ${doc.at ?? '?'} (given as ${doc.atAsGiven ?? '?'}), generated ${doc.generatedAt ?? '?'}`,
    doc.policy
      ? line`policy in force: revision ${String(doc.policy.revision)} "${doc.policy.name ?? ''}" (${doc.policy.mode ?? '?'}), published ${doc.policy.publishedAt ?? '?'}`
      : 'policy in force: none published yet',
    `${devices.length} ${devices.length === 1 ? 'device' : 'devices'}:`,
  ];
  for (const device of devices) {
    const tools = Array.isArray(device.tools) ? device.tools : [];
    const listed = tools.map(
      (tool) =>
        `${tool.toolId ?? '?'}@${tool.version ?? '?'}=${tool.policy?.action ?? 'no policy'}${tool.enforcement?.event === 'quarantined' ? ' (quarantined)' : ''}`,
    );
    const applied = device.policyApplied
      ? `applied revision ${String(device.policyApplied.revision)} at ${device.policyApplied.at ?? '?'}`
      : 'no policy applied reported';
    const exceptions = Array.isArray(device.exceptions) ? device.exceptions.length : 0;
    lines.push(
      line`  ${device.hostname ?? '?'} (${device.group ?? '?'}): ${applied}; ${String(tools.length)} tools${tools.length ? `: ${listed.join(', ')}` : ''}; ${String(exceptions)} exceptions in force`,
    );
  }
  return { facts: { at: doc.at, policyRevision: doc.policy?.revision ?? null, devices: devices.length }, lines };
}
