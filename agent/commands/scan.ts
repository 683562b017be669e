/**
 * `aigate-agent scan`: list the AI tools installed on this machine, for every user, without
 * running any of them. A table by default, the full result with --json; a one-line summary of
 * what could not be read goes to stderr. --home, --npm-prefix, --path (repeatable) replace the
 * automatic roots so a prepared tree can be scanned.
 */
import { statSync } from 'node:fs';
import * as path from 'node:path';

import type { Command } from 'commander';

import { OS_NAMES, type OsName } from '../../policies/schema.js';
import { formatTable, summaryLine } from '../inventory/format.js';
import { scanMachine } from '../inventory/index.js';
import type { ScanOptions } from '../inventory/types.js';

interface ScanFlags {
  json?: boolean;
  home: string[];
  npmPrefix: string[];
  brewPrefix: string[];
  path: string[];
  root?: string;
  platform?: string;
  system?: boolean;
  running: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerScan(program: Command): void {
  program
    .command('scan')
    .description('list the AI tools installed on this machine (reads files only; never runs a found tool)')
    .option('--json', 'print the full result as JSON')
    .option('--home <dir>', "scan this home instead of every user's (repeatable)", collect, [])
    .option('--npm-prefix <dir>', 'npm global prefix to read instead of the automatic ones (repeatable)', collect, [])
    .option('--brew-prefix <dir>', 'Homebrew prefix to read instead of the automatic ones (repeatable)', collect, [])
    .option('--path <dir>', 'directory to treat as PATH instead of $PATH (repeatable)', collect, [])
    .option('--root <dir>', 'folder standing for / when looking up users and system locations')
    .option('--platform <os>', `whose layouts to expect: ${OS_NAMES.join(' | ')} (default: this machine's)`)
    .option('--system', 'with --home, also read system-wide locations')
    .option('--no-running', 'do not look for running processes')
    // Usage errors (unknown or incomplete flags) exit 2 like other invalid invocations.
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2))
    .action(async (flags: ScanFlags) => {
      const options = toOptions(flags);
      if (typeof options === 'string') {
        process.stderr.write(`aigate-agent scan: ${options}\n`);
        process.exitCode = 2;
        return;
      }
      const result = await scanMachine(options);
      process.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : formatTable(result.instances));
      process.stderr.write(
        `aigate-agent scan: ${summaryLine(result)}${result.skipped.length && !flags.json ? '; details with --json' : ''}\n`,
      );
    });
}

/** The scan options the flags ask for, or what is wrong with them. */
function toOptions(flags: ScanFlags): ScanOptions | string {
  for (const [flag, dirs] of [
    ['--home', flags.home],
    ['--npm-prefix', flags.npmPrefix],
    ['--brew-prefix', flags.brewPrefix],
    ['--path', flags.path],
    ['--root', flags.root === undefined ? [] : [flags.root]],
  ] as const) {
    for (const dir of dirs) {
      const problem = directoryProblem(dir);
      if (problem) return `${flag} ${dir}: ${problem}`;
    }
  }
  if (flags.platform !== undefined && !(OS_NAMES as readonly string[]).includes(flags.platform)) {
    return `--platform ${flags.platform}: expected one of ${OS_NAMES.join(', ')}`;
  }
  const options: ScanOptions = { detectRunning: flags.running };
  if (flags.home.length) options.homes = flags.home.map((d) => path.resolve(d));
  if (flags.npmPrefix.length) options.npmPrefixes = flags.npmPrefix.map((d) => path.resolve(d));
  if (flags.brewPrefix.length) options.brewPrefixes = flags.brewPrefix.map((d) => path.resolve(d));
  if (flags.path.length) options.paths = flags.path.map((d) => path.resolve(d));
  if (flags.root !== undefined) options.root = path.resolve(flags.root);
  if (flags.platform !== undefined) options.platform = flags.platform as OsName;
  if (flags.system) options.systemRoots = true;
  return options;
}

function directoryProblem(dir: string): string | null {
  if (dir.trim() === '') return 'empty path';
  try {
    return statSync(dir).isDirectory() ? null : 'not a directory';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT'
      ? 'no such directory'
      : code === 'EACCES'
        ? 'permission denied'
        : `cannot read (${code ?? 'error'})`;
  }
}
