/**
 * `aigate-agent status` before there is a status to show: it says plainly whether the machine
 * is enrolled and what to run next, instead of only naming a missing file. Real server, the
 * built agent bin, real state folders.
 */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { agent, createEnrollSecret, startTestServer, tempDir, type TestServer } from './helpers.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: TestServer;

beforeAll(async () => {
  dir = await tempDir('aigate-status-first-day-');
  server = await startTestServer(join(dir.path, 'server'));
});

afterAll(async () => {
  await server?.close();
  await dir?.remove();
});

describe('aigate-agent status before the first cycle', () => {
  it.each([
    [
      'a state folder that does not exist',
      async () => join(dir.path, 'nothing-here'),
      /this machine is not enrolled \(no agent state in .*nothing-here\); an admin enrolls it with the command aigate enroll-secret create prints, then runs: sudo aigate-agent once/,
    ],
    [
      'an enrolled machine whose agent has not run',
      async () => {
        const stateDir = join(dir.path, 'enrolled');
        const secret = await createEnrollSecret(server.admin);
        const enrolled = await agent(['enroll', '--server', server.url, '--secret', secret, '--state-dir', stateDir]);
        expect(enrolled.code, enrolled.stderr).toBe(0);
        return stateDir;
      },
      /this machine is enrolled, but the agent has not finished a cycle yet \(no .*enrolled\/status\.json\); an admin starts it with: sudo aigate-agent once/,
    ],
  ])('with %s says what is missing and what to run (exit 1)', async (_name, prepare, message) => {
    const stateDir = await prepare();
    const result = await agent(['status', '--state-dir', stateDir]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(message);
  });
});
