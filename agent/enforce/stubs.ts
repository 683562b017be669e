/**
 * Launcher stubs: small scripts put where a tool's launcher was. A warn stub prints the notice
 * to stderr and then runs the original with the same arguments, stdin/stdout and exit code (it
 * execs it); a block stub prints the block notice and exits 126. A warn stub counting down to a
 * block behaves as a block stub once the date has passed, even before the agent's next run.
 * Stubs run as the employee: they leave a small launch record in the agent's drop folder.
 *
 * POSIX sh for Linux and macOS (and extensionless npm shims on Windows); .cmd and .ps1 for
 * Windows. Every policy-provided text is embedded literally: quoted heredocs for sh, escaped
 * echo for cmd, single-quoted strings for PowerShell.
 *
 * Language: a sh stub carries the notice in every language aigate ships and shows the one the
 * user's locale asks for (LC_ALL, else LC_MESSAGES, else LANG; the same mapping as
 * notice-locale.ts noticeLocaleOf), else the policy's default language. A PowerShell stub reads
 * the same variables, then Windows' UI language. A cmd stub shows the policy's default language
 * when it is English, else English too: cmd reads a batch file in the console's code page, in
 * which Chinese text does not survive. Pure.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';

import { chooseNoticeLocale, type NoticeLocale } from '../../policies/notice-locale.js';
import type { Notice, NoticeLine, NoticeSet } from '../notices/notice.js';

const STUB_MARKER = 'aigate-stub v1';
const BLOCKED_EXIT_CODE = 126;

export type StubFlavour = 'sh' | 'cmd' | 'ps1';

export interface StubInput {
  kind: 'warn' | 'block';
  toolId: string;
  /** 16 hex characters naming the instance (see recordKey). */
  key: string;
  /** The notice in every language; the stub shows the one for the user's locale. */
  notice: NoticeSet;
  /** For a warn stub counting down to a block: when to start blocking, and the notice then. */
  blockAt?: { epochMs: number; notice: NoticeSet } | null;
  /** The original launcher, kept beside the stub. */
  original: string;
  /** The folder stubs drop launch records into. */
  launchesDir: string;
}

/** The instance's key in launch records: a hash, so records carry no paths. */
export function recordKey(instanceKey: string): string {
  return createHash('sha256').update(instanceKey).digest('hex').slice(0, 16);
}

export function stubFlavour(launcher: string): StubFlavour {
  const ext = path.win32.extname(launcher).toLowerCase();
  if (ext === '.cmd' || ext === '.bat') return 'cmd';
  if (ext === '.ps1') return 'ps1';
  return 'sh';
}

const WINDOWS_EXTENSIONS = new Set(['.cmd', '.bat', '.ps1', '.exe', '.com']);

/**
 * Where the original of `launcher` is kept: a hidden sibling in the same folder (same file
 * system, so moving it there is an atomic rename that keeps inode, owner, mode and link target).
 * Windows extensions stay last so the kept file can still be run by the warn stub.
 */
export function siblingFor(launcher: string, generation = 1, platform: NodeJS.Platform = process.platform): string {
  const api = platform === 'win32' ? path.win32 : path.posix;
  const dir = api.dirname(launcher);
  const base = api.basename(launcher);
  const ext = api.extname(base);
  const suffix = generation > 1 ? `.aigate-orig-${generation}` : '.aigate-orig';
  if (WINDOWS_EXTENSIONS.has(ext.toLowerCase())) return api.join(dir, `.${base.slice(0, -ext.length)}${suffix}${ext}`);
  return api.join(dir, `.${base}${suffix}`);
}

/** Where an install folder goes while quarantined: beside it, hidden. */
export function quarantineFor(
  installPath: string,
  generation = 1,
  platform: NodeJS.Platform = process.platform,
): string {
  const api = platform === 'win32' ? path.win32 : path.posix;
  const suffix = generation > 1 ? `.aigate-quarantine-${generation}` : '.aigate-quarantine';
  return api.join(api.dirname(installPath), `.${api.basename(installPath)}${suffix}`);
}

export function renderStub(launcher: string, input: StubInput): string {
  switch (stubFlavour(launcher)) {
    case 'cmd':
      return cmdStub(input);
    case 'ps1':
      return ps1Stub(input);
    case 'sh':
      return shStub(input);
  }
}

/** True when the text is one of our stubs (the marker sits in the first lines). */
export function isStubText(head: string): boolean {
  return head.split(/\r?\n/, 4).some((line) => line.includes(STUB_MARKER));
}

function header(input: StubInput, comment: string): string[] {
  return [
    `${comment} ${STUB_MARKER} tool=${input.toolId} kind=${input.kind} key=${input.key}`,
    `${comment} Put here by the aigate agent under the company's AI tools policy. The original`,
    `${comment} launcher is kept unchanged beside this file and comes back when the tool is allowed.`,
    `${comment} Please do not edit or remove this file: the agent puts it back and reports the change.`,
  ];
}

// ---------------------------------------------------------------------------------------------
// POSIX sh

const shQuote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

function heredocTerminator(lines: readonly string[]): string {
  let n = 0;
  const taken = new Set(lines);
  while (taken.has(`AIGATE_NOTICE_${n}`)) n++;
  return `AIGATE_NOTICE_${n}`;
}

/** The sh function a notice's countdown uses to say a span in its language. */
const SH_SPAN: Record<NoticeLocale, string> = { en: 'aigate_span', 'zh-CN': 'aigate_span_zh' };

/**
 * Sets aigate_lang from the user's locale: the patterns follow noticeLocaleOf (simplified
 * Chinese: zh, zh_CN, zh_SG, zh-Hans; traditional has no texts), anything else the default.
 */
function shLanguage(fallback: NoticeLocale): string[] {
  return [
    'aigate_lang=${LC_ALL:-${LC_MESSAGES:-${LANG:-}}}',
    'case $aigate_lang in',
    '  zh_TW*|zh-TW*|zh_HK*|zh-HK*|zh_MO*|zh-MO*|zh_Hant*|zh-Hant*) aigate_lang=' + fallback + ' ;;',
    '  zh|zh.*|zh@*|zh_CN*|zh-CN*|zh_SG*|zh-SG*|zh_Hans*|zh-Hans*) aigate_lang=zh-CN ;;',
    '  en|en.*|en@*|en_*|en-*) aigate_lang=en ;;',
    `  *) aigate_lang=${fallback} ;;`,
    'esac',
  ];
}

/** The notice of each language, chosen by aigate_lang at run time. */
function shNotices(set: NoticeSet): string[] {
  const [first, ...others] = Object.values(set.byLocale);
  const out = ['  case $aigate_lang in'];
  // (Not indented further: a heredoc's end marker must start its line.)
  for (const notice of others) out.push(`  ${notice.locale})`, ...shNotice(notice), '  ;;');
  out.push('  *)', ...shNotice(first!), '  ;;', '  esac');
  return out;
}

function shNotice(notice: Notice): string[] {
  const lines = notice.lines;
  const span = SH_SPAN[notice.locale];
  const out: string[] = [];
  let pending: string[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    const end = heredocTerminator(pending);
    out.push(`  cat >&2 <<'${end}'`, ...pending, end);
    pending = [];
  };
  for (const line of lines) {
    if ('text' in line) {
      pending.push(line.text);
      continue;
    }
    flush();
    const at = Math.floor(line.countdownTo / 1000);
    out.push(
      `  if [ "$aigate_now" -lt ${at} ]; then`,
      `    printf '%s%s%s\\n' ${shQuote(line.before)} "$(${span} $((${at} - aigate_now)))" ${shQuote(line.after)} >&2`,
      '  else',
      `    printf '%s\\n' ${shQuote(line.elapsed)} >&2`,
      '  fi',
    );
  }
  flush();
  return out;
}

function shStub(input: StubInput): string {
  const record = `${input.launchesDir.replace(/\/+$/, '')}/`;
  const lines = [
    '#!/bin/sh',
    ...header(input, '#'),
    `aigate_original=${shQuote(input.original)}`,
    'aigate_now=$(date +%s 2>/dev/null)',
    "case $aigate_now in ''|*[!0-9]*) aigate_now=0 ;; esac",
    'aigate_plural() { if [ "$1" -eq 1 ]; then printf \'%s %s\' "$1" "$2"; else printf \'%s %ss\' "$1" "$2"; fi; }',
    'aigate_span() {',
    '  aigate_d=$(($1 / 86400)); aigate_h=$(($1 % 86400 / 3600)); aigate_m=$(($1 % 3600 / 60))',
    '  if [ "$aigate_d" -ge 2 ]; then aigate_plural "$aigate_d" day',
    '  elif [ "$aigate_d" -eq 1 ]; then printf \'1 day\'; if [ "$aigate_h" -gt 0 ]; then printf \' \'; aigate_plural "$aigate_h" hour; fi',
    '  elif [ "$aigate_h" -gt 0 ]; then aigate_plural "$aigate_h" hour; if [ "$aigate_m" -gt 0 ]; then printf \' \'; aigate_plural "$aigate_m" minute; fi',
    '  elif [ "$aigate_m" -gt 0 ]; then aigate_plural "$aigate_m" minute',
    '  else aigate_plural "$1" second; fi',
    '}',
    'aigate_span_zh() {',
    '  aigate_d=$(($1 / 86400)); aigate_h=$(($1 % 86400 / 3600)); aigate_m=$(($1 % 3600 / 60))',
    '  if [ "$aigate_d" -ge 2 ]; then printf \'%s 天\' "$aigate_d"',
    '  elif [ "$aigate_d" -eq 1 ]; then printf \'1 天\'; if [ "$aigate_h" -gt 0 ]; then printf \' %s 小时\' "$aigate_h"; fi',
    '  elif [ "$aigate_h" -gt 0 ]; then printf \'%s 小时\' "$aigate_h"; if [ "$aigate_m" -gt 0 ]; then printf \' %s 分钟\' "$aigate_m"; fi',
    '  elif [ "$aigate_m" -gt 0 ]; then printf \'%s 分钟\' "$aigate_m"',
    '  else printf \'%s 秒\' "$1"; fi',
    '}',
    ...shLanguage(chooseNoticeLocale(null, input.notice.policyLocale)),
    'aigate_record() {',
    '  ( umask 077; set -C',
    `    printf 'v=1\\nkind=%s\\nkey=%s\\nuid=%s\\nuser=%s\\nat=%s\\n' "$1" ${input.key} "$(id -u 2>/dev/null)" "$(id -un 2>/dev/null)" "$aigate_now" \\`,
    `      > ${shQuote(record)}"$aigate_now-$$-${input.key}.launch"`,
    '  ) 2>/dev/null || :',
    '}',
  ];
  const blockWith = (notice: NoticeSet) => [
    ...shNotices(notice),
    '  aigate_record blocked',
    `  exit ${BLOCKED_EXIT_CODE}`,
  ];
  if (input.kind === 'block') {
    lines.push('aigate_block() {', ...blockWith(input.notice), '}', 'aigate_block');
  } else {
    if (input.blockAt) {
      const at = Math.floor(input.blockAt.epochMs / 1000);
      lines.push(
        'aigate_block() {',
        ...blockWith(input.blockAt.notice),
        '}',
        `if [ "$aigate_now" -ge ${at} ]; then aigate_block; fi`,
      );
    }
    lines.push(
      'aigate_warn() {',
      ...shNotices(input.notice),
      '}',
      'aigate_warn',
      'aigate_record warned',
      'exec "$aigate_original" "$@"',
    );
  }
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// Windows cmd

/** Text safe for `echo(` in a batch file with delayed expansion off. */
export function cmdEscape(text: string): string {
  return text
    .replace(/\^/g, '^^')
    .replace(/%/g, '%%')
    .replace(/([&|<>])/g, '^$1');
}

function cmdNotice(lines: readonly NoticeLine[], labels: { next: number }): string[] {
  const out: string[] = [];
  for (const line of lines) {
    if ('text' in line) {
      out.push(line.text === '' ? '>&2 echo(' : `>&2 echo(${cmdEscape(line.text)}`);
      continue;
    }
    // Labels and gotos rather than ( ) blocks: a parenthesis in the text cannot end a block.
    const at = Math.floor(line.countdownTo / 1000);
    const label = `aigate_countdown_${labels.next++}`;
    out.push(
      `set /a AIGATE_LEFT=${at} - AIGATE_NOW`,
      `if %AIGATE_LEFT% GTR 0 goto ${label}`,
      `>&2 echo(${cmdEscape(line.elapsed)}`,
      `goto ${label}_end`,
      `:${label}`,
      'call :aigate_span %AIGATE_LEFT%',
      `>&2 echo(${cmdEscape(line.before)}%AIGATE_SPAN%${cmdEscape(line.after)}`,
      `:${label}_end`,
    );
  }
  return out;
}

function cmdStub(input: StubInput): string {
  const dir = input.launchesDir.replace(/[\\/]+$/, '');
  const lines = [
    '@echo off',
    ...header(input, 'rem'),
    'setlocal DisableDelayedExpansion',
    `set "AIGATE_ORIGINAL=${input.original.replace(/%/g, '%%')}"`,
    'set "AIGATE_NOW="',
    'for /f "usebackq delims=" %%s in (`powershell -NoProfile -NonInteractive -Command "[DateTimeOffset]::UtcNow.ToUnixTimeSeconds()"`) do set "AIGATE_NOW=%%s"',
    'if not defined AIGATE_NOW set "AIGATE_NOW=0"',
  ];
  const record = (kind: string) =>
    `(echo v=1& echo kind=${kind}& echo key=${input.key}& echo uid=& echo user=%USERNAME%& echo at=%AIGATE_NOW%)>"${dir.replace(/%/g, '%%')}\\%AIGATE_NOW%-%RANDOM%%RANDOM%-${input.key}.launch" 2>nul`;
  const labels = { next: 1 };
  const block = (notice: NoticeSet) => [
    ...cmdNotice(notice.byLocale.en.lines, labels),
    record('blocked'),
    `exit /b ${BLOCKED_EXIT_CODE}`,
  ];
  if (input.kind === 'block') {
    lines.push(...block(input.notice));
  } else {
    if (input.blockAt) {
      const at = Math.floor(input.blockAt.epochMs / 1000);
      lines.push(`if %AIGATE_NOW% GEQ ${at} goto aigate_block`);
    }
    lines.push(
      ...cmdNotice(input.notice.byLocale.en.lines, labels),
      record('warned'),
      'call "%AIGATE_ORIGINAL%" %*',
      'exit /b %ERRORLEVEL%',
    );
    if (input.blockAt) lines.push(':aigate_block', ...block(input.blockAt.notice));
  }
  lines.push(
    ':aigate_span',
    'set /a AIGATE_D=%1 / 86400',
    'set /a AIGATE_H=%1 / 3600',
    'set /a AIGATE_M=%1 / 60',
    'set "AIGATE_SPAN=%AIGATE_M% minutes"',
    'if %AIGATE_H% GEQ 1 set "AIGATE_SPAN=%AIGATE_H% hours"',
    'if %AIGATE_D% GEQ 2 set "AIGATE_SPAN=%AIGATE_D% days"',
    'exit /b 0',
  );
  return `${lines.join('\r\n')}\r\n`;
}

// ---------------------------------------------------------------------------------------------
// PowerShell

const psQuote = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** The PowerShell function a notice's countdown uses to say a span in its language. */
const PS_SPAN: Record<NoticeLocale, string> = { en: 'AigateSpan', 'zh-CN': 'AigateSpanZh' };

function psNotice(notice: Notice): string[] {
  const span = PS_SPAN[notice.locale];
  return notice.lines.map((line) => {
    if ('text' in line) return `  [Console]::Error.WriteLine(${psQuote(line.text)})`;
    const at = Math.floor(line.countdownTo / 1000);
    return `  if ($aigateNow -lt ${at}) { [Console]::Error.WriteLine(${psQuote(line.before)} + (${span} (${at} - $aigateNow)) + ${psQuote(line.after)}) } else { [Console]::Error.WriteLine(${psQuote(line.elapsed)}) }`;
  });
}

/** The notice of each language, chosen by $aigateLang at run time. */
function psNotices(set: NoticeSet): string[] {
  const [first, ...others] = Object.values(set.byLocale);
  const out: string[] = [];
  for (const notice of others)
    out.push(`  if ($aigateLang -eq '${notice.locale}') {`, ...psNotice(notice), '  } else {');
  out.push(...psNotice(first!), ...others.map(() => '  }'));
  return out;
}

function ps1Stub(input: StubInput): string {
  const fallback = chooseNoticeLocale(null, input.notice.policyLocale);
  const lines = [
    ...header(input, '#'),
    `$aigateOriginal = ${psQuote(input.original)}`,
    `$aigateLaunches = ${psQuote(input.launchesDir)}`,
    '$aigateNow = [DateTimeOffset]::UtcNow.ToUnixTimeSeconds()',
    'function AigateSpan([long]$s) {',
    '  $d = [math]::Floor($s / 86400); $h = [math]::Floor(($s % 86400) / 3600); $m = [math]::Floor(($s % 3600) / 60)',
    '  if ($d -ge 2) { return "$d days" } elseif ($d -eq 1) { return "1 day $h hours" } elseif ($h -gt 0) { return "$h hours $m minutes" } elseif ($m -gt 0) { return "$m minutes" } else { return "$s seconds" }',
    '}',
    'function AigateSpanZh([long]$s) {',
    '  $d = [math]::Floor($s / 86400); $h = [math]::Floor(($s % 86400) / 3600); $m = [math]::Floor(($s % 3600) / 60)',
    '  if ($d -ge 2) { return "$d 天" } elseif ($d -eq 1) { return "1 天 $h 小时" } elseif ($h -gt 0) { return "$h 小时 $m 分钟" } elseif ($m -gt 0) { return "$m 分钟" } else { return "$s 秒" }',
    '}',
    // The user's language: the POSIX variables if set, else Windows' UI language (see shLanguage).
    '$aigateLang = @($env:LC_ALL, $env:LC_MESSAGES, $env:LANG) | Where-Object { $_ } | Select-Object -First 1',
    'if (-not $aigateLang) { try { $aigateLang = [Globalization.CultureInfo]::CurrentUICulture.Name } catch { } }',
    `if ($aigateLang -match '^zh[-_](TW|HK|MO|Hant)') { $aigateLang = '${fallback}' } elseif ($aigateLang -match '^zh($|[.@]|[-_](CN|SG|Hans))') { $aigateLang = 'zh-CN' } elseif ($aigateLang -match '^en($|[-_.@])') { $aigateLang = 'en' } else { $aigateLang = '${fallback}' }`,
    'function AigateRecord([string]$kind) {',
    `  try { $f = Join-Path $aigateLaunches ('{0}-{1}-${input.key}.launch' -f $aigateNow, $PID); Set-Content -LiteralPath $f -Value @('v=1', "kind=$kind", 'key=${input.key}', 'uid=', "user=$env:USERNAME", "at=$aigateNow") -ErrorAction Stop } catch { }`,
    '}',
  ];
  const block = (notice: NoticeSet) => [
    'function AigateBlock {',
    ...psNotices(notice),
    "  AigateRecord 'blocked'",
    `  exit ${BLOCKED_EXIT_CODE}`,
    '}',
  ];
  if (input.kind === 'block') {
    lines.push(...block(input.notice), 'AigateBlock');
  } else {
    if (input.blockAt)
      lines.push(
        ...block(input.blockAt.notice),
        `if ($aigateNow -ge ${Math.floor(input.blockAt.epochMs / 1000)}) { AigateBlock }`,
      );
    lines.push(
      ...psNotices(input.notice).map((line) => line.slice(2)),
      "AigateRecord 'warned'",
      '& $aigateOriginal @args',
      'exit $LASTEXITCODE',
    );
  }
  // A byte order mark: Windows PowerShell 5.1 reads a file without one in the ANSI code page.
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}
