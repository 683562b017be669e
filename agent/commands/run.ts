/** `aigate-agent run`: the daemon (usually started by the service manager). */
import type { Command } from 'commander';

import { runDaemon } from '../daemon.js';
import { positiveInt, positiveSeconds } from './common.js';
import type { AgentHooks } from './hooks.js';
import { addAgentOptions, type AgentFlags, openAgent } from './open-agent.js';

interface RunFlags extends AgentFlags {
  cycleMinutes: number;
  jitter?: number;
  pollWait: number;
  sentinel: boolean;
}

export function registerRun(program: Command, hooks: AgentHooks): void {
  const command = program
    .command('run')
    .description('run the agent daemon: scan and report every few minutes, follow policy changes, enforce')
    .option(
      '--cycle-minutes <n>',
      'minutes between full cycles (scan, check-in)',
      positiveInt('--cycle-minutes', 60),
      10,
    )
    .option(
      '--jitter <seconds>',
      'largest random delay added to each cycle (default: a fifth of the cycle, at most 2 minutes)',
      positiveSeconds('--jitter', 3600),
    )
    .option('--poll-wait <seconds>', 'long-poll wait for policy changes', positiveSeconds('--poll-wait', 60), 55)
    .option('--no-sentinel', 'do not watch process starts to stop blocked tools as they start (Linux)');
  addAgentOptions(command).action(async (flags: RunFlags) => {
    const { agent, lock, log } = await openAgent(flags, flags.cycleMinutes, hooks);
    try {
      await runDaemon(
        agent,
        {
          cycleMinutes: flags.cycleMinutes,
          jitterSeconds: flags.jitter ?? Math.min(120, flags.cycleMinutes * 12),
          pollWaitSeconds: Math.round(flags.pollWait),
          sentinel: flags.sentinel,
          // Pointed at some homes: the sentinel stays within them (not every process on the machine).
          ...(flags.home
            ? { scope: { homes: flags.home, roots: [...(flags.npmPrefix ?? []), ...(flags.path ?? [])] } }
            : {}),
        },
        log,
      );
    } finally {
      await lock.release();
      log.flush();
    }
  });
}
