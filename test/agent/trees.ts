/**
 * Fake-but-realistic installs on disk for the agent tests and the demo: a Claude Code global npm
 * install with its bin link, a pipx-style aider venv with a script launcher, and a standalone
 * binary on PATH. The launchers are real programs (node scripts) that echo their arguments and
 * stdin and exit with a chosen code, or stay running when asked to.
 */
import { chmod, chown, lchown, mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export const OWNER_UID = 1000;
export const OWNER_GID = 1000;
export const isRoot = process.getuid?.() === 0;

/**
 * A node program: `--version` prints a version line; `serve` keeps it running; anything else
 * prints {tool, args, input} as JSON and exits with FAKE_EXIT.
 */
export const FAKE_CLI = `#!/usr/bin/env node
// Fake AI CLI used by aigate's tests and demo: echoes what it got.
const args = process.argv.slice(2);
if (args[0] === '--version') {
  process.stdout.write(VERSION_LINE + '\\n');
} else if (args[0] === 'serve') {
  process.stdout.write('serving\\n');
  setInterval(() => {}, 1000);
} else {
  let input = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => (input += chunk));
  process.stdin.on('end', () => {
    process.stdout.write(JSON.stringify({ tool: TOOL, args, input }) + '\\n');
    process.exit(Number(process.env.FAKE_EXIT ?? 0));
  });
}
`;

export function fakeCli(tool: string, versionLine: string): string {
  return FAKE_CLI.replace('TOOL', JSON.stringify(tool)).replace('VERSION_LINE', JSON.stringify(versionLine));
}

/** A global npm install of any package with one bin (`<prefix>/bin/<bin>` linking to its cli.js). */
export async function npmTool(
  prefix: string,
  pkg: string,
  version: string,
  bin: string,
  toolId: string,
  versionLine: string,
): Promise<{ installPath: string; launcher: string }> {
  const installPath = join(prefix, 'lib', 'node_modules', ...pkg.split('/'));
  const launcher = join(prefix, 'bin', bin);
  await file(
    join(installPath, 'package.json'),
    JSON.stringify({ name: pkg, version, bin: { [bin]: 'cli.js' } }, null, 2),
  );
  await file(join(installPath, 'cli.js'), fakeCli(toolId, versionLine), 0o755);
  await mkdir(join(prefix, 'bin'), { recursive: true });
  await symlink(`../lib/node_modules/${pkg}/cli.js`, launcher);
  await chownAll([installPath, join(installPath, 'package.json'), join(installPath, 'cli.js'), launcher]);
  return { installPath, launcher };
}

async function file(path: string, content: string | Buffer, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
  await chmod(path, mode);
}

/** Gives everything under the listed paths to the test user (when running as root). */
export async function chownAll(paths: readonly string[]): Promise<void> {
  if (!isRoot) return;
  for (const path of paths) await lchown(path, OWNER_UID, OWNER_GID);
}

export interface NpmInstall {
  prefix: string;
  bin: string;
  launcher: string;
  installPath: string;
  all: string[];
}

/** `<prefix>/lib/node_modules/@anthropic-ai/claude-code` with `<prefix>/bin/claude` linking to cli.js. */
export async function claudeCodeNpm(prefix: string, version = '2.1.91'): Promise<NpmInstall> {
  const installPath = join(prefix, 'lib', 'node_modules', '@anthropic-ai', 'claude-code');
  const bin = join(prefix, 'bin');
  const launcher = join(bin, 'claude');
  const all: string[] = [];
  const add = async (path: string, content: string | Buffer, mode?: number) => {
    await file(path, content, mode);
    all.push(path);
  };
  await add(
    join(installPath, 'package.json'),
    JSON.stringify(
      {
        name: '@anthropic-ai/claude-code',
        version,
        bin: { claude: 'cli.js' },
        type: 'module',
        engines: { node: '>=18.0.0' },
        license: 'SEE LICENSE IN README.md',
      },
      null,
      2,
    ),
  );
  await add(join(installPath, 'cli.js'), fakeCli('claude-code', `${version} (Claude Code)`), 0o755);
  await add(join(installPath, 'README.md'), '# Claude Code\n\nAgentic coding tool.\n');
  await add(join(installPath, 'LICENSE.md'), '© Anthropic PBC. All rights reserved.\n');
  await add(
    join(installPath, 'vendor', 'ripgrep', 'x64-linux', 'rg'),
    Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, ...Array.from({ length: 200 }, (_, i) => i % 256)]),
    0o755,
  );
  await add(join(installPath, 'vendor', 'sdk.mjs'), 'export const sdk = true;\n', 0o640);
  await mkdir(join(installPath, 'node_modules', '.bin'), { recursive: true });
  await add(
    join(installPath, 'node_modules', 'sharp', 'package.json'),
    JSON.stringify({ name: 'sharp', version: '0.34.0' }),
  );
  await symlink('../sharp/package.json', join(installPath, 'node_modules', '.bin', 'sharp-info'));
  all.push(join(installPath, 'node_modules', '.bin', 'sharp-info'));
  await mkdir(bin, { recursive: true });
  await symlink('../lib/node_modules/@anthropic-ai/claude-code/cli.js', launcher);
  all.push(launcher);
  for (const dir of [
    installPath,
    join(installPath, 'vendor'),
    join(installPath, 'vendor', 'ripgrep'),
    join(installPath, 'vendor', 'ripgrep', 'x64-linux'),
    join(installPath, 'node_modules'),
    join(installPath, 'node_modules', 'sharp'),
    join(installPath, 'node_modules', '.bin'),
  ])
    all.push(dir);
  await chmod(installPath, 0o750);
  await chownAll(all);
  return { prefix, bin, launcher, installPath, all };
}

export interface ScriptInstall {
  launcher: string;
  installPath: string;
}

/** A pipx-style venv with a regular-file script launcher in `<home>/.local/bin/aider` (mode 0750). */
export async function aiderPipx(home: string): Promise<ScriptInstall> {
  const installPath = join(home, '.local', 'pipx', 'venvs', 'aider-chat');
  const launcher = join(home, '.local', 'bin', 'aider');
  await file(
    join(installPath, 'lib', 'python3.12', 'site-packages', 'aider_chat-0.86.1.dist-info', 'METADATA'),
    'Metadata-Version: 2.1\nName: aider-chat\nVersion: 0.86.1\n',
  );
  await file(
    join(installPath, 'pipx_metadata.json'),
    JSON.stringify({ main_package: { package: 'aider-chat', package_version: '0.86.1' } }),
  );
  await file(launcher, fakeCli('aider', 'aider 0.86.1'), 0o750);
  await chownAll([installPath, launcher]);
  return { launcher, installPath };
}

/** A bare binary on PATH (channel `binary`): the launcher is the install. */
export async function bareBinary(dir: string, name: string, mode = 0o755): Promise<string> {
  const path = join(dir, name);
  await file(path, fakeCli(name, `${name} 1.0.0`), mode);
  await chownAll([path]);
  return path;
}

export { chown };
