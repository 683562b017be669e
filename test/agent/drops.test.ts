/**
 * The drop folders are written by employees, so everything in them is untrusted: launch records
 * and exception requests are accepted only in their exact shape, from regular files, with the
 * user taken from the file owner.
 */
import { execFileSync } from 'node:child_process';
import { chown, link, mkdir, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { collectLaunchRecords, parseLaunchRecord, removeRecords } from '../../agent/events/launch-records.js';
import { userNameOf } from '../../agent/host/users.js';
import { dropRequest, readRequest } from '../../agent/requests/request-file.js';
import { tempDir } from './helpers.js';
import { isRoot, OWNER_GID, OWNER_UID } from './trees.js';

const KEY = '0123456789abcdef';
const TARGETS = new Map([
  [
    KEY,
    {
      toolId: 'claude-code',
      installPath: '/home/alice/.npm-global/lib/node_modules/@anthropic-ai/claude-code',
      version: '2.1.91',
    },
  ],
]);
const uid = process.getuid!();
const record = (fields: Record<string, string | number> = {}) =>
  Object.entries({ v: 1, kind: 'blocked', key: KEY, uid, user: 'alice', at: Math.floor(Date.now() / 1000), ...fields })
    .map(([k, v]) => `${k}=${v}\n`)
    .join('');

let dir: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  dir = await tempDir('aigate-drops-');
});
afterAll(async () => {
  await dir?.remove();
});

describe('launch records', () => {
  it('turn into events with the file owner as the user, and every file is consumed', async () => {
    const launches = join(dir.path, 'launches');
    await mkdir(launches);
    await writeFile(join(launches, `1700000000-42-${KEY}.launch`), record({ kind: 'warned' }));
    await writeFile(join(launches, `1700000001-43-${KEY}.launch`), record());
    if (isRoot) {
      await writeFile(join(launches, `1700000002-44-${KEY}.launch`), record({ uid: OWNER_UID, user: 'root' }));
      await chown(join(launches, `1700000002-44-${KEY}.launch`), OWNER_UID, OWNER_GID);
    }
    const first = await collectLaunchRecords(launches, TARGETS, 7);
    expect(first.rejected).toEqual([]);
    expect(first.events.map((e) => e.type)).toEqual([
      'warned-launch',
      'blocked-launch',
      ...(isRoot ? ['blocked-launch'] : []),
    ]);
    expect(first.events[0]).toMatchObject({
      toolId: 'claude-code',
      version: '2.1.91',
      policyRevision: 7,
      user: userNameOf(uid) ?? 'alice',
    });
    // Claims are not believed: the third record says "root" but belongs to uid 1000.
    if (isRoot) expect(first.events[2]!.user).toBe(userNameOf(OWNER_UID) ?? 'root');
    // Reading the same files again gives the same ids (a crash between spooling and removal is harmless).
    const again = await collectLaunchRecords(launches, TARGETS, 7);
    expect(again.events.map((e) => e.id)).toEqual(first.events.map((e) => e.id));
    await removeRecords(first.consumed);
    expect(await readdir(launches)).toEqual([]);
  });

  it.each([
    ['a wrong name', 'notes.txt', record()],
    ['another key in the text', `1-1-${KEY}.launch`, record({ key: 'ffffffffffffffff' })],
    ['an unknown instance', '1-1-ffffffffffffffff.launch', record({ key: 'ffffffffffffffff' })],
    ['an extra key', `1-2-${KEY}.launch`, `${record()}evil=1\n`],
    ['a repeated key', `1-3-${KEY}.launch`, `${record()}kind=warned\n`],
    ['a bad kind', `1-4-${KEY}.launch`, record({ kind: 'allowed' })],
    ['a claimed uid that is not the owner', `1-5-${KEY}.launch`, record({ uid: uid + 1 })],
    ['odd characters in the user', `1-6-${KEY}.launch`, record({ user: 'a;rm -rf /' })],
    ['too much text', `1-7-${KEY}.launch`, record() + 'x'.repeat(2000)],
  ])('refuses %s', async (_name, file, text) => {
    const launches = join(dir.path, `bad-${file}`);
    await mkdir(launches);
    await writeFile(join(launches, file), text);
    const result = await collectLaunchRecords(launches, TARGETS, null);
    expect(result.events).toEqual([]);
    expect(result.rejected).toHaveLength(1);
    expect(result.consumed).toHaveLength(1);
  });

  it('refuses links, folders and pipes without following or blocking on them', async () => {
    const launches = join(dir.path, 'hostile');
    await mkdir(launches);
    await symlink('/etc/passwd', join(launches, `1-1-${KEY}.launch`));
    await writeFile(join(dir.path, 'victim'), record());
    await link(join(dir.path, 'victim'), join(launches, `1-2-${KEY}.launch`));
    await mkdir(join(launches, `1-3-${KEY}.launch`));
    execFileSync('mkfifo', [join(launches, `1-4-${KEY}.launch`)]);
    const result = await collectLaunchRecords(launches, TARGETS, null);
    expect(result.events).toEqual([]);
    expect(result.rejected.map((r) => r.reason).sort()).toEqual([
      'a hard link',
      'not a regular file',
      'not a regular file',
      'not a regular file',
    ]);
    await removeRecords(result.consumed);
    expect((await stat(join(dir.path, 'victim'))).isFile()).toBe(true);
  });

  it('parses exactly the version 1 format', () => {
    expect(parseLaunchRecord(record({ at: 1700000000 }))).toEqual({
      kind: 'blocked',
      key: KEY,
      uid,
      user: 'alice',
      at: 1_700_000_000_000,
    });
    expect(parseLaunchRecord('v=2\n')).toBe('not a version 1 record');
    expect(parseLaunchRecord('garbage')).toBe('a line is not key=value');
  });
});

describe('exception request files', () => {
  it('are written private and exclusive, and read back strictly', async () => {
    const requests = join(dir.path, 'requests');
    await mkdir(requests);
    const id = await dropRequest(
      requests,
      { toolId: 'claude-code', reason: 'Security review, SEC-1', until: '2026-12-31' },
      Date.parse('2026-07-01T00:00:00Z'),
    );
    const path = join(requests, `${id}.request`);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const read = await readRequest(path);
    expect(read).toEqual({
      request: {
        v: 1,
        id,
        toolId: 'claude-code',
        reason: 'Security review, SEC-1',
        until: '2026-12-31',
        createdAt: '2026-07-01T00:00:00.000Z',
      },
      uid,
    });

    await writeFile(
      join(requests, 'x.request'),
      JSON.stringify({ v: 1, id, toolId: 'claude-code', reason: 'r', createdAt: 'now', admin: true }),
    );
    expect(await readRequest(join(requests, 'x.request'))).toMatch(/^not a valid request/);
    await writeFile(join(requests, 'y.request'), '{');
    expect(await readRequest(join(requests, 'y.request'))).toBe('not JSON');
    await symlink(path, join(requests, 'z.request'));
    expect(await readRequest(join(requests, 'z.request'))).toBe('not a regular file');
    await expect(dropRequest(requests, { toolId: 'claude-code', reason: '' }, Date.now())).rejects.toThrow(/not valid/);
  });
});
