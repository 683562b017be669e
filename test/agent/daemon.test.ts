/**
 * The daemon (`aigate-agent run`): a policy published while it runs arrives by long-poll and is
 * enforced within moments; an employee's exception request (made without root) goes through the
 * agent to the server; a ban takes effect at its minute with the server unreachable; SIGTERM
 * stops it cleanly. (The sentinel is off here: this ban names every user, and the machine is
 * shared; test/agent/sentinel-daemon.test.ts covers it.)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, lstat, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isOurStub } from '../../agent/enforce/steps.js';
import { userNameOf } from '../../agent/host/users.js';
import { banYaml } from '../support/policy.js';
import { type AgentSetup, enrollBin, readStatus, rootsFor, waitFor } from './e2e-helpers.js';
import { agentBin, createEnrollSecret, publish, run, startTestServer, tempDir, type TestServer } from './helpers.js';
import { claudeCodeNpm, isRoot, OWNER_GID, OWNER_UID } from './trees.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: TestServer;
let setup: AgentSetup;
let daemon: ChildProcess;
let daemonOutput = '';

const banAt = (effective: string) => banYaml('ban-soon', ['claude-code'], { effective, warnFor: '1d' });

beforeAll(async () => {
  dir = await tempDir('aigate-daemon-');
  await chmod(dir.path, 0o755); // the employee (another user) must reach the state folder
  server = await startTestServer(join(dir.path, 'server'));
  const tree = join(dir.path, 'tree');
  setup = {
    stateDir: join(dir.path, 'state'),
    install: await claudeCodeNpm(join(tree, 'npm-global')),
    home: join(tree, 'home', 'alice'),
    env: {},
  };
  const enrolled = await enrollBin(server.url, await createEnrollSecret(server.admin), setup.stateDir);
  expect(enrolled.code, enrolled.stderr).toBe(0);
});
afterAll(async () => {
  if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
  await server?.close();
  await dir?.remove();
});

describe('aigate-agent run', () => {
  it('follows the policy, files employee requests, bans at the minute offline, and stops on SIGTERM', async () => {
    daemon = spawn(
      process.execPath,
      [
        agentBin(),
        'run',
        '--state-dir',
        setup.stateDir,
        ...rootsFor(setup),
        '--cycle-minutes',
        '1',
        '--poll-wait',
        '2',
        '--stop-grace',
        '1',
        '--no-desktop-notify',
        '--no-sentinel',
      ],
      {
        env: { PATH: process.env.PATH ?? '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    daemon.stdout!.on('data', (chunk: Buffer) => (daemonOutput += chunk.toString()));
    daemon.stderr!.on('data', (chunk: Buffer) => (daemonOutput += chunk.toString()));
    await waitFor('the daemon to start', async () => (await readStatus(setup.stateDir)).daemon.running);

    // A second agent on the same state directory is refused.
    const second = await run(process.execPath, [agentBin(), 'once', '--state-dir', setup.stateDir]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/another aigate agent \(pid \d+\) is using this state directory/);

    // Published while it runs: the long-poll brings it, the warn stubs follow within moments.
    const effective = new Date(Date.now() + 25_000);
    await publish(server.admin, banAt(effective.toISOString()));
    await waitFor('the warn stub', () => isOurStub(setup.install.launcher));
    expect((await run(setup.install.launcher, [], { input: '' })).code).toBe(0);

    // The employee asks for an exception, without root.
    const asEmployee = isRoot ? { uid: OWNER_UID, gid: OWNER_GID } : {};
    const request = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [
          agentBin(),
          'request-exception',
          'claude-code',
          '--reason',
          'Evaluating it for the security team, SEC-1234',
          '--state-dir',
          setup.stateDir,
        ],
        {
          env: { PATH: process.env.PATH ?? '' },
          ...asEmployee,
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(request.code, request.stderr).toBe(0);
    expect(request.stdout).toMatch(
      /Your request for an exception for Claude Code was sent to IT \(request [0-9a-f-]{36}\)\./,
    );
    expect(request.stdout).toContain('What happens next:');
    const filed = server.app.aigate.stores.exceptionRequests.list({ status: 'pending' }, 10);
    expect(filed).toEqual([
      expect.objectContaining({
        toolId: 'claude-code',
        reason: 'Evaluating it for the security team, SEC-1234',
        installPath: setup.install.installPath,
      }),
    ]);
    // The requester is the owner of the dropped file, as the kernel says.
    if (isRoot) expect(filed[0]!.user).toBe(userNameOf(OWNER_UID) ?? `uid ${OWNER_UID}`);

    // The employee can read the status without root.
    const employeeStatus = await new Promise<string>((resolve) => {
      const child = spawn(process.execPath, [agentBin(), 'status', '--state-dir', setup.stateDir], {
        env: { PATH: process.env.PATH ?? '' },
        ...asEmployee,
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.on('close', () => resolve(out));
    });
    expect(employeeStatus).toContain('WARNING  Claude Code 2.1.91');
    expect(employeeStatus).toMatch(/claude-code for \S+: pending/);

    // The server goes away; the ban still starts on time.
    await server.close();
    const quarantine = join(setup.install.installPath, '..', '.claude-code.aigate-quarantine');
    await waitFor('the quarantine at the ban date', async () => (await stat(quarantine)).mode !== undefined, 45_000);
    expect(Date.now()).toBeGreaterThanOrEqual(effective.getTime());
    await expect(lstat(setup.install.installPath)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await run(setup.install.launcher, [], { input: '' })).code).toBe(126);

    daemon.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) =>
      daemon.exitCode !== null ? resolve(daemon.exitCode) : daemon.once('exit', (c) => resolve(c)),
    );
    expect(code, daemonOutput).toBe(0);
    expect((await readStatus(setup.stateDir)).daemon.running).toBe(false);
    await expect(lstat(join(setup.stateDir, 'agent.lock'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(daemonOutput).toContain('"msg":"a verdict changes now"');
    expect(daemonOutput).not.toContain('sentinel watching process starts');
  }, 90_000);
});
