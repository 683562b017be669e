#!/usr/bin/env node
/**
 * `npm run package:agent`: the self-contained agent for each OS.
 *
 * Bundles agent/cli.ts and everything it imports (policies/, node-cron, jose, commander, ...)
 * into ONE ES module with esbuild: no node_modules, no native addons, no npm at run time; only
 * Node.js 20+ is needed (bundled beside it with --with-node, or the machine's). Then lays out a
 * tarball per OS with the launcher, the service definition and the install/uninstall scripts:
 *
 *   dist-agent/aigate-agent-<version>-linux.tar.gz    install.sh + systemd unit
 *   dist-agent/aigate-agent-<version>-darwin.tar.gz   install.sh + LaunchDaemon plist + pkg/ (pkgbuild payload scripts)
 *   dist-agent/aigate-agent-<version>-windows.tar.gz  install.ps1 + WinSW service definition
 *
 * Options: --out DIR (default dist-agent), --os linux,darwin,windows, --with-node (copy this
 * machine's node binary into the tarball of its own OS), --winsw FILE (WinSW 2.x executable to
 * ship as service/aigate-agent-service.exe in the Windows tarball).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import * as esbuild from 'esbuild';

import { agentBundleOptions } from './bundle-options.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OSES = ['linux', 'darwin', 'windows'];

function fail(message) {
  process.stderr.write(`package-agent: ${message}\n`);
  process.exit(2);
}

let flags;
try {
  flags = parseArgs({
    options: {
      out: { type: 'string', default: 'dist-agent' },
      os: { type: 'string', default: OSES.join(',') },
      'with-node': { type: 'boolean', default: false },
      winsw: { type: 'string' },
    },
  }).values;
} catch (error) {
  fail(error.message);
}
const oses = flags.os.split(',').map((os) => os.trim());
for (const os of oses) if (!OSES.includes(os)) fail(`--os: "${os}" is not one of ${OSES.join(', ')}`);
if (flags.winsw !== undefined && !existsSync(flags.winsw)) fail(`--winsw ${flags.winsw} does not exist`);

const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const out = resolve(ROOT, flags.out);
const work = join(out, 'work');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

// --- The bundle ------------------------------------------------------------------------------
const bundle = join(work, 'aigate-agent.mjs');
const result = await esbuild.build({
  ...agentBundleOptions(version),
  entryPoints: [join(ROOT, 'agent/cli.ts')],
  outfile: bundle,
  legalComments: 'eof',
  metafile: true,
  logLevel: 'warning',
});
const native = Object.keys(result.metafile.inputs).filter((input) => input.endsWith('.node'));
if (native.length > 0) fail(`the agent bundle would need native addons: ${native.join(', ')}`);
const bundleBytes = readFileSync(bundle).length;

// --- One tarball per OS ------------------------------------------------------------------------
const installer = (...parts) => join(ROOT, 'installer', ...parts);
const layouts = {
  linux: [
    ['posix/aigate-agent', 'bin/aigate-agent', 0o755],
    ['posix/install.sh', 'install.sh', 0o755],
    ['posix/uninstall.sh', 'uninstall.sh', 0o755],
    ['linux/aigate-agent.service', 'service/aigate-agent.service', 0o644],
  ],
  darwin: [
    ['posix/aigate-agent', 'bin/aigate-agent', 0o755],
    ['posix/install.sh', 'install.sh', 0o755],
    ['posix/uninstall.sh', 'uninstall.sh', 0o755],
    ['macos/com.aigate.agent.plist', 'service/com.aigate.agent.plist', 0o644],
    ['macos/build-pkg.sh', 'pkg/build-pkg.sh', 0o755],
    ['macos/pkg/scripts/preinstall', 'pkg/scripts/preinstall', 0o755],
    ['macos/pkg/scripts/postinstall', 'pkg/scripts/postinstall', 0o755],
  ],
  windows: [
    ['windows/aigate-agent.cmd', 'bin/aigate-agent.cmd', 0o644],
    ['windows/install.ps1', 'install.ps1', 0o644],
    ['windows/uninstall.ps1', 'uninstall.ps1', 0o644],
    ['windows/aigate-agent-service.xml', 'service/aigate-agent-service.xml', 0o644],
  ],
};
const hostOs = process.platform === 'win32' ? 'windows' : process.platform;

const built = [];
for (const os of oses) {
  const name = `aigate-agent-${version}-${os}`;
  const stage = join(work, name);
  mkdirSync(join(stage, 'lib'), { recursive: true });
  copyFileSync(bundle, join(stage, 'lib/aigate-agent.mjs'));
  writeFileSync(join(stage, 'VERSION'), `${version}\n`);
  copyFileSync(installer('README.md'), join(stage, 'README.md'));
  for (const [from, to, mode] of layouts[os]) {
    mkdirSync(dirname(join(stage, to)), { recursive: true });
    copyFileSync(installer(from), join(stage, to));
    chmodSync(join(stage, to), mode);
  }
  if (os === 'windows') {
    if (flags.winsw) copyFileSync(flags.winsw, join(stage, 'service/aigate-agent-service.exe'));
    else
      writeFileSync(
        join(stage, 'service/WINSW.txt'),
        'Put WinSW 2.x (https://github.com/winsw/winsw/releases, WinSW-x64.exe) here as aigate-agent-service.exe\nbefore running install.ps1, or build this tarball with: npm run package:agent -- --winsw FILE\n',
      );
  }
  if (flags['with-node'] && os === hostOs) {
    const nodeDir = join(stage, 'node', os === 'windows' ? '' : 'bin');
    mkdirSync(nodeDir, { recursive: true });
    copyFileSync(process.execPath, join(nodeDir, os === 'windows' ? 'node.exe' : 'node'));
    chmodSync(join(nodeDir, os === 'windows' ? 'node.exe' : 'node'), 0o755);
  }
  const tarball = join(out, `${name}.tar.gz`);
  execFileSync('tar', ['-czf', tarball, '-C', work, name]);
  built.push(tarball);
}

process.stdout.write(
  `agent bundle: ${(bundleBytes / 1024).toFixed(0)} KiB, one file, no native addons (version ${version})\n`,
);
for (const tarball of built) process.stdout.write(`  ${tarball}\n`);
// Keep the unpacked layouts for inspection; the tarballs are what gets shipped.
cpSync(bundle, join(out, 'aigate-agent.mjs'));
