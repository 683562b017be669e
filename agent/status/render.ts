/** `aigate-agent status` for people: each tool, its verdict, since and until when, and why. Pure. */
import { counted } from '../../policies/plural.js';
import { formatSpan } from '../../policies/time.js';
import { exceptionCommand, formatWhen } from '../notices/notice.js';
import type { StatusFile, ToolStatus } from './status-file.js';

const LABEL: Record<ToolStatus['action'], string> = { allow: 'ALLOWED', warn: 'WARNING', block: 'BLOCKED' };

function ago(iso: string | null, nowMs: number): string {
  if (!iso) return 'never';
  const ms = nowMs - Date.parse(iso);
  return ms < 60_000 ? 'just now' : `${formatSpan(ms)} ago`;
}

function when(iso: string, timeZone: string): string {
  return formatWhen(Date.parse(iso), timeZone);
}

function toolLines(tool: ToolStatus, timeZone: string, nowMs: number): string[] {
  const name = `${tool.name}${tool.version ? ` ${tool.version}` : ''}`;
  const where = `${tool.channel}${tool.owner ? `, ${tool.owner}` : ''}`;
  const label = tool.enforce || tool.action === 'allow' ? LABEL[tool.action] : `${LABEL[tool.action]} (monitor only)`;
  const lines = [`${label.padEnd(8)} ${name} (${where})`];
  const indent = (text: string) => lines.push(`         ${text}`);
  if (tool.action === 'block') {
    if (tool.effectiveAt) indent(`blocked since ${when(tool.effectiveAt, timeZone)}`);
    if (tool.until) indent(`until ${when(tool.until, timeZone)}`);
  } else if (tool.action === 'warn' && tool.phase === 'warn-window' && tool.effectiveAt) {
    const left = Date.parse(tool.effectiveAt) - nowMs;
    indent(
      `${tool.upcomingAction === 'block' ? 'blocked' : 'restricted'} from ${when(tool.effectiveAt, timeZone)}${left > 0 ? ` (in ${formatSpan(left)})` : ''}`,
    );
  } else if (tool.action === 'allow' && tool.until) {
    indent(`allowed until ${when(tool.until, timeZone)}`);
  }
  if (tool.action !== 'allow' || tool.decidedBy.startsWith('exception')) indent(tool.message);
  if (tool.action !== 'allow') {
    if (tool.alternatives.length) indent(`use instead: ${tool.alternatives.join(', ')}`);
    if (tool.contact) indent(`questions: ${tool.contact}`);
    if (tool.catalogued) indent(`ask for an exception: ${exceptionCommand(tool.toolId)}`);
    if (!tool.catalogued) indent('not in the catalog: reported to IT, never changed by aigate');
  }
  if (tool.action === 'block' && tool.enforced === 'block' && tool.appliedAt)
    indent(`applied on this machine ${ago(tool.appliedAt, nowMs)}`);
  return lines;
}

/**
 * The policy line. With no usable policy (none received yet, or a damaged cache while the server
 * is out of reach) what the ledger says is applied still stands, and the line says so.
 */
function policyLine(status: StatusFile): string {
  if (status.policy)
    return `Policy: "${status.policy.name}" revision ${status.policy.revision}${status.policy.mode === 'monitor' ? ', monitor mode (nothing is blocked, only reported)' : ''}`;
  const blocked = status.tools.filter((tool) => tool.enforced === 'block').length;
  const warned = status.tools.filter((tool) => tool.enforced === 'warn').length;
  if (blocked + warned === 0)
    return status.policyProblem
      ? 'Policy: none usable on this machine now (nothing is enforced)'
      : 'Policy: none received yet (nothing is enforced)';
  const what = [blocked ? `${counted(blocked, 'tool')} blocked` : '', warned ? `${counted(warned, 'tool')} warned` : '']
    .filter(Boolean)
    .join(', ');
  return `Policy: none usable on this machine now; what was last applied stays in force (${what})`;
}

export function renderStatus(status: StatusFile, nowMs: number): string {
  const out: string[] = [];
  const zone = status.policy?.timeZone ?? 'UTC';
  out.push(`aigate agent on ${status.hostname} (device ${status.deviceId}, group ${status.group})`);
  out.push(policyLine(status));
  out.push(
    `Server: ${status.serverUrl}, last contact ${ago(status.lastContactAt, nowMs)}${status.lastContactError ? ` (now unreachable: ${status.lastContactError})` : ''}`,
  );
  out.push(
    `Agent: ${status.daemon.running ? `running (pid ${status.daemon.pid})` : 'not running'}, last check ${ago(status.lastCycleAt, nowMs)}${status.nextChangeAt ? `, next change ${when(status.nextChangeAt, zone)}` : ''}`,
  );
  if (status.clockBehind)
    out.push("Note: this computer's clock is behind the server's; aigate uses the server's time.");
  if (status.policyProblem) out.push(`Note: ${status.policyProblem}`);
  if (status.health?.state === 'degraded') {
    out.push('Health: degraded (reported to IT)');
    for (const reason of status.health.reasons.slice(0, 5)) out.push(`  ${reason.code}: ${reason.message}`);
  }
  out.push('');
  if (status.tools.length === 0) out.push('No AI tools found on this machine.');
  const order = { block: 0, warn: 1, allow: 2 } as const;
  for (const tool of [...status.tools].sort(
    (a, b) => order[a.action] - order[b.action] || a.name.localeCompare(b.name),
  )) {
    out.push(...toolLines(tool, zone, nowMs), '');
  }
  if (status.requests.length > 0) {
    out.push('Exception requests:');
    for (const request of status.requests.slice(-10)) {
      out.push(
        `  ${request.requestedAt.slice(0, 16).replace('T', ' ')}  ${request.toolId} for ${request.user}: ${request.status}${request.note ? ` (${request.note})` : ''}`,
      );
    }
    out.push('');
  }
  if (status.spool.pending > 0) out.push(`${counted(status.spool.pending, 'event')} waiting to be sent to the server.`);
  for (const problem of status.problems.slice(-3))
    out.push(`Problem (${problem.at.slice(0, 16).replace('T', ' ')}): ${problem.message}`);
  return `${out.join('\n').replace(/\n+$/, '')}\n`;
}
