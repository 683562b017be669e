/**
 * Report columns: the stable, documented shape of every report. A report row is an array of
 * cells in column order; the writers turn rows into CSV, JSON or NDJSON, and the OpenAPI
 * document describes each column from the same definitions.
 */
import { type TSchema, Type } from '@sinclair/typebox';

export type ColumnType = 'string' | 'integer' | 'number' | 'boolean' | 'instant' | 'day' | 'json' | 'list';

export interface Column {
  name: string;
  type: ColumnType;
  description: string;
}

/** One cell: instants are ISO strings, `json` cells are JSON text, `list` cells string arrays. */
export type Cell = string | number | boolean | null | readonly string[];
export type Row = Cell[];

export const column = (name: string, type: ColumnType, description: string): Column => ({ name, type, description });

function cellSchema(col: Column): TSchema {
  const description = col.description;
  switch (col.type) {
    case 'integer':
      return Type.Union([Type.Integer(), Type.Null()], { description });
    case 'number':
      return Type.Union([Type.Number(), Type.Null()], { description });
    case 'boolean':
      return Type.Union([Type.Boolean(), Type.Null()], { description });
    case 'instant':
      return Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
        description: `${description} (RFC 3339, UTC)`,
      });
    case 'day':
      return Type.String({ description: `${description} (YYYY-MM-DD, UTC)` });
    case 'json':
      return Type.Unknown({ description: `${description} (JSON; a JSON text cell in CSV)` });
    case 'list':
      return Type.Array(Type.String(), { description: `${description} (space-separated in CSV)` });
    default:
      return Type.Union([Type.String(), Type.Null()], { description });
  }
}

/** The JSON/NDJSON row object, for the OpenAPI document. */
export function rowSchema(columns: readonly Column[]): TSchema {
  return Type.Object(Object.fromEntries(columns.map((col) => [col.name, cellSchema(col)])), {
    additionalProperties: false,
  });
}

/** "name (type): description" lines, for route descriptions and the README. */
export function describeColumns(columns: readonly Column[]): string {
  return columns.map((col) => `- \`${col.name}\` (${col.type}): ${col.description}`).join('\n');
}

const DAY_MS = 86_400_000;
const MAX_FOUR_DIGIT_YEAR_MS = 253_402_300_799_999;
const dayPrefixes = new Map<number, string>();
const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));
const pad3 = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : String(n));

/**
 * `new Date(ms).toISOString()`, several times faster: a report formats millions of instants,
 * and most share a few thousand days, whose `YYYY-MM-DDT` is computed once.
 */
export function isoUtc(ms: number): string {
  if (!(ms >= 0 && ms <= MAX_FOUR_DIGIT_YEAR_MS) || !Number.isInteger(ms)) return new Date(ms).toISOString();
  const day = Math.floor(ms / DAY_MS);
  let prefix = dayPrefixes.get(day);
  if (prefix === undefined) {
    prefix = new Date(day * DAY_MS).toISOString().slice(0, 11);
    if (dayPrefixes.size > 100_000) dayPrefixes.clear();
    dayPrefixes.set(day, prefix);
  }
  let rest = ms - day * DAY_MS;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  return `${prefix}${pad2(hours)}:${pad2(minutes)}:${pad2(seconds)}.${pad3(rest - seconds * 1000)}Z`;
}

export const isoOrNull = (ms: number | null | undefined): string | null =>
  ms === null || ms === undefined ? null : isoUtc(ms);
export const boolOrNull = (value: number | null | undefined): boolean | null =>
  value === null || value === undefined ? null : value === 1;
