/**
 * Doing and undoing one ledger step. Every function here is idempotent: it looks at the file
 * system first and does only what is still missing, so a step interrupted by a crash can simply
 * be run again. A state it cannot explain (a file that should not be there) is a StepConflict:
 * nothing is overwritten that the agent did not put there. A layout a user could have arranged
 * against the agent (a symlinked folder, a swapped file, a hard link) is an UnsafeLayout.
 *
 * Every change goes through safe-fs.ts: the folder holding the target is opened and verified
 * component by component, entries are named relative to that handle, and owner/mode changes go
 * through handles checked against the device+inode the ledger recorded.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

import {
  captureFacts,
  type FileFacts,
  identityOf,
  READ_UNTRUSTED,
  sameAsRecorded,
  sameContent,
  sameIdentity,
} from './fs-facts.js';
import type { GuardContext } from './guard.js';
import type { Step } from './ledger.js';
import { stopProcesses, type StopResult } from './processes.js';
import {
  lstatEntry,
  type PinnedDir,
  removeEntry,
  renameEntry,
  setOwnerMode,
  UnsafeLayout,
  withParent,
  writeStubEntry,
} from './safe-fs.js';
import { isStubText } from './stubs.js';

class StepConflict extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StepConflict';
  }
}

export interface StepEnv {
  /** Running as root (uid 0): owners can be changed. */
  isRoot: boolean;
  /** The trusted roots steps may act under (see guard.ts, safe-fs.ts). */
  guard: GuardContext;
  onStopped?: (result: StopResult) => void;
  /** Fault-injection points inside a step (`<kind>:<op>:staged`, race tests). */
  fault?: (point: string) => void | Promise<void>;
  /** The operation kind, for fault point names. */
  kind?: string;
}

const STUB_HEAD_BYTES = 512;
const STUB_MAX_BYTES = 256 * 1024;

/**
 * Is the file at `path` one of our stubs? A regular file whose first lines carry the marker; read
 * with O_NOFOLLOW|O_NONBLOCK and checked with fstat, so a FIFO or a symlink is simply "no".
 */
export async function isOurStub(path: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, READ_UNTRUSTED);
  } catch {
    return false;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile() || info.size > STUB_MAX_BYTES) return false;
    const buffer = Buffer.alloc(STUB_HEAD_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, STUB_HEAD_BYTES, 0);
    return isStubText(buffer.subarray(0, bytesRead).toString('utf8'));
  } catch {
    return false;
  } finally {
    await handle.close().catch(() => undefined);
  }
}

export const sha256Text = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

const inDir = (dir: PinnedDir, name: string) => dir.entry(name);

async function stubSha(dir: PinnedDir, name: string): Promise<string | null> {
  const facts = await captureFacts(inDir(dir, name));
  return facts?.kind === 'file' ? (facts.sha256 ?? null) : null;
}

function sameDir(a: string, b: string): void {
  if (dirname(a) !== dirname(b))
    throw new StepConflict(`${a} and ${b} are not in the same folder; aigate only renames within one folder`);
}

/**
 * The entry is the recorded object: same content, kind, owner and mode, and (when recorded) the
 * same device+inode — both, since a freed inode number can be reused by a new file.
 */
async function isRecorded(dir: PinnedDir, name: string, original: FileFacts): Promise<boolean> {
  const now = await captureFacts(inDir(dir, name));
  return now !== null && sameAsRecorded(now, original);
}

async function writeStub(dir: PinnedDir, name: string, content: string, env: StepEnv): Promise<void> {
  await writeStubEntry(dir, name, content, env.isRoot, () => env.fault?.(`${env.kind ?? 'apply'}:write-stub:staged`));
}

async function moveAside(launcher: string, sibling: string, original: FileFacts, env: StepEnv): Promise<void> {
  sameDir(launcher, sibling);
  await withParent(launcher, env.guard, async (dir, name) => {
    const other = basename(sibling);
    const [hasLauncher, hasSibling] = [(await lstatEntry(dir, name)) !== null, (await lstatEntry(dir, other)) !== null];
    if (!hasLauncher && hasSibling) return;
    if (hasLauncher && !hasSibling) {
      if (!(await isRecorded(dir, name, original)))
        throw new StepConflict(`${launcher} changed since the agent looked at it; not moving it`);
      await renameEntry(dir, name, other);
      return;
    }
    if (hasLauncher && hasSibling) {
      if (await isOurStub(inDir(dir, name))) return;
      throw new StepConflict(
        `both ${launcher} and ${sibling} exist and ${launcher} is not an aigate stub; leaving both alone`,
      );
    }
    throw new StepConflict(`${launcher} is gone; nothing to set aside`);
  });
}

/** Puts the kept original back over the stub. */
async function putBack(launcher: string, sibling: string, original: FileFacts, env: StepEnv): Promise<void> {
  sameDir(launcher, sibling);
  await withParent(launcher, env.guard, async (dir, name) => {
    const other = basename(sibling);
    const hasSibling = (await lstatEntry(dir, other)) !== null;
    const hasLauncher = (await lstatEntry(dir, name)) !== null;
    if (hasSibling && (!hasLauncher || (await isOurStub(inDir(dir, name))))) {
      if (original.dev !== undefined && !(await isRecorded(dir, other, original)))
        throw new StepConflict(
          `${sibling} is not the original the agent kept any more; leaving it and ${launcher} alone`,
        );
      // rename() replaces the stub atomically: the command never goes missing.
      await renameEntry(dir, other, name);
      return;
    }
    if (!hasSibling && hasLauncher) {
      // The original was removed by someone else: our stub (our own file) goes, nothing else.
      if (await isOurStub(inDir(dir, name))) await removeEntry(dir, name);
      return;
    }
    if (hasSibling)
      throw new StepConflict(`${launcher} is not an aigate stub any more; the original stays at ${sibling}`);
    throw new StepConflict(`the kept original ${sibling} is gone; cannot put ${launcher} back`);
  });
}

async function doWriteStub(step: Extract<Step, { op: 'write-stub' }>, env: StepEnv): Promise<void> {
  await withParent(step.launcher, env.guard, async (dir, name) => {
    const facts = await captureFacts(inDir(dir, name));
    if (facts?.kind === 'file' && facts.sha256 === step.sha256) return;
    if (facts !== null && !(await isOurStub(inDir(dir, name)))) {
      const replaceable = step.replaceIfSameAs !== undefined && sameContent(facts, step.replaceIfSameAs);
      if (!replaceable) throw new StepConflict(`${step.launcher} is not an aigate stub; not overwriting it`);
    }
    await writeStub(dir, name, step.content, env);
  });
}

/**
 * Owner root, mode 000: the kept original or the quarantined folder cannot be used. `shared`: the
 * other names of a file's inode, inside the instance's locked quarantines (QuarantineEntry).
 */
async function lock(path: string, original: FileFacts, env: StepEnv, shared?: readonly string[]): Promise<void> {
  await withParent(path, env.guard, async (dir, name) => {
    const info = await lstatEntry(dir, name);
    if (!info) throw new StepConflict(`${path} is gone; cannot lock it`);
    const uid = env.isRoot ? 0 : Number(info.uid);
    const gid = env.isRoot ? 0 : Number(info.gid);
    await setOwnerMode(
      dir,
      name,
      original,
      { uid, gid, mode: 0 },
      env.isRoot,
      () => env.fault?.(`${env.kind ?? 'apply'}:lock:staged`),
      shared,
    );
  });
}

async function unlock(path: string, original: FileFacts, env: StepEnv, shared?: readonly string[]): Promise<void> {
  await withParent(path, env.guard, async (dir, name) => {
    if (!(await lstatEntry(dir, name))) throw new StepConflict(`${path} is gone; cannot restore its owner and mode`);
    // Times last: chmod and chown change ctime only, but keep mtime/atime as they were.
    await setOwnerMode(
      dir,
      name,
      original,
      { uid: original.uid, gid: original.gid, mode: original.mode, times: original },
      env.isRoot,
      undefined,
      shared,
    );
  });
}

async function renameIdempotent(
  from: string,
  to: string,
  original: FileFacts | undefined,
  env: StepEnv,
): Promise<void> {
  sameDir(from, to);
  await withParent(from, env.guard, async (dir, name) => {
    const other = basename(to);
    const fromInfo = await lstatEntry(dir, name);
    const toInfo = await lstatEntry(dir, other);
    if (!fromInfo && toInfo) return;
    if (fromInfo && !toInfo) {
      if (original?.kind === 'dir' && !fromInfo.isDirectory())
        throw new UnsafeLayout(from, 'it is not a real folder any more');
      if (original?.dev !== undefined && !sameIdentity(identityOf(fromInfo), original))
        throw new UnsafeLayout(from, 'it is not the folder the agent recorded (device/inode differ)');
      await renameEntry(dir, name, other);
      return;
    }
    if (fromInfo && toInfo) throw new StepConflict(`both ${from} and ${to} exist; not moving ${basename(from)}`);
    throw new StepConflict(`neither ${from} nor ${to} exists`);
  });
}

/**
 * Moves a kept earlier copy back to its place on lift: only when that place is free and the copy
 * is still the recorded object (content, kind, owner, mode, device+inode). Idempotent: done when
 * the copy is gone and the recorded object stands at its place.
 */
async function returnCopy(from: string, to: string, original: FileFacts, env: StepEnv): Promise<void> {
  sameDir(from, to);
  await withParent(from, env.guard, async (dir, name) => {
    const other = basename(to);
    const [hasCopy, taken] = [(await lstatEntry(dir, name)) !== null, (await lstatEntry(dir, other)) !== null];
    if (!hasCopy && taken && (await isRecorded(dir, other, original))) return;
    if (taken) throw new StepConflict(`${to} is taken; the earlier copy stays at ${from}`);
    if (!hasCopy) throw new StepConflict(`the earlier copy ${from} is gone`);
    if (!(await isRecorded(dir, name, original)))
      throw new StepConflict(`${from} is not the copy the agent kept any more; leaving it alone`);
    await renameEntry(dir, name, other);
  });
}

export async function doStep(step: Step, env: StepEnv): Promise<void> {
  switch (step.op) {
    case 'move-aside':
      return moveAside(step.launcher, step.sibling, step.original, env);
    case 'write-stub':
      return doWriteStub(step, env);
    case 'restore-launcher':
      return putBack(step.launcher, step.sibling, step.original, env);
    case 'return-copy':
      return returnCopy(step.from, step.to, step.original, env);
    case 'lock':
      return lock(step.path, step.original, env, step.shared);
    case 'unlock':
      return unlock(step.path, step.original, env, step.shared);
    case 'rename':
      return renameIdempotent(step.from, step.to, step.original, env);
    case 'stop-processes': {
      const result = await stopProcesses(step);
      env.onStopped?.(result);
      return;
    }
  }
}

export async function undoStep(step: Step, env: StepEnv): Promise<void> {
  switch (step.op) {
    case 'move-aside':
      return putBack(step.launcher, step.sibling, step.original, env);
    case 'write-stub':
      // A fresh stub is replaced by the original when move-aside is undone; a rewritten one
      // gets its previous text back.
      if (step.previous === null) return;
      return withParent(step.launcher, env.guard, async (dir, name) => {
        if ((await isOurStub(inDir(dir, name))) && (await stubSha(dir, name)) !== sha256Text(step.previous!))
          await writeStub(dir, name, step.previous!, env);
      });
    case 'restore-launcher':
      await moveAside(step.launcher, step.sibling, step.original, env);
      await withParent(step.launcher, env.guard, async (dir, name) => {
        if (!(await lstatEntry(dir, name))) await writeStub(dir, name, step.stubContent, env);
      });
      return;
    case 'return-copy':
      return returnCopy(step.to, step.from, step.original, env);
    case 'lock':
      return unlock(step.path, step.original, env, step.shared);
    case 'unlock':
      return lock(step.path, step.original, env, step.shared);
    case 'rename':
      return renameIdempotent(step.to, step.from, step.original, env);
    case 'stop-processes':
      return;
  }
}

/** Paths a step changes, for messages. */
export function stepTarget(step: Step): string {
  switch (step.op) {
    case 'move-aside':
    case 'write-stub':
    case 'restore-launcher':
      return step.launcher;
    case 'lock':
    case 'unlock':
      return step.path;
    case 'rename':
    case 'return-copy':
      return `${step.from} -> ${step.to}`;
    case 'stop-processes':
      return step.roots.join(', ');
  }
}
