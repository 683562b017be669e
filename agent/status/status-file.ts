/**
 * The public status file: what `aigate-agent status` shows, written by the agent after every
 * cycle, readable by everyone on the machine (mode 0644). It holds no secrets: no keys, no
 * tokens, no exception reasons.
 */
import { type Static, Type } from '@sinclair/typebox';

import { readJsonFile, writeJsonFile } from '../state/json-file.js';
import { PUBLIC_FILE_MODE } from '../state/paths.js';

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

export const ToolStatus = Type.Object(
  {
    toolId: Type.String(),
    name: Type.String(),
    version: Type.Union([Type.String(), Type.Null()]),
    channel: Type.String(),
    owner: Type.Union([Type.String(), Type.Null()]),
    installPath: Type.String(),
    launchers: Type.Array(Type.String()),
    action: Type.Union([Type.Literal('allow'), Type.Literal('warn'), Type.Literal('block')]),
    /** False in monitor mode: the action is only reported. */
    enforce: Type.Boolean(),
    phase: Type.String(),
    /** What is applied on disk now. */
    enforced: Type.Union([Type.Literal('none'), Type.Literal('warn'), Type.Literal('block')]),
    /** Since when the rule's action applies (the ban date), when dated. */
    effectiveAt: Nullable(Type.String()),
    upcomingAction: Type.Union([Type.String(), Type.Null()]),
    /** Since when the agent has applied it on this machine. */
    appliedAt: Nullable(Type.String()),
    until: Nullable(Type.String()),
    nextChangeAt: Nullable(Type.String()),
    decidedBy: Type.String(),
    /** The reason, in English (or the policy's language when it gives no English message). */
    message: Type.String(),
    /** The reason per notice language (`en`, `zh-CN`), for `status` in the reader's language. Absent in older files. */
    messages: Type.Optional(Type.Record(Type.String(), Type.String())),
    contact: Nullable(Type.String()),
    alternatives: Type.Array(Type.String()),
    catalogued: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type ToolStatus = Static<typeof ToolStatus>;

const RequestStatus = Type.Object(
  {
    /** The reference the employee was given when the request was dropped. */
    id: Type.String(),
    /** The server's id for it, once filed (what IT sees in `aigate exceptions list`). */
    serverId: Nullable(Type.String()),
    toolId: Type.String(),
    user: Type.String(),
    status: Type.String(),
    requestedAt: Type.String(),
    decidedAt: Nullable(Type.String()),
    /** The admin's decision note, or why it was refused; never the employee's reason. */
    note: Nullable(Type.String()),
  },
  { additionalProperties: false },
);

export const StatusFile = Type.Object(
  {
    version: Type.Literal(1),
    writtenAt: Type.String(),
    agentVersion: Type.String(),
    hostname: Type.String(),
    deviceId: Type.String(),
    group: Type.String(),
    serverUrl: Type.String(),
    daemon: Type.Object({
      pid: Type.Integer(),
      running: Type.Boolean(),
      cycleMinutes: Type.Union([Type.Integer(), Type.Null()]),
    }),
    policy: Type.Union([
      Type.Object({
        name: Type.String(),
        revision: Type.Integer(),
        mode: Type.String(),
        timeZone: Type.String(),
        /** The policy's default notice language (spec.notice.locale). Absent in older files. */
        noticeLocale: Type.Optional(Type.String()),
        acceptedAt: Nullable(Type.String()),
      }),
      Type.Null(),
    ]),
    /** A bundle refused, a cache that did not verify, a damaged ledger... */
    policyProblem: Nullable(Type.String()),
    lastCycleAt: Nullable(Type.String()),
    lastContactAt: Nullable(Type.String()),
    lastContactError: Nullable(Type.String()),
    trustedNow: Type.String(),
    clockBehind: Type.Boolean(),
    nextChangeAt: Nullable(Type.String()),
    tools: Type.Array(ToolStatus),
    requests: Type.Array(RequestStatus),
    spool: Type.Object({ pending: Type.Integer(), dropped: Type.Integer() }),
    problems: Type.Array(Type.Object({ at: Type.String(), message: Type.String() })),
    /**
     * The agent's own health, as sent in its check-ins (policies/protocol.ts AgentHealth; loosely
     * typed here so `status` reads it without the server's format checks). Absent in older files.
     */
    health: Type.Optional(
      Type.Object({
        state: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
        reasons: Type.Array(
          Type.Object({ code: Type.String(), message: Type.String(), since: Type.Optional(Type.String()) }),
        ),
      }),
    ),
  },
  { additionalProperties: false },
);
export type StatusFile = Static<typeof StatusFile>;

export function writeStatusFile(path: string, status: StatusFile): Promise<void> {
  return writeJsonFile(path, status, PUBLIC_FILE_MODE);
}

export async function readStatusFile(
  path: string,
): Promise<{ ok: true; status: StatusFile } | { ok: false; message: string; missing: boolean }> {
  const read = await readJsonFile(path, StatusFile);
  if (read.ok) return { ok: true, status: read.value };
  return {
    ok: false,
    missing: read.missing,
    message: read.missing
      ? `no status yet (${path}): the agent has not completed a cycle on this machine`
      : read.message,
  };
}
