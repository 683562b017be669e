/**
 * The README and package.json say Node 20: no installed package may require a newer Node (npm ci
 * would warn, e.g. cookie@2 and content-disposition@3 need Node 22; package.json overrides pin
 * versions with the same API that support Node 20).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import semver from 'semver';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

describe('Node engines', () => {
  it('every package in package-lock.json supports the oldest Node that package.json allows', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    const oldest = semver.minVersion(pkg.engines.node)!;
    expect(oldest.major).toBe(20);
    const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { engines?: { node?: string } | string[]; optional?: boolean; version?: string }>;
    };
    // The newest Node 20 release line: a package requiring ^20.x.y beyond it still counts as too new.
    const node20 = semver.coerce('20.19.0')!;
    const tooNew = Object.entries(lock.packages)
      .filter(
        ([name, entry]) =>
          name !== '' && !entry.optional && entry.engines && !Array.isArray(entry.engines) && entry.engines.node,
      )
      .filter(([, entry]) => !semver.satisfies(node20, (entry.engines as { node: string }).node))
      .map(([name, entry]) => `${name}@${entry.version} needs node ${(entry.engines as { node: string }).node}`);
    expect(tooNew).toEqual([]);
  });
});
