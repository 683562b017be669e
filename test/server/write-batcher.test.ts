import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { openDatabase } from '../../server/db/open.js';
import { WriteBatcher } from '../../server/db/write-batcher.js';
import { InventoryStore } from '../../server/store/inventory.js';
import { eightInstances, tempDir, verdictFor } from './helpers.js';

describe('WriteBatcher (group commit)', () => {
  let db: Database.Database;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  beforeEach(async () => {
    dir = await tempDir('aigate-batch-');
    db = new Database(`${dir.path}/t.db`);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)');
  });
  afterEach(async () => {
    db.close();
    await dir.remove();
  });

  it('commits writes of one turn together and resolves each with its own result', async () => {
    const batcher = new WriteBatcher(db);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const results = await Promise.all(
      ['a', 'b', 'c'].map((v) => batcher.submit(() => Number(insert.run(v).lastInsertRowid))),
    );
    expect(results).toEqual([1, 2, 3]);
    expect(db.prepare('SELECT v FROM t ORDER BY id').pluck().all()).toEqual(['a', 'b', 'c']);
  });

  it('rolls back only the write that failed', async () => {
    const batcher = new WriteBatcher(db);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const outcomes = await Promise.allSettled([
      batcher.submit(() => insert.run('x')),
      batcher.submit(() => {
        insert.run('half-done');
        insert.run('x'); // violates UNIQUE: this write, and only this one, is undone
      }),
      batcher.submit(() => insert.run('y')),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(db.prepare('SELECT v FROM t ORDER BY id').pluck().all()).toEqual(['x', 'y']);
  });

  it('resolves nothing before the data is committed', async () => {
    const batcher = new WriteBatcher(db);
    const reader = new Database(`${dir.path}/t.db`, { readonly: true });
    const pending = batcher.submit(() => db.prepare('INSERT INTO t (v) VALUES (?)').run('late'));
    // Not yet flushed: another connection sees nothing.
    expect(reader.prepare('SELECT count(*) FROM t').pluck().get()).toBe(0);
    await pending;
    expect(reader.prepare('SELECT count(*) FROM t').pluck().get()).toBe(1);
    reader.close();
  });

  it('splits large bursts into several transactions and flushes on demand', async () => {
    const batcher = new WriteBatcher(db, 10);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const all = Promise.all(Array.from({ length: 35 }, (_, i) => batcher.submit(() => insert.run(`v${i}`))));
    batcher.flushNow();
    expect(db.prepare('SELECT count(*) FROM t').pluck().get()).toBe(35);
    await all;
  });
});

describe('InventoryStore: remembered check-ins', () => {
  it('recognises a repeated check-in without reading rows, and compares rows again after forgetting', async () => {
    const dir = await tempDir('aigate-digest-');
    const { db } = openDatabase(`${dir.path}/a.db`);
    try {
      db.prepare(
        "INSERT INTO devices (id, key_thumbprint, public_jwk, hostname, os, agent_version, group_name, enrolled_at) VALUES ('d1', 't', '{}', 'h', 'linux', '1', 'eng', 0)",
      ).run();
      const store = new InventoryStore(db);
      const inventory = eightInstances('alice');
      const verdicts = inventory.map((instance) => verdictFor(instance, 'allow'));
      const reported = inventory.map((instance, i) => ({ instance, verdict: verdicts[i]! }));
      const digest = InventoryStore.checkinDigest(inventory, verdicts);

      expect(store.applyCheckin('d1', 'eng', 1, null, reported, digest)).toMatchObject({ appeared: 8 });
      store.rememberApplied('d1', digest);
      expect(store.applyCheckin('d1', 'eng', 2, null, reported, digest)).toEqual({
        appeared: 0,
        changed: 0,
        disappeared: 0,
        unchanged: 8,
      });

      // A different report never matches the remembered digest.
      const changed = reported.map((item, i) =>
        i === 0 ? { ...item, instance: { ...item.instance, version: '9.9.9' } } : item,
      );
      const changedDigest = InventoryStore.checkinDigest(
        changed.map((c) => c.instance),
        verdicts,
      );
      expect(changedDigest).not.toBe(digest);
      expect(store.applyCheckin('d1', 'eng', 3, null, changed, changedDigest)).toMatchObject({
        changed: 1,
        unchanged: 7,
      });

      // Forgotten (or after a restart): the same report is compared row by row.
      store.forgetApplied('d1');
      expect(store.applyCheckin('d1', 'eng', 4, null, changed, changedDigest)).toEqual({
        appeared: 0,
        changed: 0,
        disappeared: 0,
        unchanged: 8,
      });
    } finally {
      db.close();
      await dir.remove();
    }
  });
});
