/**
 * The write-ahead ledger: one file holding what enforcement has applied (per instance) and the
 * operation in flight. Every step of an operation is written here, with what is needed to undo
 * it, before it happens, and marked done after; the file is replaced atomically each time. After
 * a crash the next start finds the operation and completes it, or undoes it (see engine.ts).
 */
import { type Static, Type } from '@sinclair/typebox';

import { ToolInstance } from '../../policies/inventory.js';
import { Verdict } from '../../policies/verdict.js';
import { readJsonFile, writeJsonFile } from '../state/json-file.js';
import { PRIVATE_FILE_MODE } from '../state/paths.js';
import { FileFacts } from './fs-facts.js';
import type { TrustedRoot } from './guard.js';

const TrustedRootSchema = Type.Object(
  { path: Type.String(), kind: Type.Union([Type.Literal('home'), Type.Literal('prefix')]) },
  { additionalProperties: false },
);

export const LauncherEntry = Type.Object(
  {
    /** Where the launcher is (and our stub now stands). */
    path: Type.String(),
    /** Where the original was moved, beside it. */
    sibling: Type.String(),
    original: FileFacts,
    /** The stub standing at `path`; null while it is missing and must be written again. */
    stubSha256: Type.Union([Type.String(), Type.Null()]),
    stubContent: Type.Union([Type.String(), Type.Null()]),
    /** Under a block, a regular-file original is made unreadable too (owner root, mode 000). */
    locked: Type.Boolean(),
    /** Identity of the stub the agent wrote (absent in older ledgers). */
    stubId: Type.Optional(Type.Object({ dev: Type.String(), ino: Type.String() }, { additionalProperties: false })),
    /**
     * Identity of the folder holding both names when the launcher was set aside (absent in older
     * ledgers): both names missing from a folder that is no longer that one means the folder was
     * moved, with the locked original in it (observe.ts), not that they were removed.
     */
    folder: Type.Optional(Type.Object({ dev: Type.String(), ino: Type.String() }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type LauncherEntry = Static<typeof LauncherEntry>;

/**
 * The other names of a quarantined regular file's inode, each inside a quarantined (locked)
 * folder of the same instance: pnpm's store file and the install's hard link of it. Locking the
 * inode locks them too, which is wanted; with no such list a file with several names is never
 * locked (see safe-fs.ts).
 */
const SharedNames = Type.Array(Type.String(), { maxItems: 8 });

export const QuarantineEntry = Type.Object(
  {
    from: Type.String(),
    to: Type.String(),
    original: FileFacts,
    locked: Type.Boolean(),
    shared: Type.Optional(SharedNames),
    /**
     * The quarantine was not at `to` when last looked at (its folder moved away with it): that
     * name is not enforcement's own meanwhile, so whatever stands there is scanned and judged
     * (red-team round 18). Cleared when it is seen again.
     */
    away: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type QuarantineEntry = Static<typeof QuarantineEntry>;

/**
 * An earlier copy set aside after a tamper (a reinstall over a quarantine, a launcher replaced):
 * kept, never deleted. `home` is where it stood before the agent set it aside (the launcher path
 * or the install folder); on lift it goes back there when that place is free (absent in older
 * ledgers: derived from the aigate name, see plan.ts homeOf).
 */
export const OrphanEntry = Type.Object(
  {
    path: Type.String(),
    original: FileFacts,
    locked: Type.Boolean(),
    home: Type.Optional(Type.String()),
    /**
     * The recorded copy was not at `path` when last looked at (moved away, something else put
     * there): meanwhile that name is not enforcement's own, so whatever stands there is scanned
     * and judged like anything else (red-team round 17: a folder of the user's at a locked
     * copy's name was hidden from every scan). Cleared when the copy is seen there again.
     */
    away: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type OrphanEntry = Static<typeof OrphanEntry>;

export const AppliedInstance = Type.Object(
  {
    key: Type.String(),
    instance: ToolInstance,
    level: Type.Union([Type.Literal('warn'), Type.Literal('block')]),
    verdict: Verdict,
    launchers: Type.Array(LauncherEntry),
    quarantine: Type.Array(QuarantineEntry),
    orphans: Type.Array(OrphanEntry),
    appliedAt: Type.String(),
    updatedAt: Type.String(),
  },
  { additionalProperties: false },
);
export type AppliedInstance = Static<typeof AppliedInstance>;

/** A path with the device+inode it must still have (see processes.ts). */
const Identified = Type.Object(
  {
    path: Type.String(),
    dev: Type.Optional(Type.String()),
    ino: Type.Optional(Type.String()),
    from: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const Step = Type.Union([
  Type.Object(
    { op: Type.Literal('move-aside'), launcher: Type.String(), sibling: Type.String(), original: FileFacts },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      op: Type.Literal('write-stub'),
      launcher: Type.String(),
      content: Type.String(),
      sha256: Type.String(),
      /** The stub it replaces, put back if the operation is undone. */
      previous: Type.Union([Type.String(), Type.Null()]),
      /** A launcher put back by hand that is identical to the kept original may be replaced. */
      replaceIfSameAs: Type.Optional(FileFacts),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      op: Type.Literal('restore-launcher'),
      launcher: Type.String(),
      sibling: Type.String(),
      original: FileFacts,
      stubContent: Type.String(),
    },
    { additionalProperties: false },
  ),
  /** A kept earlier copy moved back to its free place (`to`, in the same folder) on lift. */
  Type.Object(
    { op: Type.Literal('return-copy'), from: Type.String(), to: Type.String(), original: FileFacts },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      op: Type.Literal('lock'),
      path: Type.String(),
      original: FileFacts,
      shared: Type.Optional(SharedNames),
      /**
       * A launcher's kept original: when it has gained other names by the time of the lock, the
       * step is skipped (state `skipped`) and the launcher stays set aside and stubbed, unlocked,
       * as one planned with several names is; the rest of the operation goes on.
       */
      optional: Type.Optional(Type.Boolean()),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    { op: Type.Literal('unlock'), path: Type.String(), original: FileFacts, shared: Type.Optional(SharedNames) },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      op: Type.Literal('rename'),
      from: Type.String(),
      to: Type.String(),
      /** The folder being moved, as recorded (identity checked before each rename; absent in older ledgers). */
      original: Type.Optional(FileFacts),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      op: Type.Literal('stop-processes'),
      roots: Type.Array(Type.String()),
      graceMs: Type.Integer({ minimum: 0 }),
      /** uids whose processes may be stopped (see processes.ts); absent in older ledgers: none. */
      owners: Type.Optional(Type.Array(Type.Integer({ minimum: 0 }))),
      folders: Type.Optional(Type.Array(Identified)),
      files: Type.Optional(Type.Array(Identified)),
    },
    { additionalProperties: false },
  ),
]);
export type Step = Static<typeof Step>;

const StepState = Type.Union([
  Type.Literal('pending'),
  Type.Literal('started'),
  Type.Literal('done'),
  /** An optional step that could not be done without touching others' names (see `lock`). */
  Type.Literal('skipped'),
  Type.Literal('undone'),
  Type.Literal('undo-failed'),
]);

export const Operation = Type.Object(
  {
    id: Type.String(),
    kind: Type.Union([Type.Literal('apply'), Type.Literal('restore'), Type.Literal('repair')]),
    key: Type.String(),
    startedAt: Type.String(),
    direction: Type.Union([Type.Literal('forward'), Type.Literal('backward')]),
    steps: Type.Array(
      Type.Object(
        { step: Step, state: StepState, note: Type.Optional(Type.String()) },
        { additionalProperties: false },
      ),
    ),
    /** The instance's record once the operation commits; null removes it. */
    result: Type.Union([AppliedInstance, Type.Null()]),
    error: Type.Union([Type.String(), Type.Null()]),
    /** For the events reported when it commits. */
    policyRevision: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
    notes: Type.Optional(Type.Array(Type.String())),
    /**
     * Earlier copies to remember once the operation commits with no record left (a lift): they
     * are locked again when the tool is blocked again (see Ledger.kept).
     */
    kept: Type.Optional(Type.Array(OrphanEntry)),
    /** The trusted roots the operation's paths lie in, remembered for restore --all. */
    roots: Type.Optional(Type.Array(TrustedRootSchema)),
  },
  { additionalProperties: false },
);
export type Operation = Static<typeof Operation>;

const Problem = Type.Object(
  { at: Type.String(), key: Type.String(), message: Type.String() },
  { additionalProperties: false },
);
export type Problem = Static<typeof Problem>;

export const Ledger = Type.Object(
  {
    version: Type.Literal(1),
    applied: Type.Record(Type.String(), AppliedInstance),
    journal: Type.Union([Operation, Type.Null()]),
    /** Recent things that could not be done or undone (kept for status and reports). */
    problems: Type.Array(Problem),
    /** Earlier copies of instances no longer enforced, by instance key: locked again on the next block. */
    kept: Type.Optional(Type.Record(Type.String(), Type.Array(OrphanEntry))),
    /**
     * Trusted roots (homes, prefixes) of everything applied: `restore --all`, run without the
     * daemon's flags, still finds and verifies every path it must put back.
     */
    roots: Type.Optional(Type.Array(TrustedRootSchema)),
  },
  { additionalProperties: false },
);
export type Ledger = Static<typeof Ledger>;

const MAX_PROBLEMS = 50;

/** Remembers trusted roots used by applied records (deduplicated). */
export function rememberRoots(ledger: Ledger, roots: readonly TrustedRoot[]): void {
  const known = new Map((ledger.roots ?? []).map((root) => [root.path, root] as const));
  for (const root of roots) if (!known.has(root.path)) known.set(root.path, { path: root.path, kind: root.kind });
  if (known.size > 0) ledger.roots = [...known.values()];
}

function emptyLedger(): Ledger {
  return { version: 1, applied: {}, journal: null, problems: [] };
}

export class LedgerStore {
  ledger: Ledger = emptyLedger();

  constructor(readonly file: string) {}

  /**
   * Reads the ledger. A damaged ledger is not silently replaced (it may be all that says where
   * originals are kept): the caller gets the message and must not enforce until it is repaired.
   */
  async load(): Promise<string | null> {
    const read = await readJsonFile(this.file, Ledger);
    if (read.ok) {
      this.ledger = read.value;
      return null;
    }
    if (read.missing) {
      this.ledger = emptyLedger();
      return null;
    }
    return read.message;
  }

  async save(): Promise<void> {
    await writeJsonFile(this.file, this.ledger, PRIVATE_FILE_MODE);
  }

  addProblem(at: number, key: string, message: string): void {
    this.ledger.problems = [...this.ledger.problems, { at: new Date(at).toISOString(), key, message }].slice(
      -MAX_PROBLEMS,
    );
  }
}
