/** What a report is: its columns, the filters it takes, and how it reads its rows. */
import type { TSchema } from '@sinclair/typebox';
import type Database from 'better-sqlite3';
import type { CatalogIndex } from '../../policies/catalog/index.js';
import type { Column, Row } from './columns.js';
import type { FilterName, Filters } from './filters.js';

export interface ReportContext {
  /** The report's own read-only connection (one snapshot for the whole report). */
  db: Database.Database;
  now: number;
  catalog: CatalogIndex;
  currentRevision: number | null;
}

export interface OpenedReport {
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

/** Display name and vendor of a tool id (catalog tools; others keep the name the agent reported). */
export function toolInfo(catalog: CatalogIndex, toolId: string, reportedName: string | null): { name: string | null; vendor: string | null } {
  const tool = catalog.tool(toolId);
  return tool ? { name: tool.name, vendor: tool.vendorName } : { name: reportedName, vendor: null };
}
