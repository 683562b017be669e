/**
 * What an employee reads when a tool is warned about or blocked: the tool, the policy, the date
 * (in the policy's time zone) with a countdown while warning, the reason, the approved
 * alternatives, who to ask, and the exact command to ask for an exception. Built here in every
 * language aigate ships (texts: policies/notice-text.ts) and rendered as text (status, the
 * sentinel, desktop notifications) or embedded in launcher stubs, which pick the language from
 * the user's locale and compute the countdown themselves when they run. Pure.
 */
import { chooseNoticeLocale, NOTICE_LOCALES, type NoticeLocale } from '../../policies/notice-locale.js';
import { NOTICE_TEXTS } from '../../policies/notice-text.js';
import type { Verdict } from '../../policies/verdict.js';

export type NoticeKind = 'warn' | 'block';

/** A line of text, or a countdown line whose span is computed when it is shown. */
export type NoticeLine = { text: string } | { countdownTo: number; before: string; after: string; elapsed: string };

export interface Notice {
  kind: NoticeKind;
  /** The language of every line. */
  locale: NoticeLocale;
  toolId: string;
  toolName: string;
  /** One line, for a desktop notification's title (shown after "aigate:", see NoticeTexts.headline). */
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
  /** `message` must be in `locale` (see notice-text.ts reasonText). */
  verdict: Pick<
    Verdict,
    'message' | 'contact' | 'alternatives' | 'effectiveAt' | 'upcomingAction' | 'phase' | 'decidedBy'
  >;
  /** Default `en`. */
  locale?: NoticeLocale;
}

/** The same notice in every language aigate ships, and the policy's default language. */
export interface NoticeSet {
  /** `spec.notice.locale` (a BCP 47 tag), for users whose language has no texts. */
  policyLocale: string;
  byLocale: Readonly<Record<NoticeLocale, Notice>>;
}

export function buildNotice(input: NoticeInput): Notice {
  const { kind, toolId, toolName, verdict } = input;
  const locale = input.locale ?? 'en';
  const t = NOTICE_TEXTS[locale];
  const named = input.version ? `${toolName} ${input.version}` : toolName;
  const effective = verdict.effectiveAt ? Date.parse(verdict.effectiveAt) : null;
  const when = effective !== null ? t.when(effective, input.timeZone) : null;
  const lines: NoticeLine[] = [];
  const text = (line: string) => lines.push({ text: line });
  const counting = kind === 'warn' && verdict.phase === 'warn-window' && effective !== null;
  const becomesBlocked = counting && verdict.upcomingAction === 'block';

  const title =
    kind === 'block'
      ? t.blockTitle(toolName)
      : becomesBlocked
        ? t.willBlockTitle(toolName, when!)
        : t.discouragedTitle(toolName);
  const summary = t.summary(
    kind === 'block' ? 'block' : becomesBlocked ? 'will-block' : 'discouraged',
    verdict.message,
    verdict.alternatives,
  );

  text(becomesBlocked ? t.blockedSoon(toolName) : `${t.headline(title)}${locale === 'en' ? '.' : '。'}`);
  text('');
  text(`  ${verdict.message}`);
  text('');
  if (kind === 'block') {
    text(t.blockedSince(when, input.policyName));
  } else if (counting) {
    text(t.fromWhen(when!, named, becomesBlocked));
    lines.push({ countdownTo: effective, ...t.countdown });
  } else {
    text(t.discourages(input.policyName, named));
  }
  if (verdict.alternatives.length > 0) text(t.alternatives(t.list(verdict.alternatives)));
  if (verdict.contact) text(t.questions(verdict.contact));
  text(t.askForException(toolName, kind === 'block'));
  text(`    ${t.exceptionCommand(toolId)}`);
  text(kind === 'block' ? t.nothingDeleted(toolName) : t.startsForNow(toolName));
  text('');
  return { kind, locale, toolId, toolName, title, summary, lines };
}

/**
 * The notice in every language: `reason(locale)` gives the verdict's reason in that language
 * (the policy's per-language message, or aigate's text).
 */
export function buildNotices(
  input: Omit<NoticeInput, 'locale'>,
  reason: (locale: NoticeLocale) => string,
  policyLocale: string,
): NoticeSet {
  const byLocale = Object.fromEntries(
    NOTICE_LOCALES.map((locale) => [
      locale,
      buildNotice({ ...input, locale, verdict: { ...input.verdict, message: reason(locale) } }),
    ]),
  ) as Record<NoticeLocale, Notice>;
  return { policyLocale, byLocale };
}

/** The notice for a user whose locale is `userLocale` (a POSIX name or tag; null when unknown). */
export function noticeForLocale(set: NoticeSet, userLocale: string | null): Notice {
  return set.byLocale[chooseNoticeLocale(userLocale, set.policyLocale)];
}

/** The notice as plain text, with countdowns computed at `nowMs`. */
export function renderNotice(notice: Notice, nowMs: number): string {
  const span = NOTICE_TEXTS[notice.locale].span;
  return notice.lines
    .map((line) => {
      if ('text' in line) return line.text;
      const left = line.countdownTo - nowMs;
      return left > 0 ? `${line.before}${span(left)}${line.after}` : line.elapsed;
    })
    .join('\n');
}
