/**
 * `aigate-agent request-exception TOOL --reason TEXT`: an employee asks IT for an exception. The
 * request is dropped into the agent's requests folder (the employee cannot read the device key);
 * the running agent files it at once, or the next run does. Run as root with no agent running,
 * it is filed directly.
 */
import type { Command } from 'commander';

import { builtinCatalog, catalogIndex } from '../../policies/catalog/index.js';
import { parseDateOrInstant } from '../../policies/time.js';
import { silentLogger } from '../log.js';
import { DeviceHttp } from '../net/device-http.js';
import { isAlive } from '../pid.js';
import { forwardRequests, type TrackedRequest } from '../requests/forward.js';
import { dropRequest, MAX_REASON_CHARS } from '../requests/request-file.js';
import { type AgentConfig, loadConfig } from '../state/config.js';
import { loadDeviceKey } from '../state/device-key.js';
import { acquireLock } from '../state/lock.js';
import { type StatePaths, statePaths } from '../state/paths.js';
import { readStatusFile, type StatusFile } from '../status/status-file.js';
import { addStateDirOption, CliError, EXIT_USAGE } from './common.js';

interface Flags {
  stateDir: string;
  reason?: string;
  until?: string;
  wait: boolean;
}

function resolveTool(input: string, status: StatusFile | null): { toolId: string; name: string } {
  const index = catalogIndex(builtinCatalog);
  const local = status?.tools.find((tool) => tool.toolId === input);
  if (local) return { toolId: local.toolId, name: local.name };
  const tool = index.tool(input);
  if (tool) return { toolId: tool.id, name: tool.name };
  const guess = index.bySignature('binaries', input)?.id ?? index.suggest(input);
  const hint = guess ? ` Did you mean ${guess}?` : '';
  throw new CliError(
    `aigate-agent request-exception: "${input}" is not a tool aigate knows.${hint} Run aigate-agent status to see the tools on this machine and their ids.`,
    EXIT_USAGE,
  );
}

/** Filed directly (root, no agent running): the outcome, or null if that is not possible here. */
async function fileDirectly(paths: StatePaths, status: StatusFile | null, id: string): Promise<TrackedRequest | null> {
  let config: AgentConfig;
  let key;
  try {
    config = await loadConfig(paths.config, paths.root);
    key = await loadDeviceKey(paths.deviceKey);
  } catch {
    return null;
  }
  if (!key) return null;
  let lock;
  try {
    lock = await acquireLock(paths.lock);
  } catch {
    return null;
  }
  try {
    const http = new DeviceHttp({
      serverUrl: config.serverUrl,
      deviceId: config.deviceId,
      audience: config.audience,
      privateKey: key.privateKey,
    });
    const requests = await forwardRequests({
      http,
      requestsDir: paths.requestsDir,
      trackedFile: paths.exceptions,
      index: catalogIndex(builtinCatalog),
      instances: status?.tools ?? [],
      log: silentLogger(),
      reportedUsers: null,
    });
    return requests.find((request) => request.id === id) ?? null;
  } finally {
    await lock.release();
  }
}

/**
 * Waits for the running agent to file it (it watches the folder): until the server has it or it
 * was refused. A request the agent has seen but not filed yet (its user is reported at the next
 * check-in) is returned as it stands when the time is up.
 */
async function waitForAgent(
  paths: StatePaths,
  id: string,
  timeoutMs: number,
): Promise<StatusFile['requests'][number] | null> {
  const deadline = Date.now() + timeoutMs;
  let seen: StatusFile['requests'][number] | null = null;
  while (Date.now() < deadline) {
    const read = await readStatusFile(paths.status);
    seen = (read.ok ? read.status.requests.find((request) => request.id === id) : undefined) ?? seen;
    if (seen && (seen.serverId !== null || seen.status !== 'pending')) return seen;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return seen;
}

export function registerRequestException(program: Command): void {
  const command = program
    .command('request-exception')
    .description('ask IT for an exception to use a tool the policy warns about or blocks')
    .argument('<tool>', 'the tool id, as `aigate-agent status` shows it (e.g. claude-code)')
    .option('--reason <text>', 'why you need it (IT reads this)')
    .option('--until <date>', 'until when you need it (YYYY-MM-DD)')
    .option('--no-wait', 'do not wait for the agent to send the request');
  addStateDirOption(command).action(async (toolInput: string, flags: Flags) => {
    const reason = flags.reason?.trim() ?? '';
    if (!reason)
      throw new CliError(
        'aigate-agent request-exception: say why you need it with --reason "..." (IT reads it to decide)',
        EXIT_USAGE,
      );
    if (reason.length > MAX_REASON_CHARS)
      throw new CliError(
        `aigate-agent request-exception: --reason is limited to ${MAX_REASON_CHARS} characters`,
        EXIT_USAGE,
      );
    if (flags.until !== undefined) {
      const parsed = parseDateOrInstant(flags.until, 'UTC');
      if (!parsed.ok) throw new CliError(`aigate-agent request-exception: --until: ${parsed.error}`, EXIT_USAGE);
    }
    const paths = statePaths(flags.stateDir);
    const current = await readStatusFile(paths.status);
    const status = current.ok ? current.status : null;
    const tool = resolveTool(toolInput, status);

    let id: string;
    try {
      id = await dropRequest(
        paths.requestsDir,
        { toolId: tool.toolId, reason, ...(flags.until ? { until: flags.until } : {}) },
        Date.now(),
      );
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT')
        throw new CliError(
          `aigate-agent request-exception: the aigate agent is not set up on this machine (${paths.requestsDir} does not exist)`,
        );
      if (code === 'EACCES')
        throw new CliError(
          `aigate-agent request-exception: cannot write to ${paths.requestsDir}; ask IT to check the aigate agent installation`,
        );
      throw error;
    }

    const out = (line = '') => process.stdout.write(`${line}\n`);
    const daemonUp = status?.daemon.running === true && isAlive(status.daemon.pid);
    let outcome: { status: string; note: string | null; serverId: string | null } | null = null;
    if (daemonUp && flags.wait) outcome = await waitForAgent(paths, id, 20_000);
    else if (!daemonUp) outcome = await fileDirectly(paths, status, id).catch(() => null);

    if (outcome?.status === 'refused') {
      throw new CliError(
        `aigate-agent request-exception: the request was not accepted: ${outcome.note ?? 'no reason given'}`,
      );
    }
    // Not filed yet (offline, or its user is reported at the agent's next check-in): it is saved.
    if (outcome?.serverId) {
      out(`Your request for an exception for ${tool.name} was sent to IT (request ${outcome.serverId}).`);
    } else {
      out(`Your request for an exception for ${tool.name} is saved (reference ${id}).`);
      out(
        'The aigate agent sends it to IT as soon as this computer can reach the aigate server (it checks every few minutes).',
      );
    }
    out('');
    out('What happens next:');
    out('  - IT reviews your request and your reason. You do not need to do anything else.');
    out(
      `  - If it is approved, this computer receives the updated policy within minutes and ${tool.name} works again, exactly as before.`,
    );
    out('  - If it is declined, IT will tell you why, and the answer also shows in: aigate-agent status');
    if (outcome?.status === 'approved')
      out(`Update: it has already been approved${outcome.note ? ` (${outcome.note})` : ''}.`);
  });
}
