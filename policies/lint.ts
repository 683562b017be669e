/**
 * Warnings about policies that are valid but probably not what the admin meant: rules that can
 * never match because an earlier rule always matches first, and entries that have already
 * ended. Runs on a policy that passed validation.
 */
import semver from 'semver';

import type { Catalog } from './catalog/schema.js';
import type { Problem } from './load.js';
import { NOTICE_LOCALES, noticeLocaleOf } from './notice-locale.js';
import type { PolicyDocument, Rule } from './schema.js';
import { resolveSelectors } from './selectors.js';
import { parseDateOrInstant, subtractDuration } from './time.js';

const SCOPES = ['groups', 'devices', 'users', 'os'] as const;

function restricts(rule: Rule): boolean {
  return rule.action !== 'allow';
}

/** The span of time in which a rule matches (warn window included), as [start, end). */
function activeSpan(rule: Rule, timeZone: string): [number, number] {
  let start = -Infinity;
  let end = Infinity;
  if (rule.effective !== undefined) {
    const effective = parseDateOrInstant(rule.effective, timeZone);
    if (effective.ok) {
      start = effective.epochMs;
      const windowStart =
        rule.warnFor !== undefined && restricts(rule) ? subtractDuration(start, rule.warnFor, timeZone) : null;
      if (windowStart !== null) start = windowStart;
    }
  }
  if (rule.until !== undefined) {
    const until = parseDateOrInstant(rule.until, timeZone);
    if (until.ok) end = until.epochMs;
  }
  return [start, end];
}

/** Does `earlier` match every instance, device and moment that `later` matches? */
function covers(earlier: Rule, later: Rule, tools: [Set<string>, Set<string>], timeZone: string): boolean {
  const [earlierTools, laterTools] = tools;
  if (laterTools.size === 0) return false;
  for (const id of laterTools) if (!earlierTools.has(id)) return false;

  if (earlier.versions !== undefined) {
    if (later.versions === undefined) return false;
    // Unreadable versions match restricting ranges and never granting ones (see versions.ts).
    if (restricts(later) && !restricts(earlier)) return false;
    if (
      earlier.versions !== later.versions &&
      !semver.subset(later.versions, earlier.versions, { includePrerelease: true })
    )
      return false;
  }

  for (const scope of SCOPES) {
    const wide = earlier[scope] as readonly string[] | undefined;
    if (wide === undefined) continue;
    const narrow = later[scope] as readonly string[] | undefined;
    if (narrow === undefined || !narrow.every((value) => wide.includes(value))) return false;
  }

  const [earlierStart, earlierEnd] = activeSpan(earlier, timeZone);
  const [laterStart, laterEnd] = activeSpan(later, timeZone);
  return earlierStart <= laterStart && earlierEnd >= laterEnd;
}

function label(rule: { name?: string | undefined }, kind: 'rules' | 'exceptions', index: number): string {
  return rule.name ? `${kind}[${index}] "${rule.name}"` : `${kind}[${index}]`;
}

export function lintPolicy(policy: PolicyDocument, catalog: Catalog, nowMs?: number): Problem[] {
  const warnings: Problem[] = [];
  const timeZone = policy.spec.timezone ?? 'UTC';
  const rules = policy.spec.rules ?? [];
  const locale = policy.spec.notice?.locale;
  if (locale !== undefined && noticeLocaleOf(locale) === null)
    warnings.push({
      path: 'spec.notice.locale',
      message: `aigate has notice texts in ${NOTICE_LOCALES.join(' and ')} only: employees without one of those languages read "${locale}" messages inside English notices`,
    });
  const toolSets = rules.map((rule) => resolveSelectors(rule.tools, catalog));

  rules.forEach((rule, later) => {
    if (toolSets[later]!.size === 0) {
      warnings.push({
        path: `spec.rules[${later}].tools`,
        message: 'selects no catalogued tool, so this rule never matches',
      });
      return;
    }
    for (let earlier = 0; earlier < later; earlier++) {
      if (covers(rules[earlier]!, rule, [toolSets[earlier]!, toolSets[later]!], timeZone)) {
        warnings.push({
          path: `spec.rules[${later}]`,
          message: `can never match: ${label(rules[earlier]!, 'rules', earlier)} comes first and matches everything this rule would`,
        });
        break;
      }
    }
    if (rule.warnFor !== undefined && rule.action === 'allow') {
      warnings.push({ path: `spec.rules[${later}].warnFor`, message: 'has no effect on an allow rule' });
    }
  });

  if (nowMs !== undefined) {
    rules.forEach((rule, index) => {
      const [, end] = activeSpan(rule, timeZone);
      if (end <= nowMs)
        warnings.push({
          path: `spec.rules[${index}].until`,
          message: `${label(rule, 'rules', index)} ended on ${rule.until}; it no longer applies`,
        });
    });
    (policy.spec.exceptions ?? []).forEach((exception, index) => {
      if (exception.until === undefined) return;
      const until = parseDateOrInstant(exception.until, timeZone);
      if (until.ok && until.epochMs <= nowMs) {
        warnings.push({
          path: `spec.exceptions[${index}].until`,
          message: `${label(exception, 'exceptions', index)} expired on ${exception.until}; it no longer applies`,
        });
      }
    });
  }
  return warnings;
}
