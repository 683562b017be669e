/**
 * Which files of an npm instance run the tool: the rules the inventory (pnpm's store lookup,
 * agent/inventory/scanners/pnpm-files.ts) and the sentinel (agent/sentinel/fingerprints.ts) both
 * apply, so that what one quarantines and what the other recognises are the same files. Pure:
 * callers list folders and read manifests.
 */
import * as path from 'node:path';

/**
 * The files a manifest's `bin` names (`bin`: command name -> path relative to the install), kept
 * only when they lie strictly inside `installPath`: a bin entry is the package's own text, and
 * `../../../usr/bin/bash` must not make a system program the tool's.
 */
export function binTargetsInside(installPath: string, bin: Readonly<Record<string, string>>): string[] {
  const out: string[] = [];
  for (const target of Object.values(bin)) {
    const file = path.resolve(installPath, target);
    const rel = path.relative(installPath, file);
    if (rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) && !out.includes(file)) out.push(file);
  }
  return out;
}

/**
 * Whether a native binary's file name is one of the tool's command names (`binaries`, the
 * catalog's detect.binaries), `.exe` aside, alone or with a platform suffix (`codex`,
 * `codex-x86_64-unknown-linux-musl`; case ignored). Tools vendor other programs (Claude Code 2.0
 * carries ripgrep's binaries in vendor/ripgrep), whose bytes must not stand for the tool.
 */
export function namedAfterTool(fileName: string, binaries: readonly string[]): boolean {
  const name = fileName.replace(/\.exe$/i, '').toLowerCase();
  return binaries.some((bin) => name === bin.toLowerCase() || name.startsWith(`${bin.toLowerCase()}-`));
}
