/**
 * The inventory: finds every developer AI tool on the machine, for every user, with its exact
 * version, by reading files only. `scanMachine` runs one scanner per install channel, then the
 * PATH pass (launchers, bare binaries), merges what two routes found, marks running instances,
 * and returns everything sorted. Nothing found on disk makes it throw: what it could not read is
 * listed in `skipped` with the reason.
 */
import { realpathSync } from 'node:fs';

import type { ToolInstance } from '../../policies/inventory.js';
import { type BuiltContext, createContext, type ScanContext, type Scanner } from './context.js';
import { foldSameFiles, isAigateKept } from './identity.js';
import { compareInstances, finalizeInstance, mergeInstances } from './instances.js';
import { listProcesses, markRunning } from './running.js';
import { scanCaches } from './scanners/caches.js';
import { scanHomePrefixes } from './scanners/home-prefixes.js';
import { scanHomebrew } from './scanners/homebrew.js';
import { scanJetbrains } from './scanners/jetbrains.js';
import { scanLegacyLocal } from './scanners/legacy-local.js';
import { scanLinuxPackages } from './scanners/linux-packages.js';
import { scanMacApps } from './scanners/macos-apps.js';
import { scanNative } from './scanners/native.js';
import { scanNpm } from './scanners/npm.js';
import { attachCachedTarballs } from './scanners/npm-tarballs.js';
import { scanPathBinaries } from './scanners/path-binaries.js';
import { scanPnpm } from './scanners/pnpm.js';
import { attachStoreFiles } from './scanners/pnpm-files.js';
import { scanPython } from './scanners/python.js';
import { scanVscode } from './scanners/vscode.js';
import { scanWindowsPrograms } from './scanners/windows-programs.js';
import type { ScanOptions, ScanResult } from './types.js';

export { ScanMemo } from './memo.js';
export type { ScanLimits, ScanOptions, ScanResult, Skipped } from './types.js';

/** The channel scanners, in the order they run. */
const SCANNERS: readonly (readonly [string, Scanner])[] = [
  ['npm', scanNpm],
  ['npm-caches', scanCaches],
  ['pnpm', scanPnpm],
  ['home-prefixes', scanHomePrefixes],
  ['legacy-local', scanLegacyLocal],
  ['native', scanNative],
  ['python', scanPython],
  ['homebrew', scanHomebrew],
  ['vscode', scanVscode],
  ['jetbrains', scanJetbrains],
  ['macos-apps', scanMacApps],
  ['windows-programs', scanWindowsPrograms],
  ['linux-packages', scanLinuxPackages],
];

export async function scanMachine(options: ScanOptions = {}): Promise<ScanResult> {
  const startedAt = new Date();
  const t0 = performance.now();
  const built = createContext(options);
  try {
    return await scanWith(built, options, startedAt, t0);
  } finally {
    built.finish();
  }
}

async function scanWith(
  { ctx, skips, budgetExhausted }: BuiltContext,
  options: ScanOptions,
  startedAt: Date,
  t0: number,
): Promise<ScanResult> {
  const found: ToolInstance[] = [];
  for (const [name, scanner] of SCANNERS) {
    await guarded(ctx, name, async () => {
      found.push(...(await scanner(ctx)));
    });
  }
  await guarded(ctx, 'path', async () => {
    found.push(...scanPathBinaries(ctx, found));
  });
  // Last: the store files pnpm linked an instance's runnable files from become its parts.
  await guarded(ctx, 'pnpm-files', () => attachStoreFiles(ctx, found));
  // And npm's cached tarballs they were unpacked from (npx --offline unpacks them again).
  await guarded(ctx, 'npm-tarballs', () => attachCachedTarballs(ctx, found));
  // aigate's own quarantines and kept originals are never an instance or a launcher.
  const kept = (file: string) => isAigateKept(file, (p) => ctx.fs.isLocked(p));
  const own = found
    .filter((i) => !kept(i.installPath))
    .map((i) => (i.launchers.some(kept) ? { ...i, launchers: i.launchers.filter((l) => !kept(l)) } : i));
  const identity = (follow: boolean) => (file: string) => {
    const stats = follow ? ctx.fs.stat(file) : ctx.fs.lstat(file);
    return stats ? `${stats.dev}:${stats.ino}` : null;
  };
  const merged = foldSameFiles(mergeInstances(own), identity(true), identity(true));
  if (options.detectRunning !== false) {
    await guarded(ctx, 'running', async () => {
      const processes = await listProcesses(ctx);
      markRunning(merged, processes, quietRealpath);
    });
  }
  const instances: ToolInstance[] = [];
  for (const instance of merged) {
    const checked = finalizeInstance(instance);
    if (checked.ok) instances.push(checked.instance);
    else ctx.skip(instance.installPath, checked.error);
  }
  instances.sort(compareInstances);
  return {
    instances,
    skipped: skips.all(),
    users: [...new Set(ctx.homes.map((h) => h.user))].sort(),
    startedAt: startedAt.toISOString(),
    durationMs: Math.round((performance.now() - t0) * 10) / 10,
    platform: ctx.platform,
    budgetExhausted: budgetExhausted(),
  };
}

/** Process paths point anywhere (other users' files, deleted files): failures are expected. */
function quietRealpath(p: string): string | null {
  try {
    return realpathSync.native(p);
  } catch {
    return null;
  }
}

/** A scanner's own bug must not lose what the others found. */
async function guarded(ctx: ScanContext, name: string, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    ctx.skip(`scanner:${name}`, `scanner failed (${error instanceof Error ? error.message : String(error)})`);
  }
}
