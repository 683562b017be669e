#!/usr/bin/env node
/**
 * `aigate-server start`: open (or create) the data directory, listen, and shut down cleanly on
 * SIGINT/SIGTERM. On the first start it prints the bootstrap admin token, once, with the next
 * steps; logs (JSON, tokens redacted) go to stdout too, so the token is printed outside them.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';

import { parseDuration } from '../../policies/time.js';
import type { AigateServer } from '../app.js';
import type { ServerOptions } from '../config.js';
import type { Role } from '../store/tokens.js';
import { isMainModule } from './is-main.js';
import { type Output, processOutput } from './output.js';
import { SERVER_VERSION } from './version.js';

// The server itself (fastify, SQLite, the stores, node-cron) is imported when a command runs,
// so --help and --version answer at once.

export interface StartOptions {
  data: string;
  host: string;
  port: number;
  tlsCert?: string;
  tlsKey?: string;
  logLevel: NonNullable<ServerOptions['logLevel']>;
  trustProxy?: boolean;
  rateDevice?: number;
  rateToken?: number;
  rateEnroll?: number;
  staleAfter?: number;
  eventRetention?: number;
  rollupSchedule?: string;
  fingerprintCorroboration?: number;
}

export const DEFAULT_PORT = 8080;

const perMinute = (name: string) => (value: string) => {
  if (!/^[1-9]\d{0,8}$/.test(value))
    throw new InvalidArgumentError(`${name} must be a positive whole number of requests per minute`);
  return Number(value);
};

const duration = (name: string) => (value: string) => {
  const parsed = parseDuration(value);
  if (!parsed.ok) throw new InvalidArgumentError(`${name}: ${parsed.error}`);
  return parsed.ms;
};

const port = (value: string) => {
  if (!/^\d+$/.test(value) || Number(value) > 65535)
    throw new InvalidArgumentError('--port must be a number from 0 to 65535');
  return Number(value);
};

/**
 * What the first start prints once: the bootstrap token and the steps that follow, written to
 * be pasted as they are from a checkout (`npx`; test/newcomer.test.ts runs them), with the enroll
 * secret kept in a file (out of shell history, the process list and the checkout) and the policy
 * key fingerprint agents pin.
 */
export function firstStartMessage(url: string, token: string, fingerprint: string, dataDir: string): string {
  return [
    '',
    `aigate-server: first start; created the database and the policy signing key in ${dataDir}`,
    '',
    'Bootstrap admin token. It is shown only now; store it somewhere safe:',
    '',
    `    ${token}`,
    '',
    `Dashboard: ${url}/ui (sign in with the token)   API documentation: ${url}/docs`,
    `policy key fingerprint (agents pin it at enrollment): ${fingerprint}`,
    '',
    'Next steps (from this checkout; once installed, drop the "npx "):',
    `  1. log in:                  npx aigate login --server ${url} --token ${token}`,
    '  2. an admin token for each person (log in with your own, then revoke the bootstrap one with npx aigate tokens revoke <id>):',
    '                              npx aigate tokens create --name alice --role admin',
    '  3. check and publish a policy:',
    '                              npx aigate policy validate policies/examples/ban-claude-code.yaml',
    '                              npx aigate policy publish policies/examples/ban-claude-code.yaml',
    '  4. an enroll secret, kept in a file (mode 0600, outside the checkout) rather than on command lines:',
    '                              npx aigate enroll-secret create --group engineering --expires 7d --secret-file ~/aigate-enroll-secret',
    '  5. on each machine, as root, with the secret file copied there (the agent pins the policy key):',
    `                              npx aigate-agent enroll --server ${url} --secret-file ~/aigate-enroll-secret \\`,
    `                                --policy-key-fingerprint ${fingerprint}`,
    '  6. a first cycle now, as root (the installed agent service then runs on its own), and the result.',
    '     The cycle scans and applies the policy: a banned tool it finds is quarantined. For a trial, give --home',
    '     your own home (/Users/<you> on macOS): it then reads that home only, not the other homes nor',
    '     system folders (of its PATH, only folders inside that home). Without --home it acts on every home.',
    '     To only list what it would find, changing nothing, run npx aigate-agent scan instead.',
    '                              npx aigate-agent once --home /home/<you>',
    '                              npx aigate devices',
    '',
    'Another port or address: aigate-server start --port 9090 --host 0.0.0.0 (npm start -- --port 9090);',
    'serve HTTPS with --tls-cert/--tls-key, or behind a TLS proxy, before enrolling other machines.',
    '',
  ].join('\n');
}

async function start(options: StartOptions, io: Output): Promise<number> {
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
    io.err('aigate-server: --tls-cert and --tls-key go together');
    return 2;
  }
  const serverOptions: ServerOptions = {
    dataDir: resolve(options.data),
    logLevel: options.logLevel,
    trustProxy: options.trustProxy ?? false,
  };
  const rateLimits: NonNullable<ServerOptions['rateLimits']> = {};
  if (options.rateDevice !== undefined) rateLimits.devicePerMinute = options.rateDevice;
  if (options.rateToken !== undefined) rateLimits.tokenPerMinute = options.rateToken;
  if (options.rateEnroll !== undefined) rateLimits.enrollPerMinutePerIp = options.rateEnroll;
  serverOptions.rateLimits = rateLimits;
  if (options.staleAfter !== undefined) serverOptions.staleAfterMs = options.staleAfter;
  if (options.eventRetention !== undefined) serverOptions.eventRetentionMs = options.eventRetention;
  if (options.fingerprintCorroboration !== undefined)
    serverOptions.fingerprintCorroboration = options.fingerprintCorroboration;
  if (options.rollupSchedule !== undefined) {
    const { default: cron } = await import('node-cron');
    if (!cron.validate(options.rollupSchedule)) {
      io.err(
        `aigate-server: --rollup-schedule: "${options.rollupSchedule}" is not a cron expression (minute hour day-of-month month day-of-week, e.g. "*/15 * * * *")`,
      );
      return 2;
    }
    serverOptions.rollupSchedule = options.rollupSchedule;
  }
  if (options.tlsCert && options.tlsKey) {
    try {
      serverOptions.tls = { cert: await readFile(options.tlsCert), key: await readFile(options.tlsKey) };
    } catch (error) {
      io.err(`aigate-server: cannot read the TLS certificate or key: ${(error as Error).message}`);
      return 2;
    }
  }

  let app: AigateServer;
  try {
    const { buildServer } = await import('../app.js');
    app = await buildServer(serverOptions);
  } catch (error) {
    io.err(`aigate-server: ${(error as Error).message}`);
    return 1;
  }
  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    io.err(
      `aigate-server: cannot listen on ${options.host}:${options.port}: ${code === 'EADDRINUSE' ? 'the port is in use; choose another with --port (from a checkout: npm start -- --port 9090)' : (error as Error).message}`,
    );
    // The database was created before the listen failed: a first start's admin token is shown
    // now, or nobody could ever log in without create-admin-token.
    const token = app.aigate.takeBootstrapToken();
    if (token) {
      io.err(
        `aigate-server: this was the first start; the bootstrap admin token (shown once) is:\n\n    ${token}\n\n` +
          'Start again on a free port; the next steps are in the README (Quick start).',
      );
    }
    await app.close();
    return 1;
  }
  const address = app.server.address();
  const boundPort = address && typeof address === 'object' ? address.port : options.port;
  const shownHost =
    options.host === '0.0.0.0' || options.host === '::'
      ? '127.0.0.1'
      : options.host.includes(':')
        ? `[${options.host}]`
        : options.host;
  const url = `${serverOptions.tls ? 'https' : 'http'}://${shownHost}:${boundPort}`;

  const token = app.aigate.takeBootstrapToken();
  if (token) io.out(firstStartMessage(url, token, app.aigate.policyKeyFingerprint, serverOptions.dataDir));
  if (!serverOptions.tls && options.host !== '127.0.0.1' && options.host !== 'localhost' && options.host !== '::1') {
    io.err(
      'aigate-server: warning: serving plain HTTP on a network address; tokens and secrets travel unencrypted. Use --tls-cert/--tls-key or a TLS proxy.',
    );
  }
  io.out(`aigate-server listening on ${url} (data ${serverOptions.dataDir}, docs ${url}/docs)`);

  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        io.err(`aigate-server: ${signal} again, exiting now`);
        resolveExit(1);
        return;
      }
      stopping = true;
      app.log.info({ signal }, 'shutting down');
      app.close().then(
        () => resolveExit(0),
        (error: unknown) => {
          io.err(`aigate-server: error while shutting down: ${(error as Error).message}`);
          resolveExit(1);
        },
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/**
 * Recovery when every admin token is lost: with the server stopped, write a new token straight
 * into the database (audited as the server itself). Needs access to the data directory, which
 * is the same trust as running the server.
 */
async function createAdminToken(options: { data: string; name: string; role: string }, io: Output): Promise<number> {
  if (options.role !== 'admin' && options.role !== 'auditor') {
    io.err(`aigate-server: --role must be admin or auditor, not "${options.role}"`);
    return 2;
  }
  const dataDir = resolve(options.data);
  const [{ lockDataDir }, { openDatabase }, { DATABASE_FILE }, { AuditLog }, { TokenStore }] = await Promise.all([
    import('../data-lock.js'),
    import('../db/open.js'),
    import('../context.js'),
    import('../store/audit.js'),
    import('../store/tokens.js'),
  ]);
  let lock;
  try {
    lock = lockDataDir(dataDir);
  } catch (error) {
    io.err(`aigate-server: ${(error as Error).message}`);
    return 1;
  }
  try {
    const { db } = openDatabase(join(dataDir, DATABASE_FILE));
    try {
      const tokens = new TokenStore(db, Date.now);
      const audit = new AuditLog(db, Date.now);
      const token = db.transaction(() => {
        const created = tokens.create(options.name, options.role as Role, 'aigate-server create-admin-token');
        audit.append({
          actor: { id: null, name: 'aigate-server', role: 'system' },
          action: 'token.create',
          target: `token:${created.record.id}`,
          details: { name: options.name, role: options.role, recovery: true },
        });
        return created.token;
      })();
      io.out(`${options.role} token "${options.name}" (shown only now):`);
      io.out(`    ${token}`);
      return 0;
    } finally {
      db.close();
    }
  } catch (error) {
    io.err(`aigate-server: ${(error as Error).message}`);
    return 1;
  } finally {
    lock.release();
  }
}

export async function runAigateServer(argv: string[], io: Output): Promise<number> {
  let exit = 0;
  const program = new Command('aigate-server')
    .description('The aigate policy server.')
    .version(SERVER_VERSION, '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.out(text.replace(/\n$/, '')),
      writeErr: (text) => io.err(text.replace(/\n$/, '')),
    });
  program
    .command('start')
    .description('start the server')
    .option('--data <dir>', 'data directory (database and signing key)', './data')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free port)', port, DEFAULT_PORT)
    .option('--tls-cert <file>', 'TLS certificate (PEM)')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .addOption(
      new Option('--log-level <level>', 'log level')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info'),
    )
    .option('--trust-proxy', 'trust X-Forwarded-For (only behind a reverse proxy)')
    .option('--rate-device <n>', 'requests per minute per device (default 120)', perMinute('--rate-device'))
    .option('--rate-token <n>', 'requests per minute per admin/auditor token (default 600)', perMinute('--rate-token'))
    .option('--rate-enroll <n>', 'enrollments per minute per client address (default 30)', perMinute('--rate-enroll'))
    .option(
      '--stale-after <duration>',
      'a device without a check-in for this long is stale in reports (default 7d)',
      duration('--stale-after'),
    )
    .option(
      '--event-retention <duration>',
      'prune raw agent events older than this; daily counts stay (default 400d)',
      duration('--event-retention'),
    )
    .option('--rollup-schedule <cron>', 'when the daily rollups are rebuilt (default "*/15 * * * *")')
    .option(
      '--fingerprint-corroboration <n>',
      'devices that must report the same file fingerprint before every agent gets it without an admin (default 2; 0: admins only)',
      (value: string) => {
        if (!/^\d{1,4}$/.test(value))
          throw new InvalidArgumentError(
            '--fingerprint-corroboration must be a whole number of devices (0: admins only)',
          );
        return Number(value);
      },
    )
    .action(async (options: StartOptions) => {
      exit = await start(options, io);
    });
  program
    .command('create-admin-token')
    .description('recovery: add a token directly to the database (the server must be stopped)')
    .option('--data <dir>', 'data directory', './data')
    .requiredOption('--name <name>', 'who it is for')
    .option('--role <role>', 'admin | auditor', 'admin')
    .action(async (options: { data: string; name: string; role: string }) => {
      exit = await createAdminToken(options, io);
    });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    throw error;
  }
  return exit;
}

if (isMainModule(import.meta.url)) {
  process.exitCode = await runAigateServer(process.argv.slice(2), processOutput);
  // A stray timer or socket must not keep a stopped server alive; unref'd, so a clean exit is not delayed.
  setTimeout(() => process.exit(), 3000).unref();
}
