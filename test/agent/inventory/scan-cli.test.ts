/**
 * `aigate-agent scan` through the bundled test build (test/support/agent-bin.ts): the table, JSON equal to
 * the library's result, the stderr summary, flag validation, and a scan by an unprivileged user
 * that meets a folder it may not read.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';

import { afterAll, describe, expect, it } from 'vitest';

import { scanMachine } from '../../../agent/inventory/index.js';
import { agentBin } from '../../support/agent-bin.js';
import { cleanup, npmGlobal, scratch } from './fixtures.js';

afterAll(cleanup);

// The bundled test build, in a folder everyone may read: nobody cannot read a checkout in a root-only home.
const CLI = agentBin();
const NOBODY = 65534;

function agent(args: string[], asNobody = false) {
  const run = spawnSync(process.execPath, [CLI, ...args], {
    cwd: tmpdir(),
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: '/nonexistent' },
    ...(asNobody && process.getuid?.() === 0 ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

const t = scratch();
const home = t.dir('home/alice');
npmGlobal(t, 'home/alice/.npm-global', '@anthropic-ai/claude-code', { version: '2.1.50', bin: { claude: 'cli.js' } });
t.json('home/alice/.vscode/extensions/github.copilot-1.250.0/package.json', {
  publisher: 'GitHub',
  name: 'copilot',
  version: '1.250.0',
});
t.file('home/alice/.local/bin/copilot', '#!/bin/sh\n', 0o755);

describe('aigate-agent scan', () => {
  it('prints a table with tool, version, channel, user, path and running', () => {
    const run = agent(['scan', '--home', home, '--path', t.path('home/alice/.npm-global/bin'), '--no-running']);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TOOL\s+VERSION\s+CHANNEL\s+USER\s+PATH\s+RUNNING$/);
    expect(lines[1]).toMatch(
      new RegExp(
        `^claude-code\\s+2\\.1\\.50\\s+npm\\s+alice\\s+${t.path('home/alice/.npm-global/lib/node_modules/@anthropic-ai/claude-code')}\\s+-$`,
      ),
    );
    expect(lines[2]).toMatch(
      /^github-copilot-cli\s+\?\s+binary\s+alice\s+\S+\/home\/alice\/\.local\/bin\/copilot\s+-$/,
    );
    expect(lines[3]).toMatch(/^github-copilot-ide\s+1\.250\.0\s+vscode-extension \(vscode\)\s+alice\s+/);
    expect(lines.at(-1)).toBe('? = version not readable from files (the reason is in --json output)');
    expect(run.stderr).toMatch(/^aigate-agent scan: scanned 1 home in \d+ ms, found 3 instances; nothing skipped\n$/);
  });

  it('prints the same result as the library with --json', async () => {
    const run = agent(['scan', '--json', '--home', home, '--no-running']);
    expect(run.code).toBe(0);
    const printed = JSON.parse(run.stdout) as Awaited<ReturnType<typeof scanMachine>>;
    const direct = await scanMachine({
      homes: [home],
      detectRunning: false,
      paths: (process.env.PATH ?? '').split(':').filter((p) => p.startsWith('/')),
    });
    expect(printed.instances).toEqual(direct.instances);
    expect(printed.users).toEqual(['alice']);
    expect(printed.instances.find((i) => i.channel === 'binary')?.versionError).toMatch(/bare binary/);
  });

  it.each([
    [['scan', '--home', '/definitely/not/here'], 'aigate-agent scan: --home /definitely/not/here: no such directory'],
    [['scan', '--npm-prefix', CLI], `aigate-agent scan: --npm-prefix ${CLI}: not a directory`],
    [['scan', '--platform', 'beos'], 'aigate-agent scan: --platform beos: expected one of linux, darwin, windows'],
    [['scan', '--home'], "error: option '--home <dir>' argument missing"],
    [['scan', '--frobnicate'], "error: unknown option '--frobnicate'"],
  ])('refuses %j with exit 2', (args, message) => {
    const run = agent(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stdout).toBe('');
  });

  it('says what an unprivileged scan could not read, and still reports the rest', () => {
    const u = scratch();
    chmodSync(u.root, 0o755);
    const bob = u.dir('home/bob');
    npmGlobal(u, 'home/bob/.npm-global', '@openai/codex', { version: '0.149.1', bin: { codex: 'bin/codex.js' } });
    u.json('home/bob/.vscode/extensions/openai.chatgpt-0.4.0/package.json', { version: '0.4.0' });
    chmodSync(u.path('home/bob/.vscode/extensions'), 0o000);
    try {
      const run = agent(
        ['scan', '--json', '--home', bob, '--path', u.path('home/bob/.npm-global/bin'), '--no-running'],
        true,
      );
      expect(run.code).toBe(0);
      const result = JSON.parse(run.stdout) as Awaited<ReturnType<typeof scanMachine>>;
      expect(result.instances.map((i) => `${i.toolId} ${i.version}`)).toEqual(['openai-codex-cli 0.149.1']);
      expect(result.skipped).toEqual([{ path: u.path('home/bob/.vscode/extensions'), reason: 'permission denied' }]);
      expect(run.stderr).toMatch(/skipped 1 place \(1 permission denied\)/);
    } finally {
      chmodSync(u.path('home/bob/.vscode/extensions'), 0o755);
    }
  });
});
