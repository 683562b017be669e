/** Start a real server on 127.0.0.1 (port 0) with a real data directory, for the API tests. */
import { Writable } from 'node:stream';

import { type AigateServer, buildServer } from '../../server/app.js';
import { AdminClient } from '../../server/client/admin-client.js';
import type { ServerOptions } from '../../server/config.js';
import { DeviceClient } from '../support/device-client.js';

export interface RunningServer {
  app: AigateServer;
  url: string;
  /** The bootstrap admin token when this start created it. */
  bootstrapToken: string | null;
  logs: string[];
  close: () => Promise<void>;
}

export async function startServer(dataDir: string, options: Partial<ServerOptions> = {}): Promise<RunningServer> {
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  const app = await buildServer({ dataDir, logLevel: 'info', logStream, ...options });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (!address || typeof address !== 'object') throw new Error('server has no address');
  return {
    app,
    url: `http://127.0.0.1:${address.port}`,
    bootstrapToken: app.aigate.takeBootstrapToken(),
    logs,
    close: () => app.close(),
  };
}

export const FACTS = {
  hostname: 'dev-laptop-1',
  os: 'linux' as const,
  osVersion: 'Ubuntu 24.04',
  arch: 'x64',
  users: ['alice'],
  agentVersion: '0.1.0',
};

/** A server with an admin client and one enroll secret: the usual starting point. */
export async function serverWithSecret(dataDir: string, options: Partial<ServerOptions> = {}) {
  const server = await startServer(dataDir, options);
  if (!server.bootstrapToken) throw new Error('expected a fresh data directory');
  const admin = new AdminClient(server.url, server.bootstrapToken);
  const { secret } = await admin.post<{ secret: string }>('/enroll-secrets', { group: 'engineering', maxUses: 1000 });
  const enrollDevice = async (facts: Partial<typeof FACTS> = {}) => {
    const device = DeviceClient.generate(server.url);
    const result = await device.enroll(secret, { ...FACTS, ...facts });
    if (result.status !== 201) throw new Error(`enroll failed: ${result.status} ${result.text}`);
    return device;
  };
  return { server, admin, secret, enrollDevice };
}

export const BAN_POLICY = `# test policy
apiVersion: aigate/v1
kind: Policy
metadata:
  name: test-ban
spec:
  timezone: UTC
  default: allow
  rules:
    - name: ban-claude-code
      tools: [claude-code]
      action: block
      effective: 2020-01-01
    - name: old-codex
      tools: [openai-codex-cli]
      versions: "<0.160.0"
      action: warn
`;

export const ALLOW_ALL_POLICY = `apiVersion: aigate/v1
kind: Policy
metadata:
  name: allow-all
spec:
  default: allow
`;
