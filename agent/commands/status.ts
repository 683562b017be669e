/** `aigate-agent status`: for employees (no root needed): each tool, its verdict, since/until when, and why. */
import type { Command } from 'commander';

import { isAlive } from '../pid.js';
import { statePaths } from '../state/paths.js';
import { renderStatus } from '../status/render.js';
import { readStatusFile } from '../status/status-file.js';
import { addStateDirOption, CliError } from './common.js';

export function registerStatus(program: Command): void {
  const command = program
    .command('status')
    .description('show each AI tool found on this machine, its verdict, since and until when, and why')
    .option('--json', 'print the status as JSON');
  addStateDirOption(command).action(async (flags: { stateDir: string; json?: boolean }) => {
    const read = await readStatusFile(statePaths(flags.stateDir).status);
    if (!read.ok) throw new CliError(`aigate-agent status: ${read.message}`);
    const status = read.status;
    // A daemon killed without a chance to say so still reads "running" in the file.
    if (status.daemon.running && !isAlive(status.daemon.pid)) status.daemon.running = false;
    process.stdout.write(flags.json ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status, Date.now()));
  });
}
