/** Options and errors shared by the agent's commands. */
import { resolve } from 'node:path';

import { type Command, InvalidArgumentError, Option } from 'commander';

import { defaultStateDir } from '../state/paths.js';

/** An error meant for the person at the terminal; `exitCode` 2 means the command itself was wrong. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export function addStateDirOption(command: Command): Command {
  // Absolute, so paths written into stubs (the launch-record folder) work from anywhere.
  return command.addOption(
    new Option('--state-dir <dir>', 'the agent state directory (or AIGATE_STATE_DIR)')
      .default(resolve(defaultStateDir()), defaultStateDir())
      .argParser((value) => resolve(value)),
  );
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The scan root overrides `scan` also takes: they point the agent at a prepared tree. */
export function addScanRootOptions(command: Command): Command {
  return command
    .option('--home <dir>', "scan this home directory instead of every user's (repeatable)", collect)
    .option('--npm-prefix <dir>', 'npm global prefix to scan (repeatable)', collect)
    .option('--path <dir>', 'directory to treat as PATH (repeatable)', collect);
}

export interface ScanRootFlags {
  home?: string[];
  npmPrefix?: string[];
  path?: string[];
}

export function positiveSeconds(name: string, max: number) {
  return (value: string): number => {
    if (!/^\d+(\.\d+)?$/.test(value) || Number(value) <= 0 || Number(value) > max)
      throw new InvalidArgumentError(`${name} must be a number of seconds from 0 to ${max}`);
    return Number(value);
  };
}

export function positiveInt(name: string, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max)
      throw new InvalidArgumentError(`${name} must be a whole number from 1 to ${max}`);
    return Number(value);
  };
}
