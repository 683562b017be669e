/**
 * `aigate report export|rollup`. The report definitions and the streaming code load only when
 * a report command runs; the kinds listed in --help are checked against them by a test.
 */
import { Option } from 'commander';

import type { ExportOptions, VerifyOptions } from '../report-export.js';
import { type CliContext, withClient } from './common.js';

/** The report kinds, for --help without loading the definitions (test/server/reports-cli.test.ts holds it to REPORT_KINDS). */
export const REPORT_KIND_NAMES = [
  'inventory',
  'violations',
  'events',
  'coverage',
  'compliance',
  'usage',
  'policies',
  'audit',
  'attestation',
] as const;

export function registerReports(context: CliContext): void {
  const { io } = context;
  const report = context.program.command('report').description('compliance reports (admin or auditor token)');
  report
    .command('export <kind>')
    .description(`stream a report: ${REPORT_KIND_NAMES.join(', ')}`)
    // Required for every kind but attestation, which is signed JSON only (checked in reportExport).
    .addOption(
      new Option('--format <format>', 'output format (attestation: json, the default)').choices([
        'csv',
        'json',
        'ndjson',
      ]),
    )
    .option('-o, --output <file>', 'write to this file (default: standard output)')
    .option('--at <instant>', 'the instant to attest, such as 2026-07-10T00:00:00+08:00 (attestation)')
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
    .option('--by <what>', 'group | os: rows per group or per operating system (compliance)')
    .action(
      withClient(context, async (client, kind: string, options: ExportOptions) => {
        const { reportExport } = await import('../report-export.js');
        return reportExport(client, kind, options, io);
      }),
    );
  report
    .command('verify <file>')
    .description(
      "check a signed attestation against the server's policy key and print what it attests (exit 0 valid, 1 invalid)",
    )
    .option('--key <file>', 'the policy public key as a JWK file (no server needed)')
    .option('--policy-key-fingerprint <fingerprint>', 'trust the key with this fingerprint (no server needed)')
    .option('--json', 'machine-readable result')
    .action(async (file: string, options: VerifyOptions) => {
      const { reportVerify } = await import('../report-export.js');
      if (options.key !== undefined || options.policyKeyFingerprint !== undefined) {
        context.setExit(await reportVerify(null, file, options, io));
        return;
      }
      await withClient(context, (client) => reportVerify(client, file, options, io))();
    });
  report
    .command('rollup')
    .description('rebuild the daily rollups now (admin token)')
    .option('--json', 'machine-readable result')
    .action(
      withClient(context, async (client, options: { json?: boolean }) => {
        const { reportRollup } = await import('../report-export.js');
        return reportRollup(client, options, io);
      }),
    );
}
