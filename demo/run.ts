/**
 * `npm run demo`: the whole product in one command. Starts a real aigate server on a free port
 * with a temporary data folder, prepares a sandbox "laptop" with fake-but-realistic installs
 * (Claude Code and Qwen Code from npm), enrolls the real agent, and walks through a ban: the
 * warning while the date approaches, the block after it, an employee's exception request, and
 * the restore, checked byte for byte. Everything happens under one temporary folder, removed at
 * the end; nothing on this machine outside it is touched.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { formatInZone, formatSpan, parseDateOrInstant } from '../policies/time.js';
import { hashTree, openUp } from '../test/agent/helpers.js';
import { claudeCodeNpm, npmTool } from '../test/agent/trees.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BIN = {
  server: join(ROOT, 'dist/server/cli/aigate-server.js'),
  admin: join(ROOT, 'dist/server/cli/aigate.js'),
  agent: join(ROOT, 'dist/agent/cli.js'),
};

const bold = (text: string) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);
const dim = (text: string) => (process.stdout.isTTY ? `\x1b[2m${text}\x1b[0m` : text);
let step = 0;
const heading = (text: string) => console.log(`\n${bold(`━━ ${++step}. ${text}`)}`);
const say = (text: string) => console.log(text);
const indent = (text: string, prefix = '   ') =>
  text
    .replace(/\n+$/, '')
    .split('\n')
    .map((line) => `${prefix}${line}`)
    .join('\n');

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function exec(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs a command, shows it and what it printed; fails the demo on an unexpected exit code. */
async function show(
  label: string,
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; expect?: number; quiet?: boolean } = {},
): Promise<Ran> {
  say(dim(`   $ ${label}`));
  const ran = await exec(command, args, options.env);
  if (!options.quiet) {
    if (ran.stdout.trim()) say(indent(ran.stdout));
    if (ran.stderr.trim()) say(indent(ran.stderr, '   │ '));
  }
  if (ran.code !== (options.expect ?? 0))
    throw new Error(
      `${label} exited with ${ran.code} (expected ${options.expect ?? 0}):\n${ran.stdout}\n${ran.stderr}`,
    );
  return ran;
}

async function startServer(
  dataDir: string,
): Promise<{ child: ChildProcess; url: string; token: string; fingerprint: string }> {
  const child = spawn(
    process.execPath,
    [BIN.server, 'start', '--data', dataDir, '--port', '0', '--log-level', 'warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: string[] = [];
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      const listening = /aigate-server listening on (http:\/\/\S+)/.exec(line);
      if (!listening) return;
      const text = lines.join('\n');
      const token = /aigt_[A-Za-z0-9_-]{43}/.exec(text)?.[0];
      const fingerprint = /policy key fingerprint[^:]*: (\S+)/.exec(text)?.[1];
      if (!token || !fingerprint) return reject(new Error(`unexpected server output:\n${text}`));
      resolve({ child, url: listening[1]!, token, fingerprint });
    });
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}:\n${lines.join('\n')}`)));
  });
}

const ZONE = 'Asia/Shanghai';

/**
 * A ban date for the demo: the date in ZONE whose midnight lies between 10.5 and 11.5 days from
 * `nowMs`, so the countdown (whole days, rounded down) reads the same for the hours a demo takes.
 */
function upcomingMidnight(nowMs: number): { date: string; epochMs: number } {
  const date = formatInZone(nowMs + 11.5 * 86_400_000, ZONE).slice(0, 10);
  const parsed = parseDateOrInstant(date, ZONE);
  if (!parsed.ok) throw new Error(`cannot read the demo's ban date ${date}: ${parsed.error}`);
  return { date, epochMs: parsed.epochMs };
}

const policy = (effective: string, warnFor: string) => `apiVersion: aigate/v1
kind: Policy
metadata:
  name: ban-claude-code
  description: Claude Code is replaced by approved tools
spec:
  timezone: ${ZONE}
  default: allow
  notice:
    contact: https://it.example.com/ai-tools
    alternatives: [qwen-code, tongyi-lingma]
  rules:
    - name: ban-claude-code
      tools: [claude-code]
      action: block
      effective: ${effective}
      warnFor: ${warnFor}
      message:
        en: Claude Code may not be used on company machines; please move to an approved tool.
        zh-CN: 公司电脑上不得使用 Claude Code，请改用经批准的工具。
    - tools: [qwen-code, tongyi-lingma]
      action: allow
`;

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'aigate-demo-'));
  let server: ChildProcess | null = null;
  let session: ChildProcess | null = null;
  try {
    say(bold('aigate demo: a ban on Claude Code, from warning to block to restore'));
    say(dim(`everything happens under ${work} and is removed at the end`));

    heading('Start the policy server (a real aigate-server, temporary data folder, free port)');
    const started = await startServer(join(work, 'server'));
    server = started.child;
    const adminEnv = {
      AIGATE_SERVER: started.url,
      AIGATE_TOKEN: started.token,
      AIGATE_CONFIG: join(work, 'admin.json'),
    };
    say(`   listening on ${started.url}; policy key fingerprint ${started.fingerprint}`);

    heading('A sandbox laptop: Claude Code and Qwen Code installed with npm -g');
    const home = join(work, 'laptop', 'home', 'alice');
    const prefix = join(home, '.npm-global');
    const claude = await claudeCodeNpm(prefix, '2.1.91');
    await npmTool(prefix, '@qwen-code/qwen-code', '0.4.1', 'qwen', 'qwen-code', '0.4.1 (Qwen Code)');
    const laptop = join(work, 'laptop');
    const before = await hashTree(laptop);
    say(`   ${claude.launcher} -> ../lib/node_modules/@anthropic-ai/claude-code/cli.js`);
    say(
      `   ${before.length} files, folders and links recorded (content hash, mode, owner, link target) to compare at the end`,
    );
    const state = join(work, 'agent-state');
    const roots = ['--npm-prefix', prefix, '--home', home, '--path', join(prefix, 'bin')];
    const once = (expect = 0) =>
      show(
        'aigate-agent once',
        process.execPath,
        [
          BIN.agent,
          'once',
          '--state-dir',
          state,
          ...roots,
          '--no-desktop-notify',
          '--log-level',
          'error',
          '--stop-grace',
          '2',
        ],
        { expect },
      );
    const runClaude = (expect: number) => show('claude --version', claude.launcher, ['--version'], { expect });

    heading('IT creates an enroll secret; the laptop enrolls and pins the policy key');
    const secret = (
      await show(
        'aigate enroll-secret create --group engineering',
        process.execPath,
        [BIN.admin, 'enroll-secret', 'create', '--group', 'engineering'],
        { env: adminEnv, quiet: true },
      )
    ).stdout.match(/aiges_[A-Za-z0-9_-]+/)![0];
    await show(
      `aigate-agent enroll --server ${started.url} --secret … --policy-key-fingerprint ${started.fingerprint}`,
      process.execPath,
      [
        BIN.agent,
        'enroll',
        '--server',
        started.url,
        '--secret',
        secret,
        '--state-dir',
        state,
        '--policy-key-fingerprint',
        started.fingerprint,
      ],
    );

    // The policy's bare date is midnight in its time zone (Asia/Shanghai), not in UTC: the heading's
    // span is computed from that same instant, so it says what the notice and status say.
    const ban = upcomingMidnight(Date.now());
    heading(
      `IT publishes the ban: effective ${ban.date} (in ${formatSpan(ban.epochMs - Date.now())}), with a 30-day warning`,
    );
    await writeFile(join(work, 'ban.yaml'), policy(ban.date, '30d'));
    await show(
      'aigate policy publish ban.yaml',
      process.execPath,
      [BIN.admin, 'policy', 'publish', join(work, 'ban.yaml')],
      { env: adminEnv },
    );
    await once();
    say(
      '\n   Alice runs Claude Code: she sees the warning, and the tool still runs (output and exit code pass through):',
    );
    await runClaude(0);
    say('\n   A colleague whose locale is Simplified Chinese reads the same notice in Chinese:');
    await show('LANG=zh_CN.UTF-8 claude --version', claude.launcher, ['--version'], {
      env: { LC_ALL: '', LC_MESSAGES: '', LANG: 'zh_CN.UTF-8' },
    });
    await show('aigate-agent status', process.execPath, [BIN.agent, 'status', '--state-dir', state]);

    heading('The date has come: IT moves the ban into the past');
    session = spawn(process.execPath, [join(claude.installPath, 'cli.js'), 'serve'], {
      cwd: claude.installPath,
      stdio: 'ignore',
    });
    const sessionEnded = new Promise<string>((resolve) =>
      session!.once('exit', (code, signal) => resolve(signal ?? `exit ${code}`)),
    );
    say(`   (a Claude Code session is running: pid ${session.pid})`);
    await writeFile(join(work, 'ban.yaml'), policy('2026-01-10', '14d'));
    await show(
      'aigate policy publish ban.yaml',
      process.execPath,
      [BIN.admin, 'policy', 'publish', join(work, 'ban.yaml')],
      { env: adminEnv },
    );
    await once();
    say(`   the running session was stopped (${await sessionEnded})`);
    say('\n   Alice runs Claude Code again: the block notice, exit code 126:');
    await runClaude(126);
    const scope = join(prefix, 'lib', 'node_modules', '@anthropic-ai');
    await show(`ls -la ${scope}`, 'ls', ['-la', scope]);
    say(
      '   the package folder is quarantined in place (renamed beside itself, mode 000, owner root); nothing was deleted.',
    );
    say('   Qwen Code, an approved alternative, is untouched:');
    await show('qwen --version', join(prefix, 'bin', 'qwen'), ['--version']);

    heading('Alice asks for an exception; IT approves it');
    // The demo's "Alice" is the account running the demo: the agent reports that account in its
    // next check-in (the server accepts requests only from users the device reported), then files it.
    const asked = await show('aigate-agent request-exception claude-code --reason "…"', process.execPath, [
      BIN.agent,
      'request-exception',
      'claude-code',
      '--reason',
      'Evaluating Claude Code for the security team (SEC-1234)',
      '--state-dir',
      state,
    ]);
    // (In English or Chinese, as the demo's locale asks: see the README's notices.)
    const reference = /(?:request|reference|申请编号) ([0-9a-f-]{36})/.exec(asked.stdout)?.[1];
    if (!reference) throw new Error(`request-exception printed no reference:\n${asked.stdout}`);
    if (/is saved|已保存/.test(asked.stdout)) await once();
    const pending = await show('aigate exceptions list', process.execPath, [BIN.admin, 'exceptions', 'list'], {
      env: adminEnv,
    });
    if (!pending.stdout.includes(reference))
      throw new Error(`IT cannot find the reference ${reference} the employee was given:\n${pending.stdout}`);
    say(
      `   IT finds the request under the reference Alice was given (${reference}). Its USER is the account running the demo (${userInfo().username}), which plays Alice here.`,
    );
    // For the device: the exception covers the laptop, whichever of its users runs the tool.
    await show(
      `aigate exceptions approve ${reference} --scope device --reason "approved for the evaluation"`,
      process.execPath,
      [BIN.admin, 'exceptions', 'approve', reference, '--scope', 'device', '--reason', 'approved for the evaluation'],
      { env: adminEnv },
    );

    heading('The laptop receives the new revision and restores Claude Code exactly');
    await once();
    await runClaude(0);
    const after = await hashTree(laptop);
    const differences = after.filter((line, i) => line !== before[i]).length + Math.abs(after.length - before.length);
    if (differences !== 0)
      throw new Error(
        `the restore is not byte-identical:\n${after.filter((line) => !before.includes(line)).join('\n')}`,
      );
    say(
      `   ✓ all ${before.length} files, folders and links are byte-identical to before: content, mode, owner and link targets`,
    );
    await show('aigate devices', process.execPath, [BIN.admin, 'devices'], { env: adminEnv });

    say(`\n${bold('Done.')} Read the README's "The agent (for employees and IT)" for how to run it for real.`);
  } finally {
    session?.kill('SIGKILL');
    if (server && server.exitCode === null) {
      const stopped = new Promise((resolve) => server!.once('exit', resolve));
      server.kill('SIGTERM');
      await stopped;
    }
    await openUp(work); // a failed run may leave a quarantined (mode 000) folder
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`\ndemo failed: ${(error as Error).message}`);
  process.exitCode = 1;
});
