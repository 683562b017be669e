/**
 * The sentinel's view of one process: the host's process facts (agent/host/processes.ts), read
 * from /proc on Linux (or a test's `procRoot`), from `ps` on macOS and the CIM list on Windows;
 * and, on Linux, the script a runtime runs as that process sees it (its own file descriptors, its
 * own mount namespace and root), not as the sentinel would see the same text.
 */
import * as fs from 'node:fs';

import { type ProcessInfo, readProcess as readHostProcess } from '../host/processes.js';
import { scriptArgument } from './identify.js';

export { listPids } from '../host/proc-fs.js';

/** What the sentinel knows about one process (see ProcessInfo: uid is the real uid, startTicks tells a reused pid apart). */
export type ProcessStart = ProcessInfo;

/** Reads one process with its image key (ProcessInfo.imageKey); null when it has already gone. */
export function readProcess(pid: number, procRoot = '/proc'): ProcessStart | null {
  return readHostProcess(pid, procRoot === '/proc' ? { exeId: true } : { procRoot, exeId: true });
}

/** A script path that names one of the process's own descriptors (`node /dev/fd/3 3< cli.js`). */
const OWN_FD = /^\/(?:dev\/fd|proc\/self\/fd|proc\/thread-self\/fd)\/(\d{1,9})$/;
const STD_STREAMS: Record<string, number> = { '/dev/stdin': 0, '/dev/stdout': 1, '/dev/stderr': 2 };
/** Symbolic links followed while resolving one path (the kernel's own limit is 40). */
const MAX_LINKS = 40;

/**
 * The script a Linux process runs, resolved as the process itself sees it, for identifyProcess:
 *
 * - `undefined`: nothing special, the path means the same to the sentinel (same mount namespace
 *   and root, not a descriptor): identify it as usual;
 * - a path: the resolved script, to be used as is. A descriptor path (`/dev/fd/N`,
 *   `/proc/self/fd/N`, `/dev/stdin`) is the process's own descriptor N, read through
 *   `/proc/<pid>/fd/N`; a process in another mount namespace or root (`unshare -m`, a chroot) has
 *   its path resolved under `/proc/<pid>/root` (a relative one from its cwd), link by link, with
 *   absolute link targets and `..` kept inside that root. For a descriptor, the file found must be
 *   the open file itself (same device+inode), else null;
 * - `null`: there is a script but it cannot be resolved safely (deleted, a pipe, a closed
 *   descriptor, a broken link): the script is not a candidate.
 *
 * Read-only: the result is only looked at (lstat, read) to identify the code; stopping is by pid,
 * start time and image key (stop.ts).
 */
export function processScript(info: ProcessStart, procRoot = '/proc'): string | null | undefined {
  // A relative script is taken from the process's cwd as the kernel names it (identify does the same).
  const raw = scriptArgument(info.argv, info.cwd?.startsWith('/') ? info.cwd : null);
  if (raw === null) return undefined;
  const base = `${procRoot}/${info.pid}`;
  const fdMatch = OWN_FD.exec(raw);
  const fdNum = fdMatch ? Number(fdMatch[1]) : STD_STREAMS[raw];
  // Unknown (the namespace links are not readable, not root): the path is taken as the sentinel sees it, as before.
  const sameView = sameRootAsOurs(base) ?? true;
  if (fdNum === undefined) {
    return sameView ? undefined : resolveInRoot(`${base}/root`, raw);
  }
  // The process's own descriptor: the kernel's link names the file as the process saw it.
  const fdLink = `${base}/fd/${fdNum}`;
  const target = readLink(fdLink);
  if (!target?.startsWith('/') || target.endsWith(' (deleted)')) return null;
  let open: fs.Stats;
  try {
    open = fs.statSync(fdLink);
  } catch {
    return null;
  }
  if (!open.isFile()) return null;
  const found = sameView ? realpathOrNull(target) : resolveInRoot(`${base}/root`, target);
  if (!found) return null;
  try {
    const st = fs.statSync(found);
    return st.dev === open.dev && st.ino === open.ino ? found : null;
  } catch {
    return null;
  }
}

let ours: { mnt: string | null; root: fs.Stats | null } | null = null;

/** Whether the process at `base` sees the same mount namespace and root as the sentinel; null when unknown. */
function sameRootAsOurs(base: string): boolean | null {
  ours ??= { mnt: readLink('/proc/self/ns/mnt'), root: statOrNull('/') };
  const mnt = readLink(`${base}/ns/mnt`);
  const root = statOrNull(`${base}/root`);
  if (!ours.mnt || !ours.root || !mnt || !root) return null;
  return mnt === ours.mnt && root.dev === ours.root.dev && root.ino === ours.root.ino;
}

/**
 * `target` (absolute, as the process sees it) resolved under `rootDir` (its `/proc/<pid>/root`),
 * one component at a time: a symbolic link is read and followed by hand, an absolute target
 * starting again at `rootDir` and `..` never going above it, so the kernel never follows a user's
 * link on the way (which would resolve an absolute target in the sentinel's own namespace).
 * Returns `rootDir` + the real path, or null (missing, too many links).
 */
export function resolveInRoot(rootDir: string, target: string): string | null {
  const done: string[] = [];
  let todo = target.split('/');
  let links = 0;
  while (todo.length > 0) {
    const part = todo.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const here = `${rootDir}/${[...done, part].join('/')}`;
    let st: fs.Stats;
    try {
      st = fs.lstatSync(here);
    } catch {
      return null;
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_LINKS) return null;
      const link = readLink(here);
      if (link === null) return null;
      if (link.startsWith('/')) done.length = 0;
      todo = [...link.split('/'), ...todo];
      continue;
    }
    done.push(part);
  }
  return `${rootDir}/${done.join('/')}`;
}

function readLink(p: string): string | null {
  try {
    return fs.readlinkSync(p);
  } catch {
    return null;
  }
}

function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.statSync(p);
  } catch {
    return null;
  }
}

/** The real path of `p` in the sentinel's own view, or null (missing, a loop). */
export function realpathOrNull(p: string): string | null {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return null;
  }
}
