/**
 * Report filters: the query parameters each report accepts (TypeBox, so an unknown or
 * misspelt filter is a 400 naming it and listing the allowed ones), and their resolution into
 * values the queries use (times parsed, tool ids checked against the catalog).
 */
import { type TObject, type TSchema, Type } from '@sinclair/typebox';

import type { CatalogIndex } from '../../policies/catalog/index.js';
import { DAY_MS, parseDateOrInstant, parseDuration } from '../../policies/time.js';
import { badRequest } from '../http/errors.js';
import { GroupName } from '../http/schemas.js';
import { EVENT_TYPES, type EventType } from '../store/events.js';
import { FORMATS, type ReportFormat } from './writers.js';

export const DEVICE_STATUSES = ['active', 'stale', 'never-seen', 'revoked'] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];

/**
 * A device's state for lists and reports: revoked; never-seen (enrolled, no check-in yet); stale
 * (last check-in before `staleBefore`, ms since the epoch); else active.
 */
export function deviceStatus(
  device: { revokedAt: number | null; lastCheckinAt: number | null },
  staleBefore: number,
): DeviceStatus {
  if (device.revokedAt !== null) return 'revoked';
  if (device.lastCheckinAt === null) return 'never-seen';
  return device.lastCheckinAt < staleBefore ? 'stale' : 'active';
}

const literals = <T extends string>(values: readonly T[], description: string) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    { description },
  );

const TIME_HELP = 'YYYY-MM-DD (UTC), YYYY-MM-DDTHH:MM (UTC) or an RFC 3339 instant';

/** Every filter a report may accept; each report picks its own subset. */
const FILTERS = {
  format: Type.Optional(literals(FORMATS, 'csv | json | ndjson (default json)')),
  from: Type.Optional(
    Type.String({ minLength: 1, maxLength: 40, description: `from this time on (inclusive): ${TIME_HELP}` }),
  ),
  to: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 40,
      description: `before this time: ${TIME_HELP}; a bare date includes that whole day`,
    }),
  ),
  tool: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 300,
      description: 'a catalog tool id such as claude-code, or unknown:<channel>:<name>',
    }),
  ),
  group: Type.Optional(GroupName),
  user: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'a user name (the owner of the install, or a user of the device)',
    }),
  ),
  device: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'a device id or hostname' })),
  verdict: Type.Optional(
    literals(['allow', 'warn', 'block', 'none'] as const, 'allow | warn | block | none (no verdict reported)'),
  ),
  present: Type.Optional(Type.Boolean({ description: 'true: installed at the last check-in; false: removed since' })),
  type: Type.Optional(literals(EVENT_TYPES, `${EVENT_TYPES.join(' | ')} (default: every type but policy-applied)`)),
  status: Type.Optional(
    literals(DEVICE_STATUSES, 'active | stale | never-seen (enrolled, never checked in) | revoked'),
  ),
  at: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 40,
      description: `the instant attested: ${TIME_HELP} (a bare date is its start, UTC)`,
    }),
  ),
  staleAfter: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 20,
      description: "a duration such as 7d or 36h (default: the server's --stale-after)",
    }),
  ),
  by: Type.Optional(literals(['group', 'os'] as const, 'group | os: what the rows are per (default group)')),
} satisfies Record<string, TSchema>;

export type FilterName = keyof typeof FILTERS;

/** The query schema of a report: `format` plus the filters it names; nothing else is accepted. */
export function querySchema(
  names: readonly FilterName[],
  overrides: Partial<Record<FilterName, TSchema>> = {},
): TObject {
  const properties: Record<string, TSchema> = { format: FILTERS.format };
  for (const name of names) properties[name] = overrides[name] ?? FILTERS[name];
  return Type.Object(properties, { additionalProperties: false });
}

/** The violations report's verdict filter: only the verdicts that are violations. */
export const ViolationVerdict = Type.Optional(literals(['warn', 'block'] as const, 'warn | block'));

export type RawQuery = Partial<Record<FilterName, string | boolean>>;

export interface Filters {
  format: ReportFormat;
  fromMs?: number;
  toMs?: number;
  tool?: string;
  group?: string;
  user?: string;
  /** A UUID is matched against device ids, anything else against hostnames. */
  device?: { id?: string; hostname?: string };
  verdict?: 'allow' | 'warn' | 'block' | 'none';
  present?: boolean;
  type?: EventType;
  status?: DeviceStatus;
  staleAfterMs?: number;
  /** `at`: the instant attested, and the text it was given as. */
  atMs?: number;
  atAsGiven?: string;
  /** `by`: what rows are per (the compliance report). */
  by?: 'group' | 'os';
  /** The filters as given, echoed in JSON reports. */
  echo: Record<string, string | boolean>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function parseTime(name: 'from' | 'to' | 'at', text: string): number {
  const parsed = parseDateOrInstant(text, 'UTC');
  if (!parsed.ok) throw badRequest(`query.${name}: ${parsed.error.replace('(policy timezone)', '(UTC)')}`);
  // "to=2026-06-30" means up to the end of that day.
  return name === 'to' && /^\d{4}-\d{2}-\d{2}$/.test(text) ? parsed.epochMs + DAY_MS : parsed.epochMs;
}

function checkToolId(tool: string, catalog: CatalogIndex): string {
  if (tool.startsWith('unknown:') || catalog.has(tool)) return tool;
  const suggestion = catalog.suggest(tool);
  throw badRequest(
    `query.tool: "${tool}" is not a tool of the catalog${suggestion ? `; did you mean "${suggestion}"?` : ''} (tools outside the catalog are named unknown:<channel>:<name>)`,
  );
}

/** Resolve validated query parameters; throws a 400 naming the parameter when a value is unusable. */
export function resolveFilters(query: RawQuery, catalog: CatalogIndex, defaults: { staleAfterMs: number }): Filters {
  const echo: Record<string, string | boolean> = {};
  for (const [key, value] of Object.entries(query)) if (key !== 'format' && value !== undefined) echo[key] = value;
  const filters: Filters = { format: (query.format as ReportFormat | undefined) ?? 'json', echo };
  if (typeof query.from === 'string') filters.fromMs = parseTime('from', query.from);
  if (typeof query.to === 'string') filters.toMs = parseTime('to', query.to);
  if (filters.fromMs !== undefined && filters.toMs !== undefined && filters.fromMs >= filters.toMs) {
    throw badRequest(`query.from (${query.from}) must be before query.to (${query.to})`);
  }
  if (typeof query.at === 'string') {
    filters.atMs = parseTime('at', query.at);
    filters.atAsGiven = query.at;
  }
  if (typeof query.tool === 'string') filters.tool = checkToolId(query.tool, catalog);
  if (typeof query.group === 'string') filters.group = query.group;
  if (typeof query.user === 'string') filters.user = query.user;
  if (typeof query.device === 'string')
    filters.device = UUID.test(query.device) ? { id: query.device.toLowerCase() } : { hostname: query.device };
  if (typeof query.verdict === 'string') filters.verdict = query.verdict as Filters['verdict'];
  if (typeof query.present === 'boolean') filters.present = query.present;
  if (typeof query.type === 'string') filters.type = query.type as EventType;
  if (typeof query.status === 'string') filters.status = query.status as DeviceStatus;
  if (typeof query.by === 'string') filters.by = query.by as 'group' | 'os';
  filters.staleAfterMs = defaults.staleAfterMs;
  if (typeof query.staleAfter === 'string') {
    const parsed = parseDuration(query.staleAfter);
    if (!parsed.ok) throw badRequest(`query.staleAfter: ${parsed.error}`);
    filters.staleAfterMs = parsed.ms;
  }
  return filters;
}

/** A UTC day as YYYY-MM-DD. */
export const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
