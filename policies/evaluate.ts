/**
 * The evaluator: (compiled policy, inventory, device facts, trusted time) -> one verdict per tool
 * instance. Pure and synchronous; the agent runs it to act and the server to report and preview.
 *
 * Semantics (design "The policy (v1)"):
 * - tools not in the catalog are decided by `spec.unknownTools` alone;
 * - otherwise exceptions are checked first, then rules in order, and the first entry that
 *   applies decides; if none does, `spec.default` decides;
 * - an entry applies when its selectors, version range and every scope it gives match, and the
 *   instant lies in its active span: a dated restricting rule warns from `effective - warnFor`
 *   until `effective`, then yields its action; `until` ends any entry;
 * - `nextChangeAt` is the first later instant at which the deciding entry or its phase changes:
 *   the decider moves from warning to its action or ends, or an entry of higher priority that
 *   matches this instance starts to apply.
 */
import type { CompiledEntry, CompiledPolicy } from './compile.js';
import type { DeviceFacts, ToolInstance } from './inventory.js';
import { reasonText } from './notice-text.js';
import type { Action } from './schema.js';
import { toIso } from './time.js';
import type { DecidedBy, Verdict } from './verdict.js';
import { rangeIncludes, type ReadVersion, readVersion } from './versions.js';

export function evaluate(
  policy: CompiledPolicy,
  inventory: readonly ToolInstance[],
  device: DeviceFacts,
  nowMs: number,
): Verdict[] {
  const verdicts = new Array<Verdict>(inventory.length);
  for (let i = 0; i < inventory.length; i++) verdicts[i] = evaluateInstance(policy, inventory[i]!, device, nowMs);
  return verdicts;
}

export function evaluateInstance(
  policy: CompiledPolicy,
  instance: ToolInstance,
  device: DeviceFacts,
  nowMs: number,
): Verdict {
  const tool = policy.index.tool(instance.toolId);
  if (!tool) return unknownToolVerdict(policy, instance);

  const toolName = tool.name;
  const entries = policy.candidates.get(instance.toolId);
  let version: ReadVersion | null | undefined; // read on first need, in the order of the instance's channel
  let nextStart = Infinity;

  if (entries) {
    for (const entry of entries) {
      if (!scopeMatches(entry, instance, device)) continue;
      if (entry.range !== null) {
        if (version === undefined) version = readVersion(instance.version, instance.channel);
        const inRange = version === null ? entry.intent === 'restrict' : rangeIncludes(entry.range, version);
        if (!inRange) continue;
      }
      if (nowMs < entry.startsAt) {
        // Not yet: when it starts, it takes over from whatever decides now.
        if (entry.startsAt < nextStart) nextStart = entry.startsAt;
        continue;
      }
      if (nowMs >= entry.endsAt) continue;
      return entryVerdict(policy, instance, toolName, entry, nowMs, nextStart);
    }
  }
  return defaultVerdict(policy, instance, toolName, nextStart);
}

function scopeMatches(entry: CompiledEntry, instance: ToolInstance, device: DeviceFacts): boolean {
  if (entry.os !== null && !entry.os.has(device.os)) return false;
  if (entry.groups !== null && (device.group === undefined || !entry.groups.has(device.group))) return false;
  if (
    entry.devices !== null &&
    !(
      (device.deviceId !== undefined && entry.devices.has(device.deviceId)) ||
      (device.hostname !== undefined && entry.devices.has(device.hostname))
    )
  ) {
    return false;
  }
  if (entry.users !== null && (instance.owner === null || !entry.users.has(instance.owner))) return false;
  return true;
}

function entryVerdict(
  policy: CompiledPolicy,
  instance: ToolInstance,
  toolName: string,
  entry: CompiledEntry,
  nowMs: number,
  nextStart: number,
): Verdict {
  const warning = entry.effectiveAt !== null && nowMs < entry.effectiveAt;
  const next = Math.min(warning ? entry.effectiveAt! : entry.endsAt, nextStart);
  return verdict(policy, instance, warning ? 'warn' : entry.action, {
    phase: warning ? 'warn-window' : 'in-effect',
    decidedBy: { kind: entry.kind, index: entry.index, name: entry.name },
    effectiveAt: entry.effectiveAtIso,
    upcomingAction: warning ? entry.action : null,
    until: entry.endsAtIso,
    message: reasonText(
      policy,
      {
        decidedBy: { kind: entry.kind, index: entry.index, name: entry.name },
        action: warning ? 'warn' : entry.action,
        phase: warning ? 'warn-window' : 'in-effect',
        upcomingAction: warning ? entry.action : null,
        effectiveAt: entry.effectiveAt,
      },
      toolName,
      'en',
    ),
    alternatives: entry.alternatives ?? policy.alternatives,
    nextChangeAt: next,
  });
}

/** The parts of a verdict that differ by how it was decided; the rest comes from the instance and policy. */
interface Decision {
  phase?: Verdict['phase'];
  decidedBy: DecidedBy;
  effectiveAt?: string | null;
  upcomingAction?: Action | null;
  until?: string | null;
  message: string;
  alternatives: readonly string[];
  nextChangeAt: number;
}

function verdict(policy: CompiledPolicy, instance: ToolInstance, action: Action, decision: Decision): Verdict {
  return {
    toolId: instance.toolId,
    installPath: instance.installPath,
    version: instance.version,
    action,
    enforce: policy.enforce,
    phase: decision.phase ?? 'in-effect',
    decidedBy: decision.decidedBy,
    effectiveAt: decision.effectiveAt ?? null,
    upcomingAction: decision.upcomingAction ?? null,
    until: decision.until ?? null,
    message: decision.message,
    contact: policy.contact,
    // Nothing to offer instead of a tool that is allowed.
    alternatives: action === 'allow' ? [] : [...decision.alternatives],
    nextChangeAt: Number.isFinite(decision.nextChangeAt) ? toIso(decision.nextChangeAt) : null,
  };
}

const DEFAULT_DECIDER: DecidedBy = Object.freeze({ kind: 'default', index: null, name: 'default' });
const UNKNOWN_DECIDER: DecidedBy = Object.freeze({ kind: 'unknown-tools', index: null, name: 'unknownTools' });

function defaultVerdict(policy: CompiledPolicy, instance: ToolInstance, toolName: string, nextStart: number): Verdict {
  const action = policy.defaultAction;
  return verdict(policy, instance, action, {
    decidedBy: { ...DEFAULT_DECIDER },
    message: reasonText(
      policy,
      { decidedBy: DEFAULT_DECIDER, action, phase: 'in-effect', upcomingAction: null, effectiveAt: null },
      toolName,
      'en',
    ),
    alternatives: policy.alternatives,
    nextChangeAt: nextStart,
  });
}

function unknownToolVerdict(policy: CompiledPolicy, instance: ToolInstance): Verdict {
  const action: Action = policy.unknownTools === 'report' ? 'allow' : policy.unknownTools;
  const message = reasonText(
    policy,
    { decidedBy: UNKNOWN_DECIDER, action, phase: 'in-effect', upcomingAction: null, effectiveAt: null },
    instance.name ?? instance.toolId,
    'en',
  );
  return verdict(policy, instance, action, {
    decidedBy: { ...UNKNOWN_DECIDER },
    message,
    alternatives: policy.alternatives,
    nextChangeAt: Infinity,
  });
}
