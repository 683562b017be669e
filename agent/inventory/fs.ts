/**
 * The only module of the inventory that touches the disk. Every read is bounded (entries per
 * directory, bytes per file), never follows into FIFOs or devices, and turns each failure into a
 * recorded skip (path + reason) rather than an exception. Missing files are simply absent.
 *
 * Calls are synchronous on purpose: a scan reads thousands of tiny files, and synchronous reads
 * are several times faster than the thread-pool round trips of fs/promises. The scanners yield to
 * the event loop between directories (ScanContext.breathe), so a daemon stays responsive.
 */
import * as fs from 'node:fs';
import { decodeText } from './parse/text.js';

/**
 * `dir` + separator + `name`, for names read from a directory listing (never containing a
 * separator). path.join would normalise the whole path again; in a scan that is tens of
 * thousands of calls and most of the garbage.
 */
export function child(dir: string, name: string): string {
  return dir.endsWith(SEP) ? dir + name : dir + SEP + name;
}

const SEP = process.platform === 'win32' ? '\\' : '/';

export interface SkipLog {
  add(path: string, reason: string): void;
}

export interface DirEntry {
  name: string;
  /** From the directory listing: true for directories (not symlinks to them). */
  isDirectory: boolean;
  isSymbolicLink: boolean;
  isFile: boolean;
}

const NONBLOCK = (fs.constants as { O_NONBLOCK?: number }).O_NONBLOCK ?? 0;
const OPEN_FLAGS = fs.constants.O_RDONLY | NONBLOCK;
const NOFOLLOW = (fs.constants as { O_NOFOLLOW?: number }).O_NOFOLLOW ?? 0;
const CHUNK = 64 * 1024;

export class ScanFs {
  private readonly buffer = Buffer.allocUnsafe(CHUNK);
  private readonly realpaths = new Map<string, string | null>();

  constructor(
    private readonly skips: SkipLog,
    private readonly maxEntriesPerDir: number,
  ) {}

  /** A directory's entries, at most maxEntriesPerDir of them; null when it cannot be listed. */
  list(dir: string): DirEntry[] | null {
    let handle: fs.Dir;
    try {
      handle = fs.opendirSync(dir, { bufferSize: 256 });
    } catch (error) {
      this.fail(dir, error);
      return null;
    }
    const out: DirEntry[] = [];
    try {
      for (;;) {
        const entry = handle.readSync();
        if (!entry) break;
        if (out.length >= this.maxEntriesPerDir) {
          this.skips.add(dir, `more than ${this.maxEntriesPerDir} entries; read the first ${this.maxEntriesPerDir}`);
          break;
        }
        out.push({ name: entry.name, isDirectory: entry.isDirectory(), isSymbolicLink: entry.isSymbolicLink(), isFile: entry.isFile() });
      }
    } catch (error) {
      this.fail(dir, error);
    } finally {
      try {
        handle.closeSync();
      } catch {
        // already closed
      }
    }
    return out;
  }

  /** A regular file's bytes, at most maxBytes (else skipped as too large); null if unreadable. */
  readBytes(path: string, maxBytes: number): Buffer | null {
    const view = this.readView(path, maxBytes);
    return view === null ? null : Buffer.from(view);
  }

  /**
   * The file's bytes as a view that is only valid until the next read (the scan's shared buffer
   * for small files): no copy, and in the common case three system calls (open, read, close).
   */
  private readView(path: string, maxBytes: number): Buffer | null {
    return this.withFile(path, (fd) => {
      // Checked on the open handle before any read: a FIFO with a writer, a socket or a device
      // would otherwise hand over whatever it produces (or block).
      const stats = fs.fstatSync(fd);
      if (!stats.isFile()) {
        this.skips.add(path, 'not a regular file');
        return null;
      }
      const n = fs.readSync(fd, this.buffer, 0, CHUNK, 0);
      // A short read is the whole of a regular file; only a full buffer needs a closer look.
      if (n < CHUNK) {
        if (n > maxBytes) {
          this.skips.add(path, `too large (${n} bytes; limit ${maxBytes})`);
          return null;
        }
        return this.buffer.subarray(0, n);
      }
      if (stats.size > maxBytes) {
        this.skips.add(path, `too large (${stats.size} bytes; limit ${maxBytes})`);
        return null;
      }
      const out = Buffer.allocUnsafe(stats.size);
      let total = 0;
      while (total < out.length) {
        const read = fs.readSync(fd, out, total, out.length - total, total);
        if (read === 0) break;
        total += read;
      }
      return out.subarray(0, total);
    });
  }

  /** The first bytes of a file (for headers: METADATA, shims), never more than maxBytes. */
  readHead(path: string, maxBytes: number): Buffer | null {
    return this.withFile(path, (fd) => {
      const stats = fs.fstatSync(fd);
      if (!stats.isFile()) {
        this.skips.add(path, 'not a regular file');
        return null;
      }
      const out = Buffer.allocUnsafe(Math.min(maxBytes, stats.size));
      const n = fs.readSync(fd, out, 0, out.length, 0);
      return out.subarray(0, n);
    });
  }

  /** Opens `path`, runs `read` on it and closes it; any failure is recorded as a skip and gives null. */
  private withFile<T>(path: string, read: (fd: number) => T | null, extraFlags = 0): T | null {
    let fd: number;
    try {
      fd = fs.openSync(path, OPEN_FLAGS | extraFlags);
    } catch (error) {
      this.fail(path, error);
      return null;
    }
    try {
      return read(fd);
    } catch (error) {
      this.fail(path, error);
      return null;
    } finally {
      fs.closeSync(fd);
    }
  }

  readText(path: string, maxBytes: number): string | null {
    const bytes = this.readView(path, maxBytes);
    return bytes === null ? null : decodeText(bytes);
  }

  /**
   * A text file's content, only if it really lies where `accept` allows: its real path is checked
   * before opening, it is opened by that real path without following a symlink there
   * (O_NOFOLLOW), and on Linux the opened handle's own path (/proc/self/fd) is checked again, so
   * a symlink swapped in meanwhile can neither lead the read elsewhere nor make root open a
   * device. `refused` says why a file was not read.
   */
  readTextWhere(path: string, maxBytes: number, accept: (real: string) => boolean, refused: string): string | null {
    const real = this.realpath(path);
    if (real === null) return null;
    if (!accept(real)) {
      this.skips.add(path, refused);
      return null;
    }
    let outside = false;
    const bytes = this.withFile(
      real,
      (fd) => {
        if (process.platform === 'linux' && !accept(fs.readlinkSync(`/proc/self/fd/${fd}`))) {
          outside = true;
          return null;
        }
        const stats = fs.fstatSync(fd);
        if (!stats.isFile()) {
          this.skips.add(path, 'not a regular file');
          return null;
        }
        if (stats.size > maxBytes) {
          this.skips.add(path, `too large (${stats.size} bytes; limit ${maxBytes})`);
          return null;
        }
        const out = Buffer.allocUnsafe(stats.size);
        const n = fs.readSync(fd, out, 0, out.length, 0);
        return out.subarray(0, n);
      },
      NOFOLLOW,
    );
    if (outside) this.skips.add(path, refused);
    return bytes === null ? null : decodeText(bytes);
  }

  /** Reads `length` bytes at `position` of an open-able file (for zip archives). */
  readAt(path: string, position: number, length: number): Buffer | null {
    return this.withFile(path, (fd) => {
      if (!fs.fstatSync(fd).isFile()) {
        this.skips.add(path, 'not a regular file');
        return null;
      }
      const out = Buffer.allocUnsafe(length);
      const n = fs.readSync(fd, out, 0, length, position);
      return out.subarray(0, n);
    });
  }

  lstat(path: string): fs.Stats | null {
    try {
      return fs.lstatSync(path);
    } catch (error) {
      this.fail(path, error);
      return null;
    }
  }

  stat(path: string): fs.Stats | null {
    try {
      return fs.statSync(path);
    } catch (error) {
      this.fail(path, error);
      return null;
    }
  }

  isDirectory(path: string): boolean {
    return this.stat(path)?.isDirectory() ?? false;
  }

  isFile(path: string): boolean {
    return this.stat(path)?.isFile() ?? false;
  }

  /** The canonical path (symlinks resolved), cached; null for missing files, loops, denials. */
  realpath(path: string): string | null {
    const cached = this.realpaths.get(path);
    if (cached !== undefined) return cached;
    let real: string | null;
    try {
      real = fs.realpathSync.native(path);
    } catch (error) {
      this.fail(path, error);
      real = null;
    }
    this.realpaths.set(path, real);
    return real;
  }

  /** A symlink whose target does not exist (loops are reported by realpath as such). */
  isBrokenLink(path: string): boolean {
    try {
      if (!fs.lstatSync(path).isSymbolicLink()) return false;
    } catch {
      return false;
    }
    try {
      fs.statSync(path);
      return false;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ENOENT';
    }
  }

  readlink(path: string): string | null {
    try {
      return fs.readlinkSync(path);
    } catch (error) {
      this.fail(path, error);
      return null;
    }
  }

  /** Missing files are normal while probing layouts; everything else is worth reporting. */
  private fail(path: string, error: unknown): void {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return;
    this.skips.add(path, reasonFor(code, error));
  }
}

export function reasonFor(code: string | undefined, error: unknown): string {
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ELOOP':
      return 'symlink loop';
    case 'ENAMETOOLONG':
      return 'path too long';
    case 'EISDIR':
      return 'a directory where a file was expected';
    case 'ESPIPE':
    case 'EAGAIN':
    case 'ENXIO':
      // Pipes, sockets and devices: what a FIFO or socket named like a manifest gives.
      return 'not a regular file';
    case 'EIO':
      return 'I/O error';
    case 'EMFILE':
    case 'ENFILE':
      return 'too many open files';
    default:
      return code ? `cannot read (${code})` : `cannot read (${error instanceof Error ? error.message : String(error)})`;
  }
}
