/**
 * Changing files as root in folders a hostile user may control, without being turned against
 * the machine. Decisions (issue 10):
 *
 * - **Every component is checked, none followed.** `pinParent` opens `/` and then each component
 *   of the target's folder with O_DIRECTORY|O_NOFOLLOW relative to the previous handle (on Linux
 *   through `/proc/self/fd/<fd>/<name>`, which resolves exactly like openat(2)), and fstat()s it:
 *   it must be a real folder owned by root or by the owner of the trusted root it lies in (the
 *   home's user), and not writable by group or others unless it is sticky and the next component
 *   is owned by root or that owner (/tmp). A symlink anywhere, a foreign owner, a world-writable
 *   folder: UnsafeLayout, nothing is changed and the caller reports `suspicious-layout`.
 * - **No check-then-act by path.** Every later operation names its object relative to the pinned
 *   folder handle (`entry()`), so swapping a parent for a symlink after the check changes nothing:
 *   the operation still lands in the folder that was checked.
 * - **User work with the user's credentials.** A rename in a folder owned by a user needs no root:
 *   it runs as that user (GNU `mv -T` spawned with the folder owner's uid/gid, no supplementary
 *   groups, empty environment), and the result is checked in the pinned folder by device+inode.
 *   If the user's path no longer leads there (a parent swapped), the untouched entry is renamed
 *   relative to the pinned handle instead, so the ledger stays in step with the disk.
 *   Renames in root-owned folders (system prefixes) run as root relative to the pinned handle.
 * - **Owner and mode only through handles.** `setOwnerMode` lstat()s the entry, refuses anything
 *   but a regular file or a folder, opens it with O_NOFOLLOW|O_NONBLOCK (a FIFO never blocks),
 *   fstat()s the handle and compares device+inode with the lstat and with what the ledger
 *   recorded, refuses regular files with several hard links, and only then calls
 *   handle.chown/chmod/utimes. An entry recorded without identity (older ledgers) is changed only
 *   when its kind matches and its owner is the recorded one or root.
 * - **Stubs are written into place, never patched after.** `writeStubEntry` creates a temporary
 *   file with O_CREAT|O_EXCL|O_NOFOLLOW, writes it, fchown()s/fchmod()s the handle, fsyncs, and
 *   only then renames it over the launcher.
 *
 * Outside Linux (no /proc/self/fd) entries are named by path and the chain is walked again right
 * before each operation; a race that swaps a component between that walk and the operation is
 * still possible there. On Windows only the allowlist applies (no owner/mode walk yet). The
 * agent's tests and CI run on Linux.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type BigIntStats, constants, existsSync } from 'node:fs';
import { chmod, type FileHandle, lstat, open, opendir, rename, unlink, utimes } from 'node:fs/promises';
import * as path from 'node:path';

import { type FileFacts, identityOf, READ_UNTRUSTED, sameIdentity } from './fs-facts.js';
import { type GuardContext, rootOf, type TrustedRoot } from './guard.js';

/** A layout a local user could have arranged to turn the agent against the machine. */
export class UnsafeLayout extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}; aigate leaves it alone`);
    this.name = 'UnsafeLayout';
  }
}

/**
 * A file that has gained other names (hard links) since it was recorded: changing its owner or
 * mode would change them too. Thrown before anything is changed.
 */
export class HasOtherNames extends UnsafeLayout {
  constructor(path: string, links: bigint) {
    super(path, `it has ${links} hard links; changing its owner or mode would change the other names too`);
    this.name = 'HasOtherNames';
  }
}

const PROC_FD = process.platform === 'linux' && existsSync('/proc/self/fd');
const O_DIRECTORY = constants.O_DIRECTORY ?? 0;
const OPEN_DIR = constants.O_RDONLY | O_DIRECTORY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);
const GROUP_OTHER_WRITE = 0o022n;
const STICKY = 0o1000n;

/** A verified folder, held open; the only place operations on its entries are allowed. */
export interface PinnedDir {
  /** Its path as named (for messages and non-Linux fallback). */
  readonly path: string;
  /** Held open (null on Windows, see windowsDir). */
  readonly handle: FileHandle | null;
  readonly stats: BigIntStats;
  /** The trusted root it lies in and that root's owner (the instance's owner in a home). */
  readonly root: TrustedRoot;
  readonly rootOwner: number;
  /** Owners an entry may have when this folder is not writable by root alone. */
  readonly allowedOwners: ReadonlySet<number>;
  /** Only root can add, remove or rename its entries. */
  readonly rootOnly: boolean;
  /** The name to use for an operation on its entry `name`. */
  entry(name: string): string;
  close(): Promise<void>;
}

function mode(info: BigIntStats): bigint {
  return info.mode & 0o7777n;
}

async function openDirAt(parent: FileHandle | null, parentPath: string, name: string): Promise<FileHandle> {
  const target = parent && PROC_FD ? `/proc/self/fd/${parent.fd}/${name}` : path.posix.join(parentPath, name);
  return open(target, OPEN_DIR);
}

/**
 * Opens and verifies the folder holding `target` (see the module comment). Throws UnsafeLayout
 * for a refused layout, a plain ENOENT error when a component is missing.
 */
export async function pinParent(target: string, guard: GuardContext): Promise<PinnedDir> {
  const root = rootOf(target, guard);
  if (!root) throw new UnsafeLayout(target, 'not inside a home or a trusted install prefix');
  if (process.platform === 'win32') return windowsDir(target, root);
  // The root's owner, read once: the root path comes from the administrator (or the machine's
  // home list), and the walk below verifies every component including the root itself.
  const rootInfo = await lstat(root.path, { bigint: true });
  if (!rootInfo.isDirectory()) throw new UnsafeLayout(root.path, 'the trusted root is not a real folder');
  const rootOwner = Number(rootInfo.uid);
  const allowed = new Set([0, rootOwner]);
  const dir = path.posix.dirname(target);
  const components = dir.split('/').filter(Boolean);

  let handle = await open('/', constants.O_RDONLY | O_DIRECTORY);
  let here = '/';
  try {
    let info = await handle.stat({ bigint: true });
    const check = (at: string, stats: BigIntStats, parentStats: BigIntStats | null) => {
      if (!stats.isDirectory()) throw new UnsafeLayout(at, 'a component is not a real folder');
      if (!allowed.has(Number(stats.uid)))
        throw new UnsafeLayout(
          at,
          `a component is owned by uid ${stats.uid}, neither root nor the owner of ${root.path}`,
        );
      if (parentStats && (parentStats.mode & GROUP_OTHER_WRITE) !== 0n && (parentStats.mode & STICKY) === 0n) {
        throw new UnsafeLayout(
          at,
          `its parent is writable by others (mode ${mode(parentStats).toString(8)}) and not sticky`,
        );
      }
    };
    check('/', info, null);
    for (const name of components) {
      const next = path.posix.join(here, name);
      let opened: FileHandle;
      try {
        opened = await openDirAt(handle, here, name);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ELOOP' || code === 'ENOTDIR')
          throw new UnsafeLayout(next, 'a component is a symbolic link or not a folder');
        throw error;
      }
      const nextInfo = await opened.stat({ bigint: true });
      await handle.close();
      handle = opened;
      check(next, nextInfo, info);
      info = nextInfo;
      here = next;
    }
    const pinned = handle;
    const rootOnly = info.uid === 0n && (info.mode & GROUP_OTHER_WRITE) === 0n;
    if ((info.mode & GROUP_OTHER_WRITE) !== 0n && (info.mode & STICKY) === 0n)
      throw new UnsafeLayout(here, `the folder is writable by others (mode ${mode(info).toString(8)})`);
    return {
      path: here,
      handle: pinned,
      stats: info,
      root,
      rootOwner,
      allowedOwners: allowed,
      rootOnly,
      entry: (name) => {
        if (name.includes('/') || name === '.' || name === '..' || name === '')
          throw new Error(`bad entry name ${JSON.stringify(name)}`);
        return PROC_FD ? `/proc/self/fd/${pinned.fd}/${name}` : path.posix.join(here, name);
      },
      close: () => pinned.close().catch(() => undefined),
    };
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
}

/**
 * Windows: no POSIX owners or modes to walk (ACLs decide) and no handle-relative names; entries
 * are named by path. The guard's allowlist still applies. Documented as weaker in the module
 * comment; the Windows hardening (ACL checks) is not done yet.
 */
async function windowsDir(target: string, root: TrustedRoot): Promise<PinnedDir> {
  const here = path.win32.dirname(target);
  const stats = await lstat(here, { bigint: true });
  if (!stats.isDirectory()) throw new UnsafeLayout(here, 'not a real folder');
  return {
    path: here,
    handle: null,
    stats,
    root,
    rootOwner: 0,
    allowedOwners: new Set([Number(stats.uid)]),
    rootOnly: true,
    entry: (name) => path.win32.join(here, name),
    close: async () => undefined,
  };
}

/** Runs `work` with the verified folder holding `target`, closing it afterwards. */
export async function withParent<T>(
  target: string,
  guard: GuardContext,
  work: (dir: PinnedDir, name: string) => Promise<T>,
): Promise<T> {
  const dir = await pinParent(target, guard);
  try {
    return await work(dir, process.platform === 'win32' ? path.win32.basename(target) : path.posix.basename(target));
  } finally {
    await dir.close();
  }
}

/** lstat of an entry of a pinned folder, or null when it is not there. */
export async function lstatEntry(dir: PinnedDir, name: string): Promise<BigIntStats | null> {
  try {
    return await lstat(dir.entry(name), { bigint: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/**
 * `read` of `target`, its final name looked up in its folder as the safety walk pins it: a folder
 * on the way swapped for a link meanwhile cannot lead root's read into a place the user named
 * (red-team round 16: a bin folder swapped back and forth with a link to a root-only folder had
 * root open and hash the file there by the launcher's name). `otherwise` when the folder fails the
 * walk or is missing. Without a guard (the agent not root, tests) by path.
 */
export async function readPinned<T>(
  target: string,
  guard: GuardContext | undefined,
  read: (at: string) => Promise<T>,
  otherwise: T,
): Promise<T> {
  if (!guard) return read(target);
  let dir: PinnedDir;
  try {
    dir = await pinParent(target, guard);
  } catch {
    return otherwise;
  }
  try {
    return await read(dir.entry(path.basename(target)));
  } finally {
    await dir.close();
  }
}

/** The names in a pinned folder (the first `max` in directory order), read through its handle (by path on Windows). */
export async function listEntries(dir: PinnedDir, max = Infinity): Promise<string[]> {
  const names: string[] = [];
  // Read as it goes (opendir), not whole: a folder of millions of names costs `max` at most.
  for await (const entry of await opendir(dir.handle && PROC_FD ? `/proc/self/fd/${dir.handle.fd}` : dir.path, {
    bufferSize: 64,
  })) {
    if (names.length >= max) break;
    names.push(entry.name);
  }
  return names;
}

/**
 * Checks that an entry about to be changed may be: its owner is allowed in this folder, and it is
 * the object the ledger recorded (device+inode when recorded; kind and owner otherwise).
 */
function checkEntry(
  dir: PinnedDir,
  name: string,
  info: BigIntStats,
  expect: FileFacts,
  lockedOk: boolean,
  knownLinks = 1n,
): void {
  const where = path.posix.join(dir.path, name);
  const kind = info.isDirectory() ? 'dir' : info.isFile() ? 'file' : info.isSymbolicLink() ? 'symlink' : 'other';
  if (kind !== 'file' && kind !== 'dir')
    throw new UnsafeLayout(
      where,
      `it is a ${kind === 'other' ? 'special file' : 'symbolic link'}, not a regular file or folder`,
    );
  if (kind !== expect.kind) throw new UnsafeLayout(where, `it is a ${kind} but a ${expect.kind} was recorded`);
  if (expect.dev !== undefined && expect.ino !== undefined) {
    if (!sameIdentity(identityOf(info), expect))
      throw new UnsafeLayout(where, 'it is not the object the agent recorded (device/inode differ)');
  } else {
    // An entry from an older ledger: only the recorded owner, or the agent's own lock.
    const uid = Number(info.uid);
    if (uid !== expect.uid && !(lockedOk && uid === 0 && mode(info) === 0n))
      throw new UnsafeLayout(where, `it is owned by uid ${uid}, not the recorded ${expect.uid}`);
  }
  if (!dir.rootOnly && !dir.allowedOwners.has(Number(info.uid)))
    throw new UnsafeLayout(where, `it is owned by uid ${info.uid} in a folder others can change`);
  if (kind === 'file' && info.nlink > knownLinks) throw new HasOtherNames(where, info.nlink);
}

export interface OwnerMode {
  uid: number;
  gid: number;
  mode: number;
  /** Times to put back (ms since the epoch), after owner and mode. */
  times?: { atimeMs: number; mtimeMs: number };
}

/**
 * Sets owner, mode (and times) of the entry `name` of a pinned folder, through a handle checked
 * to be the recorded object (see the module comment). `isRoot` false: owners are left alone.
 * `between` runs after the checks and before the change (fault injection for race tests).
 */
export async function setOwnerMode(
  dir: PinnedDir,
  name: string,
  expect: FileFacts,
  want: OwnerMode,
  isRoot: boolean,
  between?: () => void | Promise<void>,
  shared?: readonly string[],
): Promise<void> {
  const where = path.posix.join(dir.path, name);
  const before = await lstatEntry(dir, name);
  if (!before) throw Object.assign(new Error(`${where} is gone`), { code: 'ENOENT' });
  // Giving a recorded object (device and inode checked) back its recorded owner and mode changes
  // nothing that was not its owner's, whatever names it has gained: only locking counts them.
  const restoring = want.uid === expect.uid && want.gid === expect.gid && want.mode === expect.mode;
  const knownLinks =
    restoring && expect.dev !== undefined
      ? before.nlink
      : shared?.length && (await sharedOnlyInQuarantine(before, shared))
        ? BigInt(1 + shared.length)
        : 1n;
  checkEntry(dir, name, before, expect, true, knownLinks);
  await between?.();
  if (!isRoot && (before.mode & 0o444n) === 0n) {
    // An agent running as the user cannot open what it locked (mode 000) to give it its mode back:
    // by name, as the user (no one's rights but the user's own are at stake).
    await chmod(dir.entry(name), want.mode);
    if (want.times)
      await utimes(dir.entry(name), want.times.atimeMs / 1000, want.times.mtimeMs / 1000).catch(() => undefined);
    return;
  }
  const handle = await open(dir.entry(name), READ_UNTRUSTED | (before.isDirectory() ? O_DIRECTORY : 0));
  try {
    const info = await handle.stat({ bigint: true });
    if (!sameIdentity(identityOf(info), identityOf(before)))
      throw new UnsafeLayout(where, 'it was replaced while the agent was changing it');
    checkEntry(dir, name, info, expect, true, knownLinks);
    // chown first: it may clear set-id bits, which chmod then sets as recorded.
    if (isRoot && (Number(info.uid) !== want.uid || Number(info.gid) !== want.gid))
      await handle.chown(want.uid, want.gid);
    if (Number(mode(info)) !== want.mode || isRoot) await handle.chmod(want.mode);
    if (want.times) await handle.utimes(want.times.atimeMs / 1000, want.times.mtimeMs / 1000).catch(() => undefined);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * Whether `shared` are all the other names of the file `info` (its link count is theirs plus one),
 * each the same inode and each below a folder owned by root with mode 000 (a quarantine the agent
 * locked: no user can reach in, so nothing there changes meanwhile). The names come from the
 * agent's own ledger; this checks they still hold before an owner or mode change that reaches
 * every name of the inode.
 */
async function sharedOnlyInQuarantine(info: BigIntStats, shared: readonly string[]): Promise<boolean> {
  if (info.nlink !== BigInt(1 + shared.length)) return false;
  for (const name of shared) {
    const other = await lstat(name, { bigint: true }).catch(() => null);
    if (!other || !sameIdentity(identityOf(other), identityOf(info))) return false;
    let locked = false;
    for (let dir = path.posix.dirname(name); !locked; dir = path.posix.dirname(dir)) {
      const folder = await lstat(dir, { bigint: true }).catch(() => null);
      if (!folder) return false;
      locked = folder.isDirectory() && folder.uid === 0n && mode(folder) === 0n;
      if (dir === '/') break;
    }
    if (!locked) return false;
  }
  return true;
}

/** Renames an entry of a pinned folder to another name in the same folder. */
export async function renameEntry(dir: PinnedDir, from: string, to: string): Promise<void> {
  const owner = Number(dir.stats.uid);
  if (!AS_USER || owner === 0 || process.getuid?.() !== 0) {
    await rename(dir.entry(from), dir.entry(to));
    await dir.handle?.sync().catch(() => undefined);
    return;
  }
  // A folder a user owns: the rename needs no root, so it runs with the folder owner's
  // credentials; then the result is checked in the pinned folder (the same object under the new
  // name). Whatever the user swapped meanwhile, the rename could only do what the user can do.
  const before = await lstatEntry(dir, from);
  if (!before) throw Object.assign(new Error(`${path.posix.join(dir.path, from)} is gone`), { code: 'ENOENT' });
  try {
    await renameAsUser(owner, Number(dir.stats.gid), path.posix.join(dir.path, from), path.posix.join(dir.path, to));
  } catch (error) {
    // The user's path no longer leads to the checked folder (a parent swapped meanwhile) or the
    // user may not rename there: the entry is still in the pinned folder, untouched, so the
    // rename is done relative to that handle — it cannot land anywhere else — and the ledger
    // stays in step with the disk.
    const still = await lstatEntry(dir, from);
    if (!still || !sameIdentity(identityOf(still), identityOf(before)) || (await lstatEntry(dir, to)) !== null)
      throw error;
    await rename(dir.entry(from), dir.entry(to));
  }
  const after = await lstatEntry(dir, to);
  if (!after || !sameIdentity(identityOf(after), identityOf(before)) || (await lstatEntry(dir, from)) !== null) {
    throw new UnsafeLayout(dir.path, 'the folder changed while an entry was renamed in it');
  }
  await dir.handle?.sync().catch(() => undefined);
}

/** GNU mv (-T: never into a folder named like the target), run as the folder's owner. */
const MV = ['/bin/mv', '/usr/bin/mv'].find((candidate) => existsSync(candidate));
const AS_USER = PROC_FD && MV !== undefined;

function renameAsUser(uid: number, gid: number, from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(MV!, ['-T', '--', from, to], {
      uid,
      gid,
      cwd: '/',
      env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(0, 2000)));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`renaming ${from} as uid ${uid} failed: ${stderr.trim() || `exit ${code}`}`)),
    );
  });
}

/** Removes an entry (a stub the agent wrote) of a pinned folder. */
export async function removeEntry(dir: PinnedDir, name: string): Promise<void> {
  await unlink(dir.entry(name));
  await dir.handle?.sync().catch(() => undefined);
}

/**
 * Writes `content` as the entry `name` (replacing what is there) with owner root (when `isRoot`)
 * and mode 0755: a fresh temporary file (O_CREAT|O_EXCL|O_NOFOLLOW) is filled, fchown/fchmod'd
 * and fsynced, then renamed into place. `staged` runs between the two (race tests).
 * Returns the identity of the stub written.
 */
export async function writeStubEntry(
  dir: PinnedDir,
  name: string,
  content: string,
  isRoot: boolean,
  staged?: () => void | Promise<void>,
): Promise<{ dev: string; ino: string }> {
  const temp = `.${name}.aigate-tmp-${randomBytes(6).toString('hex')}`;
  const handle = await open(
    dir.entry(temp),
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0),
    0o600,
  );
  let identity: { dev: string; ino: string };
  try {
    await handle.writeFile(content, 'utf8');
    if (isRoot) await handle.chown(0, 0);
    await handle.chmod(0o755);
    await handle.sync();
    identity = identityOf(await handle.stat({ bigint: true }));
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(dir.entry(temp)).catch(() => undefined);
    throw error;
  }
  await handle.close();
  try {
    await staged?.();
    await renameEntry(dir, temp, name);
  } catch (error) {
    await unlink(dir.entry(temp)).catch(() => undefined);
    throw error;
  }
  return identity;
}
