/**
 * Filing dropped exception requests on the server and following their decisions. What the
 * employee needs to see (tool, who, status, when) goes into the public status file; the reasons
 * stay in the agent's private exceptions.json.
 */
import { randomUUID } from 'node:crypto';
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { type Static, Type } from '@sinclair/typebox';

import type { CatalogIndex } from '../../policies/catalog/index.js';
import type { ToolInstance } from '../../policies/inventory.js';
import { DeviceExceptionRequestView, type ExceptionRequestBody } from '../../policies/protocol.js';
import { userNameOf } from '../host/users.js';
import type { AgentLogger } from '../log.js';
import {
  checkReply,
  ContactError,
  DeviceRejected,
  errorCode,
  errorMessage,
  ServerUnreachable,
} from '../net/contact.js';
import type { DeviceHttp } from '../net/device-http.js';
import { readJsonFile, writeJsonFile } from '../state/json-file.js';
import { PRIVATE_FILE_MODE } from '../state/paths.js';
import { readRequest, REQUEST_NAME } from './request-file.js';

export const TrackedRequest = Type.Object(
  {
    /** The id of the drop file (what `request-exception` waits for). */
    id: Type.String(),
    /**
     * The request's id on the server, once filed: the client UUID sent with it (the drop file's,
     * or a new one if another device's request already had that id), the one reference the
     * employee, IT and the audit log share.
     */
    serverId: Type.Union([Type.String(), Type.Null()]),
    toolId: Type.String(),
    user: Type.String(),
    reason: Type.String(),
    /** The server's state (`revoked`: approved, then removed by a later policy), or `refused` (never filed). */
    status: Type.Union([
      Type.Literal('pending'),
      Type.Literal('approved'),
      Type.Literal('denied'),
      Type.Literal('revoked'),
      Type.Literal('refused'),
    ]),
    requestedAt: Type.String(),
    decidedAt: Type.Union([Type.String(), Type.Null()]),
    /** The admin's reason for a decision, or why the agent or server refused the request. */
    note: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);
export type TrackedRequest = Static<typeof TrackedRequest>;

const Tracked = Type.Object(
  {
    requests: Type.Array(TrackedRequest),
    /** The users the server last accepted in a check-in from this device (it files requests only from those). */
    reportedUsers: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);
const MAX_TRACKED = 100;

export interface ForwardContext {
  http: DeviceHttp;
  requestsDir: string;
  trackedFile: string;
  index: CatalogIndex;
  instances: readonly Pick<ToolInstance, 'toolId' | 'owner' | 'installPath' | 'version'>[];
  log: AgentLogger;
  /**
   * The users the server heard in this device's last check-in (the server accepts a request only
   * from one of them); null: keep what the tracked file says. A request from anyone else waits
   * (its file stays) until a check-in has reported that user.
   */
  reportedUsers: readonly string[] | null;
}

/** The tracked requests and the users last reported, from the agent's private exceptions file. */
export async function loadTracked(file: string): Promise<{ requests: TrackedRequest[]; reportedUsers: string[] }> {
  const read = await readJsonFile(file, Tracked);
  return read.ok
    ? { requests: read.value.requests, reportedUsers: read.value.reportedUsers ?? [] }
    : { requests: [], reportedUsers: [] };
}

/**
 * The local accounts that asked for an exception: owners of the dropped request files (as the
 * kernel says, by uid) and users of the requests already tracked. The check-in reports them, so
 * the server accepts their requests even when their home is not one the scan reads.
 */
export async function requesters(requestsDir: string, tracked: readonly TrackedRequest[]): Promise<string[]> {
  const users = new Set(tracked.map((request) => request.user));
  let names: string[] = [];
  try {
    names = (await readdir(requestsDir))
      .filter((name) => REQUEST_NAME.test(name))
      .sort()
      .slice(0, 100);
  } catch {
    // no folder yet: nothing dropped
  }
  for (const name of names) {
    const info = await lstat(join(requestsDir, name)).catch(() => null);
    if (info?.isFile()) users.add(userNameOf(info.uid) ?? `uid ${info.uid}`);
  }
  return [...users].sort();
}

/**
 * Refused for good (the file is removed and the employee told why): an error the server will give
 * again, by its code. Rate limits, authentication and server trouble are tried again later.
 */
function isRefusal(reply: { status: number; body: unknown }): boolean {
  const code = errorCode(reply.body);
  if (code === null)
    return (
      reply.status >= 400 &&
      reply.status < 500 &&
      reply.status !== 401 &&
      reply.status !== 403 &&
      reply.status !== 408 &&
      reply.status !== 429
    );
  return (
    code === 'invalid_request' ||
    code === 'invalid_json' ||
    code === 'not_found' ||
    code === 'conflict' ||
    code === 'already_decided' ||
    code === 'body_too_large' ||
    code === 'unsupported_media_type'
  );
}

/** The states the server may still change: pending until decided, approved and revoked as the policy in force says. */
const FOLLOWED: ReadonlySet<TrackedRequest['status']> = new Set(['pending', 'approved', 'revoked']);

/** Files every dropped request; refreshes the status of those the server may still change. Offline: keeps them for later. */
export async function forwardRequests(ctx: ForwardContext): Promise<TrackedRequest[]> {
  const { requests: tracked, reportedUsers: storedUsers } = await loadTracked(ctx.trackedFile);
  const reportedUsers = ctx.reportedUsers ?? storedUsers;
  const reported = new Set(reportedUsers);
  const byId = new Map(tracked.map((request) => [request.id, request] as const));
  let names: string[] = [];
  try {
    names = (await readdir(ctx.requestsDir)).sort();
  } catch {
    // no folder yet: nothing dropped
  }
  let offline = false;
  for (const name of names.slice(0, 100)) {
    const path = join(ctx.requestsDir, name);
    const match = REQUEST_NAME.exec(name);
    let read: Awaited<ReturnType<typeof readRequest>>;
    try {
      read = match ? await readRequest(path) : 'unexpected file name';
    } catch (error) {
      read = (error as Error).message;
    }
    if (typeof read === 'string') {
      ctx.log.warn({ file: name, reason: read }, 'ignoring an invalid exception request file');
      await rm(path, { force: true }).catch(() => undefined);
      continue;
    }
    const { request, uid } = read;
    const user = userNameOf(uid) ?? `uid ${uid}`;
    const entry: TrackedRequest = byId.get(request.id) ?? {
      id: request.id,
      serverId: null,
      toolId: request.toolId,
      user,
      reason: request.reason,
      status: 'pending',
      requestedAt: request.createdAt,
      decidedAt: null,
      note: null,
    };
    byId.set(request.id, entry);
    const instance =
      ctx.instances.find((i) => i.toolId === request.toolId && i.owner === user) ??
      ctx.instances.find((i) => i.toolId === request.toolId);
    if (!ctx.index.tool(request.toolId) && !instance) {
      Object.assign(entry, {
        status: 'refused',
        note: `${request.toolId} is not a tool aigate knows or found on this machine`,
      });
      await rm(path, { force: true });
      continue;
    }
    if (offline) continue;
    if (!reported.has(user)) {
      // The server would refuse it (a user this device never reported): the next check-in reports them.
      entry.note = 'waits for the agent to report this user in its next check-in';
      continue;
    }
    try {
      const body: ExceptionRequestBody = { id: request.id, toolId: request.toolId, user, reason: request.reason };
      if (instance) Object.assign(body, { installPath: instance.installPath, version: instance.version });
      if (request.until) body.until = request.until;
      let reply = await ctx.http.request('POST', '/v1/exception-requests', { body });
      // The id is taken (by another device's request): file it under a new one, shown to the employee.
      if (reply.status === 409 && errorCode(reply.body) === 'conflict')
        reply = await ctx.http.request('POST', '/v1/exception-requests', { body: { ...body, id: randomUUID() } });
      if (reply.status === 200 || reply.status === 201) {
        const view = checkReply(DeviceExceptionRequestView, 'POST /v1/exception-requests', reply);
        Object.assign(entry, {
          serverId: view.id,
          status: view.status,
          decidedAt: view.decidedAt,
          note: view.decisionReason,
        });
        await rm(path, { force: true });
      } else if (isRefusal(reply)) {
        Object.assign(entry, { status: 'refused', note: `the server refused it: ${errorMessage(reply)}` });
        await rm(path, { force: true });
      }
    } catch (error) {
      if (error instanceof ServerUnreachable || error instanceof DeviceRejected) {
        offline = true;
        continue;
      }
      // A reply that is not the protocol's: the file stays for the next try; the others go on.
      if (!(error instanceof ContactError)) throw error;
      ctx.log.warn({ file: name, problem: error.message }, 'an exception request could not be filed now');
    }
  }

  if (!offline) {
    for (const entry of byId.values()) {
      // Approved and revoked change with the policy in force (a revision without the exception revokes it).
      if (!FOLLOWED.has(entry.status) || entry.serverId === null) continue;
      try {
        const reply = await ctx.http.request('GET', `/v1/exception-requests/${encodeURIComponent(entry.serverId)}`);
        if (reply.status !== 200) continue;
        const view = checkReply(DeviceExceptionRequestView, 'GET /v1/exception-requests/:id', reply);
        Object.assign(entry, { status: view.status, decidedAt: view.decidedAt, note: view.decisionReason });
      } catch (error) {
        if (error instanceof ServerUnreachable) break;
        if (!(error instanceof ContactError)) throw error;
        ctx.log.warn(
          { request: entry.serverId, problem: error.message },
          'could not read the state of an exception request',
        );
      }
    }
  }
  const requests = [...byId.values()].sort((a, b) => a.requestedAt.localeCompare(b.requestedAt)).slice(-MAX_TRACKED);
  await writeJsonFile(ctx.trackedFile, { requests, reportedUsers: [...reportedUsers] }, PRIVATE_FILE_MODE);
  return requests;
}
