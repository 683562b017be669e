/**
 * Windows process lists: the CIM class Win32_Process through PowerShell, as JSON
 * (learn.microsoft.com, "Win32_Process class": ProcessId, ParentProcessId, ExecutablePath,
 * CommandLine, CreationDate). What ConvertTo-Json makes of it differs by PowerShell version:
 *
 * - one process gives an object, several an array;
 * - CreationDate: Windows PowerShell 5.1 writes a DateTime as "\/Date(1700000000123)\/"
 *   (milliseconds since 1970, UTC; PowerShell/PowerShell#11126), sometimes as an object
 *   {"value": "\/Date(...)\/", "DateTime": "..."} (the ETS properties, dropped in 7.2:
 *   invictus-ir/Microsoft-Extractor-Suite#76); PowerShell 7 writes ISO 8601 with 7 fractional
 *   digits and the offset, "2023-11-14T23:13:20.1234567+01:00";
 * - ExecutablePath and CommandLine are null for processes the caller may not inspect (System,
 *   protected processes).
 *
 * PowerShell's output is set to UTF-8 first: by default it is the console's OEM code page and
 * every non-ASCII character of a command line would arrive as "?".
 */
import type { ProcessInfo } from './processes.js';

const SELECT = 'Select-Object ProcessId,ParentProcessId,ExecutablePath,CommandLine,CreationDate';
const UTF8 = '[Console]::OutputEncoding = [System.Text.Encoding]::UTF8';
const POWERSHELL = ['-NoProfile', '-NonInteractive', '-Command'];

/** powershell.exe arguments listing every process. */
export const CIM_COMMAND = [
  ...POWERSHELL,
  `${UTF8}; Get-CimInstance Win32_Process | ${SELECT} | ConvertTo-Json -Compress`,
];

/** powershell.exe arguments listing one process (an empty output when it is gone). */
export function cimOneCommand(pid: number): string[] {
  if (!Number.isSafeInteger(pid) || pid < 0) throw new Error(`not a process id: ${pid}`);
  return [
    ...POWERSHELL,
    `${UTF8}; Get-CimInstance Win32_Process -Filter 'ProcessId = ${pid}' | ${SELECT} | ConvertTo-Json -Compress`,
  ];
}

/** The parsed list; entries without a numeric ProcessId are skipped, anything unparsable gives []. */
export function parseCimProcesses(text: string): ProcessInfo[] {
  let json: unknown;
  try {
    json = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    return [];
  }
  const list = Array.isArray(json) ? json : [json];
  const out: ProcessInfo[] = [];
  for (const entry of list) {
    if (typeof entry !== 'object' || entry === null) continue;
    const e = entry as Record<string, unknown>;
    if (!isId(e.ProcessId)) continue;
    out.push({
      pid: e.ProcessId,
      ppid: isId(e.ParentProcessId) ? e.ParentProcessId : null,
      uid: null,
      euid: null,
      exe: typeof e.ExecutablePath === 'string' && e.ExecutablePath !== '' ? e.ExecutablePath : null,
      exeId: null,
      argv: typeof e.CommandLine === 'string' ? splitWindowsCommandLine(e.CommandLine) : [],
      cwd: null,
      startTicks: cimDate(e.CreationDate),
    });
  }
  return out;
}

function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** CreationDate in any of the forms above, as milliseconds since 1970; null when absent or odd. */
export function cimDate(value: unknown): number | null {
  if (typeof value === 'object' && value !== null && 'value' in value) return cimDate(value.value);
  if (typeof value !== 'string') return null;
  const ms = /^\/Date\((-?\d{1,15})(?:[+-]\d{4})?\)\/$/.exec(value);
  if (ms) return Number(ms[1]);
  // ISO 8601; JavaScript's Date takes at most milliseconds, so the extra digits are cut.
  const iso = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$/.exec(value);
  if (!iso) return null;
  const parsed = Date.parse(`${iso[1]}.${(iso[2] ?? '').padEnd(3, '0').slice(0, 3)}${iso[3] ?? 'Z'}`);
  return Number.isFinite(parsed) ? parsed : null;
}

/**
 * A Windows command line split as CommandLineToArgvW does (learn.microsoft.com, "Parsing C
 * command-line arguments"): spaces and tabs separate outside double quotes; 2n backslashes before
 * a quote give n backslashes and the quote toggles quoting, 2n+1 give n and a literal quote;
 * backslashes elsewhere are literal; `""` inside quotes is a literal quote.
 */
export function splitWindowsCommandLine(line: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === '\\') {
      let n = 0;
      while (line[i + n] === '\\') n++;
      if (line[i + n] === '"') {
        current += '\\'.repeat(n >> 1);
        if (n % 2 === 1) {
          current += '"';
          i += n; // the backslashes and the quote
        } else i += n - 1; // the quote is read on the next turn
      } else {
        current += '\\'.repeat(n);
        i += n - 1;
      }
      has = true;
    } else if (ch === '"') {
      if (quoted && line[i + 1] === '"') {
        current += '"';
        i++;
      } else quoted = !quoted;
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
