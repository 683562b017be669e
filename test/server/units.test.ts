/** The server's small in-memory parts: replay cache, policy channel, header parsing, validation messages, data-dir lock. */
import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';

import { DataDirLockedError, lockDataDir } from '../../server/data-lock.js';
import { ApiError } from '../../server/http/errors.js';
import { RequestValidationError, validatorCompiler } from '../../server/http/validation.js';
import { type CurrentPolicy, PolicyChannel } from '../../server/policy-channel.js';
import { parseIfNoneMatch, parseWait } from '../../server/routes/policy.js';
import { ReplayCache } from '../../server/security/replay-cache.js';
import { tempDir } from './helpers.js';

describe('ReplayCache', () => {
  it('remembers a key until it expires, then forgets it', () => {
    let now = 1_000;
    const cache = new ReplayCache(() => now, 10, 1);
    expect(cache.remember('a', 5_000)).toBe('fresh');
    expect(cache.remember('a', 5_000)).toBe('replayed');
    expect(cache.remember('b', 5_000)).toBe('fresh');
    now = 5_000;
    expect(cache.remember('a', 9_000)).toBe('fresh');
    expect(cache.size).toBe(1);
  });

  it('fails closed when full of live entries, and recovers when they expire', () => {
    let now = 0;
    const cache = new ReplayCache(() => now, 3, 1_000_000);
    for (const key of ['a', 'b', 'c']) expect(cache.remember(key, 100)).toBe('fresh');
    expect(cache.remember('d', 100)).toBe('full');
    now = 100;
    expect(cache.remember('d', 200)).toBe('fresh');
  });
});

describe('PolicyChannel', () => {
  const policy = (revision: number): CurrentPolicy => ({
    revision,
    etag: `"r${revision}"`,
    bundle: `b${revision}`,
    publishedAt: revision,
  });

  it('answers at once when the caller is behind', async () => {
    const channel = new PolicyChannel(policy(2));
    await expect(channel.waitForChange('"r1"', 10_000)).resolves.toEqual(policy(2));
    expect(channel.waiting).toBe(0);
  });

  it('wakes waiters on publish', async () => {
    const channel = new PolicyChannel(policy(1));
    const waits = [channel.waitForChange('"r1"', 60_000), channel.waitForChange('"r1"', 60_000)];
    expect(channel.waiting).toBe(2);
    channel.publish(policy(2));
    await expect(Promise.all(waits)).resolves.toEqual([policy(2), policy(2)]);
    expect(channel.waiting).toBe(0);
  });

  it('times out with the unchanged policy, and stops waiting when the client leaves', async () => {
    const channel = new PolicyChannel(null);
    await expect(channel.waitForChange(null, 20)).resolves.toBeNull();
    const controller = new AbortController();
    const wait = channel.waitForChange(null, 60_000, controller.signal);
    controller.abort();
    await expect(wait).resolves.toBeNull();
    expect(channel.waiting).toBe(0);
  });
});

describe('Prefer: wait and If-None-Match', () => {
  const waits: [string | undefined, number | null][] = [
    [undefined, null],
    ['', null],
    ['wait=10', 10],
    ['WAIT = 5', 5],
    ['respond-async, wait=30', 30],
    ['wait="7"', 7],
    ['wait=600', 60],
    ['return=minimal', null],
  ];
  it.each(waits)('parses Prefer %j as %j', (header, expected) => {
    expect(parseWait(header, 60)).toBe(expected);
  });
  it.each(['wait=abc', 'wait=-1', 'wait=1.5', 'wait='])('refuses Prefer %j with a clear message', (header) => {
    expect(() => parseWait(header, 60)).toThrow(ApiError);
    expect(() => parseWait(header, 60)).toThrow(/whole number of seconds/);
  });
  it('reads entity tags, weak or strong, lists and *', () => {
    expect([...parseIfNoneMatch('"r1-abc"')]).toEqual(['"r1-abc"']);
    expect([...parseIfNoneMatch('W/"r1-abc", "r2-def"')]).toEqual(['"r1-abc"', '"r2-def"']);
    expect([...parseIfNoneMatch('*')]).toEqual(['*']);
    expect([...parseIfNoneMatch('garbage')]).toEqual([]);
  });
});

describe('request validation messages', () => {
  const Body = Type.Object(
    {
      name: Type.String({ minLength: 1, maxLength: 5 }),
      count: Type.Integer({ minimum: 1 }),
      items: Type.Array(
        Type.Object(
          { id: Type.String({ format: 'uuid' }), version: Type.Union([Type.String(), Type.Null()]) },
          { additionalProperties: false },
        ),
        {
          maxItems: 2,
        },
      ),
    },
    { additionalProperties: false },
  );
  const check = validatorCompiler({ schema: Body, method: 'POST', url: '/x', httpPart: 'body' });
  const good = { name: 'ok', count: 1, items: [{ id: '0b9f6c1e-8d4a-4c1e-9a39-1f7b2a9d3e11', version: null }] };
  const cases: [string, unknown, RegExp][] = [
    ['a missing field', { count: 1, items: [] }, /body\.name is required/],
    ['an unknown field', { ...good, extra: true }, /body\.extra is not a known field \(allowed: name, count, items\)/],
    ['a wrong type', { ...good, count: '1' }, /body\.count expected an integer, got "1"/],
    [
      'a nested wrong type',
      { ...good, items: [{ id: '0b9f6c1e-8d4a-4c1e-9a39-1f7b2a9d3e11', version: 42 }] },
      /body\.items\[0\]\.version expected a string or null, got number 42/,
    ],
    [
      'a bad format',
      { ...good, items: [{ id: 'nope', version: null }] },
      /body\.items\[0\]\.id expected a UUID, got "nope"/,
    ],
    ['too long', { ...good, name: 'toolong' }, /body\.name is too long \(at most 5 characters\)/],
    ['too small', { ...good, count: 0 }, /body\.count must be at least 1/],
    [
      'too many items',
      { ...good, items: [good.items[0], good.items[0], good.items[0]] },
      /body\.items has too many items \(at most 2\)/,
    ],
    ['no body', null, /needs a JSON body/],
    ['not an object', [1, 2], /body expected an object, got a list/],
  ];
  it.each(cases)('names the field for %s', (_name, input, message) => {
    const result = check(input) as { error?: Error; value?: unknown };
    expect(result.error).toBeInstanceOf(RequestValidationError);
    expect(result.error!.message).toMatch(message);
  });
  it('passes valid bodies through untouched (no coercion, nothing removed)', () => {
    expect(check(good)).toEqual({ value: good });
  });
  it('converts query strings (they are always text on the wire)', () => {
    const query = validatorCompiler({
      schema: Type.Object({ limit: Type.Optional(Type.Integer()), all: Type.Optional(Type.Boolean()) }),
      method: 'GET',
      url: '/x',
      httpPart: 'querystring',
    });
    expect(query({ limit: '10', all: 'true' })).toEqual({ value: { limit: 10, all: true } });
    expect((query({ limit: 'ten' }) as { error: Error }).error.message).toMatch(
      /query\.limit expected an integer, got "ten"/,
    );
  });
});

describe('data directory lock', () => {
  it('allows one holder at a time and takes over a stale lock', async () => {
    const dir = await tempDir();
    try {
      const lock = lockDataDir(dir.path);
      expect(() => lockDataDir(dir.path)).toThrow(DataDirLockedError);
      lock.release();
      const again = lockDataDir(dir.path);
      again.release();
      // A lock file left by a process that no longer exists.
      const { writeFileSync } = await import('node:fs');
      writeFileSync(`${dir.path}/aigate-server.lock`, '999999999\n');
      lockDataDir(dir.path).release();
    } finally {
      await dir.remove();
    }
  });
});
