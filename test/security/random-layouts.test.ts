/**
 * Issue 10, acceptance: a randomized hostile-layout test. fast-check builds at least 500
 * layouts per run around a real install of Claude Code owned by an unprivileged user (a Claude
 * Code npm install under ~/.npm-global, its launcher a bin link or a script shim, named `claude`
 * or like a root file) next to an allowed npm tool, and the user's hostile actions before the
 * block, between the block and the next cycle, and before the lift: symlinks to root canaries,
 * hard links (refused by fs.protected_hardlinks, or of the user's own files), FIFOs, sockets,
 * swapped parents, renamed folders and files replaced. For each layout the real inventory scans
 * the tree and the Enforcer (in-process, as root) blocks, blocks again, and lifts. After every
 * cycle: the cycle completes, root's canaries keep owner, mode, name and content, no process
 * outside the instance was stopped, and the allowed tool is unchanged and still runs as the user.
 *
 * The seed is fixed (AIGATE_FC_SEED overrides it) and printed with the replay path on failure:
 * AIGATE_FC_SEED=<seed> AIGATE_FC_PATH=<path> npx vitest run test/security/random-layouts.test.ts
 */
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Enforcer } from '../../agent/enforce/engine.js';
import { scanMachine } from '../../agent/inventory/index.js';
import { builtinCatalog } from '../../policies/catalog/index.js';
import { instanceKey, type ToolInstance } from '../../policies/inventory.js';
import { ALLOW_ALL, banPolicy, enforce, makeEnforcer } from '../agent/enforce-helpers.js';
import { hashTree } from '../agent/helpers.js';
import { npmTool } from '../agent/trees.js';
import {
  bystander,
  type Canaries,
  ensureUser,
  expectCanariesIntact,
  giveTree,
  type HostileUser,
  isRoot,
  plantCanaries,
  removeCanaries,
  removeTree,
  UserShell,
} from './hostile.js';

const RUNS = Number(process.env.AIGATE_FC_RUNS ?? 500);
/**
 * Layouts run concurrently in one property run, each in its own slot (its own canaries): the
 * Enforcer mostly waits on /proc and the file system, so overlapping them keeps the suite fast.
 */
const SLOTS = 10;
const SEED = Number(process.env.AIGATE_FC_SEED ?? 20261129);
const PATH = process.env.AIGATE_FC_PATH;

const PLACES = ['launcher', 'sibling', 'install', 'quarantine', 'scope', 'modules', 'bin', 'manifest', 'cli'] as const;
type Place = (typeof PLACES)[number];
const TARGETS = ['shadow', 'hostKey', 'etc', 'ssh', 'sshd'] as const;
type Target = (typeof TARGETS)[number];

type Action =
  | { kind: 'symlink'; place: Place; target: Target }
  | { kind: 'hardlink'; place: Place; target: Target | 'own-cli' }
  | { kind: 'fifo'; place: Place }
  | { kind: 'socket'; place: 'launcher' | 'sibling' | 'manifest' }
  | { kind: 'rename-away'; place: Place }
  | { kind: 'replace-file'; place: Place }
  | { kind: 'restore-moved'; place: Place };

interface Layout {
  bin: 'claude' | 'shadow' | 'ssh_host_key' | 'ssh';
  shim: boolean;
  beforeBlock: Action[];
  afterBlock: Action[];
  afterTamper: Action[];
}

const place = fc.constantFrom(...PLACES);
const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constant('symlink' as const), place, target: fc.constantFrom(...TARGETS) }),
  fc.record({
    kind: fc.constant('hardlink' as const),
    place,
    target: fc.constantFrom<Target | 'own-cli'>('shadow', 'hostKey', 'sshd', 'own-cli'),
  }),
  fc.record({ kind: fc.constant('fifo' as const), place }),
  fc.record({
    kind: fc.constant('socket' as const),
    place: fc.constantFrom('launcher' as const, 'sibling' as const, 'manifest' as const),
  }),
  fc.record({ kind: fc.constant('rename-away' as const), place }),
  fc.record({ kind: fc.constant('replace-file' as const), place }),
  fc.record({ kind: fc.constant('restore-moved' as const), place }),
);
const layout: fc.Arbitrary<Layout> = fc.record({
  bin: fc.constantFrom('claude' as const, 'shadow' as const, 'ssh_host_key' as const, 'ssh' as const),
  shim: fc.boolean(),
  beforeBlock: fc.array(action, { maxLength: 1 }),
  afterBlock: fc.array(action, { minLength: 1, maxLength: 3 }),
  afterTamper: fc.array(action, { maxLength: 2 }),
});

let mallory: HostileUser;
let shell: UserShell;
const slots: Canaries[] = [];
let base: string;
let states: string;

beforeAll(async () => {
  if (!isRoot) return;
  mallory = ensureUser('aigt-mallory');
  shell = new UserShell(mallory);
  // On tmpfs: the Enforcer fsyncs every ledger step and every rename, which on a busy disk
  // costs more than the 1500 cycles themselves. The tree is still the user's own folder.
  base = await mkdtemp('/dev/shm/aigt-sec-random-');
  await chmod(base, 0o755);
  await giveTree(base, mallory);
  states = await mkdtemp('/dev/shm/aigt-sec-random-state-');
  for (let i = 0; i < SLOTS; i++) {
    const planted = await plantCanaries();
    bystander(planted, mallory);
    slots.push(planted);
  }
}, 60_000);

afterAll(async () => {
  shell?.close();
  for (const planted of slots) await removeCanaries(planted);
  if (base) await removeTree(base);
  if (states) await removeTree(states);
});

const q = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

interface Tree {
  home: string;
  prefix: string;
  bin: string;
  launcher: string;
  installPath: string;
  okLauncher: string;
  okInstall: string;
  /** This slot's root canaries. */
  canaries: Canaries;
}

function placePath(tree: Tree, bin: string, where: Place): string {
  const scope = join(tree.prefix, 'lib', 'node_modules', '@anthropic-ai');
  switch (where) {
    case 'launcher':
      return tree.launcher;
    case 'sibling':
      return join(tree.bin, `.${bin}.aigate-orig`);
    case 'install':
      return tree.installPath;
    case 'quarantine':
      return join(scope, '.claude-code.aigate-quarantine');
    case 'scope':
      return scope;
    case 'modules':
      return join(tree.prefix, 'lib', 'node_modules');
    case 'bin':
      return tree.bin;
    case 'manifest':
      return join(tree.installPath, 'package.json');
    case 'cli':
      return join(tree.installPath, 'cli.js');
  }
}

function targetPath(tree: Tree, target: Target | 'own-cli'): string {
  const canaries = tree.canaries;
  switch (target) {
    case 'shadow':
      return canaries.shadow;
    case 'hostKey':
      return canaries.hostKey;
    case 'etc':
      return canaries.etc;
    case 'ssh':
      return canaries.ssh;
    case 'sshd':
      return join(canaries.ssh, 'sshd');
    case 'own-cli':
      return join(tree.installPath, 'cli.js');
  }
}

/** One shell script doing the user's actions; each may fail (the kernel may refuse it), the rest go on. */
function script(tree: Tree, bin: string, actions: readonly Action[], step: string): string {
  return actions
    .map((a, i) => {
      const p = q(placePath(tree, bin, a.place));
      const aside = q(`${placePath(tree, bin, a.place)}.prev-${step}-${i}`);
      const moved = q(`${placePath(tree, bin, a.place)}.moved`);
      switch (a.kind) {
        case 'symlink':
          return `mv ${p} ${aside} 2>/dev/null; ln -s ${q(targetPath(tree, a.target))} ${p} 2>/dev/null`;
        case 'hardlink':
          return `mv ${p} ${aside} 2>/dev/null; ln ${q(targetPath(tree, a.target))} ${p} 2>/dev/null`;
        case 'fifo':
          return `mv ${p} ${aside} 2>/dev/null; mkfifo ${p} 2>/dev/null`;
        case 'socket':
          return `mv ${p} ${aside} 2>/dev/null; node -e "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))" ${p} 2>/dev/null`;
        case 'rename-away':
          return `mv ${p} ${moved} 2>/dev/null`;
        case 'replace-file':
          return `mv ${p} ${aside} 2>/dev/null; printf '#!/bin/sh\\necho replaced\\n' > ${p} 2>/dev/null; chmod 755 ${p} 2>/dev/null`;
        case 'restore-moved':
          return `rm -f ${p} 2>/dev/null; mv ${moved} ${p} 2>/dev/null`;
      }
    })
    .join('\n')
    .concat('\ntrue\n');
}

/** What the agent's cycle does: scan, keep enforcement's own artefacts out, add every recorded instance, reconcile. */
async function cycle(enforcer: Enforcer, tree: Tree, policy: Parameters<typeof enforce>[1]): Promise<void> {
  const scan = await scanMachine({
    homes: [tree.home],
    npmPrefixes: [tree.prefix],
    paths: [tree.bin],
    detectRunning: false,
    catalog: builtinCatalog,
    budgetMs: 10_000,
  });
  const instances = new Map<string, ToolInstance>();
  for (const instance of enforcer.withoutArtefacts(scan.instances)) instances.set(instanceKey(instance), instance);
  for (const record of enforcer.applied) if (!instances.has(record.key)) instances.set(record.key, record.instance);
  await enforcer.forgetKept(new Set(instances.keys()));
  await enforce(enforcer, policy, [...instances.values()]);
}

async function buildTree(run: number, l: Layout, canaries: Canaries): Promise<{ tree: Tree; okBefore: string[] }> {
  const home = join(base, `run-${run}`);
  await mkdir(home);
  const prefix = join(home, '.npm-global');
  const made = await npmTool(
    prefix,
    '@anthropic-ai/claude-code',
    '2.1.91',
    l.bin,
    'claude-code',
    '2.1.91 (Claude Code)',
  );
  const ok = await npmTool(prefix, 'ok-tool', '1.0.0', 'ok-tool', 'ok-tool', 'ok-tool 1.0.0');
  // The allowed tool is a shell script (a bin may be any executable): cheap to run 1500 times.
  await writeFile(join(ok.installPath, 'cli.js'), '#!/bin/sh\necho ok\n');
  if (l.shim) {
    await removeTree(made.launcher);
    await writeFile(
      made.launcher,
      `#!/bin/sh\nexec node "$(dirname "$0")/../lib/node_modules/@anthropic-ai/claude-code/cli.js" "$@"\n`,
    );
    await chmod(made.launcher, 0o755);
  }
  await giveTree(home, mallory);
  const tree: Tree = {
    home,
    prefix,
    bin: join(prefix, 'bin'),
    launcher: made.launcher,
    installPath: made.installPath,
    okLauncher: ok.launcher,
    okInstall: ok.installPath,
    canaries,
  };
  return { tree, okBefore: await hashTree(ok.installPath) };
}

/**
 * The allowed tool is unchanged and runs as the user: through its launcher, or (when the user
 * moved the bin folder) from its install; not checked when the user moved node_modules itself.
 */
async function expectAllowedToolRuns(
  tree: Tree,
  okBefore: string[],
  context: string,
  reach: 'launcher' | 'install' | 'none',
): Promise<void> {
  if (reach === 'none') return;
  expect(await hashTree(tree.okInstall), `${context}: the allowed tool's files changed`).toEqual(okBefore);
  const ran = await shell.run(
    reach === 'launcher' ? q(tree.okLauncher) : `sh ${q(join(tree.okInstall, 'cli.js'))}`,
    tree.home,
  );
  expect(
    { code: ran.code, out: ran.stdout.trim() },
    `${context}: the allowed tool does not run as ${mallory.name} (${ran.stderr})`,
  ).toEqual({ code: 0, out: 'ok' });
}

describe.skipIf(!isRoot)('randomized hostile layouts around real installs', () => {
  it(`${Math.ceil(RUNS / SLOTS) * SLOTS} layouts: block, block again after tampering, lift`, async () => {
    let run = 0;
    const one = async (l: Layout, canaries: Canaries): Promise<void> => {
      const id = ++run;
      const { tree, okBefore } = await buildTree(id, l, canaries);
      const { enforcer } = await makeEnforcer(join(states, `run-${id}`), {
        homes: [tree.home, mallory.home],
        graceMs: 500,
      });
      let reach: 'launcher' | 'install' | 'none' = 'launcher';
      try {
        const steps: [string, Action[], Parameters<typeof enforce>[1]][] = [
          ['block', l.beforeBlock, banPolicy({ effective: '2020-01-01' })],
          ['block again', l.afterBlock, banPolicy({ effective: '2020-01-01' })],
          ['lift', l.afterTamper, ALLOW_ALL],
        ];
        for (const [name, actions, policy] of steps) {
          await shell.run(script(tree, l.bin, actions, name.replace(' ', '-')), tree.home);
          if (actions.some((a) => a.place === 'modules')) reach = 'none';
          else if (reach === 'launcher' && actions.some((a) => a.place === 'bin')) reach = 'install';
          const context = `layout ${id}, ${name} (layout ${JSON.stringify(l)})`;
          await cycle(enforcer, tree, policy).catch((error: Error) => {
            throw new Error(`${context}: the cycle threw instead of completing: ${error.stack ?? error.message}`);
          });
          await expectCanariesIntact(canaries, context);
          await expectAllowedToolRuns(tree, okBefore, context, reach);
        }
      } finally {
        await removeTree(tree.home);
        await removeTree(join(states, `run-${id}`));
      }
    };
    const property = fc.asyncProperty(fc.array(layout, { minLength: SLOTS, maxLength: SLOTS }), async (batch) => {
      const results = await Promise.allSettled(batch.map((l, i) => one(l, slots[i]!)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    });
    const result = await fc.check(property, {
      numRuns: Math.ceil(RUNS / SLOTS),
      seed: SEED,
      endOnFailure: true,
      ...(PATH ? { path: PATH } : {}),
    });
    if (result.failed) {
      const error = result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance);
      expect.fail(
        `failed in batch ${result.numRuns} (of ${SLOTS} layouts each); replay with AIGATE_FC_SEED=${result.seed} AIGATE_FC_PATH=${result.counterexamplePath}\ncounterexample: ${JSON.stringify(result.counterexample)}\n${error}`,
      );
    }
    expect(result.numRuns * SLOTS).toBeGreaterThanOrEqual(RUNS);
    // 13 min: alone on a loaded 2-core machine it took 7 to 9 min; the canary processes live 15
    // (hostile.ts), so a longer bound would report them as stopped instead of a timeout.
  }, 780_000);
});
