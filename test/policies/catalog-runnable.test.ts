/** The rules for which files of an npm instance run the tool (policies/catalog/runnable.ts). */
import { describe, expect, it } from 'vitest';

import { binTargetsInside, namedAfterTool } from '../../policies/catalog/runnable.js';

describe('which files of an install run the tool', () => {
  it.each([
    ['a bin inside', { claude: 'cli.js' }, ['/p/claude-code/cli.js']],
    ['a nested bin, named twice', { codex: 'bin/codex.js', cx: './bin/codex.js' }, ['/p/claude-code/bin/codex.js']],
    ['a bin leaving the install', { sh: '../../../usr/bin/bash' }, []],
    ['a bin naming the install itself', { x: '.' }, []],
    ['an absolute bin', { x: '/usr/bin/env' }, []],
    ['a sibling with the same prefix', { x: '../claude-code-evil/cli.js' }, []],
  ])('%s', (_what, bin, expected) => {
    expect(binTargetsInside('/p/claude-code', bin)).toEqual(expected);
  });

  it.each([
    ['claude', ['claude'], true],
    ['claude.exe', ['claude'], true],
    ['codex-x86_64-unknown-linux-musl', ['codex'], true],
    ['CODEX.EXE', ['codex'], true],
    ['rg', ['claude'], false],
    ['claudette', ['claude'], false],
    ['codex', [], false],
  ] as const)('%s named after %j: %s', (name, binaries, expected) => {
    expect(namedAfterTool(name, binaries)).toBe(expected);
  });
});
