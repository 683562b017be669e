/**
 * The report writers: the CSV encoding is csv-stringify's (with escape_formulas), cell by cell;
 * JSON rows are JSON.stringify's; streams pull from the database only as fast as they are read.
 */
import { stringify } from 'csv-stringify/sync';
import { describe, expect, it } from 'vitest';

import type { Cell, Column, Row } from '../../server/reports/columns.js';
import { ReportStream } from '../../server/reports/stream.js';
import { createWriter, CSV_OPTIONS, csvCell, csvLine, rowObject } from '../../server/reports/writers.js';

const TRICKY: Cell[] = [
  null,
  '',
  'plain',
  'comma, inside',
  'quote " inside',
  '"starts with a quote',
  'new\nline',
  'carriage\rreturn',
  'crlf\r\nline',
  '=1+2',
  '+1',
  '-1',
  '@SUM(A1)',
  '\tTAB',
  '\rCR first',
  '=HYPERLINK("http://x.example/","x")',
  "'already quoted",
  'üñíçødé ✓ 日本語',
  ' leading space',
  'trailing space ',
  0,
  -1,
  3.25,
  1_000_000,
  true,
  false,
];

describe('CSV cells', () => {
  it.each(TRICKY.map((value) => [JSON.stringify(value), value]))(
    '%s is encoded as csv-stringify does',
    (_label, value) => {
      expect(csvLine([value as Cell])).toBe(stringify([[value]], CSV_OPTIONS));
      expect(csvLine(['a', value as Cell, 'b'])).toBe(stringify([['a', value, 'b']], CSV_OPTIONS));
    },
  );

  it('encodes whole rows as csv-stringify does', () => {
    const rows: Cell[][] = [];
    for (let i = 0; i < TRICKY.length; i++) rows.push(TRICKY.map((_, j) => TRICKY[(i + j) % TRICKY.length]!));
    expect(rows.map((row) => csvLine(row)).join('')).toBe(stringify(rows, CSV_OPTIONS));
  });

  it('neutralises exactly the cells a spreadsheet would evaluate', () => {
    expect(['=1', '+1', '-1', '@x', '\tx', '\rx'].map(csvCell)).toEqual([
      "'=1",
      "'+1",
      "'-1",
      "'@x",
      "'\tx",
      '"\'\rx"',
    ]);
    expect(['a=1', '1-2', 'x@y.z'].map(csvCell)).toEqual(['a=1', '1-2', 'x@y.z']);
    expect(csvCell(-5)).toBe('-5');
    expect(csvCell(['a', 'b'])).toBe('a b');
  });
});

describe('JSON rows', () => {
  const columns: Column[] = [
    { name: 'text', type: 'string', description: '' },
    { name: 'n', type: 'integer', description: '' },
    { name: 'flag', type: 'boolean', description: '' },
    { name: 'list', type: 'list', description: '' },
    { name: 'details', type: 'json', description: '' },
  ];
  const rows: Row[] = [
    ['a "quoted" \u2028 line', 1, true, ['x', 'y'], '{"k":[1,2]}'],
    [null, null, null, [], 'not json'],
  ];
  const header = {
    report: 'test',
    generatedAt: '2026-06-01T00:00:00.000Z',
    filters: { tool: 'x' },
    meta: { extra: 1 },
  };

  it('NDJSON lines are JSON.stringify of the row objects', () => {
    const writer = createWriter('ndjson', columns, header);
    expect(writer.start() + writer.rows(rows) + writer.end()).toBe(
      rows.map((row) => JSON.stringify(rowObject(columns, row)) + '\n').join(''),
    );
    expect(rowObject(columns, rows[0]!).details).toEqual({ k: [1, 2] });
    expect(rowObject(columns, rows[1]!).details).toBe('not json');
  });

  it('the JSON document parses, with its header, meta and rows', () => {
    const writer = createWriter('json', columns, header);
    const text = writer.start() + writer.rows(rows.slice(0, 1)) + writer.rows(rows.slice(1)) + writer.end();
    expect(JSON.parse(text)).toEqual({
      extra: 1,
      report: 'test',
      generatedAt: header.generatedAt,
      filters: { tool: 'x' },
      columns: ['text', 'n', 'flag', 'list', 'details'],
      rows: rows.map((row) => rowObject(columns, row)),
    });
    const empty = createWriter('json', columns, header);
    expect(JSON.parse(empty.start() + empty.rows([]) + empty.end()).rows).toEqual([]);
  });
});

describe('report streams', () => {
  it('pull rows only as the reader asks, and release once', async () => {
    let pulled = 0;
    let released = 0;
    function* rows(): Generator<Row> {
      for (let i = 0; i < 100_000; i++) {
        pulled++;
        yield [i, `row ${i}`];
      }
    }
    const columns: Column[] = [
      { name: 'i', type: 'integer', description: '' },
      { name: 'text', type: 'string', description: '' },
    ];
    const stream = new ReportStream(
      rows(),
      createWriter('csv', columns, { report: 'x', generatedAt: '', filters: {}, meta: {} }),
      () => released++,
    );
    const iterator = stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(String(first.value)).toMatch(/^i,text\n0,row 0\n/);
    // One batch read and the buffer filled: nowhere near all 100,000 rows.
    expect(pulled).toBeLessThan(5000);
    stream.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    expect(released).toBe(1);
  });

  it('end with the writer’s closing text and release', async () => {
    let released = 0;
    const stream = new ReportStream(
      [[1], [2]],
      createWriter('json', [{ name: 'n', type: 'integer', description: '' }], {
        report: 'x',
        generatedAt: 'now',
        filters: {},
        meta: {},
      }),
      () => released++,
    );
    let text = '';
    for await (const chunk of stream) text += String(chunk);
    expect(JSON.parse(text).rows).toEqual([{ n: 1 }, { n: 2 }]);
    expect(released).toBe(1);
  });

  it('report an error from the rows as a stream error, and release', async () => {
    let released = 0;
    function* failing(): Generator<Row> {
      yield [1];
      throw new Error('disk on fire');
    }
    const stream = new ReportStream(
      failing(),
      createWriter('csv', [{ name: 'n', type: 'integer', description: '' }], {
        report: 'x',
        generatedAt: '',
        filters: {},
        meta: {},
      }),
      () => released++,
    );
    await expect(async () => {
      for await (const _chunk of stream) void _chunk;
    }).rejects.toThrow('disk on fire');
    expect(released).toBe(1);
  });
});
