/**
 * The last pass: every command on PATH (and in each home's launcher dirs and the Homebrew bin
 * dirs) named like a catalogued binary. A command resolving into an instance already found
 * becomes one of its launchers; one resolving into a known layout the channel scanners did not
 * reach (an npm package, a native versions folder, a Cellar keg) becomes that instance; any
 * other command with an unambiguous name is a bare binary, reported without a version.
 * Ambiguous names (goose, amp, q, agent, ...) need such a second signal and are never reported
 * on their own.
 */
import * as path from 'node:path';

import type { CatalogTool } from '../../../policies/catalog/schema.js';
import type { ToolInstance } from '../../../policies/inventory.js';
import { isStubText } from '../../enforce/stubs.js';
import { isInside, type ScanContext } from '../context.js';
import { isAigateKept } from '../identity.js';
import { commandFiles, homeBinDirs } from '../launchers.js';
import { npmPackageOf, parseNativeVersionEntry, segments } from '../parse/layouts.js';
import { shimManagerOf } from '../shims.js';
import type { Home } from '../users.js';
import { brewPrefixes } from './homebrew.js';
import { readPackage } from './npm.js';

const BARE_VERSION_ERROR = 'bare binary without a version file (aigate never runs a binary to learn its version)';
const SCRIPT_HEAD_BYTES = 16 * 1024;
/** The stub marker sits in the first lines (enforce/stubs.ts). */
const STUB_HEAD_BYTES = 1024;

interface LauncherDir {
  dir: string;
  home: Home | null;
}

function launcherDirs(ctx: ScanContext): LauncherDir[] {
  const dirs = new Map<string, LauncherDir>();
  const add = (dir: string, home: Home | null) => {
    if (!dirs.has(dir)) dirs.set(dir, { dir, home });
  };
  for (const home of ctx.homes) {
    for (const dir of homeBinDirs(home)) add(dir, home);
    for (const parts of [
      ['.opencode', 'bin'],
      ['.cargo', 'bin'],
      ['go', 'bin'],
    ])
      add(path.join(home.dir, ...parts), home);
    // The folders in the home the user's own PATH names (startup files, processes): a hidden
    // `--prefix` install whose bin only that PATH reaches.
    for (const dir of ctx.envValues(home, 'PATH')) add(dir, home);
  }
  for (const dir of ctx.pathDirs) add(dir, ctx.homes.find((h) => isInside(dir, h.dir)) ?? null);
  for (const prefix of brewPrefixes(ctx)) add(path.join(prefix, 'bin'), null);
  if (ctx.systemRoots && ctx.platform !== 'windows')
    for (const parts of [
      ['usr', 'local', 'bin'],
      ['usr', 'bin'],
      ['opt', 'homebrew', 'bin'],
    ])
      add(ctx.sys(...parts), null);
  return [...dirs.values()];
}

export function scanPathBinaries(ctx: ScanContext, found: ToolInstance[]): ToolInstance[] {
  const byPath = new Map<string, ToolInstance[]>();
  // By install folder and by each part's folder: a launcher may lead straight to the native
  // binary in the tool's per-platform package (bun's ~/.bun/bin/claude, through bin/claude.exe,
  // which Claude Code's install.cjs links to claude-code-<os>-<arch>/claude).
  const index = (instance: ToolInstance) => {
    for (const dir of [instance.installPath, ...(instance.parts ?? [])]) {
      const list = byPath.get(dir);
      if (list) list.push(instance);
      else byPath.set(dir, [instance]);
    }
  };
  found.forEach(index);
  const owning = (real: string, toolId: string): ToolInstance[] => {
    for (let dir = real; ; dir = path.dirname(dir)) {
      const hits = byPath.get(dir)?.filter((i) => i.toolId === toolId);
      if (hits?.length) return hits;
      if (path.dirname(dir) === dir) return [];
    }
  };

  const names = new Map<string, { tool: CatalogTool; ambiguous: boolean }>();
  for (const tool of ctx.catalog.catalog.tools) {
    for (const name of tool.detect.binaries ?? []) names.set(name, { tool, ambiguous: false });
    for (const name of tool.detect.ambiguousBinaries ?? []) names.set(name, { tool, ambiguous: true });
  }

  // Launchers a channel scanner already tied to its instance (copies, shims) are settled.
  const claimed = new Set(found.flatMap((i) => i.launchers));
  const added: ToolInstance[] = [];
  for (const { dir, home } of launcherDirs(ctx)) {
    if (ctx.expired(dir)) continue;
    for (const [name, { tool, ambiguous }] of names) {
      for (const file of commandFiles(ctx, dir, name)) {
        if (claimed.has(file)) continue;
        const real = ctx.fs.realpath(file);
        // As root, a link in a user's home leads only where the user's own files are (or to a
        // system install): another user's or a root-only install is not read or reported for
        // them, and a missing target gets the same word, so nothing shows of places they cannot see.
        const refused = ctx.fs.targetRefusal(file, real);
        if (refused !== null) {
          ctx.skip(file, refused);
          continue;
        }
        if (real === null) {
          if (ctx.fs.isBrokenLink(file)) ctx.skip(file, 'broken symlink');
          continue;
        }
        if (isAigateKept(file, (p) => ctx.fs.isLocked(p))) continue;
        const stats = ctx.fs.stat(real);
        if (!stats?.isFile()) {
          // A FIFO, socket or device named like a tool: never opened, said why.
          if (stats && !stats.isDirectory()) ctx.skip(file, 'not a regular file');
          continue;
        }
        // A shim manager (mise, asdf, Volta, proto) is never the tool it stands in for.
        if (shimManagerOf(real, real === file ? ctx.fs.readHead(file, 4096)?.toString('latin1') : null)) continue;
        const owners = owning(real, tool.id);
        if (owners.length) {
          for (const owner of owners)
            if (!owner.launchers.includes(file)) owner.launchers = [...owner.launchers, file].sort();
          continue;
        }
        // aigate's own stub standing in for a blocked tool's launcher is not a tool. As root, only
        // a root-owned one is (the agent writes them so): a user's wrapper carrying the marker is not.
        if (
          real === file &&
          (!ctx.fs.asRoot || stats.uid === 0) &&
          isStubText(ctx.fs.readHead(real, STUB_HEAD_BYTES)?.toString('latin1') ?? '')
        )
          continue;
        const fromLayout = knownLayout(ctx, tool, file, real, home);
        if (fromLayout.length) {
          fromLayout.forEach(index);
          added.push(...fromLayout);
          continue;
        }
        if (ambiguous) continue;
        const bare: ToolInstance = {
          toolId: tool.id,
          version: null,
          versionError: BARE_VERSION_ERROR,
          channel: 'binary',
          installPath: real,
          launchers: [file],
          owner: home ? home.user : ctx.users.ownerOf(ctx.fs.stat(real)),
          evidence: [file],
        };
        index(bare);
        added.push(bare);
      }
    }
  }
  return added;
}

/** An install the command leads into that no channel scanner visited. */
function knownLayout(
  ctx: ScanContext,
  tool: CatalogTool,
  file: string,
  real: string,
  home: Home | null,
): ToolInstance[] {
  // A link into node_modules/<pkg>, or a cmd-shim/sh shim that names node_modules/<pkg>/.
  const packages: { dir: string; name: string }[] = [];
  const linked = npmPackageOf(real);
  if (linked) packages.push(linked);
  if (real === file) {
    const head = ctx.fs.readHead(file, SCRIPT_HEAD_BYTES)?.toString('latin1') ?? '';
    for (const m of head.matchAll(/node_modules[\\/]((?:@[^\\/"'\s]+[\\/])?[^\\/"'\s]+)[\\/]/g)) {
      const name = m[1]!.replace(/\\/g, '/');
      const base = path.dirname(file);
      for (const dir of [
        path.join(base, 'node_modules', ...name.split('/')),
        path.join(base, '..', 'lib', 'node_modules', ...name.split('/')),
      ])
        packages.push({ dir, name });
    }
  }
  for (const pkg of packages) {
    if (!(tool.detect.npm ?? []).includes(pkg.name)) continue;
    // A folder the shim's text names may be a user's link out of the home: followed on the
    // terms of the launcher link above, and passed over in silence whether it exists or not.
    if (ctx.fs.shownRealpath(pkg.dir) === null || !ctx.fs.isDirectory(pkg.dir)) continue;
    const out: ToolInstance[] = [];
    readPackage(ctx, { modules: path.dirname(pkg.dir), binDirs: [path.dirname(file)], home }, pkg.name, pkg.dir, out);
    for (const instance of out)
      if (!instance.launchers.includes(file)) instance.launchers = [...instance.launchers, file].sort();
    if (out.length) return out;
  }
  // A link into <anything>/<native versions dir>/<version>.
  const realParts = segments(real);
  for (const relative of tool.detect.nativeVersionDirs ?? []) {
    const rel = segments(relative);
    for (let i = 0; i + rel.length < realParts.length; i++) {
      if (!rel.every((part, j) => realParts[i + j] === part)) continue;
      const entry = realParts[i + rel.length]!;
      const version = parseNativeVersionEntry(entry);
      if (version === null) continue;
      const installReal = path.join(path.parse(real).root, ...realParts.slice(0, i + rel.length + 1));
      return [
        {
          toolId: tool.id,
          version,
          channel: 'native',
          installPath: installReal,
          launchers: [file],
          owner: home ? home.user : ctx.users.ownerOf(ctx.fs.stat(installReal)),
          evidence: [file],
        },
      ];
    }
  }
  // A link into <prefix>/Cellar/<formula>/<version> or <prefix>/Caskroom/<cask>/<version>.
  for (let i = 0; i + 2 < realParts.length; i++) {
    const kind = realParts[i];
    if (kind !== 'Cellar' && kind !== 'Caskroom') continue;
    const name = realParts[i + 1]!;
    const signatures =
      kind === 'Cellar'
        ? (tool.detect.brewFormulae ?? []).map((f) => f.split('/').pop())
        : (tool.detect.brewCasks ?? []);
    if (!signatures.includes(name)) continue;
    const installReal = path.join(path.parse(real).root, ...realParts.slice(0, i + 3));
    return [
      {
        toolId: tool.id,
        version: realParts[i + 2]!,
        channel: kind === 'Cellar' ? 'homebrew-formula' : 'homebrew-cask',
        installPath: installReal,
        launchers: [file],
        owner: ctx.users.ownerOf(ctx.fs.stat(installReal)),
        evidence: [file],
      },
    ];
  }
  return [];
}
