/** `aigate audit`: the audit log of admin actions, and its hash chain. */
import type { Static } from '@sinclair/typebox';

import type { AdminClient } from '../../client/admin-client.js';
import type { AuditEntry, VerifyReply } from '../../routes/admin/audit.js';
import { EXIT_INVALID, EXIT_OK, line, type Output } from '../output.js';
import { shortTime, table } from '../table.js';
import { type CliContext, nonNegativeInt, positiveInt, printJson, withClient } from './common.js';

type Verification = Static<typeof VerifyReply>;

interface AuditOptions {
  after?: number;
  limit?: number;
  json?: boolean;
  verify?: boolean;
}

function sayBroken(result: Verification, io: Output): void {
  io.err(
    line`aigate: the audit log is BROKEN at entry ${result.brokenAt}: ${result.problem} (${result.entries} entries verified before it); entries from there on cannot be trusted`,
  );
}

/**
 * Lists entries (or with --verify only checks); both check the hash chain, and a broken chain
 * is said on stderr with exit code 1, so a script or an auditor never mistakes it for a good log.
 */
async function audit(client: AdminClient, options: AuditOptions, io: Output): Promise<number> {
  const verification = await client.get<Verification>('/audit/verify');
  if (options.verify) {
    if (options.json) printJson(io, verification);
    else if (verification.ok)
      io.out(line`audit log intact: ${verification.entries} entries, head ${verification.headHash}`);
    if (!verification.ok) sayBroken(verification, io);
    return verification.ok ? EXIT_OK : EXIT_INVALID;
  }
  const query = new URLSearchParams({ limit: String(options.limit ?? 500) });
  if (options.after !== undefined) query.set('after', String(options.after));
  const result = await client.get<{ entries: Static<typeof AuditEntry>[]; next: number | null }>(`/audit?${query}`);
  if (options.json) printJson(io, result.entries);
  else if (result.entries.length === 0) io.out('no audit entries');
  else {
    io.out(
      table(
        ['SEQ', 'AT', 'ACTOR', 'ACTION', 'TARGET', 'DETAILS'],
        result.entries.map((e) => [
          e.seq,
          shortTime(e.at),
          `${e.actorName} (${e.actorRole})`,
          e.action,
          e.target,
          JSON.stringify(e.details),
        ]),
      ),
    );
    if (result.next !== null) io.out(`more: aigate audit --after ${result.next}`);
  }
  if (!verification.ok) {
    sayBroken(verification, io);
    return EXIT_INVALID;
  }
  return EXIT_OK;
}

export function registerAudit(context: CliContext): void {
  context.program
    .command('audit')
    .description('the audit log of admin actions; exits 1 when its hash chain is broken')
    .option('--after <seq>', 'entries after this sequence number', nonNegativeInt('--after'))
    .option('--limit <n>', 'how many', positiveInt('--limit'))
    .option('--verify', 'only check the hash chain')
    .option('--json', 'machine-readable result')
    .action(withClient(context, (client, options: AuditOptions) => audit(client, options, context.io)));
}
