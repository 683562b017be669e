/**
 * What a file looked like before the agent changed it: kind, mode, owner, identity (device and
 * inode), times, and its content hash or link target. Recorded in the ledger before every
 * change, so a restore can be checked byte for byte, an undo knows exactly what to put back, and
 * a later owner or mode change can prove it acts on the very same object (see safe-fs.ts).
 *
 * Nothing here blocks on a special file: a FIFO, socket or device is reported as kind `other`
 * and never opened; regular files are opened with O_NOFOLLOW|O_NONBLOCK and checked with fstat.
 */
import { createHash } from 'node:crypto';
import { type BigIntStats, constants, type Stats } from 'node:fs';
import { type FileHandle, lstat, open, opendir, readlink } from 'node:fs/promises';

import { type Static, Type } from '@sinclair/typebox';

/** Device or inode number as a decimal string (inode numbers may exceed 2^53). */
const Id = Type.String({ pattern: '^[0-9]{1,20}$' });

export const FileFacts = Type.Object(
  {
    /** `other`: a FIFO, socket or device node, which enforcement never touches. */
    kind: Type.Union([Type.Literal('file'), Type.Literal('symlink'), Type.Literal('dir'), Type.Literal('other')]),
    mode: Type.Integer({ minimum: 0, maximum: 0o7777 }),
    uid: Type.Integer({ minimum: 0 }),
    gid: Type.Integer({ minimum: 0 }),
    size: Type.Integer({ minimum: 0 }),
    mtimeMs: Type.Number(),
    atimeMs: Type.Number(),
    target: Type.Optional(Type.String()),
    sha256: Type.Optional(Type.String()),
    /**
     * Identity (st_dev, st_ino) and link count. Optional: ledgers written before they were
     * recorded lack them, and such entries are handled conservatively (see safe-fs.ts).
     */
    dev: Type.Optional(Id),
    ino: Type.Optional(Id),
    nlink: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
export type FileFacts = Static<typeof FileFacts>;

/** Opening flags for reading a file the agent does not trust: never follow, never block. */
export const READ_UNTRUSTED = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

const missing = (error: unknown) =>
  (error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR';

export async function lexists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if (missing(error)) return false;
    throw error;
  }
}

/** The identity of a stat result, as recorded in FileFacts. */
export function identityOf(info: BigIntStats | Stats): { dev: string; ino: string } {
  return { dev: String(info.dev), ino: String(info.ino) };
}

/** Whether two stat results or facts name the same object (false when either lacks identity). */
export function sameIdentity(a: { dev?: string; ino?: string }, b: { dev?: string; ino?: string }): boolean {
  return a.dev !== undefined && a.ino !== undefined && a.dev === b.dev && a.ino === b.ino;
}

/**
 * Largest file whose digest is taken (bytes): a tool's native binary is a few hundred MB. A larger
 * file gets no digest, so it is never taken for a copy of another (sameContent): a user's 20 GB
 * sparse "launcher" would otherwise hold the root agent for minutes every cycle.
 */
export const MAX_HASHED_BYTES = 1024 * 1024 * 1024;
/**
 * Bytes hashed per file owner per hashing window (see startHashingWindow) before that owner's
 * further files get no digest: one user's files cannot spend another's share.
 */
export const HASHED_BYTES_PER_WINDOW = 4 * 1024 * 1024 * 1024;
/** Digests kept by file stamp (device, inode, size, mtime, ctime), at most this many. */
const MAX_KEPT_DIGESTS = 4096;
const keptDigests = new Map<string, string>();
/** Bytes hashed this window, per owner uid. */
const hashedBy = new Map<bigint, number>();

/**
 * Starts a new hashing window (one reconcile): each owner's files read for their digest from now
 * on may come to HASHED_BYTES_PER_WINDOW bytes; digests kept from earlier windows cost nothing.
 */
export function startHashingWindow(): void {
  hashedBy.clear();
}

/**
 * SHA-256 of the regular file at `path`, read through a handle that was checked with fstat to be
 * a regular file (and, when `expect` is given, the same dev+ino as a preceding lstat). Undefined
 * (no digest: "cannot tell") for a file over MAX_HASHED_BYTES or beyond the window's bytes; a
 * digest is kept while the file's stamp holds, so an unchanged file is read once.
 */
async function sha256File(path: string, expect?: { dev: string; ino: string }): Promise<string | undefined> {
  const handle = await open(path, READ_UNTRUSTED);
  try {
    const info = await handle.stat({ bigint: true });
    if (!info.isFile()) throw new Error(`${path} is not a regular file`);
    if (expect && !sameIdentity(identityOf(info), expect)) throw new Error(`${path} was replaced while it was read`);
    const stamp = `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`;
    const kept = keptDigests.get(stamp);
    if (kept !== undefined) return kept;
    const size = Number(info.size);
    const spent = hashedBy.get(info.uid) ?? 0;
    if (size > MAX_HASHED_BYTES || spent + size > HASHED_BYTES_PER_WINDOW) return undefined;
    hashedBy.set(info.uid, spent + size);
    const hash = createHash('sha256');
    let read = 0;
    for await (const chunk of handle.createReadStream({ autoClose: false })) {
      read += (chunk as Buffer).length;
      // Grown while read: what was read is not the file that was stamped.
      if (read > size) return undefined;
      hash.update(chunk as Buffer);
    }
    const digest = hash.digest('hex');
    if (keptDigests.size >= MAX_KEPT_DIGESTS) keptDigests.delete(keptDigests.keys().next().value!);
    keptDigests.set(stamp, digest);
    return digest;
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** Facts about `path` (not following a symlink), or null if nothing is there. Never throws for a special file. */
export async function captureFacts(path: string): Promise<FileFacts | null> {
  let info;
  try {
    info = await lstat(path, { bigint: true });
  } catch (error) {
    if (missing(error)) return null;
    throw error;
  }
  const base = {
    mode: Number(info.mode & 0o7777n),
    uid: Number(info.uid),
    gid: Number(info.gid),
    size: Number(info.size),
    mtimeMs: Number(info.mtimeNs) / 1e6,
    atimeMs: Number(info.atimeNs) / 1e6,
    ...identityOf(info),
    nlink: Number(info.nlink),
  };
  if (info.isSymbolicLink()) return { kind: 'symlink', ...base, target: await readlink(path) };
  if (info.isDirectory()) return { kind: 'dir', ...base };
  if (info.isFile()) {
    const sha256 = await sha256File(path, base);
    return sha256 === undefined ? { kind: 'file', ...base } : { kind: 'file', ...base, sha256 };
  }
  return { kind: 'other', ...base };
}

/**
 * Whether `now` is the recorded object `recorded` as it was: the same content (sameContent), and
 * the same device+inode when recorded. A file without a digest (too large to hash, or over its
 * owner's share this window) counts when it is the same object with the same size and mtime,
 * kind, mode and owner: the file the agent set aside, unchanged as far as can be told (a user
 * who rewrites their own file and resets its mtime gets their own bytes back).
 */
export function sameAsRecorded(now: FileFacts, recorded: FileFacts): boolean {
  const identity = recorded.dev === undefined || recorded.ino === undefined || sameIdentity(now, recorded);
  if (sameContent(now, recorded)) return identity;
  return (
    now.kind === 'file' &&
    recorded.kind === 'file' &&
    (now.sha256 === undefined || recorded.sha256 === undefined) &&
    recorded.dev !== undefined &&
    identity &&
    now.size === recorded.size &&
    // The agent puts back mtimes through utimes (seconds as a double): equal to a microsecond.
    Math.abs(now.mtimeMs - recorded.mtimeMs) < 0.002 &&
    now.mode === recorded.mode &&
    now.uid === recorded.uid &&
    now.gid === recorded.gid
  );
}

/**
 * Same content (hash or link target), kind, mode and owner: what "byte-identical" means here. A
 * file without a digest (too large to hash, see MAX_HASHED_BYTES) is the same as nothing.
 */
export function sameContent(a: FileFacts, b: FileFacts): boolean {
  return (
    a.kind === b.kind &&
    (a.kind !== 'file' || (a.sha256 !== undefined && b.sha256 !== undefined)) &&
    a.target === b.target &&
    a.sha256 === b.sha256 &&
    a.mode === b.mode &&
    a.uid === b.uid &&
    a.gid === b.gid
  );
}

/** Entries linksOf reads across its folders before it gives up (an install holds a few thousand). */
const MAX_LINK_SEARCH_ENTRIES = 50_000;

const PROC_FD = process.platform === 'linux';
export const OPEN_DIR_NOFOLLOW = constants.O_RDONLY | (constants.O_DIRECTORY ?? 0) | (constants.O_NOFOLLOW ?? 0);

/**
 * The paths, inside `folders` (each walked whole; missing ones, and ones that are not real
 * folders, skipped), of regular files with the identity (device and inode) of `facts`; null when
 * `facts` has none, a folder cannot be read, or the folders hold more than
 * MAX_LINK_SEARCH_ENTRIES entries. For the other names of a file with several hard links (plan.ts
 * sharedNames). No link is followed, also where the folders' owner swaps one in meanwhile: each
 * folder is opened by `openFolder` (the engine's: through its parent as the safety walk pins it,
 * so no folder above it is followed either), without following links, and read through its
 * handle (/proc/self/fd) on Linux; elsewhere only folders owned by root with mode 000 (locked
 * quarantines, which no user can change) are read, by path.
 */
export async function linksOf(
  facts: FileFacts,
  folders: readonly string[],
  openFolder: (folder: string) => Promise<FileHandle> = (folder) => open(folder, OPEN_DIR_NOFOLLOW),
): Promise<string[] | null> {
  if (facts.dev === undefined || facts.ino === undefined) return null;
  const found: string[] = [];
  const seen = { entries: 0 };
  for (const folder of folders) {
    const ok = await searchFolder(folder, null, folder, false, facts, found, seen, openFolder);
    if (!ok) return null;
  }
  return found;
}

/**
 * linksOf in one folder `name` (of the held folder `parent`, or a path when null), reported as
 * `shown`; `inLocked`: it lies in a locked quarantine (off Linux). False when it cannot be told.
 */
async function searchFolder(
  name: string,
  parent: FileHandle | null,
  shown: string,
  inLocked: boolean,
  facts: FileFacts,
  found: string[],
  seen: { entries: number },
  openFolder: (folder: string) => Promise<FileHandle>,
): Promise<boolean> {
  let handle: FileHandle;
  try {
    handle = parent ? await open(`/proc/self/fd/${parent.fd}/${name}`, OPEN_DIR_NOFOLLOW) : await openFolder(name);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Missing, or a link or a file in its place: nothing of the install's lies there.
    return missing(error) || code === 'ELOOP' || code === 'ENOTDIR';
  }
  try {
    const info = await handle.stat({ bigint: true });
    if (!info.isDirectory()) return true;
    const locked = info.uid === 0n && (info.mode & 0o7777n) === 0n;
    if (!PROC_FD && !inLocked && !locked) return true;
    const base = PROC_FD ? `/proc/self/fd/${handle.fd}` : shown;
    // Read as it goes (opendir), not whole: a folder of millions of names stops at the cap.
    for await (const entry of await opendir(base, { bufferSize: 64 })) {
      if (++seen.entries > MAX_LINK_SEARCH_ENTRIES) return false;
      const path = `${shown}/${entry.name}`;
      if (entry.isDirectory()) {
        const at = PROC_FD ? entry.name : path;
        const sub = PROC_FD ? handle : null;
        if (!(await searchFolder(at, sub, path, true, facts, found, seen, openFolder))) return false;
      } else if (entry.isFile()) {
        const other = await lstat(`${base}/${entry.name}`, { bigint: true }).catch(() => null);
        if (other?.isFile() && sameIdentity(identityOf(other), facts)) found.push(path);
      }
    }
    return true;
  } catch {
    return false;
  } finally {
    await handle.close().catch(() => undefined);
  }
}
