/**
 * The agent bundle and the install scripts, on disk: `npm run package:agent` output, the
 * bundled agent running with no node_modules, install.sh into a temporary root (files, modes,
 * config, idempotence, upgrade), `systemd-analyze verify` on the unit, the macOS plist, and
 * uninstall.sh. The end-to-end install against a real server is in install-e2e.test.ts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parsePlist } from '../../agent/inventory/parse/plist.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const work = mkdtempSync(join(tmpdir(), 'aigate-installer-'));
const out = join(work, 'out');

afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    cwd: options.cwd ?? work,
    env: { ...process.env, ...options.env },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Unpacks the tarball of one OS into a fresh folder and returns the package folder. */
function unpack(os: string, into = mkdtempSync(join(work, `${os}-`))): string {
  execFileSync('tar', ['-xzf', join(out, `aigate-agent-${VERSION}-${os}.tar.gz`), '-C', into]);
  return join(into, `aigate-agent-${VERSION}-${os}`);
}

const mode = (path: string) => (statSync(path).mode & 0o7777).toString(8);

beforeAll(() => {
  const packaged = run(process.execPath, [join(ROOT, 'installer/package.mjs'), '--out', out]);
  expect(packaged.code, packaged.stderr).toBe(0);
}, 120_000);

describe('npm run package:agent', () => {
  it('builds one tarball per OS with the bundle, launcher, service files and scripts', () => {
    const listing = (os: string) =>
      execFileSync('tar', ['-tzf', join(out, `aigate-agent-${VERSION}-${os}.tar.gz`)], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean)
        .map((p) => p.replace(/^[^/]+\//, ''))
        .filter(Boolean)
        .sort();
    expect(listing('linux')).toEqual(
      expect.arrayContaining([
        'VERSION',
        'README.md',
        'bin/aigate-agent',
        'install.sh',
        'lib/aigate-agent.mjs',
        'service/aigate-agent.service',
        'uninstall.sh',
      ]),
    );
    expect(listing('darwin')).toEqual(
      expect.arrayContaining([
        'bin/aigate-agent',
        'install.sh',
        'uninstall.sh',
        'service/com.aigate.agent.plist',
        'pkg/build-pkg.sh',
        'pkg/scripts/postinstall',
        'pkg/scripts/preinstall',
      ]),
    );
    expect(listing('windows')).toEqual(
      expect.arrayContaining([
        'bin/aigate-agent.cmd',
        'install.ps1',
        'uninstall.ps1',
        'service/aigate-agent-service.xml',
        'lib/aigate-agent.mjs',
      ]),
    );
    for (const os of ['linux', 'darwin', 'windows'])
      expect(listing(os).some((p) => p.includes('node_modules'))).toBe(false);
  });

  it('the bundled agent runs with nothing beside it and knows its version', () => {
    const alone = mkdtempSync(join(work, 'alone-'));
    cpSync(join(out, 'aigate-agent.mjs'), join(alone, 'aigate-agent.mjs'));
    const version = run(process.execPath, [join(alone, 'aigate-agent.mjs'), '--version'], { cwd: alone });
    expect(version.stdout.trim()).toBe(VERSION);
    const home = join(alone, 'home');
    mkdirSync(home);
    const scan = run(
      process.execPath,
      [join(alone, 'aigate-agent.mjs'), 'scan', '--json', '--home', home, '--no-running'],
      { cwd: alone },
    );
    expect(scan.code, scan.stderr).toBe(0);
    expect(JSON.parse(scan.stdout)).toMatchObject({ instances: [] });
  });

  it('the launcher finds the bundle through a symlink', () => {
    const pkg = unpack('linux');
    const link = join(work, 'linked-aigate-agent');
    rmSync(link, { force: true });
    execFileSync('ln', ['-s', join(pkg, 'bin/aigate-agent'), link]);
    expect(run(link, ['--version']).stdout.trim()).toBe(VERSION);
  });

  it('refuses an unknown OS', () => {
    const refused = run(process.execPath, [
      join(ROOT, 'installer/package.mjs'),
      '--out',
      join(work, 'never'),
      '--os',
      'beos',
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/"beos" is not one of linux, darwin, windows/);
  });
});

describe('install.sh into a temporary root (Linux)', () => {
  const root = join(work, 'root-linux');
  let pkg: string;
  beforeAll(() => {
    mkdirSync(root, { recursive: true });
    pkg = unpack('linux');
  });

  const install = (args: string[] = [], from = pkg) =>
    run(join(from, 'install.sh'), [
      '--server',
      'https://aigate.example.com',
      '--root',
      root,
      '--no-enroll',
      '--os',
      'linux',
      ...args,
    ]);

  it('lays out the release, the launcher on PATH, the state dir, the config and the unit', () => {
    const result = install();
    expect(result.code, result.stderr).toBe(0);
    const release = join(root, 'opt/aigate/releases', VERSION);
    expect(readlinkSync(join(root, 'opt/aigate/current'))).toBe(`releases/${VERSION}`);
    expect(readlinkSync(join(root, 'usr/local/bin/aigate-agent'))).toBe('/opt/aigate/current/bin/aigate-agent');
    expect(mode(join(release, 'bin/aigate-agent'))).toBe('755');
    expect(mode(join(release, 'lib/aigate-agent.mjs'))).toBe('644');
    expect(mode(join(release, 'uninstall.sh'))).toBe('755');
    expect(mode(join(root, 'var/lib/aigate'))).toBe('755');
    expect(readFileSync(join(release, 'node-path'), 'utf8').trim()).toMatch(/node$/);
    const conf = readFileSync(join(root, 'etc/aigate/install.conf'), 'utf8');
    expect(conf).toContain('AIGATE_PREFIX=/opt/aigate\n');
    expect(conf).toContain('AIGATE_STATE_DIR=/var/lib/aigate\n');
    expect(conf).toContain('AIGATE_SERVER=https://aigate.example.com\n');
    expect(conf).toContain(`AIGATE_VERSION=${VERSION}\n`);
    const unit = readFileSync(join(root, 'etc/systemd/system/aigate-agent.service'), 'utf8');
    expect(mode(join(root, 'etc/systemd/system/aigate-agent.service'))).toBe('644');
    expect(unit).toContain('ExecStart=/opt/aigate/current/bin/aigate-agent run --state-dir /var/lib/aigate');
    expect(unit).not.toMatch(/@[A-Z_]+@/);
    expect(unit).not.toMatch(/^MemoryDenyWriteExecute=yes/m);
    // The installed launcher runs the installed bundle.
    expect(run(join(root, 'opt/aigate/current/bin/aigate-agent'), ['--version']).stdout.trim()).toBe(VERSION);
  });

  it('systemd-analyze verify accepts the unit, with no warnings', () => {
    // verify --root resolves ExecStart and the units it depends on inside the root.
    mkdirSync(join(root, 'usr/lib/systemd'), { recursive: true });
    cpSync('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true });
    const verify = run('systemd-analyze', ['verify', `--root=${root}`, 'aigate-agent.service']);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stderr.trim()).toBe('');
  });

  it('is idempotent: a second run changes nothing that matters', () => {
    const before = readFileSync(join(root, 'etc/systemd/system/aigate-agent.service'), 'utf8');
    const again = install();
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(join(root, 'etc/systemd/system/aigate-agent.service'), 'utf8')).toBe(before);
    expect(readlinkSync(join(root, 'opt/aigate/current'))).toBe(`releases/${VERSION}`);
  });

  it('upgrades over an older release and keeps it for a rollback', () => {
    const older = unpack('linux', mkdtempSync(join(work, 'older-')));
    writeFileSync(join(older, 'VERSION'), '0.0.9\n');
    expect(install([], older).code).toBe(0);
    expect(readlinkSync(join(root, 'opt/aigate/current'))).toBe('releases/0.0.9');
    expect(install().code).toBe(0);
    expect(readlinkSync(join(root, 'opt/aigate/current'))).toBe(`releases/${VERSION}`);
    expect(existsSync(join(root, 'opt/aigate/releases/0.0.9'))).toBe(true);
  });

  it.each([
    [['--prefix', 'relative/path'], /--prefix must be an absolute path/],
    [['--server', 'ftp://x'], /--server must be an http\(s\) URL/],
    [['--bogus'], /unknown option --bogus/],
    [['--os', 'plan9'], /--os must be linux or darwin/],
  ])('refuses %j with exit 2', (args, message) => {
    const refused = install(args);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(message);
  });

  it('will not install unenrolled without a secret (and says how)', () => {
    const fresh = mkdtempSync(join(work, 'root-fresh-'));
    const refused = run(join(pkg, 'install.sh'), [
      '--server',
      'https://aigate.example.com',
      '--root',
      fresh,
      '--os',
      'linux',
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/not enrolled yet: give --secret, --secret-file or AIGATE_ENROLL_SECRET/);
  });

  it('uninstall.sh removes the service and files, and keeps the state only when asked', () => {
    writeFileSync(join(root, 'var/lib/aigate/keep-me'), 'x');
    const removed = run(join(root, 'opt/aigate/current/uninstall.sh'), ['--root', root, '--keep-state']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(existsSync(join(root, 'opt/aigate'))).toBe(false);
    expect(existsSync(join(root, 'etc/systemd/system/aigate-agent.service'))).toBe(false);
    expect(existsSync(join(root, 'etc/aigate'))).toBe(false);
    expect(() => lstatSync(join(root, 'usr/local/bin/aigate-agent'))).toThrow();
    expect(existsSync(join(root, 'var/lib/aigate/keep-me'))).toBe(true);
  });
});

describe('install.sh into a temporary root (macOS layout)', () => {
  it('installs a LaunchDaemon plist that parses and names the installed agent', () => {
    const root = mkdtempSync(join(work, 'root-darwin-'));
    const pkg = unpack('darwin');
    const result = run(join(pkg, 'install.sh'), [
      '--server',
      'https://aigate.example.com',
      '--root',
      root,
      '--no-enroll',
      '--os',
      'darwin',
    ]);
    expect(result.code, result.stderr).toBe(0);
    const plistPath = join(root, 'Library/LaunchDaemons/com.aigate.agent.plist');
    expect(mode(plistPath)).toBe('644');
    const parsed = parsePlist(readFileSync(plistPath));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value).toMatchObject({
      Label: 'com.aigate.agent',
      ProgramArguments: [
        '/opt/aigate/current/bin/aigate-agent',
        'run',
        '--state-dir',
        '/Library/Application Support/aigate',
      ],
      RunAtLoad: true,
      KeepAlive: true,
      UserName: 'root',
    });
    expect(existsSync(join(root, 'opt/aigate/current/bin/aigate-agent'))).toBe(true);
    expect(existsSync(join(root, 'Library/Application Support/aigate'))).toBe(true);
    expect(readFileSync(join(root, 'etc/aigate/install.conf'), 'utf8')).toContain(
      'AIGATE_STATE_DIR=/Library/Application Support/aigate\n',
    );
  });
});
