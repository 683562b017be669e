/**
 * Issue 13, inventory from the field: roots moved by each user's own environment, version
 * managers' own layouts (mise incl. its npm and pipx backends, asdf, Volta, yarn, bun), editor
 * profiles and folder namings, one file reached by several paths, aigate's own files, special
 * files. Each case is a real on-disk layout: real npm installs where npm is involved, other
 * tools' layouts built from their documented structure (sources named at each case).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, linkSync, mkdirSync, realpathSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { scanMachine } from '../../../agent/inventory/index.js';
import { cleanup, find, npmGlobal, scratch, summary, type Tree, zip } from './fixtures.js';
import { npmInstallGlobal, pnpmGlobalHome } from './real-npm.js';

afterAll(cleanup);

const quiet = { detectRunning: false, paths: [] as string[] };
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** A uv tool environment as uv writes it (uv-receipt.toml, dist-info, bin), as in field case 12. */
function uvTool(t: Tree, toolsRel: string, dist: string, version: string, bin: string, binDirAbs: string): string {
  const dir = `${toolsRel}/${dist}`;
  const module = dist.replace(/-/g, '_');
  t.file(
    `${dir}/uv-receipt.toml`,
    `[tool]\nrequirements = [{ name = "${dist}" }]\npython = "python3.12"\nentrypoints = [\n    { name = "${bin}", install-path = "${binDirAbs}/${bin}", from = "${dist}" },\n]\n`,
  );
  t.file(`${dir}/pyvenv.cfg`, 'home = /usr/bin\nimplementation = CPython\nuv = 0.7.9\nversion_info = 3.12.10\n');
  t.file(
    `${dir}/lib/python3.12/site-packages/${module}-${version}.dist-info/METADATA`,
    `Metadata-Version: 2.4\nName: ${dist}\nVersion: ${version}\n\n`,
  );
  t.file(`${dir}/bin/${bin}`, `#!${t.path(dir)}/bin/python\nfrom aider.main import main\nmain()\n`, 0o755);
  return t.path(dir);
}

/** A VS Code extensions.json entry (the shape VS Code 1.9x writes). */
function extEntry(id: string, version: string, location: string) {
  return {
    identifier: { id },
    version,
    location: { $mid: 1, fsPath: location, path: location, scheme: 'file' },
    relativeLocation: location.split('/').pop(),
    metadata: { installedTimestamp: 1760000000000, source: 'gallery' },
  };
}

function vscodeExtension(
  t: Tree,
  dirRel: string,
  folder: string,
  name: string,
  publisher: string,
  version: string,
): string {
  t.json(`${dirRel}/${folder}/package.json`, { name, publisher, version, engines: { vscode: '^1.90.0' } });
  return t.path(`${dirRel}/${folder}`);
}

const pluginXml = (id: string, version: string) =>
  `<?xml version="1.0"?>\n<idea-plugin>\n  <id>${id}</id>\n  <name>Claude Code [Beta]</name>\n  <version>${version}</version>\n</idea-plugin>\n`;

describe("roots moved by the user's own environment", () => {
  // Field case 07 (pnpm/pnpm#4658): bob exports PNPM_HOME=$HOME/pnpm from ~/.zshrc; the daemon-style
  // scan has neither user's environment. Real pnpm 10 global installs of a real package.
  it('pnpm: the default PNPM_HOME and one exported from ~/.zshrc', { timeout: 400_000 }, async () => {
    const t = scratch();
    const alice = t.dir('home/alice');
    const bob = t.dir('home/bob');
    pnpmGlobalHome(alice, '10.34.9', ['@openai/codex@0.111.0']);
    pnpmGlobalHome(bob, '10.34.9', ['@openai/codex@0.111.0']);
    renameSync(join(bob, '.local/share/pnpm'), join(bob, 'pnpm'));
    t.file('home/bob/.zshrc', `export PATH="${bob}/pnpm:$PATH"\nexport PNPM_HOME="${bob}/pnpm"\n`);
    const result = await scanMachine({ homes: [alice, bob], ...quiet });
    const codex = result.instances
      .filter((i) => i.toolId === 'openai-codex-cli')
      .map((i) => ({ owner: i.owner, version: i.version, launchers: i.launchers }));
    expect(codex).toEqual([
      { owner: 'alice', version: '0.111.0', launchers: [join(alice, '.local/share/pnpm/codex')] },
      { owner: 'bob', version: '0.111.0', launchers: [join(bob, 'pnpm/codex')] },
    ]);
  });

  // nvm-sh/nvm README ("Install & Update Script"): with XDG_CONFIG_HOME set, NVM_DIR is
  // $XDG_CONFIG_HOME/nvm; XDG_CONFIG_HOME itself exported from ~/.profile. Real npm install.
  it('nvm: NVM_DIR under an XDG_CONFIG_HOME exported from ~/.profile', { timeout: 200_000 }, async () => {
    const t = scratch();
    const carol = t.dir('home/carol');
    t.file('home/carol/.profile', 'export XDG_CONFIG_HOME="$HOME/.xdg/config"\n');
    t.file(
      'home/carol/.bashrc',
      'export NVM_DIR="$([ -z "${XDG_CONFIG_HOME-}" ] && printf %s "${HOME}/.nvm" || printf %s "${XDG_CONFIG_HOME}/nvm")"\n[ -s "$NVM_DIR/nvm.sh" ] && \\. "$NVM_DIR/nvm.sh"\n',
    );
    const prefix = t.dir('home/carol/.xdg/config/nvm/versions/node/v22.10.0');
    npmInstallGlobal(prefix, ['@openai/codex@0.111.0'], { omitOptional: true });
    const result = await scanMachine({ homes: [carol], ...quiet });
    const codex = find(result.instances, 'openai-codex-cli');
    expect(codex.installPath).toBe(realpathSync(join(prefix, 'lib/node_modules/@openai/codex')));
    expect(codex.launchers).toEqual([join(prefix, 'bin/codex')]);
    expect(codex.version).toBe('0.111.0');
  });

  // fish: a dotfile moving bun under XDG (`set -gx BUN_INSTALL $XDG_DATA_HOME/bun`); bun's global
  // layout `$BUN_INSTALL/install/global/node_modules`, bins linked from `$BUN_INSTALL/bin` (bun docs).
  // environment.d(5): `KEY=${OTHER}/x` lines; uv honours UV_TOOL_DIR (uv docs "Tools", storage).
  it('fish config.fish and conf.d, environment.d, fish_variables', async () => {
    const t = scratch();
    const dan = t.dir('home/dan');
    t.file('home/dan/.config/fish/conf.d/00-xdg.fish', 'set -gx XDG_DATA_HOME $HOME/.xdg/data\n');
    t.file(
      'home/dan/.config/fish/config.fish',
      'set -gx BUN_INSTALL $XDG_DATA_HOME/bun\nfish_add_path $BUN_INSTALL/bin\n',
    );
    npmGlobal(t, 'home/dan/.xdg/data/bun/install/global', '@google/gemini-cli', {
      version: '0.9.0',
      bin: { gemini: 'dist/index.js' },
    });
    t.link(
      'home/dan/.xdg/data/bun/bin/gemini',
      'home/dan/.xdg/data/bun/install/global/lib/node_modules/@google/gemini-cli/dist/index.js',
    );
    // bun puts node_modules right in install/global (no lib/): move the fixture's lib level away.
    renameSync(
      t.path('home/dan/.xdg/data/bun/install/global/lib/node_modules'),
      t.path('home/dan/.xdg/data/bun/install/global/node_modules'),
    );
    rmSync(t.path('home/dan/.xdg/data/bun/bin/gemini'));
    t.link(
      'home/dan/.xdg/data/bun/bin/gemini',
      'home/dan/.xdg/data/bun/install/global/node_modules/@google/gemini-cli/dist/index.js',
    );
    t.file('home/dan/.config/environment.d/60-uv.conf', 'UV_TOOL_DIR=${HOME}/.tools/uv\n');
    uvTool(t, 'home/dan/.tools/uv', 'aider-chat', '0.86.1', 'aider', join(dan, '.local/bin'));
    t.link('home/dan/.local/bin/aider', 'home/dan/.tools/uv/aider-chat/bin/aider');
    t.file(
      'home/dan/.config/fish/fish_variables',
      '# VERSION: 3.0\nSETUVAR --export PIPX_HOME:/nowhere\\x2dat\\x2dall\n',
    );
    const result = await scanMachine({ homes: [dan], ...quiet });
    expect(summary(result.instances)).toEqual(['aider 0.86.1 uv dan', 'gemini-cli 0.9.0 npm dan']);
    expect(find(result.instances, 'gemini-cli').launchers).toEqual([join(dan, '.xdg/data/bun/bin/gemini')]);
    expect(find(result.instances, 'aider').launchers).toEqual([join(dan, '.local/bin/aider')]);
  });

  it("never follows a value or a startup file out of the user's home", async () => {
    const t = scratch();
    const eve = t.dir('home/eve');
    npmGlobal(t, 'opt/shared/pnpm/global/5', '@openai/codex', { version: '0.100.0', bin: { codex: 'bin/codex.js' } });
    // pnpm's layout has node_modules without lib/: move it.
    renameSync(t.path('opt/shared/pnpm/global/5/lib/node_modules'), t.path('opt/shared/pnpm/global/5/node_modules'));
    t.file('home/eve/.bashrc', `export PNPM_HOME=${t.path('opt/shared/pnpm')}\n`);
    t.file('opt/secret-profile', `export BUN_INSTALL=${t.path('opt/shared')}\n`);
    symlinkSync(t.path('opt/secret-profile'), join(eve, '.zshrc'));
    // A device is never opened: the link leads out of the home, so it is refused before any open.
    symlinkSync('/dev/zero', join(eve, '.profile'));
    const result = await scanMachine({ homes: [eve], ...quiet });
    expect(result.instances).toEqual([]);
    expect(result.skipped).toEqual(
      expect.arrayContaining([
        { path: t.path('opt/shared/pnpm'), reason: "PNPM_HOME of eve leads outside the user's home; not scanned" },
        { path: join(eve, '.zshrc'), reason: "leads outside the user's home; not read" },
        { path: join(eve, '.profile'), reason: "leads outside the user's home; not read" },
      ]),
    );
  });

  // As root: the environment of the user's running processes (/proc/<pid>/environ), here a
  // process started with VOLTA_HOME moved (Volta docs: VOLTA_HOME); Volta keeps each package in
  // tools/image/packages/<pkg>/lib/node_modules/<pkg> and dispatches through ~/.volta/bin shims.
  it.skipIf(!isRoot || process.platform !== 'linux')(
    "reads the environment of the user's running processes",
    { timeout: 60_000 },
    async () => {
      const user = 'aigt13env';
      const made = spawnSync('useradd', ['--no-create-home', '--shell', '/bin/sh', user], { encoding: 'utf8' });
      if (made.status !== 0 && made.status !== 9) throw new Error(`useradd: ${made.stderr}`);
      const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
      const t = scratch();
      chmodSync(t.root, 0o755);
      const home = t.dir('home/frank');
      const volta = join(home, '.tools/volta');
      npmGlobal(t, 'home/frank/.tools/volta/tools/image/packages/@google/gemini-cli', '@google/gemini-cli', {
        version: '0.8.2',
        bin: { gemini: 'dist/index.js' },
      });
      t.rawLink('home/frank/.tools/volta/bin/gemini', join(volta, 'bin/volta-shim'));
      t.file('home/frank/.tools/volta/bin/volta-shim', '#!/bin/sh\n', 0o755);
      execFileSync('chown', ['-R', `${uid}:${gid}`, home]);
      let child: ChildProcess | null = null;
      try {
        child = spawn('sleep', ['60'], {
          uid,
          gid,
          // With 70 KiB of other variables (red-team: an environ past 64 KiB was read as empty).
          env: { PAD: 'x'.repeat(70_000), HOME: home, VOLTA_HOME: volta, PATH: '/usr/bin:/bin' },
          stdio: 'ignore',
        });
        await new Promise((resolve) => setTimeout(resolve, 200));
        const result = await scanMachine({ homes: [home], ...quiet });
        const gemini = find(result.instances, 'gemini-cli');
        expect(gemini.version).toBe('0.8.2');
        expect(gemini.launchers).toEqual([join(volta, 'bin/gemini')]);
        // Without process environments nothing moved it: not found.
        expect((await scanMachine({ homes: [home], ...quiet, userEnvironment: false })).instances).toEqual([]);
      } finally {
        child?.kill('SIGKILL');
      }
    },
  );
});

// Issue 12 ("any folder on the user's PATH"): `npm i -g --prefix ~/.cc-hidden` puts Claude Code
// in a hidden folder the home walk passes over, reached only by the user's own PATH: exported from
// ~/.bashrc (npm docs "Resolving EACCES permissions errors": `export PATH=~/.npm-global/bin:$PATH`),
// added by fish's `fish_add_path` in config.fish or stored by it in fish_variables as
// fish_user_paths (fishshell.com/docs/current/cmds/fish_add_path.html), or set in a running
// process's environment. A real npm install, copied into each home as npm laid it out.
describe("launcher folders from the user's own PATH", () => {
  it('finds a hidden --prefix install whose bin only the PATH reaches', { timeout: 200_000 }, async () => {
    const t = scratch();
    chmodSync(t.root, 0o755);
    const install = t.path('install');
    npmInstallGlobal(install, ['@anthropic-ai/claude-code@2.0.46'], { omitOptional: true });
    const homes = { bash: 'home/bash', fish: 'home/fish', universal: 'home/uni', process: 'home/proc' };
    for (const rel of Object.values(homes)) execFileSync('cp', ['-a', install, `${t.dir(rel)}/.cc-hidden`]);
    t.file('home/bash/.bashrc', 'export PATH="$HOME/.cc-hidden/bin:$PATH"\n');
    t.file('home/fish/.config/fish/config.fish', 'fish_add_path -g ~/.cc-hidden/bin\n');
    t.file(
      'home/uni/.config/fish/fish_variables',
      `# VERSION: 3.0\nSETUVAR fish_user_paths:${t.path('home/uni')}/\\x2ecc\\x2dhidden/bin\\x1e/usr/local/bin\n`,
    );
    const scanned = Object.values(homes)
      .filter((rel) => rel !== homes.process || isRoot)
      .map((rel) => t.path(rel));
    let child: ChildProcess | null = null;
    try {
      if (isRoot) {
        // A process of the user's (here nobody's, who owns that home) started with that PATH.
        execFileSync('chown', ['-R', '65534:65534', t.path(homes.process)]);
        child = spawn('sleep', ['60'], {
          uid: 65534,
          gid: 65534,
          env: { HOME: t.path(homes.process), PATH: `${t.path(homes.process)}/.cc-hidden/bin:/usr/bin:/bin` },
          stdio: 'ignore',
        });
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const result = await scanMachine({ homes: scanned, ...quiet });
      const claude = result.instances.filter((i) => i.toolId === 'claude-code');
      expect(claude.map((i) => [i.version, i.launchers]).sort()).toEqual(
        scanned.map((home) => ['2.0.46', [`${realpathSync(home)}/.cc-hidden/bin/claude`]]).sort(),
      );
      // The PATH's system folders are the scan's own business: no word about them per user.
      expect(result.skipped.filter((s) => s.reason.includes('PATH'))).toEqual([]);
      // Without the users' environments the hidden folder is not found (the home walk skips it).
      expect((await scanMachine({ homes: scanned, ...quiet, userEnvironment: false })).instances).toEqual([]);
    } finally {
      child?.kill('SIGKILL');
    }
  });

  it('finds it with its launcher renamed, and a wrapper carrying aigate’s stub marker is still the user’s', async () => {
    // Red-team: `mv bin/claude bin/cc` hid the install (only catalogued names were looked at), and
    // a user's wrapper with the line `# aigate-stub v1` was taken for the agent's own stub.
    const t = scratch();
    chmodSync(t.root, 0o755);
    const home = t.dir('home/ren');
    npmGlobal(t, 'home/ren/.h/p', '@anthropic-ai/claude-code', { version: '2.0.46', bin: { claude: 'cli.js' } });
    renameSync(join(home, '.h/p/bin/claude'), join(home, '.h/p/bin/cc'));
    t.file('home/ren/.bashrc', 'export PATH="$HOME/.h/p/bin:$PATH"\n');
    t.file('home/ren/.local/bin/claude', '#!/bin/sh\n# aigate-stub v1\nexec node "$HOME/.x/cli.js" "$@"\n', 0o755);
    if (isRoot) execFileSync('chown', ['-R', '65534:65534', home]);
    const result = await scanMachine({ homes: [home], ...quiet });
    expect(summary(result.instances)).toEqual(['claude-code 2.0.46 npm ren', 'claude-code null binary ren']);
  });
});

describe('version managers: mise (npm and pipx backends), asdf, Volta images, yarn', () => {
  // Field case 17 (Piebald-AI/tweakcc#233, humanlayer/humanlayer#796; jdx/mise src/backend/npm.rs
  // runs `npm install -g --prefix <installs>/npm-<name>/<version>`): a real npm install there.
  it('mise npm backend: the install dir and its shim', { timeout: 200_000 }, async () => {
    const t = scratch();
    const alice = t.dir('home/alice');
    const install = t.dir('home/alice/.local/share/mise/installs/npm-anthropic-ai-claude-code/2.0.22');
    npmInstallGlobal(install, ['@anthropic-ai/claude-code@2.0.22'], { omitOptional: true });
    t.file('home/alice/.config/mise/config.toml', '[tools]\n"npm:@anthropic-ai/claude-code" = "2.0.22"\nnode = "22"\n');
    t.file('home/alice/.local/bin/mise', '#!/bin/sh\necho mise\n', 0o755);
    t.link('home/alice/.local/share/mise/shims/claude', 'home/alice/.local/bin/mise');
    t.link('home/alice/.local/share/mise/shims/node', 'home/alice/.local/bin/mise');
    const result = await scanMachine({ homes: [alice], ...quiet });
    const claude = result.instances.filter((i) => i.toolId === 'claude-code');
    expect(claude.map((i) => ({ version: i.version, installPath: i.installPath, launchers: i.launchers }))).toEqual([
      {
        version: '2.0.22',
        installPath: realpathSync(join(install, 'lib/node_modules/@anthropic-ai/claude-code')),
        launchers: [join(install, 'bin/claude'), join(alice, '.local/share/mise/shims/claude')],
      },
    ]);
  });

  // mise docs (configuration, MISE_DATA_DIR) and npm.rs's bun mode (`npm.bun = true`: bun with
  // BUN_INSTALL_GLOBAL_DIR=<install dir>, so node_modules sits right in it, bins in <install>/bin);
  // mise's pipx backend (src/backend/pipx.rs) with uv: UV_TOOL_DIR=<install dir>, bins in <install>/bin.
  it('mise: MISE_DATA_DIR from ~/.zshenv, the npm backend run by bun, the pipx backend run by uv', async () => {
    const t = scratch();
    const bob = t.dir('home/bob');
    t.file('home/bob/.zshenv', 'export MISE_DATA_DIR="$HOME/.mise-data"\n');
    const data = 'home/bob/.mise-data';
    npmGlobal(t, `${data}/installs/npm-google-gemini-cli/0.9.0/x`, '@google/gemini-cli', {
      version: '0.9.0',
      bin: { gemini: 'dist/index.js' },
    });
    renameSync(
      t.path(`${data}/installs/npm-google-gemini-cli/0.9.0/x/lib/node_modules`),
      t.path(`${data}/installs/npm-google-gemini-cli/0.9.0/node_modules`),
    );
    t.link(
      `${data}/installs/npm-google-gemini-cli/0.9.0/bin/gemini`,
      `${data}/installs/npm-google-gemini-cli/0.9.0/node_modules/@google/gemini-cli/dist/index.js`,
    );
    const aider = uvTool(
      t,
      `${data}/installs/pipx-aider-chat/0.86.1`,
      'aider-chat',
      '0.86.1',
      'aider',
      t.path(`${data}/installs/pipx-aider-chat/0.86.1/bin`),
    );
    t.link(
      `${data}/installs/pipx-aider-chat/0.86.1/bin/aider`,
      `${data}/installs/pipx-aider-chat/0.86.1/aider-chat/bin/aider`,
    );
    const result = await scanMachine({ homes: [bob], ...quiet });
    expect(summary(result.instances)).toEqual(['aider 0.86.1 uv bob', 'gemini-cli 0.9.0 npm bob']);
    expect(find(result.instances, 'aider').installPath).toBe(realpathSync(aider));
    expect(find(result.instances, 'aider').launchers).toEqual([
      t.path(`${data}/installs/pipx-aider-chat/0.86.1/bin/aider`),
    ]);
    expect(find(result.instances, 'gemini-cli').launchers).toEqual([
      t.path(`${data}/installs/npm-google-gemini-cli/0.9.0/bin/gemini`),
    ]);
  });

  // asdf docs ("Configuration": ASDF_DATA_DIR; asdf-nodejs keeps globals in the version's own
  // prefix), Volta's Node images (tools/image/node/<v>, volta-cli/volta layout.rs), yarn 1's global
  // folder under $XDG_DATA_HOME/yarn/global (yarn src/util/user-dirs.js getDataDir).
  it('asdf with ASDF_DATA_DIR, a Volta Node image, yarn under XDG_DATA_HOME', async () => {
    const t = scratch();
    const carl = t.dir('home/carl');
    t.file('home/carl/.bashrc', 'export ASDF_DATA_DIR="$HOME/.local/asdf"\nexport XDG_DATA_HOME=$HOME/.data\n');
    npmGlobal(t, 'home/carl/.local/asdf/installs/nodejs/22.10.0', '@openai/codex', {
      version: '0.150.0',
      bin: { codex: 'bin/codex.js' },
    });
    t.file('home/carl/.local/asdf/shims/codex', '#!/usr/bin/env bash\nexec asdf exec "codex" "$@"\n', 0o755);
    npmGlobal(t, 'home/carl/.volta/tools/image/node/22.10.0', '@qwen-code/qwen-code', {
      version: '0.22.3',
      bin: { qwen: 'cli.js' },
    });
    npmPackage(t, 'home/carl/.data/yarn/global/node_modules', '@google/gemini-cli', '0.10.0');
    const result = await scanMachine({ homes: [carl], ...quiet });
    expect(summary(result.instances)).toEqual([
      'gemini-cli 0.10.0 npm carl',
      'openai-codex-cli 0.150.0 npm carl',
      'qwen-code 0.22.3 npm carl',
    ]);
    expect(find(result.instances, 'openai-codex-cli').launchers).toEqual([
      t.path('home/carl/.local/asdf/installs/nodejs/22.10.0/bin/codex'),
      t.path('home/carl/.local/asdf/shims/codex'),
    ]);
  });
});

function npmPackage(t: Tree, modulesRel: string, name: string, version: string): void {
  t.json(`${modulesRel}/${name}/package.json`, { name, version });
}

describe('editors: profiles, remote servers, JetBrains folder namings', () => {
  // Field case 09 (osquery/osquery#9055): the extension is listed only by a named profile.
  it('VS Code: an extension installed only in a named profile', async () => {
    const t = scratch();
    const h = t.dir('home/alice');
    const x = 'home/alice/.vscode/extensions';
    const claude = vscodeExtension(
      t,
      x,
      'anthropic.claude-code-2.0.50-linux-x64',
      'claude-code',
      'anthropic',
      '2.0.50',
    );
    const python = vscodeExtension(t, x, 'ms-python.python-2025.8.0-linux-x64', 'python', 'ms-python', '2025.8.0');
    t.json(`${x}/extensions.json`, [extEntry('ms-python.python', '2025.8.0', python)]);
    t.json('home/alice/.config/Code/User/profiles/-6b2d7c1a/extensions.json', [
      extEntry('anthropic.claude-code', '2.0.50', claude),
    ]);
    t.json('home/alice/.config/Code/User/globalStorage/storage.json', {
      userDataProfiles: [{ location: '-6b2d7c1a', name: 'AI' }],
    });
    const result = await scanMachine({ homes: [h], ...quiet });
    expect(
      result.instances.map((i) => ({
        toolId: i.toolId,
        channel: i.channel,
        version: i.version,
        host: i.host,
        installPath: i.installPath,
      })),
    ).toEqual([
      {
        toolId: 'claude-code',
        channel: 'vscode-extension',
        version: '2.0.50',
        host: 'vscode',
        installPath: realpathSync(claude),
      },
    ]);
  });

  // Every extension profile-scoped (osquery#9055, "with Settings Sync all extensions can be
  // profile-scoped"): Cursor keeps VS Code's layout under ~/.config/Cursor and ~/.cursor; a
  // profile entry pointing into another folder of the home (installed from a folder) is read there;
  // remote servers keep user data in ~/.vscode-server/data (VS Code Remote docs, "server data").
  it('Cursor with every extension profile-scoped, a profile entry elsewhere, and a remote server profile', async () => {
    const t = scratch();
    const h = t.dir('home/bob');
    const cursor = 'home/bob/.cursor/extensions';
    const copilot = vscodeExtension(t, cursor, 'github.copilot-1.250.0', 'copilot', 'GitHub', '1.250.0');
    vscodeExtension(t, cursor, 'github.copilot-1.240.0', 'copilot', 'GitHub', '1.240.0');
    t.json(`${cursor}/extensions.json`, []);
    const dev = vscodeExtension(
      t,
      'home/bob/dev/ext',
      'saoudrizwan.claude-dev-3.20.0',
      'claude-dev',
      'saoudrizwan',
      '3.20.0',
    );
    t.json('home/bob/.config/Cursor/User/profiles/1a2b3c/extensions.json', [
      extEntry('github.copilot', '1.250.0', copilot),
      extEntry('saoudrizwan.claude-dev', '3.20.0', dev),
    ]);
    const server = 'home/bob/.vscode-server/extensions';
    const claude = vscodeExtension(t, server, 'anthropic.claude-code-2.1.10', 'claude-code', 'anthropic', '2.1.10');
    t.json(`${server}/extensions.json`, []);
    t.json('home/bob/.vscode-server/data/User/profiles/5e6f/extensions.json', [
      extEntry('anthropic.claude-code', '2.1.10', claude),
    ]);
    const result = await scanMachine({ homes: [h], ...quiet });
    expect(summary(result.instances)).toEqual([
      'claude-code 2.1.10 vscode-extension bob vscode-server',
      'cline 3.20.0 vscode-extension bob cursor',
      'github-copilot-ide 1.250.0 vscode-extension bob cursor',
    ]);
    expect(find(result.instances, 'cline').installPath).toBe(realpathSync(dev));
  });

  // JetBrains "Directories used by the IDE" (pre-2020.1: ~/.<Product><version>/config/plugins),
  // Toolbox App 1.x channels (apps/<product>/ch-<n>/<build>.plugins), and the 2020.1+ data dir
  // under a moved XDG_DATA_HOME.
  it('JetBrains: pre-2020 config folders, Toolbox 1.x channels, XDG_DATA_HOME', async () => {
    const t = scratch();
    const h = t.dir('home/carol');
    t.file('home/carol/.profile', 'export XDG_DATA_HOME=$HOME/.xdg-data\n');
    const jar = zip({ 'META-INF/plugin.xml': pluginXml('com.anthropic.code.plugin', '0.1.12-beta') });
    t.file(
      'home/carol/.PyCharm2019.3/config/plugins/claude-code-jetbrains-plugin/lib/claude-code-jetbrains-plugin.jar',
      jar,
    );
    t.file(
      'home/carol/.xdg-data/JetBrains/Toolbox/apps/IDEA-U/ch-0/193.5662.53.plugins/claude-code-jetbrains-plugin/lib/claude-code-jetbrains-plugin.jar',
      jar,
    );
    t.file(
      'home/carol/.xdg-data/JetBrains/GoLand2025.2/claude-code-jetbrains-plugin/lib/claude-code-jetbrains-plugin.jar',
      jar,
    );
    const result = await scanMachine({ homes: [h], ...quiet });
    expect(result.instances.map((i) => `${i.toolId} ${i.version} ${i.host}`).sort()).toEqual([
      'claude-code 0.1.12-beta GoLand2025.2',
      'claude-code 0.1.12-beta IDEA-U-193.5662.53',
      'claude-code 0.1.12-beta PyCharm2019.3',
    ]);
  });
});

describe('one file reached by several paths is one instance', () => {
  it('a home given twice (once through a symlink) and a hard-linked bare binary', async () => {
    const t = scratch();
    const alice = t.dir('home/alice');
    symlinkSync(alice, t.path('alice-link'));
    npmGlobal(t, 'home/alice/.npm-global', '@openai/codex', { version: '0.150.0', bin: { codex: 'bin/codex.js' } });
    const binary = t.file('home/alice/.local/bin/opencode', '\x7fELF fake', 0o755);
    mkdirSync(t.path('home/alice/bin'));
    linkSync(binary, t.path('home/alice/bin/opencode'));
    const result = await scanMachine({ homes: [alice, t.path('alice-link')], ...quiet });
    expect(summary(result.instances)).toEqual(['openai-codex-cli 0.150.0 npm alice', 'opencode null binary alice']);
    expect(find(result.instances, 'opencode').launchers).toEqual(
      [t.path('home/alice/.local/bin/opencode'), t.path('home/alice/bin/opencode')].sort(),
    );
  });

  it.skipIf(!isRoot || process.platform !== 'linux')('a home bind-mounted at a second place', async () => {
    const t = scratch();
    const alice = t.dir('home/alice');
    const mirror = t.dir('mnt/alice');
    npmGlobal(t, 'home/alice/.npm-global', '@openai/codex', { version: '0.150.0', bin: { codex: 'bin/codex.js' } });
    const mounted = spawnSync('mount', ['--bind', alice, mirror], { encoding: 'utf8' });
    if (mounted.status !== 0) {
      // Containers without CAP_SYS_ADMIN cannot bind-mount; nothing to show there.
      console.warn(`bind mount not possible here (${mounted.stderr.trim()}); case not run`);
      return;
    }
    try {
      const result = await scanMachine({ homes: [alice, mirror], ...quiet });
      const codex = result.instances.filter((i) => i.toolId === 'openai-codex-cli');
      expect(codex).toHaveLength(1);
      expect(codex[0]!.launchers).toHaveLength(1);
    } finally {
      spawnSync('umount', [mirror]);
    }
  });
});

describe("aigate's own files are never listed", () => {
  it('stubs, kept originals and quarantined installs (issue 13 item 5)', async () => {
    const t = scratch();
    const alice = t.dir('home/alice');
    // During a ban: the install folder renamed to .x.aigate-quarantine and locked (owner root,
    // mode 000: enforce/steps.ts lock), the launcher a stub, the original launcher kept beside it
    // (agent/enforce/stubs.ts siblingFor / quarantineFor).
    npmGlobal(t, 'home/alice/.npm-global', '@anthropic-ai/claude-code', {
      version: '2.1.91',
      bin: { claude: 'cli.js' },
    });
    const quarantine = t.path('home/alice/.npm-global/lib/node_modules/@anthropic-ai/.claude-code.aigate-quarantine');
    renameSync(t.path('home/alice/.npm-global/lib/node_modules/@anthropic-ai/claude-code'), quarantine);
    chmodSync(quarantine, 0);
    renameSync(t.path('home/alice/.npm-global/bin/claude'), t.path('home/alice/.npm-global/bin/.claude.aigate-orig'));
    const stub =
      "#!/bin/sh\n# aigate-stub v1 tool=claude-code kind=block key=0123456789abcdef\n# Put here by the aigate agent under the company's AI tools policy.\nexit 126\n";
    t.file('home/alice/.npm-global/bin/claude', stub, 0o755);
    t.file('home/alice/.local/bin/claude', stub, 0o755);
    const result = await scanMachine({ homes: [alice], ...quiet, paths: [t.path('home/alice/.npm-global/bin')] });
    chmodSync(quarantine, 0o755);
    expect(result.instances).toEqual([]);
  });
});

describe('special files never block the scan (issue 10 item 4)', () => {
  it('a FIFO as a launcher, as a package.json and as extensions.json', { timeout: 20_000 }, async () => {
    const t = scratch();
    const alice = t.dir('home/alice');
    t.dir('home/alice/.local/bin');
    execFileSync('mkfifo', [t.path('home/alice/.local/bin/claude')]);
    t.dir('home/alice/.npm-global/lib/node_modules/@google/gemini-cli');
    execFileSync('mkfifo', [t.path('home/alice/.npm-global/lib/node_modules/@google/gemini-cli/package.json')]);
    const ext = vscodeExtension(
      t,
      'home/alice/.vscode/extensions',
      'anthropic.claude-code-2.0.50',
      'claude-code',
      'anthropic',
      '2.0.50',
    );
    execFileSync('mkfifo', [t.path('home/alice/.vscode/extensions/extensions.json')]);
    t.dir('home/alice/.config/Code/User/profiles/p1');
    execFileSync('mkfifo', [t.path('home/alice/.config/Code/User/profiles/p1/extensions.json')]);
    const result = await scanMachine({ homes: [alice], ...quiet });
    // The folder and the extension are still reported; the FIFOs are named as skipped.
    expect(summary(result.instances)).toEqual([
      'claude-code 2.0.50 vscode-extension alice vscode',
      'gemini-cli null npm alice',
    ]);
    expect(find(result.instances, 'claude-code').installPath).toBe(realpathSync(ext));
    expect(result.skipped).toEqual(
      expect.arrayContaining([
        { path: t.path('home/alice/.local/bin/claude'), reason: 'not a regular file' },
        {
          path: t.path('home/alice/.npm-global/lib/node_modules/@google/gemini-cli/package.json'),
          reason: 'not a regular file',
        },
        { path: t.path('home/alice/.vscode/extensions/extensions.json'), reason: 'not a regular file' },
        { path: t.path('home/alice/.config/Code/User/profiles/p1/extensions.json'), reason: 'not a regular file' },
      ]),
    );
  });
});
