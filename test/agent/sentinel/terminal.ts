/**
 * Shared by the sentinel tests that run real tools as a real unprivileged user: a sentinel that
 * blocks Claude Code for that one user, and a command started on a pty (`script -qfec`) so the
 * block notice has a terminal to land on.
 */
import { type ChildProcess, spawn } from 'node:child_process';

import type { AgentEvent } from '../../../agent/events/event.js';
import { type AgentSentinel, createAgentSentinel } from '../../../agent/sentinel/agent-hook.js';
import { builtinCatalog, catalogIndex } from '../../../policies/catalog/index.js';
import type { HostileUser } from '../../security/hostile.js';

/**
 * Starts a sentinel (50 ms ticks, builtin catalog, nothing learned) that blocks Claude Code for
 * `userName` only (other test runs on the machine may run Claude Code too) and pushes its events
 * into `events`.
 */
export async function startClaudeBlockingSentinel(
  userName: string,
  notice: string,
  events: AgentEvent[],
  policyRevision: number,
): Promise<AgentSentinel> {
  const sentinel = createAgentSentinel({
    catalog: catalogIndex(builtinCatalog),
    intervalMs: 50,
    isBlocked: (toolId, _version, user) => toolId === 'claude-code' && user === userName,
    noticeFor: () => notice,
    emit: async (event) => {
      events.push(event);
    },
    policyRevision: () => policyRevision,
  });
  await sentinel.refresh([]); // nothing learned: content or manifests alone decide
  sentinel.start();
  return sentinel;
}

/** A command running on a pty as a user; `exited` resolves with `script`'s exit code. */
export interface OnTerminal {
  child: ChildProcess;
  exited: Promise<number | null>;
}

/** Starts `command` as `user` on a pty (`script`, its session logged to `log`), stdin held open. */
export function startOnTerminal(
  user: Pick<HostileUser, 'uid' | 'gid'>,
  command: string,
  log: string,
  options: { cwd: string; env: NodeJS.ProcessEnv },
): OnTerminal {
  const child = spawn('script', ['-qfec', command, log], {
    uid: user.uid,
    gid: user.gid,
    cwd: options.cwd,
    env: options.env,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  return { child, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
}

/** Waits at most `ms` for the command to end; kills it when it did not. Its exit code, or 'timeout'. */
export async function endedWithin({ child, exited }: OnTerminal, ms: number): Promise<number | null | 'timeout'> {
  const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms))]);
  child.stdin?.end();
  if (code === 'timeout') child.kill('SIGKILL');
  return code;
}
