/**
 * Issue 10, failing input 3 — a write follows a swapped symlink. Between the agent's check of a
 * path and its act on it (the stub renamed into place, then chown/chmod by path; the quarantine
 * looked at, then locked by path) the user swaps in a symlink to a root-owned file or folder.
 *
 * Two ways to open the window:
 * - a tight loop run as the user for the whole test (no inotify: it polls lstat and renames a
 *   prepared symlink over the path the moment the agent's file appears), while the Enforcer
 *   (in-process, as root) blocks and lifts a fresh install many times;
 * - the real agent bin killed at a fault point (AIGATE_AGENT_FAULT) between two steps, the swap
 *   done as the user, then the next run finishing the operation from the ledger.
 * Either way the root canaries keep owner, mode, name and content.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isOurStub } from '../../agent/enforce/steps.js';
import { ALLOW_ALL, once, onceOk, pastBan } from '../agent/e2e-helpers.js';
import {
  ALLOW_ALL as ALLOW_ALL_COMPILED,
  banPolicy,
  enforce,
  makeEnforcer,
  npmInstanceOf,
} from '../agent/enforce-helpers.js';
import { createEnrollSecret, publish, startTestServer, tempDir, type TestServer } from '../agent/helpers.js';
import { npmTool } from '../agent/trees.js';
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

/** Block + lift rounds against the swapping loop. */
const ROUNDS = 60;

/**
 * The user's swapper: whenever `path` holds something root made (the stub, the locked
 * quarantine), rename a prepared symlink to `target` over it. Runs until the stop file appears
 * (a busy loop never runs a signal handler), then prints how many swaps it made.
 */
const SWAPPER = `
const fs = require('node:fs');
const pairs = JSON.parse(process.argv[2]);
const stop = process.argv[3];
let swaps = 0;
for (let n = 0; ; n++) {
  if (n % 2000 === 0 && fs.existsSync(stop)) { process.stdout.write(String(swaps)); process.exit(0); }
  for (const [path, target, kind] of pairs) {
    let st;
    try { st = fs.lstatSync(path); } catch { continue; }
    if (st.uid !== 0 || (kind === 'file' ? !st.isFile() : !st.isDirectory())) continue;
    const tmp = path + '.swap';
    try { fs.rmSync(tmp, { force: true }); fs.symlinkSync(target, tmp); } catch { continue; }
    try { fs.renameSync(path, path + '.gone-' + swaps); } catch {}
    try { fs.renameSync(tmp, path); swaps++; } catch {}
  }
}
`;

let mallory: HostileUser;
let canaries: Canaries | undefined;
let base: string;

beforeAll(async () => {
  if (!isRoot) return;
  mallory = ensureUser('aigt-mallory');
  base = await userDir(mallory, 'sec-race');
});

afterAll(async () => {
  await removeCanaries(canaries);
  if (base) await removeTree(base);
});

describe.skipIf(!isRoot)('failing input 3: a symlink swapped in between check and act', () => {
  it(`a user's swap loop racing ${ROUNDS} block/lift rounds never reaches a root file or folder`, async () => {
    canaries = await plantCanaries();
    const prefix = join(base, '.npm-global');
    const launcher = join(prefix, 'bin', 'ssh_host_key');
    const quarantine = join(prefix, 'lib', 'node_modules', '@anthropic-ai', '.claude-code.aigate-quarantine');
    const script = join(base, 'swapper.cjs');
    const stopFile = join(base, 'stop');
    await writeFile(script, SWAPPER);
    await giveTree(base, mallory);
    const stateRoot = await tempDir('aigt-sec-race-state-');
    let swapper: ChildProcess | null = null;
    let swaps = '';
    try {
      for (let round = 0; round < ROUNDS; round++) {
        await removeTree(prefix);
        const state = join(stateRoot.path, `state-${round}`);
        const made = await npmTool(
          prefix,
          '@anthropic-ai/claude-code',
          '2.1.91',
          'ssh_host_key',
          'claude-code',
          '2.1.91 (Claude Code)',
        );
        await giveTree(prefix, mallory);
        // Started once the tree exists (the loop runs as the user, inside the user's tree).
        if (!swapper) {
          swapper = spawn(
            process.execPath,
            [
              script,
              JSON.stringify([
                [launcher, canaries.hostKey, 'file'],
                [quarantine, canaries.ssh, 'dir'],
              ]),
              stopFile,
            ],
            { uid: mallory.uid, gid: mallory.gid, cwd: base, stdio: ['ignore', 'pipe', 'ignore'] },
          );
          swapper.stdout!.on('data', (chunk: Buffer) => (swaps += chunk.toString()));
        }
        const { enforcer } = await makeEnforcer(state, { homes: [base] });
        const instance = npmInstanceOf({ installPath: made.installPath, launcher: made.launcher });
        await enforce(enforcer, banPolicy({ effective: '2020-01-01' }), [instance]).catch(() => undefined);
        await enforce(enforcer, ALLOW_ALL_COMPILED, [instance]).catch(() => undefined);
        await expectCanariesIntact(canaries, `round ${round + 1} of ${ROUNDS}`);
      }
    } finally {
      if (swapper) {
        const exited = new Promise((resolve) => swapper!.once('exit', resolve));
        await writeFile(stopFile, '');
        await exited;
      }
      await stateRoot.remove();
    }
    // Not an assertion on timing: a record of how often the user won the race to the path.
    console.info(`swap-race: the user's loop swapped ${swaps || 0} time(s) in ${ROUNDS} rounds`);
  }, 120_000);
});

describe.skipIf(!isRoot)('failing input 3: the swap done while the agent is stopped between two steps', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: TestServer;
  let secret: string;
  const cases: { c: AgentCase; canaries: Canaries }[] = [];

  beforeAll(async () => {
    dir = await tempDir('aigt-sec-race-');
    server = await startTestServer(join(dir.path, 'server'));
    secret = await createEnrollSecret(server.admin);
  });
  afterAll(async () => {
    for (const item of cases) {
      await removeCanaries(item.canaries);
      await removeCase(item.c);
    }
    await server?.close();
    await dir?.remove();
  });

  /** Kill the agent at `point`, swap the prefix's bin for a link to the canaries' etc, let the next run finish. */
  const POINTS = [
    ['apply:write-stub:after', pastBan()],
    ['apply:lock:before', pastBan()],
    ['restore:unlock:after', ALLOW_ALL],
    ['restore:restore-launcher:before', ALLOW_ALL],
  ] as const;

  it.each(POINTS)(
    'killed at %s, bin swapped for a link to a root folder: the next run leaves it alone',
    async (point, policy) => {
      const c = await agentCase(server, secret, mallory, `race-${point.replace(/:/g, '-')}`, {
        bin: 'shadow',
        shim: true,
      });
      const planted = await plantCanaries();
      cases.push({ c, canaries: planted });
      if (policy === ALLOW_ALL) {
        await publish(server.admin, pastBan());
        await onceOk(c.setup);
        expect(await isOurStub(c.setup.install.launcher)).toBe(true);
      }
      await publish(server.admin, policy);
      const crashed = await once(c.setup, { AIGATE_AGENT_FAULT: point });
      expect(crashed.signal, `${point} was not reached:\n${crashed.stdout}\n${crashed.stderr}`).toBe('SIGKILL');
      asUserOk(mallory, `cd '${c.setup.install.prefix}' && mv bin bin.old && ln -s '${planted.etc}' bin`);
      await cycleChecksIn(server, c, `after the kill at ${point} and the swap`);
      await expectCanariesIntact(planted, `killed at ${point}, bin swapped, next run`);
    },
    60_000,
  );
});
