/**
 * Output formats. Each writer turns a batch of rows into text, so a report is produced chunk by
 * chunk and never held whole in memory.
 *
 * - csv: a header line, then one line per row (csv-stringify). Cells starting with =, +, -, @,
 *   tab or carriage return get a leading apostrophe, so a spreadsheet shows them as text and
 *   never evaluates them as formulas. Booleans are true/false, empty cells are null, lists are
 *   space-separated, JSON cells are JSON text.
 * - json: one document, `{ report, generatedAt, filters, ...meta, columns, rows: [ {...}, ... ] }`.
 * - ndjson: one JSON object per line, rows only.
 */
import { stringify } from 'csv-stringify/sync';
import type { Column, Row } from './columns.js';

export const FORMATS = ['csv', 'json', 'ndjson'] as const;
export type ReportFormat = (typeof FORMATS)[number];

export interface ReportHeader {
  report: string;
  generatedAt: string;
  filters: Record<string, unknown>;
  /** Extra top-level facts of the JSON document (e.g. the audit chain's verification). */
  meta: Record<string, unknown>;
}

export interface FormatWriter {
  readonly contentType: string;
  readonly extension: string;
  start(): string;
  rows(batch: readonly Row[]): string;
  end(): string;
}

const CSV_OPTIONS = {
  escape_formulas: true,
  cast: { boolean: (value: boolean) => (value ? 'true' : 'false') },
} as const;

function csvWriter(columns: readonly Column[]): FormatWriter {
  const lists = columns.flatMap((col, index) => (col.type === 'list' ? [index] : []));
  const flatten = (row: Row): Row => {
    if (lists.length === 0) return row;
    const copy = row.slice();
    for (const index of lists) {
      const value = copy[index];
      copy[index] = Array.isArray(value) ? value.join(' ') : (value ?? null);
    }
    return copy;
  };
  return {
    contentType: 'text/csv; charset=utf-8',
    extension: 'csv',
    start: () => stringify([columns.map((col) => col.name)]),
    rows: (batch) => (batch.length === 0 ? '' : stringify(batch.map(flatten) as unknown[][], CSV_OPTIONS)),
    end: () => '',
  };
}

/** A JSON cell holds JSON text from the database; a damaged one is passed on as a string. */
function parseJsonCell(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function rowObject(columns: readonly Column[], row: Row): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (let i = 0; i < columns.length; i++) {
    const col = columns[i]!;
    const value = row[i] ?? null;
    object[col.name] = col.type === 'json' && typeof value === 'string' ? parseJsonCell(value) : value;
  }
  return object;
}

function jsonWriter(columns: readonly Column[], header: ReportHeader): FormatWriter {
  let first = true;
  return {
    contentType: 'application/json; charset=utf-8',
    extension: 'json',
    start: () => {
      const head = JSON.stringify({ ...header.meta, report: header.report, generatedAt: header.generatedAt, filters: header.filters, columns: columns.map((col) => col.name) });
      return `${head.slice(0, -1)},"rows":[`;
    },
    rows: (batch) => {
      let out = '';
      for (const row of batch) {
        out += (first ? '\n' : ',\n') + JSON.stringify(rowObject(columns, row));
        first = false;
      }
      return out;
    },
    end: () => (first ? ']}\n' : '\n]}\n'),
  };
}

function ndjsonWriter(columns: readonly Column[]): FormatWriter {
  return {
    contentType: 'application/x-ndjson; charset=utf-8',
    extension: 'ndjson',
    start: () => '',
    rows: (batch) => {
      let out = '';
      for (const row of batch) out += JSON.stringify(rowObject(columns, row)) + '\n';
      return out;
    },
    end: () => '',
  };
}

export function createWriter(format: ReportFormat, columns: readonly Column[], header: ReportHeader): FormatWriter {
  switch (format) {
    case 'csv':
      return csvWriter(columns);
    case 'json':
      return jsonWriter(columns, header);
    case 'ndjson':
      return ndjsonWriter(columns);
  }
}
