/**
 * Everything a request handler needs, built once per server: the database and its stores, the
 * signing key, the in-memory policy channel and caches, and the services.
 */
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

import type Database from 'better-sqlite3';

import { builtinCatalog, catalogIndex } from '../policies/catalog/index.js';
import { publicKeyFingerprint, type SigningKey } from '../policies/keys.js';
import type { ResolvedOptions } from './config.js';
import { lockDataDir } from './data-lock.js';
import { openDatabase } from './db/open.js';
import { StorageHealth } from './db/storage-health.js';
import { WriteBatcher } from './db/write-batcher.js';
import { RunningObserver } from './jobs/running-observer.js';
import { LastSeenTracker } from './last-seen.js';
import { PolicyChannel } from './policy-channel.js';
import { DeviceAuthenticator } from './security/device-auth.js';
import { ReplayCache } from './security/replay-cache.js';
import { ExceptionService } from './services/exception-service.js';
import { FingerprintService } from './services/fingerprint-service.js';
import { currentFromRevision, PolicyService } from './services/policy-service.js';
import { loadOrCreateSigningKey } from './signing-key.js';
import { AuditLog } from './store/audit.js';
import { DeviceStore } from './store/devices.js';
import { EnrollSecretStore } from './store/enroll-secrets.js';
import { EventStore } from './store/events.js';
import { ExceptionRequestStore } from './store/exception-requests.js';
import { FingerprintStore } from './store/fingerprints.js';
import { InventoryStore } from './store/inventory.js';
import { PolicyStore } from './store/policies.js';
import { TokenStore } from './store/tokens.js';

export const DATABASE_FILE = 'aigate.db';

/** The data directory is in a state the server must not start from (the message says why and what to do). */
class DataDirError extends Error {}

/**
 * A signing key beside an empty or missing database is not a first start: the database was
 * lost or truncated. Starting would mint a new bootstrap token and every enrolled device would
 * be refused, so refuse instead.
 */
async function refuseLostDatabase(databaseFile: string, signingKeyFile: string): Promise<void> {
  const size = await stat(databaseFile).then(
    (info) => info.size,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    },
  );
  if (size !== null && size > 0) return;
  throw new DataDirError(
    `the database ${databaseFile} is ${size === null ? 'missing' : 'empty (0 bytes)'}, but the policy signing key ${signingKeyFile} exists: ` +
      'this is not a first start. Starting would create a new admin token and a new server id, and every enrolled device would be refused. ' +
      `Restore ${databaseFile} from a backup; to start over on purpose, move both files out of the data directory.`,
  );
}

interface Stores {
  tokens: TokenStore;
  enrollSecrets: EnrollSecretStore;
  devices: DeviceStore;
  policies: PolicyStore;
  inventory: InventoryStore;
  events: EventStore;
  exceptionRequests: ExceptionRequestStore;
  fingerprints: FingerprintStore;
  audit: AuditLog;
}

export interface ServerContext {
  options: ResolvedOptions;
  db: Database.Database;
  /** Group commit for high-rate writes (check-ins). */
  writes: WriteBatcher;
  /** Whether writes succeed (a full disk is reported by /healthz). */
  storage: StorageHealth;
  now: () => number;
  /** Stable id of this server installation, created on first start. */
  serverId: string;
  /** The `aud` device tokens must carry and the `iss` of policy bundles. */
  audience: string;
  signingKey: SigningKey;
  policyKeyFingerprint: string;
  stores: Stores;
  channel: PolicyChannel;
  deviceAuth: DeviceAuthenticator;
  lastSeen: LastSeenTracker;
  /** Running tools reported by check-ins, written every few seconds (reports and rollups read them). */
  running: RunningObserver;
  policies: PolicyService;
  exceptions: ExceptionService;
  /** Fingerprints devices report, and which ones the bundle ships. */
  fingerprints: FingerprintService;
  /** What happened during this start, for the CLI's first-start message. */
  startup: {
    databaseCreated: boolean;
    migrated: number[];
    signingKeyCreated: boolean;
    signingKeyFile: string;
    databaseFile: string;
  };
  /** The bootstrap admin token if this start created it; returns it once, then null. */
  takeBootstrapToken(): string | null;
  close(): void;
}

function ensureServerId(db: Database.Database): string {
  const row = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'server_id'").get();
  if (row) return row.value;
  const id = randomUUID();
  db.prepare("INSERT INTO meta (key, value) VALUES ('server_id', ?)").run(id);
  return id;
}

export async function createContext(options: ResolvedOptions): Promise<ServerContext> {
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  if (process.platform !== 'win32') await chmod(options.dataDir, 0o700);
  const lock = lockDataDir(options.dataDir);
  try {
    return await open(options, lock.release);
  } catch (error) {
    lock.release();
    throw error;
  }
}

async function open(options: ResolvedOptions, releaseLock: () => void): Promise<ServerContext> {
  const {
    key: signingKey,
    created: signingKeyCreated,
    file: signingKeyFile,
  } = await loadOrCreateSigningKey(options.dataDir);
  const policyKeyFingerprint = await publicKeyFingerprint(signingKey.publicJwk);

  const databaseFile = join(options.dataDir, DATABASE_FILE);
  if (!signingKeyCreated) await refuseLostDatabase(databaseFile, signingKeyFile);
  const { db, migrated } = openDatabase(databaseFile);
  const now = options.now;
  try {
    const serverId = ensureServerId(db);
    const audience = `aigate:${serverId}`;
    const stores: Stores = {
      tokens: new TokenStore(db, now),
      enrollSecrets: new EnrollSecretStore(db, now),
      devices: new DeviceStore(db, now),
      policies: new PolicyStore(db),
      inventory: new InventoryStore(db),
      events: new EventStore(db),
      exceptionRequests: new ExceptionRequestStore(db, now),
      fingerprints: new FingerprintStore(db, now),
      audit: new AuditLog(db, now),
    };

    let bootstrapToken: string | null = null;
    if (stores.tokens.isEmpty()) {
      db.transaction(() => {
        const { record, token } = stores.tokens.create('bootstrap', 'admin', null);
        stores.audit.append({
          actor: { id: null, name: 'aigate-server', role: 'system' },
          action: 'token.create',
          target: `token:${record.id}`,
          details: { name: record.name, role: record.role, bootstrap: true },
        });
        bootstrapToken = token;
      })();
    }

    const current = stores.policies.current();
    const channel = new PolicyChannel(current ? currentFromRevision(current) : null);
    const deviceAuth = new DeviceAuthenticator(stores.devices, new ReplayCache(now), audience, now);
    const lastSeen = new LastSeenTracker((seen) => stores.devices.markSeen(seen, 60_000), options.lastSeenFlushMs);
    const policies = new PolicyService({
      db,
      store: stores.policies,
      requests: stores.exceptionRequests,
      audit: stores.audit,
      channel,
      key: signingKey,
      issuer: audience,
      now,
      fingerprints: {
        shippable: () => fingerprints.shippable(),
        shipped: (sha256s, revision) => stores.fingerprints.markShipped(sha256s, revision),
      },
    });
    const fingerprints: FingerprintService = new FingerprintService({
      db,
      store: stores.fingerprints,
      inventory: stores.inventory,
      policies: stores.policies,
      publisher: policies,
      audit: stores.audit,
      catalog: catalogIndex(builtinCatalog),
      corroboration: options.fingerprintCorroboration,
    });
    const exceptions = new ExceptionService({
      db,
      requests: stores.exceptionRequests,
      devices: stores.devices,
      inventory: stores.inventory,
      catalog: catalogIndex(builtinCatalog),
      policies,
      audit: stores.audit,
    });
    const writes = new WriteBatcher(db);
    const running = new RunningObserver(db);
    lastSeen.start();
    running.start();

    let closed = false;
    return {
      options,
      db,
      writes,
      storage: new StorageHealth(db, options.dataDir, now),
      now,
      serverId,
      audience,
      signingKey,
      policyKeyFingerprint,
      stores,
      channel,
      deviceAuth,
      lastSeen,
      running,
      policies,
      exceptions,
      fingerprints,
      startup: { databaseCreated: migrated.includes(1), migrated, signingKeyCreated, signingKeyFile, databaseFile },
      takeBootstrapToken() {
        const token = bootstrapToken;
        bootstrapToken = null;
        return token;
      },
      close() {
        if (closed) return;
        closed = true;
        channel.releaseAll();
        lastSeen.stop();
        writes.flushNow();
        running.stop();
        db.close();
        releaseLock();
      },
    };
  } catch (error) {
    db.close();
    throw error;
  }
}
