/**
 * `aigate-agent restore --all`: put back everything the agent changed on this machine, byte for
 * byte, before the agent is removed (the uninstallers run it with the service stopped). Needs
 * only the ledger: it works whether or not the machine is still enrolled. Exit code 0 when every
 * tool is back exactly as it was, 1 otherwise (each problem is listed).
 */
import { type Command, Option } from 'commander';

import { counted } from '../../policies/plural.js';
import { Enforcer, LedgerDamaged } from '../enforce/engine.js';
import { lexists } from '../enforce/fs-facts.js';
import type { AgentEvent } from '../events/event.js';
import { EventSpool } from '../events/spool.js';
import { machineHomes } from '../host/users.js';
import { createLogger } from '../log.js';
import { acquireLock, LockHeldError } from '../state/lock.js';
import { statePaths } from '../state/paths.js';
import { addStateDirOption, CliError, EXIT_FAILED, EXIT_OK, EXIT_USAGE } from './common.js';
import type { AgentHooks } from './hooks.js';

interface RestoreFlags {
  all?: boolean;
  stateDir: string;
  logLevel: string;
}

export function registerRestore(program: Command, hooks: AgentHooks): void {
  const command = program
    .command('restore')
    .description(
      'put back every tool the agent stubbed or quarantined, exactly as it was (before uninstalling the agent)',
    )
    .option('--all', 'every tool (required: restoring is all or nothing)')
    .addOption(
      new Option('--log-level <level>', 'log level')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'silent'])
        .default('warn'),
    );
  addStateDirOption(command).action(async (flags: RestoreFlags) => {
    if (!flags.all)
      throw new CliError(
        'aigate-agent restore: pass --all to put back every tool the agent changed (stop the agent service first)',
        EXIT_USAGE,
      );
    const out = (line: string) => process.stdout.write(`${line}\n`);
    const paths = statePaths(flags.stateDir);
    if (!(await lexists(paths.enforcement))) {
      out(`Nothing to restore: the agent has changed nothing on this machine (no ledger in ${flags.stateDir}).`);
      return;
    }
    let lock;
    try {
      lock = await acquireLock(paths.lock);
    } catch (error) {
      if (error instanceof LockHeldError) throw new CliError(`aigate-agent restore: ${error.message}`);
      throw error;
    }
    const log = createLogger({ level: flags.logLevel });
    try {
      // An event that cannot be spooled (a full disk) is counted for later, never stops the restore.
      const spool = new EventSpool(paths.spoolDir, {
        dropFile: paths.spoolLosses,
        onTrouble: (trouble) => log.error({ problem: trouble.message }, 'event spool trouble'),
      });
      const events: AgentEvent[] = [];
      const enforcer = new Enforcer({
        ledgerFile: paths.enforcement,
        launchesDir: paths.launchesDir,
        guard: { platform: process.platform, homes: machineHomes(undefined), stateDir: flags.stateDir },
        isRoot: process.getuid?.() === 0,
        graceMs: 5000,
        fault: hooks.fault,
        log,
        emit: async (event) => {
          events.push(event);
          await spool.record(event);
        },
        clock: hooks.localClock,
      });
      try {
        await enforcer.load();
      } catch (error) {
        if (error instanceof LedgerDamaged) throw new CliError(`aigate-agent restore: ${error.message}`);
        throw error;
      }
      await enforcer.recover();
      const count = enforcer.applied.length;
      const summary = await enforcer.restoreAll();
      const unverified = events.filter((event) => event.type === 'restored' && event.details?.verified !== true);
      for (const event of events)
        if (event.type === 'restored' || event.type === 'enforcement-failed')
          out(`${event.type === 'restored' ? 'restored' : 'FAILED'}: ${event.message ?? ''}`);
      const left = enforcer.applied.length;
      if (count === 0) out('Nothing to restore: no tool is stubbed or quarantined.');
      else
        out(
          `${summary.restored} of ${counted(count, 'tool')} put back${left > 0 ? `; ${left} could not be (see above)` : ''}.`,
        );
      process.exitCode = left > 0 || summary.failed > 0 || unverified.length > 0 ? EXIT_FAILED : EXIT_OK;
    } finally {
      await lock.release();
      log.flush();
    }
  });
}
