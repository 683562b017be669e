/**
 * JetBrains IDE plugins: <config>/JetBrains/<Product><version>/plugins/<plugin>/lib/*.jar (on
 * Linux the plugins sit directly in ~/.local/share/JetBrains/<Product><version>/), plus Android
 * Studio under Google/, pre-2020 `~/.<Product><version>/config/plugins` and Toolbox 1.x channels. The plugin's id and version come from META-INF/plugin.xml inside one of
 * its jars, read straight out of the archive (central directory + one entry, nothing else).
 */
import * as path from 'node:path';
import { inflateRawSync } from 'node:zlib';

import type { CatalogTool } from '../../../policies/catalog/schema.js';
import type { ToolInstance } from '../../../policies/inventory.js';
import type { ScanContext } from '../context.js';
import { versionFields } from '../instances.js';
import { xdgDataDirs } from '../npm-roots.js';
import { parsePluginXml, type PluginDescriptor } from '../parse/jetbrains.js';
import { decodeText } from '../parse/text.js';
import { checkVersion } from '../parse/version.js';
import { findCentralDirectory, localDataOffset, parseCentralDirectory } from '../parse/zip.js';
import type { Home } from '../users.js';

const PRODUCT_DIR = /^[A-Za-z][A-Za-z-]*\d{4}\.\d+$/;
const MAX_CENTRAL_DIRECTORY = 8 * 1024 * 1024;
const MAX_DESCRIPTOR = 1024 * 1024;
const EOCD_SEARCH = 65_557;

export async function scanJetbrains(ctx: ScanContext): Promise<ToolInstance[]> {
  const out: ToolInstance[] = [];
  for (const home of ctx.homes) {
    if (ctx.expired(home.dir)) continue;
    for (const { product, pluginsDir } of pluginDirs(ctx, home)) scanPlugins(ctx, home, product, pluginsDir, out);
    await ctx.breathe();
  }
  return out;
}

/**
 * Every plugins folder of every JetBrains IDE of one home (JetBrains "Directories used by the IDE
 * to store settings, caches, plugins and logs"):
 * - 2020.1+: `<data>/JetBrains/<Product><version>` (Linux, `$XDG_DATA_HOME` or ~/.local/share, plugins
 *   directly inside), `~/Library/Application Support/JetBrains/<Product><version>/plugins` (macOS),
 *   `%APPDATA%\JetBrains\<Product><version>\plugins` (Windows); Android Studio under `Google/`;
 * - up to 2019.3: `~/.<Product><version>/config/plugins` (Linux, Windows) and
 *   `~/Library/Application Support/<Product><version>` (macOS);
 * - Toolbox App 1.x channels: `<Toolbox>/apps/<product>/ch-<n>/<build>.plugins`.
 */
function pluginDirs(ctx: ScanContext, home: Home): { product: string; pluginsDir: string }[] {
  const h = (...p: string[]) => path.join(home.dir, ...p);
  const appData =
    ctx.platform === 'windows'
      ? [h('AppData', 'Roaming')]
      : ctx.platform === 'darwin'
        ? [h('Library', 'Application Support')]
        : xdgDataDirs(ctx, home);
  const bases = appData.flatMap((d) => [path.join(d, 'JetBrains'), path.join(d, 'Google')]);
  const out: { product: string; pluginsDir: string }[] = [];
  for (const base of bases) {
    for (const entry of ctx.fs.list(base) ?? []) {
      if (!(entry.isDirectory || entry.isSymbolicLink) || !PRODUCT_DIR.test(entry.name)) continue;
      const productDir = path.join(base, entry.name);
      const nested = path.join(productDir, 'plugins');
      out.push({ product: entry.name, pluginsDir: ctx.fs.isDirectory(nested) ? nested : productDir });
    }
  }
  // Pre-2020.1 IDEs.
  if (ctx.platform === 'darwin') {
    for (const entry of ctx.fs.list(h('Library', 'Application Support')) ?? []) {
      if ((entry.isDirectory || entry.isSymbolicLink) && PRODUCT_DIR.test(entry.name))
        out.push({ product: entry.name, pluginsDir: h('Library', 'Application Support', entry.name) });
    }
  } else {
    for (const entry of ctx.fs.list(home.dir) ?? []) {
      if (
        !(entry.isDirectory || entry.isSymbolicLink) ||
        !entry.name.startsWith('.') ||
        !PRODUCT_DIR.test(entry.name.slice(1))
      )
        continue;
      out.push({ product: entry.name.slice(1), pluginsDir: h(entry.name, 'config', 'plugins') });
    }
  }
  // Toolbox App 1.x kept each channel's plugins beside the build.
  const toolboxes =
    ctx.platform === 'windows'
      ? [h('AppData', 'Local', 'JetBrains', 'Toolbox')]
      : appData.map((d) => path.join(d, 'JetBrains', 'Toolbox'));
  for (const toolbox of toolboxes) {
    for (const app of ctx.fs.list(path.join(toolbox, 'apps')) ?? []) {
      if (!app.isDirectory) continue;
      for (const channel of ctx.fs.list(path.join(toolbox, 'apps', app.name)) ?? []) {
        if (!channel.isDirectory || !/^ch-\d+$/.test(channel.name)) continue;
        const channelDir = path.join(toolbox, 'apps', app.name, channel.name);
        for (const build of ctx.fs.list(channelDir) ?? []) {
          if (build.isDirectory && build.name.endsWith('.plugins'))
            out.push({
              product: `${app.name}-${build.name.slice(0, -'.plugins'.length)}`,
              pluginsDir: path.join(channelDir, build.name),
            });
        }
      }
    }
  }
  return out;
}

function scanPlugins(ctx: ScanContext, home: Home, product: string, pluginsDir: string, out: ToolInstance[]): void {
  for (const entry of ctx.fs.list(pluginsDir) ?? []) {
    if (entry.name.startsWith('.')) continue;
    if (ctx.expired(pluginsDir)) return;
    const pluginPath = path.join(pluginsDir, entry.name);
    const isJar = entry.name.toLowerCase().endsWith('.jar') && !entry.isDirectory;
    if (!isJar && !(entry.isDirectory || (entry.isSymbolicLink && ctx.fs.isDirectory(pluginPath)))) continue;
    const byFolder = ctx.catalog.bySignature('jetbrainsPlugins', entry.name.replace(/\.jar$/i, ''));
    const jars = isJar ? [pluginPath] : pluginJars(ctx, pluginPath, entry.name);
    let descriptor: PluginDescriptor | null = null;
    let descriptorJar: string | null = null;
    for (const jar of jars) {
      descriptor = readDescriptor(ctx, jar);
      if (descriptor) {
        descriptorJar = jar;
        break;
      }
    }
    const tool: CatalogTool | undefined =
      (descriptor?.id ? ctx.catalog.bySignature('jetbrainsPlugins', descriptor.id) : undefined) ?? byFolder;
    if (!tool) continue;
    const real = ctx.fs.shownRealpath(pluginPath);
    if (!real) continue;
    const version = descriptor
      ? checkVersion(descriptor.version ?? undefined, 'plugin.xml')
      : { version: null, error: "no META-INF/plugin.xml found in the plugin's jars" };
    out.push({
      toolId: tool.id,
      ...versionFields(version),
      channel: 'jetbrains-plugin',
      installPath: real,
      launchers: [],
      owner: home.user,
      evidence: [descriptorJar ?? pluginPath],
      host: product,
    });
  }
}

/** lib/*.jar, the one named after the plugin first (it usually holds plugin.xml). */
function pluginJars(ctx: ScanContext, pluginDir: string, folder: string): string[] {
  const lib = path.join(pluginDir, 'lib');
  const jars = (ctx.fs.list(lib) ?? [])
    .filter((e) => e.name.toLowerCase().endsWith('.jar') && !e.isDirectory)
    .map((e) => e.name);
  const key = folder.toLowerCase();
  jars.sort(
    (a, b) =>
      Number(!a.toLowerCase().startsWith(key)) - Number(!b.toLowerCase().startsWith(key)) ||
      (a < b ? -1 : a > b ? 1 : 0),
  );
  if (jars.length > ctx.limits.maxJarsPerPlugin)
    ctx.skip(
      lib,
      `more than ${ctx.limits.maxJarsPerPlugin} jars; searched the first ${ctx.limits.maxJarsPerPlugin} for plugin.xml`,
    );
  return jars.slice(0, ctx.limits.maxJarsPerPlugin).map((j) => path.join(lib, j));
}

/** META-INF/plugin.xml of one jar, or null (not there, or unreadable: then recorded as skipped). */
function readDescriptor(ctx: ScanContext, jar: string): PluginDescriptor | null {
  // What a jar holds is a function of its bytes: the scan's memo keeps it while the jar is unchanged.
  const read = ctx.fs.readPartsDerived('jetbrains-plugin-xml', jar, (at, size) => {
    const entry = readZipEntry(jar, 'META-INF/plugin.xml', at, size);
    if (entry === null || 'problem' in entry) return entry;
    const descriptor = parsePluginXml(entry.text);
    return descriptor ?? { problem: [`${jar}!/META-INF/plugin.xml`, 'not an <idea-plugin> descriptor'] as const };
  });
  if (read === null) return null;
  if ('problem' in read) {
    ctx.skip(...read.problem);
    return null;
  }
  return read;
}

/** Why an archive's entry could not be read: the place (the archive, or `archive!/entry`) and the reason. */
type ZipProblem = { problem: readonly [string, string] };

/**
 * The text of the entry `name` of the zip archive `file`, read with `at` (one opening of the
 * archive for its tail, central directory, local header and entry); null when the archive has
 * no such entry.
 */
function readZipEntry(
  file: string,
  name: string,
  at: (position: number, length: number) => Buffer,
  size: number,
): { text: string } | ZipProblem | null {
  const problem = (where: string, reason: string): ZipProblem => ({ problem: [where, reason] });
  const tailLength = Math.min(size, EOCD_SEARCH);
  const tail = at(size - tailLength, tailLength);
  const location = findCentralDirectory(tail, size - tailLength, size);
  if (typeof location === 'string') return problem(file, location);
  if (location.size > MAX_CENTRAL_DIRECTORY)
    return problem(file, `central directory too large (${location.size} bytes)`);
  const entries = parseCentralDirectory(at(location.offset, location.size));
  if (typeof entries === 'string') return problem(file, entries);
  const entry = entries.find((e) => e.name === name);
  if (!entry) return null;
  if (entry.uncompressedSize > MAX_DESCRIPTOR || entry.compressedSize > MAX_DESCRIPTOR * 4)
    return problem(`${file}!/${name}`, `too large (${entry.uncompressedSize} bytes)`);
  const start = localDataOffset(at(entry.localHeaderOffset, 30), entry);
  if (typeof start === 'string') return problem(file, start);
  const data = at(start, entry.compressedSize);
  if (data.length < entry.compressedSize) return problem(`${file}!/${name}`, 'truncated archive');
  try {
    if (entry.method === 0) return { text: decodeText(data) };
    if (entry.method === 8) return { text: decodeText(inflateRawSync(data, { maxOutputLength: MAX_DESCRIPTOR })) };
    return problem(`${file}!/${name}`, `unsupported compression method ${entry.method}`);
  } catch (error) {
    return problem(`${file}!/${name}`, `cannot inflate (${error instanceof Error ? error.message : String(error)})`);
  }
}
