/**
 * Linux system installs: packages from the vendors' apt/apk repositories (dpkg's status
 * database with each package's file list, apk's installed database), and desktop apps unpacked
 * into the catalog's linuxPaths (/usr/share/cursor, /opt/cursor). RPM databases are binary
 * (SQLite/Berkeley DB) and are not read; such installs still show up through the PATH pass.
 */
import * as path from 'node:path';

import type { CatalogTool } from '../../../policies/catalog/schema.js';
import type { ToolInstance } from '../../../policies/inventory.js';
import type { ScanContext } from '../context.js';
import { versionFields } from '../instances.js';
import { type InstalledPackage, parseApkInstalled, parseDpkgStatus } from '../parse/system.js';
import { checkVersion } from '../parse/version.js';
import { electronVersion } from './windows-programs.js';

const BIN_DIRS = ['/usr/bin', '/usr/local/bin', '/bin', '/usr/sbin', '/usr/games'];

export async function scanLinuxPackages(ctx: ScanContext): Promise<ToolInstance[]> {
  if (ctx.platform !== 'linux' || !ctx.systemRoots) return [];
  const out: ToolInstance[] = [];
  const wanted = new Set(ctx.catalog.signatureValues('linuxPackages'));
  if (wanted.size) {
    const dpkgStatus = ctx.sys('var', 'lib', 'dpkg', 'status');
    const dpkg = ctx.fs.readText(dpkgStatus, ctx.limits.maxDatabaseBytes);
    if (dpkg !== null)
      for (const pkg of parseDpkgStatus(dpkg, wanted))
        out.push(systemPackage(ctx, pkg, dpkgStatus, dpkgFiles(ctx, pkg.name)));
    const apkInstalled = ctx.sys('lib', 'apk', 'db', 'installed');
    const apk = ctx.fs.readText(apkInstalled, ctx.limits.maxDatabaseBytes);
    if (apk !== null)
      for (const pkg of parseApkInstalled(apk, wanted)) out.push(systemPackage(ctx, pkg, apkInstalled, null));
  }
  await ctx.breathe();
  for (const tool of ctx.catalog.catalog.tools) {
    for (const dir of tool.detect.linuxPaths ?? []) {
      const abs = ctx.sys(...dir.split('/').filter(Boolean));
      const real = ctx.fs.realpath(abs);
      if (!real || !ctx.fs.isDirectory(real)) continue;
      const { version, evidence } = electronVersion(ctx, abs);
      out.push({
        toolId: tool.id,
        ...versionFields(version),
        channel: 'linux-package',
        installPath: real,
        launchers: [],
        owner: ctx.users.ownerOf(ctx.fs.stat(real)),
        evidence: [evidence ?? abs],
      });
    }
  }
  return out;
}

/** dpkg's record of the files a package installed (info/<pkg>.list or info/<pkg>:<arch>.list). */
function dpkgFiles(ctx: ScanContext, name: string): { list: string; files: string[] } | null {
  const info = ctx.sys('var', 'lib', 'dpkg', 'info');
  const candidates = [
    `${name}.list`,
    ...(ctx.fs.list(info) ?? []).map((e) => e.name).filter((n) => n.startsWith(`${name}:`) && n.endsWith('.list')),
  ];
  for (const candidate of candidates) {
    const list = path.join(info, candidate);
    const text = ctx.fs.readText(list, ctx.limits.maxDatabaseBytes);
    if (text !== null) return { list, files: text.split(/\r?\n/).filter((l) => l.startsWith('/')) };
  }
  return null;
}

function systemPackage(
  ctx: ScanContext,
  pkg: InstalledPackage,
  database: string,
  listing: { list: string; files: string[] } | null,
): ToolInstance {
  const tool = ctx.catalog.bySignature('linuxPackages', pkg.name) as CatalogTool;
  const files = listing?.files ?? [];
  const names = [...(tool.detect.binaries ?? []), ...(tool.detect.ambiguousBinaries ?? [])];
  const binFiles = files.length
    ? files.filter((f) => BIN_DIRS.includes(path.posix.dirname(f)))
    : BIN_DIRS.flatMap((d) => names.map((n) => `${d}/${n}`));
  const launchers = binFiles
    .map((f) => ctx.sys(...f.split('/').filter(Boolean)))
    .filter((f) => ctx.fs.lstat(f) !== null);
  return {
    toolId: tool.id,
    ...versionFields(checkVersion(pkg.version ?? undefined, 'package database')),
    channel: 'linux-package',
    installPath: installFolder(ctx, pkg.name, files, launchers) ?? listing?.list ?? database,
    launchers: launchers.sort(),
    owner: ctx.users.ownerOf(ctx.fs.stat(launchers[0] ?? database)),
    evidence: listing ? [database, listing.list] : [database],
  };
}

/**
 * Where the package's payload lives: its own folder under /opt, /usr/lib, /usr/libexec or
 * /usr/share when it has one, else the real file its first launcher runs.
 */
function installFolder(ctx: ScanContext, name: string, files: string[], launchers: string[]): string | null {
  for (const file of files) {
    const parts = file.split('/').filter(Boolean);
    let folder: string[] | null = null;
    if (parts[0] === 'opt' && parts.length >= 2) folder = parts.slice(0, 2);
    else if (parts[0] === 'usr' && ['lib', 'libexec', 'share'].includes(parts[1] ?? '') && parts[2] === name)
      folder = parts.slice(0, 3);
    if (!folder) continue;
    const real = ctx.fs.realpath(ctx.sys(...folder));
    if (real && ctx.fs.isDirectory(real)) return real;
  }
  for (const launcher of launchers) {
    const real = ctx.fs.realpath(launcher);
    if (real) return real;
  }
  return null;
}
