/**
 * attestation: the fleet as of one instant, for auditors. Per device: the tools and versions
 * installed then (instance history), what the policy in force then said about each (the
 * revision published at or before the instant, evaluated with the agents' own evaluator), what
 * the agent had applied and when (policy-applied events, check-ins), quarantines in place, and
 * the exceptions in force. One JSON document, signed by the server's policy key in the route
 * (policies/attestation.ts); CSV and NDJSON are refused because they would not be signed.
 */

import { type CompiledEntry, type CompiledPolicy, compilePolicy } from '../../../policies/compile.js';
import { evaluateInstance } from '../../../policies/evaluate.js';
import type { DeviceFacts, ToolInstance } from '../../../policies/inventory.js';
import type { OsName, PolicyDocument } from '../../../policies/schema.js';
import { badRequest } from '../../http/errors.js';
import { type InventoryRow, rowToInstance } from '../../store/inventory.js';
import { column, isoUtc } from '../columns.js';
import { type ReportContext, type ReportDefinition, toolInfoCache } from '../definition.js';
import type { Filters } from '../filters.js';

/** One installed tool instance at the instant. */
interface AttestedTool {
  toolId: string;
  name: string | null;
  vendor: string | null;
  version: string | null;
  channel: string;
  installPath: string;
  owner: string | null;
  host: string | null;
  firstSeen: string;
  /** What the policy in force said at the instant (null: no policy was published yet). */
  policy: {
    action: string;
    enforce: boolean;
    phase: string;
    decidedBy: string;
    effectiveAt: string | null;
    until: string | null;
  } | null;
  /** The verdict the agent had last reported for it by the instant, and since when (null: none reported). */
  agentReported: { action: string | null; at: string; policyRevision: number | null } | null;
  /** The last quarantine or restore the agent reported for it by the instant. */
  enforcement: { event: 'quarantined' | 'restored'; at: string } | null;
}

export interface AttestedDevice {
  deviceId: string;
  hostname: string;
  group: string;
  os: string;
  users: string[];
  enrolledAt: string;
  /** The last policy the agent reported applying (policy-applied event) at or before the instant. */
  policyApplied: { revision: number | null; at: string } | null;
  /** True when policyApplied is the revision in force; null when unknown (nothing reported). */
  appliedRevisionInForce: boolean | null;
  /** The last policy the agent reported refusing at or before the instant. */
  policyRefused: { revision: number | null; at: string; message: string | null } | null;
  tools: AttestedTool[];
  exceptions: {
    name: string;
    index: number;
    tools: string[];
    users: string[] | null;
    from: string;
    until: string | null;
    reason: string | null;
  }[];
}

export interface AttestationDocument {
  kind: 'attestation';
  /** The instant attested, RFC 3339 UTC, and as given. */
  at: string;
  atAsGiven: string;
  generatedAt: string;
  filters: Record<string, string>;
  policy: {
    revision: number;
    name: string;
    sha256: string;
    publishedAt: string;
    publishedBy: string | null;
    mode: 'enforce' | 'monitor';
    /** Set when the revision could not be evaluated (then every tool's `policy` is null). */
    evaluationError: string | null;
  } | null;
  devices: AttestedDevice[];
  /** What the document rests on, in words (so a reader knows its limits). */
  sources: string[];
}

const SOURCES = [
  'installed tools and versions: the instance history the server recorded from check-ins at or before the instant (a tool installed and removed between two check-ins is not seen)',
  "policy: the revision published at or before the instant, evaluated by the agents' evaluator with the device's current group and os",
  'agent applied: policy-applied and policy-refused events timed by the agent at or before the instant (events older than the server keeps are pruned)',
  'enforcement: the last quarantined/restored event per instance at or before the instant',
];

interface HistoryRow {
  instance_key: string;
  change: 'appeared' | 'version-changed' | 'disappeared' | 'verdict-changed';
  new_version: string | null;
  new_action: string | null;
  at: number;
  policy_revision: number | null;
}

interface DeviceRow {
  id: string;
  hostname: string;
  os: string;
  group_name: string;
  users: string;
  enrolled_at: number;
}

/** What each instance was at the instant, replayed from its history. */
interface Replayed {
  present: boolean;
  version: string | null;
  firstSeen: number;
  agentAction: string | null;
  agentAt: number | null;
  agentRevision: number | null;
}

/** Replay one device's history rows (in time order) up to the instant. */
function replay(
  instances: readonly InventoryRow[],
  history: readonly HistoryRow[],
  atMs: number,
): Map<string, Replayed> {
  const states = new Map<string, Replayed>();
  for (const row of history) {
    let state = states.get(row.instance_key);
    if (!state) {
      state = {
        present: false,
        version: null,
        firstSeen: row.at,
        agentAction: null,
        agentAt: null,
        agentRevision: null,
      };
      states.set(row.instance_key, state);
    }
    if (row.change === 'disappeared') {
      state.present = false;
      continue;
    }
    if (row.change === 'appeared') state.present = true;
    if (row.change !== 'verdict-changed') state.version = row.new_version;
    if (row.change !== 'version-changed' || state.agentAt === null) {
      state.agentAction = row.new_action;
      state.agentAt = row.at;
      state.agentRevision = row.policy_revision;
    }
  }
  // Instances with no history row (none should exist; history is written with every insert):
  // judge from the current row's first and removal times.
  for (const row of instances) {
    if (states.has(row.instance_key) || row.first_seen_at > atMs) continue;
    if (row.present === 0 && (row.disappeared_at === null || row.disappeared_at <= atMs)) continue;
    states.set(row.instance_key, {
      present: true,
      version: row.version,
      firstSeen: row.first_seen_at,
      agentAction: null,
      agentAt: null,
      agentRevision: null,
    });
  }
  return states;
}

function scopeFits(entry: CompiledEntry, facts: DeviceFacts): boolean {
  if (entry.os !== null && !entry.os.has(facts.os)) return false;
  if (entry.groups !== null && (facts.group === undefined || !entry.groups.has(facts.group))) return false;
  if (entry.devices !== null && !(entry.devices.has(facts.deviceId ?? '') || entry.devices.has(facts.hostname ?? '')))
    return false;
  return true;
}

/** The exceptions of the compiled policy in force at the instant that can apply on this device. */
function exceptionsInForce(policy: CompiledPolicy, facts: DeviceFacts, atMs: number): AttestedDevice['exceptions'] {
  const found = new Map<number, { entry: CompiledEntry; tools: Set<string> }>();
  for (const [toolId, entries] of policy.candidates) {
    for (const entry of entries) {
      if (entry.kind !== 'exception' || atMs < entry.startsAt || atMs >= entry.endsAt || !scopeFits(entry, facts))
        continue;
      let item = found.get(entry.index);
      if (!item) found.set(entry.index, (item = { entry, tools: new Set() }));
      item.tools.add(toolId);
    }
  }
  return [...found.values()]
    .sort((a, b) => a.entry.index - b.entry.index)
    .map(({ entry, tools }) => ({
      name: entry.name,
      index: entry.index,
      tools: [...tools].sort(),
      users: entry.users === null ? null : [...entry.users].sort(),
      from: isoUtc(Math.max(entry.startsAt, 0)),
      until: entry.endsAtIso,
      reason: entry.reason,
    }));
}

/** Build the attestation document (unsigned) from the report's snapshot. Throws a 400 for unusable filters. */
function buildAttestation(context: ReportContext, filters: Filters): AttestationDocument {
  const { db, catalog, now } = context;
  if (filters.format !== 'json') {
    throw badRequest(
      `query.format: the attestation is a signed JSON document; ${filters.format.toUpperCase()} would not be signed, so only format=json is served`,
    );
  }
  if (filters.atMs === undefined || filters.atAsGiven === undefined)
    throw badRequest(
      'query.at: the instant to attest is required (an RFC 3339 instant such as 2026-07-10T00:00:00+08:00, or a date)',
    );
  const atMs = filters.atMs;
  if (atMs > now)
    throw badRequest(
      `query.at: ${filters.atAsGiven} is in the future (server time ${isoUtc(now)}); only what has happened can be attested`,
    );

  const policyRow = db
    .prepare<
      [number],
      {
        revision: number;
        name: string;
        document: string;
        sha256: string;
        published_at: number;
        published_by: string | null;
      }
    >(
      'SELECT revision, name, document, sha256, published_at, published_by FROM policies WHERE published_at <= ? ORDER BY revision DESC LIMIT 1',
    )
    .get(atMs);
  // A revision published against an older catalog may name tools this one no longer has: then
  // the document says the verdicts could not be computed instead of failing.
  let compiled: CompiledPolicy | null = null;
  let evaluationError: string | null = null;
  const policyDocument = policyRow ? (JSON.parse(policyRow.document) as PolicyDocument) : null;
  if (policyRow && policyDocument) {
    try {
      compiled = compilePolicy(policyDocument, catalog.catalog);
    } catch (error) {
      evaluationError = `revision ${policyRow.revision} cannot be evaluated with this server's catalog: ${(error as Error).message}`;
    }
  }

  const where: string[] = ['enrolled_at <= @at', '(revoked_at IS NULL OR revoked_at > @at)'];
  const params: Record<string, string | number> = { at: atMs };
  if (filters.group !== undefined) {
    where.push('group_name = @group');
    params.group = filters.group;
  }
  if (filters.device?.id !== undefined) {
    where.push('id = @device_id');
    params.device_id = filters.device.id;
  }
  if (filters.device?.hostname !== undefined) {
    where.push('hostname = @hostname');
    params.hostname = filters.device.hostname;
  }
  const devices = db
    .prepare<[Record<string, string | number>], DeviceRow>(
      `SELECT id, hostname, os, group_name, users, enrolled_at FROM devices WHERE ${where.join(' AND ')} ORDER BY hostname, id`,
    )
    .all(params);

  const instancesOf = db.prepare<[string], InventoryRow>('SELECT * FROM inventory WHERE device_id = ?');
  const historyOf = db.prepare<[string, number], HistoryRow>(
    'SELECT instance_key, change, new_version, new_action, at, policy_revision FROM instance_history WHERE device_id = ? AND at <= ? ORDER BY at, id',
  );
  const lastEvent = db.prepare<
    [string, string, number],
    { at: number; policy_revision: number | null; message: string | null }
  >(
    'SELECT at, policy_revision, message FROM events WHERE device_id = ? AND type = ? AND at <= ? ORDER BY at DESC LIMIT 1',
  );
  const enforcementOf = db.prepare<
    [string, number],
    { tool_id: string | null; install_path: string | null; type: 'quarantined' | 'restored'; at: number }
  >(
    "SELECT tool_id, install_path, type, at FROM events WHERE device_id = ? AND type IN ('quarantined', 'restored') AND at <= ? ORDER BY at, id",
  );
  const tools = toolInfoCache(catalog);

  const attested = devices.map((device): AttestedDevice => {
    const facts: DeviceFacts = {
      deviceId: device.id,
      hostname: device.hostname,
      group: device.group_name,
      os: device.os as OsName,
    };
    const rows = instancesOf.all(device.id);
    const byKey = new Map(rows.map((row) => [row.instance_key, row]));
    const states = replay(rows, historyOf.all(device.id, atMs), atMs);
    const enforcement = new Map<string, AttestedTool['enforcement']>();
    for (const event of enforcementOf.all(device.id, atMs)) {
      if (event.tool_id !== null && event.install_path !== null)
        enforcement.set(`${event.tool_id}\u0000${event.install_path}`, { event: event.type, at: isoUtc(event.at) });
    }
    const installed: AttestedTool[] = [];
    for (const [key, state] of states) {
      const row = byKey.get(key);
      if (!state.present || !row) continue;
      // As reported last, with the version it had at the instant (running state is not policy input).
      const instance: ToolInstance = { ...rowToInstance(row), version: state.version };
      const verdict = compiled ? evaluateInstance(compiled, instance, facts, atMs) : null;
      const info = tools(row.tool_id, row.name);
      installed.push({
        toolId: row.tool_id,
        name: info.name,
        vendor: info.vendor,
        version: state.version,
        channel: row.channel,
        installPath: row.install_path,
        owner: row.owner,
        host: row.host,
        firstSeen: isoUtc(state.firstSeen),
        policy: verdict
          ? {
              action: verdict.action,
              enforce: verdict.enforce,
              phase: verdict.phase,
              decidedBy: verdict.decidedBy.name,
              effectiveAt: verdict.effectiveAt,
              until: verdict.until,
            }
          : null,
        agentReported:
          state.agentAt === null
            ? null
            : { action: state.agentAction, at: isoUtc(state.agentAt), policyRevision: state.agentRevision },
        enforcement: enforcement.get(key) ?? null,
      });
    }
    installed.sort((a, b) =>
      a.toolId < b.toolId
        ? -1
        : a.toolId > b.toolId
          ? 1
          : a.installPath < b.installPath
            ? -1
            : a.installPath > b.installPath
              ? 1
              : 0,
    );
    const applied = lastEvent.get(device.id, 'policy-applied', atMs);
    const refused = lastEvent.get(device.id, 'policy-refused', atMs);
    return {
      deviceId: device.id,
      hostname: device.hostname,
      group: device.group_name,
      os: device.os,
      users: JSON.parse(device.users) as string[],
      enrolledAt: isoUtc(device.enrolled_at),
      policyApplied: applied ? { revision: applied.policy_revision, at: isoUtc(applied.at) } : null,
      appliedRevisionInForce: applied && policyRow ? applied.policy_revision === policyRow.revision : null,
      policyRefused: refused
        ? { revision: refused.policy_revision, at: isoUtc(refused.at), message: refused.message }
        : null,
      tools: installed,
      exceptions: compiled ? exceptionsInForce(compiled, facts, atMs) : [],
    };
  });

  const filterEcho: Record<string, string> = {};
  if (filters.group !== undefined) filterEcho.group = filters.group;
  if (filters.device !== undefined) filterEcho.device = filters.device.id ?? filters.device.hostname ?? '';
  return {
    kind: 'attestation',
    at: isoUtc(atMs),
    atAsGiven: filters.atAsGiven,
    generatedAt: isoUtc(now),
    filters: filterEcho,
    policy:
      policyRow && policyDocument
        ? {
            revision: policyRow.revision,
            name: policyRow.name,
            sha256: policyRow.sha256,
            publishedAt: isoUtc(policyRow.published_at),
            publishedBy: policyRow.published_by,
            mode: policyDocument.spec.mode === 'monitor' ? 'monitor' : 'enforce',
            evaluationError,
          }
        : null,
    devices: attested,
    sources: SOURCES,
  };
}

/** No row stream: the attestation is one document (`document`); the columns describe a device's tool entry for the listing. */
function* noRows(): Generator<never> {}

export const attestationReport: ReportDefinition = {
  kind: 'attestation',
  title: 'Attestation',
  summary:
    'Signed statement, as of one instant, of the tools installed on each device, the policy in force, what the agent had applied, and exceptions in force',
  description:
    'One JSON document `{ format, attestation, signature }`: `attestation` lists, per device enrolled at `at`, the tools installed then (with the verdict the policy in force gave them at that instant), the last policy the agent reported applying, quarantines, and exceptions in force; `signature.jws` is a detached Ed25519 JWS (typ aigate-attestation+jws, kid = the policy key fingerprint) over the canonical JSON of `attestation`. Check it with `aigate report verify FILE`. JSON only: CSV and NDJSON would not be signed and are refused (400).',
  columns: [
    column('deviceId', 'string', 'the device (devices[].deviceId)'),
    column('toolId', 'string', 'catalog tool id (devices[].tools[].toolId)'),
    column('version', 'string', 'the version installed at the instant'),
    column('installPath', 'string', 'where it was installed'),
    column('policy', 'json', 'what the policy in force said: action, enforce, phase, decidedBy, effectiveAt, until'),
    column('agentReported', 'json', 'the verdict the agent had reported by then'),
    column('enforcement', 'json', 'the last quarantined/restored event by then'),
    column('firstSeen', 'instant', 'first reported'),
  ],
  filters: ['at', 'group', 'device'],
  open() {
    return { rows: noRows() };
  },
  document: (context, filters) => buildAttestation(context, filters),
};
