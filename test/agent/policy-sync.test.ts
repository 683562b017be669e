/**
 * Policy sync against a real server: ETag and long-poll, the on-disk cache, refusals (tampered,
 * older, foreign key, invalid meaning) that leave the policy in force, and the trusted clock.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { enrollDevice } from '../../agent/enroll.js';
import type { AgentEvent } from '../../agent/events/event.js';
import { EventSpool } from '../../agent/events/spool.js';
import { silentLogger } from '../../agent/log.js';
import { DeviceHttp } from '../../agent/net/device-http.js';
import { PolicySync } from '../../agent/policy/sync.js';
import { TrustedClock } from '../../agent/policy/trusted-clock.js';
import { type AgentConfig, loadConfig } from '../../agent/state/config.js';
import { loadDeviceKey } from '../../agent/state/device-key.js';
import { type StatePaths, statePaths } from '../../agent/state/paths.js';
import { type BundlePayload, signBundle } from '../../policies/bundle.js';
import { generateSigningKey } from '../../policies/keys.js';
import { signServerTime } from '../../policies/signed-time.js';
import { policyYaml } from '../support/policy.js';
import { createEnrollSecret, publish, startTestServer, tempDir, type TestServer } from './helpers.js';

const policy = (name: string, action: 'warn' | 'block' = 'block') =>
  policyYaml(name, { default: 'allow', rules: [{ tools: ['claude-code'], action, effective: '2020-01-01' }] });

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: TestServer;
let secret: string;

interface Agent {
  paths: StatePaths;
  config: AgentConfig;
  http: DeviceHttp;
  events: AgentEvent[];
  sync: () => PolicySync;
}

async function enrolledAgent(name: string): Promise<Agent> {
  const stateDir = join(dir.path, name);
  await enrollDevice({
    server: server.url,
    secret,
    stateDir,
    insecureHttp: false,
    force: false,
    facts: { hostname: name, os: 'linux', osVersion: '6', arch: 'x64', users: [] },
  });
  const paths = statePaths(stateDir);
  const config = await loadConfig(paths.config, stateDir);
  const key = (await loadDeviceKey(paths.deviceKey))!;
  const http = new DeviceHttp({
    serverUrl: config.serverUrl,
    deviceId: config.deviceId,
    audience: config.audience,
    privateKey: key.privateKey,
  });
  const events: AgentEvent[] = [];
  const sync = () =>
    new PolicySync({
      http,
      paths,
      keys: config.policyKeys,
      emit: async (event) => void events.push(event),
      log: silentLogger(),
      clock: Date.now,
    });
  return { paths, config, http, events, sync };
}

beforeAll(async () => {
  dir = await tempDir();
  server = await startTestServer(join(dir.path, 'server'));
  secret = await createEnrollSecret(server.admin);
});
afterAll(async () => {
  await server?.close();
  await dir?.remove();
});

describe('policy sync', () => {
  it('fetches, caches, answers 304 after, and wakes from a long-poll on publish', async () => {
    const agent = await enrolledAgent('sync-basic');
    const sync = agent.sync();
    expect(await sync.loadCache()).toBeNull();
    expect(await sync.poll()).toEqual({ kind: 'none-published' });

    const first = await publish(server.admin, policy('first'));
    expect(await sync.poll()).toEqual({ kind: 'updated', revision: first });
    expect(await sync.poll()).toEqual({ kind: 'unchanged' });
    expect(agent.events.map((e) => e.type)).toEqual(['policy-applied']);

    const waiting = sync.poll({ waitSeconds: 20 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const second = await publish(server.admin, policy('second'));
    expect(await waiting).toEqual({ kind: 'updated', revision: second });

    // A restart enforces the cached bundle without the server.
    const restarted = agent.sync();
    expect(await restarted.loadCache()).toBeNull();
    expect(restarted.current?.payload.revision).toBe(second);
    expect(restarted.current?.compiled.name).toBe('second');
    expect(await restarted.poll()).toEqual({ kind: 'unchanged' });
  });

  it('refuses a tampered bundle, an older revision, a foreign key and an invalid policy, keeping the policy in force', async () => {
    const agent = await enrolledAgent('sync-refusals');
    const old = await publish(server.admin, policy('old-one'));
    const current = await publish(server.admin, policy('current-one'));
    const sync = agent.sync();
    await sync.loadCache();
    expect(await sync.poll()).toEqual({ kind: 'updated', revision: current });
    const token = sync.current!.token;
    const [header, payload, signature] = token.split('.') as [string, string, string];

    const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString()) as BundlePayload;
    const tamperedPayload = {
      ...decoded,
      revision: current + 5,
      policy: { ...decoded.policy, spec: { ...decoded.policy.spec, default: 'allow' as const, rules: [] } },
    };
    delete (tamperedPayload as { policyHash?: string }).policyHash;
    const tampered = `${header}.${Buffer.from(JSON.stringify(tamperedPayload)).toString('base64url')}.${signature}`;

    const { bundle: olderBundle } = await server.admin.get<{ bundle: string }>(`/policies/${old}`);
    const foreignKey = await generateSigningKey();
    const foreign = await signBundle({ ...tamperedPayload, iss: decoded.iss }, foreignKey);
    const invalid = await signBundle(
      {
        ...decoded,
        revision: current + 6,
        policy: { ...decoded.policy, spec: { rules: [{ tools: ['no-such-tool'], action: 'block' }] } },
        policyHash: undefined,
      } as BundlePayload,
      server.app.aigate.signingKey,
    );

    const cases: [string, string, string][] = [
      ['tampered', tampered, 'bad-signature'],
      ['older', olderBundle, 'stale-revision'],
      ['foreign', foreign, 'unknown-key'],
      ['invalid', invalid, 'invalid-policy'],
    ];
    for (const [name, bundle, code] of cases) {
      const outcome = await sync.consider(bundle, `"${name}"`, null);
      expect(outcome).toMatchObject({ kind: 'refused', code });
      expect(sync.current?.payload.revision).toBe(current);
      expect(sync.current?.compiled.name).toBe('current-one');
    }
    const refusals = agent.events.filter((e) => e.type === 'policy-refused');
    expect(refusals.map((e) => e.details?.code)).toEqual([
      'bad-signature',
      'stale-revision',
      'unknown-key',
      'invalid-policy',
    ]);
    expect(refusals.every((e) => e.policyRevision === current)).toBe(true);
    // The same refused bundle again is not reported twice.
    await sync.consider(invalid, '"invalid"', null);
    expect(agent.events.filter((e) => e.type === 'policy-refused')).toHaveLength(4);

    // Still in force after a restart.
    const restarted = agent.sync();
    await restarted.loadCache();
    expect(restarted.current?.payload.revision).toBe(current);
  });

  it('does not enforce a damaged cache, and fetches the floor revision again', async () => {
    const agent = await enrolledAgent('sync-damaged');
    const revision = await publish(server.admin, policy('for-damage'));
    const sync = agent.sync();
    await sync.loadCache();
    await sync.poll();
    const token = await readFile(agent.paths.bundle, 'utf8');
    await writeFile(agent.paths.bundle, token.replace(/\.[^.]+\.([^.]+)\s*$/, '.eyJ4IjoxfQ.$1'));

    const restarted = agent.sync();
    expect(await restarted.loadCache()).toMatch(/cached policy .* is not usable/);
    expect(restarted.current).toBeNull();
    expect(await restarted.poll()).toEqual({ kind: 'updated', revision });
    expect(restarted.current?.payload.revision).toBe(revision);
  });
});

describe('trusted clock', () => {
  it('keeps the newest signed server time as a floor the local clock cannot go below', async () => {
    const agent = await enrolledAgent('clock');
    const past = Date.parse('2020-06-01T00:00:00Z');
    const clock = new TrustedClock(agent.paths.time, agent.config.policyKeys, agent.config.deviceId, () => past);
    expect(await clock.load()).toBeNull();
    expect(clock.now()).toBe(past);

    const serverNow = Date.parse('2026-07-10T12:00:00Z');
    const token = await signServerTime(
      { deviceId: agent.config.deviceId, nowMs: serverNow },
      server.app.aigate.signingKey,
    );
    expect(await clock.observe(token)).toBeNull();
    expect(clock.now()).toBeGreaterThanOrEqual(serverNow);
    expect(clock.clockBehind()).toBe(true);

    // Another device's statement, or one from a foreign key, does not move it.
    const other = await signServerTime(
      { deviceId: 'someone-else', nowMs: serverNow + 86_400_000 },
      server.app.aigate.signingKey,
    );
    expect(await clock.observe(other)).toMatch(/is for device "someone-else"/);
    const forged = await signServerTime(
      { deviceId: agent.config.deviceId, nowMs: serverNow + 86_400_000 },
      await generateSigningKey(),
    );
    expect(await clock.observe(forged)).toMatch(/not trusted/);
    // An older statement does not lower it.
    await clock.observe(
      await signServerTime({ deviceId: agent.config.deviceId, nowMs: serverNow - 1000 }, server.app.aigate.signingKey),
    );
    expect(clock.floor).toBeGreaterThanOrEqual(serverNow);

    const reloaded = new TrustedClock(agent.paths.time, agent.config.policyKeys, agent.config.deviceId, () => past);
    expect(await reloaded.load()).toBeNull();
    expect(reloaded.now()).toBeGreaterThanOrEqual(serverNow);
    expect(reloaded.now()).toBeLessThan(serverNow + 60_000);
  });
});

describe('event spool', () => {
  it('keeps events across restarts, drops the oldest when full and reports the count, and uploads each once', async () => {
    const agent = await enrolledAgent('spool');
    const spoolDir = join(dir.path, 'spool-test');
    const { newEvent } = await import('../../agent/events/event.js');
    const { uploadEvents } = await import('../../agent/events/upload.js');
    const spool = new EventSpool(spoolDir, 5);
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const event = newEvent('blocked-launch', Date.now(), { toolId: 'claude-code', message: `launch ${i}` });
      ids.push(event.id);
      await spool.append(event);
    }
    expect(await spool.count()).toBe(5);
    expect(await spool.droppedTotal()).toBe(3);

    const reopened = new EventSpool(spoolDir, 5);
    expect((await reopened.pending(100)).map((item) => item.event.id)).toEqual(ids.slice(3));
    // A damaged file is set aside, not sent and not fatal.
    await writeFile(join(spoolDir, '000000000999-00000000-0000-0000-0000-000000000000.json'), '{not json');

    const troubles: string[] = [];
    const first = await uploadEvents(
      agent.http,
      new EventSpool(spoolDir, { maxEvents: 5, onTrouble: (trouble) => troubles.push(trouble.message) }),
      Date.now(),
    );
    // Five events, the report of the three dropped, and the report of the damaged file set aside (in the same upload).
    expect(first).toMatchObject({ sent: 7, duplicates: 0, remaining: 0, unreportedLosses: 0 });
    expect(troubles).toEqual([
      expect.stringMatching(/^damaged spool file 000000000999-.*\.json set aside as .*\.bad: not JSON$/),
    ]);
    await expect(
      readFile(join(spoolDir, '000000000999-00000000-0000-0000-0000-000000000000.json.bad'), 'utf8'),
    ).resolves.toBe('{not json');
    const stored = server.app.aigate.stores.events.recentForDevice(agent.config.deviceId, 100);
    const dropped = stored
      .filter((e) => e.type === 'events-dropped')
      .sort((a, b) => Number(a.details?.totalDropped) - Number(b.details?.totalDropped));
    expect(dropped).toHaveLength(2);
    expect(dropped[0]!.details).toMatchObject({ dropped: 3, totalDropped: 3, spoolFull: 3 });
    expect(dropped[1]!.details).toMatchObject({ dropped: 1, totalDropped: 4, setAside: 1 });
    expect(dropped[1]!.message).toMatch(/1 spooled event was set aside unsent, damaged/);
    expect(
      stored
        .filter((e) => e.type === 'blocked-launch')
        .map((e) => e.id)
        .sort(),
    ).toEqual(ids.slice(3).sort());
  });
});
