/**
 * The cycle's scan step says when a scan was cut short by its time budget (agent/cycle/scan.ts):
 * the health is degraded with `cycle-errors` counting the places not read (the log names them), so a partial inventory
 * never passes for the whole machine, and it is ok again once a scan reads everything.
 */
import { afterAll, describe, expect, it } from 'vitest';

import { reportCutScan } from '../../agent/cycle/scan.js';
import { scanMachine, type ScanOptions } from '../../agent/inventory/index.js';
import { createLogger } from '../../agent/log.js';
import { HealthTracker } from '../../agent/status/health.js';
import { cleanup, npmGlobal, scratch } from './inventory/fixtures.js';

afterAll(cleanup);

describe('a scan cut short by its time budget', () => {
  const t = scratch('aigate-scan-step-');
  npmGlobal(t, 'home/dana/.npm-global', '@openai/codex', { version: '0.111.0', bin: { codex: 'bin/codex.js' } });
  const options: ScanOptions = { homes: [t.path('home/dana')], paths: [], detectRunning: false };
  const log = createLogger({ level: 'silent' });

  it('degrades the health, naming what was not read, until a scan reads everything', async () => {
    const health = new HealthTracker();
    const cut = await scanMachine({ ...options, budgetMs: 0 });
    expect(cut.budgetExhausted).toBe(true);
    reportCutScan(health, log, cut, Date.now());
    const report = health.report();
    expect(report.state).toBe('degraded');
    expect(report.reasons).toEqual([
      expect.objectContaining({
        code: 'cycle-errors',
        message: expect.stringMatching(
          /^the scan ran out of its time budget and did not read (1 place|[2-9]\d* places|[1-9]\d+ places) \(named in the agent's log\)/,
        ),
      }),
    ]);

    expect(report.reasons[0]!.message).not.toContain('dana');

    const whole = await scanMachine(options);
    expect(whole.budgetExhausted).toBe(false);
    expect(whole.instances.map((i) => `${i.toolId} ${i.version}`)).toEqual(['openai-codex-cli 0.111.0']);
    reportCutScan(health, log, whole, Date.now());
    expect(health.report()).toEqual({ state: 'ok', reasons: [] });
  });
});
