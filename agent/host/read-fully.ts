/** Reading a whole buffer's worth from an open file, however the kernel splits the reads. */
import * as fs from 'node:fs';

/**
 * Reads from `fd` into `buffer` until the buffer is full or the file ends, from byte `position`
 * on (null: from the file's current offset, for files such as /proc's whose size says nothing).
 * Returns the bytes read, a view of `buffer`. Throws what fs.readSync throws.
 */
export function readFully(fd: number, buffer: Buffer, position: number | null): Buffer {
  let total = 0;
  while (total < buffer.length) {
    const n = fs.readSync(fd, buffer, total, buffer.length - total, position === null ? null : position + total);
    if (n === 0) break;
    total += n;
  }
  return buffer.subarray(0, total);
}
