/**
 * Real packages from the npm registry for inventory and sentinel tests: `npm install -g --prefix`
 * with install scripts off, exactly as an employee's machine gets them. Tarballs are kept in
 * test/.cache/npm (gitignored; CI caches the folder) so reruns do not download again.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** npm's cache folder shared by every real-package test. */
export const NPM_TEST_CACHE = fileURLToPath(new URL('../../.cache/npm', import.meta.url));

/** Per install, at most this long (a cold cache downloads ~50 MB for Codex's native package). */
export const INSTALL_TIMEOUT_MS = 170_000;

/**
 * `npm install -g --prefix <prefix> --ignore-scripts <specs...>`; `omitOptional` leaves out the
 * per-platform optional dependencies (what case 04 and 17 install). Throws with npm's stderr.
 */
export function npmInstallGlobal(prefix: string, specs: readonly string[], options: { omitOptional?: boolean } = {}): void {
  mkdirSync(NPM_TEST_CACHE, { recursive: true });
  const args = ['install', '-g', '--prefix', prefix, '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', ...(options.omitOptional ? ['--omit=optional'] : []), ...specs];
  execFileSync('npm', args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: INSTALL_TIMEOUT_MS,
    env: { ...process.env, npm_config_cache: NPM_TEST_CACHE, npm_config_update_notifier: 'false' },
  });
}
