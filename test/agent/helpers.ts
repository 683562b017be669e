/** Shared fixtures for the agent tests: temp dirs, a real server, tree hashing, the bundled test agent. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

import { type AigateServer, buildServer } from '../../server/app.js';
import { AdminClient } from '../../server/client/admin-client.js';
import type { ServerOptions } from '../../server/config.js';
import { agentBin } from '../support/agent-bin.js';

export { agentBin };

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export async function tempDir(prefix = 'aigate-agent-'): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return {
    path,
    remove: async () => {
      await openUp(path);
      await rm(path, { recursive: true, force: true });
    },
  };
}

/** Gives back search and write permission on every folder below `dir` (a quarantine left locked), so it can be removed without root. */
export async function openUp(dir: string): Promise<void> {
  try {
    const info = await lstat(dir);
    if (!info.isDirectory()) return;
    if ((info.mode & 0o700) !== 0o700) await chmod(dir, (info.mode & 0o7777) | 0o700);
    for (const name of await readdir(dir)) await openUp(join(dir, name));
  } catch {
    // best effort: rm reports what is still in the way
  }
}

export interface TestServer {
  app: AigateServer;
  url: string;
  port: number;
  admin: AdminClient;
  adminToken: string;
  close: () => Promise<void>;
}

/** A real server on 127.0.0.1; `port` 0 picks a free one, a given port restarts on it. */
export async function startTestServer(
  dataDir: string,
  options: { port?: number; adminToken?: string; bodyLimits?: ServerOptions['bodyLimits'] } = {},
): Promise<TestServer> {
  const app = await buildServer({
    dataDir,
    logLevel: 'silent',
    ...(options.bodyLimits ? { bodyLimits: options.bodyLimits } : {}),
  });
  await app.listen({ host: '127.0.0.1', port: options.port ?? 0 });
  const address = app.server.address();
  if (!address || typeof address !== 'object') throw new Error('server has no address');
  const url = `http://127.0.0.1:${address.port}`;
  const token = options.adminToken ?? app.aigate.takeBootstrapToken();
  if (!token) throw new Error('no admin token: pass the one from the first start');
  return {
    app,
    url,
    port: address.port,
    admin: new AdminClient(url, token),
    adminToken: token,
    close: () => app.close(),
  };
}

export async function createEnrollSecret(admin: AdminClient, group = 'engineering'): Promise<string> {
  const { secret } = await admin.post<{ secret: string }>('/enroll-secrets', { group, maxUses: 1000 });
  return secret;
}

export async function publish(admin: AdminClient, source: string): Promise<number> {
  const { revision } = await admin.post<{ revision: number }>('/policies', { source });
  return revision;
}

/** One line per entry under `dir`: path, type, mode, owner, and content hash or link target. */
export async function hashTree(dir: string): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (path: string): Promise<void> => {
    const info = await lstat(path);
    const rel = relative(dir, path) || '.';
    const mode = (info.mode & 0o7777).toString(8);
    const owner = `${info.uid}:${info.gid}`;
    if (info.isSymbolicLink()) lines.push(`${rel} link ${mode} ${owner} -> ${await readlink(path)}`);
    else if (info.isFile())
      lines.push(
        `${rel} file ${mode} ${owner} ${createHash('sha256')
          .update(await readFile(path))
          .digest('hex')}`,
      );
    else if (info.isDirectory()) {
      lines.push(`${rel} dir ${mode} ${owner}`);
      for (const name of (await readdir(path)).sort()) await walk(join(path, name));
    } else lines.push(`${rel} other ${mode} ${owner}`);
  };
  await walk(dir);
  return lines;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, feeding `input` on stdin. */
export function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin!.on('error', () => undefined); // the program may exit without reading stdin
    child.stdin!.end(options.input ?? '');
  });
}

/** Runs the agent (the bundled test build, test/support/agent-bin.ts). */
export function agent(args: string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<RunResult> {
  return run(process.execPath, [agentBin(), ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    ...(input !== undefined ? { input } : {}),
  });
}
