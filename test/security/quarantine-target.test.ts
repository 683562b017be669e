/**
 * Issue 10, failing input 2 — any folder quarantined, every process stopped. The user points
 * the Claude Code install folder (or its launcher) at a root-owned folder standing for /etc/ssh,
 * with a root process running from it; or a root process (or another user's) merely names a file
 * of the user's install. A block must not rename, lock or otherwise change anything root owns,
 * nor signal any process not owned by the instance's owner, and the cycle still checks in.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isOurStub } from '../../agent/enforce/steps.js';
import { onceOk, pastBan } from '../agent/e2e-helpers.js';
import { createEnrollSecret, publish, startTestServer, tempDir, type TestServer } from '../agent/helpers.js';
import {
  type AgentCase,
  agentCase,
  asUserOk,
  bystander,
  type Canaries,
  cycleChecksIn,
  ensureUser,
  expectCanariesIntact,
  type HostileUser,
  isRoot,
  plantCanaries,
  removeCanaries,
  removeCase,
} from './hostile.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: TestServer;
let secret: string;
let mallory: HostileUser;
let bob: HostileUser;
const cases: { c: AgentCase; canaries: Canaries }[] = [];

beforeAll(async () => {
  if (!isRoot) return;
  dir = await tempDir('aigt-sec-quar-');
  server = await startTestServer(join(dir.path, 'server'));
  secret = await createEnrollSecret(server.admin);
  mallory = ensureUser('aigt-mallory');
  bob = ensureUser('aigt-bob');
  await publish(server.admin, pastBan());
}, 60_000);

afterAll(async () => {
  for (const { c, canaries } of cases) {
    await removeCanaries(canaries);
    await removeCase(c);
  }
  await server?.close();
  await dir?.remove();
});

async function prepare(name: string): Promise<{ c: AgentCase; canaries: Canaries; scope: string }> {
  const c = await agentCase(server, secret, mallory, `quar-${name}`);
  const canaries = await plantCanaries();
  bystander(canaries, mallory);
  cases.push({ c, canaries });
  return { c, canaries, scope: join(c.setup.install.prefix, 'lib', 'node_modules', '@anthropic-ai') };
}

describe.skipIf(!isRoot)('failing input 2: the install folder or launcher points at a root-owned folder', () => {
  it('ln -s <etc/ssh> ~/.npm-global/lib/node_modules/@anthropic-ai/claude-code: nothing of root is renamed, locked or stopped', async () => {
    const { c, canaries, scope } = await prepare('folder-link');
    asUserOk(mallory, `cd '${scope}' && rm -rf claude-code && ln -s '${canaries.ssh}' claude-code`);
    await cycleChecksIn(server, c, 'install folder linked to etc/ssh');
    await expectCanariesIntact(canaries, 'install folder linked to etc/ssh');
    await cycleChecksIn(server, c, 'install folder linked to etc/ssh, second cycle');
    await expectCanariesIntact(canaries, 'install folder linked to etc/ssh, second cycle');
  });

  it('the same link put in place of a blocked install (quarantine renamed away) is not quarantined either', async () => {
    const { c, canaries, scope } = await prepare('link-after-block');
    await onceOk(c.setup);
    expect(await isOurStub(c.setup.install.launcher)).toBe(true);
    asUserOk(mallory, `cd '${scope}' && mv .claude-code.aigate-quarantine old && ln -s '${canaries.ssh}' claude-code`);
    await cycleChecksIn(server, c, 'link after the block');
    await expectCanariesIntact(canaries, 'link to etc/ssh after the block');
  });

  it('a launcher linked to a root program (no install at all): the program is not quarantined and its process keeps running', async () => {
    const { c, canaries, scope } = await prepare('launcher-link');
    asUserOk(
      mallory,
      `rm -rf '${scope}/claude-code' && cd '${c.setup.install.bin}' && rm -f claude && ln -s '${join(canaries.ssh, 'sshd')}' claude`,
    );
    await cycleChecksIn(server, c, 'launcher linked to a root program');
    await expectCanariesIntact(canaries, 'launcher linked to a root program');
  });

  it("a root process and another user's process naming a file of the blocked install are not signalled", async () => {
    const { c, canaries } = await prepare('foreign-processes');
    const named = join(c.setup.install.installPath, 'cli.js');
    // A root job and bob's job whose command lines name the install (a backup, an indexer, a viewer).
    // tail -F keeps running whether or not it may read the file: one process, its argv naming the install.
    canaries.processes.push(spawn('tail', ['-F', named], { stdio: 'ignore' }));
    canaries.processes.push(spawn('tail', ['-F', named], { uid: bob.uid, gid: bob.gid, cwd: '/', stdio: 'ignore' }));
    await cycleChecksIn(server, c, 'block with foreign processes naming the install');
    expect(await isOurStub(c.setup.install.launcher), 'the install is still blocked').toBe(true);
    await expectCanariesIntact(canaries, 'block with foreign processes naming the install');
  });
});
