/**
 * Launch records: stubs run as the employee, so they cannot reach the spool; they drop a tiny
 * key=value file into a sticky, world-writable folder instead, and the agent turns each into a
 * warned-launch or blocked-launch event. The files are untrusted input: only regular files with a
 * single link, small, with exactly the expected keys and values, naming an instance that is
 * really enforced, are accepted. The user comes from the file's owner (the kernel's word), not
 * from the text. Accepted or not, each file is consumed.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { userNameOf } from '../host/users.js';
import { type AgentEvent, newEvent, stableEventId } from './event.js';

const NAME = /^\d{1,12}-\d{1,12}-[0-9a-f]{16}\.launch$/;
const MAX_RECORD_BYTES = 1024;
const MAX_PER_COLLECTION = 1000;
/** The record's own time is believed if it is within this of the file's modification time. */
const PLAUSIBLE_SKEW_MS = 10 * 60_000;

export interface LaunchTarget {
  toolId: string;
  installPath: string;
  version: string | null;
}

export interface CollectResult {
  events: AgentEvent[];
  /** The record file each event came from (same order as `events`). */
  eventFiles: string[];
  /** Files read (accepted or not): remove them once the events are safely spooled. */
  consumed: string[];
  rejected: { file: string; reason: string }[];
  /** Files left for the next collection (more than one collection takes). */
  deferred: number;
}

interface ParsedRecord {
  kind: 'warned' | 'blocked';
  key: string;
  uid: number | null;
  user: string | null;
  at: number;
}

export function parseLaunchRecord(text: string): ParsedRecord | string {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line === '') continue;
    const match = /^([a-z]{1,8})=(.{0,200})$/.exec(line);
    if (!match) return 'a line is not key=value';
    if (fields.has(match[1]!)) return `${match[1]} is given twice`;
    fields.set(match[1]!, match[2]!);
  }
  const known = ['v', 'kind', 'key', 'uid', 'user', 'at'];
  const extra = [...fields.keys()].find((key) => !known.includes(key));
  if (extra) return `unexpected key ${extra}`;
  if (fields.get('v') !== '1') return 'not a version 1 record';
  const kind = fields.get('kind');
  if (kind !== 'warned' && kind !== 'blocked') return 'kind must be warned or blocked';
  const key = fields.get('key') ?? '';
  if (!/^[0-9a-f]{16}$/.test(key)) return 'key must be 16 hex digits';
  const uid = fields.get('uid') ?? '';
  if (!/^\d{0,10}$/.test(uid)) return 'uid must be a number';
  const user = fields.get('user') ?? '';
  if (!/^[A-Za-z0-9._@$ \\-]{0,64}$/.test(user)) return 'user has unexpected characters';
  const at = fields.get('at') ?? '';
  if (!/^\d{1,12}$/.test(at)) return 'at must be seconds since the epoch';
  return { kind, key, uid: uid === '' ? null : Number(uid), user: user === '' ? null : user, at: Number(at) * 1000 };
}

async function readRecord(path: string): Promise<{ text: string; uid: number; mtimeMs: number; ino: number } | string> {
  const info = await lstat(path);
  if (!info.isFile()) return 'not a regular file';
  if (info.nlink !== 1) return 'a hard link';
  if (info.size > MAX_RECORD_BYTES) return 'too large';
  const handle = await open(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
  try {
    const opened = await handle.stat();
    if (opened.ino !== info.ino || !opened.isFile()) return 'changed while being read';
    const buffer = Buffer.alloc(MAX_RECORD_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead > MAX_RECORD_BYTES) return 'too large';
    return {
      text: buffer.subarray(0, bytesRead).toString('utf8'),
      uid: opened.uid,
      mtimeMs: opened.mtimeMs,
      ino: opened.ino,
    };
  } finally {
    await handle.close();
  }
}

export async function collectLaunchRecords(
  dir: string,
  targets: ReadonlyMap<string, LaunchTarget>,
  policyRevision: number | null,
): Promise<CollectResult> {
  const result: CollectResult = { events: [], eventFiles: [], consumed: [], rejected: [], deferred: 0 };
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch {
    return result;
  }
  if (names.length > MAX_PER_COLLECTION) {
    result.deferred = names.length - MAX_PER_COLLECTION;
    names = names.slice(0, MAX_PER_COLLECTION);
  }
  for (const name of names) {
    const path = join(dir, name);
    const reject = (reason: string) => result.rejected.push({ file: name, reason });
    try {
      if (!NAME.test(name)) {
        reject('unexpected file name');
        continue;
      }
      const read = await readRecord(path);
      if (typeof read === 'string') {
        reject(read);
        continue;
      }
      const record = parseLaunchRecord(read.text);
      if (typeof record === 'string') {
        reject(record);
        continue;
      }
      if (!name.endsWith(`-${record.key}.launch`)) {
        reject('the key in the name and in the text differ');
        continue;
      }
      const target = targets.get(record.key);
      if (!target) {
        reject('no enforced instance has this key');
        continue;
      }
      if (process.platform !== 'win32' && record.uid !== null && record.uid !== read.uid) {
        reject(`claims uid ${record.uid} but the file belongs to uid ${read.uid}`);
        continue;
      }
      const known = process.platform === 'win32' ? null : userNameOf(read.uid);
      const user = known ?? record.user ?? (process.platform === 'win32' ? 'unknown' : `uid ${read.uid}`);
      const at = Math.abs(record.at - read.mtimeMs) <= PLAUSIBLE_SKEW_MS ? record.at : read.mtimeMs;
      const blocked = record.kind === 'blocked';
      result.events.push(
        newEvent(
          blocked ? 'blocked-launch' : 'warned-launch',
          at,
          {
            toolId: target.toolId,
            installPath: target.installPath,
            version: target.version,
            user,
            policyRevision,
            message: `${user} ${blocked ? 'tried to start' : 'started'} ${target.toolId}${blocked ? ' and saw the block notice' : ' after the warning'}`,
            details: { uid: process.platform === 'win32' ? null : read.uid, userVerified: known !== null },
          },
          stableEventId(`launch:${name}:${read.ino}:${read.mtimeMs}`, (text) =>
            createHash('sha256').update(text).digest('hex'),
          ),
        ),
      );
      result.eventFiles.push(path);
    } catch (error) {
      reject((error as Error).message);
    } finally {
      result.consumed.push(path);
    }
  }
  return result;
}

/** Removes collected record files (after their events are spooled). */
export async function removeRecords(paths: readonly string[]): Promise<void> {
  await Promise.all(paths.map((path) => rm(path, { force: true }).catch(() => undefined)));
}
