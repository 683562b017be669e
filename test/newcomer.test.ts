/**
 * A newcomer's first day, scripted: `npm start` the built server (dist/) on a fresh data directory,
 * read only what its first start prints, and run the commands it prints, as printed, in a shell
 * in the checkout: log in, make an admin token, validate and publish the example ban policy,
 * create an enroll secret in a file, enroll an agent with the printed fingerprint, run a first
 * cycle and list the devices. Every step must succeed. If the printed text is wrong, the text
 * (server/cli/aigate-server.ts) is what to fix, not this test.
 *
 * The only additions to the printed commands keep the test off the machine's own state: the
 * agent gets `--state-dir` in a temporary directory and, for `once`, the roots of a prepared
 * tree (test/agent/e2e-helpers.ts) instead of the real homes. HOME is a temporary directory, so
 * the CLI's login and the `~/aigate-enroll-secret` file land there. Runs as root in CI (the
 * agent's commands are printed for root); elsewhere the agent steps still run, unprivileged.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { rootsFor } from './agent/e2e-helpers.js';
import { claudeCodeNpm } from './agent/trees.js';
import { tempDir } from './server/helpers.js';

const CHECKOUT = fileURLToPath(new URL('..', import.meta.url));
const SERVER_BIN = join(CHECKOUT, 'dist', 'server', 'cli', 'aigate-server.js');

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: ChildProcess;
let printed = '';
let env: NodeJS.ProcessEnv;
let roots: string[];
let stateDir: string;

interface Ran {
  command: string;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run one printed command line in bash, in the checkout, as the newcomer would paste it. */
function shell(command: string): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', command], { cwd: CHECKOUT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ command, code, stdout, stderr });
    });
  });
}

/**
 * The commands of the printed steps, in order: lines whose content (after an optional
 * "N. what:" label) starts with `npx ` or `aigate-agent `, with `\` continuation lines joined.
 */
function printedCommands(text: string): string[] {
  const lines = text.split('\n');
  const commands: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const match = /^\s*(?:\d+\.\s[^:]*:\s+)?((?:npx |aigate-agent ).*)$/.exec(lines[i]!);
    if (!match) continue;
    let command = match[1]!.trimEnd();
    while (command.endsWith('\\') && i + 1 < lines.length)
      command = `${command.slice(0, -1).trimEnd()} ${lines[++i]!.trim()}`;
    commands.push(command);
  }
  return commands;
}

beforeAll(async () => {
  if (!existsSync(SERVER_BIN)) throw new Error(`${SERVER_BIN} is missing: run npm run build first (npm test does)`);
  dir = await tempDir('aigate-newcomer-');
  const home = join(dir.path, 'home');
  await mkdir(home, { recursive: true });
  stateDir = join(dir.path, 'agent-state');
  const install = await claudeCodeNpm(join(dir.path, 'tree', 'npm-global'));
  const userHome = join(dir.path, 'tree', 'home', 'alice');
  await mkdir(userHome, { recursive: true });
  roots = rootsFor({ install, home: userHome });
  // A clean account: no aigate config, npm never asked to fetch anything.
  env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    LANG: 'C.UTF-8',
    npm_config_offline: 'true',
    npm_config_update_notifier: 'false',
  };

  // As the README says: `npm start` in the checkout (npm ci has run: CI works on a clean clone). Its
  // own process group, so that stopping it stops node under npm's shell too.
  server = spawn('npm', ['start', '--', '--data', join(dir.path, 'data'), '--port', '0'], {
    cwd: CHECKOUT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  server.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the server printed no "listening" line in 30 s:\n${printed}\n${stderr}`)),
      30_000,
    );
    server.stdout!.on('data', (chunk: Buffer) => {
      printed += chunk.toString();
      if (/aigate-server listening on /.test(printed)) {
        clearTimeout(timer);
        resolve();
      }
    });
    server.on('exit', (code) => reject(new Error(`the server exited (${code}):\n${printed}\n${stderr}`)));
  });
}, 60_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    process.kill(-server.pid!, 'SIGTERM');
    await exited;
  }
  await dir?.remove();
});

describe('the first-start text, followed literally', () => {
  it('prints the steps a newcomer needs: log in, publish the example policy, an enroll secret in a file, enroll with the pinned key, check', () => {
    const commands = printedCommands(printed);
    const names = commands.map((c) => c.split(' ').slice(0, 3).join(' '));
    expect(names).toEqual([
      'npx aigate login',
      'npx aigate tokens',
      'npx aigate policy',
      'npx aigate policy',
      'npx aigate enroll-secret',
      'npx aigate-agent enroll',
      'npx aigate-agent once',
      'npx aigate devices',
    ]);
    expect(printed).toMatch(/Dashboard: http:\/\/127\.0\.0\.1:\d+\/ui/);
    expect(commands.find((c) => c.startsWith('npx aigate-agent enroll'))).toMatch(
      /--policy-key-fingerprint [A-Za-z0-9_-]{43}$/,
    );
  });

  it('works: every printed command succeeds, and the agent is enrolled, gets the policy and reports', async () => {
    const ran: Ran[] = [];
    for (const printedCommand of printedCommands(printed)) {
      let command = printedCommand;
      if (command.startsWith('npx aigate-agent enroll')) command += ` --state-dir ${stateDir}`;
      // The printed trial form names a placeholder home: the prepared home (in roots) stands for it.
      if (command === 'npx aigate-agent once --home /home/<you>')
        command = `npx aigate-agent once --state-dir ${stateDir} ${roots.join(' ')} --stop-grace 2 --no-desktop-notify --log-level warn`;
      const result = await shell(command);
      ran.push(result);
      expect(result.code, `${command}\n${result.stdout}\n${result.stderr}`).toBe(0);
    }
    const output = (prefix: string) => ran.find((r) => r.command.startsWith(prefix))!;
    expect(output('npx aigate policy publish').stdout).toMatch(/revision 1\b/);
    // The secret went to a file only its owner reads, not to the terminal.
    const secretFile = join(env.HOME!, 'aigate-enroll-secret');
    expect((await stat(secretFile)).mode & 0o777).toBe(0o600);
    const secret = (await readFile(secretFile, 'utf8')).trim();
    expect(secret.length).toBeGreaterThan(20);
    for (const r of ran) expect(r.stdout + r.stderr).not.toContain(secret);
    // The device is listed, in the group of the secret.
    expect(output('npx aigate devices').stdout).toMatch(
      new RegExp(`\\b${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+engineering\\b`),
    );
    // The agent applied the published policy.
    const status = JSON.parse(await readFile(join(stateDir, 'status.json'), 'utf8')) as {
      policy?: { revision?: number } | null;
    };
    expect(JSON.stringify(status)).toContain('ban-claude-code');
  }, 240_000);
});
