/**
 * Exception requests from employees. The employee's `request-exception` cannot read the device
 * key, so it drops a small JSON file into the agent's sticky requests folder; the agent validates
 * it (untrusted input; the requester is the file's owner, as the kernel says) and files it on the
 * server on its next cycle, or at once when it is running.
 */
import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { join } from 'node:path';

import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

export const MAX_REASON_CHARS = 2000;
const MAX_REQUEST_BYTES = 8 * 1024;

const RequestFile = Type.Object(
  {
    v: Type.Literal(1),
    id: Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' }),
    toolId: Type.String({ minLength: 1, maxLength: 300, pattern: '^[a-z0-9][a-z0-9:._@/-]*$' }),
    reason: Type.String({ minLength: 1, maxLength: MAX_REASON_CHARS }),
    until: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
    createdAt: Type.String({ maxLength: 40 }),
  },
  { additionalProperties: false },
);
export type RequestFile = Static<typeof RequestFile>;

export const REQUEST_NAME = /^([0-9a-f-]{36})\.request$/;

/** Writes a request file (as the employee). Returns its id. */
export async function dropRequest(
  dir: string,
  request: { toolId: string; reason: string; until?: string },
  nowMs: number,
): Promise<string> {
  const id = randomUUID();
  const body: RequestFile = {
    v: 1,
    id,
    toolId: request.toolId,
    reason: request.reason,
    createdAt: new Date(nowMs).toISOString(),
    ...(request.until ? { until: request.until } : {}),
  };
  if (!Value.Check(RequestFile, body))
    throw new Error(`the request is not valid: ${Value.Errors(RequestFile, body).First()?.message ?? 'invalid'}`);
  const handle = await open(
    join(dir, `${id}.request`),
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0),
    0o600,
  );
  try {
    await handle.writeFile(JSON.stringify(body));
    await handle.sync();
  } finally {
    await handle.close();
  }
  return id;
}

/** Reads and checks a request file (as the agent). A string is the reason it is refused. */
export async function readRequest(path: string): Promise<{ request: RequestFile; uid: number } | string> {
  const info = await lstat(path);
  if (!info.isFile()) return 'not a regular file';
  if (info.nlink !== 1) return 'a hard link';
  if (info.size > MAX_REQUEST_BYTES) return 'too large';
  const handle = await open(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
  let text: string;
  let uid: number;
  try {
    const opened = await handle.stat();
    if (opened.ino !== info.ino) return 'changed while being read';
    uid = opened.uid;
    const buffer = Buffer.alloc(MAX_REQUEST_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    text = buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (!Value.Check(RequestFile, value))
    return `not a valid request: ${Value.Errors(RequestFile, value).First()?.message ?? 'invalid'}`;
  return { request: value, uid };
}
