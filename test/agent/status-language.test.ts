/**
 * `aigate-agent status` and `request-exception` in the employee's language (issue 14): the text
 * in Simplified Chinese, and the real command run as an unprivileged user with LANG=zh_CN.UTF-8,
 * with the policy's default language when the user's locale names none.
 */
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { renderStatus } from '../../agent/status/render.js';
import { type StatusFile, type ToolStatus, writeStatusFile } from '../../agent/status/status-file.js';
import { agentBin } from '../support/agent-bin.js';
import { type Employee, employee } from './employee.js';
import { isRoot } from './trees.js';

const USER = 'aigtnotice';
const NOW = Date.parse('2026-06-26T04:00:00Z');

const claude: ToolStatus = {
  toolId: 'claude-code',
  name: 'Claude Code',
  version: '2.1.91',
  channel: 'npm',
  owner: 'alice',
  installPath: '/home/alice/.npm-global/lib/node_modules/@anthropic-ai/claude-code',
  launchers: ['/home/alice/.npm-global/bin/claude'],
  action: 'warn',
  enforce: true,
  phase: 'warn-window',
  enforced: 'warn',
  effectiveAt: '2026-07-09T16:00:00.000Z',
  upcomingAction: 'block',
  appliedAt: null,
  until: null,
  nextChangeAt: '2026-07-09T16:00:00.000Z',
  decidedBy: 'rule ban-claude-code',
  message: 'Claude Code may not be used from 10 July.',
  messages: { en: 'Claude Code may not be used from 10 July.', 'zh-CN': '自 7 月 10 日起不得使用 Claude Code。' },
  contact: 'https://it.example.com/ai-tools',
  alternatives: ['Qwen Code', 'Tongyi Lingma'],
  catalogued: true,
};

const { messages: _messages, ...withoutMessages } = claude;
/** From an older status file: no per-language reasons, so the English one is shown. */
const codex: ToolStatus = {
  ...withoutMessages,
  toolId: 'openai-codex-cli',
  name: 'OpenAI Codex CLI',
  version: '0.155.0',
  action: 'block',
  phase: 'in-effect',
  enforced: 'block',
  effectiveAt: '2026-01-01T00:00:00.000Z',
  upcomingAction: null,
  appliedAt: new Date(NOW - 2 * 86_400_000).toISOString(),
  message: 'Old Codex versions are blocked.',
  alternatives: [],
};

const status = (overrides: Partial<StatusFile> = {}): StatusFile => ({
  version: 1,
  writtenAt: new Date(NOW).toISOString(),
  agentVersion: '0.1.0',
  hostname: 'dev-laptop-1',
  deviceId: 'd-1',
  group: 'engineering',
  serverUrl: 'https://aigate.example.com',
  daemon: { pid: 1234, running: true, cycleMinutes: 10 },
  policy: {
    name: 'ban-claude-code',
    revision: 4,
    mode: 'enforce',
    timeZone: 'Asia/Shanghai',
    noticeLocale: 'en',
    acceptedAt: null,
  },
  policyProblem: null,
  lastCycleAt: new Date(NOW - 3 * 60_000).toISOString(),
  lastContactAt: new Date(NOW - 3 * 60_000).toISOString(),
  lastContactError: null,
  trustedNow: new Date(NOW).toISOString(),
  clockBehind: true,
  nextChangeAt: '2026-07-09T16:00:00.000Z',
  tools: [codex, claude],
  requests: [
    {
      id: 'r1',
      serverId: 's1',
      toolId: 'claude-code',
      user: 'alice',
      status: 'pending',
      requestedAt: '2026-06-25T09:00:00.000Z',
      decidedAt: null,
      note: null,
    },
  ],
  spool: { pending: 1, dropped: 0 },
  problems: [],
  ...overrides,
});

describe('status in Simplified Chinese', () => {
  it('says every line in Chinese, with the reason the policy gives in Chinese', () => {
    expect(renderStatus(status(), NOW, 'zh-CN')).toBe(
      [
        'aigate 代理程序，主机 dev-laptop-1（设备 d-1，分组 engineering）',
        '策略：“ban-claude-code”第 4 版',
        '服务器：https://aigate.example.com，最近联系：3 分钟前',
        '代理程序：运行中（进程号 1234），最近检查：3 分钟前，下次变更：2026-07-10 00:00（Asia/Shanghai）',
        '注意：本机时钟比服务器慢；aigate 以服务器时间为准。',
        '',
        '禁止使用 OpenAI Codex CLI 0.155.0 (npm, alice)',
        '         自 2026-01-01 08:00（Asia/Shanghai）起禁止使用',
        '         Old Codex versions are blocked.',
        '         如有疑问，请联系：https://it.example.com/ai-tools',
        '         申请例外：aigate-agent request-exception openai-codex-cli --reason "说明你的用途"',
        '         已在本机生效：2 天前',
        '',
        '使用警告 Claude Code 2.1.91 (npm, alice)',
        '         自 2026-07-10 00:00（Asia/Shanghai）起禁止使用（还有 13 天）',
        '         自 7 月 10 日起不得使用 Claude Code。',
        '         请改用：Qwen Code、Tongyi Lingma',
        '         如有疑问，请联系：https://it.example.com/ai-tools',
        '         申请例外：aigate-agent request-exception claude-code --reason "说明你的用途"',
        '',
        '例外申请：',
        '  2026-06-25 09:00  claude-code（用户 alice）：待审批',
        '',
        '1 个事件等待发送到服务器。',
        '',
      ].join('\n'),
    );
  });

  it('keeps English for English readers, with the English reason', () => {
    const text = renderStatus(status(), NOW, 'en');
    expect(text).toContain('WARNING  Claude Code 2.1.91 (npm, alice)');
    expect(text).toContain('         Claude Code may not be used from 10 July.');
    expect(text).toContain('1 event waiting to be sent to the server.');
  });
});

let dir: string;
let user: Employee | null = null;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aigate-status-language-'));
  await chmod(dir, 0o755);
  if (isRoot) user = employee(USER);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `aigate-agent ARGS --state-dir STATE` as the unprivileged user with exactly `env` (plus PATH). */
const agentAsUser = (args: string[], state: string, env: Record<string, string>) =>
  user!.run(process.execPath, [agentBin(), ...args, '--state-dir', state], env);

describe.runIf(isRoot && process.platform === 'linux')('the real commands, run by an employee', () => {
  it('status reads in Chinese for LANG=zh_CN.UTF-8, and in the policy language when the locale names none', async () => {
    const state = join(dir, 'state');
    await mkdir(state, { mode: 0o755 });
    const file = join(state, 'status.json');
    await writeStatusFile(file, status({ daemon: { pid: 1234, running: false, cycleMinutes: 10 } }));

    const chinese = agentAsUser(['status'], state, { LANG: 'zh_CN.UTF-8' });
    expect(chinese.stderr).toBe('');
    expect(chinese.code).toBe(0);
    expect(chinese.stdout).toContain('策略：“ban-claude-code”第 4 版');
    expect(chinese.stdout).toContain('使用警告 Claude Code 2.1.91 (npm, alice)');
    expect(chinese.stdout).toContain('         自 7 月 10 日起不得使用 Claude Code。');
    expect(chinese.stdout).toContain('代理程序：未运行');

    expect(agentAsUser(['status'], state, { LANG: 'en_US.UTF-8' }).stdout).toContain('WARNING  Claude Code');
    // No locale: the policy's default language (English here, then Chinese).
    expect(agentAsUser(['status'], state, {}).stdout).toContain('WARNING  Claude Code');
    const zhPolicy = status({ daemon: { pid: 1234, running: false, cycleMinutes: 10 } });
    zhPolicy.policy = { ...zhPolicy.policy!, noticeLocale: 'zh-CN' };
    await writeStatusFile(file, zhPolicy);
    expect(agentAsUser(['status'], state, { LANG: 'C.UTF-8' }).stdout).toContain('使用警告 Claude Code');
    expect(agentAsUser(['status'], state, { LANG: 'en_US.UTF-8' }).stdout).toContain('WARNING  Claude Code');
  });

  it('request-exception answers in Chinese', async () => {
    const state = join(dir, 'no-agent');
    await mkdir(state, { mode: 0o755 });
    const noReason = agentAsUser(['request-exception', 'claude-code'], state, { LANG: 'zh_CN.UTF-8' });
    expect(noReason.code).not.toBe(0);
    expect(noReason.stderr).toContain('请用 --reason "..." 说明你为什么需要它（IT 会据此决定）');
    const notSetUp = agentAsUser(['request-exception', 'claude-code', '--reason', '评估'], state, {
      LANG: 'zh_CN.UTF-8',
    });
    expect(notSetUp.stderr).toContain(`本机没有安装 aigate 代理程序（${join(state, 'requests')} 不存在）`);
    const unknown = agentAsUser(['request-exception', 'claud', '--reason', '评估'], state, { LANG: 'zh_CN.UTF-8' });
    expect(unknown.stderr).toContain('aigate 不认识“claud”这个工具。');
  });
});
