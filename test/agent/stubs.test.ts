/** Stub texts for every flavour (sh is also run), notices, sibling names, and the guard. */
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { checkInstallPath, checkLauncherPath } from '../../agent/enforce/guard.js';
import {
  cmdEscape,
  isStubText,
  quarantineFor,
  recordKey,
  renderStub,
  siblingFor,
  stubFlavour,
  type StubInput,
} from '../../agent/enforce/stubs.js';
import {
  buildNotice,
  buildNotices,
  type NoticeInput,
  type NoticeSet,
  renderNotice,
} from '../../agent/notices/notice.js';
import { run, tempDir } from './helpers.js';

const EFFECTIVE = Date.parse('2026-07-09T16:00:00Z'); // 2026-07-10 00:00 in Asia/Shanghai

const warnInput = (overrides: Partial<NoticeInput['verdict']> = {}): NoticeInput => ({
  kind: 'warn',
  toolId: 'claude-code',
  toolName: 'Claude Code',
  version: '2.1.91',
  policyName: 'ban-claude-code',
  timeZone: 'Asia/Shanghai',
  verdict: {
    message: "Claude Code may not be used from 10 July; it's 100% final & <binding>.",
    contact: 'https://it.example.com/ai-tools?x=1&y=%20',
    alternatives: ['Qwen Code', 'Tongyi Lingma'],
    effectiveAt: new Date(EFFECTIVE).toISOString(),
    upcomingAction: 'block',
    phase: 'warn-window',
    decidedBy: { kind: 'rule', index: 0, name: 'ban-claude-code' },
    ...overrides,
  },
});

/** The notice in every language, its reason as given (a policy message in the Chinese one too). */
const noticeSet = (input: NoticeInput, policyLocale = 'en'): NoticeSet =>
  buildNotices(
    input,
    (locale) => (locale === 'en' ? input.verdict.message : `中文：${input.verdict.message}`),
    policyLocale,
  );

const stubInput = (kind: 'warn' | 'block', original: string, launchesDir: string, policyLocale = 'en'): StubInput => {
  const warn = noticeSet(warnInput(), policyLocale);
  const block = noticeSet({ ...warnInput({ phase: 'in-effect', upcomingAction: null }), kind: 'block' }, policyLocale);
  return {
    kind,
    toolId: 'claude-code',
    key: recordKey('claude-code\0/x'),
    notice: kind === 'warn' ? warn : block,
    blockAt: kind === 'warn' ? { epochMs: EFFECTIVE, notice: block } : null,
    original,
    launchesDir,
  };
};

let dir: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  dir = await tempDir('aigate-stubs-');
});
afterAll(async () => {
  await dir?.remove();
});

describe('notices', () => {
  it('say what, until when (with a countdown), why, what instead, who to ask and how to ask for an exception', () => {
    const notice = buildNotice(warnInput());
    expect(notice.title).toBe('Claude Code will be blocked on this computer from 2026-07-10 00:00 (Asia/Shanghai)');
    expect(renderNotice(notice, EFFECTIVE - 13 * 86_400_000 - 4 * 3_600_000)).toBe(
      [
        'aigate: Claude Code will be blocked on this computer soon.',
        '',
        "  Claude Code may not be used from 10 July; it's 100% final & <binding>.",
        '',
        '  From 2026-07-10 00:00 (Asia/Shanghai), Claude Code 2.1.91 will no longer start on this computer.',
        '  That is in 13 days.',
        '  Approved alternatives: Qwen Code, Tongyi Lingma',
        '  Questions: https://it.example.com/ai-tools?x=1&y=%20',
        '  Need Claude Code for your work? Ask for an exception:',
        '    aigate-agent request-exception claude-code --reason "what you need it for"',
        '  Claude Code starts normally for now.',
        '',
      ].join('\n'),
    );
    const blocked = renderNotice(
      buildNotice({ ...warnInput({ phase: 'in-effect', upcomingAction: null }), kind: 'block' }),
      EFFECTIVE + 1000,
    );
    expect(blocked).toContain('aigate: Claude Code is blocked on this computer.');
    expect(blocked).toContain(
      'Blocked since 2026-07-10 00:00 (Asia/Shanghai) by the company policy "ban-claude-code".',
    );
    expect(blocked).toContain('Nothing was deleted: if Claude Code is allowed again, it comes back exactly as it was.');
    const plainWarn = renderNotice(
      buildNotice(
        warnInput({ effectiveAt: null, upcomingAction: null, phase: 'in-effect', alternatives: [], contact: null }),
      ),
      0,
    );
    expect(plainWarn).toContain('The company policy "ban-claude-code" discourages Claude Code 2.1.91.');
    expect(plainWarn).not.toContain('Approved alternatives');
    expect(plainWarn).not.toContain('Questions');
  });
});

describe('POSIX stubs', () => {
  it('are valid sh, count down at run time, pass everything through, and block after the date', async () => {
    const original = join(dir.path, '.tool.aigate-orig');
    await writeFile(original, '#!/bin/sh\necho "args:$#:$1:$2"\ncat\nexit 3\n');
    await chmod(original, 0o755);
    const launches = join(dir.path, 'launches');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(launches);
    const stub = join(dir.path, 'tool');
    const text = renderStub(stub, stubInput('warn', original, launches));
    expect(isStubText(text)).toBe(true);
    await writeFile(stub, text);
    await chmod(stub, 0o755);
    expect((await run('sh', ['-n', stub])).code).toBe(0);

    const now = Date.now();
    if (now < EFFECTIVE) {
      const result = await run(stub, ['a b', "c'd"], { input: 'piped' });
      expect(result.code).toBe(3);
      expect(result.stdout).toBe("args:2:a b:c'd\npiped");
      expect(result.stderr).toContain("it's 100% final & <binding>.");
      expect(result.stderr).toMatch(/That is in \d+ (days|day|hours|minutes)/);
    } else {
      const result = await run(stub, ['a'], { input: '' });
      expect(result.code).toBe(126);
      expect(result.stderr).toContain('Claude Code is blocked on this computer.');
    }
    const blockStub = join(dir.path, 'blocked');
    await writeFile(blockStub, renderStub(blockStub, stubInput('block', original, launches)));
    await chmod(blockStub, 0o755);
    const blocked = await run(blockStub, ['x'], { input: 'ignored' });
    expect(blocked.code).toBe(126);
    expect(blocked.stdout).toBe('');
    expect(blocked.stderr).toContain('Blocked since 2026-07-10 00:00 (Asia/Shanghai)');
  });

  it('quote hostile paths and texts', () => {
    const text = renderStub(
      '/bin/tool',
      stubInput('warn', "/tmp/it's $(rm -rf ~) `x`/.tool.aigate-orig", '/var/lib/aigate/launches'),
    );
    expect(text).toContain(`aigate_original='/tmp/it'\\''s $(rm -rf ~) \`x\`/.tool.aigate-orig'`);
    expect(text).toContain("cat >&2 <<'AIGATE_NOTICE_0'");
  });
});

describe('Windows stubs', () => {
  it('.ps1 carries every language and picks the POSIX variables, then the UI language; .cmd stays in English', () => {
    const input = stubInput('warn', 'C:\\npm\\.claude.aigate-orig.ps1', 'C:\\ProgramData\\aigate\\launches', 'zh-CN');
    const ps1 = renderStub('C:\\npm\\claude.ps1', input);
    // A byte order mark: Windows PowerShell 5.1 reads a file without one in the ANSI code page.
    expect(ps1.startsWith('\uFEFF# aigate-stub v1 tool=claude-code kind=warn')).toBe(true);
    expect(isStubText(ps1)).toBe(true);
    expect(ps1).toContain(
      '$aigateLang = @($env:LC_ALL, $env:LC_MESSAGES, $env:LANG) | Where-Object { $_ } | Select-Object -First 1',
    );
    expect(ps1).toContain('[Globalization.CultureInfo]::CurrentUICulture.Name');
    // The policy's default language for anything else.
    expect(ps1).toContain("} else { $aigateLang = 'zh-CN' }");
    expect(ps1).toContain("if ($aigateLang -eq 'zh-CN') {");
    expect(ps1).toContain(
      "[Console]::Error.WriteLine('  中文：Claude Code may not be used from 10 July; it''s 100% final & <binding>.')",
    );
    expect(ps1).toMatch(/\(AigateSpanZh \(\d+ - \$aigateNow\)\)/);
    const cmd = renderStub('C:\\npm\\claude.cmd', { ...input, original: 'C:\\npm\\.claude.aigate-orig.cmd' });
    expect(cmd).not.toMatch(/[\u4e00-\u9fff]/);
    expect(cmd).toContain('>&2 echo(aigate: Claude Code will be blocked on this computer soon.');
  });

  it('.cmd: escapes cmd metacharacters, runs the original with %*, exits 126 when blocked', () => {
    const input = stubInput(
      'warn',
      'C:\\Users\\alice\\AppData\\Roaming\\npm\\.claude.aigate-orig.cmd',
      'C:\\ProgramData\\aigate\\launches',
    );
    const text = renderStub('C:\\Users\\alice\\AppData\\Roaming\\npm\\claude.cmd', input);
    expect(stubFlavour('C:\\x\\claude.CMD')).toBe('cmd');
    expect(text.startsWith('@echo off\r\nrem aigate-stub v1 tool=claude-code kind=warn key=')).toBe(true);
    expect(text).toContain(">&2 echo(  Claude Code may not be used from 10 July; it's 100%% final ^& ^<binding^>.\r\n");
    expect(text).toContain('>&2 echo(  Questions: https://it.example.com/ai-tools?x=1^&y=%%20\r\n');
    expect(text).toContain('set "AIGATE_ORIGINAL=C:\\Users\\alice\\AppData\\Roaming\\npm\\.claude.aigate-orig.cmd"');
    expect(text).toContain(`if %AIGATE_NOW% GEQ ${EFFECTIVE / 1000} goto aigate_block`);
    expect(text).toContain('call "%AIGATE_ORIGINAL%" %*\r\nexit /b %ERRORLEVEL%');
    expect(text).toContain(':aigate_block\r\n');
    expect(text).toContain('exit /b 126');
    expect(text).toContain('C:\\ProgramData\\aigate\\launches\\%AIGATE_NOW%-%RANDOM%%RANDOM%-');
    expect(cmdEscape('a^b|c%d')).toBe('a^^b^|c%%d');
  });

  it('.ps1: single-quoted texts, passes @args and the exit code, exits 126 when blocked', () => {
    const text = renderStub(
      'C:\\npm\\claude.ps1',
      stubInput('block', 'C:\\npm\\.claude.aigate-orig.ps1', 'C:\\ProgramData\\aigate\\launches'),
    );
    expect(text).toContain(
      "[Console]::Error.WriteLine('  Claude Code may not be used from 10 July; it''s 100% final & <binding>.')",
    );
    expect(text).toContain('exit 126');
    const warn = renderStub(
      'C:\\npm\\claude.ps1',
      stubInput('warn', 'C:\\npm\\.claude.aigate-orig.ps1', 'C:\\ProgramData\\aigate\\launches'),
    );
    expect(warn).toContain("$aigateOriginal = 'C:\\npm\\.claude.aigate-orig.ps1'");
    expect(warn).toContain('& $aigateOriginal @args\r\nexit $LASTEXITCODE');
    expect(warn).toContain(`if ($aigateNow -ge ${EFFECTIVE / 1000}) { AigateBlock }`);
  });

  it('keep Windows extensions last on kept originals', () => {
    expect(siblingFor('C:\\npm\\claude.cmd', 1, 'win32')).toBe('C:\\npm\\.claude.aigate-orig.cmd');
    expect(siblingFor('C:\\npm\\claude.ps1', 2, 'win32')).toBe('C:\\npm\\.claude.aigate-orig-2.ps1');
    expect(siblingFor('C:\\npm\\claude', 1, 'win32')).toBe('C:\\npm\\.claude.aigate-orig');
    expect(siblingFor('/usr/local/bin/claude', 1, 'linux')).toBe('/usr/local/bin/.claude.aigate-orig');
    expect(quarantineFor('/opt/tools/cursor', 3, 'linux')).toBe('/opt/tools/.cursor.aigate-quarantine-3');
  });
});

describe('the guard', () => {
  const ctx = { platform: 'linux' as const, homes: ['/home/alice'], stateDir: '/var/lib/aigate' };
  it.each([
    ['/home/alice/.npm-global/lib/node_modules/@anthropic-ai/claude-code', true],
    ['/Applications/Cursor.app', true],
    ['/home/alice/.local/share/claude/versions/2.1.91', true],
    ['/', false],
    ['/usr/local', false],
    ['/usr/local/lib/node_modules', false],
    ['/home', false],
    ['/home/alice', false],
    ['/home/alice/bin', false],
    ['/var/lib/aigate/spool', false],
    ['relative/path', false],
    ['/home/alice/../bob/tool', false],
    ['/opt', false],
  ])('install path %s allowed: %s', (path, ok) => {
    expect(checkInstallPath(path, ctx).ok).toBe(ok);
  });

  it('refuses odd launchers and its own files', () => {
    expect(checkLauncherPath('/home/alice/.local/bin/claude', ctx).ok).toBe(true);
    expect(checkLauncherPath('/usr/local/bin/claude', ctx).ok).toBe(true);
    expect(checkLauncherPath('/home/alice/.local/bin/.claude.aigate-orig', ctx).ok).toBe(false);
    expect(checkLauncherPath('/home/alice', ctx).ok).toBe(false);
    expect(
      checkInstallPath('C:\\Users', { platform: 'win32', homes: [], stateDir: 'C:\\ProgramData\\aigate' }).ok,
    ).toBe(false);
    const win = { platform: 'win32' as const, homes: ['C:\\Users\\alice'], stateDir: 'C:\\ProgramData\\aigate' };
    expect(checkLauncherPath('C:\\Users\\alice\\AppData\\Roaming\\npm\\claude.cmd', win).ok).toBe(true);
    expect(checkLauncherPath('C:\\Users\\alice\\.local\\bin\\claude.exe', win)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('Windows executable'),
    });
    expect(
      checkInstallPath('C:\\Users\\alice\\AppData\\Local\\Programs\\cursor', {
        platform: 'win32',
        homes: ['C:\\Users\\alice'],
        stateDir: 'C:\\ProgramData\\aigate',
      }).ok,
    ).toBe(true);
  });
});
