/** `aigate enroll-secret create|list|revoke`. */
import { writeFile } from 'node:fs/promises';

import type { Static } from '@sinclair/typebox';

import { counted } from '../../../policies/plural.js';
import type { AdminClient } from '../../client/admin-client.js';
import type { SecretView } from '../../routes/admin/enroll-secrets.js';
import type { WhoamiReply } from '../../routes/admin/index.js';
import { EXIT_INVALID, EXIT_OK, line, type Output } from '../output.js';
import { shortTime, table } from '../table.js';
import { type CliContext, positiveInt, printJson, uuidArgument, withClient } from './common.js';

type Secret = Static<typeof SecretView>;

/**
 * The enroll command to run on each machine, as root, working as printed from a checkout
 * (`npx`), with the policy key fingerprint to pin so a machine never trusts another server's key.
 */
function agentEnrollCommand(server: string, secret: { file: string } | { value: string }, fingerprint: string) {
  // A path with spaces or shell characters is quoted so the line still pastes as one command.
  const quoted = (text: string) => (/^[\w@%+=:,./~-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`);
  const given = 'file' in secret ? `--secret-file ${quoted(secret.file)}` : `--secret ${secret.value}`;
  return `npx aigate-agent enroll --server ${server} ${given} --policy-key-fingerprint ${fingerprint}`;
}

interface CreateOptions {
  group: string;
  secretFile?: string;
  expires?: string;
  maxUses?: number;
  note?: string;
  json?: boolean;
}

async function create(client: AdminClient, options: CreateOptions, io: Output): Promise<number> {
  // Asked first: the fingerprint goes into the printed command, and a failure here leaves no secret behind.
  const { policyKeyFingerprint } = await client.get<Static<typeof WhoamiReply>>('/whoami');
  const body: Record<string, unknown> = { group: options.group };
  // A date or instant is an absolute expiry; anything else is a duration such as 7d.
  if (options.expires) body[/^\d{4}-/.test(options.expires) ? 'expiresAt' : 'expiresIn'] = options.expires;
  if (options.maxUses !== undefined) body.maxUses = options.maxUses;
  if (options.note) body.note = options.note;
  const result = await client.post<Secret & { secret: string }>('/enroll-secrets', body);
  if (options.secretFile !== undefined) {
    try {
      // A new file only ('wx': never through a symlink, never over another file), owner-only.
      await writeFile(options.secretFile, `${result.secret}\n`, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      io.err(
        line`aigate: cannot write ${options.secretFile}: ${code === 'EEXIST' ? 'it exists already (choose a new file)' : (error as Error).message}`,
      );
      io.err(
        line`aigate: the secret (id ${result.id}) was created; revoke it with: aigate enroll-secret revoke ${result.id}`,
      );
      return EXIT_INVALID;
    }
  }
  if (options.json) {
    printJson(
      io,
      options.secretFile === undefined ? result : { ...result, secret: undefined, secretFile: options.secretFile },
    );
    return EXIT_OK;
  }
  io.out(
    line`enroll secret for group "${result.group}" (id ${result.id}), expires ${shortTime(result.expiresAt)}` +
      (result.maxUses ? `, at most ${counted(result.maxUses, 'device')}` : ''),
  );
  const where = 'on each machine, as root (from a checkout; once installed, drop "npx "):';
  if (options.secretFile !== undefined) {
    io.out(line`written to ${options.secretFile} (mode 0600); copy it to the machines to enroll, then ${where}`);
    io.out(line`  ${agentEnrollCommand(client.baseUrl, { file: options.secretFile }, policyKeyFingerprint)}`);
    return EXIT_OK;
  }
  io.out('it is shown only now; give it to the machines to enroll:');
  io.out(line`  ${result.secret}`);
  io.out(where);
  io.out(line`  ${agentEnrollCommand(client.baseUrl, { value: result.secret }, policyKeyFingerprint)}`);
  return EXIT_OK;
}

async function list(client: AdminClient, options: { json?: boolean }, io: Output): Promise<number> {
  const result = await client.get<{ secrets: Secret[] }>('/enroll-secrets');
  if (options.json) printJson(io, result.secrets);
  else if (result.secrets.length === 0) io.out('no enroll secrets');
  else
    io.out(
      table(
        ['ID', 'GROUP', 'USES', 'EXPIRES', 'STATE', 'NOTE'],
        result.secrets.map((s) => [
          s.id,
          s.group,
          `${s.uses}${s.maxUses ? `/${s.maxUses}` : ''}`,
          shortTime(s.expiresAt),
          s.revokedAt ? 'revoked' : 'active',
          s.note,
        ]),
      ),
    );
  return EXIT_OK;
}

async function revoke(client: AdminClient, id: string, io: Output): Promise<number> {
  const secret = await client.post<Secret>(`/enroll-secrets/${id}/revoke`);
  io.out(line`revoked enroll secret ${secret.id} (group ${secret.group})`);
  return EXIT_OK;
}

export function registerEnrollSecrets(context: CliContext): void {
  const { io } = context;
  const secrets = context.program.command('enroll-secret').description('secrets that let machines enroll');
  secrets
    .command('create')
    .description('create an enroll secret (shown once)')
    .requiredOption('--group <group>', 'group the enrolled devices join')
    .option('--expires <when>', 'a duration (7d, 12h) or a date/instant; default 7d')
    .option('--max-uses <n>', 'at most this many devices', positiveInt('--max-uses'))
    .option('--note <text>', 'what it is for')
    .option('--secret-file <file>', 'write the secret to this new file (mode 0600) instead of printing it')
    .option('--json', 'machine-readable result')
    .action(withClient(context, (client, options: CreateOptions) => create(client, options, io)));
  secrets
    .command('list')
    .description('enroll secrets (without the secrets)')
    .option('--json', 'machine-readable result')
    .action(withClient(context, (client, options: { json?: boolean }) => list(client, options, io)));
  secrets
    .command('revoke')
    .argument(
      '<id>',
      'enroll secret id (a UUID; see aigate enroll-secret list)',
      uuidArgument('enroll secret id', 'aigate enroll-secret list'),
    )
    .description('revoke an enroll secret')
    .action(withClient(context, (client, id: string) => revoke(client, id, io)));
}
