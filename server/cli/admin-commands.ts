/**
 * The `aigate` admin commands over the admin API. Each returns an exit code and writes through
 * the given streams, so tests can run them in-process as well as through the real bin.
 */
import { readFile } from 'node:fs/promises';
import { formatProblem } from '../../policies/load.js';
import { AdminApiError, type AdminClient } from '../client/admin-client.js';
import { EXIT_INVALID, EXIT_OK, EXIT_USAGE, type Output } from './policy-file.js';
import { shortTime, table } from './table.js';

export { EXIT_INVALID, EXIT_OK, EXIT_USAGE };
export type { Output };

type Problem = { path: string; message: string; line?: number; column?: number };

/** Print an API error the way an admin wants to read it; returns the exit code. */
export function reportError(error: unknown, io: Output, file?: string): number {
  if (error instanceof AdminApiError) {
    io.err(`aigate: ${error.message}${error.status ? ` (HTTP ${error.status}, ${error.code})` : ''}`);
    for (const problem of error.problems) io.err(`  error: ${formatProblem(problem, file)}`);
    return EXIT_INVALID;
  }
  io.err(`aigate: ${(error as Error).message}`);
  return EXIT_INVALID;
}

async function readSource(file: string, io: Output): Promise<{ source: string; format: 'yaml' | 'json' } | null> {
  try {
    const source = await readFile(file, 'utf8');
    return { source, format: file.toLowerCase().endsWith('.json') ? 'json' : 'yaml' };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    io.err(`aigate: cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message}`);
    return null;
  }
}

const json = (io: Output, value: unknown) => io.out(JSON.stringify(value, null, 2));

// ---------------------------------------------------------------------------------------------
// policy

interface PreviewRow {
  toolId: string;
  name: string | null;
  action: 'allow' | 'warn' | 'block';
  phase: string;
  effectiveAt: string | null;
  upcomingAction: string | null;
  devices: number;
  users: number;
  instances: number;
  changed: number;
}
interface PreviewReply {
  at: string;
  policy: { name: string; mode: string };
  devices: number;
  instances: number;
  totals: Record<'block' | 'warn' | 'allow', { devices: number; users: number; instances: number }>;
  rows: PreviewRow[];
  warnings: Problem[];
}

function describeOutcome(row: PreviewRow): string {
  if (row.phase === 'warn-window' && row.upcomingAction) return `warn now, ${row.upcomingAction} from ${shortTime(row.effectiveAt)}`;
  if (row.effectiveAt) return `${row.action} since ${shortTime(row.effectiveAt)}`;
  return row.action;
}

export async function policyPreview(client: AdminClient, file: string, options: { at?: string; json?: boolean; all?: boolean }, io: Output): Promise<number> {
  const input = await readSource(file, io);
  if (!input) return EXIT_USAGE;
  try {
    const result = await client.post<PreviewReply>('/policies/preview', { ...input, ...(options.at ? { at: options.at } : {}) });
    if (options.json) {
      json(io, result);
      return EXIT_OK;
    }
    for (const warning of result.warnings) io.err(`warning: ${formatProblem(warning, file)}`);
    const mode = result.policy.mode === 'monitor' ? ' (monitor mode: would only be reported)' : '';
    io.out(`preview of "${result.policy.name}"${mode} at ${shortTime(result.at)} over ${result.devices} devices, ${result.instances} tool instances`);
    const t = result.totals;
    io.out(`blocked: ${t.block.devices} devices, ${t.block.users} users; warned: ${t.warn.devices} devices, ${t.warn.users} users; allowed: ${t.allow.devices} devices`);
    const rows = result.rows.filter((row) => options.all || row.action !== 'allow');
    if (rows.length === 0) {
      io.out(options.all ? 'no tool instances reported yet' : 'nothing would be warned or blocked');
      return EXIT_OK;
    }
    io.out('');
    io.out(
      table(
        ['TOOL', 'OUTCOME', 'DEVICES', 'USERS', 'INSTANCES', 'CHANGED'],
        rows.map((row) => [row.toolId, describeOutcome(row), row.devices, row.users, row.instances, row.changed]),
      ),
    );
    return EXIT_OK;
  } catch (error) {
    return reportError(error, io, file);
  }
}

export async function policyPublish(client: AdminClient, file: string, options: { comment?: string; json?: boolean }, io: Output): Promise<number> {
  const input = await readSource(file, io);
  if (!input) return EXIT_USAGE;
  try {
    const result = await client.post<{ revision: number; etag: string; name: string; warnings: Problem[] }>('/policies', {
      ...input,
      ...(options.comment ? { comment: options.comment } : {}),
    });
    if (options.json) {
      json(io, result);
      return EXIT_OK;
    }
    for (const warning of result.warnings) io.err(`warning: ${formatProblem(warning, file)}`);
    io.out(`published "${result.name}" as revision ${result.revision} (etag ${result.etag})`);
    return EXIT_OK;
  } catch (error) {
    return reportError(error, io, file);
  }
}

interface RevisionSummary {
  revision: number;
  name: string;
  sha256: string;
  publishedAt: string;
  publishedBy: string | null;
  comment: string | null;
  rollbackOf: number | null;
  exceptionRequest: string | null;
  current: boolean;
}

export async function policyHistory(client: AdminClient, options: { limit?: number; json?: boolean }, io: Output): Promise<number> {
  try {
    const result = await client.get<{ revisions: RevisionSummary[] }>(`/policies?limit=${options.limit ?? 50}`);
    if (options.json) {
      json(io, result.revisions);
      return EXIT_OK;
    }
    if (result.revisions.length === 0) {
      io.out('no policy has been published yet');
      return EXIT_OK;
    }
    io.out(
      table(
        ['REV', 'NAME', 'PUBLISHED', 'BY', 'NOTE'],
        result.revisions.map((r) => [
          `${r.revision}${r.current ? '*' : ''}`,
          r.name,
          shortTime(r.publishedAt),
          r.publishedBy,
          r.rollbackOf ? `rollback to ${r.rollbackOf}${r.comment && r.comment !== `rollback to revision ${r.rollbackOf}` ? `: ${r.comment}` : ''}` : r.comment,
        ]),
      ),
    );
    return EXIT_OK;
  } catch (error) {
    return reportError(error, io);
  }
}

export async function policyShow(client: AdminClient, revision: string | undefined, options: { json?: boolean; source?: boolean }, io: Output): Promise<number> {
  if (revision !== undefined && !/^[1-9]\d*$/.test(revision)) {
    io.err(`aigate: "${revision}" is not a revision number`);
    return EXIT_USAGE;
  }
  try {
    const result = await client.get<RevisionSummary & { source: string; sourceFormat: string; document: unknown; etag: string }>(
      revision === undefined ? '/policies/current' : `/policies/${revision}`,
    );
    if (options.json) json(io, result);
    else if (options.source) io.out(result.source.replace(/\n$/, ''));
    else {
      io.out(`revision ${result.revision}${result.current ? ' (current)' : ''}: "${result.name}", published ${shortTime(result.publishedAt)} by ${result.publishedBy ?? '-'}`);
      if (result.comment) io.out(`comment: ${result.comment}`);
      io.out(`sha256 ${result.sha256}, etag ${result.etag}`);
      io.out('');
      io.out(result.source.replace(/\n$/, ''));
    }
    return EXIT_OK;
  } catch (error) {
    return reportError(error, io);
  }
}

export async function policyRollback(client: AdminClient, revision: string, options: { comment?: string; json?: boolean }, io: Output): Promise<number> {
  if (!/^[1-9]\d*$/.test(revision)) {
    io.err(`aigate: "${revision}" is not a revision number`);
    return EXIT_USAGE;
  }
  try {
    const result = await client.post<{ revision: number; etag: string; name: string }>(`/policies/${revision}/rollback`, options.comment ? { comment: options.comment } : {});
    if (options.json) json(io, result);
    else io.out(`published the content of revision ${revision} as revision ${result.revision} ("${result.name}")`);
    return EXIT_OK;
  } catch (error) {
    return reportError(error, io);
  }
}

// ---------------------------------------------------------------------------------------------
// devices

interface DeviceView {
  id: string;
  hostname: string;
  group: string;
  os: string;
  agentVersion: string;
  lastCheckinAt: string | null;
  policyRevision: number | null;
  revokedAt: string | null;
}

export async function devicesList(client: AdminClient, options: { group?: string; all?: boolean; json?: boolean }, io: Output): Promise<number> {
  try {
    const devices: DeviceView[] = [];
    let after: string | null = null;
    do {
      const query = new URLSearchParams({ limit: '1000' });
      if (options.group) query.set('group', options.group);
      if (options.all) query.set('includeRevoked', 'true');
      if (after) query.set('after', after);
      const page: { devices: DeviceView[]; next: string | null } = await client.get(`/devices?${query}`);
      devices.push(...page.devices);
      after = page.next;
    } while (after);
    if (options.json) {
      json(io, devices);
      return EXIT_OK;
    }
    if (devices.length === 0) {
      io.out('no devices enrolled');
      return EXIT_OK;
    }
    io.out(
      table(
        ['ID', 'HOSTNAME', 'GROUP', 'OS', 'AGENT', 'LAST CHECK-IN', 'POLICY', 'STATE'],
        devices.map((d) => [d.id, d.hostname, d.group, d.os, d.agentVersion, shortTime(d.lastCheckinAt), d.policyRevision, d.revokedAt ? 'revoked' : 'active']),
      ),
    );
    return EXIT_OK;
  } catch (error) {
    return reportError(error, io);
  }
}

export async function deviceShow(client: AdminClient, id: string, options: { json?: boolean }, io: Output): Promise<number> {
  try {
    const result = await client.get<{
      device: DeviceView & { users: string[] };
      instances: { instance: { toolId: string; version: string | null; installPath: string; owner: string | null }; verdict: { action: string } | null; present: boolean; violationSince: string | null }[];
    }>(`/devices/${encodeURIComponent(id)}`);
    if (options.json) {
      json(io, result);
      return EXIT_OK;
    }
    const d = result.device;
    io.out(`${d.hostname} (${d.id}), group ${d.group}, ${d.os}, agent ${d.agentVersion}, policy revision ${d.policyRevision ?? '-'}${d.revokedAt ? ', REVOKED' : ''}`);
    io.out(`last check-in ${shortTime(d.lastCheckinAt)}; users: ${d.users.join(', ') || '-'}`);
    const present = result.instances.filter((i) => i.present);
    if (present.length === 0) {
      io.out('no AI tools reported');
      return EXIT_OK;
    }
    io.out('');
    io.out(
      table(
        ['TOOL', 'VERSION', 'VERDICT', 'VIOLATION SINCE', 'OWNER', 'PATH'],
        present.map((i) => [i.instance.toolId, i.instance.version, i.verdict?.action ?? '-', shortTime(i.violationSince), i.instance.owner, i.instance.installPath]),
      ),
    );
    return EXIT_OK;
  } catch (error) {
    return reportError(error, io);
  }
}

export async function deviceRevoke(client: AdminClient, id: string, io: Output): Promise<number> {
  try {
    const device = await client.post<DeviceView>(`/devices/${encodeURIComponent(id)}/revoke`);
    io.out(`revoked device ${device.id} (${device.hostname})`);
    return EXIT_OK;
  } catch (error) {
    return reportError(error, io);
  }
}

// ---------------------------------------------------------------------------------------------
// enroll secrets

interface SecretView {
  id: string;
  group: string;
  note: string | null;
  expiresAt: string | null;
  maxUses: number | null;
  uses: number;
  createdAt: string;
  revokedAt: string | null;
}

export async function enrollSecretCreate(
  client: AdminClient,
  options: { group: string; expires?: string; maxUses?: number; note?: string; json?: boolean },
  io: Output,
): Promise<number> {
  const body: Record<string, unknown> = { group: options.group };
  // A date or instant is an absolute expiry; anything else is a duration such as 7d.
  if (options.expires) body[/^\d{4}-/.test(options.expires) ? 'expiresAt' : 'expiresIn'] = options.expires;
  if (options.maxUses !== undefined) body.maxUses = options.maxUses;
  if (options.note) body.note = options.note;
  try {
    const result = await client.post<SecretView & { secret: string }>('/enroll-secrets', body);
    if (options.json) {
      json(io, result);
      return EXIT_OK;
    }
    io.out(`enroll secret for group "${result.group}" (id ${result.id}), expires ${shortTime(result.expiresAt)}${result.maxUses ? `, at most ${result.maxUses} devices` : ''}`);
    io.out('it is shown only now; give it to the machines to enroll:');
    io.out(`  ${result.secret}`);
    io.out(`on each machine: aigate-agent enroll --server ${client.baseUrl} --secret ${result.secret}`);
    return EXIT_OK;
  } catch (error) {
    return reportError(error, io);
  }
}

export async function enrollSecretList(client: AdminClient, options: { json?: boolean }, io: Output): Promise<number> {
  try {
    const result = await client.get<{ secrets: SecretView[] }>('/enroll-secrets');
    if (options.json) json(io, result.secrets);
    else if (result.secrets.length === 0) io.out('no enroll secrets');
    else
      io.out(
        table(
          ['ID', 'GROUP', 'USES', 'EXPIRES', 'STATE', 'NOTE'],
          result.secrets.map((s) => [s.id, s.group, `${s.uses}${s.maxUses ? `/${s.maxUses}` : ''}`, shortTime(s.expiresAt), s.revokedAt ? 'revoked' : 'active', s.note]),
        ),
      );
    return EXIT_OK;
  } catch (error) {
    return reportError(error, io);
  }
}

export async function enrollSecretRevoke(client: AdminClient, id: string, io: Output): Promise<number> {
  try {
    const secret = await client.post<SecretView>(`/enroll-secrets/${encodeURIComponent(id)}/revoke`);
    io.out(`revoked enroll secret ${secret.id} (group ${secret.group})`);
    return EXIT_OK;
  } catch (error) {
    return reportError(error, io);
  }
}

// ---------------------------------------------------------------------------------------------
// exception requests

interface RequestView {
  id: string;
  deviceId: string;
  hostname: string | null;
  toolId: string;
  user: string | null;
  reason: string;
  requestedUntil: string | null;
  requestedAt: string;
  status: string;
  decidedBy: string | null;
  decisionReason: string | null;
  policyRevision: number | null;
}

export async function exceptionsList(client: AdminClient, options: { status?: string; json?: boolean }, io: Output): Promise<number> {
  const status = options.status ?? 'pending';
  if (!['pending', 'approved', 'denied', 'all'].includes(status)) {
    io.err(`aigate: --status must be pending, approved, denied or all, not "${status}"`);
    return EXIT_USAGE;
  }
  try {
    const result = await client.get<{ requests: RequestView[] }>(`/exception-requests${status === 'all' ? '' : `?status=${status}`}`);
    if (options.json) json(io, result.requests);
    else if (result.requests.length === 0) io.out(`no ${status === 'all' ? '' : `${status} `}exception requests`);
    else
      io.out(
        table(
          ['ID', 'STATUS', 'TOOL', 'DEVICE', 'USER', 'REQUESTED', 'UNTIL', 'REASON'],
          result.requests.map((r) => [r.id, r.status, r.toolId, r.hostname ?? r.deviceId, r.user, shortTime(r.requestedAt), r.requestedUntil, r.reason]),
        ),
      );
    return EXIT_OK;
  } catch (error) {
    return reportError(error, io);
  }
}

export async function exceptionApprove(
  client: AdminClient,
  id: string,
  options: { until?: string; scope?: string; reason?: string; json?: boolean },
  io: Output,
): Promise<number> {
  if (options.scope !== undefined && options.scope !== 'device' && options.scope !== 'user') {
    io.err(`aigate: --scope must be device or user, not "${options.scope}"`);
    return EXIT_USAGE;
  }
  const body: Record<string, string> = {};
  if (options.until) body.until = options.until;
  if (options.scope) body.scope = options.scope;
  if (options.reason) body.reason = options.reason;
  try {
    const result = await client.post<{ request: RequestView; revision: number }>(`/exception-requests/${encodeURIComponent(id)}/approve`, body);
    if (options.json) json(io, result);
    else io.out(`approved: ${result.request.toolId} for ${options.scope === 'user' ? `user ${result.request.user}` : `device ${result.request.hostname ?? result.request.deviceId}`}; published as policy revision ${result.revision}`);
    return EXIT_OK;
  } catch (error) {
    return reportError(error, io);
  }
}

export async function exceptionDeny(client: AdminClient, id: string, options: { reason: string; json?: boolean }, io: Output): Promise<number> {
  try {
    const result = await client.post<RequestView>(`/exception-requests/${encodeURIComponent(id)}/deny`, { reason: options.reason });
    if (options.json) json(io, result);
    else io.out(`denied exception request ${result.id} (${result.toolId})`);
    return EXIT_OK;
  } catch (error) {
    return reportError(error, io);
  }
}

// ---------------------------------------------------------------------------------------------
// tokens

interface TokenView {
  id: string;
  name: string;
  role: string;
  createdAt: string;
  createdBy: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export async function tokenCreate(client: AdminClient, options: { name: string; role: string; json?: boolean }, io: Output): Promise<number> {
  if (options.role !== 'admin' && options.role !== 'auditor') {
    io.err(`aigate: --role must be admin or auditor, not "${options.role}"`);
    return EXIT_USAGE;
  }
  try {
    const result = await client.post<TokenView & { token: string }>('/tokens', { name: options.name, role: options.role });
    if (options.json) json(io, result);
    else {
      io.out(`${result.role} token "${result.name}" (id ${result.id}); it is shown only now:`);
      io.out(`  ${result.token}`);
    }
    return EXIT_OK;
  } catch (error) {
    return reportError(error, io);
  }
}

export async function tokenList(client: AdminClient, options: { json?: boolean }, io: Output): Promise<number> {
  try {
    const result = await client.get<{ tokens: TokenView[] }>('/tokens');
    if (options.json) json(io, result.tokens);
    else
      io.out(
        table(
          ['ID', 'NAME', 'ROLE', 'CREATED', 'LAST USED', 'STATE'],
          result.tokens.map((t) => [t.id, t.name, t.role, shortTime(t.createdAt), shortTime(t.lastUsedAt), t.revokedAt ? 'revoked' : 'active']),
        ),
      );
    return EXIT_OK;
  } catch (error) {
    return reportError(error, io);
  }
}

export async function tokenRevoke(client: AdminClient, id: string, io: Output): Promise<number> {
  try {
    const token = await client.post<TokenView>(`/tokens/${encodeURIComponent(id)}/revoke`);
    io.out(`revoked token ${token.id} ("${token.name}", ${token.role})`);
    return EXIT_OK;
  } catch (error) {
    return reportError(error, io);
  }
}

// ---------------------------------------------------------------------------------------------
// audit

interface AuditEntry {
  seq: number;
  at: string;
  actorName: string;
  actorRole: string;
  action: string;
  target: string | null;
  details: unknown;
  remoteIp: string | null;
  hash: string;
}

export async function audit(client: AdminClient, options: { after?: number; limit?: number; json?: boolean; verify?: boolean }, io: Output): Promise<number> {
  try {
    if (options.verify) {
      const result = await client.get<{ ok: boolean; entries: number; headHash: string; brokenAt?: number; problem?: string }>('/audit/verify');
      if (options.json) json(io, result);
      else if (result.ok) io.out(`audit log intact: ${result.entries} entries, head ${result.headHash}`);
      else io.err(`audit log BROKEN at entry ${result.brokenAt}: ${result.problem} (${result.entries} entries verified before it)`);
      return result.ok ? EXIT_OK : EXIT_INVALID;
    }
    const query = new URLSearchParams({ limit: String(options.limit ?? 500) });
    if (options.after !== undefined) query.set('after', String(options.after));
    const result = await client.get<{ entries: AuditEntry[]; next: number | null }>(`/audit?${query}`);
    if (options.json) json(io, result.entries);
    else if (result.entries.length === 0) io.out('no audit entries');
    else {
      io.out(
        table(
          ['SEQ', 'AT', 'ACTOR', 'ACTION', 'TARGET', 'DETAILS'],
          result.entries.map((e) => [e.seq, shortTime(e.at), `${e.actorName} (${e.actorRole})`, e.action, e.target, JSON.stringify(e.details)]),
        ),
      );
      if (result.next !== null) io.out(`more: aigate audit --after ${result.next}`);
    }
    return EXIT_OK;
  } catch (error) {
    return reportError(error, io);
  }
}
