/** `aigate tokens create|list|revoke`. */
import type { Static } from '@sinclair/typebox';

import type { AdminClient } from '../../client/admin-client.js';
import type { TokenView } from '../../routes/admin/tokens.js';
import { EXIT_OK, line, type Output } from '../output.js';
import { shortTime, table } from '../table.js';
import { type CliContext, oneOf, printJson, uuidArgument, withClient } from './common.js';

type Token = Static<typeof TokenView>;

async function create(
  client: AdminClient,
  options: { name: string; role: string; json?: boolean },
  io: Output,
): Promise<number> {
  const result = await client.post<Token & { token: string }>('/tokens', { name: options.name, role: options.role });
  if (options.json) printJson(io, result);
  else {
    io.out(line`${result.role} token "${result.name}" (id ${result.id}); it is shown only now:`);
    io.out(line`  ${result.token}`);
  }
  return EXIT_OK;
}

async function list(client: AdminClient, options: { json?: boolean }, io: Output): Promise<number> {
  const result = await client.get<{ tokens: Token[] }>('/tokens');
  if (options.json) printJson(io, result.tokens);
  else
    io.out(
      table(
        ['ID', 'NAME', 'ROLE', 'CREATED', 'LAST USED', 'STATE'],
        result.tokens.map((t) => [
          t.id,
          t.name,
          t.role,
          shortTime(t.createdAt),
          shortTime(t.lastUsedAt),
          t.revokedAt ? 'revoked' : 'active',
        ]),
      ),
    );
  return EXIT_OK;
}

async function revoke(client: AdminClient, id: string, io: Output): Promise<number> {
  const token = await client.post<Token>(`/tokens/${id}/revoke`);
  io.out(line`revoked token ${token.id} ("${token.name}", ${token.role})`);
  return EXIT_OK;
}

export function registerTokens(context: CliContext): void {
  const { io } = context;
  const tokens = context.program.command('tokens').description('admin and auditor tokens');
  tokens
    .command('create')
    .description('create a token (shown once)')
    .requiredOption('--name <name>', 'who or what uses it')
    .requiredOption('--role <role>', 'admin | auditor', oneOf('--role', ['admin', 'auditor']))
    .option('--json', 'machine-readable result')
    .action(
      withClient(context, (client, options: { name: string; role: string; json?: boolean }) =>
        create(client, options, io),
      ),
    );
  tokens
    .command('list')
    .description('tokens (never the secrets)')
    .option('--json', 'machine-readable result')
    .action(withClient(context, (client, options: { json?: boolean }) => list(client, options, io)));
  tokens
    .command('revoke')
    .argument('<id>', 'token id (a UUID; see aigate tokens list)', uuidArgument('token id', 'aigate tokens list'))
    .description('revoke a token')
    .action(withClient(context, (client, id: string) => revoke(client, id, io)));
}
