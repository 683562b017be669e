/**
 * The `aigate-agent` command tree and its runner. agent/cli.ts (the shipped bin) runs it with
 * the production hooks; nothing read from the environment or the command line can change them.
 * Each command lives in its own module under commands/ and registers itself on the program. Only
 * the module of the command being run is loaded (each brings its part of the agent); --help,
 * `help` and anything that is not a command name list the commands from COMMANDS without
 * loading any; --version loads none.
 */
import { Command, CommanderError, Help } from 'commander';

import { AGENT_VERSION } from '../version.js';
import { CliError, EXIT_FAILED, EXIT_USAGE } from './common.js';
import type { AgentHooks } from './hooks.js';

type Register = (program: Command, hooks: AgentHooks) => void;

/**
 * The commands in the order --help lists them: each one's module, and the help term and
 * description --help shows for it, so `aigate-agent --help` lists them without loading any.
 * test/agent/cli-lazy.test.ts checks this table against what the modules register.
 */
export const COMMANDS: { name: string; term: string; description: string; load: () => Promise<Register> }[] = [
  {
    name: 'scan',
    term: 'scan [options]',
    description: 'list the AI tools installed on this machine (reads files only; never runs a found tool)',
    load: async () => (await import('./scan.js')).registerScan,
  },
  {
    name: 'enroll',
    term: 'enroll [options]',
    description: 'register this machine with an aigate server and pin its policy signing key',
    load: async () => (await import('./enroll.js')).registerEnroll,
  },
  {
    name: 'run',
    term: 'run [options]',
    description: 'run the agent daemon: scan and report every few minutes, follow policy changes, enforce',
    load: async () => (await import('./run.js')).registerRun,
  },
  {
    name: 'once',
    term: 'once [options]',
    description: 'run one full cycle (sync, scan, enforce, report) and exit',
    load: async () => (await import('./once.js')).registerOnce,
  },
  {
    name: 'status',
    term: 'status [options]',
    description: 'show each AI tool found on this machine, its verdict, since and until when, and why',
    load: async () => (await import('./status.js')).registerStatus,
  },
  {
    name: 'request-exception',
    term: 'request-exception [options] <tool>',
    description: 'ask IT for an exception to use a tool the policy warns about or blocks',
    load: async () => (await import('./request-exception.js')).registerRequestException,
  },
  {
    name: 'restore',
    term: 'restore [options]',
    description:
      'put back every tool the agent stubbed or quarantined, exactly as it was (before uninstalling the agent)',
    load: async () => (await import('./restore.js')).registerRestore,
  },
];

/** The command `argv` names (`help once` -> once), or null. */
function commandNamed(argv: readonly string[]): string | null {
  const first = argv[0];
  if (first === undefined || first.startsWith('-')) return null;
  return first === 'help' ? (argv[1] ?? null) : first;
}

/**
 * Runs `aigate-agent` with `argv` (the arguments after the script) and sets process.exitCode:
 * 0 done, EXIT_USAGE for a usage error, a command's own code, EXIT_FAILED for anything
 * unexpected (its stack on stderr). `hooks` are the production ones except in a test build.
 */
export async function runAgentCli(argv: string[], hooks: AgentHooks): Promise<void> {
  const listed = new Map<Command, string>();
  const program = new Command('aigate-agent')
    .description('find developer AI tools on this machine and apply the company policy to them')
    .version(AGENT_VERSION)
    .exitOverride()
    .configureHelp({
      // A listed command shows the term it has once loaded.
      subcommandTerm(this: Help, command: Command): string {
        return listed.get(command) ?? Help.prototype.subcommandTerm.call(this, command);
      },
    });
  try {
    const named = commandNamed(argv);
    const wanted = COMMANDS.find((c) => c.name === named);
    const register = wanted ? await wanted.load() : null;
    for (const c of COMMANDS) {
      if (c === wanted) register!(program, hooks);
      else listed.set(program.command(c.name).description(c.description), c.term);
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
