/** `aigate-agent once`: one full cycle, then exit (scripts, tests, the demo). */
import type { Command } from 'commander';

import { counted } from '../../policies/plural.js';
import type { CycleReport } from '../agent.js';
import { EXIT_FAILED, EXIT_OK } from './common.js';
import type { AgentHooks } from './hooks.js';
import { addAgentOptions, type AgentFlags, openAgent } from './open-agent.js';

function summary(report: CycleReport): string[] {
  const lines: string[] = [];
  lines.push(
    report.policy
      ? `Policy "${report.policy.name}" revision ${report.policy.revision} (${report.policy.mode})${report.policyOutcome === 'updated' ? ', just received' : ''}${report.policyOutcome === 'refused' ? '; a newer bundle was refused (see the logs and status)' : ''}.`
      : 'No policy received yet: nothing is enforced.',
  );
  lines.push(
    report.online
      ? 'Server reachable.'
      : `Server unreachable${report.contactError ? ` (${report.contactError})` : ''}: the cached policy is enforced and events wait in the spool.`,
  );
  const { allow, warn, block } = report.verdicts;
  lines.push(`${counted(report.instances, 'AI tool instance')}: ${block} blocked, ${warn} warned, ${allow} allowed.`);
  if (report.enforcement) {
    const e = report.enforcement;
    lines.push(
      `Enforcement: ${e.applied} applied, ${e.restored} restored, ${e.repaired} repaired after tampering, ${e.failed} failed.`,
    );
  }
  if (report.launchRecords) lines.push(`${counted(report.launchRecords, 'launch record')} collected.`);
  lines.push(
    report.upload
      ? `Events: ${report.upload.sent} sent, ${report.spooled} waiting.`
      : `Events: ${report.spooled} waiting in the spool.`,
  );
  if (report.nextChangeAt) lines.push(`Next verdict change: ${report.nextChangeAt}.`);
  for (const error of report.errors)
    lines.push(`Failed: ${error.phase}: ${error.message} (the rest of the cycle went on).`);
  if (report.health.state === 'degraded')
    lines.push(
      `Health: degraded (${report.health.reasons.map((reason) => reason.code).join(', ')}); reported to the server.`,
    );
  return lines;
}

export function registerOnce(program: Command, hooks: AgentHooks): void {
  const command = program
    .command('once')
    .description('run one full cycle (sync, scan, enforce, report) and exit')
    .option('--json', 'print the cycle report as JSON');
  addAgentOptions(command).action(async (flags: AgentFlags & { json?: boolean }) => {
    const { agent, lock, log } = await openAgent(flags, null, hooks);
    try {
      const report = await agent.cycle();
      process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : `${summary(report).join('\n')}\n`);
      process.exitCode = (report.enforcement?.failed ?? 0) > 0 || report.errors.length > 0 ? EXIT_FAILED : EXIT_OK;
    } finally {
      await lock.release();
      log.flush();
    }
  });
}
