/**
 * The host's process list (agent/host/): one shape from /proc, `ps` and the CIM list, and the
 * sentinel's identification and polling loop applied to the macOS and Windows lists.
 *
 * The macOS and Windows lists are recorded output kept in test/fixtures/processes/, written in the
 * exact formats those commands print (this machine is Linux, so they are not captured live):
 *
 * - macos-ps-args.txt / macos-ps-comm.txt: `LC_ALL=C ps -axww -o pid= -o ppid= -o ruid= -o uid=
 *   -o lstart= -o args=` and `... -o pid= -o lstart= -o comm=`. Numbers right-aligned, lstart is
 *   strftime `%c` of the C locale ("Tue Nov  7 09:03:07 2023", day padded with a space; ps(1) of
 *   macOS, keyword lstart), args as BSD ps prints them: each argument through strvis(3) with
 *   VIS_NL | VIS_CSTYLE, joined by single spaces (FreeBSD bin/ps/fmt.c `shquote`, from which
 *   macOS's adv_cmds ps comes), so `\n`, `\M-C\M-)` (é in the C locale), `\^A`, `\033` appear.
 * - windows-cim-ps51.json / windows-cim-ps7.json: `Get-CimInstance Win32_Process | Select-Object
 *   ProcessId,ParentProcessId,ExecutablePath,CommandLine,CreationDate | ConvertTo-Json` from
 *   Windows PowerShell 5.1 (-Compress; dates "\/Date(ms)\/", PowerShell/PowerShell#11126) and
 *   PowerShell 7 (indented; ISO 8601 with 7 fractional digits and the offset); the same processes.
 * - windows-cim-one-ps51.json: one process (a lone object, not an array), with the BOM and CRLF a
 *   redirected PowerShell 5.1 writes, and the DateTime as the {value, DateTime} object older
 *   versions make of a DateTime with ETS properties (invictus-ir/Microsoft-Extractor-Suite#76).
 *
 * Each has hostile rows: arguments with newlines, control characters, non-ASCII and emoji, a
 * command line of ~20 KB, missing or mistyped fields, impossible dates, garbage lines, a pid
 * reused between the two `ps` calls and a pid listed twice.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { matchProcess } from '../../../agent/enforce/processes.js';
import { cimDate, parseCimProcesses, splitWindowsCommandLine } from '../../../agent/host/cim.js';
import { parseProcCmdline, parseProcStat, parseProcStatus } from '../../../agent/host/proc-fs.js';
import {
  argvPaths,
  listProcesses,
  type ProcessInfo,
  programPaths,
  readProcess,
} from '../../../agent/host/processes.js';
import { joinPsLists, parsePsArgs, unvis } from '../../../agent/host/ps.js';
import { identifyProcess } from '../../../agent/sentinel/identify.js';
import { Sentinel, snapshotSource } from '../../../agent/sentinel/sentinel.js';
import { builtinCatalog, catalogIndex } from '../../../policies/catalog/index.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'processes');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
const macos = () => joinPsLists(fixture('macos-ps-args.txt'), fixture('macos-ps-comm.txt'));
const byPid = (list: ProcessInfo[]) => new Map(list.map((p) => [p.pid, p]));
const isRoot = process.platform === 'linux' && process.getuid?.() === 0;
const catalog = catalogIndex(builtinCatalog);

const scratch = mkdtempSync(join(tmpdir(), 'aigate-host-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('/proc fields', () => {
  it.each([
    [
      'plain',
      '1234 (node) S 1 1234 1234 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 98765 0 0',
      { ppid: 1, startTicks: 98765 },
    ],
    [
      'a name with spaces and parentheses',
      '77 (a) b (c) S 42 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0',
      { ppid: 42, startTicks: 5 },
    ],
    ['truncated', '77 (x) S 42', null],
    ['no parenthesis', 'garbage', null],
  ])('stat: %s', (_name, text, expected) =>
    expected === null ? expect(parseProcStat(text)).toBeNull() : expect(parseProcStat(text)).toMatchObject(expected),
  );

  it.each([
    ['root', 'Name:\tsleep\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n', { uid: 0, euid: 0 }],
    ['setuid', 'Uid:\t1000\t0\t0\t0\n', { uid: 1000, euid: 0 }],
    ['missing', 'Name:\tx\n', null],
  ])('status: %s', (_name, text, expected) => expect(parseProcStatus(text)).toEqual(expected));

  it('splits cmdline on NUL, keeps empty and multi-line arguments, and names program paths', () => {
    const argv = parseProcCmdline(
      Buffer.from('/usr/bin/node\0--max-old-space-size=4096\0/home/a/.npm-global/bin/claude\0\0line\nbreak\0'),
    );
    expect(argv).toEqual([
      '/usr/bin/node',
      '--max-old-space-size=4096',
      '/home/a/.npm-global/bin/claude',
      '',
      'line\nbreak',
    ]);
    expect(argvPaths(argv, (p) => p.startsWith('/'))).toEqual(['/usr/bin/node', '/home/a/.npm-global/bin/claude']);
  });
});

describe.runIf(isRoot)('the Linux list (a real process of a real unprivileged user)', () => {
  it('reads pid, parent, uids, executable and its identity, argv, cwd and start time, and nothing once it ends', async () => {
    const user = 'aigthost';
    const made = spawnSync('useradd', ['--no-create-home', '--shell', '/bin/sh', user], { encoding: 'utf8' });
    if (made.status !== 0 && made.status !== 9) throw new Error(`useradd ${user}: ${made.stderr}`);
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
    // An executable whose name holds ") (" and spaces: /proc/<pid>/stat must still parse. A copy
    // of sh waiting on its stdin (`read` is built in: no child process) keeps argv as given.
    const dir = join(scratch, 'linux');
    mkdirSync(dir, { recursive: true });
    chmodSync(scratch, 0o755);
    const exe = join(dir, 's) h (x');
    copyFileSync('/bin/sh', exe);
    chmodSync(exe, 0o755);
    const argv = [exe, '-c', 'read x', 'line\nbreak', 'café 😀'];
    const child = spawn(exe, argv.slice(1), { uid, gid, cwd: dir, stdio: ['pipe', 'ignore', 'ignore'], argv0: exe });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      let info: ProcessInfo | null = null;
      for (let i = 0; i < 250 && info?.exe !== exe; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        info = readProcess(child.pid!, { exeId: true });
      }
      const st = statSync(exe, { bigint: true });
      expect(info).toMatchObject({
        pid: child.pid,
        ppid: process.pid,
        uid,
        euid: uid,
        exe,
        exeId: { dev: String(st.dev), ino: String(st.ino) },
        argv,
        cwd: dir,
      });
      expect(Number.isSafeInteger(info!.startTicks)).toBe(true);
      expect(readProcess(child.pid!)!.exeId).toBeNull();
      const listed = (await listProcesses({ exeId: true })).processes.find((p) => p.pid === child.pid);
      expect(listed).toEqual(info);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    expect(readProcess(child.pid!)).toBeNull();
  });
});

describe('strvis undone (BSD ps arguments)', () => {
  it.each([
    ['plain', '/usr/bin/true', '/usr/bin/true'],
    ['newline and tab', String.raw`a\nb\tc`, 'a\nb\tc'],
    ['backslash', String.raw`back\\slash`, 'back\\slash'],
    ['octal and \\E escape', String.raw`\033[31m\E[0m`, '\u001b[31m\u001b[0m'],
    ['meta bytes as UTF-8', String.raw`caf\M-C\M-)`, 'café'],
    ['meta control bytes (emoji)', String.raw`\M-p\M^_\M^X\M^@`, '😀'],
    ['control', String.raw`\^A\^?`, '\u0001\u007f'],
    ['a lone trailing backslash', 'x\\', 'x\\'],
  ])('%s', (_name, text, expected) => expect(unvis(text)).toBe(expected));
});

describe('the macOS list (recorded ps output)', () => {
  const list = byPid(macos());
  const at = (date: string) => Date.parse(`${date}Z`) / 1000;

  it.each([
    [
      1,
      {
        ppid: 0,
        uid: 0,
        euid: 0,
        exe: '/sbin/launchd',
        argv: ['/sbin/launchd'],
        startTicks: at('2023-11-27T09:12:44'),
      },
    ],
    [
      2305,
      {
        ppid: 2201,
        uid: 501,
        exe: '/opt/homebrew/Cellar/node/21.2.0/bin/node',
        argv: ['node', '/Users/alice/.npm-global/bin/claude', '--resume'],
      },
    ],
    [
      990,
      {
        exe: '/Applications/Cursor.app/Contents/Frameworks/Cursor Helper (Renderer).app/Contents/MacOS/Cursor Helper (Renderer)',
      },
    ],
    [2201, { exe: null, argv: ['-zsh'] }],
    [2420, { uid: 502, euid: 502 }],
    [
      2601,
      {
        startTicks: at('2023-11-07T09:03:07'),
        argv: ['python3', '-c', 'import sys;\nprint(sys.argv)', 'tab\there', 'back\\slash', '\u001b[31mred\u001b[0m'],
      },
    ],
    [2602, { argv: ['/Users/zoë/bin/tool', 'café', '😀', '\u0001'], exe: '/Users/zoë/bin/tool' }],
    [2700, { exe: null, argv: ['(node)'] }],
    [2800, { exe: null }],
    [2900, { exe: null }],
    [3000, { argv: [], exe: '/usr/sbin/distnoted' }],
  ])('pid %i', (pid, expected) => expect(list.get(pid)).toMatchObject({ pid, cwd: null, exeId: null, ...expected }));

  it('keeps a ~20 KB command line whole and skips garbage, impossible dates and pids listed twice', () => {
    expect(list.get(3100)!.argv).toHaveLength(402);
    for (const pid of [3200, 3201, 3202, 3300]) expect(list.has(pid)).toBe(false);
    expect([...list.keys()].every((pid) => Number.isSafeInteger(pid))).toBe(true);
    expect(list.size).toBe(19);
    // The same rows without the comm listing: no executables, nothing else lost.
    expect(parsePsArgs(fixture('macos-ps-args.txt')).filter((p) => p.pid !== 3300)).toHaveLength(19);
    expect(joinPsLists(fixture('macos-ps-args.txt'), '').every((p) => p.exe === null)).toBe(true);
  });

  it("feeds the enforcement's stop rules: the owner's process is stopped, another user's is left", () => {
    const spec = {
      folders: [
        {
          path: '/Users/alice/.npm-global/lib/node_modules/@anthropic-ai/.claude-code.aigate-quarantine',
          from: '/Users/alice/.npm-global/lib/node_modules/@anthropic-ai/claude-code',
        },
      ],
      files: [{ path: '/Users/alice/.npm-global/bin/claude' }],
    };
    expect(matchProcess(list.get(2305)!, { ...spec, owners: [501] })).toEqual({ kind: 'stop' });
    expect(matchProcess(list.get(2305)!, { ...spec, owners: [502] })).toMatchObject({
      kind: 'skip',
      reason: expect.stringContaining('uid 501/501'),
    });
    expect(matchProcess(list.get(2500)!, { ...spec, owners: [501] })).toEqual({ kind: 'none' });
  });

  it('names program paths as the inventory matches them', () => {
    expect(programPaths(list.get(2305)!, 'darwin')).toEqual([
      '/opt/homebrew/Cellar/node/21.2.0/bin/node',
      '/Users/alice/.npm-global/bin/claude',
    ]);
    expect(programPaths(list.get(2201)!, 'darwin')).toEqual([]);
  });
});

describe('the Windows list (recorded CIM output)', () => {
  const ps51 = parseCimProcesses(fixture('windows-cim-ps51.json'));
  const ps7 = parseCimProcesses(fixture('windows-cim-ps7.json'));

  it('reads PowerShell 5.1 and 7 output alike (dates included)', () => {
    expect(ps7).toEqual(ps51);
    expect(ps51.map((p) => p.pid)).toEqual([0, 4, 812, 5120, 6204, 6310, 6420, 6500, 6601, 6700, 6900, 7000]);
  });

  const list = byPid(ps51);
  it.each([
    [0, { ppid: 0, exe: null, argv: [], startTicks: null }],
    [4, { startTicks: 1700035200500 }],
    [
      6204,
      {
        ppid: 5120,
        uid: null,
        euid: null,
        exe: 'C:\\Program Files\\nodejs\\node.exe',
        argv: [
          'C:\\Program Files\\nodejs\\node.exe',
          'C:\\Users\\alice\\AppData\\Roaming\\npm\\node_modules\\@anthropic-ai\\claude-code\\cli.js',
          '--resume',
        ],
        startTicks: 1700036100250,
      },
    ],
    [6420, { argv: [expect.stringMatching(/codex\.exe$/), 'exec', 'say "hi"'] }],
    [
      6601,
      {
        exe: 'C:\\Users\\Zoë\\bin\\tööl.exe',
        argv: ['C:\\Users\\Zoë\\bin\\tööl.exe', '--name=café 😀\n--second-line'],
      },
    ],
    [6900, { ppid: null, exe: null, argv: [], startTicks: null }],
  ])('pid %i', (pid, expected) => expect(list.get(pid)).toMatchObject({ pid, cwd: null, exeId: null, ...expected }));

  it('keeps a ~20 KB command line whole, and names program paths (drive and UNC paths)', () => {
    expect(list.get(6700)!.argv).toHaveLength(402);
    expect(programPaths(list.get(7000)!, 'windows')).toEqual([
      'C:\\Windows\\notepad.exe',
      '\\\\server\\share\\notes.txt',
    ]);
    expect(programPaths(list.get(6204)!, 'windows')).toEqual([
      'C:\\Program Files\\nodejs\\node.exe',
      'C:\\Users\\alice\\AppData\\Roaming\\npm\\node_modules\\@anthropic-ai\\claude-code\\cli.js',
    ]);
  });

  it('reads one process (a lone object, BOM, CRLF, the {value} date) and refuses what is not a list', () => {
    expect(parseCimProcesses(fixture('windows-cim-one-ps51.json'))).toEqual([
      { ...list.get(6204)!, argv: list.get(6204)!.argv.slice(0, 2) },
    ]);
    for (const bad of ['', 'not json', '{"ProcessId":', 'null', '[]', '"text"'])
      expect(parseCimProcesses(bad)).toEqual([]);
  });

  it.each([
    ['\\/Date(1700036100250)\\/ as JSON gives it', '/Date(1700036100250)/', 1700036100250],
    ['with an offset', '/Date(1700036100250+0100)/', 1700036100250],
    ['ISO with 7 digits', '2023-11-15T09:15:00.2501234+01:00', 1700036100250],
    ['ISO UTC', '2023-11-15T08:15:00Z', 1700036100000],
    ['the {value} object', { value: '/Date(5)/', DateTime: 'x' }, 5],
    ['garbage', 'yesterday', null],
    ['a number', 1700036100250, null],
    ['null', null, null],
  ])('CreationDate %s', (_name, value, expected) => expect(cimDate(value)).toBe(expected));

  it.each([
    ['quotes group', '"a b" c  "d"', ['a b', 'c', 'd']],
    ['escaped quote', String.raw`x "say \"hi\""`, ['x', 'say "hi"']],
    ['backslashes before a quote', String.raw`"C:\dir\\" next`, ['C:\\dir\\', 'next']],
    ['backslashes elsewhere', String.raw`C:\a\\b`, ['C:\\a\\\\b']],
    ['doubled quote inside quotes', '"a""b"', ['a"b']],
    ['tabs and an empty quoted argument', 'a\t""\tb', ['a', '', 'b']],
  ])('command line: %s', (_name, line, expected) => expect(splitWindowsCommandLine(line)).toEqual(expected));
});

/**
 * The recorded paths placed under a scratch root (a Windows path `C:\Users\...` becomes
 * `<root>/C/Users/...`), where the packages they name are made, so the sentinel's identification
 * runs on the recorded lists on this machine.
 */
function rebase(info: ProcessInfo, root: string): ProcessInfo {
  const map = (p: string) =>
    /^[A-Za-z]:\\/.test(p) ? join(root, p[0]!, ...p.slice(3).split('\\')) : p.startsWith('/') ? join(root, p) : p;
  return { ...info, exe: info.exe === null ? null : map(info.exe), argv: info.argv.map(map) };
}

function npmPackage(dir: string, manifest: Record<string, unknown>, files: Record<string, string> = {}): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text, { mode: 0o755 });
  }
}

const claude = { name: '@anthropic-ai/claude-code', version: '2.1.50', bin: { claude: 'cli.js' } };
const codex = { name: '@openai/codex', version: '0.171.0', bin: { codex: 'bin/codex.js' } };

describe('the sentinel on the recorded macOS and Windows lists', () => {
  const root = join(scratch, 'machine');
  // macOS: npm global (a bin link), npx's cache, the native binary in the platform package, codex via Homebrew.
  const g = join(root, 'Users/alice/.npm-global');
  npmPackage(join(g, 'lib/node_modules/@anthropic-ai/claude-code'), claude, { 'cli.js': '#!/usr/bin/env node\n' });
  mkdirSync(join(g, 'bin'), { recursive: true });
  symlinkSync('../lib/node_modules/@anthropic-ai/claude-code/cli.js', join(g, 'bin/claude'));
  const npx = join(root, 'Users/alice/.npm/_npx/0b3f1c2d9e8a7b6c/node_modules');
  npmPackage(join(npx, '@anthropic-ai/claude-code'), claude, { 'cli.js': '#!/usr/bin/env node\n' });
  mkdirSync(join(npx, '.bin'), { recursive: true });
  symlinkSync('../@anthropic-ai/claude-code/cli.js', join(npx, '.bin/claude'));
  const bobCc = join(root, 'Users/bob/.npm-global/lib/node_modules/@anthropic-ai/claude-code');
  npmPackage(bobCc, { ...claude, version: '2.1.200' });
  npmPackage(
    join(bobCc, 'node_modules/@anthropic-ai/claude-code-darwin-arm64'),
    { name: '@anthropic-ai/claude-code-darwin-arm64', version: '2.1.200', os: ['darwin'], cpu: ['arm64'] },
    { claude: 'native' },
  );
  npmPackage(join(root, 'opt/homebrew/lib/node_modules/@openai/codex'), codex, { 'bin/codex.js': '' });
  mkdirSync(join(root, 'opt/homebrew/bin'), { recursive: true });
  symlinkSync('../lib/node_modules/@openai/codex/bin/codex.js', join(root, 'opt/homebrew/bin/codex'));
  // Windows: npm global and npx's cache under AppData, codex's platform package (an alias folder).
  const roaming = join(root, 'C/Users/alice/AppData/Roaming/npm/node_modules');
  npmPackage(join(roaming, '@anthropic-ai/claude-code'), claude, { 'cli.js': '' });
  npmPackage(
    join(root, 'C/Users/alice/AppData/Local/npm-cache/_npx/0b3f1c2d9e8a7b6c/node_modules/@anthropic-ai/claude-code'),
    claude,
    {
      'cli.js': '',
    },
  );
  npmPackage(
    join(root, 'C/Users/bob/AppData/Roaming/npm/node_modules/@openai/codex/node_modules/@openai/codex-win32-x64'),
    { name: '@openai/codex', version: '0.171.0-win32-x64' },
    { 'vendor/x86_64-pc-windows-msvc/codex/codex.exe': 'native' },
  );

  const identified = async (list: ProcessInfo[]) => {
    const out: Record<number, string> = {};
    for (const info of list) {
      const match = await identifyProcess(rebase(info, root), { catalog });
      if (match) out[info.pid] = `${match.toolId} ${match.version} ${match.how}`;
    }
    return out;
  };

  it('identifies the macOS processes by the code they run (npm global, npx cache, native binary)', async () => {
    expect(await identified(macos())).toEqual({
      2305: 'claude-code 2.1.50 script',
      2311: 'claude-code 2.1.50 script',
      2420: 'claude-code 2.1.200 executable',
      2500: 'openai-codex-cli 0.171.0 script',
    });
  });

  it('identifies the Windows processes the same way (a renamed native claude.exe needs a fingerprint)', async () => {
    const expected = {
      6204: 'claude-code 2.1.50 script',
      6310: 'claude-code 2.1.50 script',
      6420: 'openai-codex-cli 0.171.0 executable',
    };
    expect(await identified(parseCimProcesses(fixture('windows-cim-ps51.json')))).toEqual(expected);
    expect(await identified(parseCimProcesses(fixture('windows-cim-ps7.json')))).toEqual(expected);
  });

  it.each([
    ['macOS', () => macos(), [2305, 2311, 2420]],
    ['Windows', () => parseCimProcesses(fixture('windows-cim-ps51.json')), [6204, 6310]],
  ])('polls the %s list: each blocked process reported once, allowed ones left alone', async (_os, read, pids) => {
    const matches: number[] = [];
    const sentinel = new Sentinel({
      catalog,
      // Report only: the recorded pids are not processes of this machine.
      stop: false,
      source: snapshotSource(() => Promise.resolve(read().map((p) => rebase(p, root)))),
      isBlocked: (toolId) => toolId === 'claude-code',
      onMatch: (match, outcome) => {
        expect(outcome).toEqual({ stopped: false, reason: 'report only' });
        matches.push(match.pid);
      },
    });
    await sentinel.tick();
    await sentinel.tick();
    expect(matches.sort((a, b) => a - b)).toEqual(pids);
    expect(sentinel.stats.ticks).toBe(2);
  });

  it('a blocked process started by a blocked process of the same tool is the same launch: one notice, one report', async () => {
    const parent = macos().find((p) => p.pid === 2305)!;
    const child = { ...parent, pid: 2399, ppid: 2305 };
    const seen: [number, number | undefined][] = [];
    const sentinel = new Sentinel({
      catalog,
      stop: false,
      source: snapshotSource(() => Promise.resolve([parent, child].map((p) => rebase(p, root)))),
      isBlocked: (toolId) => toolId === 'claude-code',
      onMatch: (match, _outcome, _running, partOf) => seen.push([match.pid, partOf]),
    });
    await sentinel.tick();
    expect(seen).toEqual([
      [2305, undefined],
      [2399, 2305],
    ]);
  });
});
