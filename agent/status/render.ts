/**
 * `aigate-agent status` for people: each tool, its verdict, since and until when, and why, in
 * the reader's language (texts: policies/notice-text.ts). Pure.
 */
import type { NoticeLocale } from '../../policies/notice-locale.js';
import { NOTICE_TEXTS, type NoticeTexts } from '../../policies/notice-text.js';
import type { StatusFile, ToolStatus } from './status-file.js';

function ago(t: NoticeTexts, iso: string | null, nowMs: number): string {
  return t.ago(iso ? nowMs - Date.parse(iso) : null);
}

/** `2026-04-01 09:30` from an ISO instant (UTC), for request and problem lines. */
const minuteOf = (iso: string) => iso.slice(0, 16).replace('T', ' ');

function toolLines(t: NoticeTexts, locale: NoticeLocale, tool: ToolStatus, timeZone: string, nowMs: number): string[] {
  const when = (iso: string) => t.when(Date.parse(iso), timeZone);
  const name = `${tool.name}${tool.version ? ` ${tool.version}` : ''}`;
  const where = `${tool.channel}${tool.owner ? `, ${tool.owner}` : ''}`;
  const label = t.statusLabel(tool.action, !tool.enforce && tool.action !== 'allow');
  const lines = [`${label.padEnd(locale === 'en' ? 8 : 4)} ${name} (${where})`];
  const indent = (text: string) => lines.push(`         ${text}`);
  if (tool.action === 'block') {
    if (tool.effectiveAt) indent(t.blockedSinceShort(when(tool.effectiveAt)));
    if (tool.until) indent(t.untilShort(when(tool.until)));
  } else if (tool.action === 'warn' && tool.phase === 'warn-window' && tool.effectiveAt) {
    const left = Date.parse(tool.effectiveAt) - nowMs;
    indent(t.upcoming(tool.upcomingAction === 'block', when(tool.effectiveAt), left > 0 ? t.span(left) : null));
  } else if (tool.action === 'allow' && tool.until) {
    indent(t.allowedUntil(when(tool.until)));
  }
  // The reason in the reader's language when the agent wrote one (older status files did not).
  if (tool.action !== 'allow' || tool.decidedBy.startsWith('exception'))
    indent(tool.messages?.[locale] ?? tool.message);
  if (tool.action !== 'allow') {
    if (tool.alternatives.length) indent(t.useInstead(t.list(tool.alternatives)));
    if (tool.contact) indent(t.questionsShort(tool.contact));
    if (tool.catalogued) indent(t.askShort(t.exceptionCommand(tool.toolId)));
    if (!tool.catalogued) indent(t.notCatalogued);
  }
  if (tool.action === 'block' && tool.enforced === 'block' && tool.appliedAt)
    indent(t.appliedHere(ago(t, tool.appliedAt, nowMs)));
  return lines;
}

/**
 * The policy line. With no usable policy (none received yet, or a damaged cache while the server
 * is out of reach) what the ledger says is applied still stands, and the line says so.
 */
function policyLine(t: NoticeTexts, status: StatusFile): string {
  if (status.policy) return t.policyLine(status.policy.name, status.policy.revision, status.policy.mode === 'monitor');
  const blocked = status.tools.filter((tool) => tool.enforced === 'block').length;
  const warned = status.tools.filter((tool) => tool.enforced === 'warn').length;
  if (blocked + warned === 0) return t.noPolicy(status.policyProblem !== null);
  return t.lastAppliedStands(blocked, warned);
}

/** The status as text in `locale` (default English), with spans computed at `nowMs`. */
export function renderStatus(status: StatusFile, nowMs: number, locale: NoticeLocale = 'en'): string {
  const t = NOTICE_TEXTS[locale];
  const out: string[] = [];
  const zone = status.policy?.timeZone ?? 'UTC';
  out.push(t.agentOn(status.hostname, status.deviceId, status.group));
  out.push(policyLine(t, status));
  out.push(t.serverLine(status.serverUrl, ago(t, status.lastContactAt, nowMs), status.lastContactError));
  out.push(
    t.agentLine(
      status.daemon.running ? status.daemon.pid : null,
      ago(t, status.lastCycleAt, nowMs),
      status.nextChangeAt ? t.when(Date.parse(status.nextChangeAt), zone) : null,
    ),
  );
  if (status.clockBehind) out.push(t.clockBehind);
  if (status.policyProblem) out.push(t.note(status.policyProblem));
  if (status.health?.state === 'degraded') {
    out.push(t.healthDegraded);
    for (const reason of status.health.reasons.slice(0, 5)) out.push(`  ${reason.code}: ${reason.message}`);
  }
  out.push('');
  if (status.tools.length === 0) out.push(t.noTools);
  const order = { block: 0, warn: 1, allow: 2 } as const;
  for (const tool of [...status.tools].sort(
    (a, b) => order[a.action] - order[b.action] || a.name.localeCompare(b.name),
  )) {
    out.push(...toolLines(t, locale, tool, zone, nowMs), '');
  }
  if (status.requests.length > 0) {
    out.push(t.requestsHeading);
    for (const request of status.requests.slice(-10))
      out.push(
        t.requestLine(minuteOf(request.requestedAt), request.toolId, request.user, request.status, request.note),
      );
    out.push('');
  }
  if (status.spool.pending > 0) out.push(t.eventsWaiting(status.spool.pending));
  for (const problem of status.problems.slice(-3)) out.push(t.problem(minuteOf(problem.at), problem.message));
  return `${out.join('\n').replace(/\n+$/, '')}\n`;
}
