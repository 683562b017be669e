/**
 * Startup files a hostile user writes, read by a scan run as root (red-team, fourth round): a
 * file sourced from another user's private folder, or from root's, must not lend its values to
 * the user who sources it (not even through the memo, which kept it for its owner's home), and
 * whether a file outside the home exists must not show in what the scan reports. Runs as root
 * with two real unprivileged accounts (CI runs as root).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { scanMachine, ScanMemo, type ScanOptions } from '../../../agent/inventory/index.js';
import { OUTSIDE_HOME } from '../../../agent/inventory/user-env.js';
import { cleanup, scratch, type Tree } from './fixtures.js';

afterAll(cleanup);

const isRoot = process.platform === 'linux' && process.getuid?.() === 0;
const ATTACKER = 'aigt-env1';
const VICTIM = 'aigt-env2';
const CANARY = 'canary-7f3a9';
/** The memo keeps nothing younger than its racy window (3 s): the tree must be older. */
const RACY_WAIT_MS = 3200;

function account(name: string): number {
  const made = spawnSync('useradd', ['--no-create-home', '--shell', '/bin/sh', name], { encoding: 'utf8' });
  if (made.status !== 0 && made.status !== 9) throw new Error(`useradd ${name}: ${made.stderr}`);
  return Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
}

describe.skipIf(!isRoot)('startup files of a hostile home, read as root', () => {
  let t: Tree;
  let mallory: string;
  let victor: string;
  const quiet = (homes: string[], memo?: ScanMemo): ScanOptions => ({
    homes,
    paths: [],
    detectRunning: false,
    ...(memo ? { memo } : {}),
  });

  beforeAll(async () => {
    const attacker = account(ATTACKER);
    const victim = account(VICTIM);
    t = scratch('aigate-hostile-startup-');
    chmodSync(t.root, 0o755);
    mallory = t.dir('home/mallory');
    victor = t.dir('home/victor');
    // The victim's own private settings: a 0600 file in a 0700 folder, sourced by their .bashrc.
    t.file(
      'home/victor/private/secret.sh',
      `export API_TOKEN=sk-${CANARY}\nexport NPM_CONFIG_PREFIX=${victor}/private/npm-${CANARY}\n`,
      0o600,
    );
    t.dir(`home/victor/private/npm-${CANARY}/lib/node_modules`);
    t.file('home/victor/.bashrc', '. ~/private/secret.sh\n');
    // A root-only folder with one file in it.
    t.file(`rootonly/exists-${CANARY}.sh`, `export NPM_CONFIG_PREFIX=/srv/npm-${CANARY}\n`, 0o600);
    chmodSync(t.path('rootonly'), 0o700);
    // The attacker sources both, and names files that do not exist next to them.
    t.file(
      'home/mallory/.bashrc',
      [
        `. ${victor}/private/secret.sh`,
        `. ${victor}/private/missing.sh`,
        `. ${t.path(`rootonly/exists-${CANARY}.sh`)}`,
        `. ${t.path('rootonly/missing.sh')}`,
        `. ${mallory}/../victor/private/secret.sh`,
        // As a distribution's .bashrc does: files of the system's own folders are not read, and
        // not reported on every scan either (present or not: anyone may look there).
        '. /etc/bash_completion',
        `. /usr/lib/missing-${CANARY}.sh`,
        '',
      ].join('\n'),
    );
    t.file('home/mallory/.zshenv', `export ZDOTDIR=${t.path('rootonly')}\n`);
    execFileSync('chown', ['-R', `${victim}:${victim}`, victor]);
    execFileSync('chown', ['-R', `${attacker}:${attacker}`, mallory]);
    chmodSync(`${victor}/private`, 0o700);
    await new Promise((resolve) => setTimeout(resolve, RACY_WAIT_MS));
  }, 2 * RACY_WAIT_MS);

  it("never lends the victim's private values to the attacker, with or without the memo", async () => {
    const memo = new ScanMemo();
    const both = [victor, mallory];
    // The memo keeps the victim's secret for the victim's home on these scans...
    await scanMachine(quiet(both, memo));
    await scanMachine(quiet(both, memo));
    // ...and the attacker's home, scanned with that memo or without one, learns nothing from it.
    for (const scanned of [await scanMachine(quiet([mallory], memo)), await scanMachine(quiet([mallory]))])
      expect(JSON.stringify(scanned)).not.toContain(`npm-${CANARY}`);
    // Nor in a scan of both homes: what is reported of the victim's prefix is the victim's.
    const shared = await scanMachine(quiet(both, memo));
    expect(shared.skipped.filter((s) => s.path.includes(`npm-${CANARY}`))).toEqual([]);
  });

  it('tells nothing of which files outside the home exist: each sourced one is skipped alike, unopened (the system folders only quietly)', async () => {
    const scanned = await scanMachine(quiet([mallory]));
    const outside = scanned.skipped.filter((s) => !s.path.startsWith(`${mallory}/`));
    expect(outside).toEqual(
      [
        `${victor}/private/secret.sh`,
        `${victor}/private/missing.sh`,
        t.path(`rootonly/exists-${CANARY}.sh`),
        t.path('rootonly/missing.sh'),
        ...['.zshenv', '.zprofile', '.zshrc', '.zlogin'].map((name) => t.path('rootonly', name)),
      ]
        .map((path) => ({ path, reason: OUTSIDE_HOME }))
        .sort((a, b) => (a.path < b.path ? -1 : 1)),
    );
  });
});
