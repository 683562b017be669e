/**
 * `aigate policy validate FILE` and `aigate policy explain FILE ...`: work on a policy file on
 * disk, with no server. Each command returns its exit code and writes through the given
 * streams, so tests can run it in-process as well as through the real bin. Loaded only when one
 * of them runs (it brings the policy engine).
 */
import { readFile } from 'node:fs/promises';

import { builtinCatalog, catalogIndex } from '../../policies/catalog/index.js';
import { compilePolicy } from '../../policies/compile.js';
import { evaluateInstance } from '../../policies/evaluate.js';
import type { DeviceFacts, ToolInstance } from '../../policies/inventory.js';
import { formatProblem, loadPolicy, type LoadResult, type Problem, selectorProblem } from '../../policies/load.js';
import { OS_NAMES, type OsName, type PolicyDocument } from '../../policies/schema.js';
import { formatInZone, formatSpan, parseDateOrInstant } from '../../policies/time.js';
import type { Verdict } from '../../policies/verdict.js';
import { EXIT_INVALID, EXIT_OK, EXIT_USAGE, type Output } from './output.js';

async function loadFile(file: string, io: Output): Promise<LoadResult | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    io.err(
      `aigate: cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message}`,
    );
    return null;
  }
  return loadPolicy(text, { filename: file, nowMs: Date.now() });
}

/** In the order they appear in the file (those without a position first), as an editor lists them. */
const byPosition = (problems: readonly Problem[]) =>
  [...problems].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));

function printProblems(result: LoadResult, file: string, io: Output): void {
  if (!result.ok) for (const problem of byPosition(result.errors)) io.err(`error: ${formatProblem(problem, file)}`);
  for (const problem of byPosition(result.warnings)) io.err(`warning: ${formatProblem(problem, file)}`);
}

export async function validatePolicyFile(file: string, options: { json?: boolean }, io: Output): Promise<number> {
  const result = await loadFile(file, io);
  if (!result) return EXIT_USAGE;
  if (options.json) {
    io.out(
      JSON.stringify(
        result.ok
          ? { valid: true, warnings: result.warnings }
          : { valid: false, errors: result.errors, warnings: result.warnings },
        null,
        2,
      ),
    );
    return result.ok ? EXIT_OK : EXIT_INVALID;
  }
  printProblems(result, file, io);
  if (!result.ok) {
    io.err(`${file}: invalid (${result.errors.length} error${result.errors.length === 1 ? '' : 's'})`);
    return EXIT_INVALID;
  }
  const policy = result.policy;
  const rules = policy.spec.rules?.length ?? 0;
  const exceptions = policy.spec.exceptions?.length ?? 0;
  io.out(
    `${file}: valid policy "${policy.metadata.name}" (${policy.spec.mode ?? 'enforce'} mode, ${rules} rule${rules === 1 ? '' : 's'}, ` +
      `${exceptions} exception${exceptions === 1 ? '' : 's'}, default ${policy.spec.default ?? 'allow'})` +
      (result.warnings.length ? `, ${result.warnings.length} warning${result.warnings.length === 1 ? '' : 's'}` : ''),
  );
  return EXIT_OK;
}

export interface ExplainOptions {
  tool: string;
  version?: string;
  at?: string;
  group?: string;
  os?: string;
  user?: string;
  device?: string;
  json?: boolean;
}

function hostOs(): OsName {
  if (process.platform === 'darwin') return 'darwin';
  if (process.platform === 'win32') return 'windows';
  return 'linux';
}

export async function explainPolicyFile(file: string, options: ExplainOptions, io: Output): Promise<number> {
  const catalog = builtinCatalog;
  const toolProblem = selectorProblem(options.tool, catalog);
  if (toolProblem || options.tool.includes(':') || options.tool === '*') {
    io.err(`aigate: --tool: ${toolProblem ?? `"${options.tool}" is a selector; name one catalog tool id`}`);
    return EXIT_USAGE;
  }
  if (options.os !== undefined && !(OS_NAMES as readonly string[]).includes(options.os)) {
    io.err(`aigate: --os: "${options.os}" is not one of ${OS_NAMES.join(', ')}`);
    return EXIT_USAGE;
  }
  const result = await loadFile(file, io);
  if (!result) return EXIT_USAGE;
  if (!result.ok) {
    printProblems(result, file, io);
    io.err(`${file}: invalid, nothing to explain`);
    return EXIT_INVALID;
  }
  const policy = result.policy;
  const timeZone = policy.spec.timezone ?? 'UTC';
  let nowMs = Date.now();
  if (options.at !== undefined) {
    const at = parseDateOrInstant(options.at, timeZone);
    if (!at.ok) {
      io.err(`aigate: --at: ${at.error}`);
      return EXIT_USAGE;
    }
    nowMs = at.epochMs;
  }

  const instance: ToolInstance = {
    toolId: options.tool,
    name: catalogIndex(catalog).tool(options.tool)?.name ?? options.tool,
    version: options.version ?? null,
    channel: 'npm',
    installPath: '(explain)',
    launchers: [],
    owner: options.user ?? null,
    evidence: [],
  };
  const device: DeviceFacts = { os: (options.os as OsName | undefined) ?? hostOs() };
  if (options.group !== undefined) device.group = options.group;
  if (options.device !== undefined) device.deviceId = options.device;

  const verdict = evaluateInstance(compilePolicy(policy, catalog), instance, device, nowMs);
  if (options.json) {
    io.out(
      JSON.stringify(
        { at: new Date(nowMs).toISOString(), tool: options.tool, version: instance.version, device, verdict },
        null,
        2,
      ),
    );
    return EXIT_OK;
  }
  io.out(renderExplanation(policy, instance, device, verdict, nowMs).join('\n'));
  return EXIT_OK;
}

function describeDecider(verdict: Verdict): string {
  switch (verdict.decidedBy.kind) {
    case 'rule':
      return `rule "${verdict.decidedBy.name}" (spec.rules[${verdict.decidedBy.index}])`;
    case 'exception':
      return `exception "${verdict.decidedBy.name}" (spec.exceptions[${verdict.decidedBy.index}])`;
    case 'default':
      return 'the default (no rule matched)';
    case 'unknown-tools':
      return 'spec.unknownTools (the tool is not in the catalog)';
  }
}

function when(epochMs: number, nowMs: number, timeZone: string): string {
  const relative =
    epochMs === nowMs
      ? 'now'
      : epochMs > nowMs
        ? `in ${formatSpan(epochMs - nowMs)}`
        : `${formatSpan(nowMs - epochMs)} ago`;
  return `${new Date(epochMs).toISOString()} (${formatInZone(epochMs, timeZone)}, ${relative})`;
}

function renderExplanation(
  policy: PolicyDocument,
  instance: ToolInstance,
  device: DeviceFacts,
  verdict: Verdict,
  nowMs: number,
): string[] {
  const timeZone = policy.spec.timezone ?? 'UTC';
  const scope = [
    `os ${device.os}`,
    device.group && `group ${device.group}`,
    device.deviceId && `device ${device.deviceId}`,
    instance.owner && `user ${instance.owner}`,
  ]
    .filter(Boolean)
    .join(', ');
  const lines = [
    `policy:      ${policy.metadata.name} (${policy.spec.mode ?? 'enforce'} mode)`,
    `tool:        ${instance.name} (${instance.toolId}) version ${instance.version ?? 'unknown'}; ${scope}`,
    `at:          ${new Date(nowMs).toISOString()} (${formatInZone(nowMs, timeZone)})`,
    `verdict:     ${verdict.action.toUpperCase()}${verdict.enforce ? '' : ' (monitor mode: reported only, nothing is changed)'}`,
    `decided by:  ${describeDecider(verdict)}`,
  ];
  if (verdict.phase === 'warn-window' && verdict.effectiveAt && verdict.upcomingAction) {
    lines.push(
      `countdown:   becomes ${verdict.upcomingAction.toUpperCase()} at ${when(Date.parse(verdict.effectiveAt), nowMs, timeZone)}`,
    );
  } else if (verdict.effectiveAt) {
    lines.push(`effective:   since ${when(Date.parse(verdict.effectiveAt), nowMs, timeZone)}`);
  }
  if (verdict.until) lines.push(`until:       ${when(Date.parse(verdict.until), nowMs, timeZone)}`);
  lines.push(`message:     ${verdict.message}`);
  if (verdict.alternatives.length) lines.push(`instead use: ${verdict.alternatives.join(', ')}`);
  if (verdict.contact) lines.push(`contact:     ${verdict.contact}`);
  lines.push(
    `next change: ${verdict.nextChangeAt ? when(Date.parse(verdict.nextChangeAt), nowMs, timeZone) : 'none scheduled'}`,
  );
  return lines;
}
