/**
 * Notices in the employee's language (issue 14): locale resolution, `spec.notice.locale` and
 * per-language messages validated, compiled, signed and evaluated, and the reasons in Chinese.
 */
import { describe, expect, it } from 'vitest';

import { signBundle, verifyBundle } from '../../policies/bundle.js';
import { builtinCatalog } from '../../policies/catalog/index.js';
import { compilePolicy } from '../../policies/compile.js';
import { evaluateInstance } from '../../policies/evaluate.js';
import type { ToolInstance } from '../../policies/inventory.js';
import { generateSigningKey } from '../../policies/keys.js';
import { loadPolicy } from '../../policies/load.js';
import {
  chooseNoticeLocale,
  languageTagProblem,
  localeFromEnv,
  noticeLocaleOf,
  pickText,
} from '../../policies/notice-locale.js';
import { NOTICE_TEXTS, reasonFactsOf, reasonsByLocale } from '../../policies/notice-text.js';

describe('which language a locale asks for', () => {
  it.each([
    ['zh_CN.UTF-8', 'zh-CN'],
    ['zh_CN', 'zh-CN'],
    ['zh_CN.GB18030', 'zh-CN'],
    ['zh-CN', 'zh-CN'],
    ['zh-Hans', 'zh-CN'],
    ['zh-Hans-CN', 'zh-CN'],
    ['zh_SG.UTF-8', 'zh-CN'],
    ['zh', 'zh-CN'],
    ['zh_TW.UTF-8', null],
    ['zh_HK', null],
    ['zh-Hant-TW', null],
    ['en_US.UTF-8', 'en'],
    ['en_GB@euro', 'en'],
    ['en', 'en'],
    ['C', null],
    ['C.UTF-8', null],
    ['POSIX', null],
    ['fr_FR.UTF-8', null],
    ['', null],
    [null, null],
  ])('%s -> %s', (name, expected) => {
    expect(noticeLocaleOf(name)).toBe(expected);
  });

  it.each([
    [{ LC_ALL: 'zh_CN.UTF-8', LC_MESSAGES: 'en_US.UTF-8', LANG: 'en_US.UTF-8' }, 'zh_CN.UTF-8'],
    [{ LC_MESSAGES: 'zh_CN.UTF-8', LANG: 'en_US.UTF-8' }, 'zh_CN.UTF-8'],
    [{ LANG: 'zh_CN.UTF-8' }, 'zh_CN.UTF-8'],
    // POSIX: an empty variable counts as unset.
    [{ LC_ALL: '', LC_MESSAGES: '', LANG: 'zh_SG.UTF-8' }, 'zh_SG.UTF-8'],
    [{ LC_CTYPE: 'zh_CN.UTF-8' }, null],
    [{}, null],
  ])('from the environment %j: %s', (env, expected) => {
    expect(localeFromEnv(env)).toBe(expected);
  });

  it.each([
    ['zh_CN.UTF-8', 'en', 'zh-CN'],
    ['en_US.UTF-8', 'zh-CN', 'en'],
    // A language without texts, or none at all: the policy's default, then English.
    ['fr_FR.UTF-8', 'zh-CN', 'zh-CN'],
    [null, 'zh-CN', 'zh-CN'],
    ['C.UTF-8', 'zh-CN', 'zh-CN'],
    ['fr_FR.UTF-8', 'fr', 'en'],
    [null, null, 'en'],
  ])('user %s with policy default %s -> %s', (user, policy, expected) => {
    expect(chooseNoticeLocale(user, policy)).toBe(expected);
  });

  it('picks a policy text by language, then the default language, then English, then the first', () => {
    const text = { en: 'English', 'zh-Hans': '简体' };
    expect(pickText(text, 'zh-CN', 'en')).toBe('简体');
    expect(pickText(text, 'en', 'zh-CN')).toBe('English');
    expect(pickText({ 'zh-CN': '中文', de: 'Deutsch' }, 'en', 'de')).toBe('Deutsch');
    expect(pickText({ 'zh-CN': '中文', de: 'Deutsch' }, 'en', 'en')).toBe('中文');
    expect(pickText('as written', 'zh-CN', 'en')).toBe('as written');
  });

  it('says what a bad language tag should be', () => {
    expect(languageTagProblem('zh-CN')).toBeNull();
    expect(languageTagProblem('zh-Hans-CN')).toBeNull();
    expect(languageTagProblem('zh_CN.UTF-8')).toBe(
      '"zh_CN.UTF-8" is not a language tag (write zh-CN); use a BCP 47 tag such as en or zh-CN',
    );
    expect(languageTagProblem('chinese simplified')).toMatch(/is not a language tag; use a BCP 47 tag/);
  });

  it('says spans in Chinese', () => {
    const zh = NOTICE_TEXTS['zh-CN'];
    expect(zh.span(13 * 86_400_000 + 5 * 3_600_000)).toBe('13 天');
    expect(zh.span(86_400_000 + 4 * 3_600_000)).toBe('1 天 4 小时');
    expect(zh.span(5 * 3_600_000 + 20 * 60_000)).toBe('5 小时 20 分钟');
    expect(zh.span(40_000)).toBe('40 秒');
  });
});

const POLICY = `apiVersion: aigate/v1
kind: Policy
metadata:
  name: ban-claude-code
spec:
  timezone: Asia/Shanghai
  notice:
    locale: zh-CN
    contact: https://it.example.com/ai-tools
    message:
      en: Only approved AI tools may run on company machines.
      zh-CN: 公司电脑上只能运行经批准的 AI 工具。
  rules:
    - name: ban-claude-code
      tools: [claude-code]
      action: block
      effective: 2026-07-10
      warnFor: 14d
      message:
        en: Claude Code may not be used on company machines from 10 July 2026.
        zh-CN: 自 2026 年 7 月 10 日起，公司电脑上不得使用 Claude Code。
    - tools: [openai-codex-cli]
      action: block
`;

const claude: ToolInstance = {
  toolId: 'claude-code',
  name: 'Claude Code',
  version: '2.1.91',
  channel: 'npm',
  installPath: '/home/alice/.npm-global/lib/node_modules/@anthropic-ai/claude-code',
  launchers: [],
  owner: 'alice',
  evidence: [],
};
const EFFECTIVE = Date.parse('2026-07-09T16:00:00Z');

describe('spec.notice.locale and per-language messages', () => {
  it('are valid, compile, sign and verify, and give each language its own reason', async () => {
    const loaded = loadPolicy(POLICY);
    expect(loaded).toMatchObject({ ok: true, warnings: [] });
    if (!loaded.ok) return;
    const compiled = compilePolicy(loaded.policy, builtinCatalog);
    expect(compiled.noticeLocale).toBe('zh-CN');

    // The verdicts the server keeps are in English when the policy gives English.
    const blocked = evaluateInstance(compiled, claude, { os: 'linux' }, EFFECTIVE + 1000);
    expect(blocked.message).toBe('Claude Code may not be used on company machines from 10 July 2026.');
    expect(reasonsByLocale(compiled, blocked, 'Claude Code')).toEqual({
      en: 'Claude Code may not be used on company machines from 10 July 2026.',
      'zh-CN': '自 2026 年 7 月 10 日起，公司电脑上不得使用 Claude Code。',
    });
    // A rule without its own message: the policy-wide one, per language.
    const codex = evaluateInstance(
      compiled,
      { ...claude, toolId: 'openai-codex-cli', name: 'Codex CLI' },
      { os: 'linux' },
      EFFECTIVE,
    );
    expect(reasonsByLocale(compiled, codex, 'Codex CLI')).toEqual({
      en: 'Only approved AI tools may run on company machines.',
      'zh-CN': '公司电脑上只能运行经批准的 AI 工具。',
    });

    const key = await generateSigningKey();
    const token = await signBundle({ iss: 'https://aigate.example', iat: 1, revision: 1, policy: loaded.policy }, key);
    const verified = await verifyBundle(token, { trustedKeys: [key.publicJwk], lastRevision: 0 });
    expect(verified.ok && verified.payload.policy.spec.rules?.[0]?.message).toEqual({
      en: 'Claude Code may not be used on company machines from 10 July 2026.',
      'zh-CN': '自 2026 年 7 月 10 日起，公司电脑上不得使用 Claude Code。',
    });
  });

  it("give aigate's own reasons in Chinese when the policy gives none", () => {
    const loaded = loadPolicy(POLICY.replace(/ {6}message:\n {8}en: .*\n {8}zh-CN: .*\n/, ''));
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    const compiled = compilePolicy(loaded.policy, builtinCatalog);
    const warned = evaluateInstance(compiled, claude, { os: 'linux' }, EFFECTIVE - 86_400_000);
    expect(warned.message).toBe(
      'Claude Code will be blocked from 2026-07-10 00:00:00 Asia/Shanghai under the policy "ban-claude-code".',
    );
    expect(reasonsByLocale(compiled, warned, 'Claude Code')['zh-CN']).toBe(
      '根据公司政策“ban-claude-code”，自 2026-07-10 00:00:00 Asia/Shanghai 起将禁止使用 Claude Code。',
    );
    expect(reasonFactsOf(warned)).toMatchObject({
      phase: 'warn-window',
      upcomingAction: 'block',
      effectiveAt: EFFECTIVE,
    });
  });

  it('leave older plain-string policies as they were', () => {
    const loaded = loadPolicy(
      POLICY.replace('    locale: zh-CN\n', '')
        .replace(/ {4}message:\n {6}en: .*\n {6}zh-CN: .*\n/, '    message: Only approved AI tools.\n')
        .replace(/ {6}message:\n {8}en: .*\n {8}zh-CN: .*\n/, '      message: Not from July 10.\n'),
    );
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    const compiled = compilePolicy(loaded.policy, builtinCatalog);
    expect(compiled.noticeLocale).toBe('en');
    const blocked = evaluateInstance(compiled, claude, { os: 'linux' }, EFFECTIVE);
    expect(blocked.message).toBe('Not from July 10.');
    // A plain string is the policy's text in every language.
    expect(reasonsByLocale(compiled, blocked, 'Claude Code')).toEqual({
      en: 'Not from July 10.',
      'zh-CN': 'Not from July 10.',
    });
  });

  it('refuse a bad locale and bad message languages, naming the path and the line', () => {
    const loaded = loadPolicy(
      POLICY.replace('locale: zh-CN', 'locale: zh_CN.UTF-8')
        .replace('      en: Only approved', '      english: Only approved')
        .replace('        zh-CN: 自', '        zh-CN: ""\n        x: 自'),
    );
    expect(loaded.ok).toBe(false);
    if (loaded.ok) return;
    expect(loaded.errors).toEqual([
      {
        path: 'spec.notice.locale',
        message: '"zh_CN.UTF-8" is not a language tag (write zh-CN); use a BCP 47 tag such as en or zh-CN',
        line: 8,
        column: 13,
      },
      {
        path: 'spec.notice.message.english',
        message: '"english" is not a language tag; use a BCP 47 tag such as en or zh-CN',
        line: 11,
        column: 16,
      },
      { path: 'spec.rules[0].message.zh-CN', message: 'must not be empty', line: 21, column: 16 },
      {
        path: 'spec.rules[0].message.x',
        message: '"x" is not a language tag; use a BCP 47 tag such as en or zh-CN',
        line: 22,
        column: 12,
      },
    ]);
    const empty = loadPolicy(POLICY.replace(/ {6}message:\n {8}en: .*\n {8}zh-CN: .*\n/, '      message: {}\n'));
    expect(empty.ok === false && empty.errors).toEqual([
      expect.objectContaining({
        path: 'spec.rules[0].message',
        message: 'give the message in at least one language, e.g. { en: "..." }',
      }),
    ]);
  });

  it('warn when the default language has no notice texts', () => {
    const loaded = loadPolicy(POLICY.replace('locale: zh-CN', 'locale: fr'));
    expect(loaded.ok && loaded.warnings).toEqual([
      expect.objectContaining({
        path: 'spec.notice.locale',
        message:
          'aigate has notice texts in en and zh-CN only: employees without one of those languages read "fr" messages inside English notices',
      }),
    ]);
  });
});
