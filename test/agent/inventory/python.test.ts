/** pipx venvs, uv tools and site-packages, laid out as pip, pipx and uv write them. */
import { realpathSync } from 'node:fs';

import { afterAll, describe, expect, it } from 'vitest';

import { scanMachine } from '../../../agent/inventory/index.js';
import { cleanup, find, scratch, summary, type Tree } from './fixtures.js';

afterAll(cleanup);

const quiet = { detectRunning: false, paths: [] as string[] };

function metadata(name: string, version: string, requires: string[] = []): string {
  return [
    `Metadata-Version: 2.1`,
    `Name: ${name}`,
    `Version: ${version}`,
    `Summary: a tool`,
    ...requires.map((r) => `Requires-Dist: ${r}`),
    '',
    `# ${name}`,
    '',
    'Version: 9.9.9 (in the description, not a header)',
  ].join('\n');
}

function pipxVenv(
  t: Tree,
  venvsRel: string,
  dist: string,
  version: string,
  opts: { requires?: string[]; apps?: string[]; python?: string; windows?: boolean } = {},
): string {
  const venv = `${venvsRel}/${dist}`;
  const sp = opts.windows ? `${venv}/Lib/site-packages` : `${venv}/lib/${opts.python ?? 'python3.12'}/site-packages`;
  t.file(`${sp}/${dist.replace(/-/g, '_')}-${version}.dist-info/METADATA`, metadata(dist, version, opts.requires));
  const apps = opts.apps ?? [];
  for (const app of apps) t.file(opts.windows ? `${venv}/Scripts/${app}` : `${venv}/bin/${app}`, '#!python\n', 0o755);
  t.json(`${venv}/pipx_metadata.json`, {
    main_package: {
      package: dist,
      package_or_url: dist,
      package_version: version,
      apps,
      app_paths: apps.map((a) => ({
        __type__: 'Path',
        __Path__: t.path(opts.windows ? `${venv}/Scripts/${a}` : `${venv}/bin/${a}`),
      })),
      include_dependencies: false,
    },
    pipx_metadata_version: '0.5',
    injected_packages: {},
  });
  return t.path(venv);
}

describe('pipx', () => {
  const t = scratch();
  const home = t.dir('home/alice');
  const aider = pipxVenv(t, 'home/alice/.local/share/pipx/venvs', 'aider-chat', '0.86.1', {
    apps: ['aider'],
    requires: ['litellm>=1.0', 'openai'],
  });
  t.link('home/alice/.local/bin/aider', 'home/alice/.local/share/pipx/venvs/aider-chat/bin/aider');
  const helper = pipxVenv(t, 'home/alice/.local/share/pipx/venvs', 'llm-helper', '0.3.0', {
    apps: ['llmh'],
    requires: ['anthropic>=0.30', 'rich', 'openai ; extra == "openai"'],
  });
  t.link('home/alice/.local/bin/llmh', 'home/alice/.local/share/pipx/venvs/llm-helper/bin/llmh');
  pipxVenv(t, 'home/alice/.local/share/pipx/venvs', 'black', '24.8.0', { apps: ['black'], requires: ['click>=8'] });
  pipxVenv(t, 'home/alice/.local/share/pipx/venvs', 'claude-helper', '0.1.0', {
    apps: ['claude-helper'],
    requires: ['requests', 'openai ; extra == "ai"'],
  });

  it('reads pipx_metadata.json; unknown tools by their AI requirements; nothing for the rest', async () => {
    const result = await scanMachine({ homes: [home], ...quiet });
    expect(summary(result.instances)).toEqual(['aider 0.86.1 pipx alice', 'unknown:pipx:llm-helper 0.3.0 pipx alice']);
    expect(find(result.instances, 'aider')).toMatchObject({
      installPath: realpathSync(aider),
      launchers: [t.path('home/alice/.local/bin/aider')],
      evidence: [t.path('home/alice/.local/share/pipx/venvs/aider-chat/pipx_metadata.json')],
    });
    const unknown = find(result.instances, 'unknown:pipx:llm-helper');
    expect(unknown).toMatchObject({
      name: 'llm-helper',
      installPath: realpathSync(helper),
      launchers: [t.path('home/alice/.local/bin/llmh')],
    });
    expect(unknown.evidence).toContain('requires anthropic');
    expect(unknown.evidence).not.toContain('requires openai');
  });

  it('falls back to the dist-info when pipx_metadata.json is malformed, and says so', async () => {
    const t2 = scratch();
    const bob = t2.dir('home/bob');
    pipxVenv(t2, 'home/bob/.local/share/pipx/venvs', 'aider-chat', '0.85.0', { apps: ['aider'] });
    t2.file('home/bob/.local/share/pipx/venvs/aider-chat/pipx_metadata.json', '{"main_package": ');
    const result = await scanMachine({ homes: [bob], ...quiet });
    expect(summary(result.instances)).toEqual(['aider 0.85.0 pipx bob']);
    expect(result.skipped).toEqual([
      {
        path: t2.path('home/bob/.local/share/pipx/venvs/aider-chat/pipx_metadata.json'),
        reason: expect.stringMatching(/^malformed JSON/),
      },
    ]);
  });

  it('handles Windows venvs (Lib\\site-packages) and copied launchers', async () => {
    const w = scratch();
    const dan = w.dir('Users/dan');
    pipxVenv(w, 'Users/dan/pipx/venvs', 'aider-chat', '0.86.1', { apps: ['aider.exe'], windows: true });
    w.file('Users/dan/.local/bin/aider.exe', 'MZ');
    const result = await scanMachine({ homes: [dan], platform: 'windows', ...quiet });
    expect(result.instances.map((i) => [i.toolId, i.version, i.launchers])).toEqual([
      ['aider', '0.86.1', [w.path('Users/dan/.local/bin/aider.exe')]],
    ]);
  });
});

describe('uv tools', () => {
  const t = scratch();
  const home = t.dir('home/kim');
  t.file(
    'home/kim/.local/share/uv/tools/kimi-cli/uv-receipt.toml',
    `[tool]\nrequirements = [{ name = "kimi-cli" }]\nentrypoints = [\n    { name = "kimi", install-path = "${t.path('home/kim/.local/bin/kimi')}", from = "kimi-cli" },\n]\n\n[tool.options]\nexclude-newer-package = {}\n`,
  );
  t.file(
    'home/kim/.local/share/uv/tools/kimi-cli/lib/python3.13/site-packages/kimi_cli-0.66.0.dist-info/METADATA',
    metadata('kimi-cli', '0.66.0', ['openai>=1']),
  );
  t.file('home/kim/.local/share/uv/tools/kimi-cli/bin/kimi', '#!python\n', 0o755);
  t.link('home/kim/.local/bin/kimi', 'home/kim/.local/share/uv/tools/kimi-cli/bin/kimi');
  t.file(
    'home/kim/.local/share/uv/tools/my-agent/uv-receipt.toml',
    `[tool]\nrequirements = [{ name = "my-agent", specifier = ">=0.2" }]\nentrypoints = []\n`,
  );
  t.file(
    'home/kim/.local/share/uv/tools/my-agent/lib/python3.12/site-packages/my_agent-0.2.1.dist-info/METADATA',
    metadata('My_Agent', '0.2.1', ['LiteLLM>=1.40', 'typer']),
  );
  t.file('home/kim/.local/share/uv/tools/ruff/uv-receipt.toml', `[tool]\nrequirements = [{ name = "ruff" }]\n`);
  t.file(
    'home/kim/.local/share/uv/tools/ruff/lib/python3.12/site-packages/ruff-0.6.0.dist-info/METADATA',
    metadata('ruff', '0.6.0'),
  );

  it('reads receipts and dist-info versions; unknown tools by their AI requirements', async () => {
    const result = await scanMachine({ homes: [home], ...quiet });
    expect(summary(result.instances)).toEqual(['kimi-cli 0.66.0 uv kim', 'unknown:uv:my-agent 0.2.1 uv kim']);
    expect(find(result.instances, 'kimi-cli').launchers).toEqual([t.path('home/kim/.local/bin/kimi')]);
    expect(find(result.instances, 'unknown:uv:my-agent').evidence).toContain('requires litellm');
  });
});

describe('site-packages', () => {
  const t = scratch();
  const home = t.dir('home/pat');
  const sp = 'home/pat/.local/lib/python3.12/site-packages';
  t.file(`${sp}/aider_chat-0.80.0.dist-info/METADATA`, metadata('aider-chat', '0.80.0'));
  t.file(`${sp}/aider_chat-0.80.0.dist-info/top_level.txt`, 'aider\n');
  t.file(
    `${sp}/aider_chat-0.80.0.dist-info/RECORD`,
    '../../../bin/aider,sha256=abc,220\naider/__init__.py,sha256=def,10\n"aider/odd,name.py",sha256=x,1\n',
  );
  t.file(`${sp}/aider/__init__.py`, '');
  t.file('home/pat/.local/bin/aider', '#!/usr/bin/python3\nfrom aider.main import main\n', 0o755);
  t.file(`${sp}/requests-2.32.0.dist-info/METADATA`, metadata('requests', '2.32.0'));
  // Every fixture file belongs to the test's uid: call it "sysadmin" in this machine's passwd.
  t.file('etc/passwd', `sysadmin:x:${process.getuid?.() ?? 0}:0::/nonexistent:/usr/sbin/nologin\n`);
  t.file('usr/lib/python3/dist-packages/kimi_cli-0.50.0.dist-info/METADATA', 'Name: kimi-cli\nVersion: 0.50.0\n');
  t.file('usr/lib/python3/dist-packages/kimi_cli/__init__.py', '');
  t.file('usr/lib/python3/dist-packages/kimi_cli-0.50.0.dist-info/top_level.txt', 'kimi_cli\n');

  it('reads user and system site-packages with RECORD launchers', async () => {
    const result = await scanMachine({ homes: [home], root: t.root, systemRoots: true, npmPrefixes: [], ...quiet });
    expect(summary(result.instances)).toEqual(['aider 0.80.0 pip pat', 'kimi-cli 0.50.0 pip sysadmin']);
    expect(find(result.instances, 'aider')).toMatchObject({
      installPath: realpathSync(t.path(`${sp}/aider`)),
      launchers: [t.path('home/pat/.local/bin/aider')],
    });
    expect(find(result.instances, 'kimi-cli').installPath).toBe(
      realpathSync(t.path('usr/lib/python3/dist-packages/kimi_cli')),
    );
  });
});
