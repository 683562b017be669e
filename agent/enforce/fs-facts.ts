/**
 * What a file looked like before the agent changed it: kind, mode, owner, times, and its
 * content hash or link target. Recorded in the ledger before every change, so a restore can be
 * checked byte for byte and an undo knows exactly what to put back.
 */
import { createHash } from 'node:crypto';
import { lstat, open, readlink } from 'node:fs/promises';
import { Type, type Static } from '@sinclair/typebox';

export const FileFacts = Type.Object(
  {
    kind: Type.Union([Type.Literal('file'), Type.Literal('symlink'), Type.Literal('dir')]),
    mode: Type.Integer({ minimum: 0, maximum: 0o7777 }),
    uid: Type.Integer({ minimum: 0 }),
    gid: Type.Integer({ minimum: 0 }),
    size: Type.Integer({ minimum: 0 }),
    mtimeMs: Type.Number(),
    atimeMs: Type.Number(),
    target: Type.Optional(Type.String()),
    sha256: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type FileFacts = Static<typeof FileFacts>;

export async function lexists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
    throw error;
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(path, 'r');
  try {
    for await (const chunk of handle.createReadStream()) hash.update(chunk as Buffer);
  } finally {
    await handle.close().catch(() => undefined);
  }
  return hash.digest('hex');
}

/** Facts about `path` (not following a symlink), or null if nothing is there. */
export async function captureFacts(path: string): Promise<FileFacts | null> {
  let info;
  try {
    info = await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw error;
  }
  const base = { mode: info.mode & 0o7777, uid: info.uid, gid: info.gid, size: info.size, mtimeMs: info.mtimeMs, atimeMs: info.atimeMs };
  if (info.isSymbolicLink()) return { kind: 'symlink', ...base, target: await readlink(path) };
  if (info.isDirectory()) return { kind: 'dir', ...base };
  if (info.isFile()) return { kind: 'file', ...base, sha256: await sha256File(path) };
  throw new Error(`${path} is neither a file, a folder nor a symbolic link`);
}

/** Same content (hash or link target), kind, mode and owner: what "byte-identical" means here. */
export function sameContent(a: FileFacts, b: FileFacts): boolean {
  return a.kind === b.kind && a.target === b.target && a.sha256 === b.sha256 && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid;
}
