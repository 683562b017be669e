/**
 * Issue 10, failing input 7 — evidence lost. Launch records the stubs wrote during a ban reach
 * the server even when the next cycle lifts the ban; a spool whose batch is too large for one
 * request is split and delivered; a damaged spool file set aside is reported (log line or event).
 */
import { spawnSync } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isOurStub } from '../../agent/enforce/steps.js';
import { newEvent } from '../../agent/events/event.js';
import { EventSpool } from '../../agent/events/spool.js';
import { statePaths } from '../../agent/state/paths.js';
import { ALLOW_ALL, onceOk, pastBan } from '../agent/e2e-helpers.js';
import { createEnrollSecret, publish, startTestServer, tempDir, type TestServer } from '../agent/helpers.js';
import {
  type AgentCase,
  agentCase,
  cycleChecksIn,
  ensureUser,
  type HostileUser,
  isRoot,
  removeCase,
} from './hostile.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: TestServer;
let secret: string;
let mallory: HostileUser;
const cases: AgentCase[] = [];

beforeAll(async () => {
  if (!isRoot) return;
  dir = await tempDir('aigt-sec-evidence-');
  server = await startTestServer(join(dir.path, 'server'));
  secret = await createEnrollSecret(server.admin);
  mallory = ensureUser('aigt-mallory');
}, 60_000);

afterAll(async () => {
  for (const c of cases) await removeCase(c);
  await server?.close();
  await dir?.remove();
});

async function prepare(name: string): Promise<AgentCase> {
  const c = await agentCase(server, secret, mallory, `ev-${name}`);
  cases.push(c);
  return c;
}

const eventsOf = (c: AgentCase, type: string) =>
  server.app.aigate.stores.events.recentForDevice(c.deviceId, 100_000).filter((event) => event.type === type);

describe.skipIf(!isRoot)('failing input 7: evidence', () => {
  it('16 blocked launches during a ban all reach the server although the next cycle lifts the ban', async () => {
    const c = await prepare('launches');
    await publish(server.admin, pastBan());
    await onceOk(c.setup);
    expect(await isOurStub(c.setup.install.launcher)).toBe(true);
    for (let i = 0; i < 16; i++) {
      const launched = spawnSync(c.setup.install.launcher, ['--help'], {
        uid: mallory.uid,
        gid: mallory.gid,
        cwd: mallory.home,
        env: { HOME: mallory.home, PATH: process.env.PATH ?? '' },
        input: '',
      });
      expect(launched.status, `launch ${i + 1} as ${mallory.name}: ${launched.stderr}`).toBe(126);
    }
    await publish(server.admin, ALLOW_ALL);
    await cycleChecksIn(server, c, 'the cycle that lifts the ban');
    await cycleChecksIn(server, c, 'the cycle after');
    expect(
      eventsOf(c, 'blocked-launch').length,
      'blocked-launch events at the server (each launch left one record)',
    ).toBe(16);
  }, 90_000);

  it('600 spooled events of 2.5 KB (more than one 1 MiB request) are split and all delivered', async () => {
    const c = await prepare('oversize');
    const spool = new EventSpool(statePaths(c.setup.stateDir).spoolDir);
    const filler = 'x'.repeat(2400);
    for (let i = 0; i < 600; i++)
      await spool.append(
        newEvent('tamper', Date.now(), {
          toolId: 'claude-code',
          installPath: c.setup.install.installPath,
          message: `${i} ${filler}`,
        }),
      );
    await cycleChecksIn(server, c, 'upload of 600 large events');
    await cycleChecksIn(server, c, 'upload of 600 large events, second cycle');
    expect(eventsOf(c, 'tamper').length, 'the 600 spooled events at the server after two cycles').toBe(600);
    expect(await spool.count(), 'events still waiting in the spool').toBe(0);
  }, 90_000);

  it('a damaged spool file set aside is reported (a log line or an event naming it)', async () => {
    const c = await prepare('damaged');
    const spoolDir = statePaths(c.setup.stateDir).spoolDir;
    const spool = new EventSpool(spoolDir);
    await spool.append(newEvent('tamper', Date.now(), { toolId: 'claude-code', message: 'a good event' }));
    const damaged = '000000000000-0badf11e-0000-4000-8000-000000000000.json';
    await writeFile(join(spoolDir, damaged), '{"id": "0badf11e-0000-4000-8000-000000000000", "type": "tamp', {
      mode: 0o600,
    });
    const result = await cycleChecksIn(server, c, 'upload with a damaged spool file');
    const setAside = (await readdir(spoolDir)).filter((name) => name.startsWith('000000000000-0badf11e'));
    const logged = `${result.stdout}\n${result.stderr}`.includes('0badf11e');
    const reported = server.app.aigate.stores.events
      .recentForDevice(c.deviceId, 1000)
      .some((event) => JSON.stringify(event).includes('0badf11e'));
    expect(
      { logged, reported },
      `the damaged file (now ${setAside.join(', ') || 'gone'}) was set aside silently: no log line and no event names it\n${result.stderr}`,
    ).not.toEqual({ logged: false, reported: false });
    expect(
      eventsOf(c, 'tamper').map((event) => event.message),
      'the good event is delivered',
    ).toContain('a good event');
  }, 60_000);
});
