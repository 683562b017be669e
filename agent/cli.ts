#!/usr/bin/env node
/**
 * `aigate-agent`: the endpoint daemon and the employee's CLI. The inventory, enforcement and
 * daemon commands arrive with their issues; until then each says so plainly.
 */
import { Command } from 'commander';

const program = new Command('aigate-agent').description('find developer AI tools on this machine and apply the company policy to them');

for (const [name, description] of [
  ['scan', 'list the AI tools installed on this machine'],
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

await program.parseAsync();
