/**
 * `aigate fingerprints list|approve|revoke`: file fingerprints devices reported (SHA-256 of a
 * catalogued tool's entry file or native binary). One device's report is not trusted: a
 * fingerprint ships in the signed bundle once an admin approves it or enough devices agree
 * (server/services/fingerprint-service.ts); a revoked one never ships.
 */
import type { Static } from '@sinclair/typebox';
import { InvalidArgumentError } from 'commander';

import type { AdminClient } from '../../client/admin-client.js';
import type { FingerprintView } from '../../routes/admin/fingerprints.js';
import { EXIT_OK, line, type Output } from '../output.js';
import { shortTime, table } from '../table.js';
import { type CliContext, oneOf, printJson, withClient } from './common.js';

type Fingerprint = Static<typeof FingerprintView>;

/** What `list --status` takes: a stored status, `shipped` (whatever the reason), or `all`. */
const LIST_FILTERS = ['pending', 'approved', 'revoked', 'shipped', 'all'] as const;

const sha256Argument = (value: string) => {
  if (!/^[0-9a-fA-F]{64}$/.test(value))
    throw new InvalidArgumentError(
      line`"${value}" is not a SHA-256: 64 hex digits, as aigate fingerprints list --status all shows them`,
    );
  return value.toLowerCase();
};

/** 10703883 -> "10.2 MiB". */
function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

async function list(client: AdminClient, options: { status: string; json?: boolean }, io: Output): Promise<number> {
  const query =
    options.status === 'all' ? '' : options.status === 'shipped' ? '?shipped=true' : `?status=${options.status}`;
  const result = await client.get<{ fingerprints: Fingerprint[] }>(`/fingerprints${query}`);
  if (options.json) {
    printJson(io, result.fingerprints);
    return EXIT_OK;
  }
  if (result.fingerprints.length === 0) {
    io.out(`no ${options.status === 'all' ? '' : `${options.status} `}fingerprints`);
    return EXIT_OK;
  }
  io.out(
    table(
      ['SHA-256', 'STATUS', 'SHIPPED', 'TOOL', 'VERSION', 'KIND', 'SIZE', 'DEVICES', 'LAST REPORTED', 'WHY'],
      result.fingerprints.map((f) => [
        f.sha256,
        f.status,
        f.shipped ? 'yes' : 'no',
        f.toolId,
        f.version ?? '-',
        f.kind,
        size(f.size),
        f.agreeing === f.devices ? f.devices : `${f.devices} (${f.devices - f.agreeing} disagree)`,
        shortTime(f.lastReportedAt),
        f.why,
      ]),
    ),
  );
  return EXIT_OK;
}

async function decide(
  client: AdminClient,
  verb: 'approve' | 'revoke',
  sha256: string,
  options: { json?: boolean },
  io: Output,
): Promise<number> {
  const result = await client.post<{ fingerprint: Fingerprint; revision: number | null }>(
    `/fingerprints/${sha256}/${verb}`,
  );
  if (options.json) printJson(io, result);
  else {
    const f = result.fingerprint;
    const published =
      result.revision === null
        ? '; the bundle already said so, no new revision'
        : `; published as policy revision ${result.revision}`;
    io.out(line`${f.status}: ${f.sha256} (${f.toolId} ${f.version ?? ''} ${f.kind}, ${size(f.size)})` + published);
  }
  return EXIT_OK;
}

export function registerFingerprints(context: CliContext): void {
  const { io } = context;
  const fingerprints = context.program
    .command('fingerprints')
    .description('file fingerprints devices reported, and which ones every agent gets in the signed bundle');
  fingerprints
    .command('list')
    .description('fingerprints (default: pending); SHIPPED says whether the bundle carries one, WHY says why (not)')
    .option('--status <status>', LIST_FILTERS.join(' | '), oneOf('--status', LIST_FILTERS), 'pending')
    .option('--json', 'machine-readable result')
    .action(withClient(context, (client, options: { status: string; json?: boolean }) => list(client, options, io)));
  for (const [verb, description] of [
    ['approve', 'ship it in the signed bundle whatever devices said (a new policy revision)'],
    ['revoke', 'never ship it again, whatever devices report (a new policy revision if it was shipped)'],
  ] as const) {
    fingerprints
      .command(verb)
      .argument('<sha256>', 'the fingerprint (64 hex digits; see aigate fingerprints list)', sha256Argument)
      .description(description)
      .option('--json', 'machine-readable result')
      .action(
        withClient(context, (client, sha256: string, options: { json?: boolean }) =>
          decide(client, verb, sha256, options, io),
        ),
      );
  }
}
