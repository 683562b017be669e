/** State files read back: a FIFO, a folder or an oversize file in a state file's place is refused with a message, never waited on. */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { Type } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { readJsonFile } from '../../agent/state/json-file.js';
import { tempDir } from './helpers.js';

const Schema = Type.Object({ n: Type.Integer() });
let dir: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  dir = await tempDir('aigate-json-file-');
});
afterAll(async () => {
  await dir?.remove();
});

describe.skipIf(process.platform === 'win32')('readJsonFile', () => {
  it('reads a valid file, and refuses a FIFO or a folder in its place without blocking', async () => {
    await writeFile(join(dir.path, 'ok.json'), '{"n": 1}');
    expect(await readJsonFile(join(dir.path, 'ok.json'), Schema)).toEqual({ ok: true, value: { n: 1 } });
    expect(await readJsonFile(join(dir.path, 'missing.json'), Schema)).toEqual({ ok: false, missing: true });
    execFileSync('mkfifo', [join(dir.path, 'fifo.json')]);
    expect(await readJsonFile(join(dir.path, 'fifo.json'), Schema)).toEqual({
      ok: false,
      missing: false,
      message: `${join(dir.path, 'fifo.json')} is not a regular file`,
    });
    await mkdir(join(dir.path, 'folder.json'));
    expect(await readJsonFile(join(dir.path, 'folder.json'), Schema)).toMatchObject({ ok: false, missing: false });
  });
});
