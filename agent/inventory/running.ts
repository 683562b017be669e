/**
 * Which instances are running now, from the host's process list (agent/host/processes.ts: Linux
 * /proc, macOS `ps`, Windows the CIM process list). A process belongs to an instance when its
 * executable or one of its first arguments (the script a runtime such as node runs) is one of the
 * instance's launchers or lies inside its install path. Found binaries are never run.
 */
import * as path from 'node:path';

import type { ToolInstance } from '../../policies/inventory.js';
import { listProcesses as listHostProcesses, programPaths } from '../host/processes.js';
import type { ScanContext } from './context.js';

/** A process reduced to what names its program: the absolute paths among its executable and first arguments. */
export interface RunningProcess {
  pid: number;
  paths: string[];
}

/** The running processes with their program paths; an unreadable list is recorded as skipped. */
export async function listProcesses(ctx: Pick<ScanContext, 'skip'>): Promise<RunningProcess[]> {
  try {
    const { processes, exeDenied } = await listHostProcesses();
    if (exeDenied > 0)
      ctx.skip(
        '/proc',
        `permission denied (the executables of ${exeDenied} processes; matched by command line instead)`,
      );
    return processes.map((info) => ({ pid: info.pid, paths: programPaths(info) })).filter((p) => p.paths.length > 0);
  } catch (error) {
    ctx.skip('process list', `cannot list processes (${error instanceof Error ? error.message : String(error)})`);
    return [];
  }
}

/**
 * Marks instances with the processes that run them (`running`, `pids`). Pure given the process
 * list and a realpath function, so it is tested with made-up process lists too.
 */
export function markRunning(
  instances: ToolInstance[],
  processes: readonly RunningProcess[],
  realpath: (p: string) => string | null,
): void {
  const byPath = new Map<string, ToolInstance[]>();
  const byLauncher = new Map<string, ToolInstance[]>();
  const push = (map: Map<string, ToolInstance[]>, key: string, instance: ToolInstance) => {
    const list = map.get(key);
    if (list) list.push(instance);
    else map.set(key, [instance]);
  };
  for (const instance of instances) {
    instance.running = false;
    delete instance.pids;
    push(byPath, instance.installPath, instance);
    for (const launcher of instance.launchers) push(byLauncher, launcher, instance);
  }
  const owners = (p: string): ToolInstance[] => {
    const direct = byLauncher.get(p);
    if (direct) return direct;
    for (let dir = p; ; dir = path.dirname(dir)) {
      const hit = byPath.get(dir);
      if (hit) return hit;
      if (path.dirname(dir) === dir) return [];
    }
  };
  for (const proc of processes) {
    const hits = new Set<ToolInstance>();
    for (const raw of proc.paths) {
      for (const candidate of new Set([raw, realpath(raw) ?? raw]))
        for (const instance of owners(candidate)) hits.add(instance);
    }
    for (const instance of hits) {
      instance.running = true;
      instance.pids = [...(instance.pids ?? []), proc.pid].sort((a, b) => a - b);
    }
  }
}
