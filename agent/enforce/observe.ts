/**
 * Checking what enforcement applied against the disk, before each reconciliation. Anything
 * undone by hand (a stub removed, the original put back, a quarantine renamed back or unlocked,
 * a reinstall over a quarantine) is reported as a finding, and the record is normalised to what
 * is really there, so planning re-applies exactly what is missing. Earlier copies that a
 * reinstall pushed out of their slot become orphans: kept, never deleted.
 */
import type { BigIntStats } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import { captureFacts, type FileFacts, identityOf, lexists, sameContent, sameIdentity } from './fs-facts.js';
import type { GuardContext } from './guard.js';
import type { AppliedInstance, LauncherEntry, OrphanEntry, QuarantineEntry } from './ledger.js';
import { listEntries, lstatEntry, type PinnedDir, pinParent, readPinned, UnsafeLayout } from './safe-fs.js';
import { isOurStub } from './steps.js';

type FindingKind =
  | 'stub-removed'
  | 'stub-changed'
  | 'original-restored'
  | 'launcher-replaced'
  | 'launcher-gone'
  | 'original-unlocked'
  | 'quarantine-undone'
  | 'quarantine-reinstalled'
  | 'quarantine-unlocked'
  | 'quarantine-gone'
  | 'copy-unlocked';

interface Finding {
  kind: FindingKind;
  path: string;
  message: string;
}

export interface Observation {
  record: AppliedInstance;
  findings: Finding[];
  /**
   * Entries whose folder no longer passes the safety walk (a bin folder swapped for a symlink,
   * say): left exactly as recorded, reported as suspicious-layout, never touched (plan `frozen`).
   */
  unsafe: { path: string; key: string; reason: string }[];
  /** Launchers whose current file is an identical copy of the kept original: safe to replace. */
  replaceable: Set<string>;
  /**
   * Entries undone by hand by moving the original (or the quarantined folder) back: what is in
   * place is the original, perhaps still locked; its recorded facts are what it must return to.
   */
  movedBack: { launchers: LauncherEntry[]; quarantine: QuarantineEntry[] };
}

const lstatOrNull = (at: string) => lstat(at, { bigint: true }).catch(() => null);

/** Whether `info` is locked as the agent locks (mode 000; as root, owner and group root). */
function lockedStats(info: BigIntStats | null, isRoot: boolean): boolean {
  return info !== null && (info.mode & 0o7777n) === 0n && (!isRoot || (info.uid === 0n && info.gid === 0n));
}

/** The reason `target`'s folder fails the safety walk, or null when it passes (or is simply missing). */
export async function unsafeReason(target: string, guard: GuardContext | undefined): Promise<string | null> {
  if (!guard) return null;
  try {
    const dir = await pinParent(target, guard);
    await dir.close();
    return null;
  } catch (error) {
    return error instanceof UnsafeLayout ? `${error.path}: ${error.reason}` : null;
  }
}

/**
 * What stands at a quarantine entry's two names (`to`, and `from` beside it), both looked at in
 * its folder as the safety walk pinned it: a parent swapped for a link meanwhile changes nothing
 * of what is seen. `unsafe`: the walk refused the folder. A missing folder shows both missing.
 * `to`: where the quarantine is now: its user may rename it within its folder (a root folder with
 * mode 000 can still be renamed where it stands), and it is then followed there by device and
 * inode, so the record, the scan and the lift keep knowing it.
 */
async function quarantineState(
  entry: QuarantineEntry,
  guard: GuardContext | undefined,
): Promise<{ there: BigIntStats | null; back: BigIntStats | null; to: string } | { unsafe: string }> {
  if (!guard || dirname(entry.to) !== dirname(entry.from)) {
    const there = await lstat(entry.to, { bigint: true }).catch(() => null);
    const back = await lstat(entry.from, { bigint: true }).catch(() => null);
    return { there, back, to: entry.to };
  }
  let dir;
  try {
    dir = await pinParent(entry.to, guard);
  } catch (error) {
    if (error instanceof UnsafeLayout) return { unsafe: `${error.path}: ${error.reason}` };
    return { there: null, back: null, to: entry.to };
  }
  try {
    const recorded = (stats: BigIntStats | null) =>
      stats !== null && (entry.original.dev === undefined || sameIdentity(identityOf(stats), entry.original));
    // Something else at its name (a folder of the user's put there) is not the quarantine.
    const at = await lstatEntry(dir, basename(entry.to));
    const there = recorded(at) || at?.isSymbolicLink() ? at : null;
    const back = await lstatEntry(dir, basename(entry.from));
    if (there !== null) return { there, back, to: entry.to };
    if (recorded(back)) return { there: null, back, to: entry.to };
    const renamed = await heldAs(dir, entry.original, basename(entry.from), basename(entry.to));
    return renamed === null
      ? { there: null, back, to: entry.to }
      : { there: renamed.stats, back, to: join(dirname(entry.to), renamed.name) };
  } finally {
    await dir.close();
  }
}

/** Whether the folder holding `path` is no longer the folder `recorded` (moved or gone). */
async function folderMoved(path: string, recorded: { dev: string; ino: string }): Promise<boolean> {
  const now = await lstat(dirname(path), { bigint: true }).catch(() => null);
  return now === null || !sameIdentity(identityOf(now), recorded);
}

/** The most earlier copies one record remembers of originals gone from their names (observe). */
const MAX_REMEMBERED = 64;

/** Entries of a folder looked through for a renamed quarantine (a package scope holds a few dozen). */
const MAX_RENAME_SEARCH = 10_000;

/**
 * The name (none of `except`) under which the pinned folder `dir` holds the object `original`
 * (device and inode), with its stat; null when it holds it under none.
 */
async function heldAs(
  dir: PinnedDir,
  original: FileFacts,
  ...except: string[]
): Promise<{ name: string; stats: BigIntStats } | null> {
  if (original.dev === undefined || original.ino === undefined) return null;
  const names = await listEntries(dir, MAX_RENAME_SEARCH).catch(() => [] as string[]);
  for (const name of names) {
    if (except.includes(name)) continue;
    const stats = await lstatEntry(dir, name).catch(() => null);
    if (stats && sameIdentity(identityOf(stats), original)) return { name, stats };
  }
  return null;
}

export async function observe(applied: AppliedInstance, isRoot: boolean, guard?: GuardContext): Promise<Observation> {
  const unsafe: Observation['unsafe'] = [];
  const findings: Finding[] = [];
  const found = (kind: FindingKind, path: string, message: string) => findings.push({ kind, path, message });
  const replaceable = new Set<string>();
  const launchers: LauncherEntry[] = [];
  const quarantine: QuarantineEntry[] = [];
  const orphans: OrphanEntry[] = [];
  for (const orphan of applied.orphans) {
    const reason = await unsafeReason(orphan.path, guard);
    if (reason) {
      unsafe.push({ path: orphan.path, key: orphan.path, reason });
      orphans.push(orphan);
      continue;
    }
    // Only the recorded copy itself counts: a link or another folder at its name is not it
    // unlocked, and while it is away its name is not enforcement's own (OrphanEntry.away).
    const at = await readPinned(orphan.path, guard, lstatOrNull, null);
    const itself = at !== null && (orphan.original.dev === undefined || sameIdentity(identityOf(at), orphan.original));
    const { away: _, ...here } = orphan;
    if (orphan.locked && itself && !lockedStats(at, isRoot)) {
      found('copy-unlocked', orphan.path, `the earlier copy ${orphan.path} was made usable again`);
      orphans.push({ ...here, locked: false });
    } else if (orphan.locked && !itself) orphans.push({ ...here, away: true });
    else orphans.push(here);
  }
  const movedBack: Observation['movedBack'] = { launchers: [], quarantine: [] };

  for (const entry of applied.launchers) {
    const reason = await unsafeReason(entry.path, guard);
    if (reason) {
      unsafe.push({ path: entry.path, key: entry.path, reason });
      launchers.push(entry);
      continue;
    }
    // Read in the folder as the walk pins it (readPinned), never by a path a swap could redirect.
    const now = await readPinned(entry.path, guard, captureFacts, null);
    const hasSibling = await readPinned(entry.sibling, guard, lexists, false);
    const stub = now !== null && (await readPinned(entry.path, guard, isOurStub, false));
    if (stub && hasSibling) {
      const next = { ...entry };
      if (entry.stubSha256 !== null && now.sha256 !== entry.stubSha256) {
        found('stub-changed', entry.path, `the aigate stub at ${entry.path} was edited`);
        next.stubSha256 = null;
      }
      if (entry.locked && !lockedStats(await readPinned(entry.sibling, guard, lstatOrNull, null), isRoot)) {
        found('original-unlocked', entry.sibling, `the kept original ${entry.sibling} was made usable again`);
        next.locked = false;
      }
      launchers.push(next);
    } else if (stub) {
      found(
        'launcher-gone',
        entry.sibling,
        `the kept original ${entry.sibling} was removed; the stub at ${entry.path} stays`,
      );
      launchers.push(entry);
    } else if (now === null && hasSibling) {
      found('stub-removed', entry.path, `the aigate stub at ${entry.path} was removed`);
      launchers.push({ ...entry, stubSha256: null });
    } else if (now !== null && hasSibling) {
      if (sameContent(now, entry.original)) {
        found(
          'launcher-replaced',
          entry.path,
          `${entry.path} was put back by hand (an identical copy of the kept original)`,
        );
        replaceable.add(entry.path);
        launchers.push({ ...entry, stubSha256: null });
      } else {
        found(
          'launcher-replaced',
          entry.path,
          `${entry.path} was replaced (a reinstall?); the earlier original stays at ${entry.sibling}`,
        );
        orphans.push({ path: entry.sibling, original: entry.original, locked: entry.locked, home: entry.path });
      }
    } else if (now !== null && (entry.original.dev === undefined || sameIdentity(now, entry.original))) {
      found('original-restored', entry.path, `the original ${entry.path} was moved back by hand`);
      movedBack.launchers.push(entry);
    } else if (now !== null) {
      // Not the original (installed again after the kept original was removed or moved away):
      // the record lets this launcher go, and the plan treats what stands there as a new launcher
      // (red-team round 17: taken for the original moved back, its steps failed on the identity
      // check and rolled back the whole ban every cycle).
      found(
        'launcher-replaced',
        entry.path,
        `${entry.path} was installed again; the kept original ${entry.sibling} is gone`,
      );
      // A locked original moved away (not removed) is still root's: remembered, given back if
      // it comes back to its name (red-team round 18: it was forgotten, root-owned for good).
      // At most MAX_REMEMBERED of them: a user repeating this every cycle must not grow the ledger for good.
      if (entry.locked && orphans.length < MAX_REMEMBERED)
        orphans.push({ path: entry.sibling, original: entry.original, locked: true, home: entry.path, away: true });
    } else if (entry.locked && isRoot && entry.folder && (await folderMoved(entry.path, entry.folder))) {
      // Both names gone with the folder that held them (moved away, a new one in its place): the
      // locked original went with it. It stays on record, left alone and reported, until seen
      // again; the lift then gives it back (red-team round 16: the record dropped it, and the
      // folder moved back brought a stub and a locked original that no lift ever restored).
      unsafe.push({ path: entry.path, key: entry.path, reason: 'the locked original is not where the agent left it' });
      launchers.push(entry);
    } else {
      found(
        'launcher-gone',
        entry.path,
        `both the stub at ${entry.path} and the kept original ${entry.sibling} were removed`,
      );
    }
  }

  for (const recorded of applied.quarantine) {
    const seen = await quarantineState(recorded, guard);
    if ('unsafe' in seen) {
      unsafe.push({ path: recorded.to, key: recorded.from, reason: seen.unsafe });
      quarantine.push(recorded);
      continue;
    }
    const { there, back } = seen;
    const backInPlace = back !== null;
    const { away: _away, ...seenAgain } = recorded;
    const entry = { ...seenAgain, to: seen.to };
    if (there?.isSymbolicLink()) {
      // The quarantine moved away and a link put in its place: nothing is done through it.
      const reinstalled =
        back !== null && entry.original.dev !== undefined && !sameIdentity(identityOf(back), entry.original);
      unsafe.push({
        path: entry.to,
        key: reinstalled ? entry.to : entry.from,
        reason: 'the quarantined folder was replaced by a symbolic link',
      });
      if (reinstalled) {
        // And installed again at its place: the new install is quarantined as a reinstall; the
        // old copy, wherever it went, stays on record as a locked earlier copy (red-team round
        // 16: the frozen record held the place, and the reinstall ran through every ban).
        found(
          'quarantine-reinstalled',
          entry.from,
          `${entry.from} was installed again; a symbolic link stands at the quarantine ${entry.to}`,
        );
        orphans.push({ path: entry.to, original: entry.original, locked: entry.locked, home: entry.from });
      } else quarantine.push(entry);
      continue;
    }
    const inQuarantine = there !== null;
    if (inQuarantine && !backInPlace) {
      const locked = (there.mode & 0o7777n) === 0n && (!isRoot || (there.uid === 0n && there.gid === 0n));
      if (entry.locked && !locked) {
        found('quarantine-unlocked', entry.to, `the quarantined folder ${entry.to} was unlocked`);
        quarantine.push({ ...entry, locked: false });
      } else quarantine.push(entry);
    } else if (
      !inQuarantine &&
      back !== null &&
      entry.original.dev !== undefined &&
      !sameIdentity(identityOf(back), entry.original)
    ) {
      // Installed again while the quarantine is elsewhere (its folder moved): the new install is
      // quarantined as a reinstall; the old copy stays on record as an earlier copy.
      found(
        'quarantine-reinstalled',
        entry.from,
        `${entry.from} was installed again; the quarantined copy is no longer at ${entry.to}`,
      );
      orphans.push({ path: entry.to, original: entry.original, locked: entry.locked, home: entry.from });
    } else if (!inQuarantine && backInPlace) {
      found('quarantine-undone', entry.from, `the quarantined folder was moved back to ${entry.from}`);
      movedBack.quarantine.push(entry);
    } else if (inQuarantine && backInPlace) {
      found(
        'quarantine-reinstalled',
        entry.from,
        `${entry.from} was installed again; the quarantined copy stays at ${entry.to}`,
      );
      orphans.push({ path: entry.to, original: entry.original, locked: entry.locked, home: entry.from });
    } else if (entry.locked && isRoot && entry.original.kind === 'dir') {
      // A locked quarantine cannot be emptied or moved to another folder by its user (owner root,
      // mode 000), and it is under no other name in its folder: that folder itself was moved or
      // swapped (perhaps only for an instant). It stays on record, left alone and reported, until
      // seen again.
      unsafe.push({ path: entry.to, key: entry.from, reason: 'the locked quarantine is not where the agent left it' });
      quarantine.push({ ...entry, away: true });
    } else {
      found('quarantine-gone', entry.to, `the quarantined folder ${entry.to} was removed`);
      // A file whose inode the agent locked with its other names (in the install's quarantine)
      // stays on record: that inode is still locked, and a restore gives it back through them.
      if (entry.shared?.length) quarantine.push(entry);
    }
  }

  return { record: { ...applied, launchers, quarantine, orphans }, findings, unsafe, replaceable, movedBack };
}
