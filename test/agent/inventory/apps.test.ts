/** Desktop apps: macOS bundles (XML and binary Info.plist), Windows program folders, Linux packages. */
import { realpathSync } from 'node:fs';

import { afterAll, describe, expect, it } from 'vitest';

import { scanMachine } from '../../../agent/inventory/index.js';
import { cleanup, find, scratch, summary } from './fixtures.js';

afterAll(cleanup);

const quiet = { detectRunning: false, paths: [] as string[] };
const passwd = () => `admin:x:${process.getuid?.() ?? 0}:0::/var/empty:/bin/sh\n`;

/** plistlib.dumps(..., fmt=FMT_BINARY) of Warp's keys, a UTF-16 string, ints, a real, data, an array. */
const WARP_BPLIST =
  'YnBsaXN0MDDcAQIDBAUGBwgJCgsMDQ4PEBESERcYGRobU0JpZ18QFUNGQnVuZGxlR2V0SW5mb1N0cmluZ18QEkNGQnVuZGxlSWRlbnRpZmllclxDRkJ1bmRsZU5hbWVfEBpDRkJ1bmRsZVNob3J0VmVyc2lvblN0cmluZ18QEENGQnVuZGxlVVJMVHlwZXNfEA9DRkJ1bmRsZVZlcnNpb25VQ291bnRUSWNvbltMU1VJRWxlbWVudF8QF05TSGlnaFJlc29sdXRpb25DYXBhYmxlVVJhdGlvEwAAAQAAAAAAbxAbAFcAYQByAHAAICAUACAAdABoAGUAIABhAGcAZQBuAHQAaQBjACAAdABlAHIAbQBpAG4AYQBsXxAUZGV2LndhcnAuV2FycC1TdGFibGVUV2FycF8QHDAuMjAyNi4wNi4xNy4wOS40OS5zdGFibGVfMDKhE9EUFV8QEkNGQnVuZGxlVVJMU2NoZW1lc6EWVHdhcnAQKkIAAQgJIz/gAAAAAAAAAAgAIQAlAD0AUgBfAHwAjwChAKcArAC4ANIA2ADhARoBMQE2AVUBVwFaAW8BcQF2AXgBewF8AX0AAAAAAAACAQAAAAAAAAAcAAAAAAAAAAAAAAAAAAABhg==';

export const xmlPlist = (id: string, version: string, extra = '') =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<plist version="1.0">\n<dict>\n\t<key>CFBundleIdentifier</key>\n\t<string>${id}</string>\n\t<key>CFBundleShortVersionString</key>\n\t<string>${version}</string>\n\t<key>CFBundleVersion</key>\n\t<string>${version}.1</string>\n\t<key>LSRequiresNativeExecution</key>\n\t<true/>\n${extra}</dict>\n</plist>\n`;

describe('macOS app bundles', () => {
  const t = scratch();
  t.file('etc/passwd', passwd());
  t.file(
    'Applications/Cursor.app/Contents/Info.plist',
    xmlPlist(
      'com.todesktop.230313mzl4w4u92',
      '1.2.3',
      '\t<key>CFBundleName</key>\n\t<string>Cursor &amp; friends</string>\n',
    ),
  );
  t.file('Applications/Warp.app/Contents/Info.plist', Buffer.from(WARP_BPLIST, 'base64'));
  // Renamed bundle, still found by its identifier.
  t.file('Applications/My Windsurf.app/Contents/Info.plist', xmlPlist('com.exafunction.windsurf', '1.9577.24'));
  t.file('Applications/Safari.app/Contents/Info.plist', xmlPlist('com.apple.Safari', '18.0'));
  t.file('Applications/Claude.app/Contents/Info.plist', xmlPlist('com.anthropic.claudefordesktop', '0.12.0'));
  t.file(
    'Applications/Kiro.app/Contents/Info.plist',
    '<plist><dict><key>CFBundleIdentifier</key><string>dev.kiro.desktop</string>',
  );
  t.file('Users/mo/Applications/Goose.app/Contents/Info.plist', xmlPlist('com.block.goose', '1.9.0'));

  it('matches by bundle id or name and reads the version from XML and binary plists', async () => {
    const result = await scanMachine({ root: t.root, platform: 'darwin', ...quiet });
    expect(summary(result.instances)).toEqual([
      'cursor 1.2.3 app-bundle admin',
      'goose 1.9.0 app-bundle mo',
      'kiro-ide null app-bundle admin',
      'warp 0.2026.06.17.09.49.stable_02 app-bundle admin',
      'windsurf 1.9577.24 app-bundle admin',
    ]);
    expect(find(result.instances, 'cursor')).toMatchObject({
      installPath: realpathSync(t.path('Applications/Cursor.app')),
      evidence: [t.path('Applications/Cursor.app/Contents/Info.plist')],
      launchers: [],
    });
    expect(find(result.instances, 'kiro-ide').versionError).toMatch(/^Info\.plist: malformed plist/);
    expect(result.skipped).toEqual([
      { path: t.path('Applications/Kiro.app/Contents/Info.plist'), reason: expect.stringMatching(/^malformed plist/) },
    ]);
    expect(result.users).toEqual(['mo']);
  });

  it('leaves macOS locations alone when scanning for another platform', async () => {
    expect((await scanMachine({ root: t.root, platform: 'linux', ...quiet })).instances).toEqual([]);
  });
});

describe('Windows program folders', () => {
  const t = scratch();
  t.dir('Users/bob');
  t.json('Users/bob/AppData/Local/Programs/cursor/resources/app/package.json', { name: 'cursor', version: '1.2.3' });
  t.file('Users/bob/AppData/Local/Programs/cursor/Cursor.exe', 'MZ');
  t.json('Users/bob/AppData/Local/Programs/Windsurf/resources/app/product.json', {
    nameShort: 'Windsurf',
    windsurfVersion: '1.9577.24',
  });
  t.json('Users/bob/AppData/Local/Programs/Windsurf/resources/app/package.json', { version: '1.99.3' });
  t.dir('Users/bob/AppData/Local/Programs/Trae-CN');
  t.json('Program Files/Cursor/resources/app/package.json', { version: '1.1.0' });
  t.dir('Users/Public/AppData/Local/Programs/cursor');
  t.file('Users/desktop.ini', '');

  it('finds per-user and system installs, case-insensitively, with Electron versions', async () => {
    const result = await scanMachine({ root: t.root, platform: 'windows', ...quiet });
    expect(result.users).toEqual(['bob']);
    expect(summary(result.instances)).toEqual([
      'cursor 1.1.0 windows-program -',
      'cursor 1.2.3 windows-program bob',
      'trae null windows-program bob',
      'windsurf 1.9577.24 windows-program bob',
    ]);
    expect(find(result.instances, 'trae').versionError).toBe('no resources/app/package.json or product.json version');
    expect(find(result.instances, 'windsurf').evidence).toEqual([
      t.path('Users/bob/AppData/Local/Programs/Windsurf/resources/app/product.json'),
    ]);
  });
});

describe('Linux packages', () => {
  const t = scratch();
  t.file('etc/passwd', passwd());
  t.file(
    'var/lib/dpkg/status',
    [
      'Package: claude-code\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.1.168\nDescription: Claude Code',
      'Package: warp-terminal\nStatus: deinstall ok config-files\nVersion: 0.2026.06.17.09.49.stable_02',
      'Package: crush\nStatus: install ok installed\nVersion: 0.7.1-1',
      'Package: coreutils\nStatus: install ok installed\nVersion: 9.4-3',
    ].join('\n\n') + '\n',
  );
  t.file('var/lib/dpkg/info/claude-code.list', '/.\n/usr\n/usr/bin\n/usr/bin/claude\n/usr/share/doc/claude-code\n');
  t.file('usr/bin/claude', 'ELF', 0o755);
  t.file('var/lib/dpkg/info/crush:amd64.list', '/usr/bin/crush\n/opt/charm/crush/crush\n');
  t.file('opt/charm/crush/crush', 'ELF', 0o755);
  t.link('usr/bin/crush', 'opt/charm/crush/crush');
  t.json('usr/share/cursor/resources/app/package.json', { version: '1.2.4' });

  it("reads dpkg status and file lists, and the catalog's Linux app folders", async () => {
    const result = await scanMachine({ root: t.root, platform: 'linux', ...quiet });
    expect(summary(result.instances)).toEqual([
      'claude-code 2.1.168 linux-package admin',
      'crush 0.7.1-1 linux-package admin',
      'cursor 1.2.4 linux-package admin',
    ]);
    expect(find(result.instances, 'claude-code')).toMatchObject({
      installPath: t.path('usr/bin/claude'),
      launchers: [t.path('usr/bin/claude')],
    });
    expect(find(result.instances, 'crush')).toMatchObject({
      installPath: t.path('opt/charm'),
      launchers: [t.path('usr/bin/crush')],
    });
  });
});
