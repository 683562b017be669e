/**
 * Reading and writing the agent's JSON state files. Every file read back is validated against
 * its TypeBox schema: the state directory is protected, but a damaged or hand-edited file must
 * give a clear message naming the file, never a crash or a silently wrong decision.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

import type { Static, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

import { writeFileAtomic } from './atomic.js';

export type ReadJsonResult<T> =
  { ok: true; value: T } | { ok: false; missing: true } | { ok: false; missing: false; message: string };

/** Largest state file read; anything bigger is damage, not state. */
const MAX_STATE_FILE_BYTES = 64 * 1024 * 1024;

export async function readJsonFile<S extends TSchema>(path: string, schema: S): Promise<ReadJsonResult<Static<S>>> {
  let text: string;
  try {
    // Without blocking: a FIFO in a state file's place is refused, not waited on forever.
    const handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    try {
      const info = await handle.stat();
      if (!info.isFile()) return { ok: false, missing: false, message: `${path} is not a regular file` };
      if (info.size > MAX_STATE_FILE_BYTES)
        return { ok: false, missing: false, message: `${path} is larger than ${MAX_STATE_FILE_BYTES} bytes` };
      text = (await handle.readFile()).toString('utf8');
    } finally {
      await handle.close();
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { ok: false, missing: true };
    return { ok: false, missing: false, message: `cannot read ${path}: ${(error as Error).message}` };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, missing: false, message: `${path} is not valid JSON: ${(error as Error).message}` };
  }
  if (!Value.Check(schema, value)) {
    const first = Value.Errors(schema, value).First();
    return {
      ok: false,
      missing: false,
      message: `${path} is not a valid state file${first ? ` (${first.path || '/'}: ${first.message})` : ''}`,
    };
  }
  return { ok: true, value: value as Static<S> };
}

export async function writeJsonFile(path: string, value: unknown, mode: number): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, { mode });
}
