/**
 * A user cannot turn the sentinel's fingerprints against the machine: a fake "Claude Code" whose
 * bin is a copy of a system program, or names one through `../`, must not make root stop that
 * program for root or for other users. The user's own renamed copy run by that user is still
 * stopped (what fingerprints are for).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FingerprintStore } from '../../agent/sentinel/fingerprints.js';
import { identifyProcess } from '../../agent/sentinel/identify.js';
import { readProcess } from '../../agent/sentinel/proc.js';
import { stopMatched } from '../../agent/sentinel/stop.js';
import { builtinCatalog, catalogIndex } from '../../policies/catalog/index.js';
import { alive, asUserOk, ensureUser, giveTree, type HostileUser, isRoot, removeTree, userDir } from './hostile.js';

// The real path: /bin is a link to /usr/bin on merged-/usr systems, and /proc/<pid>/exe is real.
const SLEEP = realpathSync('/bin/sleep');

describe.skipIf(!isRoot || process.platform !== 'linux')('sentinel fingerprints vs a hostile user', () => {
  let mallory: HostileUser;
  let bob: HostileUser;
  let dir: string;
  const children: ChildProcess[] = [];

  const start = (argv: string[], user?: HostileUser): ChildProcess => {
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: 'ignore',
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
    });
    children.push(child);
    return child;
  };
  const waitExec = async (child: ChildProcess, exe: string) => {
    for (let i = 0; i < 200; i++) {
      if (readProcess(child.pid!)?.exe === exe) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`pid ${child.pid} never ran ${exe}`);
  };

  beforeAll(async () => {
    mallory = ensureUser('aigt-mallory');
    bob = ensureUser('aigt-bob');
    dir = await userDir(mallory, 'fp-poison');
    // A fake Claude Code: its bin is a copy of /bin/sleep, another bin climbs out to /bin/sleep.
    const pkg = join(dir, 'node_modules', '@anthropic-ai', 'claude-code');
    await mkdir(pkg, { recursive: true });
    await writeFile(
      join(pkg, 'package.json'),
      JSON.stringify({
        name: '@anthropic-ai/claude-code',
        version: '2.1.91',
        bin: { claude: 'cli.js', escape: '../../../../../../../../bin/sleep' },
      }),
    );
    await copyFile(SLEEP, join(pkg, 'cli.js'));
    await chmod(join(pkg, 'cli.js'), 0o755);
    // The user's own renamed copy, off every scanned root.
    await copyFile(SLEEP, join(dir, 'renamed'));
    await chmod(join(dir, 'renamed'), 0o755);
    await giveTree(dir, mallory);
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.pid && alive(child.pid)) child.kill('SIGKILL');
    await removeTree(dir);
  });

  it('never learns or matches root-owned programs, and stops only the user’s own copy', async () => {
    const store = new FingerprintStore();
    const installPath = join(dir, 'node_modules', '@anthropic-ai', 'claude-code');
    await store.learn({ toolId: 'claude-code', version: '2.1.91', installPath, parts: [] });
    expect(store.all().map((fp) => fp.source)).toEqual([join(installPath, 'cli.js')]);
    expect(await store.match(SLEEP, mallory.uid), 'a root-owned system program is never matched by bytes').toBeNull();
    expect(
      await store.match(join(dir, 'renamed'), bob.uid),
      "bytes learned from mallory's install are not bob's",
    ).toBeNull();
    expect((await store.match(join(dir, 'renamed'), mallory.uid))?.toolId).toBe('claude-code');

    const ctx = { catalog: catalogIndex(builtinCatalog), fingerprints: store };
    const rootSleep = start([SLEEP, '300']);
    const bobSleep = start([SLEEP, '300'], bob);
    const own = start([join(dir, 'renamed'), '300'], mallory);
    await Promise.all([waitExec(rootSleep, SLEEP), waitExec(bobSleep, SLEEP), waitExec(own, join(dir, 'renamed'))]);

    for (const child of [rootSleep, bobSleep]) {
      const match = await identifyProcess(readProcess(child.pid!)!, ctx);
      expect(match, `pid ${child.pid} runs ${SLEEP}`).toBeNull();
    }
    const match = await identifyProcess(readProcess(own.pid!)!, ctx);
    expect(match?.toolId).toBe('claude-code');
    // Even a forged match naming the system program stops nothing.
    const forged = await identifyProcess(readProcess(rootSleep.pid!)!, { ...ctx, fingerprints: undefined });
    expect(forged).toBeNull();
    const forgedStop = stopMatched(
      { ...match!, pid: bobSleep.pid!, uid: bob.uid, startTicks: readProcess(bobSleep.pid!)!.startTicks, file: SLEEP },
      { notice: null },
    );
    expect(forgedStop.stopped).toBe(false);

    expect(stopMatched(match!, { notice: null })).toEqual({ stopped: true, noticeShown: false });
    await new Promise((resolve) => own.once('exit', resolve));
    expect(alive(rootSleep.pid!)).toBe(true);
    expect(alive(bobSleep.pid!)).toBe(true);
  });

  it('does not trust a package.json dropped in a folder others may write (a sticky /tmp)', async () => {
    const sticky = join('/tmp', `aigt-sticky-${process.pid}`);
    await mkdir(join(sticky, 'job'), { recursive: true });
    await chmod(sticky, 0o1777);
    try {
      await copyFile(SLEEP, join(sticky, 'job', 'worker'));
      await chmod(join(sticky, 'job', 'worker'), 0o755);
      asUserOk(
        mallory,
        `printf '%s' '{"name":"@anthropic-ai/claude-code","version":"2.1.91","bin":{"claude":"cli.js"}}' > ${sticky}/package.json`,
      );
      const rootJob = start([join(sticky, 'job', 'worker'), '300']);
      await waitExec(rootJob, join(sticky, 'job', 'worker'));
      const ctx = { catalog: catalogIndex(builtinCatalog) };
      expect(await identifyProcess(readProcess(rootJob.pid!)!, ctx)).toBeNull();
      expect(alive(rootJob.pid!)).toBe(true);
    } finally {
      await removeTree(sticky);
    }
  });

  it('never learns a sparse decoy or a file reached through a link out of the install', async () => {
    const installPath = join(dir, 'decoy', 'node_modules', '@anthropic-ai', 'claude-code');
    await mkdir(join(installPath, 'vendor'), { recursive: true });
    await writeFile(
      join(installPath, 'package.json'),
      JSON.stringify({
        name: '@anthropic-ai/claude-code',
        version: '2.1.91',
        bin: { claude: 'cli.js', other: 'link/secret.js' },
      }),
    );
    await writeFile(join(installPath, 'cli.js'), '#!/usr/bin/env node\n');
    await giveTree(join(dir, 'decoy'), mallory);
    asUserOk(
      mallory,
      `truncate -s 64G ${installPath}/vendor/rg && chmod 755 ${installPath}/vendor/rg && ln -s ${dir} ${installPath}/link`,
    );
    const store = new FingerprintStore();
    await store.learn({ toolId: 'claude-code', version: '2.1.91', installPath, parts: [] });
    expect(store.all().map((fp) => fp.source)).toEqual([join(installPath, 'cli.js')]);
  });
});
