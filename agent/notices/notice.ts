/**
 * What an employee reads when a tool is warned about or blocked: the tool, the policy, the date
 * (in the policy's time zone) with a countdown while warning, the reason, the approved
 * alternatives, who to ask, and the exact command to ask for an exception. Built once here and
 * rendered as text (status, desktop notifications) or embedded in launcher stubs, which compute
 * the countdown themselves when they run. Pure.
 */
import { formatInZone, formatSpan } from '../../policies/time.js';
import type { Verdict } from '../../policies/verdict.js';

export type NoticeKind = 'warn' | 'block';

/** A line of text, or a countdown line whose span is computed when it is shown. */
export type NoticeLine = { text: string } | { countdownTo: number; before: string; after: string; elapsed: string };

export interface Notice {
  kind: NoticeKind;
  toolId: string;
  toolName: string;
  /** One line, for a desktop notification's title. */
  title: string;
  /** One or two sentences for a desktop notification's body. */
  summary: string;
  lines: NoticeLine[];
}

export interface NoticeInput {
  kind: NoticeKind;
  toolId: string;
  toolName: string;
  version: string | null;
  policyName: string;
  timeZone: string;
  verdict: Pick<
    Verdict,
    'message' | 'contact' | 'alternatives' | 'effectiveAt' | 'upcomingAction' | 'phase' | 'decidedBy'
  >;
}

/** `2026-07-10 00:00 (Asia/Shanghai)`. */
export function formatWhen(epochMs: number, timeZone: string): string {
  const text = formatInZone(epochMs, timeZone);
  const match = /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}):\d{2} (.+)$/.exec(text);
  return match ? `${match[1]} (${match[2]})` : text;
}

export function exceptionCommand(toolId: string): string {
  return `aigate-agent request-exception ${toolId} --reason "what you need it for"`;
}

export function buildNotice(input: NoticeInput): Notice {
  const { kind, toolId, toolName, verdict } = input;
  const named = input.version ? `${toolName} ${input.version}` : toolName;
  const effective = verdict.effectiveAt ? Date.parse(verdict.effectiveAt) : null;
  const when = effective !== null ? formatWhen(effective, input.timeZone) : null;
  const lines: NoticeLine[] = [];
  const text = (line: string) => lines.push({ text: line });
  const counting = kind === 'warn' && verdict.phase === 'warn-window' && effective !== null;
  const becomesBlocked = counting && verdict.upcomingAction === 'block';

  let title: string;
  let summary: string;
  if (kind === 'block') {
    title = `${toolName} is blocked on this computer`;
    summary = `${verdict.message}${verdict.alternatives.length ? ` Use instead: ${verdict.alternatives.join(', ')}.` : ''}`;
  } else if (becomesBlocked) {
    title = `${toolName} will be blocked on this computer from ${when}`;
    summary = `${verdict.message}${verdict.alternatives.length ? ` Please move to: ${verdict.alternatives.join(', ')}.` : ''}`;
  } else {
    title = `${toolName} is discouraged on this computer`;
    summary = `${verdict.message}${verdict.alternatives.length ? ` Please use instead: ${verdict.alternatives.join(', ')}.` : ''}`;
  }

  text(becomesBlocked ? `aigate: ${toolName} will be blocked on this computer soon.` : `aigate: ${title}.`);
  text('');
  text(`  ${verdict.message}`);
  text('');
  if (kind === 'block') {
    text(
      when !== null
        ? `  Blocked since ${when} by the company policy "${input.policyName}".`
        : `  Blocked by the company policy "${input.policyName}".`,
    );
  } else if (counting) {
    text(
      `  From ${when}, ${named} will ${becomesBlocked ? 'no longer start on this computer' : 'be restricted by the company policy'}.`,
    );
    lines.push({
      countdownTo: effective,
      before: '  That is in ',
      after: '.',
      elapsed: '  That time has come: the agent will apply it at its next check.',
    });
  } else {
    text(`  The company policy "${input.policyName}" discourages ${named}.`);
  }
  if (verdict.alternatives.length > 0) text(`  Approved alternatives: ${verdict.alternatives.join(', ')}`);
  if (verdict.contact) text(`  Questions: ${verdict.contact}`);
  text(
    kind === 'block'
      ? `  If you need ${toolName} for your work, you can ask for an exception:`
      : `  Need ${toolName} for your work? Ask for an exception:`,
  );
  text(`    ${exceptionCommand(toolId)}`);
  if (kind === 'block') {
    text(`  Nothing was deleted: if ${toolName} is allowed again, it comes back exactly as it was.`);
  } else {
    text(`  ${toolName} starts normally for now.`);
  }
  text('');
  return { kind, toolId, toolName, title, summary, lines };
}

/** The notice as plain text, with countdowns computed at `nowMs`. */
export function renderNotice(notice: Notice, nowMs: number): string {
  return notice.lines
    .map((line) => {
      if ('text' in line) return line.text;
      const left = line.countdownTo - nowMs;
      return left > 0 ? `${line.before}${formatSpan(left)}${line.after}` : line.elapsed;
    })
    .join('\n');
}
