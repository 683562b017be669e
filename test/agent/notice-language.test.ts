/**
 * Notices in the employee's language (issue 14): a real block stub, put in place by the
 * Enforcer, run as an unprivileged user with LANG=zh_CN.UTF-8 prints the Chinese notice; the
 * stub's shell mapping of locale names agrees with noticeLocaleOf; warn stubs count down in
 * Chinese; an employee's `aigate-agent status` reads in their language.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { noticeLocaleOf } from '../../policies/notice-locale.js';
import { type Employee, employee } from './employee.js';
import { compile, DAY, enforce, isoDay, makeEnforcer, npmInstanceOf } from './enforce-helpers.js';
import { claudeCodeNpm, isRoot } from './trees.js';

const USER = 'aigtnotice';

const policy = (effective: string, locale: string, warnFor = '') => `apiVersion: aigate/v1
kind: Policy
metadata:
  name: ban-claude-code
spec:
  timezone: Asia/Shanghai
  default: allow
  notice:
    locale: ${locale}
    contact: https://it.example.com/ai-tools
    alternatives: [qwen-code, tongyi-lingma]
  rules:
    - name: ban-claude-code
      tools: [claude-code]
      action: block
      effective: ${effective}
${warnFor ? `      warnFor: ${warnFor}\n` : ''}      message:
        en: The company no longer permits Claude Code on its computers.
        zh-CN: 公司已不再允许在公司电脑上使用 Claude Code。
`;

let dir: string;
let user: Employee | null = null;

/** Runs `launcher` as the unprivileged user with exactly `env` (plus PATH). */
const runAsUser = (launcher: string, env: Record<string, string>) => user!.run(launcher, ['--version'], env);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aigate-notice-language-'));
  // The user must reach the launcher: the sandbox is readable by everyone (its files are not secret).
  await chmod(dir, 0o755);
  if (isRoot) user = employee(USER);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A Claude Code install with the Enforcer's stub for `yaml` on its launcher. */
async function stubbed(name: string, yaml: string): Promise<string> {
  const root = join(dir, name, 'tree');
  const install = await claudeCodeNpm(join(root, 'npm-global'));
  const { enforcer } = await makeEnforcer(join(dir, name, 'state'));
  const summary = await enforce(enforcer, compile(yaml), [npmInstanceOf(install)]);
  expect(summary).toMatchObject({ applied: 1, failed: 0 });
  // Then the user's own, as on an employee's machine (a warned tool must still start for them).
  // (A blocked install is quarantined: only its launchers are left to reach.)
  const reach = [join(root, 'npm-global', 'bin'), ...(existsSync(install.installPath) ? [install.installPath] : [])];
  const owned = spawnSync('chown', ['-R', `${user!.uid}:${user!.gid}`, ...reach]);
  if (owned.status !== 0) throw new Error(`chown: ${owned.stderr.toString()}`);
  await chmod(join(dir, name), 0o755);
  return install.launcher;
}

describe.runIf(isRoot && process.platform !== 'win32')('launcher stubs in the employee language', () => {
  it('a blocked tool started by a user with LANG=zh_CN.UTF-8 says so in Chinese, and in English for others', async () => {
    const launcher = await stubbed('block', policy('2026-01-10', 'en'));

    const chinese = runAsUser(launcher, { LANG: 'zh_CN.UTF-8' });
    expect(chinese.code).toBe(126);
    expect(chinese.stdout).toBe('');
    expect(chinese.stderr).toContain('aigate：本机已禁止使用 Claude Code。');
    expect(chinese.stderr).toContain('  公司已不再允许在公司电脑上使用 Claude Code。');
    expect(chinese.stderr).toContain(
      '  根据公司政策“ban-claude-code”，自 2026-01-10 00:00（Asia/Shanghai）起禁止使用。',
    );
    expect(chinese.stderr).toContain('  可以改用这些已批准的工具：Qwen Code、Tongyi Lingma');
    expect(chinese.stderr).toContain('  如有疑问，请联系：https://it.example.com/ai-tools');
    expect(chinese.stderr).toContain('    aigate-agent request-exception claude-code --reason "说明你的用途"');
    expect(chinese.stderr).toContain('  没有删除任何文件：如果 Claude Code 重新获准使用，它会原样恢复。');
    expect(chinese.stderr).not.toContain('blocked');

    const english = runAsUser(launcher, { LANG: 'en_US.UTF-8' });
    expect(english.code).toBe(126);
    expect(english.stderr).toContain('aigate: Claude Code is blocked on this computer.');
    expect(english.stderr).toContain('  The company no longer permits Claude Code on its computers.');
    expect(english.stderr).toContain('  Approved alternatives: Qwen Code, Tongyi Lingma');

    // LC_ALL wins over LANG, LC_MESSAGES over LANG; an empty LC_ALL counts as unset.
    expect(runAsUser(launcher, { LC_ALL: 'en_US.UTF-8', LANG: 'zh_CN.UTF-8' }).stderr).toContain(
      'Claude Code is blocked on this computer.',
    );
    expect(runAsUser(launcher, { LC_MESSAGES: 'zh_SG.UTF-8', LANG: 'en_US.UTF-8' }).stderr).toContain(
      '本机已禁止使用 Claude Code',
    );
    expect(runAsUser(launcher, { LC_ALL: '', LANG: 'zh_CN' }).stderr).toContain('本机已禁止使用 Claude Code');
  });

  it("falls back to the policy's language, then English, and maps locale names as noticeLocaleOf does", async () => {
    const zhDefault = await stubbed('zh-default', policy('2026-01-10', 'zh-CN'));
    expect(runAsUser(zhDefault, {}).stderr).toContain('本机已禁止使用 Claude Code');
    expect(runAsUser(zhDefault, { LANG: 'fr_FR.UTF-8' }).stderr).toContain('本机已禁止使用 Claude Code');
    expect(runAsUser(zhDefault, { LANG: 'en_GB.UTF-8' }).stderr).toContain('Claude Code is blocked');

    const enDefault = await stubbed('en-default', policy('2026-01-10', 'en'));
    const names = [
      'zh_CN.UTF-8',
      'zh_CN',
      'zh_CN.GB18030',
      'zh-Hans',
      'zh_SG',
      'zh',
      'zh_TW.UTF-8',
      'zh_HK.Big5',
      'zh-Hant-TW',
      'en_US.UTF-8',
      'en',
      'C.UTF-8',
      'POSIX',
      'fr_FR.UTF-8',
      'de',
    ];
    const shown = names.map((name) =>
      runAsUser(enDefault, { LANG: name }).stderr.includes('本机已禁止使用') ? 'zh-CN' : 'en',
    );
    expect(shown).toEqual(names.map((name) => noticeLocaleOf(name) ?? 'en'));
  });

  it('a warn stub counts down in Chinese', async () => {
    const effective = isoDay(Date.now() + 10 * DAY);
    const launcher = await stubbed('warn', policy(effective, 'en', '30d'));
    const warned = runAsUser(launcher, { LANG: 'zh_CN.UTF-8' });
    // (That it then runs the tool is enforce.test.ts's: here a sentinel of another test on the
    // same machine may stop the fake Claude Code as soon as it starts.)
    expect(warned.stderr).toContain('aigate：本机即将禁止使用 Claude Code。');
    expect(warned.stderr).toContain(
      `  自 ${effective} 00:00（Asia/Shanghai）起，Claude Code 2.1.91 将无法在本机启动。`,
    );
    expect(warned.stderr).toMatch(/ {2}距离生效还有 (\d+ 天|1 天 \d+ 小时)。/);
    expect(warned.stderr).toContain('  目前 Claude Code 仍可正常启动。');
  });
});
