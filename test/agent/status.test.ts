/** What `aigate-agent status` prints for an employee. */
import { describe, expect, it } from 'vitest';

import { renderStatus } from '../../agent/status/render.js';
import type { StatusFile, ToolStatus } from '../../agent/status/status-file.js';

const NOW = Date.parse('2026-06-26T04:00:00Z');

const tool = (overrides: Partial<ToolStatus>): ToolStatus => ({
  toolId: 'claude-code',
  name: 'Claude Code',
  version: '2.1.91',
  channel: 'npm',
  owner: 'alice',
  installPath: '/home/alice/.npm-global/lib/node_modules/@anthropic-ai/claude-code',
  launchers: ['/home/alice/.npm-global/bin/claude'],
  action: 'allow',
  enforce: true,
  phase: 'in-effect',
  enforced: 'none',
  effectiveAt: null,
  upcomingAction: null,
  appliedAt: null,
  until: null,
  nextChangeAt: null,
  decidedBy: 'default default',
  message: 'Claude Code is allowed',
  contact: 'https://it.example.com/ai-tools',
  alternatives: [],
  catalogued: true,
  ...overrides,
});

const status = (tools: ToolStatus[], overrides: Partial<StatusFile> = {}): StatusFile => ({
  version: 1,
  writtenAt: new Date(NOW).toISOString(),
  agentVersion: '0.1.0',
  hostname: 'dev-laptop-1',
  deviceId: 'd-1',
  group: 'engineering',
  serverUrl: 'https://aigate.example.com',
  daemon: { pid: 1234, running: true, cycleMinutes: 10 },
  policy: { name: 'ban-claude-code', revision: 4, mode: 'enforce', timeZone: 'Asia/Shanghai', acceptedAt: null },
  policyProblem: null,
  lastCycleAt: new Date(NOW - 3 * 60_000).toISOString(),
  lastContactAt: new Date(NOW - 3 * 60_000).toISOString(),
  lastContactError: null,
  trustedNow: new Date(NOW).toISOString(),
  clockBehind: false,
  nextChangeAt: '2026-07-09T16:00:00.000Z',
  tools,
  requests: [],
  spool: { pending: 0, dropped: 0 },
  problems: [],
  ...overrides,
});

describe('status for employees', () => {
  it('lists blocked, then warned, then allowed tools with dates, reasons and what to do', () => {
    const text = renderStatus(
      status(
        [
          tool({ toolId: 'qwen-code', name: 'Qwen Code', version: '0.4.1' }),
          tool({
            action: 'warn',
            phase: 'warn-window',
            effectiveAt: '2026-07-09T16:00:00.000Z',
            upcomingAction: 'block',
            enforced: 'warn',
            message: 'Claude Code may not be used from 10 July.',
            alternatives: ['Qwen Code'],
          }),
          tool({
            toolId: 'openai-codex-cli',
            name: 'OpenAI Codex CLI',
            version: '0.155.0',
            action: 'block',
            effectiveAt: '2026-01-01T00:00:00.000Z',
            enforced: 'block',
            appliedAt: new Date(NOW - 2 * 86_400_000).toISOString(),
            message: 'Old Codex versions are blocked.',
          }),
        ],
        {
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
        },
      ),
      NOW,
    );
    expect(text).toBe(
      [
        'aigate agent on dev-laptop-1 (device d-1, group engineering)',
        'Policy: "ban-claude-code" revision 4',
        'Server: https://aigate.example.com, last contact 3 minutes ago',
        'Agent: running (pid 1234), last check 3 minutes ago, next change 2026-07-10 00:00 (Asia/Shanghai)',
        '',
        'BLOCKED  OpenAI Codex CLI 0.155.0 (npm, alice)',
        '         blocked since 2026-01-01 08:00 (Asia/Shanghai)',
        '         Old Codex versions are blocked.',
        '         questions: https://it.example.com/ai-tools',
        '         ask for an exception: aigate-agent request-exception openai-codex-cli --reason "what you need it for"',
        '         applied on this machine 2 days ago',
        '',
        'WARNING  Claude Code 2.1.91 (npm, alice)',
        '         blocked from 2026-07-10 00:00 (Asia/Shanghai) (in 13 days)',
        '         Claude Code may not be used from 10 July.',
        '         use instead: Qwen Code',
        '         questions: https://it.example.com/ai-tools',
        '         ask for an exception: aigate-agent request-exception claude-code --reason "what you need it for"',
        '',
        'ALLOWED  Qwen Code 0.4.1 (npm, alice)',
        '',
        'Exception requests:',
        '  2026-06-25 09:00  claude-code for alice: pending',
        '',
      ].join('\n'),
    );
  });

  it('says plainly when the server is unreachable, the clock is behind, or the policy only monitors', () => {
    const text = renderStatus(
      status([tool({ action: 'block', enforce: false, effectiveAt: '2026-01-01T00:00:00.000Z' })], {
        policy: { name: 'measure', revision: 2, mode: 'monitor', timeZone: 'UTC', acceptedAt: null },
        lastContactError: 'cannot reach https://aigate.example.com/v1/policy: ECONNREFUSED',
        clockBehind: true,
        spool: { pending: 12, dropped: 0 },
      }),
      NOW,
    );
    expect(text).toContain('Policy: "measure" revision 2, monitor mode (nothing is blocked, only reported)');
    expect(text).toContain('(now unreachable: cannot reach https://aigate.example.com/v1/policy: ECONNREFUSED)');
    expect(text).toContain("this computer's clock is behind the server's");
    expect(text).toContain('BLOCKED (monitor only) Claude Code');
    expect(text).toContain('12 events waiting to be sent to the server.');
  });

  it('shows the health, and with no usable policy what the ledger still applies', () => {
    const text = renderStatus(
      status(
        [tool({ action: 'block', enforced: 'block', decidedBy: 'rule ban (as last applied; no usable policy now)' })],
        {
          policy: null,
          policyProblem: 'the cached policy /var/lib/aigate/policy/bundle.jws is not usable: bad signature',
          health: {
            state: 'degraded',
            reasons: [
              {
                code: 'spool-trouble',
                message: 'a tamper event could not be spooled: ENOSPC',
                since: '2026-06-26T03:00:00.000Z',
              },
              { code: 'cycle-errors', message: 'scan: EIO', since: '2026-06-26T03:10:00.000Z' },
            ],
          },
        },
      ),
      NOW,
    );
    expect(text).toContain(
      'Policy: none usable on this machine now; what was last applied stays in force (1 tool blocked)',
    );
    expect(text).not.toContain('nothing is enforced');
    expect(text).toContain('Note: the cached policy /var/lib/aigate/policy/bundle.jws is not usable: bad signature');
    expect(text).toContain(
      'Health: degraded (reported to IT)\n  spool-trouble: a tamper event could not be spooled: ENOSPC\n  cycle-errors: scan: EIO',
    );
    expect(text).toContain('BLOCKED  Claude Code 2.1.91');
    // Nothing applied and no policy: then nothing is enforced, and it says so.
    expect(renderStatus(status([tool({})], { policy: null }), NOW)).toContain(
      'Policy: none received yet (nothing is enforced)',
    );
  });
});
