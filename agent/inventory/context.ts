/**
 * What every scanner is handed: the catalog, the homes to look in, the system root, the PATH,
 * the bounded file system, the skip list and the time budget.
 */
import * as path from 'node:path';
import { catalogIndex, builtinCatalog, type CatalogIndex } from '../../policies/catalog/index.js';
import type { OsName } from '../../policies/schema.js';
import { ScanFs, type SkipLog } from './fs.js';
import type { ScanLimits, ScanOptions, Skipped } from './types.js';
import { discoverHomes, explicitHomes, type Home, type UserDirectory } from './users.js';

export const DEFAULT_LIMITS: ScanLimits = {
  maxEntriesPerDir: 20_000,
  maxManifestBytes: 1024 * 1024,
  maxDatabaseBytes: 32 * 1024 * 1024,
  maxJarsPerPlugin: 40,
};

export const DEFAULT_BUDGET_MS = 30_000;
/** How long scanners may hold the event loop before yielding. */
const SLICE_MS = 15;

export interface ScanContext {
  readonly platform: OsName;
  readonly catalog: CatalogIndex;
  /** Folder standing for `/` (or the system drive on Windows). */
  readonly root: string;
  readonly homes: readonly Home[];
  readonly systemRoots: boolean;
  /** Explicit npm prefixes, or null to find them. */
  readonly npmPrefixes: readonly string[] | null;
  /** Explicit Homebrew prefixes, or null to find them. */
  readonly brewPrefixes: readonly string[] | null;
  /** Directories searched for launchers as PATH. */
  readonly pathDirs: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly limits: ScanLimits;
  readonly fs: ScanFs;
  readonly users: UserDirectory;
  skip(path: string, reason: string): void;
  /** True once the time budget is spent (records the place that was cut short, once). */
  expired(where: string): boolean;
  /** Lets the event loop run if this scan has held it for a while. */
  breathe(): Promise<void>;
  /** A system location under the root: sys('usr', 'local') -> <root>/usr/local. */
  sys(...parts: string[]): string;
  /** Environment variable for this home (only the running user's home gets the environment). */
  envFor(home: Home, name: string): string | undefined;
}

export function hostPlatform(): OsName {
  return process.platform === 'win32' ? 'windows' : process.platform === 'darwin' ? 'darwin' : 'linux';
}

export class SkipList implements SkipLog {
  private readonly seen = new Map<string, Skipped>();
  add(where: string, reason: string): void {
    const key = `${where}\u0000${reason}`;
    if (!this.seen.has(key)) this.seen.set(key, { path: where, reason });
  }
  all(): Skipped[] {
    return [...this.seen.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0));
  }
}

export interface BuiltContext {
  ctx: ScanContext;
  skips: SkipList;
  budgetExhausted(): boolean;
}

export function createContext(options: ScanOptions, now: () => number = () => performance.now()): BuiltContext {
  const platform = options.platform ?? hostPlatform();
  const limits: ScanLimits = { ...DEFAULT_LIMITS, ...definedOnly(options.limits ?? {}) };
  const skips = new SkipList();
  const scanFs = new ScanFs(skips, limits.maxEntriesPerDir);
  const root = path.resolve(options.root ?? defaultRoot());
  const deadline = now() + (options.budgetMs ?? DEFAULT_BUDGET_MS);
  let exhausted = false;
  let sliceStart = now();

  const discovered = options.homes === undefined;
  const env = options.env ?? (discovered ? process.env : {});
  const users = options.homes
    ? explicitHomes(scanFs, root, platform, options.homes)
    : discoverHomes(scanFs, root, platform);
  const systemRoots = options.systemRoots ?? discovered;
  const hostPath = platform === hostPlatform() ? (process.env.PATH ?? '').split(path.delimiter) : [];
  const pathDirs = unique((options.paths ?? hostPath).filter((d) => d !== '' && path.isAbsolute(d)));

  const ctx: ScanContext = {
    platform,
    catalog: catalogIndex(options.catalog ?? builtinCatalog),
    root,
    homes: users.homes,
    systemRoots,
    npmPrefixes: options.npmPrefixes ? unique(options.npmPrefixes.map((p) => path.resolve(p))) : null,
    brewPrefixes: options.brewPrefixes ? unique(options.brewPrefixes.map((p) => path.resolve(p))) : null,
    pathDirs,
    env,
    limits,
    fs: scanFs,
    users,
    skip: (where, reason) => skips.add(where, reason),
    expired: (where) => {
      if (now() < deadline) return false;
      if (!exhausted) exhausted = true;
      skips.add(where, 'time budget exhausted; not read');
      return true;
    },
    breathe: async () => {
      if (now() - sliceStart < SLICE_MS) return;
      await new Promise<void>((resolve) => setImmediate(resolve));
      sliceStart = now();
    },
    sys: (...parts) => path.join(root, ...parts),
    envFor: (home, name) => (home.current ? nonEmpty(env[name]) : undefined),
  };
  return { ctx, skips, budgetExhausted: () => exhausted };
}

function defaultRoot(): string {
  return process.platform === 'win32' ? `${process.env.SystemDrive ?? 'C:'}\\` : '/';
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

function definedOnly<T extends object>(value: Partial<T>): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => typeof v === 'number' && Number.isFinite(v) && v > 0)) as Partial<T>;
}

/** Whether `child` is `parent` or lies inside it (both already canonical). */
export function isInside(child: string, parent: string): boolean {
  if (child === parent) return true;
  const prefix = parent.endsWith(path.sep) ? parent : parent + path.sep;
  return child.startsWith(prefix);
}

/** One install channel's scanner. */
export type Scanner = (ctx: ScanContext) => Promise<import('../../policies/inventory.js').ToolInstance[]>;
