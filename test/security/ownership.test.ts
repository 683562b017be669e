/**
 * Issue 10, failing input 1 — ownership handed to the user. The user installs a fake Claude Code
 * whose launcher is named like a root-only file (`shadow`); after the block the user renames the
 * quarantine and replaces the prefix's bin folder with a symlink to the folder holding that
 * file. Whatever the agent does next (re-apply the ban, lift it, monitor mode, `restore --all`),
 * the root file keeps its owner, mode and content, and the cycle still checks in.
 */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isOurStub } from '../../agent/enforce/steps.js';
import { ALLOW_ALL, onceOk, pastBan } from '../agent/e2e-helpers.js';
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
  MONITOR_BAN,
  plantCanaries,
  removeCanaries,
  removeCase,
  restoreAll,
} from './hostile.js';

const FLOWS = ['ban-again', 'restore-all', 'monitor', 'lift'] as const;
type Flow = (typeof FLOWS)[number];
/** Each flow with the npm bin link and with a script shim (a regular file, which the block also locks). */
const LAUNCHERS = ['link', 'shim'] as const;

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: TestServer;
let secret: string;
let mallory: HostileUser;
/** One canary tree per case, so each failure names its own flow. */
const canaries = new Map<string, Canaries>();
const cases = new Map<string, AgentCase>();
const casesOf = (flow: Flow) => LAUNCHERS.map((kind) => cases.get(`${flow}-${kind}`)!);

beforeAll(async () => {
  if (!isRoot) return;
  dir = await tempDir('aigt-sec-own-');
  server = await startTestServer(join(dir.path, 'server'));
  secret = await createEnrollSecret(server.admin);
  mallory = ensureUser('aigt-mallory');
  for (const flow of FLOWS) {
    for (const kind of LAUNCHERS) {
      const c = await agentCase(server, secret, mallory, `own-${flow}-${kind}`, {
        bin: 'shadow',
        shim: kind === 'shim',
      });
      cases.set(`${flow}-${kind}`, c);
      const planted = await plantCanaries();
      bystander(planted, mallory);
      canaries.set(c.name, planted);
    }
  }
}, 120_000);

afterAll(async () => {
  for (const planted of canaries.values()) await removeCanaries(planted);
  for (const c of cases.values()) await removeCase(c);
  await server?.close();
  await dir?.remove();
});

/** After the block: rename the quarantine in place, and make the prefix's bin a link to the canaries' etc. */
function swapBinForCanaries(c: AgentCase): void {
  const scope = join(c.setup.install.prefix, 'lib', 'node_modules', '@anthropic-ai');
  asUserOk(
    c.user,
    `cd '${scope}' && mv .claude-code.aigate-quarantine moved-away && cd '${c.setup.install.prefix}' && mv bin bin.old && ln -s '${canaries.get(c.name)!.etc}' bin`,
  );
}

describe.skipIf(!isRoot)(
  'failing input 1: a launcher named like a root-only file, bin replaced by a link to its folder',
  () => {
    it('blocks each install first (the launcher `shadow` becomes a stub)', async () => {
      await publish(server.admin, pastBan());
      for (const c of cases.values()) {
        await onceOk(c.setup);
        expect(await isOurStub(c.setup.install.launcher), `${c.name}: stub in place`).toBe(true);
        swapBinForCanaries(c);
        await expectCanariesIntact(canaries.get(c.name)!, `${c.name}: after the block and the swap`);
      }
    }, 120_000);

    it('the ban applied again (tamper repair) leaves the root file alone', async () => {
      for (const c of casesOf('ban-again')) {
        await cycleChecksIn(server, c, `${c.name}: ban again`);
        await expectCanariesIntact(canaries.get(c.name)!, `${c.name}: ban applied again after the swap`);
        await cycleChecksIn(server, c, `${c.name}: ban again, second cycle`);
        await expectCanariesIntact(canaries.get(c.name)!, `${c.name}: ban applied again after the swap (second cycle)`);
      }
    }, 60_000);

    it('restore --all leaves the root file alone', async () => {
      for (const c of casesOf('restore-all')) {
        const result = await restoreAll(c);
        expect(result.signal, result.stderr).toBeNull();
        await expectCanariesIntact(
          canaries.get(c.name)!,
          `${c.name}: restore --all after the swap (exit ${result.code}: ${result.stdout}${result.stderr})`,
        );
      }
    }, 60_000);

    it.each([
      ['a move to monitor mode', 'monitor', MONITOR_BAN],
      ['lifting the ban', 'lift', ALLOW_ALL],
    ] as const)(
      '%s leaves the root file alone',
      async (what, flow, policy) => {
        await publish(server.admin, policy);
        for (const c of casesOf(flow)) {
          await cycleChecksIn(server, c, `${c.name}: ${what}`);
          await expectCanariesIntact(canaries.get(c.name)!, `${c.name}: ${what} after the swap`);
        }
      },
      60_000,
    );
  },
);
