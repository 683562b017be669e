#!/usr/bin/env node
/**
 * `aigate`: the admin CLI. Local commands (policy validate, policy explain) need no server;
 * everything else talks to the admin API with a server URL and token from --server/--token,
 * AIGATE_SERVER/AIGATE_TOKEN, or the config file written by `aigate login`.
 *
 * Each area registers its commands from server/cli/commands/ and is loaded only when one of its
 * commands runs (AREAS); --help lists the areas from that table and --version loads none. What a
 * command needs beyond the HTTP client (the policy engine, the report definitions) is imported
 * when it runs. All output goes through `terminalSafe`.
 */

import { Command, CommanderError, Help } from 'commander';

import type { CliContext } from './commands/common.js';
import type { Env } from './config-file.js';
import { isMainModule } from './is-main.js';
import { EXIT_OK, EXIT_USAGE, type Output, processOutput, terminalSafe } from './output.js';
import { SERVER_VERSION } from './version.js';

type Register = (context: CliContext) => void;

/**
 * The areas in the order --help lists them: each module under commands/ and the top-level
 * commands it registers, with the description and help term (`name [options]`) --help shows for
 * each. `aigate --help` and an unknown command list these without loading any area; a command
 * loads only its own area. test/server/cli-lazy.test.ts checks this table against the modules.
 */
export const AREAS: {
  load: () => Promise<Register>;
  commands: { name: string; term: string; description: string }[];
}[] = [
  {
    load: async () => (await import('./commands/whoami.js')).registerWhoami,
    commands: [
      { name: 'login', term: 'login', description: 'check --server and --token, and save them for later commands' },
      { name: 'logout', term: 'logout', description: 'forget the saved server and token' },
      {
        name: 'whoami',
        term: 'whoami',
        description: 'show the token in use and the policy key fingerprint agents pin',
      },
    ],
  },
  {
    load: async () => (await import('./commands/policy.js')).registerPolicy,
    commands: [
      { name: 'policy', term: 'policy', description: 'validate, explain, preview, publish and roll back policies' },
    ],
  },
  {
    load: async () => (await import('./commands/devices.js')).registerDevices,
    commands: [
      { name: 'devices', term: 'devices [options]', description: 'list enrolled devices' },
      { name: 'device', term: 'device', description: 'one device' },
    ],
  },
  {
    load: async () => (await import('./commands/enroll-secrets.js')).registerEnrollSecrets,
    commands: [{ name: 'enroll-secret', term: 'enroll-secret', description: 'secrets that let machines enroll' }],
  },
  {
    load: async () => (await import('./commands/exceptions.js')).registerExceptions,
    commands: [{ name: 'exceptions', term: 'exceptions', description: 'exception requests from employees' }],
  },
  {
    load: async () => (await import('./commands/fingerprints.js')).registerFingerprints,
    commands: [
      {
        name: 'fingerprints',
        term: 'fingerprints',
        description: 'file fingerprints devices reported, and which ones every agent gets in the signed bundle',
      },
    ],
  },
  {
    load: async () => (await import('./commands/tokens.js')).registerTokens,
    commands: [{ name: 'tokens', term: 'tokens', description: 'admin and auditor tokens' }],
  },
  {
    load: async () => (await import('./commands/reports.js')).registerReports,
    commands: [{ name: 'report', term: 'report', description: 'compliance reports (admin or auditor token)' }],
  },
  {
    load: async () => (await import('./commands/audit.js')).registerAudit,
    commands: [
      {
        name: 'audit',
        term: 'audit [options]',
        description: 'the audit log of admin actions; exits 1 when its hash chain is broken',
      },
    ],
  },
];

/** Program options that take a value (`--server URL`): skipped when looking for the command name. */
const VALUE_OPTIONS = new Set(['--server', '--token']);

/** The command `argv` names (`aigate --server U policy list` -> policy; `aigate help policy` -> policy), or null. */
export function commandNamed(argv: readonly string[]): string | null {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (VALUE_OPTIONS.has(arg)) i++;
    else if (arg === '--') return argv[i + 1] ?? null;
    else if (!arg.startsWith('-')) return arg === 'help' ? (argv[i + 1] ?? null) : arg;
  }
  return null;
}

/**
 * The command tree; `io` should already be terminal-safe. `only`: register just the area of this
 * command (the others appear by name and description, for help and suggestions); undefined
 * registers every area.
 */
export async function buildProgram(
  io: Output,
  env: Env,
  setExit: (code: number) => void,
  only?: string | null,
): Promise<Command> {
  const listed = new Map<Command, string>();
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
    })
    .configureHelp({
      // A listed area shows the term its commands have once loaded.
      subcommandTerm(this: Help, command: Command): string {
        return listed.get(command) ?? Help.prototype.subcommandTerm.call(this, command);
      },
    });
  const context: CliContext = { program, io, env, setExit };
  const wanted = only === undefined ? AREAS : AREAS.filter((area) => area.commands.some((c) => c.name === only));
  const registers = new Map(await Promise.all(wanted.map(async (area) => [area, await area.load()] as const)));
  for (const area of AREAS) {
    const register = registers.get(area);
    if (register) register(context);
    else for (const c of area.commands) listed.set(program.command(c.name).description(c.description), c.term);
  }
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
  const program = await buildProgram(
    safe,
    env,
    (c) => {
      code = c;
    },
    commandNamed(argv),
  );
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    // --help and --version end here with exit code 0; commander has printed any usage error.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    const { reportError } = await import('./commands/common.js');
    return reportError(error, safe);
  }
  return code;
}

if (isMainModule(import.meta.url)) {
  // A reader that stops early (`| head -1`) closes the pipe: stop quietly, as Unix tools do.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
  });
  process.exitCode = await runAigate(process.argv.slice(2), processOutput, process.env, {
    dataIsTerminal: process.stdout.isTTY === true,
  });
}
