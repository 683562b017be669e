/**
 * What a scan with named homes reads of the process's PATH (`aigate-agent once --home H`, the
 * README's trial): only the PATH folders inside those homes. A system install on root's PATH
 * (`/usr/local/bin` under sudo) was found, and a trial on one home quarantined it.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { scanMachine } from '../../../agent/inventory/index.js';
import { cleanup, scratch } from './fixtures.js';

afterAll(cleanup);
const savedPath = process.env.PATH;
afterEach(() => {
  process.env.PATH = savedPath;
});

/** A global npm prefix under `rel` with Claude Code and its bin link. */
function npmPrefix(t: ReturnType<typeof scratch>, rel: string): void {
  t.file(
    `${rel}/lib/node_modules/@anthropic-ai/claude-code/package.json`,
    JSON.stringify({ name: '@anthropic-ai/claude-code', version: '2.1.91', bin: { claude: 'cli.js' } }),
  );
  t.file(`${rel}/lib/node_modules/@anthropic-ai/claude-code/cli.js`, '#!/usr/bin/env node\n', 0o755);
  t.link(`${rel}/bin/claude`, `${rel}/lib/node_modules/@anthropic-ai/claude-code/cli.js`);
}

describe('a scan of named homes and the process PATH', () => {
  it.each([
    ['the PATH folders inside the homes only', undefined, ['home/alice/.npm-global']],
    ['the folders given with --path as well', ['usr-local/bin'], ['home/alice/.npm-global', 'usr-local']],
  ])('reads %s', async (_, given, expected) => {
    const t = scratch('aigate-scan-scope-');
    npmPrefix(t, 'home/alice/.npm-global');
    npmPrefix(t, 'usr-local');
    // A link in the home to the system folder is no way in (red-team round 20).
    t.rawLink('home/alice/sys', t.path('usr-local/bin'));
    process.env.PATH = [
      t.path('home/alice/.npm-global/bin'),
      t.path('usr-local/bin'),
      t.path('home/alice/sys'),
      '/usr/bin',
      '/bin',
    ].join(':');
    const result = await scanMachine({
      homes: [t.path('home/alice')],
      ...(given ? { paths: given.map((rel) => t.path(rel)) } : {}),
      detectRunning: false,
    });
    const found = result.instances.filter((i) => i.toolId === 'claude-code').map((i) => i.installPath);
    expect(found.sort()).toEqual(
      expected.map((rel) => t.path(rel, 'lib/node_modules/@anthropic-ai/claude-code')).sort(),
    );
  });
});
