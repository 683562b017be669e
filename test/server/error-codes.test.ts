/**
 * One list of error codes (policies/errors.ts), the fastify `test/internals/errors.test.js`
 * pattern: the README documents every code with its status, the server's source uses every
 * code it lists, and error replies carry the code in both `error` and `code`.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ERROR_CODE_LIST, ERROR_CODES, ErrorBody } from '../../policies/errors.js';
import { type RunningServer, startServer } from './harness.js';
import { tempDir } from './helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(path)));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

describe('error codes', () => {
  it('are all listed in the README with their HTTP status', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Error codes'));
    const rows = [...section.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]);
    expect(rows).toEqual(ERROR_CODE_LIST.map((code) => [code, ERROR_CODES[code].status]));
  });

  it('are each sent somewhere by the server (no dead codes)', async () => {
    const files = (await sourceFiles(join(ROOT, 'server'))).filter((f) => !f.includes(`${join('server', 'cli')}`));
    const text = (await Promise.all(files.map((f) => readFile(f, 'utf8')))).join('\n');
    const unused = ERROR_CODE_LIST.filter((code) => !text.includes(`'${code}'`));
    expect(unused).toEqual([]);
  });
});

describe('error replies', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: RunningServer;
  beforeAll(async () => {
    dir = await tempDir();
    server = await startServer(dir.path);
  });
  afterAll(async () => {
    await server?.close();
    await dir?.remove();
  });

  it.each([
    ['GET', '/v1/nothing-here', undefined, 404, 'not_found'],
    ['POST', '/v1/checkin', '{}', 401, 'missing_token'],
    ['POST', '/v1/enroll', '{"secret":', 400, 'invalid_json'],
  ])('%s %s: status and code in both error and code', async (method, path, body, status, code) => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
    });
    expect(response.status).toBe(status);
    const reply = (await response.json()) as unknown;
    expect(Value.Check(ErrorBody, reply)).toBe(true);
    expect(reply).toMatchObject({ error: code, code });
  });
});
