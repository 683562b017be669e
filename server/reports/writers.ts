/**
 * Output formats. Each writer turns a batch of rows into text, so a report is produced chunk by
 * chunk and never held whole in memory.
 *
 * - csv: a header line, then one line per row, RFC 4180. Cells starting with =, +, -, @, tab or
 *   carriage return get a leading apostrophe, so a spreadsheet shows them as text and never
 *   evaluates them as formulas. Booleans are true/false, empty cells are null, lists are
 *   space-separated, JSON cells are JSON text. The encoding is csv-stringify's (with
 *   escape_formulas), which the tests hold it to; rows are encoded here because csv-stringify's
 *   per-field generality costs about 5 µs a row, half the time budget of a million-row export.
 * - json: one document, `{ report, generatedAt, filters, ...meta, columns, rows: [ {...}, ... ] }`.
 * - ndjson: one JSON object per line, rows only.
 */
import { stringify } from 'csv-stringify/sync';

import type { Cell, Column, Row } from './columns.js';

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

/** csv-stringify's options for the same encoding (used for the header line and by the tests). */
export const CSV_OPTIONS = {
  escape_formulas: true,
  cast: { boolean: (value: boolean) => (value ? 'true' : 'false') },
} as const;

const NEEDS_QUOTES = /[",\r\n]/;

/** = + - @ tab CR: a spreadsheet would evaluate a cell starting with one of them. */
function startsLikeFormula(text: string): boolean {
  const c = text.charCodeAt(0);
  return c === 61 || c === 43 || c === 45 || c === 64 || c === 9 || c === 13;
}

/** One CSV cell, exactly as csv-stringify writes it with CSV_OPTIONS. */
export function csvCell(value: Cell | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return String(value);
  let text = typeof value === 'string' ? value : value.join(' ');
  if (startsLikeFormula(text)) text = `'${text}`;
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(row: readonly (Cell | undefined)[]): string {
  let line = '';
  for (let i = 0; i < row.length; i++) line += (i === 0 ? '' : ',') + csvCell(row[i]);
  return `${line}\n`;
}

/**
 * Instants, days, integers and booleans can never need quoting or neutralising (an instant is
 * always YYYY-...Z), so their cells skip the checks; everything else goes through csvCell.
 */
function csvLineFor(columns: readonly Column[]): (row: Row) => string {
  const plain = columns.map(
    (col) => col.type === 'instant' || col.type === 'day' || col.type === 'integer' || col.type === 'number',
  );
  return (row) => {
    let line = '';
    for (let i = 0; i < plain.length; i++) {
      const value = row[i];
      line +=
        (i === 0 ? '' : ',') +
        (plain[i] && (typeof value === 'string' || typeof value === 'number') ? value : csvCell(value));
    }
    return `${line}\n`;
  };
}

function csvWriter(columns: readonly Column[]): FormatWriter {
  const line = csvLineFor(columns);
  return {
    contentType: 'text/csv; charset=utf-8',
    extension: 'csv',
    start: () => stringify([columns.map((col) => col.name)], CSV_OPTIONS),
    rows: (batch) => {
      let out = '';
      for (const row of batch) out += line(row);
      return out;
    },
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

/** A row as a JSON object's text, built from precomputed keys (the same text as JSON.stringify(rowObject(...))). */
function jsonLines(columns: readonly Column[]): (row: Row) => string {
  const keys = columns.map((col, i) => `${i === 0 ? '{' : ','}${JSON.stringify(col.name)}:`);
  const jsonColumns = columns.map((col) => col.type === 'json');
  return (row) => {
    let out = '';
    for (let i = 0; i < keys.length; i++) {
      const value = row[i] ?? null;
      out +=
        keys[i]! +
        (value === null
          ? 'null'
          : jsonColumns[i] && typeof value === 'string'
            ? JSON.stringify(parseJsonCell(value))
            : JSON.stringify(value));
    }
    return `${out}}`;
  };
}

function jsonWriter(columns: readonly Column[], header: ReportHeader): FormatWriter {
  let first = true;
  const line = jsonLines(columns);
  return {
    contentType: 'application/json; charset=utf-8',
    extension: 'json',
    start: () => {
      const head = JSON.stringify({
        ...header.meta,
        report: header.report,
        generatedAt: header.generatedAt,
        filters: header.filters,
        columns: columns.map((col) => col.name),
      });
      return `${head.slice(0, -1)},"rows":[`;
    },
    rows: (batch) => {
      let out = '';
      for (const row of batch) {
        out += (first ? '\n' : ',\n') + line(row);
        first = false;
      }
      return out;
    },
    end: () => (first ? ']}\n' : '\n]}\n'),
  };
}

function ndjsonWriter(columns: readonly Column[]): FormatWriter {
  const line = jsonLines(columns);
  return {
    contentType: 'application/x-ndjson; charset=utf-8',
    extension: 'ndjson',
    start: () => '',
    rows: (batch) => {
      let out = '';
      for (const row of batch) out += line(row) + '\n';
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
