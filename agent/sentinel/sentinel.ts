/**
 * The sentinel: notices processes as they start and stops those running a blocked tool's code,
 * wherever the code lives and however it was started. Linux: polls /proc (see
 * docs/sentinel.md for why polling and not the netlink process connector or fanotify).
 *
 * Each tick lists /proc; a pid not seen on the previous tick is read and identified. A process
 * identified as a tool is passed to `isBlocked`; if blocked it is stopped under the safety rules
 * (stop.ts) and reported through `onMatch`. Because a fork is seen before its exec, a new pid is
 * looked at again on the next few ticks; and every `sweepMs` all processes whose executable
 * changed since they were last read are read again (an exec long after the fork).
 */
import * as fs from 'node:fs';

import type { CatalogIndex } from '../../policies/catalog/index.js';
import { parseProcCmdline } from '../inventory/parse/processes.js';
import type { FingerprintStore } from './fingerprints.js';
import { identifyProcess, type ProcessMatch } from './identify.js';
import { listPids, type ProcessStart, readProcess } from './proc.js';
import { stopMatched, type StopOutcome } from './stop.js';

export interface SentinelOptions {
  catalog: CatalogIndex;
  fingerprints?: FingerprintStore;
  /** Whether this tool at this version is blocked now (the daemon answers from its verdicts). */
  isBlocked(toolId: string, version: string | null, match: ProcessMatch): boolean;
  /** The block notice shown on the process's terminal, or null. */
  noticeFor?(match: ProcessMatch): string | null;
  /** Called for every blocked process found, with what the stop did. */
  onMatch(match: ProcessMatch, outcome: StopOutcome): void;
  /** Called when something goes wrong in a tick (never throws out of the loop). */
  onError?(error: unknown): void;
  /** Poll period in ms (default 250: p99 start-to-stop well under 1 s, see README.md). */
  intervalMs?: number;
  /** Period of the full re-read of processes that exec'd since first seen, in ms (default 2000). */
  sweepMs?: number;
  /** Stop matched processes (default true); false only reports. */
  stop?: boolean;
  procRoot?: string;
}

export interface SentinelStats {
  ticks: number;
  processesRead: number;
  matches: number;
  stopped: number;
}

/** How many ticks a new pid is looked at again (covers fork-then-exec). */
const LOOK_AGAIN_TICKS = 3;

export class Sentinel {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private known = new Map<number, Seen>();
  private lastSweep = 0;
  private readonly protectedPids = new Set([process.pid, process.ppid]);
  readonly stats: SentinelStats = { ticks: 0, processesRead: 0, matches: 0, stopped: 0 };

  constructor(private readonly options: SentinelOptions) {}

  /** Starts polling; the first tick reads every process already running. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.lastSweep = Date.now();
    void this.loop();
  }

  /** Stops polling (an in-flight tick finishes). */
  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** One tick: exposed for tests and the benchmark. */
  async tick(): Promise<void> {
    const procRoot = this.options.procRoot ?? '/proc';
    this.stats.ticks++;
    const pids = listPids(procRoot);
    const next = new Map<number, Seen>();
    const sweep = Date.now() - this.lastSweep >= (this.options.sweepMs ?? 2000);
    if (sweep) this.lastSweep = Date.now();
    const toRead: number[] = [];
    for (const pid of pids) {
      const seen = this.known.get(pid);
      if (!seen) {
        toRead.push(pid);
        continue;
      }
      next.set(pid, seen);
      if (seen.matched) continue;
      if (seen.looksLeft > 0) {
        // Only a changed executable or command line (the exec after a fork) is worth a full read.
        seen.looksLeft--;
        if (readSignature(procRoot, pid) !== seen.signature) toRead.push(pid);
      } else if (sweep && readExe(procRoot, pid) !== seen.exe) {
        toRead.push(pid);
      }
    }
    this.known = next;
    for (const pid of toRead) {
      const info = readProcess(pid, procRoot);
      if (!info) continue;
      this.stats.processesRead++;
      const prior = this.known.get(pid);
      const entry: Seen = {
        exe: info.exe,
        signature: signatureOf(info.exe, info.argv),
        looksLeft: prior ? prior.looksLeft : LOOK_AGAIN_TICKS,
        matched: false,
      };
      this.known.set(pid, entry);
      entry.matched = await this.examine(info);
    }
  }

  private async examine(info: ProcessStart): Promise<boolean> {
    const match = await identifyProcess(info, this.options);
    if (!match || !this.options.isBlocked(match.toolId, match.version, match)) return false;
    this.stats.matches++;
    const outcome: StopOutcome =
      this.options.stop === false
        ? { stopped: false, reason: 'report only' }
        : stopMatched(match, {
            notice: this.options.noticeFor?.(match) ?? null,
            procRoot: this.options.procRoot,
            protectedPids: this.protectedPids,
          });
    if (outcome.stopped) this.stats.stopped++;
    this.options.onMatch(match, outcome);
    return true;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const started = Date.now();
      try {
        await this.tick();
      } catch (error) {
        this.options.onError?.(error);
      }
      if (!this.running) return;
      const wait = Math.max(0, (this.options.intervalMs ?? 250) - (Date.now() - started));
      await new Promise<void>((resolve) => {
        this.timer = setTimeout(resolve, wait);
        this.timer.unref?.();
      });
    }
  }
}

interface Seen {
  exe: string | null;
  /** Executable and the start of argv: what an exec changes. */
  signature: string;
  looksLeft: number;
  matched: boolean;
}

function signatureOf(exe: string | null, argv: readonly string[]): string {
  return `${exe ?? ''}\0${argv.slice(0, 3).join('\0').slice(0, 512)}`;
}

function readSignature(procRoot: string, pid: number): string | null {
  try {
    const argv = parseProcCmdline(fs.readFileSync(`${procRoot}/${pid}/cmdline`).subarray(0, 4096));
    return signatureOf(readExe(procRoot, pid), argv);
  } catch {
    return null;
  }
}

function readExe(procRoot: string, pid: number): string | null {
  try {
    return fs.readlinkSync(`${procRoot}/${pid}/exe`).replace(/ \(deleted\)$/, '');
  } catch {
    return null;
  }
}
