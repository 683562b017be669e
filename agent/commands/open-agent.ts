/** Opening the agent for `once` and `run`: the lock, the logger, the options shared by both. */
import { type Command, Option } from 'commander';

import { Agent } from '../agent.js';
import { type AgentLogger, createLogger } from '../log.js';
import { NotEnrolledError } from '../state/config.js';
import { acquireLock, type AgentLock, LockHeldError } from '../state/lock.js';
import { statePaths } from '../state/paths.js';
import {
  addScanRootOptions,
  addStateDirOption,
  CliError,
  EXIT_USAGE,
  positiveSeconds,
  type ScanRootFlags,
} from './common.js';
import type { AgentHooks } from './hooks.js';

export interface AgentFlags extends ScanRootFlags {
  stateDir: string;
  stopGrace: number;
  logLevel: string;
  logFile?: string;
  desktopNotify: boolean;
}

export function addAgentOptions(command: Command): Command {
  addStateDirOption(command);
  addScanRootOptions(command);
  return command
    .option(
      '--stop-grace <seconds>',
      "time a blocked tool's processes get between SIGTERM and SIGKILL",
      positiveSeconds('--stop-grace', 600),
      5,
    )
    .addOption(
      new Option('--log-level <level>', 'log level')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info'),
    )
    .option('--log-file <file>', 'append logs (JSON lines) to this file instead of stderr')
    .option('--no-desktop-notify', 'do not show desktop notifications when a tool becomes warned or blocked');
}

export interface OpenedAgent {
  agent: Agent;
  lock: AgentLock;
  log: AgentLogger;
}

/** Takes the state lock and opens the agent; `hooks` are PRODUCTION_HOOKS except in a test build. */
export async function openAgent(
  flags: AgentFlags,
  cycleMinutes: number | null,
  hooks: AgentHooks,
): Promise<OpenedAgent> {
  const log = createLogger({ level: flags.logLevel, ...(flags.logFile ? { file: flags.logFile } : {}) });
  const paths = statePaths(flags.stateDir);
  let lock: AgentLock;
  try {
    lock = await acquireLock(paths.lock);
  } catch (error) {
    if (error instanceof LockHeldError) throw new CliError(`aigate-agent: ${error.message}`);
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new CliError(`aigate-agent: ${new NotEnrolledError(flags.stateDir).message}`, EXIT_USAGE);
    if ((error as NodeJS.ErrnoException).code === 'EACCES')
      throw new CliError(
        `aigate-agent: cannot write to ${flags.stateDir}; the agent runs as root (or the service account)`,
      );
    throw error;
  }
  try {
    const agent = await Agent.open({
      stateDir: flags.stateDir,
      scanRoots: {
        ...(flags.home ? { homes: flags.home } : {}),
        ...(flags.npmPrefix ? { npmPrefixes: flags.npmPrefix } : {}),
        ...(flags.path ? { paths: flags.path } : {}),
      },
      graceMs: Math.round(flags.stopGrace * 1000),
      log,
      localClock: hooks.localClock,
      fault: hooks.fault,
      desktopNotifications: flags.desktopNotify,
      cycleMinutes,
    });
    return { agent, lock, log };
  } catch (error) {
    await lock.release();
    if (error instanceof NotEnrolledError) throw new CliError(`aigate-agent: ${error.message}`, EXIT_USAGE);
    throw error;
  }
}
