/** What a report is: its columns, the filters it takes, and how it reads its rows. */
import type { TSchema } from '@sinclair/typebox';
import type Database from 'better-sqlite3';

import type { CatalogIndex } from '../../policies/catalog/index.js';
import { type Column, isoUtc, type Row } from './columns.js';
import type { FilterName, Filters } from './filters.js';

export interface ReportContext {
  /** The report's own read-only connection (one snapshot for the whole report). */
  db: Database.Database;
  now: number;
  catalog: CatalogIndex;
  currentRevision: number | null;
}

interface OpenedReport {
  rows: Iterable<Row>;
  /** Extra top-level facts of the JSON document. */
  meta?: Record<string, unknown>;
  /** Extra response headers (the same facts, for CSV and NDJSON readers). */
  headers?: Record<string, string>;
}

export interface ReportDefinition {
  kind: string;
  title: string;
  /** One line, for listings and the OpenAPI summary. */
  summary: string;
  /** What a row is and how filters apply. */
  description: string;
  columns: readonly Column[];
  filters: readonly FilterName[];
  overrides?: Partial<Record<FilterName, TSchema>>;
  open(context: ReportContext, filters: Filters): OpenedReport;
  /**
   * For a report that is one signed document instead of a row stream (attestation): builds the
   * document; the route signs it with the server's key and serves it as JSON only.
   */
  document?(context: ReportContext, filters: Filters): unknown;
}

/** WHERE clause assembly with named parameters. */
export class Where {
  readonly parts: string[] = [];
  readonly params: Record<string, string | number> = {};

  add(sql: string, params: Record<string, string | number> = {}): this {
    this.parts.push(sql);
    Object.assign(this.params, params);
    return this;
  }

  toString(): string {
    return this.parts.length > 0 ? `WHERE ${this.parts.join(' AND ')}` : '';
  }
}

/** Map each row of a statement iterator through `map`, lazily. */
export function* mapRows<T>(rows: Iterable<T>, map: (row: T) => Row): Generator<Row> {
  for (const row of rows) yield map(row);
}

export interface ToolInfo {
  name: string | null;
  vendor: string | null;
}

/** Display name and vendor of a tool id (catalog tools; others keep the name the agent reported). */
export function toolInfo(catalog: CatalogIndex, toolId: string, reportedName: string | null): ToolInfo {
  const tool = catalog.tool(toolId);
  return tool ? { name: tool.name, vendor: tool.vendorName } : { name: reportedName, vendor: null };
}

/** toolInfo for catalog tools, remembered per id (a report asks a million times for a few dozen tools). */
export function toolInfoCache(catalog: CatalogIndex): (toolId: string, reportedName: string | null) => ToolInfo {
  const known = new Map<string, ToolInfo>();
  return (toolId, reportedName) => {
    let info = known.get(toolId);
    if (info) return info;
    info = toolInfo(catalog, toolId, reportedName);
    if (catalog.has(toolId)) known.set(toolId, info);
    return info;
  };
}

const reportedInstants = new Map<string, string | null>();

/**
 * An instant as text from a value an agent reported (a verdict's effectiveAt): normalised to
 * RFC 3339 UTC, or null if it is none. Few distinct values exist (the policy's dates), so they
 * are remembered.
 */
export function reportedInstant(text: string | null): string | null {
  if (text === null) return null;
  let normalised = reportedInstants.get(text);
  if (normalised === undefined) {
    const ms = Date.parse(text);
    normalised = Number.isFinite(ms) ? isoUtc(ms) : null;
    if (reportedInstants.size > 10_000) reportedInstants.clear();
    reportedInstants.set(text, normalised);
  }
  return normalised;
}

/**
 * Rows of a second statement, read alongside a report's main rows that come in the same key
 * order: `take(key)` returns the rows for that key, stepping forward only (a merge join, one
 * sequential read instead of a lookup per key). Keys must compare the same in JavaScript as in
 * SQLite, which holds for ASCII keys such as device ids (UUIDs).
 */
export class KeyedCursor<R extends readonly unknown[]> {
  private pending: IteratorResult<R>;

  constructor(private readonly rows: IterableIterator<R>) {
    this.pending = rows.next();
  }

  take(key: string): R[] {
    const found: R[] = [];
    while (!this.pending.done && (this.pending.value[0] as string) < key) this.pending = this.rows.next();
    while (!this.pending.done && this.pending.value[0] === key) {
      found.push(this.pending.value);
      this.pending = this.rows.next();
    }
    return found;
  }

  close(): void {
    this.rows.return?.();
  }
}
