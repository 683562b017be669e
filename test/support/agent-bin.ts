/**
 * The agent the tests spawn: test/support/agent-test-cli.ts (the shipped command tree plus the
 * test hooks) bundled by esbuild into one ES module, the way installer/package.mjs bundles the
 * shipped agent: no node_modules, no native addons. It sits in a folder of its own under the
 * temp dir, readable by everyone, so a test can run it as an unprivileged user wherever the
 * checkout is (a root-only home, a `mktemp -d` clone), which `dist/` inside such a checkout is not.
 *
 * Built once per change of the sources: the folder is named after a hash of the sources' paths,
 * sizes and mtimes, so the test files of one run (and later runs) share it. Because the temp dir
 * is writable by everyone, a folder found there is used only when it is ours (owner, no group or
 * other write) — the tests run it as root.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { buildSync } from 'esbuild';

import { agentBundleOptions } from '../../installer/bundle-options.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY = join(ROOT, 'test/support/agent-test-cli.ts');
const SOURCES = [
  'agent',
  'policies',
  'test/support/agent-test-cli.ts',
  'installer/bundle-options.mjs',
  'package.json',
  'package-lock.json',
];
const PREFIX = 'aigate-test-agent-';
const BUNDLE = 'aigate-agent.mjs';
/** Bundles of older sources are removed after this long (a run still using one is long over). */
const STALE_MS = 24 * 3600_000;

function fingerprint(): string {
  const hash = createHash('sha256');
  const walk = (path: string): void => {
    const info = statSync(path);
    if (info.isDirectory()) {
      for (const name of readdirSync(path).sort()) walk(join(path, name));
      return;
    }
    if (/\.test\.ts$/.test(path)) return;
    hash.update(`${path}\0${info.size}\0${info.mtimeMs}\n`);
  };
  for (const source of SOURCES) walk(join(ROOT, source));
  hash.update(process.version);
  return hash.digest('hex').slice(0, 20);
}

/** Whether `dir` is a folder only this user can change (nothing another user planted in the temp dir). */
function ours(dir: string): boolean {
  const info = lstatSync(dir, { throwIfNoEntry: false });
  return info !== undefined && info.isDirectory() && info.uid === process.getuid?.() && (info.mode & 0o022) === 0;
}

function removeStale(keep: string): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(PREFIX) || name === keep) continue;
    const dir = join(tmpdir(), name);
    const info = lstatSync(dir, { throwIfNoEntry: false });
    if (info && ours(dir) && Date.now() - info.mtimeMs > STALE_MS) rmSync(dir, { recursive: true, force: true });
  }
}

let built: string | null = null;

/** The path of the bundled test agent (built on first use); run it with `node <path> ...`. */
export function agentBin(): string {
  if (built) return built;
  const name = `${PREFIX}${fingerprint()}`;
  const dir = join(tmpdir(), name);
  const bundle = join(dir, BUNDLE);
  if (existsSync(dir) && !ours(dir)) throw new Error(`${dir} is not ours (another user made it?); remove it`);
  if (!existsSync(bundle)) {
    const work = mkdtempSync(`${dir}.partial-`);
    try {
      const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
      buildSync({
        ...agentBundleOptions(version),
        entryPoints: [ENTRY],
        outfile: join(work, BUNDLE),
        logLevel: 'warning',
      });
      chmodSync(join(work, BUNDLE), 0o644);
      chmodSync(work, 0o755);
      try {
        renameSync(work, dir);
      } catch (error) {
        // Another test file built the same sources first: use theirs.
        if (!['EEXIST', 'ENOTEMPTY'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    removeStale(name);
  }
  if (!ours(dir) || !existsSync(bundle)) throw new Error(`the test agent bundle ${bundle} is missing or not ours`);
  built = bundle;
  return bundle;
}
