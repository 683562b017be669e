/**
 * What every `aigate` command shares: the context it runs in, the client built from the global
 * --server/--token, error reporting with a next step, and argument checks. Kept light (no
 * policy loader, no report definitions), because it is loaded for every command and --help.
 */
import { type Command, InvalidArgumentError } from 'commander';

import { formatProblem } from '../../../policies/problem.js';
import { AdminApiError, AdminClient } from '../../client/admin-client.js';
import { ConfigError, type Env, resolveConnection } from '../config-file.js';
import { EXIT_INVALID, EXIT_USAGE, line, type Output, safeJson } from '../output.js';

/** Handed to each area's `register` function. */
export interface CliContext {
  program: Command;
  /** Already terminal-safe (see `terminalSafe`). */
  io: Output;
  env: Env;
  setExit: (code: number) => void;
}

/** Print any error the way an admin wants to read it; returns the exit code. */
export function reportError(error: unknown, io: Output, file?: string): number {
  if (error instanceof ConfigError) {
    io.err(line`aigate: ${error.message}`);
    return EXIT_USAGE;
  }
  if (error instanceof AdminApiError) {
    io.err(line`aigate: ${error.message}` + (error.status ? line` (HTTP ${error.status}, ${error.code})` : ''));
    for (const problem of error.problems) io.err(line`  error: ${formatProblem(problem, file)}`);
    return EXIT_INVALID;
  }
  io.err(line`aigate: ${(error as Error).message}`);
  return EXIT_INVALID;
}

/**
 * An action that talks to the server: resolves the connection from the global options, the
 * environment or the saved login, runs, and sets the exit code; any error is reported.
 */
export function withClient<A extends unknown[]>(
  context: CliContext,
  run: (client: AdminClient, ...args: A) => Promise<number>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const connection = await resolveConnection(
        context.program.opts<{ server?: string; token?: string }>(),
        context.env,
      );
      context.setExit(await run(new AdminClient(connection.server, connection.token), ...args));
    } catch (error) {
      context.setExit(reportError(error, context.io));
    }
  };
}

/** Pretty JSON for --json, with DEL, C1 and bidi characters written as \u escapes. */
export const printJson = (io: Output, value: unknown): void => io.out(safeJson(value));

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A commander argument parser for an id the server knows as a UUID; `what` names it ("device
 * id") and `list` is the command that shows them, for the message.
 */
export const uuidArgument = (what: string, list: string) => (value: string) => {
  if (!UUID.test(value)) {
    const article = /^[aeiou]/.test(what) ? 'an' : 'a';
    throw new InvalidArgumentError(
      line`"${value}" is not ${article} ${what}: ${what}s are UUIDs such as 0f8c5a52-1f4e-4d43-9d1a-6c1a5e1f2b3c (see ${list})`,
    );
  }
  return value.toLowerCase();
};

export const positiveInt = (name: string) => (value: string) => {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError(`${name} must be a positive whole number`);
  return Number(value);
};

export const nonNegativeInt = (name: string) => (value: string) => {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number`);
  return Number(value);
};

/** A choice among fixed words, checked before any request. */
export const oneOf = (name: string, choices: readonly string[]) => (value: string) => {
  if (!choices.includes(value))
    throw new InvalidArgumentError(line`${name} must be ${choices.join(' | ')}, not "${value}"`);
  return value;
};
