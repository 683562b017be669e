/** The daemon and employee commands: enroll, run, once, status, request-exception. */
import type { Command } from 'commander';

export function registerAgentCommands(program: Command): void {
  for (const [name, description] of [
    ['enroll', 'register this machine with an aigate server'],
    ['run', 'run the agent daemon'],
    ['once', 'run one full cycle and exit'],
    ['status', 'show each detected tool and its verdict'],
    ['request-exception', 'ask IT for an exception'],
  ] as const) {
    program
      .command(name)
      .description(description)
      .allowUnknownOption()
      .action(() => {
        process.stderr.write(`aigate-agent ${name}: not yet available in this build\n`);
        process.exitCode = 2;
      });
  }
}
