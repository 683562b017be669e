/**
 * Which language an employee reads notices in. aigate ships notice texts in English (`en`) and
 * Simplified Chinese (`zh-CN`); a user's locale (POSIX `LC_ALL` > `LC_MESSAGES` > `LANG`, the
 * order of POSIX.1-2017 XBD 8.2 for message catalogs) picks one, else the policy's default
 * (`spec.notice.locale`), else English. Policy messages may be given per language; a language
 * tag there is BCP 47 (RFC 5646), e.g. `en`, `zh-CN`, `zh-Hans`. Pure.
 */

/** The languages aigate has notice texts for. */
export const NOTICE_LOCALES = ['en', 'zh-CN'] as const;
export type NoticeLocale = (typeof NOTICE_LOCALES)[number];

/** A text given once (in the policy's default language) or per language tag. */
export type LocalizedText = string | Readonly<Record<string, string>>;

/** The environment variables that name a user's language, strongest first (POSIX). */
const LOCALE_VARIABLES = ['LC_ALL', 'LC_MESSAGES', 'LANG'] as const;

// language[-script][-region][-variant...]: the BCP 47 subtags a notice language can use
// (RFC 5646 section 2.1; extensions and private use are not needed here).
const TAG = /^([A-Za-z]{2,3})(?:-([A-Za-z]{4}))?(?:-([A-Za-z]{2}|\d{3}))?(?:-(?:[A-Za-z0-9]{5,8}|\d[A-Za-z0-9]{3}))*$/;

/**
 * Why `tag` is not a usable language tag, or null when it is. Written for the admin: a POSIX
 * locale name (`zh_CN.UTF-8`) gets the tag to write instead.
 */
export function languageTagProblem(tag: string): string | null {
  if (TAG.test(tag)) {
    try {
      Intl.getCanonicalLocales(tag);
      return null;
    } catch {
      // Well-formed by the pattern but refused by ICU: fall through to the message.
    }
  }
  const posix = /^([A-Za-z]{2,3})(?:_([A-Za-z]{2}))?(?:\.[\w-]+)?(?:@\w+)?$/.exec(tag);
  const hint = posix ? ` (write ${posix[1]!.toLowerCase()}${posix[2] ? `-${posix[2].toUpperCase()}` : ''})` : '';
  return `"${tag}" is not a language tag${hint}; use a BCP 47 tag such as en or zh-CN`;
}

/**
 * The notice language for a locale name or language tag, or null when aigate has no texts for
 * it (or it names none: `C`, `POSIX`, empty). Accepts POSIX names (`zh_CN.UTF-8`, `en_US@euro`)
 * and BCP 47 tags (`zh-Hans-CN`). Chinese written in simplified characters (China, Singapore,
 * `zh-Hans`, bare `zh`) is `zh-CN`; traditional (`zh_TW`, `zh_HK`, `zh-Hant`) has no texts yet.
 */
export function noticeLocaleOf(name: string | null | undefined): NoticeLocale | null {
  if (!name) return null;
  // Strip the codeset and modifier (`.UTF-8`, `@euro`); POSIX `_` separates like BCP 47's `-`.
  const parts = name
    .trim()
    .replace(/[.@].*$/, '')
    .split(/[-_]/)
    .filter(Boolean)
    .map((part) => part.toLowerCase());
  const [language, ...rest] = parts;
  if (language === 'en') return 'en';
  if (language !== 'zh') return null;
  if (rest.includes('hant') || rest.some((part) => ['tw', 'hk', 'mo'].includes(part))) return null;
  if (rest.length === 0 || rest.includes('hans') || rest.some((part) => ['cn', 'sg'].includes(part))) return 'zh-CN';
  return null;
}

/**
 * The locale name an environment gives for messages: the first of LC_ALL, LC_MESSAGES and LANG
 * that is set and not empty (POSIX treats an empty one as unset), or null.
 */
export function localeFromEnv(env: Readonly<Record<string, string | undefined>>): string | null {
  for (const name of LOCALE_VARIABLES) {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') return value.trim();
  }
  return null;
}

/**
 * The language to show: the user's if aigate has texts for it, else the policy's default if it
 * has, else English.
 */
export function chooseNoticeLocale(userLocale: string | null | undefined, policyLocale?: string | null): NoticeLocale {
  return noticeLocaleOf(userLocale) ?? noticeLocaleOf(policyLocale) ?? 'en';
}

/**
 * A policy text in `locale`: a plain string as written (it is in the policy's language); from a
 * per-language map the entry for `locale`, else for the policy's default language, else English,
 * else the first given. Keys match by language (`zh-Hans` serves `zh-CN`) when no key is exact.
 */
export function pickText(text: LocalizedText, locale: string, policyLocale: string): string {
  if (typeof text === 'string') return text;
  const keys = Object.keys(text);
  for (const wanted of [locale, policyLocale, 'en']) {
    if (text[wanted] !== undefined) return text[wanted];
    const language = noticeLocaleOf(wanted);
    const near = language === null ? undefined : keys.find((key) => noticeLocaleOf(key) === language);
    if (near !== undefined) return text[near]!;
  }
  return text[keys[0]!] ?? '';
}
