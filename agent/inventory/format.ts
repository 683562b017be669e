/** How a scan is shown to people: the table of instances and the one-line skip summary. */
import type { ToolInstance } from '../../policies/inventory.js';
import type { ScanResult, Skipped } from './types.js';

const HEADERS = ['TOOL', 'VERSION', 'CHANNEL', 'USER', 'PATH', 'RUNNING'] as const;

export function formatTable(instances: readonly ToolInstance[]): string {
  if (instances.length === 0) return 'No AI tools found.\n';
  const rows = instances.map((i) => [
    i.toolId,
    i.version ?? '?',
    i.host ? `${i.channel} (${i.host})` : i.channel,
    i.owner ?? '-',
    i.installPath,
    i.running === undefined ? '-' : i.running ? `yes (pid ${(i.pids ?? []).join(', ')})` : 'no',
  ]);
  const widths = HEADERS.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  const out = [line(HEADERS), ...rows.map(line)];
  if (instances.some((i) => i.version === null))
    out.push('', '? = version not readable from files (the reason is in --json output)');
  return `${out.join('\n')}\n`;
}

/** "skipped 3 places (2 permission denied, 1 symlink loop)" or "nothing skipped". */
function summarizeSkipped(skipped: readonly Skipped[]): string {
  if (skipped.length === 0) return 'nothing skipped';
  const counts = new Map<string, number>();
  for (const s of skipped) {
    const kind = s.reason.split(/ \(|;/)[0]!.trim();
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  const parts = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([kind, n]) => `${n} ${kind}`);
  return `skipped ${skipped.length} place${skipped.length === 1 ? '' : 's'} (${parts.join(', ')})`;
}

export function summaryLine(result: ScanResult): string {
  const users = result.users.length;
  return `scanned ${users} home${users === 1 ? '' : 's'} in ${Math.round(result.durationMs)} ms, found ${result.instances.length} instance${result.instances.length === 1 ? '' : 's'}; ${summarizeSkipped(result.skipped)}${result.budgetExhausted ? ' (time budget ran out)' : ''}`;
}
