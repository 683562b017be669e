/**
 * Homebrew: formulae in <prefix>/Cellar/<name>/<version>/ (tapped formulae are told apart by the
 * keg's INSTALL_RECEIPT.json `source.tap`) and casks in <prefix>/Caskroom/<token>/<version>/.
 * The folder name is the version (casks may carry `,<build>`); launchers are the links in
 * <prefix>/bin that resolve into the keg or cask.
 */
import * as path from 'node:path';

import type { CatalogTool } from '../../../policies/catalog/schema.js';
import type { ToolInstance } from '../../../policies/inventory.js';
import type { ScanContext } from '../context.js';
import { findLaunchers } from '../launchers.js';
import { versionDirs } from '../npm-roots.js';
import { isRecord, type Parsed, parseJson } from '../parse/text.js';
import type { Home } from '../users.js';

export function brewPrefixes(ctx: ScanContext): string[] {
  if (ctx.brewPrefixes) return [...ctx.brewPrefixes];
  const out: string[] = [];
  if (ctx.platform === 'windows') return out;
  if (ctx.systemRoots)
    out.push(ctx.sys('opt', 'homebrew'), ctx.sys('usr', 'local'), ctx.sys('home', 'linuxbrew', '.linuxbrew'));
  for (const home of ctx.homes) {
    const configured = ctx.envFor(home, 'HOMEBREW_PREFIX');
    if (configured && path.isAbsolute(configured)) out.push(configured);
    if (ctx.platform === 'linux') out.push(path.join(home.dir, '.linuxbrew'));
  }
  return [...new Set(out)];
}

export async function scanHomebrew(ctx: ScanContext): Promise<ToolInstance[]> {
  const out: ToolInstance[] = [];
  const seen = new Set<string>();
  for (const prefix of brewPrefixes(ctx)) {
    const real = ctx.fs.shownRealpath(prefix);
    if (real === null || seen.has(real)) continue;
    seen.add(real);
    if (ctx.expired(prefix)) continue;
    const home = ctx.homes.find((h) => prefix.startsWith(h.dir + path.sep)) ?? null;
    scanCellar(ctx, prefix, home, out);
    scanCaskroom(ctx, prefix, home, out);
    await ctx.breathe();
  }
  return out;
}

/** Tapped catalog formulae by their bare name: crush -> [charmbracelet/tap/crush]. */
function tappedFormulae(ctx: ScanContext): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const tool of ctx.catalog.catalog.tools) {
    for (const formula of tool.detect.brewFormulae ?? []) {
      if (!formula.includes('/')) continue;
      const bare = formula.split('/').pop()!.toLowerCase();
      out.set(bare, [...(out.get(bare) ?? []), formula]);
    }
  }
  return out;
}

function scanCellar(ctx: ScanContext, prefix: string, home: Home | null, out: ToolInstance[]): void {
  const cellar = path.join(prefix, 'Cellar');
  const formulae = ctx.fs.list(cellar);
  if (!formulae) return;
  const tapped = tappedFormulae(ctx);
  for (const formula of formulae) {
    if (formula.name.startsWith('.')) continue;
    const core = ctx.catalog.bySignature('brewFormulae', formula.name);
    const taps = tapped.get(formula.name.toLowerCase());
    if (!core && !taps) continue;
    const formulaDir = path.join(cellar, formula.name);
    for (const kegDir of versionDirs(ctx, formulaDir)) {
      // Each keg is a checkpoint: a home's Cellar may hold thousands.
      if (ctx.expired(kegDir)) return;
      const receiptPath = path.join(kegDir, 'INSTALL_RECEIPT.json');
      const tap = receiptTap(ctx, receiptPath);
      // A tapped formula wins over a core one of the same name when the receipt says so.
      const tool =
        (tap ? ctx.catalog.bySignature('brewFormulae', `${tap}/${formula.name}`) : undefined) ??
        (tap === null || tap === 'homebrew/core' ? core : undefined);
      if (!tool) continue;
      const real = ctx.fs.shownRealpath(kegDir);
      if (!real) continue;
      const kegBins = (ctx.fs.list(path.join(kegDir, 'bin')) ?? []).map((e) => e.name);
      out.push({
        toolId: tool.id,
        version: path.basename(kegDir),
        channel: 'homebrew-formula',
        installPath: real,
        launchers: findLaunchers(ctx, {
          dirs: [path.join(prefix, 'bin'), ...ctx.pathDirs],
          names: [...kegBins, ...binaryNames(tool)],
          installReal: real,
        }),
        owner: home ? home.user : ctx.users.ownerOf(ctx.fs.stat(real)),
        evidence: ctx.fs.isFile(receiptPath) ? [kegDir, receiptPath] : [kegDir],
      });
    }
  }
}

/** The tap a keg came from (`charmbracelet/tap`), or null when the receipt does not say. */
function receiptTap(ctx: ScanContext, receiptPath: string): string | null {
  const tap = ctx.fs.readDerived('brew-receipt-tap', receiptPath, ctx.limits.maxManifestBytes, tapOf);
  if (tap === undefined) return null;
  if (!tap.ok) {
    ctx.skip(receiptPath, tap.error);
    return null;
  }
  return tap.value;
}

/** The lower-cased `source.tap` of an INSTALL_RECEIPT.json's text (a pure function: the memo keeps it). */
function tapOf(text: string): Parsed<string | null> {
  const json = parseJson(text);
  if (!json.ok) return json;
  const source = isRecord(json.value) ? json.value.source : undefined;
  return { ok: true, value: isRecord(source) && typeof source.tap === 'string' ? source.tap.toLowerCase() : null };
}

function scanCaskroom(ctx: ScanContext, prefix: string, home: Home | null, out: ToolInstance[]): void {
  const caskroom = path.join(prefix, 'Caskroom');
  for (const cask of ctx.fs.list(caskroom) ?? []) {
    if (cask.name.startsWith('.')) continue;
    const tool = ctx.catalog.bySignature('brewCasks', cask.name);
    if (!tool) continue;
    const caskDir = path.join(caskroom, cask.name);
    for (const versionDir of versionDirs(ctx, caskDir)) {
      if (ctx.expired(versionDir)) return;
      const real = ctx.fs.shownRealpath(versionDir);
      if (!real || !ctx.fs.isDirectory(real)) continue;
      const payload = (ctx.fs.list(versionDir) ?? []).map((e) => e.name);
      out.push({
        toolId: tool.id,
        version: path.basename(versionDir),
        channel: 'homebrew-cask',
        installPath: real,
        launchers: findLaunchers(ctx, {
          dirs: [path.join(prefix, 'bin'), ...ctx.pathDirs],
          names: [...payload, ...binaryNames(tool)],
          installReal: real,
        }),
        owner: home ? home.user : ctx.users.ownerOf(ctx.fs.stat(real)),
        evidence: [versionDir],
      });
    }
  }
}

function binaryNames(tool: CatalogTool): string[] {
  return [...(tool.detect.binaries ?? []), ...(tool.detect.ambiguousBinaries ?? [])];
}
