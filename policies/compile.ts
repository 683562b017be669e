/**
 * Compiling a validated policy once into the form the evaluator reads fast: selectors resolved
 * to tool ids, ranges parsed, dates turned into instants, scopes into sets, and for every
 * catalogued tool the exceptions and rules that can ever select it, in priority order.
 */
import type semver from 'semver';

import { type CatalogIndex, catalogIndex } from './catalog/index.js';
import type { Catalog } from './catalog/schema.js';
import type { Action, Exception, PolicyDocument, Rule } from './schema.js';
import { resolveSelectors } from './selectors.js';
import { parseDateOrInstant, subtractDuration, toIso } from './time.js';
import { parseRange, type RangeIntent } from './versions.js';

export interface CompiledEntry {
  readonly kind: 'exception' | 'rule';
  /** Position in spec.exceptions or spec.rules. */
  readonly index: number;
  /** The entry's name, or `rules[N]` / `exceptions[N]`. */
  readonly name: string;
  /** What it yields once in effect; exceptions always allow. */
  readonly action: Action;
  readonly range: semver.Range | null;
  /** How an unreadable version is matched against `range` (see versions.ts). */
  readonly intent: RangeIntent;
  readonly groups: ReadonlySet<string> | null;
  readonly devices: ReadonlySet<string> | null;
  readonly users: ReadonlySet<string> | null;
  readonly os: ReadonlySet<string> | null;
  /** First instant it applies (the warn window's start for a dated restricting rule). */
  readonly startsAt: number;
  /** For a dated rule: the instant its action takes effect; before it, inside the window, it warns. */
  readonly effectiveAt: number | null;
  /** First instant it no longer applies. */
  readonly endsAt: number;
  readonly effectiveAtIso: string | null;
  readonly endsAtIso: string | null;
  readonly alternatives: readonly string[] | null;
  /** An exception's reason. */
  readonly reason: string | null;
}

export interface CompiledPolicy {
  readonly document: PolicyDocument;
  readonly name: string;
  readonly enforce: boolean;
  readonly timeZone: string;
  readonly defaultAction: Action;
  readonly unknownTools: 'report' | 'warn' | 'block';
  readonly contact: string | null;
  /** The language of plain-string messages and of notices for users aigate has no texts for. */
  readonly noticeLocale: string;
  /** Policy-wide approved alternatives, as display names. */
  readonly alternatives: readonly string[];
  readonly catalog: Catalog;
  readonly index: CatalogIndex;
  /** Per catalog tool id: the exceptions, then the rules, that select it, in priority order. */
  readonly candidates: ReadonlyMap<string, readonly CompiledEntry[]>;
}

/**
 * Compiles a policy that passed `loadPolicy`/`validatePolicyValue` against the same catalog.
 * Throws TypeError on content validation would have refused (a bug in the caller, not input).
 */
export function compilePolicy(document: PolicyDocument, catalog: Catalog): CompiledPolicy {
  const spec = document.spec;
  const timeZone = spec.timezone ?? 'UTC';
  const noticeLocale = spec.notice?.locale ?? 'en';
  const index = catalogIndex(catalog);
  const displayNames = (names: readonly string[] | undefined) =>
    names === undefined ? null : Object.freeze(names.map((name) => index.tool(name)?.name ?? name));

  const exceptions = (spec.exceptions ?? []).map((exception, i) => compileException(exception, i, timeZone));
  const rules = (spec.rules ?? []).map((rule, i) => compileRule(rule, i, timeZone, displayNames(rule.alternatives)));

  const candidates = new Map<string, CompiledEntry[]>();
  const selectEach = (entries: readonly CompiledEntry[], sources: readonly { tools: readonly string[] }[]) => {
    entries.forEach((entry, i) => {
      for (const id of resolveSelectors(sources[i]!.tools, catalog)) {
        let list = candidates.get(id);
        if (!list) candidates.set(id, (list = []));
        list.push(entry);
      }
    });
  };
  // Exceptions first, then rules, each in written order: the list order is the priority order.
  selectEach(exceptions, spec.exceptions ?? []);
  selectEach(rules, spec.rules ?? []);

  return {
    document,
    name: document.metadata.name,
    enforce: (spec.mode ?? 'enforce') === 'enforce',
    timeZone,
    defaultAction: spec.default ?? 'allow',
    unknownTools: spec.unknownTools ?? 'report',
    contact: spec.notice?.contact ?? null,
    noticeLocale,
    alternatives: displayNames(spec.notice?.alternatives) ?? Object.freeze([]),
    catalog,
    index,
    candidates,
  };
}

function compileRule(
  rule: Rule,
  index: number,
  timeZone: string,
  alternatives: readonly string[] | null,
): CompiledEntry {
  const effectiveAt =
    rule.effective === undefined ? null : instant(rule.effective, timeZone, `rules[${index}].effective`);
  const endsAt = rule.until === undefined ? Infinity : instant(rule.until, timeZone, `rules[${index}].until`);
  let startsAt = effectiveAt ?? -Infinity;
  // A warn window only makes sense before a restriction; on an allow rule it is ignored (lint says so).
  if (effectiveAt !== null && rule.warnFor !== undefined && rule.action !== 'allow') {
    const windowStart = subtractDuration(effectiveAt, rule.warnFor, timeZone);
    if (windowStart === null) throw new TypeError(`rules[${index}].warnFor: "${rule.warnFor}" is not a duration`);
    startsAt = windowStart;
  }
  return {
    kind: 'rule',
    index,
    name: rule.name ?? `rules[${index}]`,
    action: rule.action,
    range: range(rule.versions, `rules[${index}].versions`),
    intent: rule.action === 'allow' ? 'grant' : 'restrict',
    ...scopes(rule),
    startsAt,
    effectiveAt,
    endsAt,
    effectiveAtIso: effectiveAt === null ? null : toIso(effectiveAt),
    endsAtIso: Number.isFinite(endsAt) ? toIso(endsAt) : null,
    alternatives,
    reason: null,
  };
}

function compileException(exception: Exception, index: number, timeZone: string): CompiledEntry {
  const startsAt =
    exception.from === undefined ? -Infinity : instant(exception.from, timeZone, `exceptions[${index}].from`);
  const endsAt =
    exception.until === undefined ? Infinity : instant(exception.until, timeZone, `exceptions[${index}].until`);
  return {
    kind: 'exception',
    index,
    name: exception.name ?? `exceptions[${index}]`,
    action: 'allow',
    range: range(exception.versions, `exceptions[${index}].versions`),
    intent: 'grant',
    ...scopes(exception),
    startsAt,
    effectiveAt: null,
    endsAt,
    effectiveAtIso: null,
    endsAtIso: Number.isFinite(endsAt) ? toIso(endsAt) : null,
    alternatives: null,
    reason: exception.reason,
  };
}

function scopes(entry: Rule | Exception) {
  const set = (values: readonly string[] | undefined) => (values === undefined ? null : new Set(values));
  return { groups: set(entry.groups), devices: set(entry.devices), users: set(entry.users), os: set(entry.os) };
}

function instant(text: string, timeZone: string, at: string): number {
  const parsed = parseDateOrInstant(text, timeZone);
  if (!parsed.ok) throw new TypeError(`${at}: ${parsed.error}`);
  return parsed.epochMs;
}

function range(text: string | undefined, at: string): semver.Range | null {
  if (text === undefined) return null;
  const parsed = parseRange(text);
  if (!parsed.ok) throw new TypeError(`${at}: ${parsed.error}`);
  return parsed.range;
}
