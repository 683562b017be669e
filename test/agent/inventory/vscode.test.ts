/** VS Code-family extension folders, with the editors' own records of what is installed. */
import { realpathSync } from 'node:fs';

import { afterAll, describe, expect, it } from 'vitest';

import { scanMachine } from '../../../agent/inventory/index.js';
import { cleanup, find, scratch, summary, type Tree } from './fixtures.js';

afterAll(cleanup);

const quiet = { detectRunning: false, paths: [] as string[] };

function extension(t: Tree, dirRel: string, folder: string, publisher: string, name: string, version: string): string {
  t.json(`${dirRel}/${folder}/package.json`, {
    name,
    displayName: name,
    publisher,
    version,
    engines: { vscode: '^1.90.0' },
  });
  return t.path(`${dirRel}/${folder}`);
}

function extensionsJson(t: Tree, dirRel: string, entries: [id: string, version: string, folder: string][]): void {
  t.json(
    `${dirRel}/extensions.json`,
    entries.map(([id, version, folder]) => ({
      identifier: { id, uuid: '00000000-0000-0000-0000-000000000000' },
      version,
      location: { $mid: 1, path: t.path(`${dirRel}/${folder}`), scheme: 'file' },
      relativeLocation: folder,
      metadata: { installedTimestamp: 1750000000000, source: 'gallery' },
    })),
  );
}

describe('VS Code-family extensions', () => {
  const t = scratch();
  const home = t.dir('home/alice');
  const vs = 'home/alice/.vscode/extensions';
  const claude = extension(t, vs, 'anthropic.claude-code-2.1.50-linux-x64', 'Anthropic', 'claude-code', '2.1.50');
  extension(t, vs, 'github.copilot-1.250.0', 'GitHub', 'copilot', '1.250.0');
  extension(t, vs, 'github.copilot-1.240.0', 'GitHub', 'copilot', '1.240.0');
  extension(t, vs, 'github.copilot-chat-0.30.0', 'GitHub', 'copilot-chat', '0.30.0');
  extension(t, vs, 'saoudrizwan.claude-dev-3.20.0', 'saoudrizwan', 'claude-dev', '3.20.0');
  extension(t, vs, 'ms-python.python-2024.1.0', 'ms-python', 'python', '2024.1.0');
  extension(t, vs, 'someone.claude-helper-0.1.0', 'someone', 'claude-helper', '0.1.0');
  // Uninstalled: the folder is still there but extensions.json no longer lists it.
  extension(t, vs, 'rooveterinaryinc.roo-cline-3.31.1', 'RooVeterinaryInc', 'roo-cline', '3.31.1');
  extensionsJson(t, vs, [
    ['anthropic.claude-code', '2.1.50', 'anthropic.claude-code-2.1.50-linux-x64'],
    ['github.copilot', '1.250.0', 'github.copilot-1.250.0'],
    ['github.copilot-chat', '0.30.0', 'github.copilot-chat-0.30.0'],
    ['saoudrizwan.claude-dev', '3.20.0', 'saoudrizwan.claude-dev-3.20.0'],
    ['ms-python.python', '2024.1.0', 'ms-python.python-2024.1.0'],
    ['someone.claude-helper', '0.1.0', 'someone.claude-helper-0.1.0'],
  ]);
  t.json(`${vs}/.obsolete`, { 'github.copilot-1.240.0': true });
  const cur = 'home/alice/.cursor/extensions';
  extension(t, cur, 'openai.chatgpt-0.4.0-linux-x64', 'openai', 'chatgpt', '0.4.0');
  extension(t, cur, 'anthropic.claude-code-2.1.49', 'Anthropic', 'claude-code', '2.1.49');
  t.json(`${cur}/.obsolete`, { 'anthropic.claude-code-2.1.49': true });
  extension(
    t,
    'home/alice/.vscode-server/extensions',
    'continue.continue-1.2.3-linux-x64',
    'Continue',
    'continue',
    '1.2.3',
  );
  // A folder name that says one version while package.json says another: the manifest wins.
  extension(t, 'home/alice/.windsurf/extensions', 'codeium.codeium-1.30.0', 'Codeium', 'codeium', '1.30.2');

  it('reports installed AI extensions per editor and skips removed and superseded folders', async () => {
    const result = await scanMachine({ homes: [home], ...quiet });
    expect(summary(result.instances)).toEqual([
      'claude-code 2.1.50 vscode-extension alice vscode',
      'cline 3.20.0 vscode-extension alice vscode',
      'continue 1.2.3 vscode-extension alice vscode-server',
      'github-copilot-ide 1.250.0 vscode-extension alice vscode',
      'github-copilot-ide 0.30.0 vscode-extension alice vscode',
      'openai-codex-cli 0.4.0 vscode-extension alice cursor',
      'windsurf 1.30.2 vscode-extension alice windsurf',
    ]);
    expect(find(result.instances, 'claude-code')).toEqual({
      toolId: 'claude-code',
      version: '2.1.50',
      channel: 'vscode-extension',
      installPath: realpathSync(claude),
      launchers: [],
      owner: 'alice',
      evidence: [`${claude}/package.json`],
      host: 'vscode',
    });
  });

  it('counts every folder when extensions.json is malformed, and says so', async () => {
    t.file(`${vs}/extensions.json`, '[{"identifier": ');
    const result = await scanMachine({ homes: [home], ...quiet });
    expect(result.instances.filter((i) => i.host === 'vscode').map((i) => `${i.toolId} ${i.version}`)).toEqual([
      'claude-code 2.1.50',
      'cline 3.20.0',
      'github-copilot-ide 1.250.0',
      'github-copilot-ide 0.30.0',
      'roo-code 3.31.1',
    ]);
    expect(result.skipped).toEqual([
      {
        path: t.path(`${vs}/extensions.json`),
        reason: expect.stringMatching(/^malformed JSON .*every extension folder counted as installed$/),
      },
    ]);
  });

  it('reads Windows homes the same way', async () => {
    const w = scratch();
    const bob = w.dir('Users/bob');
    extension(
      w,
      'Users/bob/.vscode/extensions',
      'google.geminicodeassist-2.40.0',
      'Google',
      'geminicodeassist',
      '2.40.0',
    );
    const result = await scanMachine({ homes: [bob], platform: 'windows', ...quiet });
    expect(summary(result.instances)).toEqual(['gemini-code-assist 2.40.0 vscode-extension bob vscode']);
  });
});
