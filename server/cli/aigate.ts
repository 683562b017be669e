#!/usr/bin/env node
/**
 * `aigate`: the admin CLI. Local commands (policy validate, policy explain) need no server;
 * everything else talks to the admin API with a server URL and token from --server/--token,
 * AIGATE_SERVER/AIGATE_TOKEN, or the config file written by `aigate login`.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { AdminApiError, AdminClient } from '../client/admin-client.js';
import * as admin from './admin-commands.js';
import { ConfigError, removeConfig, resolveConnection, writeConfig, type Env } from './config-file.js';
import { explainPolicyFile, validatePolicyFile, type Output } from './policy-file.js';
import { reportExport, reportRollup, type ExportOptions } from '../reports/cli.js';
import { REPORT_KINDS } from '../reports/kinds/index.js';

const positiveInt = (name: string) => (value: string) => {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError(`${name} must be a positive whole number`);
  return Number(value);
};
const nonNegativeInt = (name: string) => (value: string) => {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number`);
  return Number(value);
};

export function buildProgram(io: Output, env: Env, setExit: (code: number) => void): Command {
  const program = new Command('aigate')
    .description('Administer an aigate server: policies, devices, enrollment, exceptions, tokens, audit, reports.')
    .option('--server <url>', 'server URL (default: AIGATE_SERVER, else the saved login)')
    .option('--token <token>', 'admin or auditor token (default: AIGATE_TOKEN, else the saved login)')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.out(text.replace(/\n$/, '')), writeErr: (text) => io.err(text.replace(/\n$/, '')) });

  /** Run an API command with a client built from the global options. */
  const withClient = (run: (client: AdminClient) => Promise<number>) => async () => {
    let connection;
    try {
      connection = await resolveConnection(program.opts<{ server?: string; token?: string }>(), env);
    } catch (error) {
      io.err(`aigate: ${(error as Error).message}`);
      setExit(admin.EXIT_USAGE);
      return;
    }
    setExit(await run(new AdminClient(connection.server, connection.token)));
  };

  program
    .command('login')
    .description('check --server and --token, and save them for later commands')
    .action(async () => {
      // --server and --token are the program's own options (they also work before `login`).
      const flags = program.opts<{ server?: string; token?: string }>();
      if (!flags.server || !flags.token) {
        io.err('aigate: login needs --server URL and --token TOKEN');
        setExit(admin.EXIT_USAGE);
        return;
      }
      try {
        const connection = await resolveConnection(flags, {});
        const who = await new AdminClient(connection.server, connection.token).get<{ name: string; role: string }>('/whoami');
        const file = await writeConfig(env, connection);
        io.out(`logged in to ${connection.server} as "${who.name}" (${who.role}); saved to ${file}`);
        setExit(admin.EXIT_OK);
      } catch (error) {
        if (error instanceof ConfigError) {
          io.err(`aigate: ${error.message}`);
          setExit(admin.EXIT_USAGE);
        } else setExit(admin.reportError(error, io));
      }
    });
  program
    .command('logout')
    .description('forget the saved server and token')
    .action(async () => {
      io.out(`removed ${await removeConfig(env)}`);
      setExit(admin.EXIT_OK);
    });
  program
    .command('whoami')
    .description('show the token in use')
    .action(
      withClient(async (client) => {
        try {
          const who = await client.get<{ id: string; name: string; role: string; policyKeyFingerprint: string }>('/whoami');
          io.out(`"${who.name}" (${who.role}, token id ${who.id}) at ${client.baseUrl}`);
          io.out(`policy key fingerprint (for aigate-agent enroll --policy-key-fingerprint): ${who.policyKeyFingerprint}`);
          return admin.EXIT_OK;
        } catch (error) {
          return admin.reportError(error, io);
        }
      }),
    );

  const policy = program.command('policy').description('validate, explain, preview, publish and roll back policies');
  policy
    .command('validate <file>')
    .description('check a policy file (no server needed)')
    .option('--json', 'machine-readable result')
    .action(async (file: string, options: { json?: boolean }) => setExit(await validatePolicyFile(file, options, io)));
  policy
    .command('explain <file>')
    .description('show the verdict a policy gives one tool (no server needed)')
    .requiredOption('--tool <id>', 'catalog tool id')
    .option('--version <v>', 'tool version')
    .option('--at <when>', 'date or instant (default now)')
    .option('--group <g>', 'device group')
    .addOption(new Option('--os <os>', 'operating system').choices(['linux', 'darwin', 'windows']))
    .option('--user <u>', 'user owning the install')
    .option('--device <d>', 'device id or hostname')
    .option('--json', 'machine-readable result')
    .action(async (file: string, options: Parameters<typeof explainPolicyFile>[1]) => setExit(await explainPolicyFile(file, options, io)));
  policy
    .command('preview <file>')
    .description('what a draft would warn or block across the current inventory')
    .option('--at <when>', 'evaluate at this date or instant (default now)')
    .option('--all', 'also list allowed tools')
    .option('--json', 'machine-readable result')
    .action((file: string, options: { at?: string; all?: boolean; json?: boolean }) => withClient((client) => admin.policyPreview(client, file, options, io))());
  policy
    .command('publish <file>')
    .description('publish a policy file as the next revision')
    .option('-m, --comment <text>', 'why (kept in the history)')
    .option('--json', 'machine-readable result')
    .action((file: string, options: { comment?: string; json?: boolean }) => withClient((client) => admin.policyPublish(client, file, options, io))());
  policy
    .command('history')
    .description('published revisions, newest first')
    .option('--limit <n>', 'how many', positiveInt('--limit'))
    .option('--json', 'machine-readable result')
    .action((options: { limit?: number; json?: boolean }) => withClient((client) => admin.policyHistory(client, options, io))());
  policy
    .command('show [revision]')
    .description('one revision (default: the current one)')
    .option('--source', 'print only the policy source')
    .option('--json', 'machine-readable result')
    .action((revision: string | undefined, options: { source?: boolean; json?: boolean }) => withClient((client) => admin.policyShow(client, revision, options, io))());
  policy
    .command('rollback <revision>')
    .description('publish the content of an earlier revision as a new revision')
    .option('-m, --comment <text>', 'why')
    .option('--json', 'machine-readable result')
    .action((revision: string, options: { comment?: string; json?: boolean }) => withClient((client) => admin.policyRollback(client, revision, options, io))());

  program
    .command('devices')
    .description('list enrolled devices')
    .option('--group <group>', 'only this group')
    .option('--all', 'include revoked devices')
    .option('--json', 'machine-readable result')
    .action((options: { group?: string; all?: boolean; json?: boolean }) => withClient((client) => admin.devicesList(client, options, io))());
  const device = program.command('device').description('one device');
  device
    .command('show <id>')
    .description('a device with its AI tools and verdicts')
    .option('--json', 'machine-readable result')
    .action((id: string, options: { json?: boolean }) => withClient((client) => admin.deviceShow(client, id, options, io))());
  device
    .command('revoke <id>')
    .description('revoke a device (its requests are refused from now on)')
    .action((id: string) => withClient((client) => admin.deviceRevoke(client, id, io))());

  const secrets = program.command('enroll-secret').description('secrets that let machines enroll');
  secrets
    .command('create')
    .description('create an enroll secret (shown once)')
    .requiredOption('--group <group>', 'group the enrolled devices join')
    .option('--expires <when>', 'a duration (7d, 12h) or a date/instant; default 7d')
    .option('--max-uses <n>', 'at most this many devices', positiveInt('--max-uses'))
    .option('--note <text>', 'what it is for')
    .option('--json', 'machine-readable result')
    .action((options: { group: string; expires?: string; maxUses?: number; note?: string; json?: boolean }) =>
      withClient((client) => admin.enrollSecretCreate(client, options, io))(),
    );
  secrets
    .command('list')
    .description('enroll secrets (without the secrets)')
    .option('--json', 'machine-readable result')
    .action((options: { json?: boolean }) => withClient((client) => admin.enrollSecretList(client, options, io))());
  secrets
    .command('revoke <id>')
    .description('revoke an enroll secret')
    .action((id: string) => withClient((client) => admin.enrollSecretRevoke(client, id, io))());

  const exceptions = program.command('exceptions').description('exception requests from employees');
  exceptions
    .command('list')
    .description('exception requests (default: pending)')
    .option('--status <status>', 'pending | approved | denied | all')
    .option('--json', 'machine-readable result')
    .action((options: { status?: string; json?: boolean }) => withClient((client) => admin.exceptionsList(client, options, io))());
  exceptions
    .command('approve <id>')
    .description('approve: adds an exception to a new policy revision')
    .option('--until <when>', 'end of the exception (default: as requested)')
    .option('--scope <scope>', 'device (default) | user')
    .option('--reason <text>', 'note kept with the exception')
    .option('--json', 'machine-readable result')
    .action((id: string, options: { until?: string; scope?: string; reason?: string; json?: boolean }) =>
      withClient((client) => admin.exceptionApprove(client, id, options, io))(),
    );
  exceptions
    .command('deny <id>')
    .description('deny, with a reason')
    .requiredOption('--reason <text>', 'why')
    .option('--json', 'machine-readable result')
    .action((id: string, options: { reason: string; json?: boolean }) => withClient((client) => admin.exceptionDeny(client, id, options, io))());

  const tokens = program.command('tokens').description('admin and auditor tokens');
  tokens
    .command('create')
    .description('create a token (shown once)')
    .requiredOption('--name <name>', 'who or what uses it')
    .requiredOption('--role <role>', 'admin | auditor')
    .option('--json', 'machine-readable result')
    .action((options: { name: string; role: string; json?: boolean }) => withClient((client) => admin.tokenCreate(client, options, io))());
  tokens
    .command('list')
    .description('tokens (never the secrets)')
    .option('--json', 'machine-readable result')
    .action((options: { json?: boolean }) => withClient((client) => admin.tokenList(client, options, io))());
  tokens
    .command('revoke <id>')
    .description('revoke a token')
    .action((id: string) => withClient((client) => admin.tokenRevoke(client, id, io))());

  /** Run a command that talks to /v1/reports with the resolved server and token. */
  const withConnection = (run: (server: string, token: string) => Promise<number>) => async () => {
    let connection;
    try {
      connection = await resolveConnection(program.opts<{ server?: string; token?: string }>(), env);
    } catch (error) {
      io.err(`aigate: ${(error as Error).message}`);
      setExit(admin.EXIT_USAGE);
      return;
    }
    setExit(await run(connection.server, connection.token));
  };
  const report = program.command('report').description('compliance reports (admin or auditor token)');
  report
    .command('export <kind>')
    .description(`stream a report: ${REPORT_KINDS.join(', ')}`)
    .addOption(new Option('--format <format>', 'output format').choices(['csv', 'json', 'ndjson']).makeOptionMandatory())
    .option('-o, --output <file>', 'write to this file (default: standard output)')
    .option('--from <when>', 'from this date or instant on (UTC)')
    .option('--to <when>', 'before this instant; a bare date includes that day')
    .option('--tool <id>', 'one tool (catalog id)')
    .option('--group <group>', 'one device group')
    .option('--user <user>', 'one user')
    .option('--device <id-or-hostname>', 'one device')
    .option('--verdict <verdict>', 'allow | warn | block | none (inventory); warn | block (violations)')
    .option('--type <type>', 'event type (events)')
    .option('--status <status>', 'active | stale | never-seen | revoked (coverage)')
    .option('--stale-after <duration>', 'stale period such as 7d (coverage)')
    .option('--present <bool>', 'true | false: installed now, or removed (inventory)')
    .action((kind: string, options: ExportOptions) => withConnection((server, token) => reportExport(server, token, kind, options, io))());
  report
    .command('rollup')
    .description('rebuild the daily rollups now (admin token)')
    .option('--json', 'machine-readable result')
    .action((options: { json?: boolean }) => withConnection((server, token) => reportRollup(server, token, options, io))());

  program
    .command('audit')
    .description('the audit log of admin actions')
    .option('--after <seq>', 'entries after this sequence number', nonNegativeInt('--after'))
    .option('--limit <n>', 'how many', positiveInt('--limit'))
    .option('--verify', 'check the hash chain instead of listing')
    .option('--json', 'machine-readable result')
    .action((options: { after?: number; limit?: number; verify?: boolean; json?: boolean }) => withClient((client) => admin.audit(client, options, io))());

  return program;
}

/** Run the CLI; returns the exit code instead of exiting. */
export async function runAigate(argv: string[], io: Output, env: Env): Promise<number> {
  let code = admin.EXIT_OK;
  const program = buildProgram(io, env, (c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with exit code 0.
      return error.exitCode === 0 ? admin.EXIT_OK : admin.EXIT_USAGE;
    }
    if (error instanceof AdminApiError) return admin.reportError(error, io);
    io.err(`aigate: ${(error as Error).message}`);
    return admin.EXIT_INVALID;
  }
  return code;
}

function isMain(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  const io: Output = { out: (text) => process.stdout.write(text + '\n'), err: (text) => process.stderr.write(text + '\n') };
  process.exitCode = await runAigate(process.argv.slice(2), io, process.env);
}
