/**
 * End to end with the real npm: install a small real package into a temporary prefix (no install
 * scripts) and find it with its version and bin link. A test catalog names the package as an AI
 * tool, so the real catalog stays untouched.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';

import { afterAll, describe, expect, it } from 'vitest';

import { scanMachine } from '../../../agent/inventory/index.js';
import { builtinCatalog } from '../../../policies/catalog/index.js';
import type { Catalog } from '../../../policies/catalog/schema.js';
import { cleanup, scratch } from './fixtures.js';

afterAll(cleanup);

const PACKAGE = 'nanoid';
const VERSION = '5.0.7';

const catalog: Catalog = {
  ...builtinCatalog,
  tools: [
    ...builtinCatalog.tools,
    {
      id: 'tiny-ai',
      name: 'Tiny AI',
      vendor: 'example',
      vendorName: 'Example',
      category: 'cli',
      detect: { npm: [PACKAGE], binaries: [PACKAGE] },
    },
  ],
};

describe('a real npm global install', () => {
  it(`finds ${PACKAGE}@${VERSION} installed with npm install -g --prefix`, { timeout: 180_000 }, async () => {
    const t = scratch();
    const prefix = t.dir('prefix');
    execFileSync(
      'npm',
      [
        'install',
        '-g',
        '--prefix',
        prefix,
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        `${PACKAGE}@${VERSION}`,
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: 170_000,
        env: { ...process.env, npm_config_update_notifier: 'false' },
      },
    );
    const manifest = JSON.parse(readFileSync(t.path(`prefix/lib/node_modules/${PACKAGE}/package.json`), 'utf8')) as {
      version: string;
    };
    expect(manifest.version).toBe(VERSION);

    const result = await scanMachine({ homes: [], npmPrefixes: [prefix], paths: [], catalog, detectRunning: false });
    // The owner is whoever the password database says owns the files (not asserted: it varies by machine).
    expect(result.instances.map(({ owner: _owner, ...rest }) => rest)).toEqual([
      {
        toolId: 'tiny-ai',
        version: VERSION,
        channel: 'npm',
        installPath: realpathSync(t.path(`prefix/lib/node_modules/${PACKAGE}`)),
        launchers: [t.path(`prefix/bin/${PACKAGE}`)],
        evidence: [t.path(`prefix/lib/node_modules/${PACKAGE}/package.json`)],
      },
    ]);
    // Without the test catalog it is just a library: nothing to report.
    expect(
      (await scanMachine({ homes: [], npmPrefixes: [prefix], paths: [], detectRunning: false })).instances,
    ).toEqual([]);
  });
});
