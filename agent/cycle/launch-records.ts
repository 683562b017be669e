/**
 * The launch-records step: turns the records the stubs dropped (events/launch-records.ts) into
 * events, for enforced instances and those put back lately. A record whose event cannot be
 * spooled (a full disk) stays in its folder for the next collection; nothing is lost.
 */
import { recordKey } from '../enforce/stubs.js';
import { collectLaunchRecords, type LaunchTarget, removeRecords } from '../events/launch-records.js';
import { describeError } from './state.js';
import type { Step } from './step.js';

/** The number of records turned into spooled events. */
export const launchRecordsStep: Step<number> = {
  name: 'launch records',
  async run(state) {
    const { enforcer, paths, spool, sync, log, health } = state.parts;
    const now = state.now;
    const targets = new Map<string, LaunchTarget>();
    for (const [key, target] of state.released) {
      if (target.until < now) state.released.delete(key);
      else targets.set(key, target);
    }
    for (const record of enforcer.applied) {
      targets.set(recordKey(record.key), {
        toolId: record.instance.toolId,
        installPath: record.instance.installPath,
        version: record.instance.version,
      });
    }
    const collected = await collectLaunchRecords(paths.launchesDir, targets, sync.current?.payload.revision ?? null);
    const kept = new Set<string>();
    for (const [index, event] of collected.events.entries()) {
      try {
        await spool.append(event);
        kept.add(collected.eventFiles[index]!);
      } catch (error) {
        // The record stays for the next collection (its event id is derived from it): nothing is lost yet.
        const message = `a launch record could not be spooled and waits in ${paths.launchesDir}: ${(error as NodeJS.ErrnoException).code ?? describeError(error)}`;
        log.error({ problem: message }, 'event spool trouble');
        health.set('spool', 'spool-trouble', message, now);
      }
    }
    const waiting = new Set(collected.eventFiles.filter((file) => !kept.has(file)));
    await removeRecords(collected.consumed.filter((file) => !waiting.has(file)));
    for (const rejected of collected.rejected) log.warn(rejected, 'ignored a launch record');
    state.launchesCollected += kept.size;
    return kept.size;
  },
};
