/**
 * The version the server bins report: the package's. This file runs from server/cli/ (tsx)
 * or dist/server/cli/ (built), so package.json is two or three folders up.
 */
import { readFileSync } from 'node:fs';

function packageVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'aigate' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not at this depth
    }
  }
  return '0.0.0';
}

export const SERVER_VERSION = packageVersion();
