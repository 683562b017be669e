/** The real agent bin against prepared trees and a real server: shared steps of the end-to-end tests. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { expect } from 'vitest';

import { type Ledger } from '../../agent/enforce/ledger.js';
import type { StatusFile } from '../../agent/status/status-file.js';
import { allowAllYaml, banYaml } from '../support/policy.js';
import { agent, type RunResult } from './helpers.js';
import type { NpmInstall } from './trees.js';

/** Claude Code blocked from `effective` (RFC 3339 or a date), warned for 30 days before. */
export const futureBan = (effective: string, name = 'ban-claude-code') =>
  banYaml(
    name,
    ['claude-code'],
    {
      name: 'ban-claude-code',
      effective,
      warnFor: '30d',
      message: 'Claude Code may not be used on company machines.',
    },
    {
      timezone: 'Asia/Shanghai',
      notice: { contact: 'https://it.example.com/ai-tools', alternatives: ['qwen-code', 'tongyi-lingma'] },
    },
  );

export const pastBan = (name = 'ban-claude-code', effective = '2020-01-01') => futureBan(effective, name);

export const ALLOW_ALL = allowAllYaml();

export interface AgentSetup {
  stateDir: string;
  install: NpmInstall;
  home: string;
  env: NodeJS.ProcessEnv;
}

export function rootsFor(setup: Pick<AgentSetup, 'install' | 'home'>): string[] {
  return ['--npm-prefix', setup.install.prefix, '--home', setup.home, '--path', setup.install.bin];
}

export async function enrollBin(
  serverUrl: string,
  secret: string,
  stateDir: string,
  fingerprint?: string,
): Promise<RunResult> {
  const args = ['enroll', '--server', serverUrl, '--secret', secret, '--state-dir', stateDir];
  if (fingerprint) args.push('--policy-key-fingerprint', fingerprint);
  return agent(args);
}

/** `aigate-agent once` with the scan pointed at the prepared tree. */
export async function once(setup: AgentSetup, env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return agent(
    [
      'once',
      '--state-dir',
      setup.stateDir,
      ...rootsFor(setup),
      '--stop-grace',
      '2',
      '--no-desktop-notify',
      '--log-level',
      'warn',
    ],
    { ...setup.env, ...env },
  );
}

export async function onceOk(setup: AgentSetup, env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  const result = await once(setup, env);
  expect(result.code, `once failed:\n${result.stdout}\n${result.stderr}`).toBe(0);
  return result;
}

export async function readStatus(stateDir: string): Promise<StatusFile> {
  return JSON.parse(await readFile(join(stateDir, 'status.json'), 'utf8')) as StatusFile;
}

export async function readLedger(stateDir: string): Promise<Ledger> {
  return JSON.parse(await readFile(join(stateDir, 'enforcement.json'), 'utf8')) as Ledger;
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => null);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
