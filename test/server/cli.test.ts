/**
 * The real bins: `aigate-server start` (first start banner, key file mode, restart, SIGTERM)
 * and `aigate` commands against it, through the built dist/ files. Run `npm run build` first.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceClient } from '../support/device-client.js';
import { tempDir } from './helpers.js';
import { BAN_POLICY } from './harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SERVER_BIN = join(ROOT, 'dist/server/cli/aigate-server.js');
const CLI_BIN = join(ROOT, 'dist/server/cli/aigate.js');

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: { child: ChildProcess; url: string; output: string[] };
let token: string;
let cliEnv: Record<string, string>;

function startServer(dataDir: string): Promise<{ child: ChildProcess; url: string; output: string[] }> {
  const child = spawn(process.execPath, [SERVER_BIN, 'start', '--data', dataDir, '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    lines.on('line', (line) => {
      output.push(line);
      const match = /aigate-server listening on (http:\/\/\S+)/.exec(line);
      if (match) resolve({ child, url: match[1]!, output });
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${output.join('\n')}`)));
  });
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

function aigate(args: string[], env: Record<string, string> = cliEnv): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI_BIN, ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(async () => {
  dir = await tempDir();
  server = await startServer(join(dir.path, 'data'));
  token = /aigt_[A-Za-z0-9_-]{43}/.exec(server.output.join('\n'))![0];
  cliEnv = { AIGATE_CONFIG: join(dir.path, 'cli', 'config.json') };
});
afterAll(async () => {
  if (server?.child.exitCode === null) await stop(server.child);
  await dir.remove();
});

describe('aigate-server start', () => {
  it('prints the bootstrap token once, with the next steps', () => {
    const text = server.output.join('\n');
    expect(text).toContain('Bootstrap admin token');
    expect(text).toContain(`aigate login --server ${server.url} --token ${token}`);
    expect(text).toContain('aigate enroll-secret create');
    expect(text).toContain('aigate policy publish');
    // Log lines are JSON and never carry the token.
    for (const line of server.output.filter((l) => l.startsWith('{'))) expect(line).not.toContain(token);
  });

  it('keeps the signing key in a file only its owner can read', async () => {
    const key = await stat(join(dir.path, 'data', 'policy-signing-key.json'));
    expect(key.mode & 0o777).toBe(0o600);
    expect((await stat(join(dir.path, 'data'))).mode & 0o777).toBe(0o700);
  });

  it('refuses a second server on the same data directory', () => {
    const second = spawnSync(process.execPath, [SERVER_BIN, 'start', '--data', join(dir.path, 'data'), '--port', '0'], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    expect(second.status).toBe(1);
    expect(second.stderr).toMatch(/in use by another aigate-server \(pid \d+\)/);
  });

  it('refuses bad flags with a usage error', () => {
    const bad = spawnSync(process.execPath, [SERVER_BIN, 'start', '--port', 'eighty'], { cwd: ROOT, encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--port must be a number/);
  });
});

describe('aigate admin CLI', () => {
  it('needs a server and token', () => {
    const result = aigate(['devices']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no server given/);
  });

  it('logs in (config file mode 0600) and reports who it is', async () => {
    const login = aigate(['login', '--server', server.url, '--token', token]);
    expect(login.stderr).toBe('');
    expect(login.code).toBe(0);
    expect(login.stdout).toMatch(/logged in to .* as "bootstrap" \(admin\)/);
    expect((await stat(cliEnv.AIGATE_CONFIG!)).mode & 0o777).toBe(0o600);
    expect(aigate(['whoami']).stdout).toMatch(/"bootstrap" \(admin/);
    expect(aigate(['whoami']).stdout).toMatch(/policy key fingerprint \(for aigate-agent enroll --policy-key-fingerprint\): [A-Za-z0-9_-]{43}/);
    const wrong = aigate(['login', '--server', server.url, '--token', 'aigt_wrong']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/unknown token \(HTTP 401/);
  });

  it('validates, previews, publishes, lists, shows and rolls back policies', async () => {
    const file = join(dir.path, 'policy.yaml');
    await writeFile(file, BAN_POLICY);
    const bad = join(dir.path, 'bad.yaml');
    await writeFile(bad, BAN_POLICY.replace('action: block', 'action: forbid'));

    expect(aigate(['policy', 'validate', file]).code).toBe(0);
    const invalid = aigate(['policy', 'validate', bad]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/bad\.yaml:\d+:\d+: spec\.rules\[0\]\.action/);

    const refused = aigate(['policy', 'publish', bad]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/invalid_policy/);
    expect(refused.stderr).toMatch(/error: .*bad\.yaml:\d+:\d+: spec\.rules\[0\]\.action/);

    const preview = aigate(['policy', 'preview', file]);
    expect(preview.code).toBe(0);
    expect(preview.stdout).toMatch(/over 0 devices/);

    expect(aigate(['policy', 'publish', file, '-m', 'first']).stdout).toMatch(/published "test-ban" as revision 1/);
    expect(aigate(['policy', 'publish', file, '-m', 'second']).stdout).toMatch(/revision 2/);
    const history = aigate(['policy', 'history']);
    expect(history.stdout).toMatch(/^REV\s+NAME/m);
    expect(history.stdout).toMatch(/^2\*\s+test-ban/m);
    expect(aigate(['policy', 'show', '1', '--source']).stdout).toBe(BAN_POLICY);
    expect(aigate(['policy', 'rollback', '1']).stdout).toMatch(/content of revision 1 as revision 3/);
    expect(JSON.parse(aigate(['policy', 'history', '--json']).stdout)).toHaveLength(3);
    expect(aigate(['policy', 'show', 'x']).code).toBe(2);
  });

  it('creates enroll secrets that devices can use, and lists devices', async () => {
    const created = aigate(['enroll-secret', 'create', '--group', 'eng', '--expires', '2d', '--max-uses', '5']);
    expect(created.code).toBe(0);
    const secret = /aiges_[A-Za-z0-9_-]{43}/.exec(created.stdout)![0];
    const device = DeviceClient.generate(server.url);
    expect((await device.enroll(secret, { hostname: 'cli-box', os: 'darwin', users: ['carol'], agentVersion: '0.1.0' })).status).toBe(201);

    const devices = JSON.parse(aigate(['devices', '--json']).stdout) as { id: string; hostname: string; group: string }[];
    expect(devices).toEqual([expect.objectContaining({ id: device.deviceId, hostname: 'cli-box', group: 'eng' })]);
    expect(aigate(['devices']).stdout).toMatch(/cli-box\s+eng\s+darwin/);
    expect(aigate(['enroll-secret', 'list']).stdout).toMatch(/eng\s+1\/5/);
    expect(aigate(['enroll-secret', 'create', '--group', 'eng', '--max-uses', 'lots']).code).toBe(2);

    // The device asks for an exception; the admin sees it and approves it.
    const asked = await device.requestException({ toolId: 'claude-code', user: 'carol', reason: 'pairing session' });
    const pending = aigate(['exceptions', 'list']);
    expect(pending.stdout).toContain(asked.body.id);
    const approved = aigate(['exceptions', 'approve', asked.body.id, '--scope', 'user', '--until', '2031-01-01']);
    expect(approved.stderr).toBe('');
    expect(approved.stdout).toMatch(/approved: claude-code for user carol until 2031-01-01; published as policy revision 4/);
    expect(aigate(['exceptions', 'deny', asked.body.id, '--reason', 'x']).code).toBe(1);

    expect(aigate(['device', 'revoke', device.deviceId!]).stdout).toMatch(/revoked device/);
    expect((await device.getPolicy()).status).toBe(403);
  });

  it('creates, lists and revokes tokens; an auditor can read but not write', () => {
    const created = aigate(['tokens', 'create', '--name', 'auditor-1', '--role', 'auditor', '--json']);
    const auditor = JSON.parse(created.stdout) as { id: string; token: string };
    const asAuditor = { ...cliEnv, AIGATE_TOKEN: auditor.token };
    expect(aigate(['policy', 'history'], asAuditor).code).toBe(0);
    const denied = aigate(['tokens', 'create', '--name', 'x', '--role', 'admin'], asAuditor);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/an auditor token can read and export only; this needs an admin token \(HTTP 403, forbidden\)/);
    expect(aigate(['tokens', 'list']).stdout).toMatch(/auditor-1\s+auditor/);
    expect(aigate(['tokens', 'revoke', auditor.id]).code).toBe(0);
    expect(aigate(['policy', 'history'], asAuditor).stderr).toMatch(/revoked/);
    expect(aigate(['tokens', 'create', '--name', 'x', '--role', 'root']).code).toBe(2);
  });

  it('shows and verifies the audit log', () => {
    const log = aigate(['audit']);
    expect(log.stdout).toMatch(/policy\.publish/);
    expect(log.stdout).toMatch(/exception\.approve/);
    expect(log.stdout).toMatch(/token\.revoke/);
    expect(aigate(['audit', '--verify']).stdout).toMatch(/audit log intact: \d+ entries/);
  });

  it('reports an unreachable server clearly', async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const result = aigate(['devices', '--server', `http://127.0.0.1:${port}`, '--token', token]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
  });
});

describe('shutdown, recovery and restart', () => {
  it('stops cleanly on SIGTERM, recovers a lost admin token offline, and keeps everything on restart', async () => {
    expect(await stop(server.child)).toBe(0);
    const recovery = spawnSync(process.execPath, [SERVER_BIN, 'create-admin-token', '--data', join(dir.path, 'data'), '--name', 'recovered'], { cwd: ROOT, encoding: 'utf8' });
    expect(recovery.status).toBe(0);
    const recovered = /aigt_[A-Za-z0-9_-]{43}/.exec(recovery.stdout)![0];
    server = await startServer(join(dir.path, 'data'));
    expect(aigate(['whoami', '--server', server.url, '--token', recovered]).stdout).toMatch(/"recovered" \(admin/);
    expect(server.output.join('\n')).not.toContain('Bootstrap admin token');
    const relogin = aigate(['login', '--server', server.url, '--token', token]);
    expect(relogin.code).toBe(0);
    expect(JSON.parse(aigate(['policy', 'history', '--json']).stdout)).toHaveLength(4);
    expect(aigate(['audit', '--verify']).code).toBe(0);
  });
});
