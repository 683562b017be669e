/**
 * Shim managers are never the tool (issue 12 item 5, field case 17): a `claude` shim on PATH that
 * resolves to mise, Volta's shim binary, proto's or an asdf dispatch script is not reported as
 * Claude Code, so a block can never quarantine the manager that runs every other tool.
 */
import { afterAll, describe, expect, it } from 'vitest';

import { scanMachine } from '../../../agent/inventory/index.js';
import { shimManagerOf } from '../../../agent/inventory/shims.js';
import { cleanup, scratch } from './fixtures.js';

afterAll(cleanup);

describe('shim managers on PATH', () => {
  const t = scratch();
  const home = t.dir('home/alice');
  t.file('home/alice/.local/bin/mise', '#!/bin/sh\necho "mise 2025.9.0 shim for $(basename "$0")"\n', 0o755);
  t.link('home/alice/.local/share/mise/shims/claude', 'home/alice/.local/bin/mise');
  t.link('home/alice/.local/share/mise/shims/node', 'home/alice/.local/bin/mise');
  t.file('home/alice/.volta/bin/volta-shim', '\x7fELF', 0o755);
  t.link('home/alice/.volta/bin/codex', 'home/alice/.volta/bin/volta-shim');
  t.file(
    'home/alice/.asdf/shims/gemini',
    '#!/usr/bin/env bash\n# asdf-plugin: nodejs 22.3.0\nexec asdf exec "gemini" "$@"\n',
    0o755,
  );
  t.file('home/alice/.proto/bin/proto-shim', '\x7fELF', 0o755);
  t.link('home/alice/.proto/shims/copilot', 'home/alice/.proto/bin/proto-shim');
  // A real bare binary next to them is still reported.
  t.file('home/alice/tools/opencode', '\x7fELF', 0o755);

  it('reports none of the shims as the tool, and still reports a bare binary', async () => {
    const dirs = ['.local/share/mise/shims', '.volta/bin', '.asdf/shims', '.proto/shims', 'tools'].map((d) =>
      t.path(`home/alice/${d}`),
    );
    const result = await scanMachine({ homes: [home], paths: dirs, detectRunning: false });
    expect(result.instances.map((i) => `${i.toolId} ${i.installPath}`)).toEqual([
      `opencode ${t.path('home/alice/tools/opencode')}`,
    ]);
  });

  it.each([
    ['/home/a/.local/bin/mise', null, 'mise'],
    ['/usr/bin/volta-shim', null, 'volta-shim'],
    ['C:\\Users\\a\\.proto\\bin\\proto-shim.exe', null, 'proto-shim'],
    ['/home/a/.asdf/shims/claude', '#!/usr/bin/env bash\nexec asdf exec "claude" "$@"\n', 'asdf'],
    ['/home/a/bin/claude', '#!/bin/sh\nexec mise x -- claude "$@"\n', 'mise'],
    [
      '/home/a/.npm-global/lib/node_modules/@anthropic-ai/claude-code/cli.js',
      '#!/usr/bin/env node\nconsole.log(1)\n',
      null,
    ],
    ['/home/a/bin/claude', 'not a script asdf exec', null],
  ])('%s is a shim of %s', (real, head, expected) => {
    expect(shimManagerOf(real.replace(/\\/g, '/'), head)).toBe(expected);
  });
});
