/**
 * What every scanner is handed: the catalog, the homes to look in, the system root, the PATH,
 * the bounded file system, the skip list and the time budget.
 */
import * as path from 'node:path';

import { builtinCatalog, type CatalogIndex, catalogIndex } from '../../policies/catalog/index.js';
import type { ToolInstance } from '../../policies/inventory.js';
import type { OsName } from '../../policies/schema.js';
import { isInside, ScanFs, type SkipLog } from './fs.js';
import type { ScanLimits, ScanOptions, Skipped } from './types.js';
import {
  MAX_CANDIDATES_PER_VARIABLE,
  MAX_PATH_FOLDERS,
  MAX_PROCESSES,
  MAX_VALUES_PER_VARIABLE,
  readProcessEnvs,
  readStartupEnv,
  rootValue,
  UserEnv,
} from './user-env.js';
import { discoverHomes, explicitHomes, type Home, type UserDirectory } from './users.js';

const DEFAULT_LIMITS: ScanLimits = {
  maxEntriesPerDir: 20_000,
  maxManifestBytes: 1024 * 1024,
  maxDatabaseBytes: 32 * 1024 * 1024,
  maxJarsPerPlugin: 40,
  // A real home's top two levels hold a few thousand names.
  maxWalkNames: 50_000,
  // A few tools' native binaries (Claude Code's is 200-400 MB); the rest waits for the next scan.
  maxDigestBytesPerHome: 768 * 1024 * 1024,
};

const DEFAULT_BUDGET_MS = 30_000;
/**
 * How long (ms) one home's work may take of a `budgetMs` scan on a machine with `homes` homes (2
 * or more): twice a fair share (budgetMs / homes), at most half the budget and at least a
 * twentieth of it. A user who makes their own home slow to scan (thousands of links to big
 * system folders) cuts only their home short, and k users acting together take at most k shares,
 * not the whole budget (on a machine with up to 4 homes, one share is half of it).
 */
export function homeShareMs(budgetMs: number, homes: number): number {
  return Math.min(budgetMs / 2, Math.max((2 * budgetMs) / homes, budgetMs / 20));
}
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
  /**
   * True once the time budget is spent, or, with other homes on the machine, once the home
   * `where` lies in has taken its share of it (homeShareMs; records the place that was cut short).
   */
  expired(where: string): boolean;
  /** Lets the event loop run if this scan has held it for a while. */
  breathe(): Promise<void>;
  /** A system location under the root: sys('usr', 'local') -> <root>/usr/local. */
  sys(...parts: string[]): string;
  /** The first of envValues(home, name), if any. */
  envFor(home: Home, name: string): string | undefined;
  /**
   * Every value the user of `home` gives `name` (see user-env.ts): the scanning process's own
   * environment for its own home, then the user's startup files, then the user's running
   * processes. Values from files and processes count only as userChosen allows them, and as their
   * real paths (others are recorded as skipped): a user cannot point the root agent at a system
   * folder.
   */
  envValues(home: Home, name: string): string[];
  /** `envValues(home, name)` followed by `fallbacks` (the tool's defaults), without repeats. */
  envDirs(home: Home, name: string, fallbacks: readonly string[]): string[];
  /**
   * What to scan of a folder the user of `home` names (an environment value, a `prefix=` or
   * `cache=` in their `.npmrc`): its real path, when the value is an absolute path written inside
   * the home whose real path lies inside it. Else null, recorded as skipped with `source` (what
   * named it, when the value is written outside the home): a user cannot point the root agent at
   * a system folder or another user's, nor learn through the skips whether something exists there.
   */
  userChosen(home: Home, dir: string, source: string): string | null;
}

function hostPlatform(): OsName {
  return process.platform === 'win32' ? 'windows' : process.platform === 'darwin' ? 'darwin' : 'linux';
}

class SkipList implements SkipLog {
  private readonly seen = new Map<string, Skipped>();
  add(where: string, reason: string): void {
    const key = `${where}\u0000${reason}`;
    if (!this.seen.has(key)) this.seen.set(key, { path: where, reason });
  }
  /** Forgets every skip (once the scan's result holds its copy). */
  clear(): void {
    this.seen.clear();
  }
  all(): Skipped[] {
    return [...this.seen.values()].sort((a, b) =>
      a.path < b.path ? -1 : a.path > b.path ? 1 : a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0,
    );
  }
}

export interface BuiltContext {
  ctx: ScanContext;
  skips: SkipList;
  budgetExhausted(): boolean;
  /** Ends the scan's use of the memo (ScanMemo.end), if it had one. */
  finish(): void;
}

/** The scan's clock (ms), one function for every scan (see ScanMemo.shapeSamples on why per-scan closures cost). */
const performanceNow = (): number => performance.now();

export function createContext(options: ScanOptions, now: () => number = performanceNow): BuiltContext {
  const platform = options.platform ?? hostPlatform();
  const limits: ScanLimits = { ...DEFAULT_LIMITS, ...definedOnly(options.limits ?? {}) };
  const skips = new SkipList();
  const catalog = catalogIndex(options.catalog ?? builtinCatalog);
  // A memo serves one scan at a time; a scan started meanwhile reads everything.
  const memo = options.memo?.begin(catalog) ? options.memo : null;
  const scanFs = new ScanFs(skips, limits.maxEntriesPerDir, undefined, memo);
  const root = path.resolve(options.root ?? defaultRoot());
  const budgetMs = options.budgetMs ?? DEFAULT_BUDGET_MS;
  const clock = new ScanClock(skips, now, budgetMs);

  const discovered = options.homes === undefined;
  const env = options.env ?? (discovered ? process.env : {});
  const users = options.homes
    ? explicitHomes(scanFs, root, platform, options.homes)
    : discoverHomes(scanFs, root, platform);
  // As root, a home's files are read only if they are the user's to show (ScanFs.guardHomes).
  if (scanFs.asRoot) {
    scanFs.guardHomes(
      users.homes.flatMap((home) => {
        const real = scanFs.realpath(home.dir);
        const owner = real === null ? null : (scanFs.lstat(real)?.uid ?? null);
        // A home its user does not own (root's, as SFTP chroots require) is guarded by the uid
        // of the account /etc/passwd gives it; root's own home stays trusted whole.
        const uid = owner === 0 && real !== null ? (users.uidOfHome(real) ?? 0) : owner;
        return real === null || uid === null ? [] : [{ dir: path.resolve(home.dir), real, uid }];
      }),
    );
  }
  const systemRoots = options.systemRoots ?? discovered;
  const hostPath = platform === hostPlatform() ? (process.env.PATH ?? '').split(path.delimiter) : [];
  // With homes named (a trial on one home, a prepared tree), the process's PATH counts only inside
  // them: a system install on root's PATH (`/usr/local/bin` under sudo) is not what was asked for.
  // Named in a home and, by real path, in one: a link in the home to a system folder does not make
  // that folder the home's. Folders named elsewhere are dropped unread (no skip for root's own).
  const ownPath = () => {
    if (discovered) return hostPath;
    const homes = users.homes.flatMap((home) => [path.resolve(home.dir), scanFs.realpath(home.dir) ?? '']);
    const inHome = (dir: string) => homes.some((home) => home !== '' && isInside(dir, home));
    return hostPath.filter((dir) => {
      if (!path.isAbsolute(dir) || !inHome(path.resolve(dir))) return false;
      const real = scanFs.realpath(path.resolve(dir));
      return real !== null && inHome(real);
    });
  };
  const pathDirs = unique((options.paths ?? ownPath()).filter((d) => d !== '' && path.isAbsolute(d)));

  const ctx = new Scan(
    {
      platform,
      catalog,
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
    },
    clock,
    options.userEnvironment !== false && platform !== 'windows',
  );
  clock.shareAmong(users.homes);
  return {
    ctx,
    skips,
    budgetExhausted: () => clock.exhausted,
    finish: () => {
      if (memo === null) return;
      // The result holds copies of the skips (SkipList.all); the memo keeps the emptied husks.
      skips.clear();
      scanFs.release();
      ctx.release();
      memo.end([ctx, clock, scanFs, skips]);
    },
  };
}

/** ScanContext's fields, as createContext works them out. */
type ScanFields = Omit<
  ScanContext,
  'skip' | 'expired' | 'breathe' | 'sys' | 'envFor' | 'envValues' | 'envDirs' | 'userChosen'
>;

// Scan's fields are ScanFields', all set by its constructor (one list of them: ScanContext's).
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
interface Scan extends ScanFields {}

/**
 * The ScanContext createContext hands out. Its functions are methods, one of each for every scan:
 * per-scan closures were what the scanners' optimized code was built around, and the memo's idle
 * collection dropped them with that code (ScanMemo.lastScan).
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
class Scan implements ScanContext {
  /** Made on first use (userEnvironments reads this context). */
  private userEnv: UserEnvironments | null = null;

  constructor(
    fields: ScanFields,
    private readonly clock: ScanClock,
    private readonly userEnvEnabled: boolean,
  ) {
    Object.assign(this, fields);
  }

  skip(where: string, reason: string): void {
    this.clock.skip(where, reason);
  }
  expired(where: string): boolean {
    return this.clock.expired(where);
  }
  breathe(): Promise<void> {
    return this.clock.breathe();
  }
  sys(...parts: string[]): string {
    return path.join(this.root, ...parts);
  }
  envFor(home: Home, name: string): string | undefined {
    return this.environments().values(home, name)[0];
  }
  envValues(home: Home, name: string): string[] {
    return this.environments().values(home, name);
  }
  envDirs(home: Home, name: string, fallbacks: readonly string[]): string[] {
    return [...new Set([...this.environments().values(home, name), ...fallbacks])];
  }
  userChosen(home: Home, dir: string, source: string): string | null {
    return this.environments().insideHome(home, dir, source);
  }
  /** Forgets the users' environments read (once the scan is over). */
  release(): void {
    this.userEnv = null;
  }

  private environments(): UserEnvironments {
    return (this.userEnv ??= userEnvironments(this, this.env, this.userEnvEnabled));
  }
}

/**
 * The scan's checkpoints (ScanContext's skip, expired and breathe) and its time budget:
 * `budgetMs` from its making, shared among the homes once they are known (shareAmong; until then
 * no home has a share). `now`: the clock, ms.
 */
class ScanClock {
  private readonly deadline: number;
  private sliceStart: number;
  private homeBudget: HomeShares | null = null;
  /** Whether a checkpoint found the budget, or a home's share of it, spent. */
  exhausted = false;

  constructor(
    private readonly skips: SkipList,
    private readonly now: () => number,
    private readonly budgetMs: number,
  ) {
    this.deadline = now() + budgetMs;
    this.sliceStart = now();
  }

  skip(where: string, reason: string): void {
    this.skips.add(where, reason);
  }

  expired(where: string): boolean {
    const at = this.now();
    if (at >= this.deadline) {
      this.exhausted = true;
      this.skips.add(where, 'time budget exhausted; not read');
      return true;
    }
    return this.homeBudget !== null && this.homeBudget.spent(where, at);
  }

  async breathe(): Promise<void> {
    if (this.now() - this.sliceStart < SLICE_MS) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.sliceStart = this.now();
  }

  shareAmong(homes: readonly Home[]): void {
    this.homeBudget = new HomeShares(homes, homeShareMs(this.budgetMs, homes.length), this.now(), (where) => {
      this.exhausted = true;
      this.skips.add(where, "time budget exhausted; this home's share of it is spent; not read");
    });
  }
}

/**
 * Each home's time so far, told at the scanners' checkpoints (ScanContext.expired): the time
 * since the last checkpoint counts for the home that one lay in (paths outside every home count
 * for none). `spent(where, at)` is true, and `cut(where)` is told, once the home `where` lies in
 * has taken more than `shareMs`; never on a machine with one home, which may use the whole budget.
 */
class HomeShares {
  private readonly dirs: readonly string[];
  private readonly taken = new Map<string, number>();
  private lastHome: string | null = null;
  private lastWhere: string | null = null;
  private lastAt: number;
  /** lastHome's time so far (kept in `taken` only when another home's checkpoint comes). */
  private lastTaken = 0;
  /** Whether a home lies inside another (else the last checkpoint's home is the only one to try first). */
  private readonly nested: boolean;

  constructor(
    homes: readonly Home[],
    private readonly shareMs: number,
    startedAt: number,
    private readonly cut: (where: string) => void,
  ) {
    const dirs = homes.map((h) => path.resolve(h.dir));
    this.dirs = dirs;
    this.lastAt = startedAt;
    this.nested = dirs.some((a) => dirs.some((b) => a !== b && isInside(a, b)));
  }

  spent(where: string, at: number): boolean {
    if (this.dirs.length < 2) return false;
    this.lastTaken += at - this.lastAt;
    this.lastAt = at;
    // Checkpoints come in runs at one place (each package of a node_modules), and in one home.
    const home =
      where === this.lastWhere || (!this.nested && this.lastHome !== null && isInside(where, this.lastHome))
        ? this.lastHome
        : this.homeOf(where);
    this.lastWhere = where;
    if (home !== this.lastHome) {
      if (this.lastHome !== null) this.taken.set(this.lastHome, this.lastTaken);
      this.lastHome = home;
      this.lastTaken = home === null ? 0 : (this.taken.get(home) ?? 0);
    }
    if (home === null || this.lastTaken <= this.shareMs) return false;
    this.cut(where);
    return true;
  }

  private homeOf(where: string): string | null {
    return this.dirs.find((dir) => isInside(where, dir)) ?? null;
  }
}

type UserEnvironments = ReturnType<typeof userEnvironments>;

/**
 * Per-home environments, read on first use: the startup files of every home, and (scanning this
 * Linux machine) the environment of the homes' owners' processes, in one pass over /proc.
 */
function userEnvironments(ctx: ScanContext, env: Readonly<Record<string, string | undefined>>, enabled: boolean) {
  const cache = new Map<Home, { env: UserEnv; homeReal: string }>();
  let processEnvs: Map<number, UserEnv> | null = null;
  const uidOf = (home: Home) => ctx.fs.stat(home.dir)?.uid ?? null;
  const readProcesses =
    enabled && ctx.platform === 'linux' && process.platform === 'linux' && ctx.root === path.parse(ctx.root).root;
  const euid = typeof process.geteuid === 'function' ? process.geteuid() : -1;
  const load = (home: Home) => {
    let entry = cache.get(home);
    if (entry) return entry;
    const homeReal = ctx.fs.realpath(home.dir) ?? path.resolve(home.dir);
    const found = new UserEnv();
    if (enabled) {
      found.merge(
        readStartupEnv({
          fs: ctx.fs,
          homeDir: home.dir,
          homeReal,
          user: home.user,
          etcEnvironment: ctx.sys('etc', 'environment'),
          skip: (where, reason) => ctx.skip(where, reason),
          systemFolder: (dir) => ctx.fs.isSystemFolder(dir),
          expired: (where) => ctx.expired(where),
        }),
      );
      if (readProcesses) {
        if (processEnvs === null) {
          // root's own processes are daemons and admin shells, not a person's tools: left out.
          const uids = new Set(ctx.homes.map(uidOf).filter((u): u is number => u !== null && u !== 0));
          processEnvs = readProcessEnvs(
            ctx.fs,
            ctx.sys('proc'),
            uids,
            (uid) => euid === 0 || uid === euid,
            (uid) => ctx.skip(ctx.sys('proc'), `more than ${MAX_PROCESSES} processes of uid ${uid}; the rest not read`),
          );
        }
        const uid = uidOf(home);
        if (uid !== null) found.merge(processEnvs.get(uid));
      }
    }
    entry = { env: found, homeReal };
    cache.set(home, entry);
    return entry;
  };
  const checked = new Map<string, string | null>();
  const folders = new Map<string, string[]>();
  /**
   * The real path of a folder the user named, to scan in its place, or null. A value written
   * outside the home is refused as written, never resolved (recorded as skipped); one inside it
   * must resolve inside it, the way the user could walk there (no link through a folder they
   * cannot enter: another user's private one, /proc/<pid>/cwd of a root process), and not into
   * another scanned home nested in it. One that does not is left out without a word, whether its
   * target is missing (an `export NVM_DIR=~/.nvm` left behind) or lies elsewhere: a user's link
   * must not tell what lies where they cannot look. Scanners use the real path, which lies in the
   * home and so is read on the home's terms (a path written through a link from outside the home,
   * `/tmp/x` -> `~/c`, would be guarded by no home). `value` is taken as rootValue gives it.
   */
  const insideHome = (home: Home, raw: string, source: string): string | null => {
    const value = rootValue(raw);
    if (value === null) return null;
    const homeReal = ctx.fs.realpath(home.dir) ?? path.resolve(home.dir);
    const key = `${homeReal}\u0000${value}`;
    let chosen = checked.get(key);
    if (chosen === undefined) {
      if (!isInside(value, path.resolve(home.dir)) && !isInside(value, homeReal)) {
        chosen = null;
        ctx.skip(value, `${source} of ${home.user} leads outside the user's home; not scanned`);
      } else {
        const real = ctx.fs.realpath(value);
        chosen =
          real !== null &&
          isInside(real, homeReal) &&
          ctx.fs.targetRefusal(value, real) === null &&
          !nestedHomes(home, homeReal).some((dir) => isInside(real, dir))
            ? real
            : null;
      }
      checked.set(key, chosen);
    }
    return chosen;
  };
  /** The real paths of the scanned homes inside `home` (a user's home within another's). */
  const nestedHomes = (home: Home, homeReal: string): string[] =>
    ctx.homes
      .filter((other) => other !== home)
      .map((other) => ctx.fs.realpath(other.dir) ?? path.resolve(other.dir))
      .filter((dir) => dir !== homeReal && isInside(dir, homeReal));
  return {
    insideHome,
    /**
     * The folders `name` names for `home` (its real paths in the home, see insideHome): this
     * process's own value for the current user first, then the user's startup files and
     * processes, at most MAX_VALUES_PER_VARIABLE; more, and more candidates than could be kept,
     * are recorded as skipped.
     */
    values(home: Home, name: string): string[] {
      const key = `${home.dir}\u0000${name}`;
      const known = folders.get(key);
      if (known) return [...known];
      // (This process's PATH is the scan's own launcher folders: ScanContext.pathDirs.)
      const own = home.current && name !== 'PATH' ? nonEmpty(env[name]) : undefined;
      const { env: found, homeReal } = load(home);
      const out: string[] = own !== undefined ? [own] : [];
      const cap = name === 'PATH' ? MAX_PATH_FOLDERS : MAX_VALUES_PER_VARIABLE;
      let more = false;
      for (const value of found.get(name)) {
        // A checkpoint per value: each may cost a walk through the user's links.
        if (ctx.expired(home.dir)) break;
        // A PATH names system folders too, scanned as such: only the home's are the user's.
        if (name === 'PATH' && !isInside(value, path.resolve(home.dir)) && !isInside(value, homeReal)) continue;
        const real = insideHome(home, value, name);
        if (real === null || out.includes(real)) continue;
        if (out.length >= cap) more = true;
        else out.push(real);
      }
      if (more) ctx.skip(home.dir, `${name} of ${home.user} names more than ${cap} folders; the rest not scanned`);
      if (found.overflowed(name))
        ctx.skip(
          home.dir,
          `${name} of ${home.user} has more than ${MAX_CANDIDATES_PER_VARIABLE} values in startup files and processes; the rest not read`,
        );
      folders.set(key, out);
      return [...out];
    },
  };
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
  return Object.fromEntries(
    Object.entries(value).filter(([, v]) => typeof v === 'number' && Number.isFinite(v) && v > 0),
  ) as Partial<T>;
}

export { isInside };

/** One install channel's scanner. */
export type Scanner = (ctx: ScanContext) => Promise<ToolInstance[]>;
