/**
 * Every JSON line the agent logs has unique keys (a duplicate key is ambiguous: most JSON
 * parsers keep the last one, log pipelines differ). A real `aigate-agent once` at debug level
 * against a real server: a policy accepted, a ban enforced, check-in and events.
 */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { duplicateKeys } from '../support/json-keys.js';
import { type AgentSetup, enrollBin, pastBan, rootsFor } from './e2e-helpers.js';
import { agent, createEnrollSecret, publish, startTestServer, tempDir, type TestServer } from './helpers.js';
import { claudeCodeNpm } from './trees.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: TestServer;
let setup: AgentSetup;

beforeAll(async () => {
  dir = await tempDir('aigate-log-keys-');
  server = await startTestServer(join(dir.path, 'server'));
  const tree = join(dir.path, 'tree');
  setup = {
    stateDir: join(dir.path, 'state'),
    install: await claudeCodeNpm(join(tree, 'npm-global')),
    home: join(tree, 'home', 'alice'),
    env: {},
  };
  const enrolled = await enrollBin(server.url, await createEnrollSecret(server.admin), setup.stateDir);
  expect(enrolled.code, enrolled.stderr).toBe(0);
  await publish(server.admin, pastBan());
});
afterAll(async () => {
  await server?.close();
  await dir?.remove();
});

describe('agent log lines', () => {
  it('the duplicate-key scan finds what JSON.parse hides', () => {
    expect(duplicateKeys('{"name":"aigate-agent","pid":1,"name":"ban"}')).toEqual(['name']);
    expect(duplicateKeys('{"name":"aigate-agent","policyName":"ban","details":{"name":"x"}}')).toEqual([]);
  });

  it('have unique keys through a once run (policy accepted, enforcement, check-in, events)', async () => {
    const ran = await agent([
      'once',
      '--state-dir',
      setup.stateDir,
      ...rootsFor(setup),
      '--stop-grace',
      '1',
      '--no-desktop-notify',
      '--log-level',
      'debug',
    ]);
    expect(ran.code, ran.stderr).toBe(0);
    const lines = ran.stderr.split('\n').filter((line) => line.startsWith('{'));
    const messages = lines.map((line) => (JSON.parse(line) as { msg?: string }).msg);
    expect(messages).toContain('policy accepted');
    // The line that once carried pino's `name` binding twice.
    expect(lines.find((line) => line.includes('"msg":"policy accepted"'))).toMatch(
      /"name":"aigate-agent".*"policyName":"ban-claude-code"/,
    );
    for (const line of lines) expect(duplicateKeys(line), line).toEqual([]);
  });
});
