/**
 * macOS process lists from `ps` (run with LC_ALL=C). Two listings, joined by pid AND start time so
 * that a pid reused between the two calls is not mixed up:
 *
 * - `ps -axww -o pid= -o ppid= -o ruid= -o uid= -o lstart= -o args=`: the numbers, the start time
 *   (`%c` of the C locale, "Mon Nov  6 09:15:02 2023", always 5 words) and the command line last;
 * - `ps -axww -o pid= -o lstart= -o comm=`: the executable's path last.
 *
 * BSD ps (macOS's comes from FreeBSD's, bin/ps/fmt.c `shquote`) prints each argument through
 * strvis(3) with VIS_NL | VIS_CSTYLE and joins them with single spaces, skipping empty ones: a
 * newline or control character in an argument is printed escaped (`\n`, `\^A`, `\M-C`, `\033`...),
 * so one line is one process. Spaces inside an argument are not escaped, so argv is split on
 * spaces and a path holding spaces comes back in pieces (then it is simply not recognised).
 * Lines that do not have the expected shape are skipped; a pid listed twice in the comm listing
 * (a forged line) loses its executable rather than taking either.
 */
import type { ProcessInfo } from './processes.js';

/** The two `ps` calls (arguments after `ps`). */
export const PS_ARGS = [
  '-axww',
  '-o',
  'pid=',
  '-o',
  'ppid=',
  '-o',
  'ruid=',
  '-o',
  'uid=',
  '-o',
  'lstart=',
  '-o',
  'args=',
];
export const PS_COMM = ['-axww', '-o', 'pid=', '-o', 'lstart=', '-o', 'comm='];

/** The same two calls for one pid. */
export function psArgsFor(pid: number): [string[], string[]] {
  const one = (argv: string[]) => ['-ww', ...argv.slice(1), '-p', String(pid)];
  return [one(PS_ARGS), one(PS_COMM)];
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const LSTART = String.raw`(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) +(${MONTHS.join('|')}) +(\d{1,2}) +(\d\d):(\d\d):(\d\d) +(\d{4})`;
const ARGS_LINE = new RegExp(String.raw`^ *(\d+) +(\d+) +(\d+) +(\d+) +${LSTART}(?: (.*))?$`);
const COMM_LINE = new RegExp(String.raw`^ *(\d+) +${LSTART} (.+)$`);
const MAX_LINE = 1024 * 1024;

/** `lstart`'s fields as seconds since 1970, read as UTC (only equality matters); null if impossible. */
function lstartSeconds(m: RegExpExecArray, at: number): number | null {
  const [month, day, h, min, s, year] = m.slice(at, at + 6).map((x, i) => (i === 0 ? MONTHS.indexOf(x!) : Number(x)));
  const ms = Date.UTC(year!, month!, day!, h!, min!, s!);
  const back = new Date(ms);
  // 31 Feb or 25:00 would roll over: not something ps prints.
  if (back.getUTCDate() !== day || h! > 23 || min! > 59 || s! > 60) return null;
  return ms / 1000;
}

/** `ps -o pid= -o ppid= -o ruid= -o uid= -o lstart= -o args=` lines, as processes without executables. */
export function parsePsArgs(text: string): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  for (const line of text.split('\n')) {
    if (line.length > MAX_LINE) continue;
    const m = ARGS_LINE.exec(line.replace(/\r$/, ''));
    if (!m) continue;
    const numbers = m.slice(1, 5).map(Number);
    if (!numbers.every(Number.isSafeInteger)) continue;
    const startTicks = lstartSeconds(m, 5);
    if (startTicks === null) continue;
    const [pid, ppid, uid, euid] = numbers as [number, number, number, number];
    const args = m[11] ?? '';
    out.push({
      pid,
      ppid,
      uid,
      euid,
      exe: null,
      exeId: null,
      argv: args === '' ? [] : args.split(' ').map(unvis),
      cwd: null,
      startTicks,
    });
  }
  return out;
}

/** `ps -o pid= -o lstart= -o comm=` lines: pid, start time and the executable's path. */
function parsePsComm(text: string): { pid: number; startTicks: number; comm: string }[] {
  const out: { pid: number; startTicks: number; comm: string }[] = [];
  for (const line of text.split('\n')) {
    if (line.length > MAX_LINE) continue;
    const m = COMM_LINE.exec(line.replace(/\r$/, ''));
    if (!m || !Number.isSafeInteger(Number(m[1]))) continue;
    const startTicks = lstartSeconds(m, 2);
    if (startTicks !== null) out.push({ pid: Number(m[1]), startTicks, comm: m[8]! });
  }
  return out;
}

/**
 * Both listings joined: a process gets its executable when the comm listing has exactly one line
 * for its pid, with the same start time, and that executable is an absolute path.
 */
export function joinPsLists(argsText: string, commText: string): ProcessInfo[] {
  const comm = new Map<number, { startTicks: number; comm: string } | null>();
  for (const row of parsePsComm(commText)) comm.set(row.pid, comm.has(row.pid) ? null : row);
  const seen = new Map<number, number>();
  const processes = parsePsArgs(argsText);
  for (const p of processes) seen.set(p.pid, (seen.get(p.pid) ?? 0) + 1);
  const out: ProcessInfo[] = [];
  for (const p of processes) {
    // A pid twice in the args listing: a forged line; neither is trusted.
    if (seen.get(p.pid)! > 1) continue;
    const row = comm.get(p.pid);
    if (row && row.startTicks === p.startTicks && row.comm.startsWith('/')) p.exe = row.comm;
    out.push(p);
  }
  return out;
}

/**
 * strvis(3) undone (the VIS_CSTYLE and default forms): `\n` `\t` `\r` `\b` `\a` `\v` `\f` `\s`
 * `\0`, octal `\ooo`, meta `\M-x` `\M^x`, control `\^x` `\^?`, and `\` before a printable
 * character. Bytes are then read as UTF-8 (so `\M-C\M-)` is é).
 */
export function unvis(text: string): string {
  if (!text.includes('\\')) return text;
  const bytes: number[] = [];
  const C: Record<string, number> = { n: 10, t: 9, r: 13, b: 8, a: 7, v: 11, f: 12, s: 32, E: 27 };
  const control = (ch: string) => (ch === '?' ? 127 : ch.charCodeAt(0) & 31);
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch !== '\\' || i === text.length - 1) {
      bytes.push(...Buffer.from(ch, 'utf8'));
      continue;
    }
    const next = text[i + 1]!;
    const octal = /^[0-7]{1,3}/.exec(text.slice(i + 1, i + 4));
    if (octal) {
      bytes.push(parseInt(octal[0], 8) & 255);
      i += octal[0].length;
    } else if (next in C) {
      bytes.push(C[next]!);
      i += 1;
    } else if (next === 'M' && text[i + 2] === '-' && i + 3 < text.length) {
      bytes.push(128 | text.charCodeAt(i + 3));
      i += 3;
    } else if (next === 'M' && text[i + 2] === '^' && i + 3 < text.length) {
      bytes.push(128 | control(text[i + 3]!));
      i += 3;
    } else if (next === '^' && i + 2 < text.length) {
      bytes.push(control(text[i + 2]!));
      i += 2;
    } else {
      bytes.push(...Buffer.from(next, 'utf8'));
      i += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}
