/**
 * `aigate-agent --help` lists the commands from a table without loading their modules
 * (agent/commands/program.ts, COMMANDS): the table must say what the modules register, and the
 * help must read exactly as with every command loaded.
 */
import { spawnSync } from 'node:child_process';

import { Command, Help } from 'commander';
import { describe, expect, it } from 'vitest';

import { PRODUCTION_HOOKS } from '../../agent/commands/hooks.js';
import { COMMANDS } from '../../agent/commands/program.js';
import { AGENT_VERSION } from '../../agent/version.js';
import { agentBin } from '../support/agent-bin.js';

/** The program with every command's module loaded, as the CLI was before it listed them from the table. */
async function loadedProgram(): Promise<Command> {
  const program = new Command('aigate-agent')
    .description('find developer AI tools on this machine and apply the company policy to them')
    .version(AGENT_VERSION);
  for (const c of COMMANDS) (await c.load())(program, PRODUCTION_HOOKS);
  return program;
}

describe('aigate-agent lists its commands without loading them', () => {
  it('has the name, help term and description each module registers, in order', async () => {
    const program = await loadedProgram();
    const help = new Help();
    expect(
      program.commands.map((c) => ({ name: c.name(), term: help.subcommandTerm(c), description: c.description() })),
    ).toEqual(COMMANDS.map(({ name, term, description }) => ({ name, term, description })));
  });

  it('prints the same --help as with every command loaded, and a command its own help', async () => {
    const expected = (await loadedProgram()).helpInformation();
    for (const args of [['--help'], ['help']]) {
      const run = spawnSync(process.execPath, [agentBin(), ...args], { encoding: 'utf8' });
      expect(run.status, args.join(' ')).toBe(0);
      expect(run.stdout, args.join(' ')).toBe(expected);
    }
    const once = spawnSync(process.execPath, [agentBin(), 'once', '--help'], { encoding: 'utf8' });
    expect(once.stdout).toContain('--state-dir');
    const unknown = spawnSync(process.execPath, [agentBin(), 'onse'], { encoding: 'utf8' });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('(Did you mean once?)');
  });
});
