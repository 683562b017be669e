/**
 * Bundles that must be refused, served by a man-in-the-middle proxy in front of the real server:
 * a tampered bundle, an older revision, and a bundle signed by another key. Each is refused and
 * reported once (policy-refused), and the policy in force stays in force, ban included.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isOurStub } from '../../agent/enforce/steps.js';
import { type BundlePayload, signBundle } from '../../policies/bundle.js';
import { generateSigningKey } from '../../policies/keys.js';
import { type AgentSetup, ALLOW_ALL, enrollBin, onceOk, pastBan, readStatus } from './e2e-helpers.js';
import { createEnrollSecret, publish, startTestServer, tempDir, type TestServer } from './helpers.js';
import { claudeCodeNpm } from './trees.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: TestServer;
let proxy: Server;
let proxyUrl: string;
let setup: AgentSetup;
let deviceId: string;
/** When set, GET /v1/policy answers with this bundle instead of asking the server. */
let forged: { revision: number; bundle: string } | null = null;

function startProxy(target: URL): Promise<Server> {
  const proxyServer = createServer((incoming, outgoing) => {
    if (forged && incoming.method === 'GET' && incoming.url === '/v1/policy') {
      const etag = `"forged-${forged.revision}-${forged.bundle.length}"`;
      outgoing.writeHead(200, { 'content-type': 'application/json', etag });
      outgoing.end(
        JSON.stringify({
          revision: forged.revision,
          etag,
          publishedAt: new Date().toISOString(),
          bundle: forged.bundle,
        }),
      );
      return;
    }
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        method: incoming.method,
        path: incoming.url,
        headers: incoming.headers,
      },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    upstream.on('error', () => outgoing.destroy());
    incoming.pipe(upstream);
  });
  return new Promise((resolve) => proxyServer.listen(0, '127.0.0.1', () => resolve(proxyServer)));
}

beforeAll(async () => {
  dir = await tempDir('aigate-refusals-');
  server = await startTestServer(join(dir.path, 'server'));
  proxy = await startProxy(new URL(server.url));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const tree = join(dir.path, 'tree');
  setup = {
    stateDir: join(dir.path, 'state'),
    install: await claudeCodeNpm(join(tree, 'npm-global')),
    home: join(tree, 'home', 'alice'),
    env: {},
  };
  const enrolled = await enrollBin(
    proxyUrl,
    await createEnrollSecret(server.admin),
    setup.stateDir,
    server.app.aigate.policyKeyFingerprint,
  );
  deviceId = /device ([0-9a-f-]{36})/.exec(enrolled.stdout)![1]!;
});
afterAll(async () => {
  await new Promise((resolve) => proxy?.close(resolve));
  await server?.close();
  await dir?.remove();
});

const refusals = () =>
  server.app.aigate.stores.events.recentForDevice(deviceId, 1000).filter((event) => event.type === 'policy-refused');

async function expectInForce(revision: number, name: string): Promise<void> {
  const status = await readStatus(setup.stateDir);
  expect(status.policy).toMatchObject({ revision, name });
  expect(status.tools).toEqual([
    expect.objectContaining({ toolId: 'claude-code', action: 'block', enforced: 'block' }),
  ]);
  expect(await isOurStub(setup.install.launcher)).toBe(true);
}

describe('refused bundles', () => {
  it('are each refused and reported, and the previous policy stays in force', async () => {
    const first = await publish(server.admin, pastBan('ban-first'));
    await onceOk(setup);
    const second = await publish(server.admin, pastBan('ban-second'));
    await onceOk(setup);
    await expectInForce(second, 'ban-second');

    const { bundle: current } = await server.admin.get<{ bundle: string }>(`/policies/${second}`);
    const { bundle: older } = await server.admin.get<{ bundle: string }>(`/policies/${first}`);
    const [header, payload, signature] = current.split('.') as [string, string, string];
    const lifted = {
      ...(JSON.parse(Buffer.from(payload, 'base64url').toString()) as BundlePayload),
      revision: second + 1,
    };
    lifted.policy = {
      apiVersion: 'aigate/v1',
      kind: 'Policy',
      metadata: { name: 'sneaky-allow' },
      spec: { default: 'allow' },
    };
    delete lifted.policyHash;
    const tampered = `${header}.${Buffer.from(JSON.stringify(lifted)).toString('base64url')}.${signature}`;
    const foreign = await signBundle({ ...lifted, revision: second + 2 }, await generateSigningKey());

    const cases = [
      { bundle: tampered, revision: second + 1, code: 'bad-signature' },
      { bundle: older, revision: first, code: 'stale-revision' },
      { bundle: foreign, revision: second + 2, code: 'unknown-key' },
    ];
    for (const c of cases) {
      forged = { revision: c.revision, bundle: c.bundle };
      const cycle = await onceOk(setup);
      expect(cycle.stdout).toContain('a newer bundle was refused');
      await expectInForce(second, 'ban-second');
      expect((await readStatus(setup.stateDir)).policyProblem).toContain('the current policy stays in force');
      expect(refusals().map((event) => event.details?.code)).toContain(c.code);
      // Served again: not reported twice.
      await onceOk(setup);
    }
    expect(
      refusals()
        .map((event) => event.details?.code)
        .sort(),
    ).toEqual(['bad-signature', 'stale-revision', 'unknown-key']);
    expect(refusals().every((event) => event.policyRevision === second)).toBe(true);

    // The real server again: a genuine newer revision is accepted.
    forged = null;
    const lift = await publish(server.admin, ALLOW_ALL);
    const cycle = await onceOk(setup);
    expect(cycle.stdout).toContain(`revision ${lift} (enforce), just received`);
    expect(cycle.stdout).toContain('1 restored');
  });
});
