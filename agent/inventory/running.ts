/**
 * Which instances are running now. Linux: /proc/<pid>/exe and cmdline. macOS: `ps`. Windows:
 * PowerShell's Win32_Process list. A process belongs to an instance when its executable or one
 * of its first arguments (the script a runtime such as node runs) is one of the instance's
 * launchers or lies inside its install path. These are system tools; found binaries are never run.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { ToolInstance } from '../../policies/inventory.js';
import type { ScanContext } from './context.js';
import { hostPlatform } from './context.js';
import {
  argvPaths,
  parseProcCmdline,
  parsePsComm,
  parseWindowsProcesses,
  type ProcessInfo,
} from './parse/processes.js';

const LIST_TIMEOUT_MS = 5000;
const MAX_PROCESSES = 100_000;

export async function listProcesses(ctx: Pick<ScanContext, 'skip'>): Promise<ProcessInfo[]> {
  try {
    switch (hostPlatform()) {
      case 'linux':
        return listProc(ctx);
      case 'darwin':
        return await listPs();
      case 'windows':
        return parseWindowsProcesses(
          await run('powershell.exe', [
            '-NoProfile',
            '-NonInteractive',
            '-Command',
            'Get-CimInstance Win32_Process | Select-Object ProcessId,ExecutablePath,CommandLine | ConvertTo-Json -Compress',
          ]),
        );
    }
  } catch (error) {
    ctx.skip('process list', `cannot list processes (${error instanceof Error ? error.message : String(error)})`);
    return [];
  }
}

function listProc(ctx: Pick<ScanContext, 'skip'>): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  let denied = 0;
  const pids = fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .slice(0, MAX_PROCESSES);
  for (const pid of pids) {
    const paths: string[] = [];
    try {
      paths.push(fs.readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, ''));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EACCES') denied++;
    }
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`);
      paths.push(...argvPaths(parseProcCmdline(cmdline.subarray(0, 64 * 1024)), path.posix.isAbsolute));
    } catch {
      // the process ended while we looked
    }
    if (paths.length) out.push({ pid: Number(pid), paths: [...new Set(paths)] });
  }
  if (denied > 0)
    ctx.skip('/proc', `permission denied (the executables of ${denied} processes; matched by command line instead)`);
  return out;
}

async function listPs(): Promise<ProcessInfo[]> {
  const [comm, args] = await Promise.all([
    run('ps', ['-axww', '-o', 'pid=,comm=']),
    run('ps', ['-axww', '-o', 'pid=,args=']),
  ]);
  const byPid = new Map<number, Set<string>>();
  for (const { pid, command } of parsePsComm(comm)) if (command.startsWith('/')) byPid.set(pid, new Set([command]));
  for (const { pid, command } of parsePsComm(args)) {
    const set = byPid.get(pid) ?? new Set<string>();
    for (const p of argvPaths(command.split(/\s+/), path.posix.isAbsolute)) set.add(p);
    if (set.size) byPid.set(pid, set);
  }
  return [...byPid].map(([pid, paths]) => ({ pid, paths: [...paths] }));
}

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { timeout: LIST_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024, windowsHide: true, encoding: 'utf8' },
      (error, stdout) => {
        if (error) reject(error);
        else resolve(stdout);
      },
    );
  });
}

/**
 * Marks instances with the processes that run them (`running`, `pids`). Pure given the process
 * list and a realpath function, so it is tested with made-up process lists too.
 */
export function markRunning(
  instances: ToolInstance[],
  processes: readonly ProcessInfo[],
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
