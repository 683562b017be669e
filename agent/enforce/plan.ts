/**
 * Planning one instance's change: from what is applied (already checked against the disk) to
 * what the verdict wants, as an ordered list of ledger steps plus the record to keep once they
 * are done. Removals come first (un-quarantine, unlock, put launchers back), then additions
 * (set launchers aside, write stubs, lock, quarantine), then stopping processes. Reads file
 * facts through `facts`, changes nothing.
 */
import { randomInt } from 'node:crypto';
import * as path from 'node:path';

import type { ToolInstance } from '../../policies/inventory.js';
import type { Verdict } from '../../policies/verdict.js';
import type { FileFacts } from './fs-facts.js';
import type { AppliedInstance, LauncherEntry, OrphanEntry, QuarantineEntry, Step } from './ledger.js';
import { sha256Text } from './steps.js';
import { quarantineFor, siblingFor } from './stubs.js';

export interface Desired {
  key: string;
  level: 'warn' | 'block';
  instance: ToolInstance;
  verdict: Verdict;
  /** Launchers to replace with stubs. */
  launchers: readonly string[];
  /** The stub text for a launcher whose original is kept at `sibling`. */
  stubText: (launcher: string, sibling: string) => string;
  /** The install folder to quarantine (block only), or null. */
  quarantine: string | null;
  /**
   * The instance's per-platform package folders (ToolInstance.parts) quarantined with it (block
   * only, and only when the install folder is); absent: none.
   */
  parts?: readonly string[];
}

export interface PlanInput {
  current: AppliedInstance | null;
  desired: Desired | null;
  /** Launchers currently holding an identical copy of their kept original (see observe.ts). */
  replaceable: ReadonlySet<string>;
  /** Entries whose original was moved back by hand (see observe.ts). */
  movedBack: { launchers: readonly LauncherEntry[]; quarantine: readonly QuarantineEntry[] };
  /** Processes of the instance are running (a block then stops them). */
  running: boolean;
  /** uids whose processes a block may stop (the instance's owners, see processes.ts). */
  owners?: readonly number[];
  /** Earlier copies remembered from a previous block of this instance (Ledger.kept). */
  kept?: readonly OrphanEntry[];
  /**
   * Launcher paths and quarantined folders (by `from`) whose folder no longer passes the safety
   * walk (observe.ts): kept in the record exactly as they are, no step touches them.
   */
  frozen?: ReadonlySet<string>;
  graceMs: number;
  nowIso: string;
  platform: NodeJS.Platform;
  facts: (path: string) => Promise<FileFacts | null>;
  exists: (path: string) => Promise<boolean>;
  isOurStub: (path: string) => Promise<boolean>;
  /**
   * The names of the file `facts` (same device and inode) inside `folders`, not followed through
   * links; null when the folders could not be searched whole. For quarantining a file with
   * several names (sharedNames); without it such a file is left alone.
   */
  linksOf?: (facts: FileFacts, folders: readonly string[]) => Promise<string[] | null>;
}

export interface Plan {
  kind: 'apply' | 'restore' | 'repair';
  steps: Step[];
  result: AppliedInstance | null;
  /** Parts that could not be planned (a launcher gone meanwhile, a symlinked install...). */
  notes: string[];
  /** Paths left alone because they look arranged against the agent (reported as suspicious-layout). */
  suspicious: { path: string; reason: string }[];
  /** Earlier copies to remember when the record goes away (see Operation.kept). */
  kept: OrphanEntry[];
}

/** The folder holding `file`, on `platform`. */
function parentOf(file: string, platform: NodeJS.Platform): string {
  return (platform === 'win32' ? path.win32 : path.posix).dirname(file);
}

/** The most other names of one quarantined file the ledger keeps (ledger.ts SharedNames). */
const MAX_SHARED_NAMES = 8;

/**
 * The first free name `make` gives: generations 1-99 in order (names a person can read), then
 * random ones, which a user cannot fill in advance (red-team round 16: 99 empty files named
 * `.claude-code.aigate-quarantine[-N]` made the plan throw and undid the whole ban every cycle).
 */
async function freeName(
  make: (generation: number) => string,
  exists: (path: string) => Promise<boolean>,
): Promise<string> {
  for (let generation = 1; generation < 100; generation++) {
    const candidate = make(generation);
    if (!(await exists(candidate))) return candidate;
  }
  for (let attempt = 0; attempt < 32; attempt++) {
    const candidate = make(randomInt(100, 2 ** 47));
    if (!(await exists(candidate))) return candidate;
  }
  throw new Error(`no free name beside ${make(1)}`);
}

/**
 * Where the other names of the file `original` will be once `folders` are quarantined: every one
 * of them (link count less one) found inside a quarantined folder's original place (`from`),
 * moved to its quarantine (`to`); null when any lies elsewhere or they cannot all be found.
 */
async function sharedNames(
  input: PlanInput,
  original: FileFacts,
  folders: readonly QuarantineEntry[],
): Promise<string[] | null> {
  // Only folders an earlier operation quarantined: a file whose lock fails (a user adding a hard
  // link meanwhile) then undoes its own steps alone, never the block of the install itself.
  const applied = new Set((input.current?.quarantine ?? []).map((entry) => entry.from));
  const frozen = input.frozen ?? new Set<string>();
  const dirs = folders.filter(
    (entry) => entry.original.kind === 'dir' && !entry.shared && applied.has(entry.from) && !frozen.has(entry.from),
  );
  if (!input.linksOf || dirs.length === 0) return null;
  // A folder quarantined by an earlier cycle is searched where it is now.
  const found = await input.linksOf(
    original,
    dirs.flatMap((entry) => [entry.from, entry.to]),
  );
  if (found === null || found.length !== (original.nlink ?? 1) - 1 || found.length > MAX_SHARED_NAMES) return null;
  const shared: string[] = [];
  for (const name of found) {
    const folder = dirs.find((entry) => name.startsWith(`${entry.from}/`) || name.startsWith(`${entry.to}/`));
    if (!folder) return null;
    shared.push(name.startsWith(`${folder.to}/`) ? name : folder.to + name.slice(folder.from.length));
  }
  return shared;
}

/** Whether `now` is the object `original` names (device and inode, when recorded). */
function isRecordedObject(now: FileFacts, original: FileFacts): boolean {
  return (
    original.dev === undefined || original.ino === undefined || (now.dev === original.dev && now.ino === original.ino)
  );
}

export async function planChange(input: PlanInput): Promise<Plan | null> {
  const { current, desired } = input;
  // With neither, only earlier copies kept after a lift are left to look at: one back at its
  // name is given back (red-team round 17: it stayed root-owned until the next ban and lift).
  if (!current && !desired && !input.kept?.length) return null;
  const steps: Step[] = [];
  const notes: string[] = [];
  const block = desired?.level === 'block';
  const launchers: LauncherEntry[] = [];
  const quarantine: QuarantineEntry[] = [];
  const suspicious: Plan['suspicious'] = [];
  const known = new Set((current?.orphans ?? []).map((orphan) => orphan.path));
  const orphans: OrphanEntry[] = [
    ...(current?.orphans ?? []),
    ...(input.kept ?? []).filter((orphan) => !known.has(orphan.path)),
  ];
  let added = false;
  // Names the record still claims are not free, present or not (a quarantine whose folder was
  // moved away comes back under its name).
  const claimedNames = new Set([
    ...orphans.map((orphan) => orphan.path),
    ...(current?.quarantine ?? []).map((entry) => entry.to),
    ...(current?.launchers ?? []).map((entry) => entry.sibling),
  ]);
  const taken = async (path: string) => claimedNames.has(path) || (await input.exists(path));

  const wanted = new Set(desired?.launchers ?? []);
  // Folders the block quarantines: the install folder first, then its parts.
  const toQuarantine = block
    ? [...new Set([...(desired.quarantine !== null ? [desired.quarantine] : []), ...(desired.parts ?? [])])]
    : [];
  const frozen = input.frozen ?? new Set<string>();

  // Originals moved back by hand: back to their recorded owner and mode, then set aside again if still wanted.
  for (const entry of input.movedBack.quarantine) {
    const again = toQuarantine.includes(entry.from);
    const shared = entry.shared ? { shared: entry.shared } : {};
    if (entry.locked && !again) steps.push({ op: 'unlock', path: entry.from, original: entry.original, ...shared });
    if (again) {
      // Its old name taken meanwhile (by a folder of the user's): set aside under a free one.
      const to = (await input.exists(entry.to))
        ? await freeName((generation) => quarantineFor(entry.from, generation, input.platform), taken)
        : entry.to;
      steps.push(
        { op: 'rename', from: entry.from, to, original: entry.original },
        { op: 'lock', path: to, original: entry.original, ...shared },
      );
      quarantine.push({ ...entry, to, locked: true });
      added = true;
    }
  }
  for (const entry of input.movedBack.launchers) {
    if (entry.locked) steps.push({ op: 'unlock', path: entry.path, original: entry.original });
    if (!desired || !wanted.has(entry.path)) continue;
    const content = desired.stubText(entry.path, entry.sibling);
    const sha256 = sha256Text(content);
    const lockIt = block && entry.original.kind === 'file' && (entry.original.nlink ?? 1) <= 1;
    steps.push(
      { op: 'move-aside', launcher: entry.path, sibling: entry.sibling, original: entry.original },
      { op: 'write-stub', launcher: entry.path, content, sha256, previous: null },
    );
    if (lockIt) steps.push({ op: 'lock', path: entry.sibling, original: entry.original, optional: true });
    launchers.push({ ...entry, stubSha256: sha256, stubContent: content, locked: lockIt });
    added = true;
  }

  // Removals. A file sharing its inode with names in quarantined folders goes back first, while
  // those names are still locked away (safe-fs.ts sharedOnlyInQuarantine).
  const byShared = [...(current?.quarantine ?? [])].sort((a, b) => Number(!a.shared) - Number(!b.shared));
  for (const entry of byShared) {
    const shared = entry.shared ? { shared: entry.shared } : {};
    if (frozen.has(entry.from)) {
      quarantine.push(entry);
      continue;
    }
    if (toQuarantine.includes(entry.from)) {
      if (!entry.locked && entry.original.kind === 'file' && (entry.original.nlink ?? 1) > 1 && !entry.shared) {
        // Set aside unlocked for its other names: locked once they all lie in the instance's
        // quarantined folders (a pnpm store file, linked into the install), else left unlocked.
        const names = await sharedNames(input, entry.original, current?.quarantine ?? []);
        if (names === null) quarantine.push(entry);
        else {
          steps.push({ op: 'lock', path: entry.to, original: entry.original, shared: names });
          quarantine.push({ ...entry, locked: true, shared: names });
        }
        continue;
      }
      if (!entry.locked) steps.push({ op: 'lock', path: entry.to, original: entry.original, ...shared });
      quarantine.push({ ...entry, locked: true });
      continue;
    }
    if (entry.shared?.length && !(await input.exists(entry.to))) {
      // The user moved or removed the quarantined name; the inode, still locked, is given back
      // through its name in the install's quarantine (the install's own file).
      if (entry.locked)
        steps.push({ op: 'unlock', path: entry.shared[0]!, original: entry.original, shared: entry.shared.slice(1) });
      notes.push(`${entry.to} was moved away; its other name got its owner and mode back`);
      continue;
    }
    if (entry.locked) steps.push({ op: 'unlock', path: entry.to, original: entry.original, ...shared });
    steps.push({ op: 'rename', from: entry.to, to: entry.from, original: entry.original });
  }
  const keptLaunchers: OrphanEntry[] = [];
  for (const entry of current?.launchers ?? []) {
    if (frozen.has(entry.path)) {
      launchers.push(entry);
      continue;
    }
    if (wanted.has(entry.path)) continue;
    if (entry.locked) steps.push({ op: 'unlock', path: entry.sibling, original: entry.original });
    if (input.replaceable.has(entry.path)) {
      // An identical copy of the original stands in the launcher's place (npx unpacked it again):
      // the kept original, given its owner and mode back, stays beside it as the user's copy.
      notes.push(`${entry.path} is already an identical copy of its original; ${entry.sibling} stays beside it`);
      keptLaunchers.push({ path: entry.sibling, original: entry.original, locked: false, home: entry.path });
      continue;
    }
    steps.push({
      op: 'restore-launcher',
      launcher: entry.path,
      sibling: entry.sibling,
      original: entry.original,
      stubContent: entry.stubContent ?? '',
    });
  }
  const kept: OrphanEntry[] = [];
  if (desired) orphans.push(...keptLaunchers);
  else kept.push(...keptLaunchers);
  if (!desired) {
    // Earlier copies set aside after a tamper are the user's own files: each gets its owner and
    // mode back and returns to its place when nothing stands there (nor will: a launcher or a
    // folder put back above claims its path). The others keep their place and are remembered
    // (Ledger.kept), so a later block locks them again and the restore reports them.
    const claimed = new Set([
      ...(current?.launchers ?? []).map((entry) => entry.path),
      ...(current?.quarantine ?? []).map((entry) => entry.from),
    ]);
    for (const orphan of orphans) {
      if (frozen.has(orphan.path)) {
        // Its folder is unsafe now: remembered as it is, not touched.
        kept.push(orphan);
        continue;
      }
      const now = await input.facts(orphan.path);
      if (now === null || !isRecordedObject(now, orphan.original)) {
        // A locked copy away from its name (its folder moved, something else there now):
        // remembered (it is still locked somewhere), given back when it is seen again; its name
        // meanwhile is not enforcement's own (OrphanEntry.away).
        if (orphan.locked) kept.push({ ...orphan, away: true });
        continue;
      }
      if (orphan.locked) steps.push({ op: 'unlock', path: orphan.path, original: orphan.original });
      const home = homeOf(orphan, input.platform);
      if (home !== null && !claimed.has(home) && !(await input.exists(home))) {
        steps.push({ op: 'return-copy', from: orphan.path, to: home, original: orphan.original });
        claimed.add(home);
        continue;
      }
      const { away: _away, ...here } = orphan;
      kept.push({ ...here, locked: false, ...(home !== null ? { home } : {}) });
    }
  } else if (block) {
    // Under a block no earlier copy stays usable: each is locked (again) while it is still the
    // recorded object; one that is gone is forgotten.
    for (let i = 0; i < orphans.length; i++) {
      const orphan = orphans[i]!;
      if (
        orphan.locked ||
        frozen.has(orphan.path) ||
        (orphan.original.kind !== 'file' && orphan.original.kind !== 'dir')
      )
        continue;
      const now = await input.facts(orphan.path);
      if (now === null || !isRecordedObject(now, orphan.original)) {
        orphans.splice(i--, 1);
        continue;
      }
      if (now.kind === 'file' && (now.nlink ?? 1) > 1) {
        notes.push(`${orphan.path} has other names; left unlocked`);
        continue;
      }
      // Optional: a copy its user links elsewhere meanwhile is left unlocked (reported), not the ban.
      steps.push({ op: 'lock', path: orphan.path, original: orphan.original, optional: true });
      orphans[i] = { ...orphan, locked: true };
      added = true;
    }
  }

  // Launchers already replaced: rewrite stubs whose text changed, adjust locks.
  for (const entry of current?.launchers ?? []) {
    if (!desired || !wanted.has(entry.path) || frozen.has(entry.path)) continue;
    // A kept original that gained other names since (a lock skipped then) is not locked again.
    const lockIt =
      block &&
      entry.original.kind === 'file' &&
      (entry.original.nlink ?? 1) <= 1 &&
      (entry.locked || ((await input.facts(entry.sibling))?.nlink ?? 1) <= 1);
    if (entry.locked && !lockIt) steps.push({ op: 'unlock', path: entry.sibling, original: entry.original });
    const content = desired.stubText(entry.path, entry.sibling);
    const sha256 = sha256Text(content);
    if (entry.stubSha256 !== sha256) {
      const step: Step = { op: 'write-stub', launcher: entry.path, content, sha256, previous: entry.stubContent };
      if (input.replaceable.has(entry.path)) step.replaceIfSameAs = entry.original;
      steps.push(step);
    }
    if (!entry.locked && lockIt)
      steps.push({ op: 'lock', path: entry.sibling, original: entry.original, optional: true });
    launchers.push({ ...entry, stubSha256: sha256, stubContent: content, locked: lockIt });
  }

  // New launchers.
  const replaced = new Set([...(current?.launchers ?? []), ...input.movedBack.launchers].map((entry) => entry.path));
  for (const path of desired?.launchers ?? []) {
    if (replaced.has(path)) continue;
    const original = await input.facts(path);
    if (original === null) {
      notes.push(`${path} is gone; nothing to replace`);
      continue;
    }
    if (original.kind === 'dir') {
      notes.push(`${path} is a folder, not a launcher; left alone`);
      continue;
    }
    if (original.kind === 'other') {
      notes.push(`${path} is a FIFO, socket or device, not a launcher; left alone`);
      suspicious.push({ path, reason: 'a launcher that is a special file (FIFO, socket or device)' });
      continue;
    }
    if (await input.isOurStub(path)) {
      notes.push(`${path} already holds an aigate stub the ledger does not know; left alone`);
      continue;
    }
    const sibling = await freeName((generation) => siblingFor(path, generation, input.platform), taken);
    const content = desired!.stubText(path, sibling);
    const sha256 = sha256Text(content);
    // A file with several names cannot be locked without changing the others (a hard link to a
    // system file, say): it is set aside and stubbed, not locked.
    const lockIt = block && original.kind === 'file' && (original.nlink ?? 1) <= 1;
    if (block && original.kind === 'file' && !lockIt)
      notes.push(`${path} has several hard links; set aside but not locked`);
    steps.push(
      { op: 'move-aside', launcher: path, sibling, original },
      { op: 'write-stub', launcher: path, content, sha256, previous: null },
    );
    if (lockIt) steps.push({ op: 'lock', path: sibling, original, optional: true });
    const folder = await input.facts(parentOf(path, input.platform));
    launchers.push({
      path,
      sibling,
      original,
      stubSha256: sha256,
      stubContent: content,
      locked: lockIt,
      ...(folder?.kind === 'dir' && folder.dev !== undefined && folder.ino !== undefined
        ? { folder: { dev: folder.dev, ino: folder.ino } }
        : {}),
    });
    added = true;
  }

  // Quarantine: folders first, then files with other names (a pnpm store file), whose other
  // names must by then lie in those folders' quarantines.
  const linked: { from: string; original: FileFacts }[] = [];
  for (const from of toQuarantine) {
    if (
      quarantine.some((entry) => entry.from === from) ||
      input.movedBack.quarantine.some((entry) => entry.from === from)
    )
      continue;
    const original = await input.facts(from);
    if (original?.kind === 'file' && (original.nlink ?? 1) > 1) linked.push({ from, original });
    else if (original === null) notes.push(`${from} is gone; nothing to quarantine`);
    else if (original.uid === 0 && original.mode === 0) {
      // Locked as enforcement locks (owner root, mode 000): a quarantine of its own under another
      // name (its user renamed it; observe follows it by device and inode), never a user's install
      // to record with root as its owner.
      notes.push(`${from} is locked as aigate locks its quarantines; left alone`);
      suspicious.push({ path: from, reason: 'an install folder locked as aigate locks its quarantines' });
    } else if (original.kind === 'symlink') {
      notes.push(`${from} is a symbolic link; aigate only quarantines real folders`);
      suspicious.push({
        path: from,
        reason: `an install folder that is a symbolic link (to ${original.target ?? '?'})`,
      });
    } else if (original.kind === 'other') {
      notes.push(`${from} is a special file; left alone`);
      suspicious.push({ path: from, reason: 'an install path that is a FIFO, socket or device' });
    } else {
      const to = await freeName((generation) => quarantineFor(from, generation, input.platform), taken);
      steps.push({ op: 'rename', from, to, original }, { op: 'lock', path: to, original });
      quarantine.push({ from, to, original, locked: true });
      added = true;
    }
  }
  for (const { from, original } of linked) {
    const shared = await sharedNames(input, original, quarantine);
    if (shared === null) {
      // Its other names lie elsewhere (or in folders only now quarantined): locking the inode
      // would lock them too, so it is only set aside under a quarantine name, which is enough to
      // stop what looks it up by this name (npm's cache for `npx --offline`, pnpm's store). Red-
      // team round 16: one hard link elsewhere left the cached tarball in place for good.
      const to = await freeName((generation) => quarantineFor(from, generation, input.platform), taken);
      steps.push({ op: 'rename', from, to, original });
      quarantine.push({ from, to, original, locked: false });
      notes.push(`${from} has other names; set aside, not locked, until they all lie in the quarantine`);
      added = true;
      continue;
    }
    const to = await freeName((generation) => quarantineFor(from, generation, input.platform), taken);
    steps.push({ op: 'rename', from, to, original }, { op: 'lock', path: to, original, shared });
    quarantine.push({ from, to, original, locked: true, shared });
    added = true;
  }

  if (block && (added || input.running)) {
    const roots = [
      desired.instance.installPath,
      ...quarantine.map((entry) => entry.to),
      ...launchers.map((entry) => entry.sibling),
    ];
    const folders = quarantine.map((entry) => ({
      path: entry.to,
      from: entry.from,
      ...(entry.original.dev !== undefined ? { dev: entry.original.dev, ino: entry.original.ino } : {}),
    }));
    const files = launchers.flatMap((entry) => [
      {
        path: entry.sibling,
        ...(entry.original.dev !== undefined ? { dev: entry.original.dev, ino: entry.original.ino } : {}),
      },
      { path: entry.path },
    ]);
    steps.push({
      op: 'stop-processes',
      roots: [...new Set(roots)],
      graceMs: input.graceMs,
      owners: [...new Set(input.owners ?? [])],
      folders,
      files,
    });
  }

  // A lift that cannot put back frozen entries keeps them recorded: nothing claims a restore
  // that did not happen.
  const stuck = !desired && current && (launchers.length > 0 || quarantine.length > 0);
  const result: AppliedInstance | null = stuck
    ? { ...current, launchers, quarantine, orphans: kept.splice(0), updatedAt: input.nowIso }
    : desired
      ? {
          key: desired.key,
          instance: desired.instance,
          level: desired.level,
          verdict: desired.verdict,
          launchers,
          quarantine,
          orphans,
          appliedAt: current && current.level === desired.level ? current.appliedAt : input.nowIso,
          updatedAt: input.nowIso,
        }
      : null;

  const kind: Plan['kind'] = !desired
    ? 'restore'
    : !current || (current.level === 'warn' && desired.level === 'block')
      ? 'apply'
      : current.level === 'block' && desired.level === 'warn'
        ? 'restore'
        : 'apply';
  if (steps.length === 0 && current && result && sameRecord(current, result))
    return suspicious.length > 0 ? { kind, steps, result: current, notes, suspicious, kept } : null;
  if (!current && !desired) {
    const unchanged = JSON.stringify(kept) === JSON.stringify(input.kept ?? []);
    return steps.length === 0 && unchanged ? null : { kind: 'repair', steps, result: null, notes, suspicious, kept };
  }
  return { kind, steps, result, notes, suspicious, kept };
}

/**
 * Where an earlier copy stood before the agent set it aside: recorded (OrphanEntry.home), or for
 * older ledgers read back from the name the agent gave it (stubs.ts siblingFor / quarantineFor:
 * `.<name>.aigate-orig[-N][<ext>]`, `.<name>.aigate-quarantine[-N]`). Null when neither tells.
 */
export function homeOf(orphan: OrphanEntry, platform: NodeJS.Platform): string | null {
  if (orphan.home !== undefined) return orphan.home;
  const api = platform === 'win32' ? path.win32 : path.posix;
  const match = /^\.(.+)\.aigate-(?:orig|quarantine)(?:-\d+)?(\.[A-Za-z0-9]+)?$/.exec(api.basename(orphan.path));
  return match ? api.join(api.dirname(orphan.path), `${match[1]}${match[2] ?? ''}`) : null;
}

/** Records equal apart from timestamps: nothing to commit. */
export function sameRecord(a: AppliedInstance, b: AppliedInstance): boolean {
  const strip = (r: AppliedInstance) => JSON.stringify({ ...r, updatedAt: '', appliedAt: '' });
  return strip(a) === strip(b);
}
