/**
 * The inventory's public contract: what a scan is asked to look at and what it returns. The
 * scanners (one module per install channel) and the agent's cycle both build on these types.
 */
import type { Catalog } from '../../policies/catalog/schema.js';
import type { ToolInstance } from '../../policies/inventory.js';
import type { OsName } from '../../policies/schema.js';
import type { ScanMemo } from './memo.js';

export interface ScanOptions {
  /**
   * Home directories to scan. When given, they replace the discovery of users (password
   * database, /home, /Users, C:\Users) and system-wide locations are skipped unless
   * `systemRoots` is true.
   */
  homes?: readonly string[];
  /** npm global prefixes (the folder holding lib/node_modules and bin); replace the automatic ones. */
  npmPrefixes?: readonly string[];
  /** Directories to treat as PATH; replace the process's PATH. */
  paths?: readonly string[];
  /** Scan system-wide locations (Homebrew prefixes, /usr/local, /opt, /Applications, Program Files). Default: true unless `homes` is given. */
  systemRoots?: boolean;
  /** The catalog to match against; default the built-in one (a signed bundle may carry a newer one). */
  catalog?: Catalog;
  /** Whose layouts to expect; default the running OS. Windows layouts can be scanned on any OS as data. */
  platform?: OsName;
  /** Look for live processes of found instances (Linux /proc, ps, tasklist). Default true. */
  detectRunning?: boolean;
  /**
   * The folder standing for the file-system root when system locations and users are looked up
   * (`<root>/etc/passwd`, `<root>/usr/local`, `<root>/Applications`, `<root>/Program Files`).
   * Default `/` (the system drive on Windows). Lets tests and demos scan a whole prepared machine.
   */
  root?: string;
  /** Homebrew prefixes (the folder holding Cellar and Caskroom); replace the automatic ones. */
  brewPrefixes?: readonly string[];
  /**
   * Environment variables that relocate layouts (PNPM_HOME, PIPX_HOME, XDG_DATA_HOME, NVM_DIR, ...),
   * applied to the running user's home only. Default: the process's environment when homes are
   * discovered, none when `homes` is given.
   */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Read each user's own environment (startup files, and on Linux the environment of the user's
   * running processes) for variables that move roots (see user-env.ts). Default true.
   */
  userEnvironment?: boolean;
  /** Stop walking after this many milliseconds and report the rest as skipped. Default 30000. */
  budgetMs?: number;
  /** Bounds on what one scan reads; defaults in `DEFAULT_LIMITS`. */
  limits?: Partial<ScanLimits>;
  /**
   * What this scan may reuse of earlier ones while nothing changed (memo.ts): the daemon keeps one
   * for its lifetime. Default none: every file is read.
   */
  memo?: ScanMemo;
}

export interface ScanLimits {
  /** Entries read from one directory before the rest is skipped. */
  maxEntriesPerDir: number;
  /** Largest manifest read (package.json, METADATA, Info.plist, extensions.json, ...). */
  maxManifestBytes: number;
  /** Largest package database read (dpkg status, apk installed, RECORD). */
  maxDatabaseBytes: number;
  /** Jars opened per JetBrains plugin while looking for META-INF/plugin.xml. */
  maxJarsPerPlugin: number;
  /** Names listed per home by the walk for npm prefixes (scanners/home-prefixes.ts). */
  maxWalkNames: number;
  /**
   * Bytes hashed per home per scan to find pnpm's store files (scanners/pnpm-files.ts); digests
   * are kept by file stamp, so this is spent again only on files changed since.
   */
  maxDigestBytesPerHome: number;
}

/** A place the scan could not read, and why (permission denied, symlink loop, too large, ...). */
export interface Skipped {
  path: string;
  reason: string;
}

export interface ScanResult {
  /** Every instance found, deduplicated (one per tool id and real install path). */
  instances: ToolInstance[];
  skipped: Skipped[];
  /** The users whose homes were scanned. */
  users: string[];
  startedAt: string;
  durationMs: number;
  /** Whose layouts were expected (the `platform` option or the running OS). */
  platform?: OsName;
  /** True when the time budget ran out before every location was read. */
  budgetExhausted?: boolean;
}
