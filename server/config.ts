/** Server options, with the defaults a production start uses. */
import type { DestinationStream, LevelWithSilent } from 'pino';

import { MAX_CHECKIN_BODY_BYTES, MAX_EVENTS_BODY_BYTES, MAX_POLICY_WAIT_SECONDS } from '../policies/protocol.js';

/** Default number of distinct devices whose identical reports ship a fingerprint without an admin. */
const DEFAULT_FINGERPRINT_CORROBORATION = 2;

export interface RateLimits {
  /** Requests per minute one device may make (all device routes together). */
  devicePerMinute: number;
  /** Requests per minute per admin/auditor token. */
  tokenPerMinute: number;
  /** Enrollment attempts per minute per client address. */
  enrollPerMinutePerIp: number;
}

interface BodyLimits {
  /** Default for routes not listed below. */
  default: number;
  enroll: number;
  checkin: number;
  events: number;
  policy: number;
}

export interface ServerOptions {
  /** Directory for the database and the signing key; created (mode 0700) if missing. */
  dataDir: string;
  /** Log level; 'silent' for none. */
  logLevel?: LevelWithSilent;
  /** Where logs go (default stdout). */
  logStream?: DestinationStream;
  /** TLS key and certificate (PEM); without them the server speaks plain HTTP. */
  tls?: { key: Buffer | string; cert: Buffer | string };
  /** The clock; tests pass their own. Milliseconds since the epoch. */
  now?: () => number;
  rateLimits?: Partial<RateLimits>;
  bodyLimits?: Partial<BodyLimits>;
  /** How long a client may take to send a whole request. */
  requestTimeoutMs?: number;
  /** Longest `Prefer: wait=N` honoured, in seconds. */
  maxWaitSeconds?: number;
  /** Trust X-Forwarded-For from a reverse proxy (only behind one). */
  trustProxy?: boolean;
  /** How often buffered last-seen times of polling devices are written. */
  lastSeenFlushMs?: number;
  /** A device without a check-in for this long is stale (reports, dashboard). Default 7 days. */
  staleAfterMs?: number;
  /** Raw agent events older than this are pruned by the daily job; the rollups keep their counts. Default 400 days. */
  eventRetentionMs?: number;
  /** node-cron expression of the rollup job. Default every 15 minutes. */
  rollupSchedule?: string;
  /** Build the rollups once at startup (in the background). Default true. */
  rollupOnStart?: boolean;
  /**
   * Distinct devices whose identical reports ship a file fingerprint without an admin's approval
   * (server/services/fingerprint-service.ts). Default 2; 0: only approved fingerprints ship.
   */
  fingerprintCorroboration?: number;
}

const DEFAULT_STALE_AFTER_MS = 7 * 86_400_000;
const DEFAULT_EVENT_RETENTION_MS = 400 * 86_400_000;
const DEFAULT_ROLLUP_SCHEDULE = '*/15 * * * *';

const DEFAULT_RATE_LIMITS: RateLimits = {
  devicePerMinute: 120,
  tokenPerMinute: 600,
  enrollPerMinutePerIp: 30,
};

const KiB = 1024;
const MiB = 1024 * KiB;

const DEFAULT_BODY_LIMITS: BodyLimits = {
  default: 64 * KiB,
  enroll: 64 * KiB,
  checkin: MAX_CHECKIN_BODY_BYTES,
  events: MAX_EVENTS_BODY_BYTES,
  policy: 2 * MiB,
};

export interface ResolvedOptions {
  dataDir: string;
  logLevel: LevelWithSilent;
  logStream: DestinationStream | undefined;
  tls: { key: Buffer | string; cert: Buffer | string } | undefined;
  now: () => number;
  rateLimits: RateLimits;
  bodyLimits: BodyLimits;
  requestTimeoutMs: number;
  maxWaitSeconds: number;
  trustProxy: boolean;
  lastSeenFlushMs: number;
  staleAfterMs: number;
  eventRetentionMs: number;
  rollupSchedule: string;
  rollupOnStart: boolean;
  fingerprintCorroboration: number;
}

export function resolveOptions(options: ServerOptions): ResolvedOptions {
  return {
    dataDir: options.dataDir,
    logLevel: options.logLevel ?? 'info',
    logStream: options.logStream,
    tls: options.tls,
    now: options.now ?? Date.now,
    rateLimits: { ...DEFAULT_RATE_LIMITS, ...options.rateLimits },
    bodyLimits: { ...DEFAULT_BODY_LIMITS, ...options.bodyLimits },
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    maxWaitSeconds: Math.min(options.maxWaitSeconds ?? MAX_POLICY_WAIT_SECONDS, MAX_POLICY_WAIT_SECONDS),
    trustProxy: options.trustProxy ?? false,
    lastSeenFlushMs: options.lastSeenFlushMs ?? 5_000,
    staleAfterMs: options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS,
    eventRetentionMs: options.eventRetentionMs ?? DEFAULT_EVENT_RETENTION_MS,
    rollupSchedule: options.rollupSchedule ?? DEFAULT_ROLLUP_SCHEDULE,
    rollupOnStart: options.rollupOnStart ?? true,
    fingerprintCorroboration: Math.max(
      0,
      Math.floor(options.fingerprintCorroboration ?? DEFAULT_FINGERPRINT_CORROBORATION),
    ),
  };
}
