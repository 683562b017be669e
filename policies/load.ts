/**
 * Loading a policy written by an admin: YAML or JSON text in, a valid PolicyDocument out, or
 * a list of problems that each name the field path, what was expected and (from text) the line
 * and column. Structure comes from the TypeBox schema; meaning (dates, durations, timezones,
 * semver ranges, tool selectors) is checked here with messages written for people.
 */
import { Value, type ValueError } from '@sinclair/typebox/value';
import { type Document, isMap, isPair, isScalar, LineCounter, parseDocument } from 'yaml';

import { builtinCatalog, catalogIndex } from './catalog/index.js';
import { type Catalog, CATEGORIES } from './catalog/schema.js';
import { lintPolicy } from './lint.js';
import { languageTagProblem } from './notice-locale.js';
import { formatPath, pointerSegments, type Problem } from './problem.js';
import { type Exception, type LocalizedMessage, PolicyDocument, type Rule } from './schema.js';
import { closest } from './suggest.js';
import { isValidTimeZone, knownTimeZones, parseDateOrInstant, parseDuration } from './time.js';
import { parseRange } from './versions.js';

export { formatProblem, type Problem } from './problem.js';

export type LoadResult =
  { ok: true; policy: PolicyDocument; warnings: Problem[] } | { ok: false; errors: Problem[]; warnings: Problem[] };

export interface LoadOptions {
  /** Default: guessed from the filename, else YAML (which also reads JSON). */
  format?: 'yaml' | 'json';
  filename?: string;
  /** The catalog tool ids are checked against; default the built-in one. */
  catalog?: Catalog;
  /** When given, lint also warns about exceptions and rules that have already ended. */
  nowMs?: number;
}

/** Policies are small; anything larger is a mistake or an attack on the parser. */
export const MAX_POLICY_BYTES = 1024 * 1024;

type Segment = string | number;

/** Load policy text (YAML or JSON). Never throws on bad input. */
export function loadPolicy(text: string, options: LoadOptions = {}): LoadResult {
  if (Buffer.byteLength(text, 'utf8') > MAX_POLICY_BYTES) {
    return fail([{ path: '', message: `the policy is larger than ${MAX_POLICY_BYTES / 1024} KiB` }]);
  }
  const format = options.format ?? (options.filename?.toLowerCase().endsWith('.json') ? 'json' : 'yaml');
  const lineCounter = new LineCounter();

  if (format === 'json') {
    try {
      JSON.parse(text);
    } catch (error) {
      return fail([jsonSyntaxProblem(text, error)]);
    }
  }

  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true });
  if (doc.errors.length > 0) {
    return fail(
      doc.errors.map((error) => {
        // Without prettyErrors the error carries offsets only; the line counter turns them into positions.
        const position = error.linePos?.[0] ?? lineCounter.linePos(error.pos[0]);
        const problem: Problem = {
          path: '',
          message: `${format === 'json' ? 'JSON' : 'YAML'} syntax: ${firstLine(error.message)}`,
        };
        if (position) Object.assign(problem, { line: position.line, column: position.col });
        return problem;
      }),
    );
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 50 });
  } catch (error) {
    return fail([
      {
        path: '',
        message: `cannot read the document: ${error instanceof Error ? firstLine(error.message) : String(error)}`,
      },
    ]);
  }
  return locate(validatePolicyValue(value, options), doc, lineCounter);
}

/** Validate an already-parsed value (an HTTP JSON body, say): the same checks, no positions. */
export function validatePolicyValue(value: unknown, options: LoadOptions = {}): LoadResult {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return fail([{ path: '', message: 'a policy must be an object with apiVersion, kind, metadata and spec' }]);
  }
  const structural = structuralProblems(value);
  const policy = value as PolicyDocument;
  const catalog = options.catalog ?? builtinCatalog;
  // Every error in one run: the meaning of each part whose structure is sound is checked too,
  // so a wrong field and a misspelt tool id are reported together, not one fix at a time.
  const errors = [...structural, ...semanticProblems(policy, catalog, structurallyBroken(structural))];
  if (errors.length > 0) return fail(errors);
  return { ok: true, policy, warnings: lintPolicy(policy, catalog, options.nowMs) };
}

function fail(errors: Problem[], warnings: Problem[] = []): LoadResult {
  return { ok: false, errors, warnings };
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.trim();
}

function jsonSyntaxProblem(text: string, error: unknown): Problem {
  const message = error instanceof Error ? error.message : String(error);
  const problem: Problem = { path: '', message: `JSON syntax: ${message}` };
  const position = /position (\d+)/.exec(message);
  if (position) {
    const offset = Number(position[1]);
    const before = text.slice(0, offset).split('\n');
    return Object.assign(problem, { line: before.length, column: before[before.length - 1]!.length + 1 });
  }
  // Newer V8 messages ("Unexpected token '}', ...") carry no position: find it.
  const offset = jsonErrorOffset(text);
  if (offset !== null) {
    const before = text.slice(0, offset).split('\n');
    Object.assign(problem, { line: before.length, column: before[before.length - 1]!.length + 1 });
  }
  return problem;
}

/**
 * Where JSON.parse gives up: a prefix of the text can still begin a valid document up to the
 * offending character and never after it, so a binary search over prefix lengths finds it.
 */
function jsonErrorOffset(text: string): number | null {
  const viable = (length: number) => {
    try {
      JSON.parse(text.slice(0, length));
      return true;
    } catch (error) {
      // Running out of input is the only failure a longer text could still mend.
      const message = error instanceof Error ? error.message : '';
      const position = /at position (\d+)/.exec(message);
      return /Unexpected end of JSON input/.test(message) || (position !== null && Number(position[1]) >= length);
    }
  };
  if (viable(text.length)) return null;
  let low = 0; // viable
  let high = text.length; // not viable
  while (high - low > 1) {
    const mid = (low + high) >>> 1;
    if (viable(mid)) low = mid;
    else high = mid;
  }
  return high - 1;
}

// ---------------------------------------------------------------------------------------------
// Structure

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  return `${typeof value} ${String(value)}`;
}

function allowedKeys(schema: unknown): string[] {
  const properties = (schema as { properties?: Record<string, unknown> }).properties;
  return properties ? Object.keys(properties) : [];
}

function structuralMessage(error: ValueError, segments: Segment[]): string {
  const description = typeof error.schema.description === 'string' ? error.schema.description : undefined;
  switch (error.message) {
    case 'Unexpected property': {
      const name = String(segments[segments.length - 1]);
      const parentSchema = error.schema;
      const hint = closest(name, allowedKeys(parentSchema));
      const allowed = allowedKeys(parentSchema).join(', ');
      return `unknown field "${name}"${hint ? ` (did you mean "${hint}"?)` : ''}; allowed here: ${allowed}`;
    }
    case 'Expected required property':
      return 'is required';
    default:
      break;
  }
  if (error.message.startsWith('Expected array length to be greater')) return 'must not be empty';
  if (error.message.startsWith('Expected string length greater')) return 'must not be empty';
  if (error.message.startsWith('Expected string length less'))
    return `is too long (at most ${String(error.schema.maxLength)} characters)`;
  if (error.message.startsWith('Expected string to match'))
    return `expected ${description ?? `text matching ${String(error.schema.pattern)}`}, got ${describe(error.value)}`;
  if (
    error.message === 'Expected union value' ||
    error.message.startsWith('Expected kind') ||
    error.message.startsWith('Expected')
  ) {
    const expected = description ?? expectedFromSchema(error.schema);
    return `expected ${expected}, got ${describe(error.value)}`;
  }
  return error.message;
}

function expectedFromSchema(schema: Record<string, unknown>): string {
  if ('const' in schema) return JSON.stringify(schema.const);
  if (schema.type === 'object') return 'an object';
  if (schema.type === 'array') return 'a list';
  if (typeof schema.type === 'string') return `a ${schema.type}`;
  return 'a different value';
}

function structuralProblems(value: object): Problem[] {
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (const error of Value.Errors(PolicyDocument, value)) {
    const segments = pointerSegments(error.path);
    const path = formatPath(segments);
    // One problem per field: TypeBox reports "required" and then "expected array" for the same path.
    if (seen.has(path)) continue;
    seen.add(path);
    problems.push({ path, message: structuralMessage(error, segments) });
    if (problems.length >= 50) break;
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Meaning

/**
 * Whether the part at `path` (say `spec.rules[2]`) lies on or under a structural problem, or
 * holds one: only parts for which this is false have the shape the meaning checks rely on.
 */
function structurallyBroken(structural: readonly Problem[]): Broken {
  const paths = structural.map((problem) => problem.path);
  const under = (inner: string, outer: string) =>
    outer === '' || inner === outer || inner.startsWith(`${outer}.`) || inner.startsWith(`${outer}[`);
  return {
    part: (path) => paths.some((at) => under(path, at)),
    field: (path) => paths.some((at) => under(path, at) || under(at, path)),
  };
}

/** Which parts of a document failed the structural checks. */
interface Broken {
  /** A problem at `path` itself or above it: the part may not even be an object. */
  part: (path: string) => boolean;
  /** A problem at, above or anywhere below `path`: the field cannot be read as typed. */
  field: (path: string) => boolean;
}

function semanticProblems(policy: PolicyDocument, catalog: Catalog, broken: Broken): Problem[] {
  const problems: Problem[] = [];
  const spec = policy.spec as PolicyDocument['spec'] | undefined;
  // With spec itself malformed, nothing below it can be read safely.
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) return problems;
  const timeZoneSound = typeof spec.timezone === 'string' && !broken.field('spec.timezone');
  const timeZone = timeZoneSound ? spec.timezone! : 'UTC';
  if (timeZoneSound && !isValidTimeZone(timeZone)) {
    const hint = closest(timeZone, knownTimeZones());
    problems.push({
      path: 'spec.timezone',
      message: `unknown timezone "${timeZone}"${hint ? ` (did you mean "${hint}"?)` : ''}; use an IANA name such as Asia/Shanghai or UTC`,
    });
  }
  const zoneForDates = isValidTimeZone(timeZone) ? timeZone : 'UTC';
  const names = new Map<string, string>();
  const notice = spec.notice as PolicyDocument['spec']['notice'] | undefined;
  if (notice !== null && typeof notice === 'object' && !broken.part('spec.notice')) {
    if (typeof notice.locale === 'string' && !broken.field('spec.notice.locale')) {
      const problem = languageTagProblem(notice.locale);
      if (problem) problems.push({ path: 'spec.notice.locale', message: problem });
    }
    if (!broken.field('spec.notice.message')) checkMessage(notice.message, 'spec.notice.message', problems);
  }

  const list = <T>(items: unknown): T[] => (Array.isArray(items) ? (items as T[]) : []);
  list<Rule>(spec.rules).forEach((rule, index) => {
    const at = `spec.rules[${index}]`;
    if (broken.part(at)) return;
    if (!broken.field(`${at}.name`)) checkName(rule.name, at, names, problems);
    if (!broken.field(`${at}.tools`)) checkSelectors(rule.tools, `${at}.tools`, catalog, problems);
    if (!broken.field(`${at}.versions`)) checkVersions(rule.versions, `${at}.versions`, problems);
    if (!broken.field(`${at}.message`)) checkMessage(rule.message, `${at}.message`, problems);
    if (!['effective', 'until', 'warnFor'].some((field) => broken.field(`${at}.${field}`)))
      checkRuleTimes(rule, at, zoneForDates, problems);
  });
  list<Exception>(spec.exceptions).forEach((exception, index) => {
    const at = `spec.exceptions[${index}]`;
    if (broken.part(at)) return;
    if (!broken.field(`${at}.name`)) checkName(exception.name, at, names, problems);
    if (!broken.field(`${at}.tools`)) checkSelectors(exception.tools, `${at}.tools`, catalog, problems);
    if (!broken.field(`${at}.versions`)) checkVersions(exception.versions, `${at}.versions`, problems);
    if (!['from', 'until'].some((field) => broken.field(`${at}.${field}`)))
      checkExceptionTimes(exception, at, zoneForDates, problems);
  });
  return problems;
}

/** The longest message, in characters, in any one language. */
const MAX_MESSAGE_CHARS = 2000;

/** A message given per language: each key a language tag, each text present and not too long. */
function checkMessage(message: LocalizedMessage | undefined, at: string, problems: Problem[]): void {
  if (message === undefined || typeof message === 'string') return;
  const entries = Object.entries(message);
  if (entries.length === 0)
    problems.push({ path: at, message: 'give the message in at least one language, e.g. { en: "..." }' });
  for (const [tag, text] of entries) {
    const path = `${at}${formatPath([tag]).replace(/^(?!\[)/, '.')}`;
    const problem = languageTagProblem(tag);
    if (problem) problems.push({ path, message: problem });
    else if (text.trim() === '') problems.push({ path, message: 'must not be empty' });
    else if (text.length > MAX_MESSAGE_CHARS)
      problems.push({ path, message: `is too long (at most ${MAX_MESSAGE_CHARS} characters)` });
  }
}

function checkName(name: string | undefined, at: string, names: Map<string, string>, problems: Problem[]): void {
  if (name === undefined) return;
  const earlier = names.get(name);
  if (earlier)
    problems.push({
      path: `${at}.name`,
      message: `the name "${name}" is already used by ${earlier}; names must be unique`,
    });
  else names.set(name, at);
}

/** Check one selector; returns an error message or null. Exported for the CLI's --tool flag. */
export function selectorProblem(selector: string, catalog: Catalog): string | null {
  const index = catalogIndex(catalog);
  if (selector === '*') return null;
  if (selector.trim() !== selector || selector.length === 0) return `"${selector}" has surrounding spaces`;
  if (selector.startsWith('vendor:')) {
    const vendor = selector.slice('vendor:'.length);
    if (index.vendors().includes(vendor)) return null;
    const hint = closest(vendor, index.vendors());
    return `unknown vendor "${vendor}"${hint ? ` (did you mean "vendor:${hint}"?)` : ''}; known vendors: ${index.vendors().join(', ')}`;
  }
  if (selector.startsWith('category:')) {
    const category = selector.slice('category:'.length);
    if ((CATEGORIES as readonly string[]).includes(category)) return null;
    return `unknown category "${category}"; use one of ${CATEGORIES.join(', ')}`;
  }
  if (index.has(selector)) return null;
  const hint = index.suggest(selector);
  return `unknown tool "${selector}"${hint ? ` (did you mean "${hint}"?)` : ''}; use a catalog id, vendor:<slug>, category:<name> or *`;
}

function checkSelectors(selectors: readonly string[], at: string, catalog: Catalog, problems: Problem[]): void {
  selectors.forEach((selector, index) => {
    const message = selectorProblem(selector, catalog);
    if (message) problems.push({ path: `${at}[${index}]`, message });
  });
}

function checkVersions(versions: string | undefined, at: string, problems: Problem[]): void {
  if (versions === undefined) return;
  const parsed = parseRange(versions);
  if (!parsed.ok) problems.push({ path: at, message: parsed.error });
}

function parseTimeField(
  text: string | undefined,
  at: string,
  timeZone: string,
  problems: Problem[],
): number | undefined {
  if (text === undefined) return undefined;
  const parsed = parseDateOrInstant(text, timeZone);
  if (!parsed.ok) {
    problems.push({ path: at, message: parsed.error });
    return undefined;
  }
  return parsed.epochMs;
}

function checkRuleTimes(rule: Rule, at: string, timeZone: string, problems: Problem[]): void {
  const effective = parseTimeField(rule.effective, `${at}.effective`, timeZone, problems);
  const until = parseTimeField(rule.until, `${at}.until`, timeZone, problems);
  if (rule.warnFor !== undefined) {
    const duration = parseDuration(rule.warnFor);
    if (!duration.ok) problems.push({ path: `${at}.warnFor`, message: duration.error });
    if (rule.effective === undefined)
      problems.push({ path: `${at}.warnFor`, message: 'needs an effective date to count down to' });
  }
  if (effective !== undefined && until !== undefined && until <= effective) {
    problems.push({ path: `${at}.until`, message: `must be after effective (${rule.effective})` });
  }
}

function checkExceptionTimes(exception: Exception, at: string, timeZone: string, problems: Problem[]): void {
  const from = parseTimeField(exception.from, `${at}.from`, timeZone, problems);
  const until = parseTimeField(exception.until, `${at}.until`, timeZone, problems);
  if (from !== undefined && until !== undefined && until <= from) {
    problems.push({ path: `${at}.until`, message: `must be after from (${exception.from})` });
  }
}

// ---------------------------------------------------------------------------------------------
// Positions

function locate(result: LoadResult, doc: Document, lineCounter: LineCounter): LoadResult {
  const withPosition = (problem: Problem): Problem => {
    if (problem.line !== undefined) return problem;
    // An unknown field is best shown by its name; a bad value by the value itself.
    const offset = offsetOf(doc, problem.path, problem.message.startsWith('unknown field'));
    if (offset === undefined) return problem;
    const { line, col } = lineCounter.linePos(offset);
    return { ...problem, line, column: col };
  };
  if (result.ok) return { ...result, warnings: result.warnings.map(withPosition) };
  return { ok: false, errors: result.errors.map(withPosition), warnings: result.warnings.map(withPosition) };
}

/** The inverse of formatPath: `a.b[0]["odd key"]` -> `['a', 'b', 0, 'odd key']`. */
function parsePath(path: string): Segment[] {
  const segments: Segment[] = [];
  for (const match of path.matchAll(/\[("(?:[^"\\]|\\.)*")\]|([^.[\]]+)|\[(\d+)\]/g)) {
    if (match[1] !== undefined) segments.push(JSON.parse(match[1]) as string);
    else segments.push(match[3] !== undefined ? Number(match[3]) : match[2]!);
  }
  return segments;
}

/**
 * The source offset of the node at `path` (of its key when `preferKey`, or when the value is
 * missing), or else of its nearest ancestor that exists.
 */
function offsetOf(doc: Document, path: string, preferKey: boolean): number | undefined {
  const segments = parsePath(path);
  for (let length = segments.length; length >= 0; length--) {
    const prefix = segments.slice(0, length);
    const last = prefix[prefix.length - 1];
    if (typeof last === 'string') {
      const parent = length === 1 ? doc.contents : doc.getIn(prefix.slice(0, -1), true);
      if (isMap(parent)) {
        const pair = parent.items.find((item) => isPair(item) && isScalar(item.key) && item.key.value === last);
        const valueRange =
          !preferKey && pair ? (pair.value as { range?: [number, number, number] } | null)?.range : undefined;
        if (valueRange) return valueRange[0];
        const keyRange = pair && isScalar(pair.key) ? pair.key.range : undefined;
        if (keyRange) return keyRange[0];
      }
      continue;
    }
    const node = length === 0 ? doc.contents : doc.getIn(prefix, true);
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    if (range) return range[0];
  }
  return undefined;
}
