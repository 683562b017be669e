#!/usr/bin/env node
/**
 * `aigate`: the admin CLI. Local commands (policy validate, policy explain) need no server;
 * everything else talks to the admin API with a server URL and token from --server/--token,
 * AIGATE_SERVER/AIGATE_TOKEN, or the config file written by `aigate login`.
 *
 * Each area registers its commands from server/cli/commands/; what a command needs beyond the
 * HTTP client (the policy engine, the report definitions) is imported when it runs, so --help
 * and --version load little. All output goes through `terminalSafe`.
 */

import { Command, CommanderError } from 'commander';

import { registerAudit } from './commands/audit.js';
import { type CliContext, reportError } from './commands/common.js';
import { registerDevices } from './commands/devices.js';
import { registerEnrollSecrets } from './commands/enroll-secrets.js';
import { registerExceptions } from './commands/exceptions.js';
import { registerFingerprints } from './commands/fingerprints.js';
import { registerPolicy } from './commands/policy.js';
import { registerReports } from './commands/reports.js';
import { registerTokens } from './commands/tokens.js';
import { registerWhoami } from './commands/whoami.js';
import type { Env } from './config-file.js';
import { isMainModule } from './is-main.js';
import { EXIT_OK, EXIT_USAGE, type Output, processOutput, terminalSafe } from './output.js';
import { SERVER_VERSION } from './version.js';

/** The whole command tree; `io` should already be terminal-safe. */
export function buildProgram(io: Output, env: Env, setExit: (code: number) => void): Command {
  const program = new Command('aigate')
    .description('Administer an aigate server: policies, devices, enrollment, exceptions, tokens, audit, reports.')
    .option('--server <url>', 'server URL (default: AIGATE_SERVER, else the saved login)')
    .option('--token <token>', 'admin or auditor token (default: AIGATE_TOKEN, else the saved login)')
    // Not commander's .version(): program options are matched anywhere on the line, and
    // `policy explain --version <v>` is the tool's version. runAigate answers a leading --version.
    .addHelpText('after', '\nVersion: aigate --version (or -V)')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.out(text.replace(/\n$/, '')),
      writeErr: (text) => io.err(text.replace(/\n$/, '')),
    });
  const context: CliContext = { program, io, env, setExit };
  registerWhoami(context);
  registerPolicy(context);
  registerDevices(context);
  registerEnrollSecrets(context);
  registerExceptions(context);
  registerFingerprints(context);
  registerTokens(context);
  registerReports(context);
  registerAudit(context);
  return program;
}

/**
 * Run the CLI; returns the exit code instead of exiting. `dataIsTerminal`: whether standard
 * output is a terminal (report data is then escaped like everything else).
 */
export async function runAigate(
  argv: string[],
  io: Output,
  env: Env,
  options: { dataIsTerminal?: boolean } = {},
): Promise<number> {
  const safe = terminalSafe(io, options.dataIsTerminal ?? false);
  if (argv[0] === '--version' || argv[0] === '-V') {
    safe.out(SERVER_VERSION);
    return EXIT_OK;
  }
  let code = EXIT_OK;
  const program = buildProgram(safe, env, (c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    // --help and --version end here with exit code 0; commander has printed any usage error.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    return reportError(error, safe);
  }
  return code;
}

if (isMainModule(import.meta.url))
  process.exitCode = await runAigate(process.argv.slice(2), processOutput, process.env, {
    dataIsTerminal: process.stdout.isTTY === true,
  });
