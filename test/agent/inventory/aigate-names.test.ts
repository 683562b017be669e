/**
 * aigate's own quarantined folders and kept launcher originals (`.<name>.aigate-quarantine`,
 * `.<name>.aigate-orig`, enforce/stubs.ts) are never reported as tools; but a name is not proof:
 * a user who names their own copy of a banned tool like that must still be seen. Only what is
 * locked as enforcement locks it (owner root, mode 000: enforce/steps.ts) is passed over. Runs as
 * root with a real unprivileged user (CI runs as root).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, renameSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ScanFs } from '../../../agent/inventory/fs.js';
import { isAigateKept } from '../../../agent/inventory/identity.js';
import { scanMachine } from '../../../agent/inventory/index.js';
import { employee } from '../employee.js';
import { cleanup, npmGlobal, scratch, summary, type Tree } from './fixtures.js';

afterAll(cleanup);

const isRoot = process.platform === 'linux' && process.getuid?.() === 0;
const USER = 'aigt-names';
const quiet = { detectRunning: false, paths: [] as string[] };

describe.skipIf(!isRoot)("names like aigate's own", () => {
  let t: Tree;
  let home: string;
  let uid = -1;
  let gid = -1;
  const modules = () => join(home, '.npm-global/lib/node_modules');

  beforeAll(() => {
    ({ uid, gid } = employee(USER));
    t = scratch('aigate-names-');
    chmodSync(t.root, 0o755);
    home = t.dir('home/eve');
    const claude = { version: '2.1.91', bin: { claude: 'cli.js' } };
    npmGlobal(t, 'home/eve/.npm-global', '@anthropic-ai/claude-code', claude);
    npmGlobal(t, 'home/eve/.npm-global', '@openai/codex', { version: '0.149.1', bin: { codex: 'bin/codex.js' } });
    execFileSync('chown', ['-R', `${uid}:${gid}`, home]);
  });

  const scan = async () => summary((await scanMachine({ homes: [home], ...quiet })).instances);

  it("reports the user's copy hidden under a quarantine's name, even locked by the user", async () => {
    const hidden = join(modules(), '@anthropic-ai/.claude-code.aigate-quarantine');
    renameSync(join(modules(), '@anthropic-ai/claude-code'), hidden);
    expect(await scan()).toContain('claude-code 2.1.91 npm eve');
    // Mode 000 is the user's to set on their own folder; the owner stays theirs.
    chmodSync(hidden, 0);
    expect(await scan()).toContain('claude-code 2.1.91 npm eve');
  });

  it('takes no lock seen through a link: a folder swapped for a link mid-scan hides nothing', () => {
    // What a user's swap gives the check at the wrong moment: their path, a folder of it now a
    // link to where aigate's real (locked) quarantine lies.
    const locked = t.dir('home/eve/.npm-global/lib/node_modules/@x/.real.aigate-quarantine');
    chownSync(locked, 0, 0);
    chmodSync(locked, 0);
    t.rawLink('home/eve/w', join(home, '.npm-global'));
    const fs = new ScanFs({ add: () => undefined }, 1000, true);
    expect(fs.isLocked(locked)).toBe(true);
    expect(fs.isLocked(join(home, 'w/lib/node_modules/@x/.real.aigate-quarantine'))).toBe(false);
    expect(
      isAigateKept(join(home, 'w/lib/node_modules/@x/.real.aigate-quarantine/cli.js'), (p) => fs.isLocked(p)),
    ).toBe(false);
    chmodSync(locked, 0o755);
  });

  it('passes over a folder locked as enforcement locks it (root, mode 000), and nothing else', async () => {
    const quarantined = join(modules(), '@openai/.codex.aigate-quarantine');
    renameSync(join(modules(), '@openai/codex'), quarantined);
    chownSync(quarantined, 0, 0);
    chmodSync(quarantined, 0);
    const found = await scan();
    expect(found.filter((line) => line.startsWith('openai-codex-cli'))).toEqual([]);
    expect(found).toContain('claude-code 2.1.91 npm eve');
  });
});
