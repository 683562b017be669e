/**
 * Which catalogued tool a process is running, by the code it runs rather than its name: the
 * executable, or for a runtime (node, bun, deno) the script it was given, is traced up to the
 * package folder holding it and that folder's manifest is identified exactly as the inventory
 * does (policies/catalog/npm.ts: name, per-platform family, bin + repository). A file with no
 * package around it (a renamed copy) is known by its SHA-256 fingerprint: learned on this device,
 * or shipped by the server in the signed bundle. A shipped fingerprint came from other devices'
 * reports, so it is trusted less (shippedMatchRefusal): it never names a runtime or shell, nor a
 * file inside another package, and it matches only the way its kind runs. Works the same for any
 * OS's process list given the executable path and argv.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { CatalogIndex } from '../../policies/catalog/index.js';
import { identifyNpmPackage, type NpmIdentity, splitPlatformSuffix } from '../../policies/catalog/npm.js';
import { contentKey, fileContent } from '../inventory/content.js';
import { StampCache } from '../inventory/memo.js';
import { npmPackageOf } from '../inventory/parse/layouts.js';
import { isPackageName, parsePackageJson } from '../inventory/parse/package-json.js';
import { readRegularFile } from './files.js';
import { type Fingerprint, type FingerprintStore, RUNTIME_NAMES } from './fingerprints.js';
import type { ProcessStart } from './proc.js';

/** What identifyProcess needs: the catalog and, optionally, learned fingerprints. */
export interface IdentifyContext {
  catalog: CatalogIndex;
  fingerprints?: FingerprintStore;
}

/** A process identified as running a catalogued tool's code. */
export interface ProcessMatch {
  pid: number;
  uid: number | null;
  startTicks: number | null;
  toolId: string;
  /** The tool's version from the manifest (platform suffix removed), or the fingerprint's. */
  version: string | null;
  /** The file that decided: the executable, or the script a runtime was started with. */
  file: string;
  how: 'executable' | 'script';
  /** The package folder holding `file` (the tool's own or its platform package); null for a fingerprint match. */
  packageDir: string | null;
  /**
   * What decided: the package's manifest, a fingerprint, or the script's content (catalog
   * content markers). A content match may stop another user's copy run by a non-root user
   * (stop.ts); a manifest claim alone never does.
   */
  by?: 'manifest' | 'fingerprint' | 'content';
  /** For a content match: the contentKey (dev, ino, size, mtime, ctime) of `file` when its bytes were read. */
  contentKey?: string;
  /** How it was started, for the event: argv[0] and the script, e.g. `node ~/.npm/_npx/…/cli.js`. */
  startedAs: string;
  /** Why, in words. */
  evidence: string[];
}

/** Runtimes whose first non-option argument is the program. */
const RUNTIMES = /^(node|nodejs|node\d+|bun|deno|tsx|ts-node)(\.exe)?$/i;
/** Runtime options that take the next argument as their value. */
const OPTIONS_WITH_VALUE = new Set([
  '-r',
  '--require',
  '--import',
  '--loader',
  '--experimental-loader',
  '-C',
  '--conditions',
  '--env-file',
  '--title',
  '--inspect-port',
  '--cwd',
  '--config',
]);
/** Runtime options after which there is no script file (code given inline). */
const INLINE_CODE = new Set(['-e', '--eval', '-p', '--print']);
const MAX_WALK_UP = 12;
const MANIFEST_MAX = 1024 * 1024;

/** The script a runtime process runs (absolute), or null. */
export function scriptArgument(
  argv: readonly string[],
  cwd: string | null,
  pathApi: path.PlatformPath = path.posix,
): string | null {
  for (let i = 1; i < argv.length && i < 32; i++) {
    const arg = argv[i]!;
    if (INLINE_CODE.has(arg)) return null;
    if (OPTIONS_WITH_VALUE.has(arg)) {
      i++;
      continue;
    }
    if (arg.startsWith('-')) continue;
    // `bun run x`, `deno run x`
    if ((arg === 'run' || arg === 'x' || arg === 'exec') && i === 1) continue;
    if (pathApi.isAbsolute(arg)) return arg;
    return cwd ? pathApi.resolve(cwd, arg) : null;
  }
  return null;
}

/** Per catalog: manifest identities by contentKey and path (the folder's name counts too). */
const manifestCaches = new WeakMap<CatalogIndex, StampCache<NpmIdentity | null>>();

/** The catalogued package folder at or above `file`'s folder, with its identity. */
function owningPackage(file: string, catalog: CatalogIndex): { dir: string; identity: NpmIdentity } | null {
  let dir = path.dirname(file);
  for (let depth = 0; depth < MAX_WALK_UP; depth++) {
    const identity = identifyManifest(dir, catalog);
    if (identity) return { dir, identity };
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return null;
}

/**
 * A package folder the sentinel may trust: a real folder that no one but its owner may write,
 * holding a package.json of the same owner. Without this, a user's package.json dropped in /tmp
 * (root-owned, sticky, world-writable) would make every root program below /tmp "the tool".
 */
export function isTrustedPackageFolder(dir: string): boolean {
  try {
    const folder = fs.lstatSync(dir);
    const manifest = fs.lstatSync(path.join(dir, 'package.json'));
    return folder.isDirectory() && manifest.isFile() && manifest.uid === folder.uid && (folder.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

function identifyManifest(dir: string, catalog: CatalogIndex): NpmIdentity | null {
  const manifestPath = path.join(dir, 'package.json');
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(manifestPath);
  } catch {
    return null;
  }
  if (!isTrustedPackageFolder(dir)) return null;
  let manifestCache = manifestCaches.get(catalog);
  if (!manifestCache) manifestCaches.set(catalog, (manifestCache = new StampCache(5000)));
  const cached = manifestCache.get(`${contentKey(stat)}\u0000${manifestPath}`);
  if (cached !== undefined) return cached;
  const read = readRegularFile(manifestPath, MANIFEST_MAX);
  let identity: NpmIdentity | null = null;
  if (read) {
    const parsed = parsePackageJson(read.text);
    if (parsed.ok) {
      const inModules = npmPackageOf(path.join(dir, 'x'));
      const folderName = inModules && inModules.dir === dir && isPackageName(inModules.name) ? inModules.name : null;
      const m = parsed.value;
      identity = identifyNpmPackage(catalog, {
        folderName,
        name: m.name,
        version: m.version.version,
        bins: Object.keys(m.bin),
        urls: m.urls,
      });
    }
  }
  // Kept under the stamp of the file read (read.stat), not of the one looked at first.
  if (read) manifestCache.set(`${contentKey(read.stat)}\u0000${manifestPath}`, identity, read.stat);
  return identity;
}

/**
 * Identifies the tool a process runs, or null. Candidates are the executable and, for a runtime,
 * the script argument (its real path, so a `.bin` link or a renamed link leads to the code).
 * `resolvedScript`, when given, replaces the script argument and is used as is (no realpath):
 * the sentinel resolves a descriptor path or another mount namespace's path itself
 * (sentinel/proc.ts processScript); null means the script cannot be known.
 */
export async function identifyProcess(
  info: ProcessStart,
  ctx: IdentifyContext,
  resolvedScript?: string | null,
): Promise<ProcessMatch | null> {
  const candidates: { file: string; how: 'executable' | 'script' }[] = [];
  if (info.exe) candidates.push({ file: info.exe, how: 'executable' });
  const runs = scriptRunner(info);
  const runtime = runs !== null;
  if (runs) {
    const script = resolvedScript !== undefined ? resolvedScript : scriptArgument(info.argv, info.cwd);
    const file = script && (resolvedScript !== undefined ? script : realOrSelf(script));
    if (file && (runs === 'runtime' || isRegularFile(file))) candidates.push({ file, how: 'script' });
  }
  const startedAs = info.argv
    .slice(0, runtime ? 2 : 1)
    .join(' ')
    .slice(0, 1000);
  for (const { file, how } of candidates) {
    // A user's own program given a file is not known to be a runtime: the file's bytes (content,
    // or below a fingerprint) may say it is the tool's code, a package folder around it may not
    // (`~/bin/less …/claude-code/README.md` runs no Claude Code).
    const owner = how === 'script' && runs === 'own-program' ? null : owningPackage(file, ctx.catalog);
    // The script's bytes decide over any manifest (a Claude Code copy whose package.json says
    // @openai/codex, or sits in a folder others may write, is Claude Code). Scripts only: native
    // binaries carry no markers yet, and this keeps process starts of programs at one lookup.
    // Only a regular file is opened: a device named on a command line is never opened as root.
    const content = how === 'script' && isRegularFile(file) ? fileContent(file, ctx.catalog) : null;
    if (content) {
      const said = owner?.identity.tool.id;
      return {
        pid: info.pid,
        uid: info.uid,
        startTicks: info.startTicks,
        toolId: content.match.tool.id,
        version: content.match.version ?? (said === content.match.tool.id ? owner!.identity.version : null),
        file,
        how,
        packageDir: null,
        by: 'content',
        contentKey: contentKey(content.stat),
        startedAs,
        evidence: [
          `${how} ${file}: ${content.match.why}${said && said !== content.match.tool.id ? `; its package ${owner!.dir} says ${said} (evidence: content, manifest mismatch)` : ''}`,
        ],
      };
    }
    if (owner) {
      return {
        pid: info.pid,
        uid: info.uid,
        startTicks: info.startTicks,
        toolId: owner.identity.tool.id,
        version: owner.identity.version,
        file,
        how,
        packageDir: owner.dir,
        by: 'manifest',
        startedAs,
        evidence: [`${how} ${file} is in ${owner.dir} (${owner.identity.why})`],
      };
    }
  }
  if (ctx.fingerprints) {
    for (const { file, how } of candidates) {
      let fp = info.uid === null ? null : await ctx.fingerprints.match(file, info.uid, how);
      if (fp && fp.ownerUid === null && shippedMatchRefusal(file, how, fp, ctx.catalog) !== null) fp = null;
      if (fp) {
        return {
          pid: info.pid,
          uid: info.uid,
          startTicks: info.startTicks,
          toolId: fp.toolId,
          version: fp.version,
          file,
          how,
          packageDir: null,
          by: 'fingerprint',
          startedAs,
          evidence: [
            fp.ownerUid === null
              ? `${how} ${file} has the SHA-256 of a ${fp.kind} file of ${fp.toolId} shipped by the server (${fp.sha256.slice(0, 16)}…)`
              : `${how} ${file} has the SHA-256 of ${fp.source} (${fp.sha256.slice(0, 16)}…)`,
          ],
        };
      }
    }
  }
  return null;
}

/**
 * Why a fingerprint shipped by the server must not name `file`, or null when it may. The server
 * ships fingerprints other devices reported; a hostile report could carry the SHA-256 of node or
 * bash, or of another package's file. So: never a runtime or shell run as the executable (by file
 * name, whatever its bytes; ship() also drops fingerprints equal to this device's runtimes), and
 * never a file inside a `node_modules/<name>` folder of a package that is not the tool's (its
 * own package, or one of its per-platform packages).
 */
function shippedMatchRefusal(
  file: string,
  how: 'executable' | 'script',
  fp: Pick<Fingerprint, 'toolId'>,
  catalog: CatalogIndex,
): string | null {
  if (how === 'executable' && RUNTIME_NAMES.test(path.basename(file)))
    return `${file} is a runtime or shell, never stopped by a shipped fingerprint`;
  const pkg = npmPackageOf(file);
  if (pkg) {
    const detect = catalog.tool(fp.toolId)?.detect;
    const name = pkg.name.toLowerCase();
    const base = splitPlatformSuffix(name)?.base;
    const own =
      detect?.npm?.some((n) => n.toLowerCase() === name) ||
      (base !== undefined && detect?.npmPlatformFamilies?.some((n) => n.toLowerCase() === base));
    if (!own) return `${file} is inside the package ${pkg.name}, not ${fp.toolId}'s`;
  }
  return null;
}

/**
 * Whether a process may be a JS runtime running a script, decided by what its executable is, not
 * its name (red-team: `cp /usr/bin/node ~/bin/vim; ~/bin/vim …/claude-code/cli.js` ran after the
 * ban). 'runtime': the executable's file name is a runtime's (node, bun, deno, …; a symlink named
 * `vim` to node is already `node` here, /proc/<pid>/exe being the real path). 'own-program': a
 * non-root process whose executable is not a root-owned, single-link file: a user's own copy of
 * any binary (renamed node, bun, deno, an edited build) or a hard link to a system binary
 * (`ln /usr/bin/node ~/n` where fs.protected_hardlinks is 0), or a file that is no longer the one
 * running (dev+ino differs from ProcessInfo.exeId, unreadable). Its first script-like argument is
 * then checked by its bytes only (content markers, fingerprints), never by a package folder.
 *
 * Why this rule and not the executable's bytes or an inventory of runtimes: a user can copy,
 * patch (strip a version string) or build any runtime, and a same-inode list misses copies; but a
 * user cannot make a root-owned single-link file, so every executable a user controls falls in
 * 'own-program' whatever its name or bytes. The cost is bounded: one stat of the executable per
 * new process, and for a user's own program one lstat of its first file argument and at most the
 * content reader's two 4 MiB windows, cached by dev+ino+size+mtime (agent/inventory/content.ts),
 * so `~/bin/cat bigfile` reads 8 MiB of it once per change. Root's processes keep the name rule
 * only (and are never stopped by content, stop.ts). Not caught: a root-installed program that
 * embeds a runtime under another name (an Electron app run with ELECTRON_RUN_AS_NODE=1).
 */
function scriptRunner(info: ProcessStart): 'runtime' | 'own-program' | null {
  if (RUNTIMES.test(path.basename(info.exe ?? info.argv[0] ?? ''))) return 'runtime';
  if (info.uid === null || info.uid === 0 || !info.exe) return null;
  let st: fs.BigIntStats;
  try {
    st = fs.statSync(info.exe, { bigint: true });
  } catch {
    return 'own-program';
  }
  const same = !info.exeId || (String(st.dev) === info.exeId.dev && String(st.ino) === info.exeId.ino);
  return same && st.uid === 0n && st.nlink === 1n ? null : 'own-program';
}

function isRegularFile(p: string): boolean {
  try {
    return fs.lstatSync(p).isFile();
  } catch {
    return false;
  }
}

function realOrSelf(p: string): string {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return p;
  }
}
