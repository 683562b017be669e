/**
 * Stopping a process the sentinel identified, under the agent's safety rules (issue 10): the
 * process is re-read and must be the same one (start time), it must still run the identified code
 * (the same image since identification, ProcessInfo.imageKey; or, when that is unknown, its
 * executable or script must still resolve inside the identified package folder, or to the very
 * file whose fingerprint matched), and its owner must be the owner of that code, or the code must be
 * a system install (root-owned, not writable by others). Anything else is left alone and reported.
 * Before the signal, the block notice is written to the process's terminal if it has one that
 * belongs to the same user.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { contentKey } from '../inventory/content.js';
import type { ProcessMatch } from './identify.js';
import { isTrustedPackageFolder, scriptArgument } from './identify.js';
import { readProcess, realpathOrNull } from './proc.js';

export type StopOutcome = { stopped: true; noticeShown: boolean } | { stopped: false; reason: string };

export interface StopOptions {
  /** The text shown on the process's terminal (the block notice), or null for none. */
  notice: string | null;
  procRoot?: string;
  /** Pids never signalled (the agent itself, its parent). */
  protectedPids?: ReadonlySet<number>;
  /**
   * The process's image key when it was identified (ProcessInfo.imageKey). If it still has it,
   * it has not exec'd since, so it still runs the identified code whatever its command line shows
   * now (a process title, a descriptor or another namespace's path). Null or absent: the script
   * is resolved again from the command line.
   */
  imageKey?: string | null;
}

/** Re-verifies a match and, if it still holds, shows the notice and sends SIGKILL. */
export function stopMatched(match: ProcessMatch, options: StopOptions): StopOutcome {
  const procRoot = options.procRoot ?? '/proc';
  if (match.pid <= 1 || match.pid === process.pid || options.protectedPids?.has(match.pid))
    return { stopped: false, reason: `pid ${match.pid} is protected` };
  const now = readProcess(match.pid, procRoot);
  if (!now) return { stopped: false, reason: 'the process has already ended' };
  if (now.startTicks !== match.startTicks) return { stopped: false, reason: 'the pid now belongs to another process' };
  if (now.uid === null) return { stopped: false, reason: 'the process owner is unknown' };

  // The file must still be the identified code: no exec since, or its path resolves to it again.
  const sameImage = options.imageKey != null && now.imageKey === options.imageKey;
  const current = match.how === 'executable' ? now.exe : scriptArgument(now.argv, now.cwd);
  const real = sameImage ? match.file : current ? realpathOrNull(current) : null;
  if (!real) return { stopped: false, reason: 'cannot resolve what the process runs' };
  let codeStat: fs.Stats;
  if (match.packageDir) {
    if (!isInside(real, match.packageDir))
      return { stopped: false, reason: `${real} is not inside ${match.packageDir}` };
    try {
      codeStat = fs.lstatSync(match.packageDir);
    } catch {
      return { stopped: false, reason: `${match.packageDir} is gone` };
    }
    if (!codeStat.isDirectory()) return { stopped: false, reason: `${match.packageDir} is not a folder` };
    if (!isTrustedPackageFolder(match.packageDir)) {
      return {
        stopped: false,
        reason: `${match.packageDir} may be written by others or its manifest has another owner`,
      };
    }
  } else {
    if (real !== match.file) return { stopped: false, reason: `${real} is not the fingerprinted ${match.file}` };
    try {
      codeStat = fs.lstatSync(real);
    } catch {
      return { stopped: false, reason: `${real} is gone` };
    }
  }
  // A match by content (the script's bytes are the tool's, whatever any manifest says) stops a
  // non-root process running that very file, unchanged since it was read, whoever owns the file
  // (a copy in /tmp run by another user). Planting the markers in a file gets only the processes
  // running that file stopped (docs/threat-model.md).
  const byContent = match.by === 'content' ? contentStopRefusal(match, real, codeStat, now.uid) : undefined;
  if (byContent) return { stopped: false, reason: byContent };
  // A match by bytes alone (no package folder) stops only a user's own copy run by that user:
  // never a root process, never a root-owned program (whose bytes a user can copy anywhere).
  if (
    byContent === undefined &&
    !match.packageDir &&
    (now.uid === 0 || codeStat.uid === 0 || now.uid !== codeStat.uid)
  ) {
    return {
      stopped: false,
      reason: `a fingerprint match stops only a user's own copy run by that user (process uid ${now.uid}, file uid ${codeStat.uid})`,
    };
  }
  const systemInstall = codeStat.uid === 0 && (codeStat.mode & 0o022) === 0;
  if (byContent === undefined && now.uid !== codeStat.uid && !systemInstall) {
    return { stopped: false, reason: `process owner uid ${now.uid} does not own the code (uid ${codeStat.uid})` };
  }

  const noticeShown = options.notice ? showOnTerminal(match.pid, now.uid, options.notice, procRoot) : false;
  // Last check right before the signal: same process still (no pidfd in Node; the window is µs).
  const again = readProcess(match.pid, procRoot);
  if (!again || again.startTicks !== match.startTicks)
    return { stopped: false, reason: 'the process ended before the signal' };
  if (again.imageKey !== now.imageKey) return { stopped: false, reason: 'the process started another program' };
  try {
    process.kill(match.pid, 'SIGKILL');
  } catch (error) {
    return { stopped: false, reason: `kill failed (${(error as NodeJS.ErrnoException).code ?? String(error)})` };
  }
  return { stopped: true, noticeShown };
}

/** Why a content match must not stop this process, or null when it may. */
function contentStopRefusal(match: ProcessMatch, real: string, codeStat: fs.Stats, uid: number): string | null {
  if (uid === 0) return 'a root process is never stopped by a content match';
  if (real !== match.file || !codeStat.isFile() || contentKey(codeStat) !== match.contentKey)
    return `${real} changed since its content was read`;
  return null;
}

/**
 * Writes `text` to the terminal on the process's stderr/stdout/stdin, if that is a tty device
 * owned by the process's user (never another user's terminal, never a regular file).
 */
function showOnTerminal(pid: number, uid: number, text: string, procRoot = '/proc'): boolean {
  for (const fdNum of [2, 1, 0]) {
    let target: string;
    try {
      target = fs.readlinkSync(`${procRoot}/${pid}/fd/${fdNum}`);
    } catch {
      continue;
    }
    if (!/^\/dev\/(pts\/\d+|tty\d*|ttyS\d+)$/.test(target)) continue;
    let fd: number;
    try {
      fd = fs.openSync(
        target,
        fs.constants.O_WRONLY | fs.constants.O_NOCTTY | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW,
      );
    } catch {
      continue;
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isCharacterDevice() || st.uid !== uid) continue;
      fs.writeSync(fd, `\r\n${text.replace(/\r?\n/g, '\r\n')}\r\n`);
      return true;
    } catch {
      continue;
    } finally {
      fs.closeSync(fd);
    }
  }
  return false;
}

function isInside(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(path.sep) ? parent : parent + path.sep);
}
