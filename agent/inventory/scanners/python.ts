/**
 * Python tools: pipx venvs (pipx_metadata.json), uv tools (uv-receipt.toml + dist-info), and
 * distributions in user and system site-packages (`*.dist-info/METADATA`). pipx and uv tools that
 * are not catalogued but require an AI SDK are reported as `unknown:pipx:<dist>` /
 * `unknown:uv:<dist>`.
 */
import * as path from 'node:path';

import type { CatalogTool } from '../../../policies/catalog/schema.js';
import type { ToolInstance } from '../../../policies/inventory.js';
import { normalizePyName, pypiAiSdks } from '../ai-sdks.js';
import { isInside, type ScanContext } from '../context.js';
import { versionFields } from '../instances.js';
import { commandFiles, findLaunchers, homeBinDirs } from '../launchers.js';
import { miseBackendInstalls, xdgDataDirs } from '../npm-roots.js';
import {
  type DistMetadata,
  parseDistInfoDirName,
  parseMetadata,
  parsePipxMetadata,
  parseRecord,
  parseUvReceipt,
  recordScripts,
} from '../parse/python.js';
import { checkVersion } from '../parse/version.js';
import type { Home } from '../users.js';

const METADATA_HEAD_BYTES = 256 * 1024;

export async function scanPython(ctx: ScanContext): Promise<ToolInstance[]> {
  const out: ToolInstance[] = [];
  for (const home of ctx.homes) {
    if (ctx.expired(home.dir)) continue;
    for (const { dir, binDirs } of pipxHomes(ctx, home)) scanPipx(ctx, path.join(dir, 'venvs'), home, out, binDirs);
    for (const { dir, binDirs } of uvToolDirs(ctx, home)) scanUvTools(ctx, dir, home, out, binDirs);
    for (const sp of userSitePackages(ctx, home)) scanSitePackages(ctx, sp, home, out);
    await ctx.breathe();
  }
  if (ctx.systemRoots) {
    scanPipx(ctx, ctx.sys('opt', 'pipx', 'venvs'), null, out, [ctx.sys('usr', 'local', 'bin')]);
    for (const sp of systemSitePackages(ctx)) scanSitePackages(ctx, sp, null, out);
  }
  return out;
}

/**
 * pipx homes: $PIPX_HOME, pipx >= 1.3's platform data dir ($XDG_DATA_HOME/pipx), the older
 * ~/.local/pipx, and mise's pipx backend (each `installs/pipx-<name>/<v>` is used as PIPX_HOME,
 * jdx/mise src/backend/pipx.rs). Returned with the launcher dirs each one fills.
 */
function pipxHomes(ctx: ScanContext, home: Home): { dir: string; binDirs: string[] }[] {
  const h = (...p: string[]) => path.join(home.dir, ...p);
  const defaults =
    ctx.platform === 'windows'
      ? [h('pipx'), h('AppData', 'Local', 'pipx'), h('.local', 'pipx')]
      : ctx.platform === 'darwin'
        ? [h('.local', 'pipx'), h('Library', 'Application Support', 'pipx'), h('.local', 'share', 'pipx')]
        : [...xdgDataDirs(ctx, home).map((d) => path.join(d, 'pipx')), h('.local', 'pipx')];
  const binDirs = [...ctx.envValues(home, 'PIPX_BIN_DIR'), ...homeBinDirs(home)];
  return [
    ...ctx.envDirs(home, 'PIPX_HOME', defaults).map((dir) => ({ dir, binDirs })),
    ...miseBackendInstalls(ctx, home, 'pipx').map(({ install, shims }) => ({
      dir: install,
      binDirs: [path.join(install, 'bin'), shims],
    })),
  ];
}

/** uv tool dirs: $UV_TOOL_DIR, $XDG_DATA_HOME/uv/tools, the default, and mise's pipx backend run with uv. */
function uvToolDirs(ctx: ScanContext, home: Home): { dir: string; binDirs: string[] }[] {
  const h = (...p: string[]) => path.join(home.dir, ...p);
  const binDirs = [...ctx.envValues(home, 'UV_TOOL_BIN_DIR'), ...homeBinDirs(home)];
  const defaults =
    ctx.platform === 'windows'
      ? [h('AppData', 'Roaming', 'uv', 'data', 'tools'), h('AppData', 'Roaming', 'uv', 'tools')]
      : xdgDataDirs(ctx, home).map((d) => path.join(d, 'uv', 'tools'));
  return [
    ...ctx.envDirs(home, 'UV_TOOL_DIR', defaults).map((dir) => ({ dir, binDirs })),
    ...miseBackendInstalls(ctx, home, 'pipx').map(({ install, shims }) => ({
      dir: install,
      binDirs: [path.join(install, 'bin'), shims],
    })),
  ];
}

/** python3.x folders under `dir` (lib/python3.12, Python312, ...), by a pattern on their names. */
function subdirs(ctx: ScanContext, dir: string, pattern: RegExp): string[] {
  return (ctx.fs.list(dir) ?? [])
    .filter((e) => (e.isDirectory || e.isSymbolicLink) && pattern.test(e.name))
    .map((e) => path.join(dir, e.name));
}

const PY_LIB = /^python3(\.\d+)?t?$/i;

function userSitePackages(ctx: ScanContext, home: Home): string[] {
  const h = (...p: string[]) => path.join(home.dir, ...p);
  const out: string[] = [];
  if (ctx.platform === 'windows') {
    for (const dir of subdirs(ctx, h('AppData', 'Roaming', 'Python'), /^Python3\d+$/i))
      out.push(path.join(dir, 'site-packages'));
    for (const dir of subdirs(ctx, h('AppData', 'Local', 'Programs', 'Python'), /^Python3\d+$/i))
      out.push(path.join(dir, 'Lib', 'site-packages'));
    return out;
  }
  for (const lib of subdirs(ctx, h('.local', 'lib'), PY_LIB)) out.push(path.join(lib, 'site-packages'));
  if (ctx.platform === 'darwin')
    for (const dir of subdirs(ctx, h('Library', 'Python'), /^3\.\d+$/))
      out.push(path.join(dir, 'lib', 'python', 'site-packages'));
  for (const conda of ['miniconda3', 'anaconda3', 'miniforge3']) {
    const envs = [h(conda), ...subdirs(ctx, h(conda, 'envs'), /^[^.]/)];
    for (const env of envs)
      for (const lib of subdirs(ctx, path.join(env, 'lib'), PY_LIB)) out.push(path.join(lib, 'site-packages'));
  }
  return out;
}

function systemSitePackages(ctx: ScanContext): string[] {
  const out: string[] = [];
  if (ctx.platform === 'windows') {
    for (const dir of subdirs(ctx, ctx.sys('Program Files'), /^Python3\d+$/i))
      out.push(path.join(dir, 'Lib', 'site-packages'));
    return out;
  }
  for (const prefix of [['usr'], ['usr', 'local'], ['opt', 'homebrew']]) {
    for (const lib of subdirs(ctx, ctx.sys(...prefix, 'lib'), PY_LIB))
      out.push(path.join(lib, 'site-packages'), path.join(lib, 'dist-packages'));
  }
  out.push(ctx.sys('usr', 'lib', 'python3', 'dist-packages'));
  if (ctx.platform === 'darwin') {
    for (const version of subdirs(ctx, ctx.sys('Library', 'Frameworks', 'Python.framework', 'Versions'), /^3\.\d+$/)) {
      for (const lib of subdirs(ctx, path.join(version, 'lib'), PY_LIB)) out.push(path.join(lib, 'site-packages'));
    }
  }
  return out;
}

/** The site-packages folders of a virtual environment (POSIX lib/python3.x or Windows Lib). */
function venvSitePackages(ctx: ScanContext, venv: string): string[] {
  return [
    ...subdirs(ctx, path.join(venv, 'lib'), PY_LIB).map((lib) => path.join(lib, 'site-packages')),
    path.join(venv, 'Lib', 'site-packages'),
  ];
}

/** The dist-info folder of one distribution in a venv, with its METADATA. */
function findDist(
  ctx: ScanContext,
  sitePackages: readonly string[],
  dist: string,
): { dir: string; metadata: DistMetadata | null; version: string } | null {
  for (const sp of sitePackages) {
    for (const entry of ctx.fs.list(sp) ?? []) {
      const parsed = parseDistInfoDirName(entry.name);
      if (!parsed || parsed.name !== dist) continue;
      const dir = path.join(sp, entry.name);
      const metadata = readMetadata(ctx, path.join(dir, parsed.kind === 'dist-info' ? 'METADATA' : 'PKG-INFO'));
      return { dir, metadata, version: parsed.version };
    }
  }
  return null;
}

/** A distribution's METADATA (or PKG-INFO) headers; null when unreadable. Kept by a daemon's memo. */
function readMetadata(ctx: ScanContext, file: string): DistMetadata | null {
  return (
    ctx.fs.readHeadDerived('python-metadata', file, METADATA_HEAD_BYTES, (head) =>
      parseMetadata(head.toString('utf8')),
    ) ?? null
  );
}

function binaryNames(tool: CatalogTool | undefined): string[] {
  return tool ? [...(tool.detect.binaries ?? []), ...(tool.detect.ambiguousBinaries ?? [])] : [];
}

function scanPipx(ctx: ScanContext, venvsDir: string, home: Home | null, out: ToolInstance[], binDirs: string[]): void {
  const venvs = ctx.fs.list(venvsDir);
  if (!venvs) return;
  for (const entry of venvs) {
    if (entry.name.startsWith('.') || entry.isFile) continue;
    if (ctx.expired(venvsDir)) return;
    const venv = path.join(venvsDir, entry.name);
    const real = ctx.fs.shownRealpath(venv);
    if (!real) continue;
    const metadataPath = path.join(venv, 'pipx_metadata.json');
    const parsed =
      ctx.fs.readDerived('pipx-metadata', metadataPath, ctx.limits.maxManifestBytes, parsePipxMetadata) ?? null;
    if (parsed && !parsed.ok) ctx.skip(metadataPath, parsed.error);
    const meta = parsed?.ok ? parsed.value : null;
    const dist = meta?.package ?? normalizePyName(entry.name);
    const tool = ctx.catalog.bySignature('pypi', dist);
    const sitePackages = venvSitePackages(ctx, venv);
    // The dist-info is read only when needed: for an unknown tool's requirements, or a version.
    const found = !tool || !meta || meta.version.version === null ? findDist(ctx, sitePackages, dist) : null;
    let toolId: string;
    const evidence = [parsed === null ? venv : metadataPath];
    if (tool) toolId = tool.id;
    else {
      const sdks = pypiAiSdks(found?.metadata?.requires ?? []);
      if (sdks.length === 0) continue;
      toolId = `unknown:pipx:${dist}`;
      evidence.push(path.join(found!.dir, 'METADATA'), ...sdks.map((sdk) => `requires ${sdk}`));
    }
    const version =
      meta && meta.version.version !== null
        ? meta.version
        : found?.metadata?.version.version
          ? found.metadata.version
          : found
            ? checkVersion(found.version, 'dist-info folder')
            : { version: null, error: 'no pipx_metadata.json version and no dist-info' };
    const names = [
      ...(meta?.apps ?? []),
      ...(meta?.appPaths ?? []).map((p) => p.split(/[\\/]/).pop()!),
      ...binaryNames(tool),
    ];
    const instance: ToolInstance = {
      toolId,
      ...versionFields(version),
      channel: 'pipx',
      installPath: real,
      // pipx links apps on Unix and copies them on Windows, where the name is all there is.
      launchers: findLaunchers(ctx, {
        dirs: [...binDirs, ...ctx.pathDirs],
        names,
        installReal: real,
        ...(ctx.platform === 'windows' ? { byNameDirs: binDirs } : {}),
      }),
      owner: home ? home.user : ctx.users.ownerOf(ctx.fs.stat(real)),
      evidence,
    };
    if (!tool) instance.name = dist;
    out.push(instance);
  }
}

function scanUvTools(ctx: ScanContext, toolsDir: string, home: Home, out: ToolInstance[], binDirs: string[]): void {
  for (const entry of ctx.fs.list(toolsDir) ?? []) {
    if (entry.name.startsWith('.') || entry.isFile) continue;
    if (ctx.expired(toolsDir)) return;
    const dir = path.join(toolsDir, entry.name);
    const receiptPath = path.join(dir, 'uv-receipt.toml');
    const receipt = ctx.fs.readDerived('uv-receipt', receiptPath, ctx.limits.maxManifestBytes, parseUvReceipt);
    if (receipt === undefined) continue;
    if (!receipt.ok) {
      ctx.skip(receiptPath, receipt.error);
      continue;
    }
    const dist = receipt.value.requirements[0] ?? normalizePyName(entry.name);
    const tool = ctx.catalog.bySignature('pypi', dist) ?? ctx.catalog.bySignature('pypi', normalizePyName(entry.name));
    const found = findDist(ctx, venvSitePackages(ctx, dir), dist);
    const evidence = [receiptPath];
    let toolId: string;
    if (tool) toolId = tool.id;
    else {
      const sdks = pypiAiSdks(found?.metadata?.requires ?? []);
      if (sdks.length === 0) continue;
      toolId = `unknown:uv:${dist}`;
      evidence.push(path.join(found!.dir, 'METADATA'), ...sdks.map((sdk) => `requires ${sdk}`));
    }
    const real = ctx.fs.shownRealpath(dir);
    if (!real) continue;
    const version = found?.metadata?.version.version
      ? found.metadata.version
      : found
        ? checkVersion(found.version, 'dist-info folder')
        : { version: null as null, error: 'no dist-info for the tool in its environment' };
    if (found) evidence.push(found.dir);
    // The receipt records where uv put each entry point; trust it only if it leads back here.
    const recorded = receipt.value.entrypoints
      .map((e) => e.installPath)
      .filter((p): p is string => !!p && path.isAbsolute(p));
    const launchers = new Set(
      findLaunchers(ctx, {
        dirs: [...binDirs, ...ctx.pathDirs],
        names: [...receipt.value.entrypoints.map((e) => e.name), ...binaryNames(tool)],
        installReal: real,
      }),
    );
    for (const file of recorded) {
      if (!ctx.fs.insideHomeOf(dir, file)) continue;
      const target = ctx.fs.shownRealpath(file);
      if (target && (isInside(target, real) || ctx.platform === 'windows')) launchers.add(file);
    }
    const instance: ToolInstance = {
      toolId,
      ...versionFields(version),
      channel: 'uv',
      installPath: real,
      launchers: [...launchers].sort(),
      owner: home.user,
      evidence,
    };
    if (!tool) instance.name = dist;
    out.push(instance);
  }
}

function scanSitePackages(ctx: ScanContext, sitePackages: string, home: Home | null, out: ToolInstance[]): void {
  if (ctx.expired(sitePackages)) return;
  const entries = ctx.fs.list(sitePackages);
  if (!entries) return;
  for (const entry of entries) {
    const parsed = parseDistInfoDirName(entry.name);
    if (!parsed) continue;
    const tool = ctx.catalog.bySignature('pypi', parsed.name);
    if (!tool) continue;
    const distDir = path.join(sitePackages, entry.name);
    const metadataPath = path.join(distDir, parsed.kind === 'dist-info' ? 'METADATA' : 'PKG-INFO');
    const metadata = readMetadata(ctx, metadataPath);
    const version = metadata?.version.version ? metadata.version : checkVersion(parsed.version, 'dist-info folder');
    // The package's own folder (top_level.txt) is what runs; fall back to the dist-info.
    const topLevel = ctx.fs
      .readText(path.join(distDir, 'top_level.txt'), 64 * 1024)
      ?.split(/\r?\n/)
      .find((l) => /^[A-Za-z_][\w]*$/.test(l.trim()))
      ?.trim();
    // (A folder beyond the home's reach reads as missing: shownRealpath.)
    const topDir = topLevel ? path.join(sitePackages, topLevel) : null;
    const topReal = topDir === null ? null : ctx.fs.shownRealpath(topDir);
    const packageDir = topDir !== null && topReal !== null && ctx.fs.isDirectory(topReal) ? topDir : distDir;
    const real = ctx.fs.shownRealpath(packageDir);
    if (!real) continue;
    out.push({
      toolId: tool.id,
      ...versionFields(version),
      channel: 'pip',
      installPath: real,
      launchers: recordLaunchers(ctx, sitePackages, distDir),
      owner: home ? home.user : ctx.users.ownerOf(ctx.fs.stat(real)),
      evidence: metadata ? [metadataPath] : [distDir],
    });
  }
}

/** pip's RECORD lists the console scripts it wrote (../../../bin/aider); those are the launchers. */
function recordLaunchers(ctx: ScanContext, sitePackages: string, distDir: string): string[] {
  const scripts = ctx.fs.readDerived(
    'pip-record-scripts',
    path.join(distDir, 'RECORD'),
    ctx.limits.maxDatabaseBytes,
    (text) => recordScripts(parseRecord(text)),
  );
  if (scripts === undefined) return [];
  const out: string[] = [];
  for (const rel of scripts) {
    const file = path.resolve(sitePackages, ...rel.split(/[\\/]/));
    if (!ctx.fs.insideHomeOf(sitePackages, file)) continue;
    const dir = path.dirname(file);
    const name = path.basename(file);
    if (commandFiles(ctx, dir, name).length) out.push(file);
  }
  return out.sort();
}
