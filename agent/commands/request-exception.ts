/**
 * `aigate-agent request-exception TOOL --reason TEXT`: an employee asks IT for an exception. The
 * request is dropped into the agent's requests folder (the employee cannot read the device key);
 * the running agent files it at once, or the next run does. Run as root with no agent running,
 * it is filed directly.
 */
import type { Command } from 'commander';

import { builtinCatalog, catalogIndex } from '../../policies/catalog/index.js';
import { chooseNoticeLocale, localeFromEnv } from '../../policies/notice-locale.js';
import { NOTICE_TEXTS, type NoticeTexts } from '../../policies/notice-text.js';
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

function resolveTool(input: string, status: StatusFile | null, t: NoticeTexts): { toolId: string; name: string } {
  const index = catalogIndex(builtinCatalog);
  const local = status?.tools.find((tool) => tool.toolId === input);
  if (local) return { toolId: local.toolId, name: local.name };
  const tool = index.tool(input);
  if (tool) return { toolId: tool.id, name: tool.name };
  const guess = index.bySignature('binaries', input)?.id ?? index.suggest(input);
  throw new CliError(`aigate-agent request-exception: ${t.requestUnknownTool(input, guess ?? null)}`, EXIT_USAGE);
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
    const paths = statePaths(flags.stateDir);
    const current = await readStatusFile(paths.status);
    const status = current.ok ? current.status : null;
    // Replies in the employee's language: their locale, else the policy's default, else English.
    const t = NOTICE_TEXTS[chooseNoticeLocale(localeFromEnv(process.env), status?.policy?.noticeLocale)];
    const reason = flags.reason?.trim() ?? '';
    if (!reason) throw new CliError(`aigate-agent request-exception: ${t.requestNeedsReason}`, EXIT_USAGE);
    if (reason.length > MAX_REASON_CHARS)
      throw new CliError(`aigate-agent request-exception: ${t.requestReasonTooLong(MAX_REASON_CHARS)}`, EXIT_USAGE);
    if (flags.until !== undefined) {
      const parsed = parseDateOrInstant(flags.until, 'UTC');
      if (!parsed.ok) throw new CliError(`aigate-agent request-exception: --until: ${parsed.error}`, EXIT_USAGE);
    }
    const tool = resolveTool(toolInput, status, t);

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
        throw new CliError(`aigate-agent request-exception: ${t.requestNotSetUp(paths.requestsDir)}`);
      if (code === 'EACCES')
        throw new CliError(`aigate-agent request-exception: ${t.requestCannotWrite(paths.requestsDir)}`);
      throw error;
    }

    const out = (line = '') => process.stdout.write(`${line}\n`);
    const daemonUp = status?.daemon.running === true && isAlive(status.daemon.pid);
    let outcome: { status: string; note: string | null; serverId: string | null } | null = null;
    if (daemonUp && flags.wait) outcome = await waitForAgent(paths, id, 20_000);
    else if (!daemonUp) outcome = await fileDirectly(paths, status, id).catch(() => null);

    if (outcome?.status === 'refused') {
      throw new CliError(`aigate-agent request-exception: ${t.requestRefused(outcome.note)}`);
    }
    // Not filed yet (offline, or its user is reported at the agent's next check-in): it is saved.
    if (outcome?.serverId) {
      out(t.requestSent(tool.name, outcome.serverId));
    } else {
      out(t.requestSaved(tool.name, id));
      out(t.requestWhenOnline);
    }
    out('');
    for (const line of t.requestNext) out(line);
    out(t.requestIfApproved(tool.name));
    if (outcome?.status === 'approved') out(t.requestApproved(outcome.note));
  });
}
