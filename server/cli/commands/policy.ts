/**
 * `aigate policy validate|explain|preview|publish|history|show|rollback`. validate and explain
 * work on a file with no server and load the policy engine only when they run.
 */
import { readFile } from 'node:fs/promises';

import type { Static } from '@sinclair/typebox';
import { InvalidArgumentError, Option } from 'commander';

import { counted } from '../../../policies/plural.js';
import { formatProblem } from '../../../policies/problem.js';
import { AdminApiError, type AdminClient } from '../../client/admin-client.js';
import type {
  PreviewReply,
  RevisionDetail,
  RevisionSummary,
  RollbackPlanReply,
  RollbackReply,
} from '../../routes/admin/policies.js';
import { EXIT_OK, EXIT_USAGE, line, type Output } from '../output.js';
import type { ExplainOptions } from '../policy-file.js';
import { shortTime, table } from '../table.js';
import { type CliContext, positiveInt, printJson, reportError, withClient } from './common.js';

type Preview = Static<typeof PreviewReply>;
type Revision = Static<typeof RevisionSummary>;

const revisionNumber = (value: string) => {
  if (!/^[1-9]\d*$/.test(value))
    throw new InvalidArgumentError(line`"${value}" is not a revision number (see aigate policy history)`);
  return Number(value);
};

async function readSource(file: string, io: Output): Promise<{ source: string; format: 'yaml' | 'json' } | null> {
  try {
    const source = await readFile(file, 'utf8');
    return { source, format: file.toLowerCase().endsWith('.json') ? 'json' : 'yaml' };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    io.err(
      line`aigate: cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message}`,
    );
    return null;
  }
}

function describeOutcome(row: Preview['rows'][number]): string {
  if (row.phase === 'warn-window' && row.upcomingAction)
    return `warn now, ${row.upcomingAction} from ${shortTime(row.effectiveAt)}`;
  if (row.effectiveAt) return `${row.action} since ${shortTime(row.effectiveAt)}`;
  return row.action;
}

async function preview(
  client: AdminClient,
  file: string,
  options: { at?: string; json?: boolean; all?: boolean },
  io: Output,
): Promise<number> {
  const input = await readSource(file, io);
  if (!input) return EXIT_USAGE;
  try {
    const result = await client.post<Preview>('/policies/preview', {
      ...input,
      ...(options.at ? { at: options.at } : {}),
    });
    if (options.json) {
      printJson(io, result);
      return EXIT_OK;
    }
    for (const warning of result.warnings) io.err(line`warning: ${formatProblem(warning, file)}`);
    const mode = result.policy.mode === 'monitor' ? ' (monitor mode: would only be reported)' : '';
    io.out(
      line`preview of "${result.policy.name}"` +
        `${mode} at ${shortTime(result.at)} over ${counted(result.devices, 'device')}, ${counted(result.instances, 'tool instance')}`,
    );
    const t = result.totals;
    io.out(
      `blocked: ${counted(t.block.devices, 'device')}, ${counted(t.block.users, 'user')}; warned: ${counted(t.warn.devices, 'device')}, ${counted(t.warn.users, 'user')}; allowed: ${counted(t.allow.devices, 'device')}`,
    );
    const rows = result.rows.filter((row) => options.all || row.action !== 'allow');
    if (rows.length === 0) {
      io.out(options.all ? 'no tool instances reported yet' : 'nothing would be warned or blocked');
      return EXIT_OK;
    }
    io.out('');
    io.out(
      table(
        ['TOOL', 'OUTCOME', 'DEVICES', 'USERS', 'INSTANCES', 'CHANGED'],
        rows.map((row) => [row.toolId, describeOutcome(row), row.devices, row.users, row.instances, row.changed]),
      ),
    );
    return EXIT_OK;
  } catch (error) {
    return reportError(error, io, file);
  }
}

async function publish(
  client: AdminClient,
  file: string,
  options: { comment?: string; json?: boolean; yes?: boolean },
  io: Output,
): Promise<number> {
  const input = await readSource(file, io);
  if (!input) return EXIT_USAGE;
  try {
    const result = await client.post<Static<typeof RollbackReply>>('/policies', {
      ...input,
      ...(options.comment ? { comment: options.comment } : {}),
      ...(options.yes ? { confirm: true } : {}),
    });
    if (options.json) {
      printJson(io, result);
      return EXIT_OK;
    }
    for (const warning of result.warnings) io.err(line`warning: ${formatProblem(warning, file)}`);
    io.out(line`published "${result.name}" as revision ${result.revision} (etag ${result.etag})`);
    for (const removed of result.removed) io.out(`  removed: ${describeRemoved(removed)}`);
    if (result.exceptionRequests.revoked.length)
      io.out(line`  exception requests now revoked: ${result.exceptionRequests.revoked.join(', ')}`);
    return EXIT_OK;
  } catch (error) {
    const code = reportError(error, io, file);
    if (error instanceof AdminApiError && error.code === 'confirmation_required')
      io.err(line`nothing was published; to remove them, run again with --yes: aigate policy publish ${file} --yes`);
    return code;
  }
}

function note(r: Revision): string | null {
  if (!r.rollbackOf) return r.comment;
  return `rollback to ${r.rollbackOf}${r.comment && r.comment !== `rollback to revision ${r.rollbackOf}` ? `: ${r.comment}` : ''}`;
}

async function history(client: AdminClient, options: { limit?: number; json?: boolean }, io: Output): Promise<number> {
  const result = await client.get<{ revisions: Revision[] }>(`/policies?limit=${options.limit ?? 50}`);
  if (options.json) printJson(io, result.revisions);
  else if (result.revisions.length === 0) io.out('no policy has been published yet');
  else
    io.out(
      table(
        ['REV', 'NAME', 'PUBLISHED', 'BY', 'NOTE'],
        result.revisions.map((r) => [
          `${r.revision}${r.current ? '*' : ''}`,
          r.name,
          shortTime(r.publishedAt),
          r.publishedBy,
          note(r),
        ]),
      ),
    );
  return EXIT_OK;
}

async function show(
  client: AdminClient,
  revision: number | undefined,
  options: { json?: boolean; source?: boolean },
  io: Output,
): Promise<number> {
  const result = await client.get<Static<typeof RevisionDetail>>(
    revision === undefined ? '/policies/current' : `/policies/${revision}`,
  );
  if (options.json) printJson(io, result);
  else if (options.source) io.out(result.source.replace(/\n$/, ''));
  else {
    io.out(
      line`revision ${result.revision}${result.current ? ' (current)' : ''}: "${result.name}", published ${shortTime(result.publishedAt)} by ${result.publishedBy ?? '-'}`,
    );
    if (result.comment) io.out(line`comment: ${result.comment}`);
    io.out(`sha256 ${result.sha256}, etag ${result.etag}`);
    io.out('');
    io.out(result.source.replace(/\n$/, ''));
  }
  return EXIT_OK;
}

interface RollbackOptions {
  comment?: string;
  yes?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

type Removed = Static<typeof RollbackReply>['removed'][number];

/** `exception-request-… (claude-code, until 2026-12-31, request …)`. */
function describeRemoved(removed: Removed): string {
  const parts = [
    removed.tools.join(', '),
    removed.until ? `until ${removed.until}` : 'no end',
    removed.request ? `request ${removed.request.id}` : null,
  ];
  return line`${removed.name ?? 'an unnamed exception'} (${parts.filter(Boolean).join(', ')})`;
}

/**
 * Publish an earlier revision's content again. The server refuses (409 confirmation_required,
 * naming them) when that removes exceptions now in force, unless --yes confirms it; --dry-run
 * only lists what it would remove.
 */
async function rollback(client: AdminClient, revision: number, options: RollbackOptions, io: Output): Promise<number> {
  if (options.dryRun) {
    const plan = await client.post<Static<typeof RollbackPlanReply>>(`/policies/${revision}/rollback`, {
      dryRun: true,
    });
    if (options.json) printJson(io, plan);
    else if (plan.removes.length === 0) io.out(`a rollback to revision ${revision} removes no exception in force`);
    else {
      io.out(
        `a rollback to revision ${revision} removes ${plan.removes.length} exception${plan.removes.length === 1 ? '' : 's'} in force:`,
      );
      for (const removed of plan.removes) io.out(`  ${describeRemoved(removed)}`);
    }
    return EXIT_OK;
  }
  const body: Record<string, unknown> = {};
  if (options.comment) body.comment = options.comment;
  if (options.yes) body.confirm = true;
  try {
    const result = await client.post<Static<typeof RollbackReply>>(`/policies/${revision}/rollback`, body);
    if (options.json) printJson(io, result);
    else {
      io.out(line`published the content of revision ${revision} as revision ${result.revision} ("${result.name}")`);
      for (const removed of result.removed) io.out(`  removed: ${describeRemoved(removed)}`);
      const followed = result.exceptionRequests;
      if (followed.revoked.length) io.out(line`  exception requests now revoked: ${followed.revoked.join(', ')}`);
      if (followed.reinstated.length)
        io.out(line`  exception requests approved again: ${followed.reinstated.join(', ')}`);
    }
    return EXIT_OK;
  } catch (error) {
    const code = reportError(error, io);
    if (error instanceof AdminApiError && error.code === 'confirmation_required') {
      io.err(
        line`nothing was published; to remove them, run again with --yes: aigate policy rollback ${revision} --yes`,
      );
    }
    return code;
  }
}

export function registerPolicy(context: CliContext): void {
  const { io, setExit } = context;
  const policy = context.program
    .command('policy')
    .description('validate, explain, preview, publish and roll back policies');
  policy
    .command('validate <file>')
    .description('check a policy file and list every problem in it (no server needed)')
    .option('--json', 'machine-readable result')
    .action(async (file: string, options: { json?: boolean }) => {
      const { validatePolicyFile } = await import('../policy-file.js');
      setExit(await validatePolicyFile(file, options, io));
    });
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
    .action(async (file: string, options: ExplainOptions) => {
      const { explainPolicyFile } = await import('../policy-file.js');
      setExit(await explainPolicyFile(file, options, io));
    });
  policy
    .command('preview <file>')
    .description('what a draft would warn or block across the current inventory')
    .option('--at <when>', 'evaluate at this date or instant (default now)')
    .option('--all', 'also list allowed tools')
    .option('--json', 'machine-readable result')
    .action(
      withClient(context, (client, file: string, options: { at?: string; all?: boolean; json?: boolean }) =>
        preview(client, file, options, io),
      ),
    );
  policy
    .command('publish <file>')
    .description('publish a policy file as the next revision')
    .option('-m, --comment <text>', 'why (kept in the history)')
    .option('-y, --yes', 'confirm: publish even though it leaves out exceptions of approved requests now in force')
    .option('--json', 'machine-readable result')
    .action(
      withClient(context, (client, file: string, options: { comment?: string; json?: boolean; yes?: boolean }) =>
        publish(client, file, options, io),
      ),
    );
  policy
    .command('history')
    .description('published revisions, newest first')
    .option('--limit <n>', 'how many', positiveInt('--limit'))
    .option('--json', 'machine-readable result')
    .action(withClient(context, (client, options: { limit?: number; json?: boolean }) => history(client, options, io)));
  policy
    .command('show')
    .argument('[revision]', 'revision number (default: the current one)', revisionNumber)
    .description('one revision (default: the current one)')
    .option('--source', 'print only the policy source')
    .option('--json', 'machine-readable result')
    .action(
      withClient(context, (client, revision: number | undefined, options: { source?: boolean; json?: boolean }) =>
        show(client, revision, options, io),
      ),
    );
  policy
    .command('rollback')
    .argument('<revision>', 'the revision whose content to publish again', revisionNumber)
    .description(
      'publish the content of an earlier revision as a new revision (says which exceptions in force it removes)',
    )
    .option('-m, --comment <text>', 'why')
    .option('-y, --yes', 'confirm: publish even though it removes exceptions now in force')
    .option('--dry-run', 'only list the exceptions in force it would remove')
    .option('--json', 'machine-readable result')
    .action(
      withClient(context, (client, revision: number, options: RollbackOptions) =>
        rollback(client, revision, options, io),
      ),
    );
}
