/**
 * The scan's shortcuts find what the long way found: the one case-insensitive pass that decides
 * whether a manifest is worth parsing (scanners/npm.ts worthParsing), and folder listings read in
 * one call or in bounded steps (fs.ts list). The layouts are small on-disk trees; the tools'
 * manifests are written as a user could edit them.
 */
import { afterAll, describe, expect, it } from 'vitest';

import { ScanFs } from '../../../agent/inventory/fs.js';
import { scanMachine } from '../../../agent/inventory/index.js';
import { cleanup, scratch } from './fixtures.js';

afterAll(cleanup);

describe('which manifests are parsed', () => {
  const t = scratch('aigate-shortcuts-');
  const modules = 'home/alice/.npm-global/lib/node_modules';
  // "@Kilocode/cli" written with the Kelvin sign (U+212A), which lower-cases to an ASCII "k".
  t.json(`${modules}/helper/package.json`, {
    name: '@\u212Ailocode/cli',
    version: '1.0.0',
    bin: { kilocode: 'cli.js' },
  });
  // A homepage in capitals, beside a dotted capital I (U+0130) that lower-cases to "i" + a dot.
  t.json(`${modules}/helper2/package.json`, {
    name: 'y',
    version: '2.0.0',
    description: '\u0130',
    homepage: 'https://AMPCODE.com',
    bin: { amp: 'a.js' },
  });
  // An AI SDK among the dependencies, and one that only looks like one (a key in another case).
  t.json(`${modules}/sdk-user/package.json`, { name: 'sdk-user', version: '3.0.0', dependencies: { openai: '^4' } });
  t.json(`${modules}/not-sdk/package.json`, { name: 'not-sdk', version: '3.0.0', dependencies: { OpenAI: '^4' } });
  t.json(`${modules}/plain/package.json`, { name: 'plain', version: '0.1.0', dependencies: { chalk: '^5' } });

  it('finds tools whose manifests need Unicode lower-casing or ignore case, and SDK users', async () => {
    const result = await scanMachine({ homes: [t.path('home/alice')], paths: [], detectRunning: false });
    const found = result.instances.map((i) => [i.toolId, i.installPath.split('/').pop(), i.version]);
    expect(found).toEqual([
      ['amp', 'helper2', '2.0.0'],
      ['kilo-cli', 'helper', '1.0.0'],
      ['unknown:npm:sdk-user', 'sdk-user', '3.0.0'],
    ]);
    expect(result.skipped).toEqual([]);
  });
});

describe('folder listings', () => {
  const t = scratch('aigate-shortcuts-list-');
  for (let i = 0; i < 40; i++) t.json(`many/pkg-${i}/package.json`, { name: `pkg-${i}` });
  t.file('many/README', 'x');
  t.link('many/link', 'many/pkg-0');

  it('gives every entry with its type, whether read in one call or in steps, and cuts at the limit', () => {
    const skips: [string, string][] = [];
    const log = { add: (path: string, reason: string) => skips.push([path, reason]) };
    const whole = new ScanFs(log, 20_000).list(t.path('many'));
    const cut = new ScanFs(log, 10).list(t.path('many'));
    const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : 1);
    expect(whole).toHaveLength(42);
    expect(whole!.find((e) => e.name === 'README')).toEqual({
      name: 'README',
      isDirectory: false,
      isSymbolicLink: false,
      isFile: true,
    });
    expect(whole!.find((e) => e.name === 'link')).toMatchObject({ isSymbolicLink: true, isDirectory: false });
    expect(whole!.filter((e) => e.isDirectory)).toHaveLength(40);
    expect(cut).toHaveLength(10);
    expect([...cut!].sort(byName)).toEqual(whole!.filter((e) => cut!.some((c) => c.name === e.name)).sort(byName));
    expect(skips).toEqual([[t.path('many'), 'more than 10 entries; read the first 10']]);
    // A missing folder is quiet; a file where a folder was expected too.
    expect(new ScanFs(log, 10).list(t.path('missing/deeper'))).toBeNull();
    expect(new ScanFs(log, 10).list(t.path('many/README'))).toBeNull();
    expect(skips).toHaveLength(1);
  });
});
