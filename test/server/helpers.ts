/** Shared fixtures for the server tests: temp dirs, tool instances and verdicts shaped like real ones. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { ToolInstance } from '../../policies/inventory.js';
import type { Action } from '../../policies/schema.js';
import type { Verdict } from '../../policies/verdict.js';

export async function tempDir(prefix = 'aigate-server-'): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export function npmInstance(
  toolId: string,
  pkg: string,
  version: string | null,
  owner = 'alice',
  overrides: Partial<ToolInstance> = {},
): ToolInstance {
  return {
    toolId,
    name: pkg,
    version,
    channel: 'npm',
    installPath: `/home/${owner}/.npm-global/lib/node_modules/${pkg}`,
    launchers: [`/home/${owner}/.npm-global/bin/${pkg.split('/').pop()}`],
    owner,
    evidence: [`/home/${owner}/.npm-global/lib/node_modules/${pkg}/package.json`],
    ...overrides,
  };
}

export function verdictFor(instance: ToolInstance, action: Action, overrides: Partial<Verdict> = {}): Verdict {
  return {
    toolId: instance.toolId,
    installPath: instance.installPath,
    version: instance.version,
    action,
    enforce: true,
    phase: 'in-effect',
    decidedBy: { kind: 'default', index: null, name: 'default' },
    effectiveAt: null,
    upcomingAction: null,
    until: null,
    message: `${instance.toolId}: ${action}`,
    contact: null,
    alternatives: [],
    nextChangeAt: null,
    ...overrides,
  };
}

/** Eight realistic instances for one machine (the benchmark and the flow tests use them). */
export function eightInstances(owner: string): ToolInstance[] {
  return [
    npmInstance('claude-code', '@anthropic-ai/claude-code', '2.1.91', owner),
    npmInstance('openai-codex-cli', '@openai/codex', '0.155.0', owner),
    npmInstance('gemini-cli', '@google/gemini-cli', '0.21.0', owner),
    npmInstance('qwen-code', '@qwen-code/qwen-code', '0.4.1', owner),
    {
      toolId: 'github-copilot-ide',
      name: 'GitHub Copilot',
      version: '1.388.0',
      channel: 'vscode-extension',
      installPath: `/home/${owner}/.vscode/extensions/github.copilot-1.388.0`,
      launchers: [],
      owner,
      evidence: [`/home/${owner}/.vscode/extensions/github.copilot-1.388.0/package.json`],
      host: 'vscode',
    },
    {
      toolId: 'cline',
      name: 'Cline',
      version: '3.38.0',
      channel: 'vscode-extension',
      installPath: `/home/${owner}/.cursor/extensions/saoudrizwan.claude-dev-3.38.0`,
      launchers: [],
      owner,
      evidence: [`/home/${owner}/.cursor/extensions/saoudrizwan.claude-dev-3.38.0/package.json`],
      host: 'cursor',
    },
    {
      toolId: 'aider',
      name: 'aider-chat',
      version: '0.86.1',
      channel: 'pipx',
      installPath: `/home/${owner}/.local/share/pipx/venvs/aider-chat`,
      launchers: [`/home/${owner}/.local/bin/aider`],
      owner,
      evidence: [
        `/home/${owner}/.local/share/pipx/venvs/aider-chat/lib/python3.12/site-packages/aider_chat-0.86.1.dist-info/METADATA`,
      ],
    },
    {
      toolId: 'claude-code',
      name: 'Claude Code (native)',
      version: '2.1.92',
      channel: 'native',
      installPath: `/home/${owner}/.local/share/claude/versions/2.1.92`,
      launchers: [`/home/${owner}/.local/bin/claude`],
      owner,
      evidence: [`/home/${owner}/.local/share/claude/versions/2.1.92`],
      running: false,
    },
  ];
}
