/**
 * Fingerprints learned on one device stop a renamed copy on another (issue 12): real Claude Code
 * 2.0.46 and 2.0.45 from the npm registry, a real server on 127.0.0.1 with its SQLite file, the
 * agent's own reporter over its device HTTP client, the signed bundle verified with the pinned
 * key, and a real unprivileged user on device B whose renamed copy of `cli.js` lies outside any
 * package folder.
 *
 * Device A learns the entry file of its install and reports it; the server keeps it pending and
 * the bundle does not carry it; once an admin approves it (2.0.46), or a second device reports
 * the same file (2.0.45, corroboration), the next bundle carries it, and device B's sentinel,
 * given only that bundle, stops `node ~/notes/helper` (a renamed cli.js) with one event. A
 * shipped fingerprint of the node runtime itself is dropped by the agent and never stops node.
 * Needs root (creates users, reads other users' /proc entries); skipped otherwise.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { quarantineFor } from '../../../agent/enforce/stubs.js';
import type { AgentEvent } from '../../../agent/events/event.js';
import { scanMachine } from '../../../agent/inventory/index.js';
import { DeviceHttp } from '../../../agent/net/device-http.js';
import { type AgentSentinel, createAgentSentinel } from '../../../agent/sentinel/agent-hook.js';
import { FingerprintStore } from '../../../agent/sentinel/fingerprints.js';
import { identifyProcess } from '../../../agent/sentinel/identify.js';
import { readProcess } from '../../../agent/sentinel/proc.js';
import { FingerprintReporter } from '../../../agent/sentinel/report.js';
import { verifyBundle } from '../../../policies/bundle.js';
import { builtinCatalog, catalogIndex } from '../../../policies/catalog/index.js';
import type { ToolInstance } from '../../../policies/inventory.js';
import { BUNDLE_FEATURES, BUNDLE_FEATURES_HEADER, type ToolFingerprint } from '../../../policies/protocol.js';
import { DeviceClient } from '../../support/device-client.js';
import { createEnrollSecret, publish, startTestServer, type TestServer } from '../helpers.js';
import { cleanup, scratch } from '../inventory/fixtures.js';
import { INSTALL_TIMEOUT_MS, npmInstallGlobal } from '../inventory/real-npm.js';

const USER_A = 'aigtflta';
const USER_B = 'aigtfltb';
const isRoot = process.getuid?.() === 0 && process.platform === 'linux';
// Fingerprints are what this file tests: the catalog without content markers, else the real
// Claude Code bytes here would be known by content first (test/agent/sentinel/content-stop.test.ts).
const catalog = catalogIndex({ ...builtinCatalog, tools: builtinCatalog.tools.map(({ content: _, ...tool }) => tool) });
const node = process.execPath;

const t = scratch('aigate-fleet-fp-');
afterAll(cleanup);

function ensureUser(name: string): { uid: number; gid: number } {
  const made = spawnSync('useradd', ['--no-create-home', '--shell', '/bin/sh', name], { encoding: 'utf8' });
  if (made.status !== 0 && made.status !== 9) throw new Error(`useradd ${name}: ${made.stderr}`);
  return {
    uid: Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim()),
  };
}

/** A device as the agent is one: enrolled with its own key, checking in, reporting with the agent's reporter. */
interface Device {
  client: DeviceClient;
  reporter: FingerprintReporter;
}

let server: TestServer;
let secret: string;
let userA: { uid: number; gid: number };
let userB: { uid: number; gid: number };
const homeA = t.path('home/a');
const homeB = t.path('home/b');
const children: ChildProcess[] = [];

async function enroll(hostname: string): Promise<Device> {
  const client = DeviceClient.generate(server.url);
  const enrolled = await client.enroll(secret, { hostname, os: 'linux', users: [USER_A], agentVersion: '0.1.0' });
  expect(enrolled.status, enrolled.text).toBe(201);
  const http = new DeviceHttp({
    serverUrl: server.url,
    deviceId: client.deviceId!,
    audience: client.audience!,
    privateKey: client.privateKey,
  });
  return { client, reporter: new FingerprintReporter(http) };
}

/** Device A's side: scan its home, check the instances in, learn them as the daemon's sentinel does, report. */
async function learnAndReport(
  device: Device,
  home: string,
  version: string,
  toolId = 'claude-code',
): Promise<ToolFingerprint[]> {
  const scan = await scanMachine({ homes: [home], paths: [], detectRunning: false });
  const instances: ToolInstance[] = scan.instances.filter((i) => i.toolId === toolId && i.version === version);
  expect(instances).toHaveLength(1);
  const checkin = await device.client.checkin({
    policyRevision: null,
    agentVersion: '0.1.0',
    inventory: instances,
    verdicts: [],
  });
  expect(checkin.status, checkin.text).toBe(200);
  const sentinel = createAgentSentinel({
    catalog,
    isBlocked: () => false,
    noticeFor: () => null,
    emit: async () => {},
    policyRevision: () => null,
  });
  await sentinel.refresh(instances);
  const learned = sentinel.learned();
  const outcome = await device.reporter.report(learned);
  expect(outcome).toEqual({ sent: learned.length, refused: null });
  return learned;
}

/** What the current signed bundle ships, verified with the key the device pinned at enrollment. */
async function shippedBundle(device: Device): Promise<{ revision: number; fingerprints: ToolFingerprint[] }> {
  // As the agent asks (agent/policy/sync.ts): saying it understands the fingerprints field.
  const reply = await device.client.send<{ bundle: string }>('GET', '/v1/policy', {
    headers: { [BUNDLE_FEATURES_HEADER]: BUNDLE_FEATURES.join(',') },
  });
  expect(reply.status).toBe(200);
  const verified = await verifyBundle(reply.body.bundle, {
    trustedKeys: [device.client.enrollment!.policyKey.jwk],
    lastRevision: null,
    issuer: device.client.audience!,
  });
  if (!verified.ok) throw new Error(verified.message);
  return { revision: verified.payload.revision, fingerprints: verified.payload.fingerprints ?? [] };
}

const sha256Of = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const cliOf = (home: string) => `${home}/.npm-global/lib/node_modules/@anthropic-ai/claude-code/cli.js`;
const codexBinaryOf = (home: string) =>
  `${home}/.npm-global/lib/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/codex/codex`;

/**
 * Starts `node <file> mcp serve` as user B, or `<file> mcp-server` for a native binary (both
 * long-running: they wait on stdin).
 */
function startAsB(
  file: string,
  native = false,
): { child: ChildProcess; exited: Promise<NodeJS.Signals | number | null> } {
  const child = spawn(native ? file : node, native ? ['mcp-server'] : [file, 'mcp', 'serve'], {
    uid: userB.uid,
    gid: userB.gid,
    cwd: homeB,
    env: { HOME: homeB, PATH: '/usr/bin:/bin' },
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  children.push(child);
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? code)),
  );
  return { child, exited };
}

async function waitForScript(pid: number, file: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (readProcess(pid)?.argv.includes(file)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`pid ${pid} never ran ${file}`);
}

/**
 * Device B's sentinel given the shipped fingerprints of the bundle only (nothing learned on B):
 * starts the renamed copy as user B and waits for the outcome.
 */
async function deviceBStops(
  shipped: ToolFingerprint[],
  file: string,
  native = false,
): Promise<{ ended: NodeJS.Signals | number | null | 'running'; events: AgentEvent[] }> {
  const events: AgentEvent[] = [];
  const sentinel: AgentSentinel = createAgentSentinel({
    catalog,
    intervalMs: 50,
    // Only this test's user: other test runs on the machine may run Claude Code too.
    isBlocked: (toolId, _version, user) =>
      (toolId === 'claude-code' || toolId === 'openai-codex-cli') && user === USER_B,
    noticeFor: () => 'aigate: Claude Code is blocked on this computer.',
    emit: async (event) => {
      events.push(event);
    },
    policyRevision: () => null,
  });
  expect(await sentinel.ship(shipped)).toEqual([]);
  sentinel.start();
  try {
    const { child, exited } = startAsB(file, native);
    const ended = await Promise.race([exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 5000))]);
    if (ended === 'running') child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 100)); // the event is emitted asynchronously
    return { ended, events };
  } finally {
    sentinel.stop();
  }
}

beforeAll(async () => {
  if (!isRoot) return;
  userA = ensureUser(USER_A);
  userB = ensureUser(USER_B);
  npmInstallGlobal(`${homeA}/.npm-global`, ['@anthropic-ai/claude-code@2.0.46'], { omitOptional: true });
  // Codex 0.111.0 with its per-platform package: a ~100 MB native binary with no markers in it.
  npmInstallGlobal(`${homeA}-c/.npm-global`, [
    '@openai/codex@0.111.0',
    '@openai/codex-linux-x64@npm:@openai/codex@0.111.0-linux-x64',
  ]);
  for (const home of [homeA, `${homeA}-c`]) execFileSync('chown', ['-R', `${userA.uid}:${userA.gid}`, home]);
  // Device B: the user's renamed copies, outside any package folder.
  mkdirSync(`${homeB}/notes`, { recursive: true });
  cpSync(cliOf(homeA), `${homeB}/notes/helper`);
  cpSync(codexBinaryOf(`${homeA}-c`), `${homeB}/notes/cx`);
  execFileSync('chown', ['-R', `${userB.uid}:${userB.gid}`, homeB]);
  chmodSync(t.root, 0o755);
  chmodSync(t.path('home'), 0o755);

  server = await startTestServer(t.path('server'));
  secret = await createEnrollSecret(server.admin);
  await publish(
    server.admin,
    'apiVersion: aigate/v1\nkind: Policy\nmetadata:\n  name: fleet-fp\nspec:\n  default: allow\n  rules:\n' +
      `    - tools: [claude-code, openai-codex-cli]\n      users: [${USER_B}]\n      action: block\n`,
  );
}, INSTALL_TIMEOUT_MS * 3);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await server?.close();
});

describe.skipIf(!isRoot)(
  'fleet fingerprints: learned on A, shipped in the bundle, stopping a renamed copy on B',
  () => {
    it('keeps a report pending, ships it once an admin approves, and B stops the renamed copy', async () => {
      const a = await enroll('device-a');
      const b = await enroll('device-b');
      const learned = await learnAndReport(a, homeA, '2.0.46');
      const cli = sha256Of(cliOf(homeA));
      expect(learned).toEqual([
        { sha256: cli, size: 10_703_883, toolId: 'claude-code', version: '2.0.46', kind: 'entry' },
      ]);

      // Pending: one device is not enough, and the bundle does not carry it.
      const listed = await server.admin.get<{ fingerprints: { sha256: string; status: string; shipped: boolean }[] }>(
        '/fingerprints',
      );
      expect(listed.fingerprints.find((f) => f.sha256 === cli)).toMatchObject({ status: 'pending', shipped: false });
      const before = await shippedBundle(b);
      expect(before.fingerprints.map((f) => f.sha256)).not.toContain(cli);
      const helper = `${homeB}/notes/helper`;
      const beforeStore = new FingerprintStore();
      await beforeStore.ship(before.fingerprints);
      expect(await beforeStore.match(helper, userB.uid, 'script')).toBeNull();

      await server.admin.post(`/fingerprints/${cli}/approve`);
      const after = await shippedBundle(b);
      expect(after.revision).toBe(before.revision + 1);
      expect(after.fingerprints).toEqual(learned);

      const stopped = await deviceBStops(after.fingerprints, `${homeB}/notes/helper`);
      expect(stopped.ended).toBe('SIGKILL');
      expect(stopped.events.map((e) => [e.type, e.toolId, e.version, e.user, e.details?.stopped])).toEqual([
        ['blocked-launch', 'claude-code', '2.0.46', USER_B, true],
      ]);
      // B learned nothing and no package is around the copy: the shipped fingerprint knows it (a
      // script of Claude Code is also known by its content markers; a native binary by its
      // fingerprint only, next test).
      const afterStore = new FingerprintStore();
      await afterStore.ship(after.fingerprints);
      expect(await afterStore.match(helper, userB.uid, 'script')).toMatchObject({
        toolId: 'claude-code',
        version: '2.0.46',
        kind: 'entry',
        source: 'server',
      });
      expect(await afterStore.match(helper, userA.uid, 'executable')).toBeNull();
    }, 120_000);

    it('learns from an install enforcement already quarantined (root, mode 000), never from a decoy quarantine', async () => {
      // The daemon refreshes the sentinel after the cycle, whose enforcement moved the install to
      // .claude-code.aigate-quarantine beside it, owner root, mode 000 (agent/enforce/steps.ts).
      const scan = await scanMachine({ homes: [homeA], paths: [], detectRunning: false });
      const [instance] = scan.instances.filter((i) => i.toolId === 'claude-code');
      const copyOf = (home: string) => ({ ...instance!, installPath: instance!.installPath.replace(homeA, home) });
      const hooks = {
        catalog,
        isBlocked: () => false,
        noticeFor: () => null,
        emit: async () => {},
        policyRevision: () => null,
      };
      const quarantined = copyOf(`${homeA}-q`);
      cpSync(`${homeA}/.npm-global`, `${homeA}-q/.npm-global`, { recursive: true, verbatimSymlinks: true });
      execFileSync('chown', ['-R', `${userA.uid}:${userA.gid}`, `${homeA}-q`]);
      const locked = quarantineFor(quarantined.installPath);
      renameSync(quarantined.installPath, locked);
      chownSync(locked, 0, 0);
      chmodSync(locked, 0);
      const sentinel = createAgentSentinel(hooks);
      await sentinel.refresh([quarantined]);
      expect(sentinel.learned().map((f) => [f.sha256, f.kind])).toEqual([[sha256Of(cliOf(homeA)), 'entry']]);

      // The user moved the install away and put a folder of their own where the quarantine would be.
      const decoy = copyOf(`${homeA}-decoy`);
      cpSync(`${homeA}/.npm-global`, `${homeA}-decoy/.npm-global`, { recursive: true, verbatimSymlinks: true });
      renameSync(decoy.installPath, quarantineFor(decoy.installPath));
      execFileSync('chown', ['-R', `${userA.uid}:${userA.gid}`, `${homeA}-decoy`]);
      const fooled = createAgentSentinel(hooks);
      await fooled.refresh([decoy]);
      expect(fooled.learned()).toEqual([]);
    }, 60_000);

    it('ships a native binary two devices report without an admin, and B stops a renamed copy by it alone', async () => {
      const c = await enroll('device-c');
      const d = await enroll('device-d');
      const b = await enroll('device-b2');
      const binary = sha256Of(codexBinaryOf(`${homeA}-c`));
      const start = await shippedBundle(b);
      const learned = await learnAndReport(c, `${homeA}-c`, '0.111.0', 'openai-codex-cli');
      // The launcher script and the native binary named after the tool, not the vendored rg.
      expect(learned.map((f) => f.kind).sort()).toEqual(['entry', 'native']);
      expect(learned.find((f) => f.kind === 'native')).toMatchObject({ sha256: binary, toolId: 'openai-codex-cli' });
      expect((await shippedBundle(b)).fingerprints.map((f) => f.sha256)).not.toContain(binary);
      await learnAndReport(d, `${homeA}-c`, '0.111.0', 'openai-codex-cli');
      const after = await shippedBundle(b);
      expect(after.revision).toBe(start.revision + 1);
      expect(after.fingerprints.map((f) => f.sha256)).toContain(binary);

      const stopped = await deviceBStops(after.fingerprints, `${homeB}/notes/cx`, true);
      expect(stopped.ended).toBe('SIGKILL');
      expect(stopped.events.map((e) => [e.toolId, e.version, e.user, e.details?.how, e.details?.stopped])).toEqual([
        ['openai-codex-cli', '0.111.0', USER_B, 'executable', true],
      ]);
      expect(String(stopped.events[0]!.details?.evidence)).toMatch(
        /native file of openai-codex-cli shipped by the server/,
      );
      // Without the shipped fingerprint, nothing knows it.
      const unshipped = await deviceBStops(start.fingerprints, `${homeB}/notes/cx`, true);
      expect(unshipped).toEqual({ ended: 'running', events: [] });
    }, 180_000);

    it('never lets a shipped fingerprint of the node runtime stop node, nor of a file in another package', async () => {
      const runtime = sha256Of(node);
      const size = statSync(node).size;
      const poisoned: ToolFingerprint = {
        sha256: runtime,
        size,
        toolId: 'claude-code',
        version: '2.0.46',
        kind: 'native',
      };
      const store = new FingerprintStore();
      expect(await store.ship([poisoned])).toEqual([poisoned]);
      expect(store.shipped()).toEqual([]);

      // A program the user owns under a runtime's name (its bytes are no runtime here, so ship()
      // keeps its fingerprint): refused by name. And another package's file (left-pad's index.js,
      // long-running here) that a hostile report called claude-code's entry file.
      mkdirSync(`${homeB}/rt`, { recursive: true });
      cpSync(realpathSync('/bin/sleep'), `${homeB}/rt/node`);
      const fakeTool = join(homeB, 'proj', 'node_modules', 'left-pad');
      const otherFile = join(fakeTool, 'index.js');
      mkdirSync(fakeTool, { recursive: true });
      writeFileSync(
        otherFile,
        `// left-pad\n${'module.exports = (s, n) => String(s).padStart(n);\n'.repeat(30)}setTimeout(() => {}, 30000);\n`,
      );
      cpSync(otherFile, `${homeB}/notes/renamed.js`);
      execFileSync('chown', ['-R', `${userB.uid}:${userB.gid}`, homeB]);
      const trusting = new FingerprintStore();
      const shipped: ToolFingerprint[] = [
        { ...poisoned, sha256: sha256Of(`${homeB}/rt/node`), size: statSync(`${homeB}/rt/node`).size },
        {
          sha256: sha256Of(otherFile),
          size: statSync(otherFile).size,
          toolId: 'claude-code',
          version: '2.0.46',
          kind: 'entry',
        },
      ];
      expect(await trusting.ship(shipped)).toEqual([]);

      const ownNode = spawn(`${homeB}/rt/node`, ['30'], {
        uid: userB.uid,
        gid: userB.gid,
        stdio: 'ignore',
      });
      children.push(ownNode);
      const inPackage = spawn(node, [otherFile], {
        uid: userB.uid,
        gid: userB.gid,
        cwd: homeB,
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      children.push(inPackage);
      for (let i = 0; i < 300 && readProcess(ownNode.pid!)?.exe !== `${homeB}/rt/node`; i++)
        await new Promise((r) => setTimeout(r, 10));
      await waitForScript(inPackage.pid!, otherFile);
      const ctx = { catalog, fingerprints: trusting };
      expect(await identifyProcess(readProcess(ownNode.pid!)!, ctx)).toBeNull();
      expect(await identifyProcess(readProcess(inPackage.pid!)!, ctx)).toBeNull();
      // The same bytes outside any package are taken for the tool (what the server's trust rule
      // must prevent: only an admin or corroborating devices ship such a fingerprint).
      const renamed = spawn(node, [`${homeB}/notes/renamed.js`], {
        uid: userB.uid,
        gid: userB.gid,
        cwd: homeB,
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      children.push(renamed);
      await waitForScript(renamed.pid!, `${homeB}/notes/renamed.js`);
      expect((await identifyProcess(readProcess(renamed.pid!)!, ctx))?.toolId).toBe('claude-code');
    }, 60_000);
  },
);
