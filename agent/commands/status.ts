/** `aigate-agent status`: for employees (no root needed): each tool, its verdict, since/until when, and why. */
import { existsSync } from 'node:fs';

import type { Command } from 'commander';

import { chooseNoticeLocale, localeFromEnv } from '../../policies/notice-locale.js';
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
    const paths = statePaths(flags.stateDir);
    const read = await readStatusFile(paths.status);
    if (!read.ok && read.missing)
      // Whether config.json exists is visible to everyone (the folder is world-readable; the file is not).
      throw new CliError(
        existsSync(paths.config)
          ? `aigate-agent status: this machine is enrolled, but the agent has not finished a cycle yet (no ${paths.status}); an admin starts it with: sudo aigate-agent once (or the agent service)`
          : `aigate-agent status: this machine is not enrolled (no agent state in ${flags.stateDir}); an admin enrolls it with the command aigate enroll-secret create prints, then runs: sudo aigate-agent once (if the agent keeps its state elsewhere, give that folder with --state-dir)`,
      );
    if (!read.ok) throw new CliError(`aigate-agent status: ${read.message}`);
    const status = read.status;
    // A daemon killed without a chance to say so still reads "running" in the file.
    if (status.daemon.running && !isAlive(status.daemon.pid)) status.daemon.running = false;
    // In the reader's language: their locale, else the policy's default, else English.
    const locale = chooseNoticeLocale(localeFromEnv(process.env), status.policy?.noticeLocale);
    process.stdout.write(
      flags.json ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status, Date.now(), locale),
    );
  });
}
