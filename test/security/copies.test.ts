/**
 * Issue 10, failing input 6 — copies left runnable. Block, the employee reinstalls over the
 * quarantine, the ban is lifted, then blocked again: no copy of the tool anywhere in the install
 * scope may still run as the employee, every earlier copy stays locked, and root's canaries are
 * untouched.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isOurStub } from '../../agent/enforce/steps.js';
import { ALLOW_ALL, onceOk, pastBan } from '../agent/e2e-helpers.js';
import { createEnrollSecret, publish, startTestServer, tempDir, type TestServer } from '../agent/helpers.js';
import {
  type AgentCase,
  agentCase,
  asUser,
  asUserOk,
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
const cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  if (!isRoot) return;
  dir = await tempDir('aigt-sec-copies-');
  server = await startTestServer(join(dir.path, 'server'));
  secret = await createEnrollSecret(server.admin);
  mallory = ensureUser('aigt-mallory');
}, 60_000);

afterAll(async () => {
  for (const job of cleanup.reverse()) await job();
  await server?.close();
  await dir?.remove();
});

/** What `npm i -g @anthropic-ai/claude-code` leaves after the block: a new folder and a new bin link over the stub. */
function reinstall(c: AgentCase, version: string): void {
  const scope = join(c.setup.install.prefix, 'lib', 'node_modules', '@anthropic-ai');
  const manifest = JSON.stringify({ name: '@anthropic-ai/claude-code', version, bin: { claude: 'cli.js' } });
  asUserOk(
    c.user,
    `cd '${scope}' && mkdir claude-code && printf '%s' '${manifest}' > claude-code/package.json && printf '#!/usr/bin/env node\\nconsole.log("copy ${version} ran")\\n' > claude-code/cli.js && chmod 755 claude-code/cli.js && cd '${c.setup.install.bin}' && rm -f claude && ln -s ../lib/node_modules/@anthropic-ai/claude-code/cli.js claude`,
  );
}

/** Every copy of Claude Code in the scope folder that still runs as the user (names of the folders). */
async function runnableCopies(c: AgentCase): Promise<string[]> {
  const scope = join(c.setup.install.prefix, 'lib', 'node_modules', '@anthropic-ai');
  const out: string[] = [];
  for (const name of await readdir(scope)) {
    const ran = asUser(c.user, `node '${join(scope, name, 'cli.js')}' --version < /dev/null`);
    if (ran.code === 0) out.push(`${name} (printed ${JSON.stringify(ran.stdout.trim())})`);
  }
  return out;
}

describe.skipIf(!isRoot)('failing input 6: block, reinstall over the quarantine, lift, block again', () => {
  it.each([
    ['straight through', false],
    ['with a cycle under the ban after the reinstall', true],
  ] as const)(
    '%s: no copy stays runnable',
    async (what, cycleAfterReinstall) => {
      const c = await agentCase(server, secret, mallory, `copies-${cycleAfterReinstall ? 'cycle' : 'straight'}`);
      const canaries: Canaries = await plantCanaries();
      cleanup.push(
        () => removeCase(c),
        () => removeCanaries(canaries),
      );
      await publish(server.admin, pastBan());
      await onceOk(c.setup);
      reinstall(c, '2.1.92');
      if (cycleAfterReinstall) await cycleChecksIn(server, c, `${what}: ban, after the reinstall`);
      await publish(server.admin, ALLOW_ALL);
      await cycleChecksIn(server, c, `${what}: lift`);
      await publish(server.admin, pastBan());
      await cycleChecksIn(server, c, `${what}: block again`);
      expect(await isOurStub(c.setup.install.launcher), `${what}: the launcher is a stub again`).toBe(true);
      expect(
        await runnableCopies(c),
        `${what}: copies of Claude Code that still run as ${c.user.name} after blocking again`,
      ).toEqual([]);
      await expectCanariesIntact(canaries, what);
    },
    90_000,
  );
});
