/**
 * A whole machine under a root folder: users from the password database and /home, several
 * users with the same tool, system locations, running processes, and the pure marking logic.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';

import { afterAll, describe, expect, it } from 'vitest';

import { scanMachine } from '../../../agent/inventory/index.js';
import { markRunning } from '../../../agent/inventory/running.js';
import type { ToolInstance } from '../../../policies/inventory.js';
import { cleanup, find, npmGlobal, scratch, summary } from './fixtures.js';

const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  cleanup();
});

describe('a machine with several users', () => {
  const t = scratch();
  t.file(
    'etc/passwd',
    [
      'root:x:0:0:root:/root:/bin/bash',
      'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
      'alice:x:1000:1000:Alice:/home/alice:/bin/bash',
      'bob:x:1001:1001:Bob:/home/bob:/usr/bin/zsh',
      'svc:x:998:998::/srv/svc:/bin/sh',
      'nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin',
    ].join('\n') + '\n',
  );
  t.dir('root');
  t.dir('home/lost+found');
  npmGlobal(t, 'home/alice/.npm-global', '@anthropic-ai/claude-code', { version: '2.1.50', bin: { claude: 'cli.js' } });
  npmGlobal(t, 'home/bob/.npm-global', '@anthropic-ai/claude-code', { version: '2.1.168', bin: { claude: 'cli.js' } });
  t.file('home/bob/.local/share/claude/versions/2.1.200', 'ELF', 0o755);
  // carol is a directory-service user: in /home, not in /etc/passwd.
  t.json('home/carol/.cursor/extensions/openai.chatgpt-0.4.0/package.json', {
    publisher: 'openai',
    name: 'chatgpt',
    version: '0.4.0',
  });
  t.file(
    'root/.local/share/pipx/venvs/aider-chat/pipx_metadata.json',
    JSON.stringify({ main_package: { package: 'aider-chat', package_version: '0.86.1', apps: [] } }),
  );
  t.file('srv/svc/.local/share/claude/versions/2.1.1', 'ELF');

  it("scans every person's home (passwd and /home), records owners, and sorts deterministically", async () => {
    const result = await scanMachine({ root: t.root, paths: [], detectRunning: false });
    expect(result.users).toEqual(['alice', 'bob', 'carol', 'root']);
    expect(summary(result.instances)).toEqual([
      'aider 0.86.1 pipx root',
      'claude-code 2.1.50 npm alice',
      'claude-code 2.1.200 native bob',
      'claude-code 2.1.168 npm bob',
      'openai-codex-cli 0.4.0 vscode-extension carol cursor',
    ]);
    const again = await scanMachine({ root: t.root, paths: [], detectRunning: false });
    expect(again.instances).toEqual(result.instances);
    expect(result.platform).toBe(
      process.platform === 'darwin' ? 'darwin' : process.platform === 'win32' ? 'windows' : 'linux',
    );
    expect(new Date(result.startedAt).toString()).not.toBe('Invalid Date');
  });

  it('names an explicit home after its passwd entry, or its folder', async () => {
    const result = await scanMachine({
      root: t.root,
      homes: [t.path('home/bob'), t.path('home/carol'), t.path('home/bob/')],
      paths: [],
      detectRunning: false,
    });
    expect(result.users).toEqual(['bob', 'carol']);
  });
});

describe.runIf(process.platform === 'linux')('running processes', () => {
  const t = scratch();
  const home = t.dir('home/ran');
  const script = 'setInterval(() => {}, 1000);\n';
  npmGlobal(t, 'home/ran/.npm-global', '@anthropic-ai/claude-code', { version: '2.1.50', bin: { claude: 'cli.js' } });
  t.file('home/ran/.npm-global/lib/node_modules/@anthropic-ai/claude-code/cli.js', script);
  npmGlobal(t, 'home/ran/.npm-global', '@google/gemini-cli', { version: '0.9.0', bin: { gemini: 'bundle/gemini.js' } });
  t.file('home/ran/.npm-global/lib/node_modules/@google/gemini-cli/bundle/gemini.js', script);
  npmGlobal(t, 'home/ran/.npm-global', '@openai/codex', { version: '0.149.1', bin: { codex: 'bin/codex.js' } });

  const start = (file: string) => {
    const child = spawn(process.execPath, [file], { stdio: 'ignore' });
    children.push(child);
    return child;
  };

  it('marks instances whose files a live process runs, by install path or through a launcher', async () => {
    const direct = start(t.path('home/ran/.npm-global/lib/node_modules/@anthropic-ai/claude-code/cli.js'));
    const viaLauncher = start(t.path('home/ran/.npm-global/bin/gemini'));
    await new Promise((r) => setTimeout(r, 300));
    const result = await scanMachine({ homes: [home], paths: [] });
    expect(find(result.instances, 'claude-code')).toMatchObject({ running: true, pids: [direct.pid] });
    expect(find(result.instances, 'gemini-cli')).toMatchObject({ running: true, pids: [viaLauncher.pid] });
    expect(find(result.instances, 'openai-codex-cli')).toMatchObject({ running: false });
    expect(find(result.instances, 'openai-codex-cli').pids).toBeUndefined();
    const unchecked = await scanMachine({ homes: [home], paths: [], detectRunning: false });
    expect(unchecked.instances.every((i) => i.running === undefined)).toBe(true);
  });
});

describe('markRunning', () => {
  const instance = (toolId: string, installPath: string, launchers: string[] = []): ToolInstance => ({
    toolId,
    version: '1',
    channel: 'npm',
    installPath,
    launchers,
    owner: 'u',
    evidence: [],
  });

  it('matches executables and script arguments by path prefix or launcher, never by a sibling name', () => {
    const instances = [
      instance('claude-code', '/p/lib/node_modules/@anthropic-ai/claude-code', ['/p/bin/claude']),
      instance('cursor', '/Applications/Cursor.app'),
      instance('cline', '/p/lib/node_modules/cline'),
    ];
    markRunning(
      instances,
      [
        { pid: 10, paths: ['/usr/bin/node', '/p/bin/claude'] },
        { pid: 11, paths: ['/Applications/Cursor.app/Contents/MacOS/Cursor'] },
        {
          pid: 12,
          paths: ['/Applications/Cursor.app/Contents/Frameworks/Helper (Renderer).app/Contents/MacOS/Helper'],
        },
        { pid: 13, paths: ['/p/lib/node_modules/cline-other/cli.js'] },
        { pid: 14, paths: ['/elsewhere/link'] },
      ],
      (p) => (p === '/elsewhere/link' ? '/p/lib/node_modules/@anthropic-ai/claude-code/cli.js' : null),
    );
    expect(instances.map((i) => [i.toolId, i.running, i.pids])).toEqual([
      ['claude-code', true, [10, 14]],
      ['cursor', true, [11, 12]],
      ['cline', false, undefined],
    ]);
  });
});

describe('installPath is the real path', () => {
  const t = scratch();
  t.dir('real-home/alice');
  t.link('home-link', 'real-home/alice');
  npmGlobal(t, 'real-home/alice/.npm-global', '@openai/codex', { version: '0.150.0', bin: { codex: 'bin/codex.js' } });

  it('resolves a home reached through a symlink', async () => {
    const result = await scanMachine({ homes: [t.path('home-link')], paths: [], detectRunning: false });
    expect(result.instances[0]!.installPath).toBe(
      realpathSync(t.path('real-home/alice/.npm-global/lib/node_modules/@openai/codex')),
    );
  });
});
