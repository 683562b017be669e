/** The database layer on real SQLite files: migrations, audit chain, inventory history, secrets, events. */
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { MigrationError, MIGRATIONS, runMigrations } from '../../server/db/migrations.js';
import { openDatabase } from '../../server/db/open.js';
import { AuditLog, GENESIS_HASH } from '../../server/store/audit.js';
import { DeviceStore } from '../../server/store/devices.js';
import { EnrollSecretStore } from '../../server/store/enroll-secrets.js';
import { EventStore } from '../../server/store/events.js';
import { InventoryStore, type ReportedInstance } from '../../server/store/inventory.js';
import { TokenStore } from '../../server/store/tokens.js';
import { npmInstance, tempDir, verdictFor } from './helpers.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let db: Database.Database;
let clock: number;
const now = () => clock;

beforeEach(async () => {
  dir = await tempDir();
  db = openDatabase(join(dir.path, 'test.db')).db;
  clock = Date.parse('2026-06-01T00:00:00Z');
});
afterEach(async () => {
  db.close();
  await dir.remove();
});

describe('migrations', () => {
  it('creates the schema once, records the version, and is a no-op on reopen', async () => {
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    const reopened = openDatabase(join(dir.path, 'test.db'));
    expect(reopened.migrated).toEqual([]);
    db = reopened.db;
  });

  it('applies only the migrations newer than the database, in order', () => {
    const scratch = new Database(join(dir.path, 'scratch.db'));
    const first = runMigrations(scratch, [{ version: 1, name: 'a', sql: 'CREATE TABLE a (x INTEGER);' }]);
    const second = runMigrations(scratch, [
      { version: 2, name: 'b', sql: 'CREATE TABLE b (x INTEGER);' },
      { version: 1, name: 'a', sql: 'CREATE TABLE a (x INTEGER);' },
    ]);
    expect(first).toEqual([1]);
    expect(second).toEqual([2]);
    scratch.close();
  });

  it('refuses a database from a newer server, and numbering gaps', () => {
    const scratch = new Database(join(dir.path, 'scratch.db'));
    scratch.pragma('user_version = 99');
    expect(() => runMigrations(scratch)).toThrow(/written by a newer aigate-server/);
    expect(() => runMigrations(scratch, [{ version: 2, name: 'x', sql: '' }])).toThrow(MigrationError);
    scratch.close();
  });

  it('migrates v4 exception requests: approved ends backfilled, approvals a rollback removed become revoked', () => {
    const old = new Database(join(dir.path, 'v4.db'));
    runMigrations(old, MIGRATIONS.slice(0, 4));
    old
      .prepare(
        "INSERT INTO devices (id, key_thumbprint, public_jwk, hostname, os, agent_version, group_name, enrolled_at) VALUES ('d1', 't', '{}', 'h', 'linux', '1', 'g', 1)",
      )
      .run();
    const policy = (revision: number, exceptions: object[]) =>
      old
        .prepare(
          "INSERT INTO policies (revision, name, source, source_format, document, sha256, bundle, etag, published_at) VALUES (?, 'p', '', 'yaml', ?, '', '', '', ?)",
        )
        .run(revision, JSON.stringify({ spec: { exceptions } }), revision * 1000);
    const request = (id: string, status: string, revision: number | null) =>
      old
        .prepare(
          "INSERT INTO exception_requests (id, device_id, tool_id, reason, requested_at, status, policy_revision) VALUES (?, 'd1', 'claude-code', 'r', 1, ?, ?)",
        )
        .run(id, status, revision);
    const kept = { name: 'exception-request-kept', tools: ['claude-code'], until: '2026-12-31', reason: 'r' };
    const dropped = { name: 'exception-request-dropped', tools: ['claude-code'], reason: 'r' };
    policy(1, [dropped]);
    policy(2, [dropped, kept]);
    policy(3, [kept]); // a rollback-like edit dropped one approval
    request('dropped', 'approved', 1);
    request('kept', 'approved', 2);
    request('waiting', 'pending', null);
    expect(runMigrations(old)).toEqual(MIGRATIONS.slice(4).map((m) => m.version));
    const rows = old
      .prepare('SELECT id, status, approved_until, revoked_in_revision, revoked_at FROM exception_requests ORDER BY id')
      .all();
    expect(rows).toEqual([
      { id: 'dropped', status: 'revoked', approved_until: null, revoked_in_revision: 3, revoked_at: 3000 },
      { id: 'kept', status: 'approved', approved_until: '2026-12-31', revoked_in_revision: null, revoked_at: null },
      { id: 'waiting', status: 'pending', approved_until: null, revoked_in_revision: null, revoked_at: null },
    ]);
    expect(old.pragma('foreign_key_check')).toEqual([]);
    old.close();
  });

  it('rolls a failing migration back completely', () => {
    const scratch = new Database(join(dir.path, 'scratch.db'));
    expect(() =>
      runMigrations(scratch, [{ version: 1, name: 'bad', sql: 'CREATE TABLE ok (x INTEGER); CREATE TABLE broken (' }]),
    ).toThrow();
    expect(scratch.pragma('user_version', { simple: true })).toBe(0);
    expect(scratch.prepare("SELECT name FROM sqlite_master WHERE name = 'ok'").get()).toBeUndefined();
    scratch.close();
  });
});

describe('audit log', () => {
  const actor = { id: 't1', name: 'alice', role: 'admin' as const };

  function fill(log: AuditLog, n: number): void {
    for (let i = 0; i < n; i++) {
      clock += 1000;
      log.append({
        actor,
        action: `test.action${i}`,
        target: `thing:${i}`,
        details: { i, text: 'x"y\nz' },
        remoteIp: '10.0.0.1',
      });
    }
  }

  it('chains each entry to the previous one and verifies', () => {
    const log = new AuditLog(db, now);
    fill(log, 5);
    const entries = log.list(0, 100);
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(entries[0]!.prevHash).toBe(GENESIS_HASH);
    for (let i = 1; i < entries.length; i++) expect(entries[i]!.prevHash).toBe(entries[i - 1]!.hash);
    expect(log.verify()).toEqual({ ok: true, entries: 5, headHash: entries[4]!.hash });
  });

  it('refuses UPDATE and DELETE through SQL', () => {
    const log = new AuditLog(db, now);
    fill(log, 2);
    expect(() => db.prepare("UPDATE audit_log SET action = 'x' WHERE seq = 1").run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM audit_log WHERE seq = 2').run()).toThrow(/append-only/);
  });

  // Someone with the database file can drop the triggers; the chain still shows what they did.
  const tampering: { name: string; edit: (db: Database.Database) => void; brokenAt: number; problem: RegExp }[] = [
    {
      name: 'a changed field',
      edit: (d) => d.prepare("UPDATE audit_log SET actor_name = 'mallory' WHERE seq = 3").run(),
      brokenAt: 3,
      problem: /changed after it was written/,
    },
    {
      name: 'a changed detail',
      edit: (d) => d.prepare("UPDATE audit_log SET details = '{}' WHERE seq = 2").run(),
      brokenAt: 2,
      problem: /changed/,
    },
    {
      name: 'a removed row',
      edit: (d) => d.prepare('DELETE FROM audit_log WHERE seq = 2').run(),
      brokenAt: 3,
      problem: /entry 2 is missing/,
    },
    {
      name: 'a rewritten hash',
      edit: (d) => d.prepare("UPDATE audit_log SET hash = 'ab' || substr(hash, 3) WHERE seq = 4").run(),
      brokenAt: 4,
      problem: /changed/,
    },
    {
      name: 'a row re-hashed to fit but the next row still points at the old hash',
      edit: (d) => {
        d.prepare("UPDATE audit_log SET action = 'forged', hash = ? WHERE seq = 2").run('f'.repeat(64));
      },
      brokenAt: 2,
      problem: /changed/,
    },
  ];
  it.each(tampering)('detects $name', ({ edit, brokenAt, problem }) => {
    const log = new AuditLog(db, now);
    fill(log, 5);
    db.exec('DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;');
    edit(db);
    const result = log.verify();
    expect(result.ok).toBe(false);
    expect(result.brokenAt).toBe(brokenAt);
    expect(result.problem).toMatch(problem);
  });
});

describe('tokens', () => {
  it('stores only a hash, authenticates, refuses revoked and unknown tokens', () => {
    const tokens = new TokenStore(db, now);
    const { record, token } = tokens.create('ci', 'auditor', 'alice');
    expect(token).toMatch(/^aigt_[A-Za-z0-9_-]{43}$/);
    const stored = db.prepare('SELECT * FROM admin_tokens').all() as Record<string, unknown>[];
    expect(JSON.stringify(stored)).not.toContain(token.slice(5));
    expect(tokens.authenticate(token)).toMatchObject({ ok: true, record: { id: record.id, role: 'auditor' } });
    expect(tokens.authenticate(token + 'x')).toEqual({ ok: false, reason: 'unknown' });
    expect(tokens.revoke(record.id)).toBe(true);
    expect(tokens.revoke(record.id)).toBe(false);
    expect(tokens.authenticate(token)).toEqual({ ok: false, reason: 'revoked' });
  });
});

describe('enroll secrets', () => {
  const cases: { name: string; setup: (s: EnrollSecretStore, id: string) => void; expected: string | true }[] = [
    { name: 'a fresh secret', setup: () => {}, expected: true },
    { name: 'an expired secret', setup: () => (clock += 8 * 86_400_000), expected: 'expired' },
    { name: 'a revoked secret', setup: (s, id) => s.revoke(id), expected: 'revoked' },
    {
      name: 'a used-up secret',
      setup: (s, id) => {
        s.recordUse(id);
        s.recordUse(id);
      },
      expected: 'used-up',
    },
  ];
  it.each(cases)('checks $name', ({ setup, expected }) => {
    const secrets = new EnrollSecretStore(db, now);
    const { record, secret } = secrets.create({
      group: 'eng',
      expiresAt: clock + 7 * 86_400_000,
      maxUses: 2,
      createdBy: 'alice',
    });
    setup(secrets, record.id);
    const result = secrets.check(secret);
    if (expected === true) expect(result).toMatchObject({ ok: true, record: { group: 'eng' } });
    else expect(result).toEqual({ ok: false, reason: expected });
    expect(secrets.check('aiges_nope')).toEqual({ ok: false, reason: 'unknown' });
  });
});

describe('inventory check-ins', () => {
  let devices: DeviceStore;
  let inventory: InventoryStore;
  beforeEach(() => {
    devices = new DeviceStore(db, now);
    devices.create({
      id: 'dev-1',
      keyThumbprint: 'tp',
      publicJwk: '{}',
      group: 'eng',
      enrollSecretId: null,
      facts: { hostname: 'h', os: 'linux', osVersion: null, arch: null, users: ['alice'], agentVersion: '1.0.0' },
    });
    inventory = new InventoryStore(db);
  });
  /** What the check-in route does: apply, then stamp the device, in one transaction. */
  const checkin = (revision: number | null, items: ReportedInstance[]) =>
    db.transaction(() => {
      const summary = inventory.applyCheckin('dev-1', 'eng', clock, revision, items);
      devices.recordCheckin('dev-1', clock, { policyRevision: revision });
      return summary;
    })();
  const claude = npmInstance('claude-code', '@anthropic-ai/claude-code', '2.1.91');
  const codex = npmInstance('openai-codex-cli', '@openai/codex', '0.155.0');
  const history = () =>
    db
      .prepare(
        'SELECT change, tool_id, old_version, new_version, old_action, new_action FROM instance_history ORDER BY id',
      )
      .all();
  const writes = () => (db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;

  it('records appear, unchanged, version change, verdict change, disappear and reappear', () => {
    const t0 = clock;
    expect(
      checkin(1, [
        { instance: claude, verdict: verdictFor(claude, 'allow') },
        { instance: codex, verdict: verdictFor(codex, 'allow') },
      ]),
    ).toEqual({
      appeared: 2,
      changed: 0,
      disappeared: 0,
      unchanged: 0,
    });
    clock += 60_000;
    const tUnchanged = clock;
    const before = writes();
    expect(
      checkin(1, [
        { instance: claude, verdict: verdictFor(claude, 'allow') },
        { instance: codex, verdict: verdictFor(codex, 'allow') },
      ]),
    ).toEqual({
      appeared: 0,
      changed: 0,
      disappeared: 0,
      unchanged: 2,
    });
    // Nothing changed: only the device row was written.
    expect(writes() - before).toBe(1);
    expect(inventory.forDevice('dev-1').map((s) => s.lastSeenAt)).toEqual([tUnchanged, tUnchanged]);

    const claudeNew = { ...claude, version: '2.1.95' };
    clock += 60_000;
    const tBlock = clock;
    expect(
      checkin(2, [
        { instance: claudeNew, verdict: verdictFor(claudeNew, 'block') },
        { instance: codex, verdict: verdictFor(codex, 'allow') },
      ]),
    ).toEqual({
      appeared: 0,
      changed: 1,
      disappeared: 0,
      unchanged: 1,
    });
    clock += 60_000;
    // Still blocked, with a different message: violation_since stays at the first block.
    expect(
      checkin(2, [{ instance: claudeNew, verdict: verdictFor(claudeNew, 'block', { message: 'changed' }) }]),
    ).toEqual({
      appeared: 0,
      changed: 1,
      disappeared: 1,
      unchanged: 0,
    });
    let stored = inventory.forDevice('dev-1');
    const claudeRow = stored.find((s) => s.instance.toolId === 'claude-code')!;
    expect(claudeRow).toMatchObject({
      present: true,
      firstSeenAt: t0,
      lastSeenAt: clock,
      changedAt: clock,
      violationSince: tBlock,
      policyRevision: 2,
    });
    expect(claudeRow.instance).toEqual(claudeNew);
    // Last seen by the check-in before the one that no longer reported it.
    expect(stored.find((s) => s.instance.toolId === 'openai-codex-cli')).toMatchObject({
      present: false,
      disappearedAt: clock,
      lastSeenAt: tBlock,
    });

    clock += 60_000;
    checkin(2, [
      { instance: claudeNew, verdict: verdictFor(claudeNew, 'allow') },
      { instance: codex, verdict: null },
    ]);
    stored = inventory.forDevice('dev-1');
    expect(stored.find((s) => s.instance.toolId === 'claude-code')!.violationSince).toBeNull();
    expect(stored.find((s) => s.instance.toolId === 'openai-codex-cli')).toMatchObject({
      present: true,
      disappearedAt: null,
      verdict: null,
      lastSeenAt: clock,
      firstSeenAt: t0,
    });

    expect(history()).toEqual([
      {
        change: 'appeared',
        tool_id: 'claude-code',
        old_version: null,
        new_version: '2.1.91',
        old_action: null,
        new_action: 'allow',
      },
      {
        change: 'appeared',
        tool_id: 'openai-codex-cli',
        old_version: null,
        new_version: '0.155.0',
        old_action: null,
        new_action: 'allow',
      },
      {
        change: 'version-changed',
        tool_id: 'claude-code',
        old_version: '2.1.91',
        new_version: '2.1.95',
        old_action: 'allow',
        new_action: 'block',
      },
      {
        change: 'verdict-changed',
        tool_id: 'claude-code',
        old_version: '2.1.91',
        new_version: '2.1.95',
        old_action: 'allow',
        new_action: 'block',
      },
      {
        change: 'disappeared',
        tool_id: 'openai-codex-cli',
        old_version: '0.155.0',
        new_version: null,
        old_action: 'allow',
        new_action: null,
      },
      {
        change: 'verdict-changed',
        tool_id: 'claude-code',
        old_version: '2.1.95',
        new_version: '2.1.95',
        old_action: 'block',
        new_action: 'allow',
      },
      {
        change: 'appeared',
        tool_id: 'openai-codex-cli',
        old_version: '0.155.0',
        new_version: '0.155.0',
        old_action: 'allow',
        new_action: null,
      },
    ]);
  });

  it('keeps instances apart by install path and lists present ones per active device', () => {
    const second = { ...claude, installPath: '/opt/claude', owner: 'bob' };
    checkin(null, [
      { instance: claude, verdict: null },
      { instance: second, verdict: null },
    ]);
    const present = [...inventory.presentByDevice()];
    expect(present).toHaveLength(1);
    expect(present[0]!.instances.map((s) => s.instance.installPath).sort()).toEqual([
      '/home/alice/.npm-global/lib/node_modules/@anthropic-ai/claude-code',
      '/opt/claude',
    ]);
    devices.revoke('dev-1');
    expect([...inventory.presentByDevice()]).toEqual([]);
  });
});

describe('events', () => {
  it('ignores repeated ids (also differently cased) and counts them', () => {
    new DeviceStore(db, now).create({
      id: 'dev-1',
      keyThumbprint: 'tp',
      publicJwk: '{}',
      group: 'eng',
      enrollSecretId: null,
      facts: { hostname: 'h', os: 'linux', osVersion: null, arch: null, users: [], agentVersion: '1' },
    });
    const events = new EventStore(db);
    const id = '0b9f6c1e-8d4a-4c1e-9a39-1f7b2a9d3e11';
    expect(events.addBatch('dev-1', clock, [{ id, type: 'blocked-launch', at: clock, toolId: 'claude-code' }])).toEqual(
      { accepted: 1, duplicates: 0 },
    );
    expect(
      events.addBatch('dev-1', clock, [
        { id: id.toUpperCase(), type: 'blocked-launch', at: clock },
        {
          id: '5d0c5e4e-2b8e-4a35-8f47-0d8c4f1f9a22',
          type: 'tamper',
          at: clock,
          details: { path: '/x', restored: true },
        },
      ]),
    ).toEqual({ accepted: 1, duplicates: 1 });
    expect(
      events
        .recentForDevice('dev-1', 10)
        .map((e) => e.type)
        .sort(),
    ).toEqual(['blocked-launch', 'tamper']);
  });
});
