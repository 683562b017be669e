#!/usr/bin/env node
/**
 * `aigate-agent`: the endpoint daemon and the employee's CLI. Each command lives in its own
 * module under commands/ and registers itself on the program. Only the module of the command
 * being run is loaded (each brings its part of the agent); --help, `help` and anything that is
 * not a command name load them all, so the help stays complete; --version loads none.
 */
import { Command, CommanderError } from 'commander';

import { CliError, EXIT_FAILED, EXIT_USAGE } from './commands/common.js';
import { AGENT_VERSION } from './version.js';

type Register = (program: Command) => void;

/** Command name -> its module, in the order --help lists them. */
const COMMANDS: Record<string, () => Promise<Register>> = {
  scan: async () => (await import('./commands/scan.js')).registerScan,
  enroll: async () => (await import('./commands/enroll.js')).registerEnroll,
  run: async () => (await import('./commands/run.js')).registerRun,
  once: async () => (await import('./commands/once.js')).registerOnce,
  status: async () => (await import('./commands/status.js')).registerStatus,
  'request-exception': async () => (await import('./commands/request-exception.js')).registerRequestException,
  restore: async () => (await import('./commands/restore.js')).registerRestore,
};

const program = new Command('aigate-agent')
  .description('find developer AI tools on this machine and apply the company policy to them')
  .version(AGENT_VERSION)
  .exitOverride();

try {
  const first = process.argv[2];
  if (first !== '--version' && first !== '-V') {
    const wanted = first !== undefined && Object.hasOwn(COMMANDS, first) ? [COMMANDS[first]!] : Object.values(COMMANDS);
    for (const register of await Promise.all(wanted.map((load) => load()))) register(program);
  }
  await program.parseAsync();
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
