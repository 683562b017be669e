/**
 * Linux process facts from /proc, read without following anything a user controls: the
 * executable and cwd are kernel links read with readlink, the command line and status are
 * read from the process's own /proc files. Every read may fail (the process ended, or it is
 * not ours to see); failures give null, never an exception.
 */
import * as fs from 'node:fs';

import { parseProcCmdline } from '../inventory/parse/processes.js';

/** What the sentinel knows about one process (Linux: read from /proc). */
export interface ProcessStart {
  pid: number;
  /** Real uid of the process, or null when unknown. */
  uid: number | null;
  /** Real path of the executable (`/proc/<pid>/exe`), or null (kernel thread, gone, denied). */
  exe: string | null;
  /** argv, at most 64 KiB of it. */
  argv: string[];
  /** Working directory (`/proc/<pid>/cwd`), for resolving a relative script argument. */
  cwd: string | null;
  /** Start time in clock ticks since boot (`/proc/<pid>/stat` field 22); tells a reused pid apart. */
  startTicks: number | null;
}

const CMDLINE_MAX = 64 * 1024;

/** Reads one process; null when it has already gone. */
export function readProcess(pid: number, procRoot = '/proc'): ProcessStart | null {
  const base = `${procRoot}/${pid}`;
  const startTicks = readStartTicks(base);
  if (startTicks === null) return null;
  let argv: string[] = [];
  try {
    const bytes = fs.readFileSync(`${base}/cmdline`);
    argv = parseProcCmdline(bytes.subarray(0, CMDLINE_MAX));
  } catch {
    return null;
  }
  return { pid, uid: readUid(base), exe: readLink(`${base}/exe`), argv, cwd: readLink(`${base}/cwd`), startTicks };
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised comm, which may hold spaces). */
export function readStartTicks(base: string): number | null {
  try {
    const stat = fs.readFileSync(`${base}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    return Number.isSafeInteger(ticks) ? ticks : null;
  } catch {
    return null;
  }
}

function readUid(base: string): number | null {
  try {
    const m = /^Uid:\s+(\d+)/m.exec(fs.readFileSync(`${base}/status`, 'latin1'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function readLink(p: string): string | null {
  try {
    return fs.readlinkSync(p).replace(/ \(deleted\)$/, '');
  } catch {
    return null;
  }
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
