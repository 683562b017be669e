/**
 * Doing and undoing one ledger step. Every function here is idempotent: it looks at the file
 * system first and does only what is still missing, so a step interrupted by a crash can simply
 * be run again. A state it cannot explain (a file that should not be there) is a StepConflict:
 * nothing is overwritten that the agent did not put there.
 */
import { createHash } from 'node:crypto';
import { chmod, chown, lchown, lstat, open, rename, rm, utimes } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { fsyncDirectory, writeFileAtomic } from '../state/atomic.js';
import { captureFacts, lexists, sameContent, type FileFacts } from './fs-facts.js';
import type { Step } from './ledger.js';
import { stopProcesses, type StopResult } from './processes.js';
import { isStubText } from './stubs.js';

export class StepConflict extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StepConflict';
  }
}

export interface StepEnv {
  /** Running as root (uid 0): owners can be changed. */
  isRoot: boolean;
  onStopped?: (result: StopResult) => void;
}

const STUB_HEAD_BYTES = 512;
const STUB_MAX_BYTES = 256 * 1024;

/** Is the file at `path` one of our stubs? (A regular file whose first lines carry the marker.) */
export async function isOurStub(path: string): Promise<boolean> {
  let info;
  try {
    info = await lstat(path);
  } catch {
    return false;
  }
  if (!info.isFile() || info.size > STUB_MAX_BYTES) return false;
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(STUB_HEAD_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, STUB_HEAD_BYTES, 0);
    return isStubText(buffer.subarray(0, bytesRead).toString('utf8'));
  } finally {
    await handle.close();
  }
}

export const sha256Text = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

async function stubSha(path: string): Promise<string | null> {
  const facts = await captureFacts(path);
  return facts?.kind === 'file' ? (facts.sha256 ?? null) : null;
}

async function writeStub(launcher: string, content: string, env: StepEnv): Promise<void> {
  await writeFileAtomic(launcher, content, { mode: 0o755 });
  if (env.isRoot) {
    await chown(launcher, 0, 0);
    await chmod(launcher, 0o755);
  }
}

async function moveAside(launcher: string, sibling: string, original: FileFacts): Promise<void> {
  const [hasLauncher, hasSibling] = await Promise.all([lexists(launcher), lexists(sibling)]);
  if (!hasLauncher && hasSibling) return;
  if (hasLauncher && !hasSibling) {
    const now = await captureFacts(launcher);
    if (!now || !sameContent(now, original)) throw new StepConflict(`${launcher} changed since the agent looked at it; not moving it`);
    await rename(launcher, sibling);
    await fsyncDirectory(dirname(launcher));
    return;
  }
  if (hasLauncher && hasSibling) {
    if (await isOurStub(launcher)) return;
    throw new StepConflict(`both ${launcher} and ${sibling} exist and ${launcher} is not an aigate stub; leaving both alone`);
  }
  throw new StepConflict(`${launcher} is gone; nothing to set aside`);
}

/** Puts the kept original back over the stub. */
async function putBack(launcher: string, sibling: string): Promise<void> {
  const hasSibling = await lexists(sibling);
  const hasLauncher = await lexists(launcher);
  if (hasSibling && (!hasLauncher || (await isOurStub(launcher)))) {
    // rename() replaces the stub atomically: the command never goes missing.
    await rename(sibling, launcher);
    await fsyncDirectory(dirname(launcher));
    return;
  }
  if (!hasSibling && hasLauncher) {
    // The original was removed by someone else: our stub (our own file) goes, nothing else.
    if (await isOurStub(launcher)) await rm(launcher, { force: true });
    return;
  }
  if (hasSibling) throw new StepConflict(`${launcher} is not an aigate stub any more; the original stays at ${sibling}`);
  throw new StepConflict(`the kept original ${sibling} is gone; cannot put ${launcher} back`);
}

async function doWriteStub(step: Extract<Step, { op: 'write-stub' }>, env: StepEnv): Promise<void> {
  const facts = await captureFacts(step.launcher);
  if (facts?.kind === 'file' && facts.sha256 === step.sha256) return;
  if (facts !== null && !(await isOurStub(step.launcher))) {
    const replaceable = step.replaceIfSameAs !== undefined && sameContent(facts, step.replaceIfSameAs);
    if (!replaceable) throw new StepConflict(`${step.launcher} is not an aigate stub; not overwriting it`);
  }
  await writeStub(step.launcher, step.content, env);
}

async function setOwnerAndMode(path: string, uid: number, gid: number, mode: number, env: StepEnv): Promise<void> {
  const info = await lstat(path);
  if (info.isSymbolicLink()) throw new StepConflict(`${path} is a symbolic link; aigate does not change its owner or mode`);
  // chown first: it may clear set-id bits, which chmod then sets as recorded.
  if (env.isRoot && (info.uid !== uid || info.gid !== gid)) await lchown(path, uid, gid);
  if ((info.mode & 0o7777) !== mode) await chmod(path, mode);
}

async function lock(path: string, env: StepEnv): Promise<void> {
  if (!(await lexists(path))) throw new StepConflict(`${path} is gone; cannot lock it`);
  const info = await lstat(path);
  await setOwnerAndMode(path, env.isRoot ? 0 : info.uid, env.isRoot ? 0 : info.gid, 0, env);
}

async function unlock(path: string, original: FileFacts, env: StepEnv): Promise<void> {
  if (!(await lexists(path))) throw new StepConflict(`${path} is gone; cannot restore its owner and mode`);
  await setOwnerAndMode(path, original.uid, original.gid, original.mode, env);
  // Times last: chmod and chown change ctime only, but keep mtime/atime as they were.
  await utimes(path, original.atimeMs / 1000, original.mtimeMs / 1000).catch(() => undefined);
}

async function renameIdempotent(from: string, to: string): Promise<void> {
  const [hasFrom, hasTo] = await Promise.all([lexists(from), lexists(to)]);
  if (!hasFrom && hasTo) return;
  if (hasFrom && !hasTo) {
    await rename(from, to);
    await fsyncDirectory(dirname(to));
    return;
  }
  if (hasFrom && hasTo) throw new StepConflict(`both ${from} and ${to} exist; not moving ${basename(from)}`);
  throw new StepConflict(`neither ${from} nor ${to} exists`);
}

export async function doStep(step: Step, env: StepEnv): Promise<void> {
  switch (step.op) {
    case 'move-aside':
      return moveAside(step.launcher, step.sibling, step.original);
    case 'write-stub':
      return doWriteStub(step, env);
    case 'restore-launcher':
      return putBack(step.launcher, step.sibling);
    case 'lock':
      return lock(step.path, env);
    case 'unlock':
      return unlock(step.path, step.original, env);
    case 'rename':
      return renameIdempotent(step.from, step.to);
    case 'stop-processes': {
      const result = await stopProcesses(step.roots, step.graceMs);
      env.onStopped?.(result);
      return;
    }
  }
}

export async function undoStep(step: Step, env: StepEnv): Promise<void> {
  switch (step.op) {
    case 'move-aside':
      return putBack(step.launcher, step.sibling);
    case 'write-stub':
      // A fresh stub is replaced by the original when move-aside is undone; a rewritten one
      // gets its previous text back.
      if (step.previous !== null && (await isOurStub(step.launcher)) && (await stubSha(step.launcher)) !== sha256Text(step.previous)) {
        await writeStub(step.launcher, step.previous, env);
      }
      return;
    case 'restore-launcher':
      await moveAside(step.launcher, step.sibling, step.original);
      if (!(await lexists(step.launcher))) await writeStub(step.launcher, step.stubContent, env);
      return;
    case 'lock':
      return unlock(step.path, step.original, env);
    case 'unlock':
      return lock(step.path, env);
    case 'rename':
      return renameIdempotent(step.to, step.from);
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
      return `${step.from} -> ${step.to}`;
    case 'stop-processes':
      return step.roots.join(', ');
  }
}

