/**
 * Linux process facts from /proc, read without following anything a user controls: the
 * executable and working folder are kernel links read with readlink (and the executable's
 * identity with stat on the kernel's magic link, which names the very file the process runs,
 * not a path a user could swap); command line, status and stat are the kernel's own files.
 * /proc/<pid> itself is never a user's symlink (only `self` and `thread-self` are links, and
 * they are not numeric). Every read may fail (the process ended, or is hidden from us):
 * failures give null, never an exception.
 */
import * as fs from 'node:fs';

import type { ProcessInfo } from './processes.js';
import { readFully } from './read-fully.js';

const CMDLINE_MAX = 64 * 1024;
/**
 * One buffer for every /proc read: the kernel reports these files' size as 0, so readFileSync
 * would allocate a fresh 64 KiB buffer per read (four reads per process, every listing), which
 * is most of a listing's cost and memory. Each read is turned into a string or copied before the
 * next.
 */
const buffer = Buffer.allocUnsafe(CMDLINE_MAX);

/** The first CMDLINE_MAX bytes of a /proc file, as a view of the shared buffer (valid until the next read). */
function readProcFile(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    return readFully(fd, buffer, null);
  } finally {
    fs.closeSync(fd);
  }
}

/** /proc/<pid>/cmdline: NUL-separated argv (a trailing NUL ends the last one). */
export function parseProcCmdline(bytes: Uint8Array): string[] {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  const args = text.split('\0');
  if (args[args.length - 1] === '') args.pop();
  return args;
}

/**
 * /proc/<pid>/stat: start time (field 22, clock ticks since boot), parent pid (field 4) and the
 * image key (see ProcessInfo.imageKey: fields 48 and 51, the start of the argument area and the
 * end of the environment area, shown only to a reader allowed to trace the process, else 0).
 * The command name (field 2) is in parentheses and may itself hold spaces and parentheses, so the
 * fields are counted from the last `)`.
 */
export function parseProcStat(text: string): { startTicks: number; ppid: number; imageKey: string | null } | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const fields = text.slice(close + 2).split(' ');
  const startTicks = Number(fields[19]);
  const ppid = Number(fields[1]);
  if (!Number.isSafeInteger(startTicks) || !Number.isSafeInteger(ppid)) return null;
  const argStart = fields[45];
  const envEnd = fields[48];
  const imageKey =
    argStart && envEnd && /^\d+$/.test(argStart) && /^\d+$/.test(envEnd) && argStart !== '0' && envEnd !== '0'
      ? `${argStart}-${envEnd}`
      : null;
  return { startTicks, ppid, imageKey };
}

/** /proc/<pid>/status: real and effective uid (the `Uid:` line: real, effective, saved, fs). */
export function parseProcStatus(text: string): { uid: number; euid: number } | null {
  const m = /^Uid:\s+(\d+)\s+(\d+)/m.exec(text);
  return m ? { uid: Number(m[1]), euid: Number(m[2]) } : null;
}

function readStat(base: string): ReturnType<typeof parseProcStat> {
  try {
    return parseProcStat(readProcFile(`${base}/stat`).toString('latin1'));
  } catch {
    return null;
  }
}

/** The executable's path (kernel link, ` (deleted)` removed), or null. */
export function readExe(procRoot: string, pid: number): string | null {
  return readLink(`${procRoot}/${pid}/exe`).target;
}

function readLink(p: string): { target: string | null; denied: boolean } {
  try {
    return { target: fs.readlinkSync(p).replace(/ \(deleted\)$/, ''), denied: false };
  } catch (error) {
    return { target: null, denied: (error as NodeJS.ErrnoException).code === 'EACCES' };
  }
}

/**
 * Reads one process; null when it has gone or its fields could mix two processes. The reads are
 * not atomic: if the pid ended and was reused meanwhile, the fields could be one's executable and
 * the other's owner, and a start-time check before a signal would then pass for the wrong one. So
 * the start time (and the image key, which an exec changes) is read first and again last, and the
 * entry is dropped when it changed (the next listing sees the new process whole). `exeId` also stats the executable (one more system call).
 */
export function readProcFs(
  pid: number,
  procRoot: string,
  exeId: boolean,
): { info: ProcessInfo; exeDenied: boolean } | null {
  const base = `${procRoot}/${pid}`;
  const stat = readStat(base);
  if (!stat) return null;
  let argv: string[];
  try {
    argv = parseProcCmdline(readProcFile(`${base}/cmdline`));
  } catch {
    return null;
  }
  let uids: { uid: number; euid: number } | null = null;
  try {
    uids = parseProcStatus(readProcFile(`${base}/status`).toString('latin1'));
  } catch {
    // gone meanwhile: the start-time check below drops it
  }
  const exe = readLink(`${base}/exe`);
  const cwd = readLink(`${base}/cwd`).target;
  let id: ProcessInfo['exeId'] = null;
  if (exeId && exe.target !== null) {
    try {
      const st = fs.statSync(`${base}/exe`, { bigint: true });
      id = { dev: String(st.dev), ino: String(st.ino) };
    } catch {
      // unknown identity: never matched as a kept original
    }
  }
  // An exec meanwhile (the image key moved) could mix two programs' facts: dropped too.
  const last = readStat(base);
  if (last?.startTicks !== stat.startTicks || last.imageKey !== stat.imageKey) return null;
  return {
    info: {
      pid,
      ppid: stat.ppid,
      uid: uids?.uid ?? null,
      euid: uids?.euid ?? null,
      exe: exe.target,
      exeId: id,
      argv,
      cwd,
      startTicks: stat.startTicks,
      imageKey: last.imageKey !== null && id !== null ? `${last.imageKey}:${id.dev}:${id.ino}` : null,
    },
    exeDenied: exe.denied,
  };
}

/** Numeric entries of /proc (process ids; threads are not listed there). */
export function listPids(procRoot = '/proc'): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync(procRoot)) {
    const c = name.charCodeAt(0);
    if (c >= 48 && c <= 57) out.push(Number(name));
  }
  return out;
}
