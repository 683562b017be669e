/**
 * The `aigate-agent` command tree and its runner. agent/cli.ts (the shipped bin) runs it with
 * the production hooks; nothing read from the environment or the command line can change them.
 * Each command lives in its own module under commands/ and registers itself on the program. Only
 * the module of the command being run is loaded (each brings its part of the agent); --help,
 * `help` and anything that is not a command name load them all, so the help stays complete;
 * --version loads none.
 */
import { Command, CommanderError } from 'commander';

import { AGENT_VERSION } from '../version.js';
import { CliError, EXIT_FAILED, EXIT_USAGE } from './common.js';
import type { AgentHooks } from './hooks.js';

type Register = (program: Command, hooks: AgentHooks) => void;

/** Command name -> its module, in the order --help lists them. */
const COMMANDS: Record<string, () => Promise<Register>> = {
  scan: async () => (await import('./scan.js')).registerScan,
  enroll: async () => (await import('./enroll.js')).registerEnroll,
  run: async () => (await import('./run.js')).registerRun,
  once: async () => (await import('./once.js')).registerOnce,
  status: async () => (await import('./status.js')).registerStatus,
  'request-exception': async () => (await import('./request-exception.js')).registerRequestException,
  restore: async () => (await import('./restore.js')).registerRestore,
};

/**
 * Runs `aigate-agent` with `argv` (the arguments after the script) and sets process.exitCode:
 * 0 done, EXIT_USAGE for a usage error, a command's own code, EXIT_FAILED for anything
 * unexpected (its stack on stderr). `hooks` are the production ones except in a test build.
 */
export async function runAgentCli(argv: string[], hooks: AgentHooks): Promise<void> {
  const program = new Command('aigate-agent')
    .description('find developer AI tools on this machine and apply the company policy to them')
    .version(AGENT_VERSION)
    .exitOverride();
  try {
    const first = argv[0];
    if (first !== '--version' && first !== '-V') {
      const wanted =
        first !== undefined && Object.hasOwn(COMMANDS, first) ? [COMMANDS[first]!] : Object.values(COMMANDS);
      for (const register of await Promise.all(wanted.map((load) => load()))) register(program, hooks);
    }
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with exit code 0; commander already printed any usage error.
      process.exitCode = error.exitCode === 0 ? 0 : EXIT_USAGE;
    } else if (error instanceof CliError) {
      process.stderr.write(`${error.message}\n`);
      process.exitCode = error.exitCode;
    } else {
      process.stderr.write(`aigate-agent: ${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = EXIT_FAILED;
    }
  }
}
