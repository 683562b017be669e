/**
 * The server refuses to start on a data directory it would damage or misread, and says why:
 * a database with a damaged page (PRAGMA quick_check), an empty database beside an existing
 * signing key (not a first start), a lock file whose pid now belongs to another process (taken
 * over, not blocking). A full disk (a real 32 MiB tmpfs; the tests run as root) gives 503
 * `storage_full` with Retry-After, /healthz says why, and both recover once space is back.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildServer } from '../../server/app.js';
import { DATABASE_FILE } from '../../server/context.js';
import { DataDirLockedError, LOCK_FILE, lockDataDir, processStartTime } from '../../server/data-lock.js';
import { ALLOW_ALL_POLICY, serverWithSecret, startServer } from './harness.js';
import { npmInstance, tempDir, verdictFor } from './helpers.js';

describe('refusing a data directory at start', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    dir = await tempDir();
  });
  afterAll(async () => {
    await dir?.remove();
  });

  it('refuses a database with a damaged page, naming the file and quick_check', async () => {
    const dataDir = join(dir.path, 'damaged');
    const { server, admin } = await serverWithSecret(dataDir);
    // Enough rows to span many pages.
    for (let i = 0; i < 40; i++) await admin.post('/enroll-secrets', { group: `group-${i}`, note: 'x'.repeat(400) });
    await server.close();
    const file = join(dataDir, DATABASE_FILE);
    const pageSize = (() => {
      const db = new Database(file, { readonly: true });
      try {
        return db.pragma('page_size', { simple: true }) as number;
      } finally {
        db.close();
      }
    })();
    const pages = readFileSync(file).length / pageSize;
    expect(pages).toBeGreaterThan(6);
    // Overwrite the middle of the last few pages (b-tree pages of the tables just filled).
    const fd = openSync(file, 'r+');
    try {
      for (let page = pages - 4; page < pages; page++)
        writeSync(fd, Buffer.alloc(512, 0xa5), 0, 512, page * pageSize + 8);
    } finally {
      closeSync(fd);
    }
    await expect(buildServer({ dataDir, logLevel: 'silent' })).rejects.toThrow(
      new RegExp(
        `the database ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is damaged \\((PRAGMA quick_check|database disk image is malformed).*restore the file from a backup`,
        's',
      ),
    );
    // The lock was released: the directory is not left locked by the refused start.
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
  });

  it('refuses an empty database beside an existing signing key (not a first start)', async () => {
    const dataDir = join(dir.path, 'emptied');
    const first = await startServer(dataDir);
    expect(first.bootstrapToken).not.toBeNull();
    await first.close();
    const file = join(dataDir, DATABASE_FILE);
    truncateSync(file, 0);
    for (const extra of ['-wal', '-shm']) rmSync(file + extra, { force: true });
    await expect(buildServer({ dataDir, logLevel: 'silent' })).rejects.toThrow(
      /is empty \(0 bytes\), but the policy signing key .* exists: this is not a first start/,
    );
    // Nothing was created: the database is still empty, no bootstrap token minted.
    expect(readFileSync(file).length).toBe(0);
    rmSync(file);
    await expect(buildServer({ dataDir, logLevel: 'silent' })).rejects.toThrow(
      /is missing, but the policy signing key/,
    );
  });
});

describe('the data directory lock', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let other: ChildProcess;
  beforeAll(async () => {
    dir = await tempDir();
    other = spawn('sleep', ['60'], { stdio: 'ignore' });
    await new Promise((resolve) => other.once('spawn', resolve));
  });
  afterAll(async () => {
    other?.kill();
    await dir?.remove();
  });

  it('records its holder as pid and start time', () => {
    const lock = lockDataDir(dir.path);
    try {
      expect(readFileSync(join(dir.path, LOCK_FILE), 'utf8')).toBe(
        `${process.pid}\n${processStartTime(process.pid)}\n`,
      );
    } finally {
      lock.release();
    }
  });

  it('takes over a lock whose pid now belongs to another process', () => {
    const pid = other.pid!;
    const start = processStartTime(pid)!;
    expect(start).toMatch(/^\d+$/);
    // Same pid, another start time: the pid was reused.
    writeFileSync(join(dir.path, LOCK_FILE), `${pid}\n${BigInt(start) + 1n}\n`);
    lockDataDir(dir.path).release();
    // An old lock without a start time, naming a process that is no aigate server (sleep).
    writeFileSync(join(dir.path, LOCK_FILE), `${pid}\n`);
    lockDataDir(dir.path).release();
  });

  it('refuses while the recorded process still holds it', () => {
    writeFileSync(join(dir.path, LOCK_FILE), `${other.pid}\n${processStartTime(other.pid!)}\n`);
    expect(() => lockDataDir(dir.path)).toThrow(DataDirLockedError);
    expect(() => lockDataDir(dir.path)).toThrow(/in use by another aigate-server \(pid \d+\)/);
    rmSync(join(dir.path, LOCK_FILE));
  });
});

describe('a full disk', () => {
  const mountPoint = join('/tmp', `aigate-full-${process.pid}`);

  beforeAll(() => {
    if (process.getuid?.() !== 0) throw new Error('this test mounts a tmpfs and must run as root (as CI does)');
    mkdirSync(mountPoint, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=32m,mode=0700', 'tmpfs', mountPoint]);
  });
  afterAll(() => {
    try {
      execFileSync('umount', ['-l', mountPoint]);
    } finally {
      rmSync(mountPoint, { recursive: true, force: true });
    }
  });

  it('answers writes with 503 storage_full and Retry-After, says why in /healthz, and recovers', async () => {
    const dataDir = join(mountPoint, 'data');
    const { server, admin, enrollDevice } = await serverWithSecret(dataDir);
    try {
      await admin.post('/policies', { source: ALLOW_ALL_POLICY });
      const device = await enrollDevice();
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

      // Fill the file system.
      const filler = join(mountPoint, 'filler');
      const fd = openSync(filler, 'w');
      const chunk = Buffer.alloc(64 * 1024, 1);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (error) {
        expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
      } finally {
        closeSync(fd);
      }
      // Fill the last partial block too.
      try {
        const small = openSync(join(mountPoint, 'filler2'), 'w');
        try {
          for (;;) writeSync(small, Buffer.alloc(512, 1));
        } finally {
          closeSync(small);
        }
      } catch {
        // ENOSPC: full.
      }

      // A large check-in needs new pages: refused with 503, not 500.
      const inventory = Array.from({ length: 600 }, (_, i) =>
        npmInstance('claude-code', '@anthropic-ai/claude-code', '2.1.91', `user${i}`, {
          installPath: `/home/user${i}/.npm-global/lib/node_modules/@anthropic-ai/claude-code/${'p'.repeat(200)}`,
        }),
      );
      const refused = await device.checkin({
        policyRevision: 1,
        agentVersion: '0.4.0',
        inventory,
        verdicts: inventory.map((i) => verdictFor(i, 'allow')),
      });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('60');
      expect(refused.body).toMatchObject({
        error: 'storage_full',
        code: 'storage_full',
        message: expect.stringMatching(/disk is full/),
      });

      const unhealthy = await fetch(`${server.url}/healthz`);
      expect(unhealthy.status).toBe(503);
      expect(unhealthy.headers.get('retry-after')).toBe('60');
      expect(await unhealthy.json()).toMatchObject({
        ok: false,
        problems: [expect.stringMatching(new RegExp(`the disk holding ${dataDir} (is full|has no free space)`))],
      });
      expect(server.logs.some((line) => /write refused: the disk is full/.test(line))).toBe(true);

      // Space back: health is ok again and the same write succeeds.
      rmSync(filler);
      rmSync(join(mountPoint, 'filler2'), { force: true });
      const healthy = await fetch(`${server.url}/healthz`);
      expect(healthy.status).toBe(200);
      expect(await healthy.json()).toMatchObject({ ok: true, problems: [] });
      const accepted = await device.checkin({
        policyRevision: 1,
        agentVersion: '0.4.0',
        inventory,
        verdicts: inventory.map((i) => verdictFor(i, 'allow')),
      });
      expect(accepted.status).toBe(200);
      await expect(admin.post('/enroll-secrets', { group: 'after-the-disk-filled' })).resolves.toMatchObject({
        group: 'after-the-disk-filled',
      });
    } finally {
      await server.close();
    }
  });
});
