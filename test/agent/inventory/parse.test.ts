/** The pure parsers: bytes or text found on disk in, data out. Table-driven. */
import { describe, expect, it } from 'vitest';

import { isPersonAccount, parsePasswd } from '../../../agent/host/users.js';
import { npmAiSdks, pypiAiSdks } from '../../../agent/inventory/ai-sdks.js';
import { parsePluginXml } from '../../../agent/inventory/parse/jetbrains.js';
import {
  npmPackageOf,
  parseNativeVersionEntry,
  shimPackages,
  shimRunsPackage,
} from '../../../agent/inventory/parse/layouts.js';
import { isPackageName, parsePackageJson } from '../../../agent/inventory/parse/package-json.js';
import { bundleInfo, parseBinaryPlist, parsePlist, parseXmlPlist } from '../../../agent/inventory/parse/plist.js';
import {
  parseDistInfoDirName,
  parseMetadata,
  parsePipxMetadata,
  parseRecord,
  parseRequirement,
  parseUvReceipt,
  recordScripts,
} from '../../../agent/inventory/parse/python.js';
import {
  parseApkInstalled,
  parseDpkgStatus,
  parseNpmrcPath,
  parseNpmrcPrefix,
} from '../../../agent/inventory/parse/system.js';
import { decodeText } from '../../../agent/inventory/parse/text.js';
import { checkVersion } from '../../../agent/inventory/parse/version.js';
import { parseExtensionFolderName, parseExtensionsJson, parseObsolete } from '../../../agent/inventory/parse/vscode.js';
import { findCentralDirectory, localDataOffset, parseCentralDirectory } from '../../../agent/inventory/parse/zip.js';
import { zip } from './fixtures.js';

describe('decodeText', () => {
  it.each([
    ['UTF-8', Buffer.from('{"v":"é"}'), '{"v":"é"}'],
    ['UTF-8 with BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"v":1}')]), '{"v":1}'],
    [
      'UTF-16 LE with BOM',
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"v":"é"}', 'utf16le')]),
      '{"v":"é"}',
    ],
    [
      'UTF-16 BE with BOM',
      Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from('{"v":1}', 'utf16le').swap16()]),
      '{"v":1}',
    ],
    ['Latin-1 bytes (invalid UTF-8)', Buffer.from([0x7b, 0xe9, 0x7d]), '{\uFFFD}'],
  ])('%s', (_name, bytes, text) => {
    expect(decodeText(bytes)).toBe(text);
  });
});

describe('checkVersion', () => {
  it.each([
    ['1.2.3', { version: '1.2.3' }],
    ['  2.1.50\n', { version: '2.1.50' }],
    ['0.2026.06.17.09.49.stable_02', { version: '0.2026.06.17.09.49.stable_02' }],
    [123, { version: null, error: 'x version is not a string' }],
    ['', { version: null, error: 'x version is empty' }],
    ['1.0 beta', { version: null, error: 'x version is not a plain version string' }],
    ['1'.repeat(101), { version: null, error: 'x version is not a plain version string' }],
    [undefined, { version: null, error: 'x has no version' }],
  ])('%j', (input, expected) => {
    expect(checkVersion(input, 'x')).toEqual(expected);
  });
});

describe('parsePackageJson', () => {
  it('reads name, version, bins, runtime dependencies and source URLs', () => {
    const parsed = parsePackageJson(
      '\uFEFF{"name":"@openai/codex","version":"0.149.1","repository":{"type":"git","url":"git+https://github.com/openai/codex.git"},"homepage":7,"bin":{"codex":"bin/codex.js","../evil":"x"},"dependencies":{"openai":"^4"},"optionalDependencies":{"@openai/codex-linux-x64":"npm:@openai/codex@0.149.1-linux-x64"},"devDependencies":{"vitest":"1"}}',
    );
    expect(parsed).toEqual({
      ok: true,
      value: {
        name: '@openai/codex',
        version: { version: '0.149.1' },
        bin: { codex: 'bin/codex.js' },
        dependencies: { openai: '^4', '@openai/codex-linux-x64': 'npm:@openai/codex@0.149.1-linux-x64' },
        urls: ['git+https://github.com/openai/codex.git'],
      },
    });
  });
  it.each([
    [
      'a string bin is named after the package without scope',
      '{"name":"@scope/tool","version":"1.0.0","bin":"cli.js"}',
      { tool: 'cli.js' },
    ],
    ['no bin', '{"name":"x","version":"1.0.0"}', {}],
  ])('%s', (_n, text, bin) => {
    const parsed = parsePackageJson(text);
    expect(parsed.ok && parsed.value.bin).toEqual(bin);
  });
  it.each([
    ['{"name": "x", "version": ', /^malformed JSON/],
    ['[1,2]', /^package.json is not an object$/],
    ['null', /^package.json is not an object$/],
  ])('rejects %j', (text, error) => {
    const parsed = parsePackageJson(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(error);
  });
  it('keeps a package whose version is wrong, with the reason', () => {
    const parsed = parsePackageJson('{"name":"x","version":{"major":1}}');
    expect(parsed.ok && parsed.value.version).toEqual({ version: null, error: 'package.json version is not a string' });
  });
  it.each([
    ['claude', true],
    ['@anthropic-ai/claude-code', true],
    ['../etc', false],
    ['@scope/../x', false],
    ['', false],
  ])('isPackageName(%j) = %s', (name, ok) => expect(isPackageName(name)).toBe(ok));
});

describe('AI SDK detection', () => {
  it.each([
    [['@anthropic-ai/sdk', 'chalk'], ['@anthropic-ai/sdk']],
    [
      ['openai', 'ai', '@ai-sdk/anthropic', '@modelcontextprotocol/sdk'],
      ['@ai-sdk/anthropic', '@modelcontextprotocol/sdk', 'ai', 'openai'],
    ],
    [
      ['@google/genai', '@google/generative-ai', '@anthropic-ai/claude-agent-sdk'],
      ['@anthropic-ai/claude-agent-sdk', '@google/genai', '@google/generative-ai'],
    ],
    [['openai-like', 'aide', 'claude-helper', '@openai-compat/x'], []],
  ])('npm %j', (deps, found) => expect(npmAiSdks(deps)).toEqual(found));
  it.each([
    [['Anthropic', 'rich'], ['anthropic']],
    [
      ['LiteLLM', 'google_genai', 'langchain-openai'],
      ['google-genai', 'langchain-openai', 'litellm'],
    ],
    [['requests', 'openai-whisper-cli'], []],
  ])('pypi %j', (reqs, found) => expect(pypiAiSdks(reqs)).toEqual(found));
});

describe('Python packaging files', () => {
  it.each([
    ['aider_chat-0.86.1.dist-info', { name: 'aider-chat', version: '0.86.1', kind: 'dist-info' }],
    ['kimi_cli-0.66.0.dist-info', { name: 'kimi-cli', version: '0.66.0', kind: 'dist-info' }],
    ['Some.Pkg-1.0rc1.dist-info', { name: 'some-pkg', version: '1.0rc1', kind: 'dist-info' }],
    ['foo-1.2-py3.11.egg-info', { name: 'foo', version: '1.2', kind: 'egg-info' }],
    ['aider', null],
    ['__pycache__', null],
  ])('parseDistInfoDirName(%j)', (name, expected) => expect(parseDistInfoDirName(name)).toEqual(expected));

  it('reads METADATA headers up to the body, with continuation lines and conditional requirements', () => {
    const meta = parseMetadata(
      'Metadata-Version: 2.1\r\nName: Aider_Chat\r\nVersion: 0.86.1\r\nSummary: a\r\n  continued\r\nRequires-Dist: litellm>=1.0\r\nRequires-Dist: openai ; extra == "x"\r\nRequires-Dist: rich (>=13)\r\n\r\nVersion: 9.9.9\r\nRequires-Dist: anthropic\r\n',
    );
    expect(meta).toEqual({ name: 'aider-chat', version: { version: '0.86.1' }, requires: ['litellm', 'rich'] });
    expect(parseMetadata('garbage without headers')).toEqual({
      name: null,
      version: { version: null, error: 'METADATA has no version' },
      requires: [],
    });
  });

  it.each([
    ['anthropic>=0.40', { name: 'anthropic', conditionalOnExtra: false }],
    ['openai; extra == "ai"', { name: 'openai', conditionalOnExtra: true }],
    ['typing_extensions; python_version < "3.11"', { name: 'typing-extensions', conditionalOnExtra: false }],
    ['>=1', null],
  ])('parseRequirement(%j)', (text, expected) => expect(parseRequirement(text)).toEqual(expected));

  it('reads RECORD, quoted paths included, and picks the scripts', () => {
    const paths = parseRecord(
      'aider/__init__.py,sha256=x,1\n"aider/a,b.py",sha256=y,2\n../../../bin/aider,sha256=z,3\n..\\..\\Scripts\\aider.exe,,\n',
    );
    expect(paths).toEqual(['aider/__init__.py', 'aider/a,b.py', '../../../bin/aider', '..\\..\\Scripts\\aider.exe']);
    expect(recordScripts(paths)).toEqual(['../../../bin/aider', '..\\..\\Scripts\\aider.exe']);
  });

  it('reads pipx_metadata.json', () => {
    const text = JSON.stringify({
      main_package: {
        package: 'Aider_Chat',
        package_version: '0.86.1',
        apps: ['aider', '../x'],
        app_paths: [{ __type__: 'Path', __Path__: '/v/bin/aider' }],
      },
    });
    expect(parsePipxMetadata(text)).toEqual({
      ok: true,
      value: { package: 'aider-chat', version: { version: '0.86.1' }, apps: ['aider'], appPaths: ['/v/bin/aider'] },
    });
    expect(parsePipxMetadata('{}')).toEqual({ ok: false, error: 'pipx_metadata.json has no main_package' });
  });

  it('reads uv-receipt.toml, with Windows paths in basic and literal strings', () => {
    const receipt = `[tool]\nrequirements = [\n  { name = "Aider-Chat", specifier = ">=0.80" },\n  { name = "pip" },\n]\nentrypoints = [\n  { name = "aider", install-path = "C:\\\\Users\\\\bob\\\\.local\\\\bin\\\\aider.exe", from = "aider-chat" },\n  { name = "x", install-path = 'C:\\Users\\bob\\x.exe' },\n]\n`;
    expect(parseUvReceipt(receipt)).toEqual({
      ok: true,
      value: {
        requirements: ['aider-chat', 'pip'],
        entrypoints: [
          { name: 'aider', installPath: 'C:\\Users\\bob\\.local\\bin\\aider.exe' },
          { name: 'x', installPath: 'C:\\Users\\bob\\x.exe' },
        ],
      },
    });
    expect(parseUvReceipt('not toml at all').ok).toBe(false);
  });
});

describe('VS Code extension records', () => {
  it.each([
    [
      'anthropic.claude-code-2.1.50-linux-x64',
      { id: 'anthropic.claude-code', version: '2.1.50', targetPlatform: 'linux-x64' },
    ],
    ['github.copilot-chat-0.30.0', { id: 'github.copilot-chat', version: '0.30.0', targetPlatform: null }],
    [
      'RooVeterinaryInc.roo-cline-3.31.1',
      { id: 'rooveterinaryinc.roo-cline', version: '3.31.1', targetPlatform: null },
    ],
    [
      'ms-python.python-2024.1.0-darwin-arm64',
      { id: 'ms-python.python', version: '2024.1.0', targetPlatform: 'darwin-arm64' },
    ],
    ['publisher.ext-1.0.0-beta.2', { id: 'publisher.ext', version: '1.0.0-beta.2', targetPlatform: null }],
    ['openai.chatgpt-0.4.0-universal', { id: 'openai.chatgpt', version: '0.4.0', targetPlatform: 'universal' }],
    ['.obsolete', null],
    ['extensions.json', null],
    ['noversion', null],
    ['publisher.name', null],
  ])('parseExtensionFolderName(%j)', (name, expected) => expect(parseExtensionFolderName(name)).toEqual(expected));

  it('reads .obsolete (only true entries) and extensions.json (relativeLocation, location.path, fsPath)', () => {
    const obsolete = parseObsolete('{"GitHub.copilot-1.0.0": true, "x.y-1.0.0": false}');
    expect(obsolete.ok && [...obsolete.value]).toEqual(['github.copilot-1.0.0']);
    expect(parseObsolete('[]')).toEqual({ ok: false, error: '.obsolete is not a JSON object' });
    const installed = parseExtensionsJson(
      JSON.stringify([
        {
          identifier: { id: 'Anthropic.claude-code' },
          version: '2.1.50',
          relativeLocation: 'anthropic.claude-code-2.1.50',
        },
        {
          identifier: { id: 'a.b' },
          version: '1.0.0',
          location: { path: '/home/u/.vscode/extensions/a.b-1.0.0', scheme: 'file' },
        },
        {
          identifier: { id: 'c.d' },
          version: '2.0.0',
          location: { fsPath: 'C:\\Users\\u\\.vscode\\extensions\\c.d-2.0.0' },
        },
        { identifier: { id: 'e.f' }, version: '3.0.0', location: { external: 'file:///home/u/x/e.f-3.0.0%20copy' } },
        { identifier: {} },
        'junk',
      ]),
    );
    expect(installed).toEqual({
      ok: true,
      value: [
        { id: 'anthropic.claude-code', version: '2.1.50', folder: 'anthropic.claude-code-2.1.50', location: null },
        { id: 'a.b', version: '1.0.0', folder: 'a.b-1.0.0', location: '/home/u/.vscode/extensions/a.b-1.0.0' },
        { id: 'c.d', version: '2.0.0', folder: 'c.d-2.0.0', location: 'C:\\Users\\u\\.vscode\\extensions\\c.d-2.0.0' },
        { id: 'e.f', version: '3.0.0', folder: 'e.f-3.0.0 copy', location: null },
      ],
    });
  });
});

describe('property lists', () => {
  it('reads XML with entities, CDATA, nested arrays and dicts, and self-closing values', () => {
    const xml = `<?xml version="1.0"?><!-- c --><plist version="1.0"><dict><key>CFBundleIdentifier</key><string>com.a&amp;b</string><key>CFBundleShortVersionString</key><string><![CDATA[1.2 <3>]]></string><key>N</key><integer>-4</integer><key>R</key><real>2.5</real><key>T</key><true/><key>E</key><string/><key>A</key><array><dict><key>k</key><false/></dict><array/></array><key>D</key><data>AAE=</data></dict></plist>`;
    expect(parseXmlPlist(xml)).toEqual({
      ok: true,
      value: {
        CFBundleIdentifier: 'com.a&b',
        CFBundleShortVersionString: '1.2 <3>',
        N: -4,
        R: 2.5,
        T: true,
        E: '',
        A: [{ k: false }, []],
        D: 'AAE=',
      },
    });
  });
  it.each([
    ['no plist element', '<dict></dict>', /no <plist> element/],
    ['unclosed dict', '<plist><dict><key>a</key><string>b</string>', /unclosed <dict>/],
    ['key without value', '<plist><dict><key>a</key></dict></plist>', /expected a value/],
    ['unknown element', '<plist><dict><key>a</key><foo>1</foo></dict></plist>', /unknown element <foo>/],
    ['bad integer', '<plist><integer>x</integer></plist>', /bad <integer>/],
    ['deep nesting', `<plist>${'<array>'.repeat(100)}${'</array>'.repeat(100)}</plist>`, /nested too deeply/],
  ])('rejects XML: %s', (_n, xml, error) => {
    const parsed = parseXmlPlist(xml);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(error);
  });

  // plistlib.dumps({'CFBundleIdentifier': 'dev.kiro.desktop', 'CFBundleShortVersionString': '0.2.13', 'L': [1, True, 'é']}, fmt=FMT_BINARY)
  const KIRO =
    'YnBsaXN0MDDTAQIDBAUGXxASQ0ZCdW5kbGVJZGVudGlmaWVyXxAaQ0ZCdW5kbGVTaG9ydFZlcnNpb25TdHJpbmdRTF8QEGRldi5raXJvLmRlc2t0b3BWMC4yLjEzowcICRABCWEA6QgPJEFDVl1hY2QAAAAAAAABAQAAAAAAAAAKAAAAAAAAAAAAAAAAAAAAZw==';
  it('reads binary plists', () => {
    const parsed = parsePlist(Buffer.from(KIRO, 'base64'));
    expect(parsed).toEqual({
      ok: true,
      value: { CFBundleIdentifier: 'dev.kiro.desktop', CFBundleShortVersionString: '0.2.13', L: [1, true, 'é'] },
    });
    expect(parsed.ok && bundleInfo(parsed.value)).toEqual({
      id: 'dev.kiro.desktop',
      shortVersion: '0.2.13',
      version: null,
      name: null,
      executable: null,
    });
  });
  it.each([
    ['truncated', /not a bplist00 file/, (b: Buffer) => b.subarray(0, 30)],
    ['offset table pointing outside', /integer too large/, (b: Buffer) => Buffer.from(b).fill(0xff, b.length - 8)],
    ['bad magic', /not a bplist00 file/, (b: Buffer) => Buffer.concat([Buffer.from('bplist01'), b.subarray(8)])],
    [
      'object cycle',
      /object cycle/,
      (b: Buffer) => {
        // Point the array's first element reference back at the top dictionary (object 0).
        const c = Buffer.from(b);
        const arrayAt = c.indexOf(Buffer.from([0xa3, 0x07, 0x08, 0x09]));
        c[arrayAt + 1] = 0x00;
        return c;
      },
    ],
  ])('rejects a damaged binary plist: %s', (_n, error, damage) => {
    const parsed = parseBinaryPlist(damage(Buffer.from(KIRO, 'base64')));
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(error);
  });
});

describe('plugin.xml', () => {
  it('takes top-level id, name and version, not nested or CDATA ones', () => {
    const xml = `<idea-plugin><!-- <version>0</version> --><id>com.github.copilot</id><name>GitHub &amp; Copilot</name><change-notes><![CDATA[<version>9</version>]]></change-notes><extensions><version>8</version></extensions><version>1.5.40-243</version></idea-plugin>`;
    expect(parsePluginXml(xml)).toEqual({ id: 'com.github.copilot', name: 'GitHub & Copilot', version: '1.5.40-243' });
    expect(parsePluginXml('<idea-plugin><name>Only a name</name></idea-plugin>')).toEqual({
      id: null,
      name: 'Only a name',
      version: null,
    });
    expect(parsePluginXml('<project/>')).toBeNull();
  });
});

describe('zip archives', () => {
  it.each([true, false])('finds and locates META-INF/plugin.xml (deflated: %s)', (deflate) => {
    const archive = zip({ 'a.txt': 'a', 'META-INF/plugin.xml': '<idea-plugin/>' }, deflate);
    const location = findCentralDirectory(archive, 0, archive.length);
    if (typeof location === 'string') throw new Error(location);
    const entries = parseCentralDirectory(archive.subarray(location.offset, location.offset + location.size));
    if (typeof entries === 'string') throw new Error(entries);
    expect(entries.map((e) => [e.name, e.method])).toEqual([
      ['a.txt', deflate ? 8 : 0],
      ['META-INF/plugin.xml', deflate ? 8 : 0],
    ]);
    const entry = entries[1]!;
    expect(localDataOffset(archive.subarray(entry.localHeaderOffset, entry.localHeaderOffset + 30), entry)).toBe(
      entry.localHeaderOffset + 30 + 'META-INF/plugin.xml'.length,
    );
  });
  it.each([
    [
      'not a zip',
      Buffer.from('hello world, definitely not an archive'),
      'not a zip archive (no end of central directory)',
    ],
    [
      'ZIP64 marker',
      (() => {
        const z = zip({ a: 'b' });
        z.writeUInt32LE(0xffffffff, z.length - 6);
        return z;
      })(),
      'ZIP64 archive (not supported)',
    ],
    [
      'central directory past the end',
      (() => {
        const z = zip({ a: 'b' });
        z.writeUInt32LE(z.length, z.length - 6);
        return z;
      })(),
      'central directory out of range',
    ],
  ])('reports %s', (_n, buf, error) => {
    expect(findCentralDirectory(buf, 0, buf.length)).toBe(error);
  });
});

describe('system files', () => {
  it('reads passwd and tells people from system accounts', () => {
    const entries = parsePasswd(
      'root:x:0:0:root:/root:/bin/bash\n# comment\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\nalice:x:1000:1000:Alice:/home/alice:/bin/zsh\nnobody:x:65534:65534::/nonexistent:/bin/sh\nbroken:line\nsvc:x:1001:1001::/srv/svc:/bin/false\n',
    );
    expect(entries.map((e) => [e.name, isPersonAccount(e)])).toEqual([
      ['root', true],
      ['daemon', false],
      ['alice', true],
      ['nobody', false],
      ['svc', false],
    ]);
  });
  it.each([
    ['prefix=/opt/npm\n', '/opt/npm'],
    ['; c\nprefix = "~/.npm-global"\n', '/home/u/.npm-global'],
    ['prefix=${HOME}/x\n', '/home/u/x'],
    ['prefix=${NPM_HOME}/x\n', null],
    ['registry=https://r\n', null],
    ['prefix=/a\nprefix=/b\n', '/b'],
  ])('parseNpmrcPrefix(%j)', (text, prefix) => expect(parseNpmrcPrefix(text, '/home/u')).toBe(prefix));
  it.each([
    ['cache=~/.npmc2\n', '/home/u/.npmc2'],
    ['prefix=~/g\ncache = "$HOME/c"\n', '/home/u/c'],
    ['cache-min=10\ncache-max=20\n', null],
    ['//registry.example/:_authToken=cache\n', null],
    ['prefix=~/g\n', null],
  ])('parseNpmrcPath(%j, cache)', (text, cache) => expect(parseNpmrcPath(text, '/home/u', 'cache')).toBe(cache));
  it('reads dpkg status (installed only) and apk installed', () => {
    const status =
      'Package: claude-code\nStatus: install ok installed\nVersion: 2.1.168\n\nPackage: crush\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: other\nStatus: install ok installed\nVersion: 2\n';
    expect(parseDpkgStatus(status, new Set(['claude-code', 'crush']))).toEqual([
      { name: 'claude-code', version: '2.1.168' },
    ]);
    expect(
      parseApkInstalled('C:Q1abc\nP:claude-code\nV:2.1.150-r0\nA:x86_64\n\nP:musl\nV:1.2\n', new Set(['claude-code'])),
    ).toEqual([{ name: 'claude-code', version: '2.1.150-r0' }]);
  });
});

describe('layouts', () => {
  it.each([
    ['2.1.50', '2.1.50'],
    ['2026.08.04-aaa8809', '2026.08.04-aaa8809'],
    ['0.153.4-x86_64-unknown-linux-musl', '0.153.4'],
    ['0.160.0-alpha.1-aarch64-apple-darwin', '0.160.0-alpha.1'],
    ['2.1.41.exe', '2.1.41'],
    ['2.1.51.tmp', null],
    ['current', null],
    ['.DS_Store', null],
    ['7', null],
  ])('parseNativeVersionEntry(%j)', (name, version) => expect(parseNativeVersionEntry(name)).toBe(version));
  it.each([
    ['"%dp0%\\node_modules\\@anthropic-ai\\claude-code\\cli.js" %*', '@anthropic-ai/claude-code', true],
    ['exec node "$basedir/node_modules/@anthropic-ai/claude-code/cli.js" "$@"', '@anthropic-ai/claude-code', true],
    ['exec node "$basedir/node_modules/@anthropic-ai/claude-code-helper/cli.js"', '@anthropic-ai/claude-code', false],
    ['"%dp0%\\node_modules\\cline\\cli.js"', 'cline', true],
    ['exec node "$basedir/NODE_MODULES/@Anthropic-AI/Claude-Code/cli.js"', '@anthropic-ai/claude-code', true],
    ['node_modules/a/b/c/x.js', 'a/b', true],
    ['node_modules/a/b/c/x.js', 'a', true],
    ['node_modules/a/b/c/x.js', 'b', false],
    ['node_modules/node_modules/cline/x.js', 'cline', true],
    ['node_modules/cline', 'cline', false],
    ['see node_modules//x', '', true],
  ])('shimRunsPackage(%j, %s)', (text, pkg, expected) => {
    expect(shimRunsPackage(text, pkg)).toBe(expected);
    // What the memo keeps of a shim answers the same for every name of at most one slash.
    expect(shimPackages(text)?.includes(pkg.toLowerCase())).toBe(expected);
  });
  it('shimPackages gives up (null) past 64 names, and records no name longer than npm allows', () => {
    const many = Array.from({ length: 65 }, (_, i) => `node_modules/p${i}/x`).join(' ');
    expect(shimPackages(many)).toBeNull();
    expect(shimPackages(`node_modules/${'n'.repeat(215)}/x`)).toEqual([]);
    expect(shimPackages(`node_modules/${'n'.repeat(214)}/x`)).toEqual(['n'.repeat(214)]);
  });
  it.each([
    [
      '/p/lib/node_modules/@anthropic-ai/claude-code/cli.js',
      { dir: '/p/lib/node_modules/@anthropic-ai/claude-code', name: '@anthropic-ai/claude-code' },
    ],
    ['/p/lib/node_modules/a/node_modules/b/bin/x', { dir: '/p/lib/node_modules/a/node_modules/b', name: 'b' }],
    [
      'C:\\Users\\b\\AppData\\Roaming\\npm\\node_modules\\cline\\cli.js',
      { dir: 'C:\\Users\\b\\AppData\\Roaming\\npm\\node_modules\\cline', name: 'cline' },
    ],
    ['/usr/bin/claude', null],
    ['/x/node_modules', null],
  ])('npmPackageOf(%j)', (p, expected) => expect(npmPackageOf(p)).toEqual(expected));
});
