/** Process lists as each OS gives them, reduced to pid + the file paths that identify the program. */
import { isRecord, parseJson } from './text.js';

export interface ProcessInfo {
  pid: number;
  /** Absolute paths among the executable and the first arguments (the script a runtime runs). */
  paths: string[];
}

const ARGS_CONSIDERED = 3;

/** /proc/<pid>/cmdline: NUL-separated argv. */
export function parseProcCmdline(bytes: Uint8Array): string[] {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  const args = text.split('\0');
  if (args[args.length - 1] === '') args.pop();
  return args;
}

/** Absolute paths among the first few argv entries (skipping options such as `--inspect`). */
export function argvPaths(argv: readonly string[], isAbsolute: (p: string) => boolean): string[] {
  const out: string[] = [];
  for (const arg of argv.slice(0, ARGS_CONSIDERED))
    if (arg !== '' && !arg.startsWith('-') && isAbsolute(arg)) out.push(arg);
  return out;
}

/**
 * `ps -axww -o pid=,comm=` on macOS: pid then the executable's full path (which may contain
 * spaces, so it is the rest of the line).
 */
export function parsePsComm(text: string): { pid: number; command: string }[] {
  const out: { pid: number; command: string }[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(\d+)\s+(.+?)\s*$/.exec(line);
    if (m) out.push({ pid: Number(m[1]), command: m[2]! });
  }
  return out;
}

/** PowerShell `Get-CimInstance Win32_Process | Select ProcessId,ExecutablePath,CommandLine | ConvertTo-Json`. */
export function parseWindowsProcesses(text: string): ProcessInfo[] {
  const json = parseJson(text);
  if (!json.ok) return [];
  const list = Array.isArray(json.value) ? json.value : [json.value];
  const out: ProcessInfo[] = [];
  for (const entry of list) {
    if (!isRecord(entry) || typeof entry.ProcessId !== 'number') continue;
    const paths = new Set<string>();
    if (typeof entry.ExecutablePath === 'string' && entry.ExecutablePath !== '') paths.add(entry.ExecutablePath);
    if (typeof entry.CommandLine === 'string') {
      for (const arg of splitWindowsCommandLine(entry.CommandLine).slice(0, ARGS_CONSIDERED))
        if (/^[A-Za-z]:[\\/]|^\\\\/.test(arg)) paths.add(arg);
    }
    out.push({ pid: entry.ProcessId, paths: [...paths] });
  }
  return out;
}

/** CommandLineToArgvW's rules, minus the backslash-before-quote subtleties paths do not need. */
export function splitWindowsCommandLine(line: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  let has = false;
  for (const ch of line) {
    if (ch === '"') {
      quoted = !quoted;
      has = true;
    } else if (!quoted && (ch === ' ' || ch === '\t')) {
      if (has) out.push(current);
      current = '';
      has = false;
    } else {
      current += ch;
      has = true;
    }
  }
  if (has) out.push(current);
  return out;
}
