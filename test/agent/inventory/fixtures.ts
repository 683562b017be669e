/**
 * Builders for realistic install trees on disk: the real file names and manifests of each
 * channel, with symlinked bins like the installers make them. Every tree lives in its own
 * temporary folder, removed after the test file.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';

import type { ToolInstance } from '../../../policies/inventory.js';

export class Tree {
  constructor(readonly root: string) {}

  path(...parts: string[]): string {
    return join(this.root, ...parts.flatMap((p) => p.split('/')));
  }

  dir(rel: string): string {
    const p = this.path(rel);
    mkdirSync(p, { recursive: true });
    return p;
  }

  file(rel: string, content: string | Uint8Array = '', mode?: number): string {
    const p = this.path(rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
    if (mode !== undefined) chmodSync(p, mode);
    return p;
  }

  json(rel: string, value: unknown): string {
    return this.file(rel, `${JSON.stringify(value, null, 2)}\n`);
  }

  /** A relative symlink at `rel` pointing at `targetRel` (both relative to the tree), like npm makes. */
  link(rel: string, targetRel: string): string {
    const p = this.path(rel);
    mkdirSync(dirname(p), { recursive: true });
    symlinkSync(relative(dirname(p), this.path(targetRel)), p);
    return p;
  }

  /** A symlink with a literal target (absolute, dangling, looping...). */
  rawLink(rel: string, target: string): string {
    const p = this.path(rel);
    mkdirSync(dirname(p), { recursive: true });
    symlinkSync(target, p);
    return p;
  }
}

const trees: string[] = [];

export function scratch(prefix = 'aigate-inv-'): Tree {
  const root = mkdtempSync(join(tmpdir(), prefix));
  trees.push(root);
  return new Tree(root);
}

export function cleanup(): void {
  for (const root of trees.splice(0)) rmSync(root, { recursive: true, force: true });
}

export interface PackageSpec {
  version?: string;
  bin?: string | Record<string, string>;
  dependencies?: Record<string, string>;
  /** Raw package.json text instead of a generated one. */
  raw?: string | Uint8Array;
}

/** node_modules/<name> with package.json and its bin scripts. Returns the package folder. */
export function npmPackage(tree: Tree, modulesRel: string, name: string, spec: PackageSpec = {}): string {
  const dir = `${modulesRel}/${name}`;
  if (spec.raw !== undefined) tree.file(`${dir}/package.json`, spec.raw);
  else {
    const manifest: Record<string, unknown> = { name, version: spec.version ?? '1.0.0' };
    if (spec.bin !== undefined) manifest.bin = spec.bin;
    if (spec.dependencies) manifest.dependencies = spec.dependencies;
    tree.json(`${dir}/package.json`, manifest);
  }
  const bins = typeof spec.bin === 'string' ? { [name.replace(/^@[^/]+\//, '')]: spec.bin } : (spec.bin ?? {});
  for (const script of new Set(Object.values(bins))) tree.file(`${dir}/${script}`, '#!/usr/bin/env node\n', 0o755);
  return tree.path(dir);
}

/**
 * A Unix npm global install: <prefix>/lib/node_modules/<name> plus <prefix>/bin/<bin> symlinks.
 * Returns the package folder.
 */
export function npmGlobal(
  tree: Tree,
  prefixRel: string,
  name: string,
  spec: PackageSpec & { bin?: Record<string, string> } = {},
): string {
  const dir = npmPackage(tree, `${prefixRel}/lib/node_modules`, name, spec);
  for (const [bin, script] of Object.entries(spec.bin ?? {}))
    tree.link(`${prefixRel}/bin/${bin}`, `${prefixRel}/lib/node_modules/${name}/${script}`);
  return dir;
}

/**
 * A Windows npm global install: <prefix>\node_modules\<name> and the three cmd-shim files
 * (<bin>.cmd, <bin>.ps1 and the extensionless sh shim) beside node_modules.
 */
export function npmGlobalWindows(
  tree: Tree,
  prefixRel: string,
  name: string,
  spec: PackageSpec & { bin?: Record<string, string> } = {},
): string {
  const dir = npmPackage(tree, `${prefixRel}/node_modules`, name, spec);
  for (const [bin, script] of Object.entries(spec.bin ?? {})) {
    const winTarget = `node_modules\\${name.replace('/', '\\')}\\${script.replace(/\//g, '\\')}`;
    tree.file(
      `${prefixRel}/${bin}.cmd`,
      `@ECHO off\r\nGOTO start\r\n:find_dp0\r\nSET dp0=%~dp0\r\nEXIT /b\r\n:start\r\nSETLOCAL\r\nCALL :find_dp0\r\n"%_prog%"  "%dp0%\\${winTarget}" %*\r\n`,
    );
    tree.file(
      `${prefixRel}/${bin}.ps1`,
      `#!/usr/bin/env pwsh\n$basedir=Split-Path $MyInvocation.MyCommand.Definition -Parent\n& "node$exe"  "$basedir/node_modules/${name}/${script}" $args\n`,
    );
    tree.file(
      `${prefixRel}/${bin}`,
      `#!/bin/sh\nbasedir=$(dirname "$(echo "$0" | sed -e 's,\\\\,/,g')")\nexec node  "$basedir/node_modules/${name}/${script}" "$@"\n`,
    );
  }
  return dir;
}

/** A minimal zip archive (stored or deflated entries), enough for jars. */
export function zip(entries: Record<string, string>, deflate = true): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of Object.entries(entries)) {
    const data = Buffer.from(text);
    const body = deflate ? deflateRawSync(data) : data;
    const nameBytes = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc32(data), 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(deflate ? 8 : 0, 10);
    central.writeUInt32LE(crc32(data), 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, body);
    centrals.push(central, nameBytes);
    offset += 30 + nameBytes.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(Object.keys(entries).length, 8);
  eocd.writeUInt16LE(Object.keys(entries).length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

/** What tests compare: the facts that matter, without timing noise. */
export function summary(instances: readonly ToolInstance[]): string[] {
  return instances.map(
    (i) => `${i.toolId} ${i.version ?? 'null'} ${i.channel} ${i.owner ?? '-'}${i.host ? ` ${i.host}` : ''}`,
  );
}

export function find(instances: readonly ToolInstance[], toolId: string, channel?: string): ToolInstance {
  const hit = instances.find((i) => i.toolId === toolId && (channel === undefined || i.channel === channel));
  if (!hit) throw new Error(`no ${toolId}${channel ? ` (${channel})` : ''} among: ${summary(instances).join('; ')}`);
  return hit;
}
