/**
 * Crash tests: the agent is killed (SIGKILL, through the AIGATE_AGENT_FAULT injection point) at
 * every step of applying a block and of restoring it, before and after the step. The next run
 * must find the operation in the ledger and finish it, leaving a consistent tree: fully blocked
 * after an apply, byte-identical to the original after a restore.
 */
import { lstat, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isOurStub } from '../../agent/enforce/steps.js';
import { type AgentSetup, ALLOW_ALL, enrollBin, once, onceOk, pastBan, readLedger } from './e2e-helpers.js';
import { createEnrollSecret, hashTree, publish, run, startTestServer, tempDir, type TestServer } from './helpers.js';
import { claudeCodeNpm } from './trees.js';

const APPLY_POINTS = ['move-aside', 'write-stub', 'rename', 'lock', 'stop-processes']
  .flatMap((step) => [`apply:${step}:before`, `apply:${step}:after`])
  .concat('apply:commit:before');
const RESTORE_POINTS = ['unlock', 'rename', 'restore-launcher']
  .flatMap((step) => [`restore:${step}:before`, `restore:${step}:after`])
  .concat('restore:commit:before');

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: TestServer;
let secret: string;

interface Case {
  point: string;
  deviceId: string;
  setup: AgentSetup;
  tree: string;
  before: string[];
}

async function prepare(point: string): Promise<Case> {
  const base = join(dir.path, point.replace(/:/g, '-'));
  const tree = join(base, 'tree');
  const install = await claudeCodeNpm(join(tree, 'npm-global'));
  const setup: AgentSetup = { stateDir: join(base, 'state'), install, home: join(tree, 'home', 'alice'), env: {} };
  const enrolled = await enrollBin(server.url, secret, setup.stateDir);
  expect(enrolled.code, enrolled.stderr).toBe(0);
  const deviceId = /device ([0-9a-f-]{36})/.exec(enrolled.stdout)![1]!;
  return { point, deviceId, setup, tree, before: await hashTree(tree) };
}

/** Runs jobs at most `limit` at a time (the machine has two cores). */
async function pool<T>(items: readonly T[], limit: number, job: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await job(item);
    }),
  );
}

async function crashAt(c: Case): Promise<void> {
  const crashed = await once(c.setup, { AIGATE_AGENT_FAULT: c.point });
  expect(crashed.signal, `${c.point} did not crash:\n${crashed.stdout}\n${crashed.stderr}`).toBe('SIGKILL');
  expect(crashed.stderr).toContain(`fault injection: killing myself at ${c.point}`);
  expect((await readLedger(c.setup.stateDir)).journal, `${c.point}: the operation is in the ledger`).not.toBeNull();
}

/** The server has exactly one event of this type from the device (retries after a crash are deduplicated). */
function expectOnce(c: Case, type: string): void {
  const found = server.app.aigate.stores.events
    .recentForDevice(c.deviceId, 1000)
    .filter((event) => event.type === type);
  expect(found, `${c.point}: ${type} events`).toHaveLength(1);
}

async function expectBlocked(c: Case): Promise<void> {
  const { install } = c.setup;
  expect(await isOurStub(install.launcher), `${c.point}: stub`).toBe(true);
  expect((await lstat(join(install.bin, '.claude.aigate-orig'))).isSymbolicLink(), `${c.point}: kept original`).toBe(
    true,
  );
  expect(
    (await stat(join(install.installPath, '..', '.claude-code.aigate-quarantine'))).mode & 0o7777,
    `${c.point}: quarantine`,
  ).toBe(0);
  await expect(lstat(install.installPath)).rejects.toMatchObject({ code: 'ENOENT' });
  const ledger = await readLedger(c.setup.stateDir);
  expect(ledger.journal).toBeNull();
  expect(Object.values(ledger.applied).map((r) => r.level)).toEqual(['block']);
  expect((await readdir(install.bin)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  expect((await run(install.launcher, [], { input: '' })).code).toBe(126);
}

beforeAll(async () => {
  dir = await tempDir('aigate-crash-');
  server = await startTestServer(join(dir.path, 'server'));
  secret = await createEnrollSecret(server.admin);
}, 60_000);
afterAll(async () => {
  await server?.close();
  await dir?.remove();
});

describe('a crash at any step', () => {
  it('of applying a block is finished on the next start', async () => {
    const cases = await Promise.all(APPLY_POINTS.map(prepare));
    await publish(server.admin, pastBan());
    await pool(cases, 3, async (c) => {
      await crashAt(c);
      const next = await onceOk(c.setup);
      expect(next.stdout).toContain('1 blocked');
      await expectBlocked(c);
      expectOnce(c, 'quarantined');
    });
  }, 240_000);

  it('of restoring is finished on the next start, byte-identical', async () => {
    await publish(server.admin, pastBan('ban-again'));
    const cases = await Promise.all(RESTORE_POINTS.map(prepare));
    await pool(cases, 3, async (c) => {
      await onceOk(c.setup);
      await expectBlocked(c);
    });
    await publish(server.admin, ALLOW_ALL);
    await pool(cases, 3, async (c) => {
      await crashAt(c);
      await onceOk(c.setup);
      expect(await hashTree(c.tree), `${c.point}: tree restored`).toEqual(c.before);
      const ledger = await readLedger(c.setup.stateDir);
      expect(ledger.journal).toBeNull();
      expect(ledger.applied).toEqual({});
      expectOnce(c, 'restored');
    });
  }, 240_000);
});
