/**
 * Environment assignments in shell startup files, read as text (no shell is ever run). Pure.
 *
 * Dialects:
 * - `sh`: bash, zsh, ~/.profile, systemd `environment.d/*.conf` and `/etc/environment` lines:
 *   `export A=B`, `A=B`, `declare -x A=B`, `typeset -x A=B`, `readonly A=B`, also after `then`,
 *   `&&`, `;` or `{` (`[ -d ~/pnpm ] && export PNPM_HOME=~/pnpm`); `source F` / `. F` are listed.
 * - `fish`: `set -gx A B`, `set -Ux A B`, `set --export --global A B`, `set -x A B` (only exported
 *   variables: tools read the environment).
 * - `fish-universal`: fish's `fish_variables` file (`SETUVAR --export A:B`, written by `set -Ux`).
 *
 * Expansion: `$VAR`, `${VAR}`, `${VAR:-default}` / `${VAR-default}` (sh), `{$VAR}` (fish), `~` and
 * `~/` at the start of a word or after `=`/`:`, against `scope` (HOME plus earlier assignments).
 * A value that needs anything else (command substitution, an unknown variable, arithmetic) is
 * unresolved: it is reported as such and never guessed.
 */

export type StartupDialect = 'sh' | 'fish' | 'fish-universal';

export interface EnvAssignment {
  name: string;
  value: string;
}

export interface ParsedStartup {
  /** Assignments whose value could be worked out, in file order. */
  assignments: EnvAssignment[];
  /** Names assigned values that cannot be known without running the shell. */
  unresolved: string[];
  /** Files the text sources (`source F`, `. F`), expanded; relative ones as written. */
  sourced: string[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DECLARE_WORDS = new Set(['export', 'declare', 'typeset', 'readonly', 'local']);
const LEAD_KEYWORDS = new Set(['then', 'else', 'do', '{', '(', 'if', 'elif', '!', 'command']);

/**
 * A startup file read into its commands, before any expansion: a pure function of the text and
 * the dialect, so a daemon's memo keeps it between scans (never changed once made). `commands`:
 * each simple command's words (sh, fish); `universal`: fish_variables' exported NAME/value pairs.
 */
export interface StartupCommands {
  dialect: StartupDialect;
  commands: readonly (readonly Word[])[];
  universal: readonly EnvAssignment[];
}

/** Splits a startup file into commands (see StartupCommands). */
export function startupCommands(text: string, dialect: StartupDialect): StartupCommands {
  if (dialect === 'fish-universal') return { dialect, commands: [], universal: fishUniversal(text) };
  const commands: Word[][] = [];
  for (const line of logicalLines(text, dialect)) {
    for (const command of splitCommands(line)) {
      const words = splitWords(command);
      if (words !== null && words.length > 0) commands.push(words);
    }
  }
  return { dialect, commands, universal: [] };
}

/**
 * What a file's commands assign and source. `scope` holds what is known before it (at least
 * HOME) and is updated with every assignment, so later lines (and later files sharing the scope)
 * can refer to them.
 */
export function evaluateStartup(file: StartupCommands, scope: Map<string, string>): ParsedStartup {
  const out: ParsedStartup = { assignments: [], unresolved: [], sourced: [] };
  for (const { name, value } of file.universal) record(name, value, scope, out);
  for (const words of file.commands) {
    if (file.dialect === 'sh') shCommand(words, scope, out);
    else fishCommand(words, scope, out);
  }
  return out;
}

/** Parses one startup file: evaluateStartup of its startupCommands. */
export function parseStartupFile(text: string, dialect: StartupDialect, scope: Map<string, string>): ParsedStartup {
  return evaluateStartup(startupCommands(text, dialect), scope);
}

/** `/proc/<pid>/environ`: NUL-separated NAME=VALUE pairs; malformed entries are dropped. */
export function parseEnviron(bytes: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  for (const entry of text.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const name = entry.slice(0, eq);
    if (NAME.test(name) && !out.has(name)) out.set(name, entry.slice(eq + 1));
  }
  return out;
}

function record(name: string, value: string | null, scope: Map<string, string>, out: ParsedStartup): void {
  if (value === null) {
    // Later references must not expand to a stale or empty value; but PATH keeps what was known
    // (`export PATH="$(brew --prefix)/bin:$PATH"` adds folders it cannot name, it removes none),
    // so one such line does not hide every later one.
    if (name !== 'PATH') scope.set(name, UNKNOWN);
    out.unresolved.push(name);
    return;
  }
  scope.set(name, value);
  out.assignments.push({ name, value });
}

/** Stands in `scope` for a variable set to something only a running shell could know. */
const UNKNOWN = '\u0000unknown';

function shCommand(words: readonly Word[], scope: Map<string, string>, out: ParsedStartup): void {
  let i = 0;
  while (i < words.length && words[i]!.plain && LEAD_KEYWORDS.has(words[i]!.raw)) i++;
  if (i >= words.length) return;
  const first = words[i]!;
  if (first.plain && (first.raw === 'source' || first.raw === '.')) {
    const target = words[i + 1];
    const value = target ? expandWord(target, scope, 'sh') : null;
    if (value) out.sourced.push(value);
    return;
  }
  let declared = false;
  if (first.plain && DECLARE_WORDS.has(first.raw)) {
    declared = true;
    i++;
    while (i < words.length && words[i]!.raw.startsWith('-')) i++;
  }
  // zsh's `path` array, tied to PATH: `path=(~/bin $path)`, `path+=(~/bin)` (zsh docs, "Parameters
  // Used By The Shell"); `$path` in it stands for PATH as it was.
  const array = words[i] ? /^path(\+?)=\($/.exec(words[i]!.raw.slice(0, words[i]!.raw.indexOf('(') + 1)) : null;
  if (array) {
    const elements: string[] = [];
    const first = words[i]!.slice(words[i]!.raw.indexOf('(') + 1);
    const rest = [first, ...words.slice(i + 1)];
    for (const word of rest) {
      const closing = word.raw.endsWith(')');
      const element = closing ? word.slice(0, word.raw.length - 1) : word;
      if (element.raw !== '') {
        const value = element.raw === '$path' ? (scope.get('PATH') ?? null) : expandWord(element, scope, 'sh');
        if (value !== null) elements.push(value);
      }
      if (closing) break;
    }
    const before = scope.get('PATH');
    const joined = array[1] && before !== undefined ? [before, ...elements].join(':') : elements.join(':');
    if (joined !== '') record('PATH', joined, scope, out);
    return;
  }
  const assignments: [string, Word, boolean][] = [];
  for (; i < words.length; i++) {
    const word = words[i]!;
    const eq = word.raw.indexOf('=');
    // `NAME+=value` appends (bash, zsh).
    const append = eq > 1 && word.raw[eq - 1] === '+';
    const name = eq > 0 ? word.raw.slice(0, append ? eq - 1 : eq) : '';
    if (eq <= 0 || !NAME.test(name) || word.quotedBefore(eq)) {
      // `A=B cmd` sets A for cmd only; `export A` (no value) changes nothing we can read.
      if (!declared) return;
      continue;
    }
    assignments.push([name, word.slice(eq + 1), append]);
  }
  for (const [name, value, append] of assignments) {
    const expanded = expandWord(value, scope, 'sh');
    const before = append ? (scope.get(name) ?? '') : '';
    record(name, expanded === null || before === UNKNOWN ? null : before + expanded, scope, out);
  }
}

function fishCommand(words: readonly Word[], scope: Map<string, string>, out: ParsedStartup): void {
  let i = 0;
  while (i < words.length && words[i]!.plain && LEAD_KEYWORDS.has(words[i]!.raw)) i++;
  const first = words[i];
  if (!first || !first.plain) return;
  if (first.raw === 'source' || first.raw === '.') {
    const target = words[i + 1];
    const value = target ? expandWord(target, scope, 'fish') : null;
    if (value) out.sourced.push(value);
    return;
  }
  if (first.raw === 'fish_add_path') {
    // fish_add_path [options] DIR...: the folders go in front of PATH (fish's docs, "fish_add_path").
    const dirs = words.slice(i + 1).filter((word) => !word.raw.startsWith('-'));
    const added = joinExpanded(dirs, scope);
    const before = scope.get('PATH');
    if (added !== null && added !== '') record('PATH', before === undefined ? added : `${added}:${before}`, scope, out);
    return;
  }
  if (first.raw !== 'set') return;
  i++;
  let exported = false;
  let erase = false;
  let prepend = false;
  let append = false;
  for (; i < words.length && words[i]!.raw.startsWith('-'); i++) {
    const flag = words[i]!.raw;
    const short = (letter: string) => !flag.startsWith('--') && flag.includes(letter);
    if (flag === '--export' || short('x')) exported = true;
    if (flag === '--erase' || short('e')) erase = true;
    if (flag === '--prepend' || short('p')) prepend = true;
    if (flag === '--append' || short('a')) append = true;
  }
  const nameWord = words[i];
  if (!nameWord || !NAME.test(nameWord.raw) || erase) return;
  // fish exports PATH whatever the flags (it comes from the environment); `-p`/`-a` add to a list.
  if (nameWord.raw === 'PATH') exported = true;
  if ((prepend || append) && nameWord.raw.endsWith('PATH')) {
    const added = joinExpanded(words.slice(i + 1), scope);
    const before = scope.get(nameWord.raw);
    if (added === null || added === '') return;
    const value = before === undefined ? added : prepend ? `${added}:${before}` : `${before}:${added}`;
    if (exported) record(nameWord.raw, value, scope, out);
    else scope.set(nameWord.raw, value);
    return;
  }
  // A list's elements: PATH-like variables (`set -gx PATH ~/bin $PATH`) are exported joined by
  // `:` (fish's "path variables", fishshell.com/docs/current/language.html#path-variables);
  // other variables keep their first element, as before.
  const value = nameWord.raw.endsWith('PATH')
    ? joinExpanded(words.slice(i + 1), scope)
    : words[i + 1]
      ? expandWord(words[i + 1]!, scope, 'fish')
      : '';
  if (!exported) {
    if (value !== null) scope.set(nameWord.raw, value);
    return;
  }
  record(nameWord.raw, value, scope, out);
}

/**
 * `SETUVAR --export NAME:VALUE`; `\xNN` escapes; list elements separated by \x1e (the first is
 * kept). `fish_user_paths` (not exported: fish puts its elements in front of PATH; what
 * `fish_add_path` writes by default) is given as a PATH of its elements.
 */
function fishUniversal(text: string): EnvAssignment[] {
  const out: EnvAssignment[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^SETUVAR\s+(--export\s+)?([A-Za-z_][A-Za-z0-9_]*):(.*)$/.exec(line);
    if (!m) continue;
    const elements = m[3]!
      .replace(/\\x([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
      .split('\x1e');
    if (m[2] === 'fish_user_paths') out.push({ name: 'PATH', value: elements.join(':') });
    else if (m[1]) out.push({ name: m[2]!, value: elements[0]! });
  }
  return out;
}

/** Words expanded and joined by `:` (a fish path list); null when any cannot be expanded. */
function joinExpanded(words: readonly Word[], scope: Map<string, string>): string | null {
  const parts: string[] = [];
  for (const word of words) {
    const value = expandWord(word, scope, 'fish');
    if (value === null) return null;
    parts.push(value);
  }
  return parts.join(':');
}

/** Lines with backslash-newline continuations joined and comments dropped. */
function logicalLines(text: string, dialect: 'sh' | 'fish'): string[] {
  const out: string[] = [];
  let pending = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = pending + raw;
    if (line.endsWith('\\') && !line.endsWith('\\\\')) {
      pending = line.slice(0, -1);
      continue;
    }
    pending = '';
    out.push(stripComment(line, dialect));
  }
  if (pending) out.push(stripComment(pending, dialect));
  return out;
}

function stripComment(line: string, _dialect: 'sh' | 'fish'): string {
  let cut = line.length;
  eachUnquoted(line, (c, i) => {
    if (c !== '#' || (i > 0 && !/\s|;/.test(line[i - 1]!))) return 0;
    cut = i;
    return -1;
  });
  return line.slice(0, cut);
}

/** Splits on unquoted `;`, `&&`, `||`, `|` and `&` (not inside `$(...)`). */
function splitCommands(line: string): string[] {
  const out: string[] = [];
  let start = 0;
  let depth = 0;
  eachUnquoted(line, (c, i) => {
    if (c === '(' && line[i - 1] === '$') depth++;
    else if (c === ')' && depth > 0) depth--;
    else if (depth === 0 && (c === ';' || c === '|' || c === '&')) {
      out.push(line.slice(start, i));
      const skip = line[i + 1] === c ? 1 : 0;
      start = i + 1 + skip;
      return skip;
    }
    return 0;
  });
  out.push(line.slice(start));
  return out.map((s) => s.trim()).filter((s) => s !== '');
}

/**
 * Calls `visit` for every character outside quotes and backslash escapes; it returns how many
 * characters to skip after this one, or -1 to stop.
 */
function eachUnquoted(line: string, visit: (c: string, i: number) => number): void {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '\\') i++;
    else if (c === '"' || c === "'") quote = c;
    else {
      const skip = visit(c, i);
      if (skip < 0) return;
      i += skip;
    }
  }
}

/**
 * One shell word as a list of parts, each with its quoting: single-quoted parts are literal,
 * double-quoted ones expand variables, unquoted ones also expand `~`.
 */
interface Part {
  text: string;
  quote: '' | "'" | '"';
}

/** One shell word (immutable: kept in a memo's StartupCommands). */
export class Word {
  constructor(readonly parts: readonly Part[]) {}
  get raw(): string {
    return this.parts.map((p) => p.text).join('');
  }
  /** A word without any quoting (keywords, flags). */
  get plain(): boolean {
    return this.parts.every((p) => p.quote === '');
  }
  /** Whether the character at raw offset `at` sits inside quotes. */
  quotedBefore(at: number): boolean {
    let offset = 0;
    for (const part of this.parts) {
      if (at < offset + part.text.length) return part.quote !== '';
      offset += part.text.length;
    }
    return false;
  }
  /** The word from `at` (in raw characters, as `raw` counts them) to `end` (default: its end). */
  slice(at: number, end = Infinity): Word {
    const parts: Part[] = [];
    let offset = 0;
    for (const part of this.parts) {
      const stop = offset + part.text.length;
      if (stop > at && offset < end)
        parts.push({ text: part.text.slice(Math.max(0, at - offset), Math.max(0, end - offset)), quote: part.quote });
      offset = stop;
    }
    return new Word(parts);
  }
}

function splitWords(command: string): Word[] | null {
  const words: Word[] = [];
  let parts: Part[] = [];
  let current = '';
  let inWord = false;
  const flush = () => {
    if (current !== '') parts.push({ text: current, quote: '' });
    current = '';
  };
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (c === ' ' || c === '\t') {
      if (inWord) {
        flush();
        words.push(new Word(parts));
        parts = [];
        inWord = false;
      }
      continue;
    }
    inWord = true;
    if (c === "'" || c === '"') {
      flush();
      const end = findClosing(command, i + 1, c);
      if (end < 0) return null;
      const body = command.slice(i + 1, end);
      parts.push({ text: c === '"' ? body.replace(/\\(["\\$`])/g, '$1') : body, quote: c });
      i = end;
      continue;
    }
    if (c === '\\' && i + 1 < command.length) {
      flush();
      parts.push({ text: command[i + 1]!, quote: "'" });
      i++;
      continue;
    }
    current += c;
  }
  if (inWord) {
    flush();
    words.push(new Word(parts));
  }
  return words;
}

function findClosing(text: string, from: number, quote: string): number {
  for (let i = from; i < text.length; i++) {
    if (quote === '"' && text[i] === '\\') {
      i++;
      continue;
    }
    if (text[i] === quote) return i;
  }
  return -1;
}

/** The word's value, or null when it cannot be known without running the shell. */
function expandWord(word: Word, scope: Map<string, string>, dialect: 'sh' | 'fish'): string | null {
  let out = '';
  for (let p = 0; p < word.parts.length; p++) {
    const part = word.parts[p]!;
    if (part.quote === "'") {
      out += part.text;
      continue;
    }
    let text = part.text;
    if (part.quote === '' && p === 0) text = expandTilde(text, scope);
    const expanded = expandVariables(text, scope, dialect);
    if (expanded === null) return null;
    out += expanded;
  }
  return out;
}

function expandTilde(text: string, scope: Map<string, string>): string {
  const home = scope.get('HOME');
  if (home === undefined) return text;
  // `~` (or `~<the user>`) at the start and after `:` (PATH-like values), as sh does in
  // assignments; another user's `~name` is left as written (not a folder of this home).
  const user = scope.get('USER');
  return text.replace(/(^|:)~([a-z_][a-z0-9_.-]*)?(?=\/|$|:)/gi, (whole: string, lead: string, name?: string) =>
    name === undefined || name === user ? lead + home : whole,
  );
}

function expandVariables(text: string, scope: Map<string, string>, dialect: 'sh' | 'fish'): string | null {
  if (text.includes('`') || text.includes('$(') || (dialect === 'fish' && /(^|[^\\])\(/.test(text))) return null;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (dialect === 'fish' && c === '{' && text[i + 1] === '$') {
      const end = text.indexOf('}', i);
      if (end < 0) return null;
      const value = lookup(text.slice(i + 2, end), scope);
      if (value === null) return null;
      out += value;
      i = end;
      continue;
    }
    if (c !== '$') {
      out += c;
      continue;
    }
    if (dialect === 'sh' && text[i + 1] === '{') {
      const end = text.indexOf('}', i);
      if (end < 0) return null;
      const body = text.slice(i + 2, end);
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-+])(.*))?$/.exec(body);
      if (!m) return null;
      const value = lookup(m[1]!, scope);
      if (m[3] === '+') {
        // ${VAR:+word} / ${VAR+word}: the word when set (and not empty, with the colon), else nothing.
        if (value === null && scope.get(m[1]!) === UNKNOWN) return null;
        const set = value !== null && (m[2] !== ':' || value !== '');
        if (set) {
          const word = expandVariables(expandTilde(m[4]!, scope), scope, dialect);
          if (word === null) return null;
          out += word;
        }
      } else if (m[4] !== undefined) {
        // ${VAR:-default} / ${VAR-default}: the default when unset (or empty, with the colon).
        const useDefault = value === null ? scope.get(m[1]!) !== UNKNOWN : m[2] === ':' && value === '';
        if (value === null && !useDefault) return null;
        if (useDefault) {
          const fallback = expandVariables(expandTilde(m[4], scope), scope, dialect);
          if (fallback === null) return null;
          out += fallback;
        } else out += value;
      } else {
        if (value === null) return null;
        out += value;
      }
      i = end;
      continue;
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1));
    if (!m) {
      out += c;
      continue;
    }
    const value = lookup(m[0], scope);
    if (value === null) return null;
    out += value;
    i += m[0].length;
  }
  return out;
}

function lookup(name: string, scope: Map<string, string>): string | null {
  const value = scope.get(name);
  return value === undefined || value === UNKNOWN ? null : value;
}
