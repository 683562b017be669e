/**
 * Private npm installs inside a home folder, from the catalog's localNpmDirs: Claude Code 1.x's
 * "local installation" (~/.claude/local/node_modules/@anthropic-ai/claude-code, started by the
 * ~/.claude/local/claude wrapper that users alias or link).
 */
import * as path from 'node:path';

import type { ToolInstance } from '../../../policies/inventory.js';
import type { ScanContext } from '../context.js';
import { commandFiles, homeBinDirs } from '../launchers.js';
import { segments } from '../parse/layouts.js';
import { type NpmRoot, readPackage } from './npm.js';

export async function scanLegacyLocal(ctx: ScanContext): Promise<ToolInstance[]> {
  const out: ToolInstance[] = [];
  for (const tool of ctx.catalog.catalog.tools) {
    for (const relative of tool.detect.localNpmDirs ?? []) {
      for (const home of ctx.homes) {
        const base = path.join(home.dir, ...segments(relative));
        const modules = path.join(base, 'node_modules');
        const root: NpmRoot = { modules, binDirs: homeBinDirs(home), home };
        for (const pkg of tool.detect.npm ?? []) {
          const found: ToolInstance[] = [];
          readPackage(ctx, root, pkg, path.join(modules, ...pkg.split('/')), found, 'legacy-local');
          for (const instance of found) {
            // The wrapper script beside node_modules is what users run (often through an alias).
            const wrappers = [...(tool.detect.binaries ?? [])].flatMap((name) => commandFiles(ctx, base, name));
            instance.launchers = [...new Set([...instance.launchers, ...wrappers])].sort();
            out.push(instance);
          }
        }
      }
      await ctx.breathe();
    }
  }
  return out;
}
