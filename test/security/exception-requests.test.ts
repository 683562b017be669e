/**
 * Issue 10, failing input 9 — exception requests are not checked. An enrolled device is not
 * trusted: it may ask only for a catalogued tool (or an `unknown:` id it reported) and for a
 * user it reported;
 * on a device with several users, an approval that names no scope covers the requesting user
 * only. A real server on 127.0.0.1, a real device key, the admin API.
 */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import { tempDir } from '../agent/helpers.js';
import { BAN_POLICY, FACTS, serverWithSecret } from '../server/harness.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let env: Awaited<ReturnType<typeof serverWithSecret>>;
let device: Awaited<ReturnType<Awaited<ReturnType<typeof serverWithSecret>>['enrollDevice']>>;

const claude = (owner: string) => ({
  toolId: 'claude-code',
  name: '@anthropic-ai/claude-code',
  version: '2.1.91',
  channel: 'npm',
  installPath: `/home/${owner}/.npm-global/lib/node_modules/@anthropic-ai/claude-code`,
  launchers: [`/home/${owner}/.npm-global/bin/claude`],
  owner,
  evidence: [`/home/${owner}/.npm-global/lib/node_modules/@anthropic-ai/claude-code/package.json`],
});

beforeAll(async () => {
  dir = await tempDir('aigt-sec-exc-');
  env = await serverWithSecret(join(dir.path, 'server'));
  await env.admin.post('/policies', { source: BAN_POLICY });
  device = await env.enrollDevice({ users: ['alice', 'bob'] });
  const reply = await device.checkin({
    policyRevision: null,
    agentVersion: FACTS.agentVersion,
    inventory: [claude('alice'), claude('bob')],
    verdicts: [],
    users: ['alice', 'bob'],
  });
  expect(reply.status, reply.text).toBe(200);
}, 60_000);

afterAll(async () => {
  await env?.server.close();
  await dir?.remove();
});

describe('failing input 9: a device asks for an exception', () => {
  it.each([
    ['every tool ("*") for a made-up user', { toolId: '*', user: 'ceo' }],
    ['every tool ("*") for a user it reported', { toolId: '*', user: 'alice' }],
    ['a reported tool for a made-up user', { toolId: 'claude-code', user: 'ceo' }],
    ['an id that is not in the catalog', { toolId: 'not-a-tool', user: 'alice' }],
    ['an unknown: id it never reported', { toolId: 'unknown:npm:evil', user: 'alice' }],
  ])('%s: refused with a clear 4xx', async (_what, fields) => {
    const reply = await device.requestException({ ...fields, reason: 'I need it for the release' });
    expect(
      reply.status,
      `the server accepted ${JSON.stringify(fields)}: ${reply.status} ${reply.text}`,
    ).toBeGreaterThanOrEqual(400);
    expect(reply.status, reply.text).toBeLessThan(500);
    expect(reply.text, 'the refusal says why').toMatch(/tool|user/i);
  });

  it('an approval with no scope on a shared device covers only the requesting user', async () => {
    const asked = await device.requestException({ toolId: 'claude-code', user: 'alice', reason: 'release week' });
    expect(asked.status, asked.text).toBe(201);
    const approved = await env.admin.post<{ revision: number }>(`/exception-requests/${asked.body.id}/approve`, {
      reason: 'ok',
    });
    const shown = await env.admin.get<{ source: string }>(`/policies/${approved.revision}`);
    const exceptions = (
      (parse(shown.source) as { spec: { exceptions?: { tools: string[]; users?: string[]; devices?: string[] }[] } })
        .spec.exceptions ?? []
    ).filter((e) => e.tools.includes('claude-code'));
    expect(exceptions, `the published exception (revision ${approved.revision}):\n${shown.source}`).toEqual([
      expect.objectContaining({ users: ['alice'] }),
    ]);
  });
});
