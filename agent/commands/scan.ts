/** `aigate-agent scan`: list the AI tools installed on this machine. */
import type { Command } from 'commander';

export function registerScan(program: Command): void {
  program
    .command('scan')
    .description('list the AI tools installed on this machine')
    .allowUnknownOption()
    .action(() => {
      process.stderr.write('aigate-agent scan: not yet available in this build\n');
      process.exitCode = 2;
    });
}
