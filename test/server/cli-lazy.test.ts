/**
 * The admin CLI loads an area's module only when one of its commands runs (server/cli/aigate.ts,
 * AREAS): the table it lists without loading must say what the modules register, and --help must
 * read exactly as with every area loaded.
 */
import { Command, Help } from 'commander';
import { describe, expect, it } from 'vitest';

import { AREAS, buildProgram, commandNamed, runAigate } from '../../server/cli/aigate.js';
import type { Output } from '../../server/cli/output.js';

function capture(): Output & { text: () => string } {
  const lines: string[] = [];
  return { out: (t) => lines.push(t), err: (t) => lines.push(`ERR ${t}`), text: () => lines.join('\n') };
}

describe('aigate loads areas lazily', () => {
  it("lists each area's top-level commands as its module registers them (name, description, help term, order)", async () => {
    const io = capture();
    for (const area of AREAS) {
      const program = new Command('aigate');
      (await area.load())({ program, io, env: {}, setExit: () => undefined });
      const help = new Help();
      expect(
        program.commands.map((c) => ({ name: c.name(), term: help.subcommandTerm(c), description: c.description() })),
      ).toEqual(area.commands);
    }
  });

  it('prints the same --help, and the same error for an unknown command, as with every area loaded', async () => {
    for (const argv of [['--help'], [], ['help'], ['polcy']]) {
      const lazy = capture();
      const lazyCode = await runAigate(argv, lazy, {});
      const eager = capture();
      let eagerCode = 0;
      const program = await buildProgram(eager, {}, () => undefined);
      try {
        await program.parseAsync(argv, { from: 'user' });
      } catch (error) {
        eagerCode = (error as { exitCode: number }).exitCode === 0 ? 0 : 2;
      }
      expect(lazy.text(), argv.join(' ')).toBe(eager.text());
      expect(lazyCode, argv.join(' ')).toBe(eagerCode);
    }
    const help = capture();
    await runAigate(['--help'], help, {});
    expect(help.text()).toContain('devices [options]');
    expect(help.text()).toContain('whoami');
  });

  it('finds the command a line names past the program options', () => {
    expect(commandNamed(['--server', 'http://x', '--token', 't', 'policy', 'list'])).toBe('policy');
    expect(commandNamed(['help', 'devices'])).toBe('devices');
    expect(commandNamed(['--help'])).toBeNull();
    expect(commandNamed([])).toBeNull();
    expect(commandNamed(['--', 'audit'])).toBe('audit');
  });

  it('runs a command of a loaded area: policy validate needs no server', async () => {
    const io = capture();
    const code = await runAigate(['policy', 'validate', '/definitely/not/here.yaml'], io, {});
    expect(code).not.toBe(0);
    expect(io.text()).toContain('/definitely/not/here.yaml');
  });
});
