/**
 * The verdicts by content (which tool a bin file is, agent/inventory/content.ts) live as long as
 * the daemon and are shared by every home it scans and by the sentinel. A user's link to another
 * user's private copy of Claude Code (a real 2.0.46 from the npm registry, in a 0700 home) must
 * not be answered from the verdict the other home's scan left: the link is refused as before,
 * every scan. Runs as root with two real unprivileged users (CI runs as root).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LINK_NOT_FOLLOWED } from '../../../agent/inventory/fs.js';
import { scanMachine, ScanMemo } from '../../../agent/inventory/index.js';
import { RACY_MS } from '../../../agent/inventory/memo.js';
import { employee } from '../employee.js';
import { cleanup, npmPackage, scratch, type Tree } from './fixtures.js';
import { INSTALL_TIMEOUT_MS, npmInstallGlobal } from './real-npm.js';

afterAll(cleanup);

const isRoot = process.platform === 'linux' && process.getuid?.() === 0;
const USERS = ['aigt-cc-eve', 'aigt-cc-bob'] as const;

describe.skipIf(!isRoot)("a link to another user's copy, after that copy's verdict is cached", () => {
  let t: Tree;
  let eve: string;
  let bob: string;
  const peek = () => join(eve, '.npm-global/lib/node_modules/peek');

  beforeAll(
    async () => {
      const [e, b] = USERS.map(employee);
      t = scratch('aigate-content-cache-');
      chmodSync(t.root, 0o755);
      eve = t.dir('home/eve');
      bob = t.dir('home/bob');
      npmInstallGlobal(join(bob, '.npm-global'), ['@anthropic-ai/claude-code@2.0.46'], { omitOptional: true });
      execFileSync('chown', ['-R', `${b!.uid}:${b!.gid}`, bob]);
      chmodSync(bob, 0o700);
      // Eve's package says nothing but its bin name; its bin is a link to Bob's private cli.js.
      npmPackage(t, 'home/eve/.npm-global/lib/node_modules', 'peek', { version: '1.0.0', bin: { claude: 'cli.js' } });
      execFileSync('rm', [join(peek(), 'cli.js')]);
      symlinkSync(join(bob, '.npm-global/lib/node_modules/@anthropic-ai/claude-code/cli.js'), join(peek(), 'cli.js'));
      execFileSync('chown', ['-R', '-h', `${e!.uid}:${e!.gid}`, eve]);
      // Older than the racy window, so Bob's verdict is cached.
      await new Promise((resolve) => setTimeout(resolve, RACY_MS + 200));
    },
    INSTALL_TIMEOUT_MS + RACY_MS + 1000,
  );

  it("never reports Eve's link as Claude Code, and says why each time", async () => {
    const memo = new ScanMemo();
    for (let round = 0; round < 3; round++) {
      for (const options of [{}, { memo }]) {
        const result = await scanMachine({ homes: [bob, eve], detectRunning: false, paths: [], ...options });
        expect(result.instances.map((i) => `${i.toolId} ${i.owner}`)).toEqual(['claude-code bob']);
        expect(result.skipped).toContainEqual({
          path: join(peek(), 'cli.js'),
          // Bob's home is closed to Eve: the one reason for whatever lies beyond (fs.ts hiddenFrom).
          reason: LINK_NOT_FOLLOWED,
        });
      }
    }
  });
});
