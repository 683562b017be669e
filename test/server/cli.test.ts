/**
 * The real bins: `aigate-server start` (first start banner, key file mode, restart, SIGTERM)
 * and `aigate` commands against it, through the built dist/ files. Run `npm run build` first.
 * Also: what reaches the admin's terminal never carries a raw control character.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { EXCEPTION_REQUEST_STATUSES } from '../../policies/protocol.js';
import { REQUEST_STATUS_NAMES } from '../../server/cli/commands/exceptions.js';
import { escapeControl, safeJson, terminalSafe } from '../../server/cli/output.js';
import { table } from '../../server/cli/table.js';
import { AdminClient } from '../../server/client/admin-client.js';
import { DATABASE_FILE } from '../../server/context.js';
import { DeviceClient } from '../support/device-client.js';
import { BAN_POLICY } from './harness.js';
import { tempDir } from './helpers.js';

/** Any character a terminal could act on, except the line breaks and tabs of multi-line text. */
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SERVER_BIN = join(ROOT, 'dist/server/cli/aigate-server.js');
const CLI_BIN = join(ROOT, 'dist/server/cli/aigate.js');

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: { child: ChildProcess; url: string; output: string[] };
let token: string;
let cliEnv: Record<string, string>;

function startServer(dataDir: string): Promise<{ child: ChildProcess; url: string; output: string[] }> {
  const child = spawn(process.execPath, [SERVER_BIN, 'start', '--data', dataDir, '--port', '0'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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

function aigate(
  args: string[],
  env: Record<string, string> = cliEnv,
): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI_BIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
  });
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
    // Commands that work as printed from a checkout, the dashboard, the key to pin, the secret in a file, the port.
    expect(text).toContain(`npx aigate login --server ${server.url} --token ${token}`);
    expect(text).toContain(
      'npx aigate enroll-secret create --group engineering --expires 7d --secret-file ~/aigate-enroll-secret',
    );
    expect(text).toContain('npx aigate policy publish policies/examples/ban-claude-code.yaml');
    expect(text).toContain(`Dashboard: ${server.url}/ui`);
    const fingerprint = /policy key fingerprint \(agents pin it at enrollment\): ([A-Za-z0-9_-]{43})/.exec(text)?.[1];
    expect(fingerprint).toBeDefined();
    expect(text).toContain(`npx aigate-agent enroll --server ${server.url} --secret-file ~/aigate-enroll-secret`);
    expect(text).toContain(`--policy-key-fingerprint ${fingerprint}`);
    expect(text).toMatch(/aigate-server start --port \d+/);
    // Log lines are JSON and never carry the token.
    for (const line of server.output.filter((l) => l.startsWith('{'))) expect(line).not.toContain(token);
  });

  it('keeps the signing key in a file only its owner can read', async () => {
    const key = await stat(join(dir.path, 'data', 'policy-signing-key.json'));
    expect(key.mode & 0o777).toBe(0o600);
    expect((await stat(join(dir.path, 'data'))).mode & 0o777).toBe(0o700);
  });

  it('refuses a second server on the same data directory', () => {
    const second = spawnSync(process.execPath, [SERVER_BIN, 'start', '--data', join(dir.path, 'data'), '--port', '0'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(second.status).toBe(1);
    expect(second.stderr).toMatch(/in use by another aigate-server \(pid \d+\)/);
  });

  it('on a first start whose port is taken, says how to pick another and still shows the admin token', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as AddressInfo).port;
      const first = spawnSync(
        process.execPath,
        [SERVER_BIN, 'start', '--data', join(dir.path, 'busy-port-data'), '--port', String(port)],
        { cwd: ROOT, encoding: 'utf8', timeout: 20_000 },
      );
      expect(first.status).toBe(1);
      expect(first.stderr).toMatch(/the port is in use; choose another with --port/);
      expect(first.stderr).toMatch(/bootstrap admin token \(shown once\) is:\s+\S{20,}/);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
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
    expect(aigate(['whoami']).stdout).toMatch(
      /policy key fingerprint \(for aigate-agent enroll --policy-key-fingerprint\): [A-Za-z0-9_-]{43}/,
    );
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
    expect(
      (await device.enroll(secret, { hostname: 'cli-box', os: 'darwin', users: ['carol'], agentVersion: '0.1.0' }))
        .status,
    ).toBe(201);

    const devices = JSON.parse(aigate(['devices', '--json']).stdout) as {
      id: string;
      hostname: string;
      group: string;
    }[];
    expect(devices).toEqual([expect.objectContaining({ id: device.deviceId, hostname: 'cli-box', group: 'eng' })]);
    // Enrolled, never checked in: not "active" (the dashboard and the reports say never-seen too).
    expect(aigate(['devices']).stdout).toMatch(/cli-box\s+eng\s+darwin.*\snever-seen\s/);
    expect(devices[0]).toMatchObject({ status: 'never-seen' });
    expect(aigate(['enroll-secret', 'list']).stdout).toMatch(/eng\s+1\/5/);
    expect(aigate(['enroll-secret', 'create', '--group', 'eng', '--max-uses', 'lots']).code).toBe(2);

    // The device asks for an exception; the admin sees it and approves it.
    const asked = await device.requestException({ toolId: 'claude-code', user: 'carol', reason: 'pairing session' });
    const pending = aigate(['exceptions', 'list']);
    expect(pending.stdout).toContain(asked.body.id);
    const approved = aigate(['exceptions', 'approve', asked.body.id, '--scope', 'user', '--until', '2031-01-01']);
    expect(approved.stderr).toBe('');
    expect(approved.stdout).toMatch(
      /approved: claude-code for user carol on device \S+ until 2031-01-01; published as policy revision 4/,
    );
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
    expect(denied.stderr).toMatch(
      /an auditor token can read and export only; this needs an admin token \(HTTP 403, forbidden\)/,
    );
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
    expect(result.stderr).toMatch(
      new RegExp(
        `cannot reach http://127\\.0\\.0\\.1:${port}: ECONNREFUSED; nothing is listening there; is the server running at http://127\\.0\\.0\\.1:${port}\\?`,
      ),
    );
  });

  it.each([
    [
      'a dashboard URL',
      ['devices', '--server', 'SERVER/ui'],
      2,
      /"SERVER\/ui" ends in \/ui, the dashboard page; use the server URL: SERVER$/m,
    ],
    [
      'a docs URL',
      ['whoami', '--server', 'SERVER/docs/'],
      2,
      /ends in \/docs, the API documentation page; use the server URL: SERVER$/m,
    ],
    [
      'a hostname for a device id',
      ['device', 'show', 'cli-box'],
      2,
      /"cli-box" is not a device id: device ids are UUIDs .*\(see aigate devices\)/,
    ],
    ['a revoke without an id', ['device', 'revoke', '12'], 2, /"12" is not a device id/],
    [
      'a word for an exception request id',
      ['exceptions', 'approve', 'latest'],
      2,
      /"latest" is not an exception request id: .*\(see aigate exceptions list --status all\)/,
    ],
    ['a token name for a token id', ['tokens', 'revoke', 'alice'], 2, /"alice" is not a token id/],
    [
      'an unknown --status',
      ['exceptions', 'list', '--status', 'open'],
      2,
      /--status must be pending \| approved \| denied \| revoked \| all, not "open"/,
    ],
    ['a revision that is not a number', ['policy', 'show', 'latest'], 2, /"latest" is not a revision number/],
  ])('refuses %s with the next step (exit %#)', (_name, args, code, message) => {
    const result = aigate(args.map((arg) => arg.replace('SERVER', server.url)));
    expect(result.code).toBe(code);
    expect(result.stderr).toMatch(
      new RegExp(
        message.source.replaceAll(
          'SERVER',
          server.url.replace(/[.:/]/g, (c) => `\\${c}`),
        ),
        message.flags,
      ),
    );
  });

  it('lists approved exceptions with the end the policy in force gives them', async () => {
    const created = JSON.parse(aigate(['enroll-secret', 'create', '--group', 'until', '--json']).stdout) as {
      secret: string;
    };
    const device = DeviceClient.generate(server.url);
    expect(
      (
        await device.enroll(created.secret, {
          hostname: 'until-box',
          os: 'linux',
          users: ['dora'],
          agentVersion: '0.1.0',
        })
      ).status,
    ).toBe(201);
    const dated = await device.requestException({ toolId: 'claude-code', user: 'dora', reason: 'migration week' });
    const open = await device.requestException({
      toolId: 'openai-codex-cli',
      user: 'dora',
      reason: 'evaluation',
      until: '2031-02-01',
    });
    expect(aigate(['exceptions', 'list']).stdout).toMatch(new RegExp(`${open.body.id}\\s+pending.*asked 2031-02-01`));
    expect(aigate(['exceptions', 'approve', dated.body.id, '--until', '2030-12-31']).code).toBe(0);
    expect(aigate(['exceptions', 'approve', open.body.id]).code).toBe(0);
    const listed = aigate(['exceptions', 'list', '--status', 'approved']);
    expect(listed.stderr).toBe('');
    expect(listed.stdout).toMatch(/^ID\s+STATUS\s+TOOL\s+DEVICE\s+USER\s+REQUESTED\s+UNTIL\s+REASON$/m);
    expect(listed.stdout).toMatch(
      new RegExp(
        `^${dated.body.id}\\s+approved\\s+claude-code\\s+until-box\\s+dora\\s+\\S+ \\S+\\s+2030-12-31\\s+migration week$`,
        'm',
      ),
    );
    expect(listed.stdout).toMatch(
      new RegExp(`^${open.body.id}\\s+approved\\s+openai-codex-cli.*\\s2031-02-01\\s+evaluation$`, 'm'),
    );

    // A rollback to before the approvals says what it removes and needs --yes; the requests then read revoked.
    const before =
      (
        JSON.parse(aigate(['policy', 'history', '--json']).stdout) as {
          revision: number;
          exceptionRequest: string | null;
        }[]
      ).find((r) => r.exceptionRequest === dated.body.id)!.revision - 1;
    const plan = aigate(['policy', 'rollback', String(before), '--dry-run']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(
      new RegExp(
        `removes 2 exceptions in force:\\n  exception-request-${dated.body.id} \\(claude-code, until 2030-12-31, request ${dated.body.id}\\)`,
      ),
    );
    // Publishing the admin's own copy from before the approvals is refused the same way.
    const oldCopy = join(dir.path, 'old-copy.yaml');
    await writeFile(oldCopy, aigate(['policy', 'show', String(before), '--source']).stdout);
    const stale = aigate(['policy', 'publish', oldCopy]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/leaves out the exceptions of 2 approved exception requests now in force: /);
    expect(stale.stderr).toContain(
      `nothing was published; to remove them, run again with --yes: aigate policy publish ${oldCopy} --yes`,
    );
    const refused = aigate(['policy', 'rollback', String(before)]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/\(HTTP 409, confirmation_required\)/);
    expect(refused.stderr).toContain(
      `nothing was published; to remove them, run again with --yes: aigate policy rollback ${before} --yes`,
    );
    const confirmed = aigate(['policy', 'rollback', String(before), '--yes']);
    expect(confirmed.code, confirmed.stderr).toBe(0);
    expect(confirmed.stdout).toContain(
      `removed: exception-request-${open.body.id} (openai-codex-cli, until 2031-02-01, request ${open.body.id})`,
    );
    expect(confirmed.stdout).toMatch(/exception requests now revoked: /);
    const revision = Number(/as revision (\d+)/.exec(confirmed.stdout)![1]);
    const revoked = aigate(['exceptions', 'list', '--status', 'revoked']);
    expect(revoked.stdout).toMatch(
      new RegExp(`^${dated.body.id}\\s+revoked\\s+claude-code.*\\sremoved in rev ${revision}\\s+migration week$`, 'm'),
    );
  });

  it('offers exactly the request statuses the server has', () => {
    expect([...REQUEST_STATUS_NAMES]).toEqual([...EXCEPTION_REQUEST_STATUSES]);
  });

  it('shows a degraded agent in aigate devices and aigate device show, with its reasons', async () => {
    const created = JSON.parse(aigate(['enroll-secret', 'create', '--group', 'health', '--json']).stdout) as {
      secret: string;
    };
    const device = DeviceClient.generate(server.url);
    expect(
      (
        await device.enroll(created.secret, {
          hostname: 'sick-box',
          os: 'linux',
          users: ['fay'],
          agentVersion: '0.1.0',
        })
      ).status,
    ).toBe(201);
    const health = {
      state: 'degraded',
      reasons: [
        { code: 'ledger-damaged', message: 'the ledger cannot be read' },
        { code: 'spool-trouble', message: '3 events dropped' },
      ],
    };
    const checkin = await device.checkin({
      policyRevision: null,
      agentVersion: '0.1.0',
      inventory: [],
      verdicts: [],
      health,
    });
    expect(checkin.status, checkin.text).toBeLessThan(300);
    expect(aigate(['devices', '--group', 'health']).stdout).toMatch(
      /^\S+\s+sick-box\s+health\s+linux.*\s+active\s+degraded: ledger-damaged, spool-trouble$/m,
    );
    const shown = aigate(['device', 'show', device.deviceId!]).stdout;
    expect(shown).toMatch(
      /DEGRADED since .*\n {2}ledger-damaged: the ledger cannot be read\n {2}spool-trouble: 3 events dropped/,
    );
  });

  it('writes an enroll secret to a new owner-only file, never over an existing one', async () => {
    const file = join(dir.path, 'enroll-secret');
    const created = aigate(['enroll-secret', 'create', '--group', 'files', '--secret-file', file]);
    expect(created.code, created.stderr).toBe(0);
    // The full command, as it runs from a checkout, pinning the server's policy key.
    const fingerprint = /policy key fingerprint .*: ([A-Za-z0-9_-]{43})$/m.exec(aigate(['whoami']).stdout)?.[1];
    expect(fingerprint).toBeDefined();
    expect(created.stdout).toContain(
      `\n  npx aigate-agent enroll --server ${server.url} --secret-file ${file} --policy-key-fingerprint ${fingerprint}\n`,
    );
    expect(created.stdout).not.toMatch(/aiges_/);
    expect((await readFile(file, 'utf8')).trim()).toMatch(/^aiges_[A-Za-z0-9_-]{43}$/);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const again = aigate(['enroll-secret', 'create', '--group', 'files', '--secret-file', file]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/it exists already.*\n.*aigate enroll-secret revoke [0-9a-f-]{36}/);
  });
});

describe('--version on every bin', () => {
  it.each([
    ['aigate', [CLI_BIN, '--version']],
    ['aigate -V', [CLI_BIN, '-V']],
    ['aigate-server', [SERVER_BIN, '--version']],
    ['aigate-agent', [join(ROOT, 'dist/agent/cli.js'), '--version']],
  ])('%s prints the package version', (_name, args) => {
    const result = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(`${VERSION}\n`);
  });

  it('keeps `policy explain --version` the tool version, and the help complete', () => {
    expect(
      aigate([
        'policy',
        'explain',
        'policies/examples/ban-claude-code.yaml',
        '--tool',
        'claude-code',
        '--version',
        '2.1.90',
        '--at',
        '2026-07-01',
      ]).stdout,
    ).toMatch(/version 2\.1\.90/);
    const help = aigate(['--help']).stdout;
    for (const command of [
      'login',
      'whoami',
      'policy',
      'devices',
      'device',
      'enroll-secret',
      'exceptions',
      'tokens',
      'report',
      'audit',
    ])
      expect(help).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    expect(help).toContain('aigate --version');
  });
});

/** Strings a hostile or careless source could put in front of an admin, and how they must look. */
const HOSTILE: [name: string, text: string, shown: string][] = [
  ['clear screen', 'a\u001b[2Jb', 'a\\x1b[2Jb'],
  ['colours', '\u001b[31mred\u001b[0m', '\\x1b[31mred\\x1b[0m'],
  ['OSC title ended by BEL', '\u001b]0;pwned\u0007x', '\\x1b]0;pwned\\x07x'],
  [
    'OSC link ended by ST',
    '\u001b]8;;https://evil\u001b\\click\u001b]8;;\u001b\\',
    '\\x1b]8;;https://evil\\x1b\\click\\x1b]8;;\\x1b\\',
  ],
  ['carriage return', 'approved\rdenied', 'approved\\x0ddenied'],
  ['backspace', 'good\b\b\b\bevil', 'good\\x08\\x08\\x08\\x08evil'],
  ['C1 CSI', 'x\u009b2Jy', 'x\\x9b2Jy'],
  ['DEL', 'x\u007fy', 'x\\x7fy'],
  ['bidi override', 'invoice\u202egpj.exe', 'invoice\\u202egpj.exe'],
  ['bidi isolate', 'a\u2066b\u2069c', 'a\\u2066b\\u2069c'],
  ['newline in a cell', 'line1\nline2', 'line1\\x0aline2'],
];

describe('terminal safety (escapeControl, tables, JSON)', () => {
  it.each(HOSTILE)('escapes %s in a value', (_name, text, shown) => {
    expect(escapeControl(text)).toBe(shown);
    expect(escapeControl(text)).not.toMatch(RAW_CONTROL);
    expect(table(['VALUE'], [[text]]).split('\n')).toEqual(['VALUE', shown]);
  });

  it.each(HOSTILE)(
    'keeps %s in --json output readable as the same value, with no raw control character',
    (_name, text) => {
      const out = safeJson({ reason: text });
      expect(out).not.toMatch(RAW_CONTROL);
      expect(JSON.parse(out)).toEqual({ reason: text });
    },
  );

  it('escapes every line of output but keeps line breaks; data is raw unless it goes to a terminal', () => {
    const seen: string[] = [];
    const sink = { out: (t: string) => seen.push(`out:${t}`), err: (t: string) => seen.push(`err:${t}`) };
    const toPipe = terminalSafe(sink, false);
    toPipe.out('a\u001b[2J\nb\tc');
    toPipe.err('\u009b');
    toPipe.data!('x,\u001b[31m');
    terminalSafe(sink, true).data!('x,\u001b[31m\r');
    expect(seen).toEqual(['out:a\\x1b[2J\nb\tc', 'err:\\x9b', 'out:x,\u001b[31m', 'out:x,\\x1b[31m\\x0d']);
  });
});

describe('hostile text reaches the admin escaped (real server, built bin)', () => {
  it('in token names (tokens list)', async () => {
    const admin = new AdminClient(server.url, token);
    for (const [name, text] of HOSTILE) await admin.post('/tokens', { name: `${name}:${text}`, role: 'auditor' });
    const result = aigate(['tokens', 'list']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).not.toMatch(RAW_CONTROL);
    for (const [name, , shown] of HOSTILE) expect(result.stdout).toContain(`${name}:${shown}`);
    const json = aigate(['tokens', 'list', '--json']);
    expect(json.stdout).not.toMatch(RAW_CONTROL);
    const names = (JSON.parse(json.stdout) as { name: string }[]).map((t) => t.name);
    for (const [name, text] of HOSTILE) expect(names).toContain(`${name}:${text}`);
  });

  it('in hostnames stored before devices were checked (devices, device show)', async () => {
    const created = JSON.parse(aigate(['enroll-secret', 'create', '--group', 'hostile', '--json']).stdout) as {
      secret: string;
    };
    const device = DeviceClient.generate(server.url);
    expect(
      (await device.enroll(created.secret, { hostname: 'plain', os: 'linux', users: ['eve'], agentVersion: '0.1.0' }))
        .status,
    ).toBe(201);
    const hostname = HOSTILE.map(([, text]) => text).join('|');
    const db = new Database(join(dir.path, 'data', DATABASE_FILE));
    try {
      db.prepare('UPDATE devices SET hostname = ? WHERE id = ?').run(hostname, device.deviceId);
    } finally {
      db.close();
    }
    const expected = HOSTILE.map(([, , shown]) => shown).join('|');
    const list = aigate(['devices', '--group', 'hostile']);
    expect(list.stdout).not.toMatch(RAW_CONTROL);
    expect(list.stdout).toContain(expected);
    const show = aigate(['device', 'show', device.deviceId!]);
    expect(show.stdout).not.toMatch(RAW_CONTROL);
    expect(show.stdout).toContain(expected);
  });

  it('in exception reasons a device sends (exceptions list)', async () => {
    const created = JSON.parse(aigate(['enroll-secret', 'create', '--group', 'reasons', '--json']).stdout) as {
      secret: string;
    };
    const device = DeviceClient.generate(server.url);
    expect(
      (
        await device.enroll(created.secret, {
          hostname: 'reasons-box',
          os: 'linux',
          users: ['eve'],
          agentVersion: '0.1.0',
        })
      ).status,
    ).toBe(201);
    // The server refuses C0/C1 controls from devices; what it lets through (bidi) must still be shown escaped.
    const asked = await device.requestException({
      toolId: 'claude-code',
      user: 'eve',
      reason: 'see invoice\u202egpj.exe',
    });
    expect(asked.status).toBeLessThan(300);
    const listed = aigate(['exceptions', 'list']);
    expect(listed.stdout).not.toMatch(RAW_CONTROL);
    expect(listed.stdout).toContain('see invoice\\u202egpj.exe');
  });

  it.each(HOSTILE)('in an error message from the server (%s)', async (_name, text, shown) => {
    const hostile = createHttpServer((_request, response) => {
      response.writeHead(400, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          error: `bad${text}`,
          message: `refused: ${text}`,
          problems: [{ path: `spec${text}`, message: text }],
        }),
      );
    });
    await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(hostile.address() as AddressInfo).port}`;
      const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [CLI_BIN, 'devices', '--server', url, '--token', 'aigt_x'], {
          cwd: ROOT,
          env: { PATH: process.env.PATH ?? '', ...cliEnv },
        });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('close', (code) => resolve({ code, stderr }));
      });
      expect(result.code).toBe(1);
      expect(result.stderr).not.toMatch(RAW_CONTROL);
      expect(result.stderr).toContain(`refused: ${shown} (HTTP 400, bad${shown})`);
      expect(result.stderr).toContain(`error: spec${shown}: ${shown}`);
    } finally {
      await new Promise((resolve) => hostile.close(resolve));
    }
  });
});

describe('shutdown, recovery and restart', () => {
  it('stops cleanly on SIGTERM, recovers a lost admin token offline, and keeps everything on restart', async () => {
    const revisions = (JSON.parse(aigate(['policy', 'history', '--json']).stdout) as unknown[]).length;
    expect(revisions).toBeGreaterThanOrEqual(4);
    expect(await stop(server.child)).toBe(0);
    const recovery = spawnSync(
      process.execPath,
      [SERVER_BIN, 'create-admin-token', '--data', join(dir.path, 'data'), '--name', 'recovered'],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(recovery.status).toBe(0);
    const recovered = /aigt_[A-Za-z0-9_-]{43}/.exec(recovery.stdout)![0];
    server = await startServer(join(dir.path, 'data'));
    expect(aigate(['whoami', '--server', server.url, '--token', recovered]).stdout).toMatch(/"recovered" \(admin/);
    expect(server.output.join('\n')).not.toContain('Bootstrap admin token');
    const relogin = aigate(['login', '--server', server.url, '--token', token]);
    expect(relogin.code).toBe(0);
    expect(JSON.parse(aigate(['policy', 'history', '--json']).stdout)).toHaveLength(revisions);
    expect(aigate(['audit', '--verify']).code).toBe(0);
  });

  it('aigate audit exits 1 and says so when the hash chain is broken', () => {
    const db = new Database(join(dir.path, 'data', DATABASE_FILE));
    try {
      db.exec('DROP TRIGGER audit_log_no_update');
      db.prepare("UPDATE audit_log SET actor_name = 'someone else' WHERE seq = 2").run();
    } finally {
      db.close();
    }
    const listed = aigate(['audit']);
    expect(listed.code).toBe(1);
    expect(listed.stdout).toMatch(/policy\.publish/);
    expect(listed.stderr).toMatch(/the audit log is BROKEN at entry 2: .*entries from there on cannot be trusted/);
    const verified = aigate(['audit', '--verify']);
    expect(verified.code).toBe(1);
    expect(verified.stderr).toMatch(/BROKEN at entry 2/);
  });
});
