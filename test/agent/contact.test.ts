/**
 * The agent's device client against a server that answers wrongly (a real HTTP server on
 * 127.0.0.1 playing one): a reply that is not the protocol's is a clear contact error naming the
 * field, not a crash; an exception request whose id another device took (409 `conflict`) is filed
 * under a new id, and that id is what the employee is shown.
 */
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { userNameOf } from '../../agent/host/users.js';
import { silentLogger } from '../../agent/log.js';
import { ContactError, MalformedReply, ServerError } from '../../agent/net/contact.js';
import { DeviceHttp } from '../../agent/net/device-http.js';
import { PolicySync } from '../../agent/policy/sync.js';
import { forwardRequests } from '../../agent/requests/forward.js';
import { dropRequest } from '../../agent/requests/request-file.js';
import { generateDeviceKey } from '../../agent/state/device-key.js';
import { ensureStateLayout } from '../../agent/state/layout.js';
import { statePaths } from '../../agent/state/paths.js';
import { builtinCatalog, catalogIndex } from '../../policies/catalog/index.js';
import { tempDir } from './helpers.js';

const view = (id: string) => ({
  id,
  toolId: 'claude-code',
  status: 'pending',
  requestedAt: '2026-11-29T00:00:00Z',
  decidedAt: null,
  decisionReason: null,
  policyRevision: null,
});
type Handler = (method: string, url: string, body: unknown) => { status: number; body: unknown };
let handler: Handler = () => ({ status: 500, body: null });
const seen: { method: string; url: string; body: unknown }[] = [];
let server: Server;
let url = '';
let dir: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  dir = await tempDir('aigate-contact-');
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      const body = text ? (JSON.parse(text) as unknown) : null;
      seen.push({ method: req.method!, url: req.url!, body });
      // The state of a filed request (forwardRequests refreshes pending ones).
      const reply =
        req.method === 'GET' && req.url!.startsWith('/v1/exception-requests/')
          ? { status: 200, body: view(decodeURIComponent(req.url!.split('/').pop()!)) }
          : handler(req.method!, req.url!, body);
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await dir?.remove();
});

const http = () =>
  new DeviceHttp({
    serverUrl: url,
    deviceId: '6f1c0a52-3c1b-4b8e-9d55-0d6f3f7f0a11',
    audience: 'aigate-test',
    privateKey: generateDeviceKey().privateKey,
  });

describe('replies checked against the protocol', () => {
  it('a policy reply without its bundle is a MalformedReply (a contact error) naming the field', async () => {
    handler = () => ({ status: 200, body: { revision: 3, etag: 'r3', publishedAt: '2026-01-01T00:00:00Z' } });
    const paths = statePaths(join(dir.path, 'state-policy'));
    await ensureStateLayout(paths);
    const sync = new PolicySync({
      http: http(),
      paths,
      keys: [],
      emit: async () => undefined,
      log: silentLogger(),
      clock: Date.now,
    });
    const error = await sync.poll().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MalformedReply);
    expect(error).toBeInstanceOf(ContactError);
    expect((error as Error).message).toMatch(
      /GET \/v1\/policy: the server's answer is not what the aigate protocol says \(\/bundle: /,
    );
    expect(sync.current).toBeNull();
  });

  it('an error reply carries the server code, not just its text', async () => {
    handler = () => ({
      status: 503,
      body: { error: 'storage_full', code: 'storage_full', message: 'the disk is full' },
    });
    const paths = statePaths(join(dir.path, 'state-503'));
    await ensureStateLayout(paths);
    const sync = new PolicySync({
      http: http(),
      paths,
      keys: [],
      emit: async () => undefined,
      log: silentLogger(),
      clock: Date.now,
    });
    const error = await sync.poll().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ status: 503, code: 'storage_full' });
  });
});

describe('exception requests', () => {
  async function setUp(name: string) {
    const requestsDir = join(dir.path, name, 'requests');
    await mkdir(requestsDir, { recursive: true });
    const id = await dropRequest(requestsDir, { toolId: 'claude-code', reason: 'Security review' }, Date.now());
    const user = userNameOf(process.getuid!()) ?? `uid ${process.getuid!()}`;
    const forward = () =>
      forwardRequests({
        http: http(),
        requestsDir,
        trackedFile: join(dir.path, name, 'exceptions.json'),
        index: catalogIndex(builtinCatalog),
        instances: [],
        log: silentLogger(),
        reportedUsers: [user],
      });
    return { id, forward };
  }

  it('an id another device took (409 conflict) is filed again under a new id, the one the employee sees', async () => {
    const { id, forward } = await setUp('conflict');
    seen.length = 0;
    handler = (_method, _url, body) => {
      const sent = (body as { id: string }).id;
      return sent === id
        ? { status: 409, body: { error: 'conflict', code: 'conflict', message: 'body.id: taken' } }
        : { status: 201, body: view(sent) };
    };
    const [request] = await forward();
    const posted = seen.filter((call) => call.method === 'POST');
    expect(posted.map((call) => (call.body as { id: string }).id)).toEqual([id, expect.not.stringMatching(id)]);
    expect(request).toMatchObject({ id, status: 'pending', serverId: (posted[1]!.body as { id: string }).id });
  });

  it('a malformed answer leaves the request waiting (its file stays), no crash', async () => {
    const { id, forward } = await setUp('malformed');
    handler = () => ({ status: 201, body: { id: 42 } });
    const [request] = await forward();
    expect(request).toMatchObject({ id, status: 'pending', serverId: null });
    handler = (_method, _url, body) => ({ status: 201, body: view((body as { id: string }).id) });
    const [again] = await forward();
    expect(again).toMatchObject({ id, status: 'pending', serverId: id });
  });
});
