/**
 * The sentinel's view of one process: the host's process facts (agent/host/processes.ts), read
 * from /proc on Linux (or a test's `procRoot`), from `ps` on macOS and the CIM list on Windows.
 */
import { type ProcessInfo, readProcess as readHostProcess } from '../host/processes.js';

export { listPids } from '../host/proc-fs.js';

/** What the sentinel knows about one process (see ProcessInfo: uid is the real uid, startTicks tells a reused pid apart). */
export type ProcessStart = ProcessInfo;

/** Reads one process; null when it has already gone. */
export function readProcess(pid: number, procRoot = '/proc'): ProcessStart | null {
  return readHostProcess(pid, procRoot === '/proc' ? {} : { procRoot });
}
