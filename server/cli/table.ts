import { escapeControl } from './output.js';

/**
 * Plain-text tables for the CLI: columns padded to their widest cell; a missing value is `-`.
 * Each cell is one line with its control characters escaped (`escapeControl`), so a reason or
 * hostname can neither drive the terminal nor break the table's rows.
 */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = [
    headers,
    ...rows.map((row) => row.map((cell) => (cell === null || cell === undefined ? '-' : escapeControl(String(cell))))),
  ];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  return cells
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** An RFC 3339 instant as `2026-07-10 08:00:00Z` (no milliseconds); `-` when there is none. */
export function shortTime(iso: string | null | undefined): string {
  if (!iso) return '-';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
