/**
 * Reading files in users' trees as root without being turned: open with O_NOFOLLOW|O_NONBLOCK
 * (a FIFO or a symlink swapped in never blocks or redirects the read), check the opened handle is
 * a regular file of bounded size, read through the handle. SHA-256 of a file is computed through
 * one handle too and cached by device+inode+size+mtime.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';

import { readFully } from '../host/read-fully.js';
import { contentKey, OPEN_FLAGS } from '../inventory/content.js';
import { StampCache } from '../inventory/memo.js';

/** A regular file's text, at most `maxBytes`; null if absent, special, too large or unreadable. */
export function readRegularFile(p: string, maxBytes: number): { text: string; stat: fs.Stats } | null {
  let fd: number;
  try {
    fd = fs.openSync(p, OPEN_FLAGS);
  } catch {
    return null;
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile() || stat.size > maxBytes) return null;
    return { text: readFully(fd, Buffer.alloc(stat.size), 0).toString('utf8'), stat };
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

const hashCache = new StampCache<{ sha256: string; native: boolean }>(10_000);

/** ELF, Mach-O (32/64-bit, either byte order, universal) and PE (`MZ`) headers: a native executable. */
function isNativeHeader(head: Buffer): boolean {
  if (head.length >= 4) {
    const magic = head.readUInt32BE(0);
    if ([0x7f454c46, 0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe, 0xcafebabe].includes(magic)) return true;
  }
  return head.length >= 2 && head[0] === 0x4d && head[1] === 0x5a;
}

/**
 * SHA-256 (hex) of a regular file, read through one O_NOFOLLOW handle, and whether it starts
 * like a native executable (ELF, Mach-O, PE); cached by contentKey (StampCache: not when changed
 * in the last seconds, and read again after a while) so a 400 MB native binary is hashed once per
 * change. Null when the path is not a regular file or cannot be read.
 */
export async function sha256File(
  p: string,
): Promise<{ sha256: string; size: number; key: string; native: boolean } | null> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(p, OPEN_FLAGS);
  } catch {
    return null;
  }
  try {
    const stat = await handle.stat({ bigint: true });
    if (!stat.isFile()) return null;
    const key = contentKey(stat);
    const cached = hashCache.get(key);
    if (cached) return { ...cached, size: Number(stat.size), key };
    const hash = createHash('sha256');
    const buf = Buffer.alloc(1024 * 1024);
    let native = false;
    for (let pos = 0; ;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      if (pos === 0) native = isNativeHeader(buf.subarray(0, Math.min(bytesRead, 4)));
      hash.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    const sha256 = hash.digest('hex');
    hashCache.set(key, { sha256, native }, stat);
    return { sha256, native, size: Number(stat.size), key };
  } catch {
    return null;
  } finally {
    await handle.close();
  }
}
