/**
 * Every text an employee reads from aigate, in each language aigate ships (notice-locale.ts):
 * the reasons in verdicts, the warn and block notices (terminal, launcher stubs, the sentinel,
 * desktop notifications), `aigate-agent status` and the replies of `request-exception`. One
 * catalog, so a sentence is translated once and every surface says the same. Texts must say what
 * happened, kindly, and what to use instead. Pure.
 */
import type { CompiledPolicy } from './compile.js';
import { NOTICE_LOCALES, type NoticeLocale, pickText } from './notice-locale.js';
import type { Action } from './schema.js';
import { DAY_MS, formatInZone, formatSpan, HOUR_MS, MINUTE_MS } from './time.js';
import type { DecidedBy, Verdict } from './verdict.js';

/** The texts of one language. Functions take names and values already formatted for display. */
export interface NoticeTexts {
  /** A list of names: "Qwen Code, Tongyi Lingma". */
  list(items: readonly string[]): string;
  /** A rough span for countdowns: "13 days", "5 hours 20 minutes". */
  span(ms: number): string;
  /** An instant on the wall clock of a zone: "2026-07-10 00:00 (Asia/Shanghai)". */
  when(epochMs: number, timeZone: string): string;
  /** How long ago: "just now", "3 hours ago", "never" (null). */
  ago(ms: number | null): string;

  // Reasons in verdicts (policies/evaluate.ts), when the policy gives none.
  exceptionAllows(tool: string, exception: string, reason: string): string;
  /** In a warn window: "will be blocked (or discouraged) from <when>". `when` is formatInZone's. */
  willBe(tool: string, action: Action, when: string, policy: string): string;
  ruleApproves(tool: string, policy: string): string;
  discouraged(tool: string, policy: string): string;
  mayNotRun(tool: string, policy: string): string;
  defaultAllows(tool: string, policy: string): string;
  notApproved(tool: string, policy: string): string;
  unknownTool(name: string, action: Action, policy: string): string;

  // Warn and block notices.
  /** The prefix of a desktop notification's title and a notice's first line. */
  headline(text: string): string;
  blockTitle(tool: string): string;
  willBlockTitle(tool: string, when: string): string;
  discouragedTitle(tool: string): string;
  /** The notification body: the reason, then what to use instead. */
  summary(kind: 'block' | 'will-block' | 'discouraged', message: string, alternatives: readonly string[]): string;
  blockedSoon(tool: string): string;
  blockedSince(when: string | null, policy: string): string;
  fromWhen(when: string, named: string, blocks: boolean): string;
  countdown: { before: string; after: string; elapsed: string };
  discourages(policy: string, named: string): string;
  alternatives(list: string): string;
  questions(contact: string): string;
  askForException(tool: string, blocked: boolean): string;
  exceptionCommand(toolId: string): string;
  nothingDeleted(tool: string): string;
  startsForNow(tool: string): string;

  // aigate-agent status.
  statusLabel(action: Action, monitorOnly: boolean): string;
  agentOn(hostname: string, deviceId: string, group: string): string;
  policyLine(name: string, revision: number, monitor: boolean): string;
  noPolicy(problem: boolean): string;
  lastAppliedStands(blocked: number, warned: number): string;
  serverLine(url: string, ago: string, error: string | null): string;
  agentLine(pid: number | null, ago: string, nextChange: string | null): string;
  clockBehind: string;
  note(text: string): string;
  healthDegraded: string;
  noTools: string;
  blockedSinceShort(when: string): string;
  untilShort(when: string): string;
  upcoming(blocks: boolean, when: string, left: string | null): string;
  allowedUntil(when: string): string;
  useInstead(list: string): string;
  questionsShort(contact: string): string;
  askShort(command: string): string;
  notCatalogued: string;
  appliedHere(ago: string): string;
  requestsHeading: string;
  requestLine(at: string, toolId: string, user: string, status: string, note: string | null): string;
  eventsWaiting(n: number): string;
  problem(at: string, message: string): string;

  // aigate-agent request-exception.
  requestSent(tool: string, id: string): string;
  requestSaved(tool: string, id: string): string;
  requestWhenOnline: string;
  requestNext: readonly string[];
  requestIfApproved(tool: string): string;
  requestApproved(note: string | null): string;
  requestNeedsReason: string;
  requestReasonTooLong(max: number): string;
  requestRefused(note: string | null): string;
  requestUnknownTool(input: string, guess: string | null): string;
  requestNotSetUp(dir: string): string;
  requestCannotWrite(dir: string): string;
}

/** The parts of a span, for languages other than English (whose span is formatSpan). */
function spanParts(ms: number) {
  const abs = Math.abs(ms);
  return {
    days: Math.floor(abs / DAY_MS),
    hours: Math.floor((abs % DAY_MS) / HOUR_MS),
    minutes: Math.floor((abs % HOUR_MS) / MINUTE_MS),
    seconds: Math.floor((abs % MINUTE_MS) / 1000),
  };
}

/** `2026-07-10 00:00` and the zone, from formatInZone's `2026-07-10 00:00:00 Asia/Shanghai`. */
function wallClock(epochMs: number, timeZone: string): { minute: string; zone: string } | null {
  const match = /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}):\d{2} (.+)$/.exec(formatInZone(epochMs, timeZone));
  return match ? { minute: match[1]!, zone: match[2]! } : null;
}

const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;

const en: NoticeTexts = {
  list: (items) => items.join(', '),
  span: formatSpan,
  when: (epochMs, timeZone) => {
    const clock = wallClock(epochMs, timeZone);
    return clock ? `${clock.minute} (${clock.zone})` : formatInZone(epochMs, timeZone);
  },
  ago: (ms) => (ms === null ? 'never' : ms < 60_000 ? 'just now' : `${en.span(ms)} ago`),

  exceptionAllows: (tool, exception, reason) => `${tool} is allowed by the exception "${exception}": ${reason}`,
  willBe: (tool, action, when, policy) =>
    `${tool} will be ${action === 'block' ? 'blocked' : 'discouraged'} from ${when} under the policy "${policy}".`,
  ruleApproves: (tool, policy) => `${tool} is approved by the policy "${policy}".`,
  discouraged: (tool, policy) => `${tool} is discouraged by the policy "${policy}"; please move to an approved tool.`,
  mayNotRun: (tool, policy) => `${tool} may not run under the policy "${policy}".`,
  defaultAllows: (tool, policy) => `${tool} is allowed: no rule of the policy "${policy}" restricts it.`,
  notApproved: (tool, policy) => `${tool} is not on the list of approved AI tools of the policy "${policy}".`,
  unknownTool: (name, action, policy) =>
    action === 'allow'
      ? `${name} looks like an AI tool that is not in the catalog; it is reported to IT and allowed.`
      : action === 'warn'
        ? `${name} looks like an AI tool that IT has not reviewed yet; please ask before using it.`
        : `${name} looks like an AI tool that IT has not reviewed; unreviewed AI tools may not run under the policy "${policy}".`,

  headline: (text) => `aigate: ${text}`,
  blockTitle: (tool) => `${tool} is blocked on this computer`,
  willBlockTitle: (tool, when) => `${tool} will be blocked on this computer from ${when}`,
  discouragedTitle: (tool) => `${tool} is discouraged on this computer`,
  summary: (kind, message, alternatives) => {
    if (alternatives.length === 0) return message;
    const lead = kind === 'block' ? 'Use instead' : kind === 'will-block' ? 'Please move to' : 'Please use instead';
    return `${message} ${lead}: ${en.list(alternatives)}.`;
  },
  blockedSoon: (tool) => `aigate: ${tool} will be blocked on this computer soon.`,
  blockedSince: (when, policy) =>
    when !== null
      ? `  Blocked since ${when} by the company policy "${policy}".`
      : `  Blocked by the company policy "${policy}".`,
  fromWhen: (when, named, blocks) =>
    `  From ${when}, ${named} will ${blocks ? 'no longer start on this computer' : 'be restricted by the company policy'}.`,
  countdown: {
    before: '  That is in ',
    after: '.',
    elapsed: '  That time has come: the agent will apply it at its next check.',
  },
  discourages: (policy, named) => `  The company policy "${policy}" discourages ${named}.`,
  alternatives: (list) => `  Approved alternatives: ${list}`,
  questions: (contact) => `  Questions: ${contact}`,
  askForException: (tool, blocked) =>
    blocked
      ? `  If you need ${tool} for your work, you can ask for an exception:`
      : `  Need ${tool} for your work? Ask for an exception:`,
  exceptionCommand: (toolId) => `aigate-agent request-exception ${toolId} --reason "what you need it for"`,
  nothingDeleted: (tool) => `  Nothing was deleted: if ${tool} is allowed again, it comes back exactly as it was.`,
  startsForNow: (tool) => `  ${tool} starts normally for now.`,

  statusLabel: (action, monitorOnly) =>
    `${{ allow: 'ALLOWED', warn: 'WARNING', block: 'BLOCKED' }[action]}${monitorOnly ? ' (monitor only)' : ''}`,
  agentOn: (hostname, deviceId, group) => `aigate agent on ${hostname} (device ${deviceId}, group ${group})`,
  policyLine: (name, revision, monitor) =>
    `Policy: "${name}" revision ${revision}${monitor ? ', monitor mode (nothing is blocked, only reported)' : ''}`,
  noPolicy: (problem) =>
    problem
      ? 'Policy: none usable on this machine now (nothing is enforced)'
      : 'Policy: none received yet (nothing is enforced)',
  lastAppliedStands: (blocked, warned) => {
    const what = [blocked ? `${plural(blocked, 'tool')} blocked` : '', warned ? `${plural(warned, 'tool')} warned` : '']
      .filter(Boolean)
      .join(', ');
    return `Policy: none usable on this machine now; what was last applied stays in force (${what})`;
  },
  serverLine: (url, ago, error) => `Server: ${url}, last contact ${ago}${error ? ` (now unreachable: ${error})` : ''}`,
  agentLine: (pid, ago, nextChange) =>
    `Agent: ${pid !== null ? `running (pid ${pid})` : 'not running'}, last check ${ago}${nextChange ? `, next change ${nextChange}` : ''}`,
  clockBehind: "Note: this computer's clock is behind the server's; aigate uses the server's time.",
  note: (text) => `Note: ${text}`,
  healthDegraded: 'Health: degraded (reported to IT)',
  noTools: 'No AI tools found on this machine.',
  blockedSinceShort: (when) => `blocked since ${when}`,
  untilShort: (when) => `until ${when}`,
  upcoming: (blocks, when, left) =>
    `${blocks ? 'blocked' : 'restricted'} from ${when}${left !== null ? ` (in ${left})` : ''}`,
  allowedUntil: (when) => `allowed until ${when}`,
  useInstead: (list) => `use instead: ${list}`,
  questionsShort: (contact) => `questions: ${contact}`,
  askShort: (command) => `ask for an exception: ${command}`,
  notCatalogued: 'not in the catalog: reported to IT, never changed by aigate',
  appliedHere: (ago) => `applied on this machine ${ago}`,
  requestsHeading: 'Exception requests:',
  requestLine: (at, toolId, user, status, note) =>
    `  ${at}  ${toolId} for ${user}: ${status}${note ? ` (${note})` : ''}`,
  eventsWaiting: (n) => `${plural(n, 'event')} waiting to be sent to the server.`,
  problem: (at, message) => `Problem (${at}): ${message}`,

  requestSent: (tool, id) => `Your request for an exception for ${tool} was sent to IT (request ${id}).`,
  requestSaved: (tool, id) => `Your request for an exception for ${tool} is saved (reference ${id}).`,
  requestWhenOnline:
    'The aigate agent sends it to IT as soon as this computer can reach the aigate server (it checks every few minutes).',
  requestNext: [
    'What happens next:',
    '  - IT reviews your request and your reason. You do not need to do anything else.',
  ],
  requestIfApproved: (tool) =>
    `  - If it is approved, this computer receives the updated policy within minutes and ${tool} works again, exactly as before.\n` +
    '  - If it is declined, IT will tell you why, and the answer also shows in: aigate-agent status',
  requestApproved: (note) => `Update: it has already been approved${note ? ` (${note})` : ''}.`,
  requestNeedsReason: 'say why you need it with --reason "..." (IT reads it to decide)',
  requestReasonTooLong: (max) => `--reason is limited to ${max} characters`,
  requestRefused: (note) => `the request was not accepted: ${note ?? 'no reason given'}`,
  requestUnknownTool: (input, guess) =>
    `"${input}" is not a tool aigate knows.${guess ? ` Did you mean ${guess}?` : ''} Run aigate-agent status to see the tools on this machine and their ids.`,
  requestNotSetUp: (dir) => `the aigate agent is not set up on this machine (${dir} does not exist)`,
  requestCannotWrite: (dir) => `cannot write to ${dir}; ask IT to check the aigate agent installation`,
};

const REQUEST_STATUS_ZH: Record<string, string> = {
  pending: '待审批',
  approved: '已批准',
  denied: '未获批准',
  revoked: '已撤销',
  refused: '未被受理',
};

const zhCN: NoticeTexts = {
  list: (items) => items.join('、'),
  span: (ms) => {
    const { days, hours, minutes, seconds } = spanParts(ms);
    if (days >= 2) return `${days} 天`;
    if (days === 1) return hours > 0 ? `1 天 ${hours} 小时` : '1 天';
    if (hours > 0) return minutes > 0 ? `${hours} 小时 ${minutes} 分钟` : `${hours} 小时`;
    if (minutes > 0) return `${minutes} 分钟`;
    return `${seconds} 秒`;
  },
  // Ends with a full-width parenthesis, so the texts below put no space after it.
  when: (epochMs, timeZone) => {
    const clock = wallClock(epochMs, timeZone);
    return clock ? `${clock.minute}（${clock.zone}）` : formatInZone(epochMs, timeZone);
  },
  ago: (ms) => (ms === null ? '从未' : ms < 60_000 ? '刚刚' : `${zhCN.span(ms)}前`),

  exceptionAllows: (tool, exception, reason) => `${tool} 已获例外“${exception}”许可：${reason}`,
  willBe: (tool, action, when, policy) =>
    action === 'block'
      ? `根据公司政策“${policy}”，自 ${when} 起将禁止使用 ${tool}。`
      : `根据公司政策“${policy}”，自 ${when} 起不再建议使用 ${tool}。`,
  ruleApproves: (tool, policy) => `${tool} 已获公司政策“${policy}”批准。`,
  discouraged: (tool, policy) => `公司政策“${policy}”不建议使用 ${tool}，请改用已批准的工具。`,
  mayNotRun: (tool, policy) => `根据公司政策“${policy}”，${tool} 不得在本机运行。`,
  defaultAllows: (tool, policy) => `${tool} 可以使用：公司政策“${policy}”中没有限制它的规则。`,
  notApproved: (tool, policy) => `${tool} 不在公司政策“${policy}”批准的 AI 工具名单中。`,
  unknownTool: (name, action, policy) =>
    action === 'allow'
      ? `${name} 看起来是目录中没有的 AI 工具；已报告给 IT，目前允许使用。`
      : action === 'warn'
        ? `${name} 看起来是 IT 尚未审核的 AI 工具；使用前请先咨询 IT。`
        : `${name} 看起来是 IT 尚未审核的 AI 工具；根据公司政策“${policy}”，未经审核的 AI 工具不得运行。`,

  headline: (text) => `aigate：${text}`,
  blockTitle: (tool) => `本机已禁止使用 ${tool}`,
  willBlockTitle: (tool, when) => `自 ${when}起，本机将禁止使用 ${tool}`,
  discouragedTitle: (tool) => `本机不建议使用 ${tool}`,
  summary: (kind, message, alternatives) => {
    if (alternatives.length === 0) return message;
    const lead = kind === 'will-block' ? '请尽快改用' : '请改用';
    return `${message} ${lead}：${zhCN.list(alternatives)}。`;
  },
  blockedSoon: (tool) => `aigate：本机即将禁止使用 ${tool}。`,
  blockedSince: (when, policy) =>
    when !== null ? `  根据公司政策“${policy}”，自 ${when}起禁止使用。` : `  根据公司政策“${policy}”禁止使用。`,
  fromWhen: (when, named, blocks) =>
    blocks ? `  自 ${when}起，${named} 将无法在本机启动。` : `  自 ${when}起，${named} 将受到公司政策的限制。`,
  countdown: { before: '  距离生效还有 ', after: '。', elapsed: '  生效时间已到：aigate 将在下次检查时执行。' },
  discourages: (policy, named) => `  公司政策“${policy}”不建议使用 ${named}。`,
  alternatives: (list) => `  可以改用这些已批准的工具：${list}`,
  questions: (contact) => `  如有疑问，请联系：${contact}`,
  askForException: (tool, blocked) =>
    blocked ? `  如果工作中确实需要 ${tool}，可以申请例外：` : `  工作中需要 ${tool}？可以申请例外：`,
  exceptionCommand: (toolId) => `aigate-agent request-exception ${toolId} --reason "说明你的用途"`,
  nothingDeleted: (tool) => `  没有删除任何文件：如果 ${tool} 重新获准使用，它会原样恢复。`,
  startsForNow: (tool) => `  目前 ${tool} 仍可正常启动。`,

  // Four characters: as wide on a terminal as the English labels' eight.
  statusLabel: (action, monitorOnly) =>
    `${{ allow: '允许使用', warn: '使用警告', block: '禁止使用' }[action]}${monitorOnly ? '（仅监控）' : ''}`,
  agentOn: (hostname, deviceId, group) => `aigate 代理程序，主机 ${hostname}（设备 ${deviceId}，分组 ${group}）`,
  policyLine: (name, revision, monitor) =>
    `策略：“${name}”第 ${revision} 版${monitor ? '，监控模式（不禁止任何工具，只做报告）' : ''}`,
  noPolicy: (problem) =>
    problem ? '策略：本机目前没有可用的策略（不执行任何限制）' : '策略：尚未收到策略（不执行任何限制）',
  lastAppliedStands: (blocked, warned) => {
    const what = [blocked ? `${blocked} 个工具被禁止` : '', warned ? `${warned} 个工具被警告` : '']
      .filter(Boolean)
      .join('，');
    return `策略：本机目前没有可用的策略；上次执行的限制仍然有效（${what}）`;
  },
  serverLine: (url, ago, error) => `服务器：${url}，最近联系：${ago}${error ? `（目前无法连接：${error}）` : ''}`,
  agentLine: (pid, ago, nextChange) =>
    `代理程序：${pid !== null ? `运行中（进程号 ${pid}）` : '未运行'}，最近检查：${ago}${nextChange ? `，下次变更：${nextChange}` : ''}`,
  clockBehind: '注意：本机时钟比服务器慢；aigate 以服务器时间为准。',
  note: (text) => `注意：${text}`,
  healthDegraded: '运行状况：异常（已报告给 IT）',
  noTools: '本机没有发现 AI 工具。',
  blockedSinceShort: (when) => `自 ${when}起禁止使用`,
  untilShort: (when) => `至 ${when}为止`,
  upcoming: (blocks, when, left) =>
    `自 ${when}起${blocks ? '禁止使用' : '受到限制'}${left !== null ? `（还有 ${left}）` : ''}`,
  allowedUntil: (when) => `允许使用至 ${when}`,
  useInstead: (list) => `请改用：${list}`,
  questionsShort: (contact) => `如有疑问，请联系：${contact}`,
  askShort: (command) => `申请例外：${command}`,
  notCatalogued: '不在目录中：已报告给 IT，aigate 不会改动它',
  appliedHere: (ago) => `已在本机生效：${ago}`,
  requestsHeading: '例外申请：',
  requestLine: (at, toolId, user, status, note) =>
    `  ${at}  ${toolId}（用户 ${user}）：${REQUEST_STATUS_ZH[status] ?? status}${note ? `（${note}）` : ''}`,
  eventsWaiting: (n) => `${n} 个事件等待发送到服务器。`,
  problem: (at, message) => `问题（${at}）：${message}`,

  requestSent: (tool, id) => `你的 ${tool} 例外申请已发送给 IT（申请编号 ${id}）。`,
  requestSaved: (tool, id) => `你的 ${tool} 例外申请已保存（申请编号 ${id}）。`,
  requestWhenOnline: '本机一旦能连接到 aigate 服务器，aigate 代理程序就会把申请发送给 IT（每隔几分钟检查一次）。',
  requestNext: ['接下来：', '  - IT 会审阅你的申请和理由，你无需再做任何操作。'],
  requestIfApproved: (tool) =>
    `  - 如果获得批准，本机会在几分钟内收到更新后的策略，${tool} 即可像以前一样正常使用。\n` +
    '  - 如果未获批准，IT 会告诉你原因，结果也会显示在：aigate-agent status',
  requestApproved: (note) => `更新：申请已获批准${note ? `（${note}）` : ''}。`,
  requestNeedsReason: '请用 --reason "..." 说明你为什么需要它（IT 会据此决定）',
  requestReasonTooLong: (max) => `--reason 最多 ${max} 个字符`,
  requestRefused: (note) => `申请未被受理：${note ?? '未说明原因'}`,
  requestUnknownTool: (input, guess) =>
    `aigate 不认识“${input}”这个工具。${guess ? `你是不是想输入 ${guess}？` : ''}运行 aigate-agent status 可以查看本机的工具及其 id。`,
  requestNotSetUp: (dir) => `本机没有安装 aigate 代理程序（${dir} 不存在）`,
  requestCannotWrite: (dir) => `无法写入 ${dir}；请联系 IT 检查 aigate 代理程序的安装`,
};

/** The catalog: one entry per language aigate ships. */
export const NOTICE_TEXTS: Readonly<Record<NoticeLocale, NoticeTexts>> = Object.freeze({ en, 'zh-CN': zhCN });

/** What a verdict's reason depends on. */
export interface ReasonFacts {
  decidedBy: DecidedBy;
  /** The verdict's action (for a warn window, `warn`). */
  action: Action;
  phase: 'warn-window' | 'in-effect';
  /** In a warn window: the action that comes at `effectiveAt`. */
  upcomingAction: Action | null;
  /** Epoch ms of a dated rule's effective instant, else null. */
  effectiveAt: number | null;
}

/** The facts of a verdict its reason depends on. */
export function reasonFactsOf(
  verdict: Pick<Verdict, 'decidedBy' | 'action' | 'phase' | 'upcomingAction' | 'effectiveAt'>,
): ReasonFacts {
  return {
    decidedBy: verdict.decidedBy,
    action: verdict.action,
    phase: verdict.phase,
    upcomingAction: verdict.upcomingAction,
    effectiveAt: verdict.effectiveAt === null ? null : Date.parse(verdict.effectiveAt),
  };
}

/** The reason for a verdict in every language aigate ships (for the status file). */
export function reasonsByLocale(
  policy: CompiledPolicy,
  verdict: Parameters<typeof reasonFactsOf>[0],
  toolName: string,
): Record<NoticeLocale, string> {
  const facts = reasonFactsOf(verdict);
  return Object.fromEntries(
    NOTICE_LOCALES.map((locale) => [locale, reasonText(policy, facts, toolName, locale)]),
  ) as Record<NoticeLocale, string>;
}

/**
 * The reason a verdict gives, in `locale`: the policy's own message (per language, see
 * pickText) or aigate's text for how it was decided. `toolName` is the catalog's display name
 * (for an unknown tool, the name it was found under). The evaluator calls this with `en` for the
 * verdicts the server keeps; the agent with each employee's language for their notices.
 */
export function reasonText(policy: CompiledPolicy, facts: ReasonFacts, toolName: string, locale: NoticeLocale): string {
  const t = NOTICE_TEXTS[locale];
  const spec = policy.document.spec;
  // (No closure here: the evaluator calls this for every verdict, and a closure per call is costly
  // where functions get names at run time, as under tsx.)
  const { decidedBy } = facts;
  if (decidedBy.kind === 'unknown-tools') return t.unknownTool(toolName, facts.action, policy.name);
  if (decidedBy.kind === 'exception') {
    const reason = decidedBy.index === null ? '' : (spec.exceptions?.[decidedBy.index]?.reason ?? '');
    return t.exceptionAllows(toolName, decidedBy.name, reason);
  }
  if (decidedBy.kind === 'rule' && decidedBy.index !== null) {
    const message = spec.rules?.[decidedBy.index]?.message;
    if (message !== undefined) return pickText(message, locale, policy.noticeLocale);
    if (facts.phase === 'warn-window' && facts.effectiveAt !== null)
      return t.willBe(
        toolName,
        facts.upcomingAction ?? 'block',
        formatInZone(facts.effectiveAt, policy.timeZone),
        policy.name,
      );
  }
  if (facts.action === 'allow')
    return decidedBy.kind === 'default'
      ? t.defaultAllows(toolName, policy.name)
      : t.ruleApproves(toolName, policy.name);
  if (spec.notice?.message !== undefined) return pickText(spec.notice.message, locale, policy.noticeLocale);
  if (decidedBy.kind === 'default') return t.notApproved(toolName, policy.name);
  return facts.action === 'warn' ? t.discouraged(toolName, policy.name) : t.mayNotRun(toolName, policy.name);
}
