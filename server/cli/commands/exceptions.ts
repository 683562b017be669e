/** `aigate exceptions list|approve|deny`: employees' exception requests. */
import type { Static } from '@sinclair/typebox';

import type { AdminClient } from '../../client/admin-client.js';
import type { RequestView } from '../../routes/admin/exceptions.js';
import { EXIT_OK, line, type Output } from '../output.js';
import { shortTime, table } from '../table.js';
import { type CliContext, oneOf, printJson, uuidArgument, withClient } from './common.js';

type Request = Static<typeof RequestView>;

/** The request statuses (policies/protocol.ts EXCEPTION_REQUEST_STATUSES; a test holds them equal), without loading the schemas. */
export const REQUEST_STATUS_NAMES = ['pending', 'approved', 'denied', 'revoked'] as const;

/**
 * UNTIL: for an approved request, the end its approval gave the exception (the server keeps
 * it: `approvedUntil`); for a pending one, what the employee asked; a revoked one names the
 * revision that removed its exception.
 */
function untilCell(request: Request): string {
  switch (request.status) {
    case 'pending':
      return request.requestedUntil ? `asked ${request.requestedUntil}` : '-';
    case 'approved':
      return request.approvedUntil ?? 'no end';
    case 'revoked':
      return request.revokedInRevision === null ? 'removed' : `removed in rev ${request.revokedInRevision}`;
    default:
      return '-';
  }
}

async function list(client: AdminClient, options: { status: string; json?: boolean }, io: Output): Promise<number> {
  const status = options.status;
  const result = await client.get<{ requests: Request[] }>(
    `/exception-requests${status === 'all' ? '' : `?status=${status}`}`,
  );
  if (options.json) {
    printJson(io, result.requests);
    return EXIT_OK;
  }
  if (result.requests.length === 0) {
    io.out(`no ${status === 'all' ? '' : `${status} `}exception requests`);
    return EXIT_OK;
  }
  io.out(
    table(
      ['ID', 'STATUS', 'TOOL', 'DEVICE', 'USER', 'REQUESTED', 'UNTIL', 'REASON'],
      result.requests.map((r) => [
        r.id,
        r.status,
        r.toolId,
        r.hostname ?? r.deviceId,
        r.user,
        shortTime(r.requestedAt),
        untilCell(r),
        r.reason,
      ]),
    ),
  );
  return EXIT_OK;
}

async function approve(
  client: AdminClient,
  id: string,
  options: { until?: string; scope?: string; reason?: string; json?: boolean },
  io: Output,
): Promise<number> {
  const body: Record<string, string> = {};
  if (options.until) body.until = options.until;
  if (options.scope) body.scope = options.scope;
  if (options.reason) body.reason = options.reason;
  const result = await client.post<{ request: Request; revision: number; scope: 'device' | 'user' }>(
    `/exception-requests/${id}/approve`,
    body,
  );
  if (options.json) printJson(io, result);
  else {
    // The server says which scope it used: without --scope, a shared device defaults to the user.
    const who =
      result.scope === 'user'
        ? line`user ${result.request.user} on device ${result.request.hostname ?? result.request.deviceId}`
        : line`device ${result.request.hostname ?? result.request.deviceId}`;
    const until = result.request.approvedUntil;
    io.out(
      line`approved: ${result.request.toolId} for ` +
        who +
        (until ? line` until ${until}` : ', with no end') +
        `; published as policy revision ${result.revision}`,
    );
  }
  return EXIT_OK;
}

async function deny(
  client: AdminClient,
  id: string,
  options: { reason: string; json?: boolean },
  io: Output,
): Promise<number> {
  const result = await client.post<Request>(`/exception-requests/${id}/deny`, { reason: options.reason });
  if (options.json) printJson(io, result);
  else io.out(line`denied exception request ${result.id} (${result.toolId})`);
  return EXIT_OK;
}

export function registerExceptions(context: CliContext): void {
  const { io } = context;
  const requestId = uuidArgument('exception request id', 'aigate exceptions list --status all');
  const exceptions = context.program.command('exceptions').description('exception requests from employees');
  exceptions
    .command('list')
    .description('exception requests (default: pending); UNTIL is when an approved exception ends')
    .option(
      '--status <status>',
      `${REQUEST_STATUS_NAMES.join(' | ')} | all`,
      oneOf('--status', [...REQUEST_STATUS_NAMES, 'all']),
      'pending',
    )
    .option('--json', 'machine-readable result')
    .action(withClient(context, (client, options: { status: string; json?: boolean }) => list(client, options, io)));
  exceptions
    .command('approve')
    .argument('<id>', 'exception request id (a UUID; see aigate exceptions list)', requestId)
    .description('approve: adds an exception to a new policy revision')
    .option('--until <when>', 'end of the exception (default: as requested)')
    .option(
      '--scope <scope>',
      'device | user (default: user when the device reported several users, else device)',
      oneOf('--scope', ['device', 'user']),
    )
    .option('--reason <text>', 'note kept with the exception')
    .option('--json', 'machine-readable result')
    .action(
      withClient(
        context,
        (client, id: string, options: { until?: string; scope?: string; reason?: string; json?: boolean }) =>
          approve(client, id, options, io),
      ),
    );
  exceptions
    .command('deny')
    .argument('<id>', 'exception request id (a UUID; see aigate exceptions list)', requestId)
    .description('deny, with a reason')
    .requiredOption('--reason <text>', 'why')
    .option('--json', 'machine-readable result')
    .action(
      withClient(context, (client, id: string, options: { reason: string; json?: boolean }) =>
        deny(client, id, options, io),
      ),
    );
}
