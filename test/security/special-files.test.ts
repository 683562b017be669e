/**
 * Issue 10, failing input 4 — one FIFO disables the agent. A FIFO (or a socket) where the agent
 * expects a launcher, a manifest or its kept original must neither hang the cycle nor stop it:
 * the cycle completes and checks in, another user's fresh install is still blocked, and root's
 * canaries are untouched.
 */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isOurStub } from '../../agent/enforce/steps.js';
import { ALLOW_ALL, onceOk, pastBan } from '../agent/e2e-helpers.js';
import { createEnrollSecret, publish, startTestServer, tempDir, type TestServer } from '../agent/helpers.js';
import { claudeCodeNpm } from '../agent/trees.js';
import {
  type AgentCase,
  agentCase,
  asUserOk,
  type Canaries,
  cycleChecksIn,
  ensureUser,
  expectCanariesIntact,
  giveTree,
  type HostileUser,
  isRoot,
  plantCanaries,
  removeCanaries,
  removeCase,
  removeTree,
  userDir,
} from './hostile.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: TestServer;
let secret: string;
let mallory: HostileUser;
let bob: HostileUser;
const cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  if (!isRoot) return;
  dir = await tempDir('aigt-sec-fifo-');
  server = await startTestServer(join(dir.path, 'server'));
  secret = await createEnrollSecret(server.admin);
  mallory = ensureUser('aigt-mallory');
  bob = ensureUser('aigt-bob');
}, 60_000);

afterAll(async () => {
  for (const job of cleanup.reverse()) await job();
  await server?.close();
  await dir?.remove();
});

async function prepare(name: string): Promise<{ c: AgentCase; canaries: Canaries; bobRoot: string }> {
  const c = await agentCase(server, secret, mallory, `fifo-${name}`);
  const canaries = await plantCanaries();
  const bobRoot = await userDir(bob, `sec-fifo-${name}`);
  cleanup.push(
    () => removeCase(c),
    () => removeCanaries(canaries),
    () => removeTree(bobRoot),
  );
  return { c, canaries, bobRoot };
}

/** Bob installs Claude Code after mallory's trap is set (it must still be blocked); returns its launcher and the scan flags for bob's tree. */
async function bobInstalls(bobRoot: string): Promise<{ launcher: string; roots: string[] }> {
  const install = await claudeCodeNpm(join(bobRoot, '.npm-global'));
  await giveTree(bobRoot, bob);
  return {
    launcher: install.launcher,
    roots: ['--home', bobRoot, '--npm-prefix', install.prefix, '--path', install.bin],
  };
}

const SOCKET = `node -e "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))"`;

const TRAPS: [string, (c: AgentCase) => string, 'before-block' | 'after-block'][] = [
  [
    'the launcher replaced by a FIFO after the block',
    (c) => `cd '${c.setup.install.bin}' && rm claude && mkfifo claude`,
    'after-block',
  ],
  [
    'the launcher replaced by a socket after the block',
    (c) => `cd '${c.setup.install.bin}' && rm claude && ${SOCKET} claude; test -S claude`,
    'after-block',
  ],
  [
    'the kept original replaced by a FIFO after the block',
    (c) => `cd '${c.setup.install.bin}' && rm .claude.aigate-orig && mkfifo .claude.aigate-orig`,
    'after-block',
  ],
  [
    'package.json a FIFO before any block',
    (c) => `cd '${c.setup.install.installPath}' && rm package.json && mkfifo package.json`,
    'before-block',
  ],
  [
    'the launcher a FIFO before any block',
    (c) => `cd '${c.setup.install.bin}' && rm claude && mkfifo claude`,
    'before-block',
  ],
];

describe.skipIf(!isRoot)('failing input 4: FIFOs and sockets in the user tree', () => {
  beforeAll(async () => {
    if (isRoot) await publish(server.admin, pastBan());
  });

  it.each(TRAPS)(
    '%s: the cycle completes, checks in, and still blocks a fresh install of another user',
    async (what, trap, when) => {
      const { c, canaries, bobRoot } = await prepare(what.replace(/[^a-z]+/g, '-').slice(0, 30));
      if (when === 'after-block') {
        await onceOk(c.setup);
        expect(await isOurStub(c.setup.install.launcher)).toBe(true);
      }
      asUserOk(mallory, trap(c));
      const bobs = await bobInstalls(bobRoot);
      await cycleChecksIn(server, c, what, {}, bobs.roots);
      expect(
        await isOurStub(bobs.launcher),
        `${what}: bob's fresh install at ${bobs.launcher} is blocked in the same cycle`,
      ).toBe(true);
      await expectCanariesIntact(canaries, what);
    },
    150_000,
  );

  it('with the FIFO in place, lifting the ban still completes and checks in', async () => {
    const { c, canaries } = await prepare('lift');
    await onceOk(c.setup);
    asUserOk(mallory, `cd '${c.setup.install.bin}' && rm claude && mkfifo claude`);
    await publish(server.admin, ALLOW_ALL);
    await cycleChecksIn(server, c, 'lift with a FIFO as the launcher');
    await expectCanariesIntact(canaries, 'lift with a FIFO as the launcher');
    await publish(server.admin, pastBan());
  }, 150_000);
});
