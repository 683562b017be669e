/**
 * What a verdict asks of the disk for one instance: nothing (allow, monitor mode, a tool not in
 * the catalog), warn stubs on its launchers, or block stubs plus the quarantine of its install
 * folder. Only launchers and install folders of a detected instance of a catalogued tool that
 * pass the guard are ever named. Pure.
 */
import type { CatalogIndex } from '../../policies/catalog/index.js';
import type { CompiledPolicy } from '../../policies/compile.js';
import type { ToolInstance } from '../../policies/inventory.js';
import type { NoticeLocale } from '../../policies/notice-locale.js';
import { reasonFactsOf, reasonText } from '../../policies/notice-text.js';
import type { Verdict } from '../../policies/verdict.js';
import { buildNotices } from '../notices/notice.js';
import { checkInstallPath, checkLauncherPath, type GuardContext, isWithin } from './guard.js';
import type { AppliedInstance } from './ledger.js';
import type { Desired } from './plan.js';
import { recordKey, renderStub } from './stubs.js';

export interface PolicyFacts {
  name: string;
  timeZone: string;
  index: CatalogIndex;
  /** The policy's default notice language (`spec.notice.locale`, a BCP 47 tag). */
  noticeLocale: string;
  /** A verdict's reason in `locale` (the policy's message in that language, or aigate's text). */
  reason: (verdict: Verdict, toolName: string, locale: NoticeLocale) => string;
}

export interface DesireInput {
  key: string;
  instance: ToolInstance;
  verdict: Verdict;
  record: AppliedInstance | null;
  policy: PolicyFacts;
  guard: GuardContext;
  launchesDir: string;
}

export interface Desire {
  desired: Desired | null;
  /** Why something the verdict asks for will not be done (shown in logs and status). */
  notes: string[];
}

/** The instance as recorded: without what changes every scan (running, pids). */
function stableInstance(instance: ToolInstance): ToolInstance {
  const { running: _running, pids: _pids, ...rest } = instance;
  return rest;
}

export function desire(input: DesireInput): Desire {
  const { instance, verdict, policy, guard } = input;
  const notes: string[] = [];
  if (!verdict.enforce || verdict.action === 'allow') return { desired: null, notes };
  const tool = policy.index.tool(instance.toolId);
  if (!tool) {
    notes.push(`${instance.toolId} is not in the catalog: reported, never modified`);
    return { desired: null, notes };
  }
  const level = verdict.action === 'block' ? 'block' : 'warn';

  const candidates = [
    ...new Set([...(input.record?.launchers.map((entry) => entry.path) ?? []), ...instance.launchers]),
  ];
  const launchers = candidates.filter((launcher) => {
    const checked = checkLauncherPath(launcher, guard);
    if (!checked.ok) notes.push(checked.reason);
    return checked.ok;
  });

  let quarantine: string | null = null;
  if (level === 'block') {
    const checked = checkInstallPath(instance.installPath, guard);
    if (!checked.ok) notes.push(checked.reason);
    else if (launchers.some((launcher) => isWithin(launcher, instance.installPath, guard.platform))) {
      // Quarantining would move the stub away with the folder: the stubs alone block it.
      notes.push(`${instance.installPath} holds one of its own launchers; blocked by stubs, not quarantined`);
    } else quarantine = instance.installPath;
  }
  // Per-platform packages holding the tool's native binary (ToolInstance.parts, issue 12):
  // quarantined with it, under the same rules as the install folder.
  const parts: string[] = [];
  if (level === 'block' && quarantine !== null) {
    for (const part of instance.parts ?? []) {
      const checked = checkInstallPath(part, guard);
      if (!checked.ok) notes.push(checked.reason);
      else if (launchers.some((launcher) => isWithin(launcher, part, guard.platform)))
        notes.push(`${part} holds one of the tool's launchers; blocked by stubs, not quarantined`);
      else if (
        part !== quarantine &&
        !isWithin(part, quarantine, guard.platform) &&
        !isWithin(quarantine, part, guard.platform)
      )
        parts.push(part);
    }
  }

  const key = recordKey(input.key);
  const noticeFor = (kind: 'warn' | 'block', shown: Verdict) =>
    buildNotices(
      {
        kind,
        toolId: instance.toolId,
        toolName: tool.name,
        version: instance.version,
        policyName: policy.name,
        timeZone: policy.timeZone,
        verdict: shown,
      },
      (locale) => policy.reason(shown, tool.name, locale),
      policy.noticeLocale,
    );
  const notice = noticeFor(level, verdict);
  const blockAt =
    level === 'warn' &&
    verdict.phase === 'warn-window' &&
    verdict.upcomingAction === 'block' &&
    verdict.effectiveAt !== null
      ? {
          epochMs: Date.parse(verdict.effectiveAt),
          notice: noticeFor('block', { ...verdict, action: 'block', phase: 'in-effect', upcomingAction: null }),
        }
      : null;

  const desired: Desired = {
    key: input.key,
    level,
    instance: stableInstance(instance),
    verdict,
    launchers,
    quarantine,
    parts,
    stubText: (launcher, sibling) =>
      renderStub(launcher, {
        kind: level,
        toolId: instance.toolId,
        key,
        notice,
        blockAt,
        original: sibling,
        launchesDir: input.launchesDir,
      }),
  };
  return { desired, notes };
}

/** The facts about a compiled policy that enforcement needs. */
export function policyFacts(compiled: CompiledPolicy): PolicyFacts {
  return {
    name: compiled.name,
    timeZone: compiled.timeZone,
    index: compiled.index,
    noticeLocale: compiled.noticeLocale,
    reason: (verdict, toolName, locale) => reasonText(compiled, reasonFactsOf(verdict), toolName, locale),
  };
}
