/**
 * The agent's version. The one-file bundle (installer/package.mjs) has it built in; from src
 * and dist it is the package's, found by walking up from this file.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'aigate' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here; keep walking up
    }
    dir = dirname(dir);
  }
  return '0.0.0';
}

/** Replaced by the bundler (esbuild `define`); undeclared everywhere else. */
declare const __AIGATE_AGENT_VERSION__: string | undefined;

export const AGENT_VERSION = typeof __AIGATE_AGENT_VERSION__ === 'string' ? __AIGATE_AGENT_VERSION__ : findVersion();
