/**
 * What the status file (status-file.ts) says after a cycle: the agent's facts mapped to the
 * `StatusFile` shape that `aigate-agent status` renders (render.ts). Pure: the status step
 * (agent/cycle/status.ts) gathers the facts, this decides what each field shows.
 */
import type { CatalogIndex } from '../../policies/catalog/index.js';
import { instanceKey, type ToolInstance } from '../../policies/inventory.js';
import { reasonsByLocale } from '../../policies/notice-text.js';
import type { AgentHealth } from '../../policies/protocol.js';
import type { Verdict } from '../../policies/verdict.js';
import type { AppliedInstance } from '../enforce/ledger.js';
import type { AcceptedPolicy } from '../policy/accept.js';
import type { TrackedRequest } from '../requests/forward.js';
import type { AgentConfig } from '../state/config.js';
import { AGENT_VERSION } from '../version.js';
import type { StatusFile, ToolStatus } from './status-file.js';

/** The facts of one moment of the agent (instants as epoch ms unless named otherwise). */
export interface CycleFacts {
  config: Pick<AgentConfig, 'hostname' | 'deviceId' | 'group' | 'serverUrl'>;
  daemon: StatusFile['daemon'];
  /** The policy in force and when it was accepted (RFC 3339). */
  policy: AcceptedPolicy | null;
  acceptedAt: string | null;
  /** Why enforcement or the policy is not as it should be (a damaged ledger first), or null. */
  policyProblem: string | null;
  lastCycleAt: string | null;
  lastContactAt: string | null;
  lastContactError: string | null;
  /** Trusted now. */
  nowMs: number;
  clockBehind: StatusFile['clockBehind'];
  nextChangeAt: number | null;
  /** This evaluation's verdicts (none with no policy in force). */
  verdicts: { instance: ToolInstance; verdict: Verdict }[];
  /** The last scan's instances. */
  scanned: ToolInstance[];
  /** What the enforcement ledger says is applied. */
  applied: AppliedInstance[];
  catalog: CatalogIndex;
  requests: TrackedRequest[];
  spool: StatusFile['spool'];
  /** The ledger's problems, oldest first. */
  ledgerProblems: { at: string; message: string }[];
  health: AgentHealth;
}

interface Source {
  instance: ToolInstance;
  verdict: Verdict | null;
  /** Shown as the ledger last applied it (no usable policy now). */
  lastApplied: boolean;
}

/** What the status shows for each tool: this cycle's verdicts, or, with no usable policy, what the ledger says is applied. */
function toolSources(facts: CycleFacts): Source[] {
  if (facts.verdicts.length > 0) return facts.verdicts.map((item) => ({ ...item, lastApplied: false }));
  const out = new Map<string, Source>();
  for (const instance of facts.scanned) out.set(instanceKey(instance), { instance, verdict: null, lastApplied: false });
  // No policy in force (a damaged cache, the server out of reach): what was applied stays applied.
  for (const record of facts.applied)
    out.set(record.key, { instance: record.instance, verdict: record.verdict, lastApplied: true });
  return [...out.values()];
}

function toolStatus(
  { instance, verdict, lastApplied }: Source,
  record: AppliedInstance | undefined,
  catalog: CatalogIndex,
  policy: AcceptedPolicy | null,
): ToolStatus {
  const tool = catalog.tool(instance.toolId);
  const name = tool?.name ?? instance.name ?? instance.toolId;
  const decidedBy = verdict ? `${verdict.decidedBy.kind} ${verdict.decidedBy.name}` : 'no policy yet';
  return {
    toolId: instance.toolId,
    name: tool?.name ?? instance.name ?? instance.toolId,
    version: instance.version,
    channel: instance.channel,
    owner: instance.owner,
    installPath: instance.installPath,
    launchers: record ? record.launchers.map((entry) => entry.path) : instance.launchers,
    action: lastApplied && record ? record.level : (verdict?.action ?? 'allow'),
    enforce: lastApplied ? record !== undefined : (verdict?.enforce ?? false),
    phase: verdict?.phase ?? 'in-effect',
    enforced: record?.level ?? 'none',
    effectiveAt: verdict?.effectiveAt ?? null,
    upcomingAction: verdict?.upcomingAction ?? null,
    appliedAt: record?.appliedAt ?? null,
    until: verdict?.until ?? null,
    nextChangeAt: verdict?.nextChangeAt ?? null,
    decidedBy: lastApplied ? `${decidedBy} (as last applied; no usable policy now)` : decidedBy,
    message: verdict?.message ?? 'no policy has been received yet',
    // The reason in each language aigate ships, for `status` in the employee's language.
    ...(verdict && policy && !lastApplied ? { messages: reasonsByLocale(policy.compiled, verdict, name) } : {}),
    contact: verdict?.contact ?? null,
    alternatives: verdict?.alternatives ?? [],
    catalogued: tool !== undefined,
  };
}

/** The status file for `facts`; a request's note is shown only once it is decided or refused. */
export function statusFromCycle(facts: CycleFacts): StatusFile {
  const applied = new Map(facts.applied.map((record) => [record.key, record] as const));
  const { policy, config } = facts;
  const trustedNow = new Date(facts.nowMs).toISOString();
  return {
    version: 1,
    writtenAt: trustedNow,
    agentVersion: AGENT_VERSION,
    hostname: config.hostname,
    deviceId: config.deviceId,
    group: config.group,
    serverUrl: config.serverUrl,
    daemon: facts.daemon,
    policy: policy
      ? {
          name: policy.compiled.name,
          revision: policy.payload.revision,
          mode: policy.compiled.enforce ? 'enforce' : 'monitor',
          timeZone: policy.compiled.timeZone,
          noticeLocale: policy.compiled.noticeLocale,
          acceptedAt: facts.acceptedAt,
        }
      : null,
    policyProblem: facts.policyProblem,
    lastCycleAt: facts.lastCycleAt,
    lastContactAt: facts.lastContactAt,
    lastContactError: facts.lastContactError,
    trustedNow,
    clockBehind: facts.clockBehind,
    nextChangeAt: facts.nextChangeAt === null ? null : new Date(facts.nextChangeAt).toISOString(),
    tools: toolSources(facts).map((source) =>
      toolStatus(source, applied.get(instanceKey(source.instance)), facts.catalog, policy),
    ),
    requests: facts.requests.map(({ id, serverId, toolId, user, status, requestedAt, decidedAt, note }) => ({
      id,
      serverId,
      toolId,
      user,
      status,
      requestedAt,
      decidedAt,
      note: status === 'refused' || status === 'denied' || status === 'approved' ? note : null,
    })),
    spool: facts.spool,
    problems: facts.ledgerProblems.slice(-10).map(({ at, message }) => ({ at, message })),
    health: facts.health,
  };
}
