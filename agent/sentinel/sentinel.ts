/**
 * The sentinel: notices processes as they start and stops those running a blocked tool's code,
 * wherever the code lives and however it was started. Linux: polls /proc (see
 * docs/sentinel.md for why polling and not the netlink process connector or fanotify). macOS and
 * Windows: polls the host's process list (`ps`, the CIM list; agent/host/processes.ts) with the
 * same identification, stop and notice path; a full listing costs far more there, so the default
 * period is longer (POLL_MS).
 *
 * Each tick lists /proc; a pid not seen on the previous tick is read and identified. A process
 * identified as a tool is passed to `isBlocked`; if blocked it is stopped under the safety rules
 * (stop.ts) and reported through `onMatch`. Because a fork is seen before its exec, a new pid is
 * looked at again on the next few ticks; and every `sweepMs` all processes whose executable
 * changed since they were last read are read again (an exec long after the fork).
 *
 * Every catalogued tool process is remembered (pid, start time, image key -> what it runs) for as
 * long as it lives, allowed ones too, and asked about again on every tick: a ban that takes effect
 * later (a new policy, its start date passing) stops the sessions already running, even when
 * their command line no longer shows the script (Claude Code sets `process.title = 'claude'`).
 * With a `scope` (the daemon run with `--home`), only processes of those homes' owners or code
 * under the scope's roots are acted on.
 */
import * as fs from 'node:fs';

import type { CatalogIndex } from '../../policies/catalog/index.js';
import type { OsName } from '../../policies/schema.js';
import { hostOs } from '../host/os.js';
import { parseProcCmdline, readExe } from '../host/proc-fs.js';
import { listProcesses } from '../host/processes.js';
import type { FingerprintStore } from './fingerprints.js';
import { identifyProcess, type ProcessMatch } from './identify.js';
import { listPids, processScript, type ProcessStart, readProcess } from './proc.js';
import { stopMatched, type StopOutcome } from './stop.js';

/**
 * Where a tick's processes come from. `list` is called once per tick and gives the pids now
 * running; `signature` (the executable and the start of argv: what an exec changes) and `read`
 * are then asked about some of them during that tick.
 */
export interface ProcessSource {
  list(): Promise<number[]>;
  /** Cheap: tells whether the process exec'd since it was read. */
  signature(pid: number): string | null;
  /** The executable only (the periodic sweep), or null. */
  exe(pid: number): string | null;
  read(pid: number): ProcessStart | null;
  /**
   * The script as the process itself sees it (proc.ts processScript: its own descriptors, its
   * mount namespace); undefined when the command line means the same to the sentinel.
   */
  script?(info: ProcessStart): string | null | undefined;
}

/** Linux: /proc read per pid (only new or changed pids are read whole). */
function procSource(procRoot = '/proc'): ProcessSource {
  return {
    list: () => Promise.resolve(listPids(procRoot)),
    signature: (pid) => readSignature(procRoot, pid),
    exe: (pid) => readExe(procRoot, pid),
    read: (pid) => readProcess(pid, procRoot),
    script: (info) => processScript(info, procRoot),
  };
}

/**
 * macOS and Windows: one full listing per tick (`list` gives it; the others answer from it).
 * `fetch` is the host's listing by default; tests give it recorded `ps` or CIM output.
 */
export function snapshotSource(
  fetch: () => Promise<ProcessStart[]> = async () => (await listProcesses()).processes,
): ProcessSource {
  let byPid = new Map<number, ProcessStart>();
  return {
    list: async () => {
      byPid = new Map((await fetch()).map((p) => [p.pid, p]));
      return [...byPid.keys()];
    },
    signature: (pid) => {
      const p = byPid.get(pid);
      return p ? signatureOf(p.exe, p.argv) : null;
    },
    exe: (pid) => byPid.get(pid)?.exe ?? null,
    read: (pid) => byPid.get(pid) ?? null,
  };
}

/**
 * Where the sentinel may act (the daemon run with `--home`): processes whose real uid owns one of
 * the scope's homes (never root: a root-owned home in a test tree must not put every root process
 * in scope), or whose identified code lies under one of its roots (the homes, npm prefixes and
 * PATH folders named; real paths). Null or absent: the whole machine.
 */
export interface SentinelScope {
  uids: ReadonlySet<number>;
  roots: readonly string[];
}

/**
 * The scope of a daemon told to look at `homes` (and `roots`: npm prefixes, PATH folders): the
 * homes' owners (lstat, not followed; root left out) and the real paths of all of them. A folder
 * that does not exist is left out.
 */
export function sentinelScope(homes: readonly string[], roots: readonly string[]): SentinelScope {
  const uids = new Set<number>();
  for (const home of homes) {
    try {
      const st = fs.lstatSync(home);
      if (st.isDirectory() && st.uid !== 0) uids.add(st.uid);
    } catch {
      // not there: no owner
    }
  }
  const real = new Set<string>();
  for (const dir of [...homes, ...roots]) {
    try {
      real.add(fs.realpathSync.native(dir));
    } catch {
      // not there
    }
  }
  return { uids, roots: [...real] };
}

/** Whether a match lies within `scope` (see SentinelScope); always true without one. */
function inScope(scope: SentinelScope | null | undefined, match: ProcessMatch): boolean {
  if (!scope) return true;
  if (match.uid !== null && match.uid !== 0 && scope.uids.has(match.uid)) return true;
  const code = match.packageDir ?? match.file;
  return scope.roots.some((root) => code === root || code.startsWith(root.endsWith('/') ? root : `${root}/`));
}

/** Default poll period per OS, ms: /proc is cheap; `ps` and PowerShell start a process per listing. */
const POLL_MS: Record<OsName, number> = { linux: 250, darwin: 1000, windows: 3000 };

/** How long a stopped process's children count as the same launch (ms). */
const LAUNCH_MS = 10_000;

export interface SentinelOptions {
  catalog: CatalogIndex;
  fingerprints?: FingerprintStore;
  /** Whether this tool at this version is blocked now (the daemon answers from its verdicts). */
  isBlocked(toolId: string, version: string | null, match: ProcessMatch): boolean;
  /** The block notice shown on the process's terminal, or null. */
  noticeFor?(match: ProcessMatch): string | null;
  /**
   * Called for every blocked process found, with what the stop did; `running` is true when it was
   * identified earlier (allowed then) and the ban took effect while it ran; `partOf`: the pid of
   * the blocked process of the same tool that started this one (Codex's `codex.js` starts its
   * native binary), acted on just before: the same launch, already told and reported (no notice
   * was shown for it).
   */
  onMatch(match: ProcessMatch, outcome: StopOutcome, running: boolean, partOf?: number): void;
  /** Called when something goes wrong in a tick (never throws out of the loop). */
  onError?(error: unknown): void;
  /** Poll period in ms (default POLL_MS of the OS; Linux 250: p99 start-to-stop well under 1 s, see README.md). */
  intervalMs?: number;
  /** Period of the full re-read of processes that exec'd since first seen, in ms (default 2000). */
  sweepMs?: number;
  /** Stop matched processes (default true); false only reports. */
  stop?: boolean;
  /** A /proc to read instead of the real one (tests); Linux only. */
  procRoot?: string;
  /** Where processes come from (default: /proc on Linux, the host's listing elsewhere). */
  source?: ProcessSource;
  /** Act only within this scope (see SentinelScope); null or absent: the whole machine. */
  scope?: SentinelScope | null;
}

export interface SentinelStats {
  ticks: number;
  processesRead: number;
  matches: number;
  stopped: number;
  /** Catalogued tool processes remembered now (allowed or not yet acted on). */
  tools: number;
}

/** How many ticks a new pid is looked at again (covers fork-then-exec). */
const LOOK_AGAIN_TICKS = 3;

export class Sentinel {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private known = new Map<number, Seen>();
  private lastSweep = 0;
  private readonly protectedPids = new Set([process.pid, process.ppid]);
  /** Blocked processes acted on lately (pid → tool and when, ms): their children are the same launch. */
  private launches = new Map<number, { toolId: string; at: number }>();
  readonly stats: SentinelStats = { ticks: 0, processesRead: 0, matches: 0, stopped: 0, tools: 0 };
  private readonly source: ProcessSource;

  constructor(private readonly options: SentinelOptions) {
    this.source =
      options.source ??
      (hostOs() === 'linux' || options.procRoot !== undefined ? procSource(options.procRoot) : snapshotSource());
  }

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
    this.stats.ticks++;
    const pids = await this.source.list();
    const next = new Map<number, Seen>();
    const sweep = Date.now() - this.lastSweep >= (this.options.sweepMs ?? 2000);
    if (sweep) this.lastSweep = Date.now();
    const toRead: number[] = [];
    const tools: number[] = [];
    for (const pid of pids) {
      const seen = this.known.get(pid);
      if (!seen) {
        toRead.push(pid);
        continue;
      }
      next.set(pid, seen);
      if (seen.done) continue;
      if (seen.match) tools.push(pid);
      if (seen.looksLeft > 0) {
        // Only a changed executable or command line (the exec after a fork) is worth a full read.
        seen.looksLeft--;
        if (this.source.signature(pid) !== seen.signature) toRead.push(pid);
      } else if (sweep && this.source.exe(pid) !== seen.exe) {
        toRead.push(pid);
      }
    }
    this.known = next;
    // Tools already known and allowed so far: blocked now (a new policy, a date passed)?
    for (const pid of tools) {
      const seen = next.get(pid)!;
      if (toRead.includes(pid) || !this.options.isBlocked(seen.match!.toolId, seen.match!.version, seen.match!))
        continue;
      const now = this.source.read(pid);
      // Another process under the same pid, or an exec since: identified afresh below.
      if (!now || now.startTicks !== seen.startTicks || !seen.imageKey || now.imageKey !== seen.imageKey) {
        if (now && !toRead.includes(pid)) toRead.push(pid);
        continue;
      }
      seen.done = this.act(seen.match!, seen.imageKey, true);
    }
    // Read before acting on any: a child read after its parent was stopped would show another parent.
    const infos = toRead.map((pid) => this.source.read(pid));
    const now = Date.now();
    for (const [pid, launch] of this.launches) if (now - launch.at > LAUNCH_MS) this.launches.delete(pid);
    for (const info of infos) {
      if (!info) continue;
      const pid = info.pid;
      this.stats.processesRead++;
      const prior = this.known.get(pid);
      const entry: Seen = {
        exe: info.exe,
        signature: signatureOf(info.exe, info.argv),
        looksLeft: prior ? prior.looksLeft : LOOK_AGAIN_TICKS,
        startTicks: info.startTicks,
        imageKey: info.imageKey ?? null,
        match: null,
        done: false,
      };
      this.known.set(pid, entry);
      let match = await identifyProcess(info, this.options, this.source.script?.(info));
      // Same process, same image (no exec): a command line that lost its script (process.title) keeps what was identified.
      if (
        !match &&
        prior?.match &&
        prior.startTicks === info.startTicks &&
        prior.imageKey !== null &&
        prior.imageKey === entry.imageKey
      )
        match = prior.match;
      if (!match || !inScope(this.options.scope, match)) continue;
      entry.match = match;
      if (this.options.isBlocked(match.toolId, match.version, match)) {
        const parent = info.ppid === null ? undefined : this.launches.get(info.ppid);
        entry.done = this.act(match, entry.imageKey, false, parent?.toolId === match.toolId ? info.ppid! : undefined);
      }
    }
    let count = 0;
    for (const seen of this.known.values()) if (seen.match && !seen.done) count++;
    this.stats.tools = count;
  }

  /** Stops a blocked process (unless report-only) and reports it; true once reported. */
  private act(match: ProcessMatch, imageKey: string | null, running: boolean, partOf?: number): boolean {
    this.stats.matches++;
    this.launches.set(match.pid, { toolId: match.toolId, at: Date.now() });
    const outcome: StopOutcome =
      this.options.stop === false
        ? { stopped: false, reason: 'report only' }
        : stopMatched(match, {
            notice: partOf === undefined ? (this.options.noticeFor?.(match) ?? null) : null,
            procRoot: this.options.procRoot,
            protectedPids: this.protectedPids,
            imageKey,
          });
    if (outcome.stopped) this.stats.stopped++;
    this.options.onMatch(match, outcome, running, partOf);
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
      const wait = Math.max(0, (this.options.intervalMs ?? POLL_MS[hostOs()]) - (Date.now() - started));
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
  startTicks: number | null;
  /** ProcessInfo.imageKey when read (null: unknown, then a lost script is not carried over). */
  imageKey: string | null;
  /** The catalogued tool it runs (allowed or blocked), or null. */
  match: ProcessMatch | null;
  /** Reported as blocked (stopped or not): never looked at again. */
  done: boolean;
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
