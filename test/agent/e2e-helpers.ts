/** The real agent bin against prepared trees and a real server: shared steps of the end-to-end tests. */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { expect } from 'vitest';

import { type Ledger } from '../../agent/enforce/ledger.js';
import type { StatusFile } from '../../agent/status/status-file.js';
import { allowAllYaml, banYaml } from '../support/policy.js';
import {
  agent,
  agentBin,
  createEnrollSecret,
  type RunResult,
  startTestServer,
  tempDir,
  type TestServer,
} from './helpers.js';
import { claudeCodeNpm, isRoot, type NpmInstall, OWNER_GID, OWNER_UID } from './trees.js';

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

/** A daemon (`aigate-agent run`) on `setup`'s trees: its process and everything it printed so far. */
export interface RunningDaemon {
  child: ChildProcess;
  output: () => string;
  /** SIGTERM, then its exit code. */
  stop: () => Promise<number | null>;
}

/** Starts `aigate-agent run` scanning `setup`'s trees, with `flags` (cycle, poll wait, sentinel...). */
export function startDaemon(setup: AgentSetup, flags: string[]): RunningDaemon {
  const child = spawn(
    process.execPath,
    [agentBin(), 'run', '--state-dir', setup.stateDir, ...rootsFor(setup), ...flags],
    {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return {
    child,
    output: () => output,
    stop: () => {
      child.kill('SIGTERM');
      return new Promise((resolve) =>
        child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code)),
      );
    },
  };
}

/** Runs the agent bin as the trees' owner (when the tests run as root), as an employee would, without root. */
export function agentAsEmployee(args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [agentBin(), ...args], {
      env: { PATH: process.env.PATH ?? '' },
      ...(isRoot ? { uid: OWNER_UID, gid: OWNER_GID } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/**
 * A temp folder any user can enter (employees reach the state folder), a real server in it, a
 * Claude Code npm install and an enrolled state folder: what the daemon tests start from.
 */
export async function enrolledSetup(
  prefix: string,
): Promise<{ dir: Awaited<ReturnType<typeof tempDir>>; server: TestServer; setup: AgentSetup }> {
  const dir = await tempDir(prefix);
  await chmod(dir.path, 0o755);
  const server = await startTestServer(join(dir.path, 'server'));
  const tree = join(dir.path, 'tree');
  const setup: AgentSetup = {
    stateDir: join(dir.path, 'state'),
    install: await claudeCodeNpm(join(tree, 'npm-global')),
    home: join(tree, 'home', 'alice'),
    env: {},
  };
  const enrolled = await enrollBin(server.url, await createEnrollSecret(server.admin), setup.stateDir);
  expect(enrolled.code, enrolled.stderr).toBe(0);
  return { dir, server, setup };
}
