#!/usr/bin/env node
/**
 * `aigate-agent`: the endpoint daemon and the employee's CLI. Each command lives in its own
 * module under commands/ and registers itself on the program.
 */
import { Command, CommanderError } from 'commander';
import { CliError, EXIT_FAILED, EXIT_USAGE } from './commands/common.js';
import { registerEnroll } from './commands/enroll.js';
import { registerOnce } from './commands/once.js';
import { registerRequestException } from './commands/request-exception.js';
import { registerRestore } from './commands/restore.js';
import { registerRun } from './commands/run.js';
import { registerScan } from './commands/scan.js';
import { registerStatus } from './commands/status.js';
import { AGENT_VERSION } from './version.js';

const program = new Command('aigate-agent')
  .description('find developer AI tools on this machine and apply the company policy to them')
  .version(AGENT_VERSION)
  .exitOverride();
registerScan(program);
registerEnroll(program);
registerRun(program);
registerOnce(program);
registerStatus(program);
registerRequestException(program);
registerRestore(program);

try {
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
