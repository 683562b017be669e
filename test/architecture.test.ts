/**
 * Import direction, checked on every source file (static, type-only and dynamic imports alike):
 *
 * - `agent/` never imports `server/`, and `server/` never imports `agent/`; both share `policies/`.
 * - `policies/` imports neither, and nothing that does I/O (files, processes, network, database).
 * - Inside `server/`, no module imports one from a higher layer (SERVER_LAYERS, lowest first).
 *   The admin CLI (`server/cli/`) and its HTTP client sit on top and are not imported by the server.
 * - `agent/host/` (the one source of host facts: processes, users and homes, OS) imports only
 *   itself and `policies/`: inventory, enforcement, sentinel and status build on it, not it on them.
 */
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';

import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');

/**
 * Server layers, lowest first. A module may import its own layer or lower ones. Each entry is a
 * path prefix below server/ (a folder ends with `/`); the first matching layer wins.
 */
export const SERVER_LAYERS: readonly { name: string; paths: readonly string[] }[] = [
  {
    name: 'base: configuration, database, HTTP basics, in-memory channels',
    paths: ['config.ts', 'db/', 'http/', 'data-lock.ts', 'signing-key.ts', 'last-seen.ts', 'policy-channel.ts'],
  },
  { name: 'security: secrets, device tokens', paths: ['security/'] },
  { name: 'store: tables', paths: ['store/'] },
  { name: 'services and jobs', paths: ['services/', 'jobs/'] },
  { name: 'reports', paths: ['reports/'] },
  { name: 'web: API routes and the dashboard', paths: ['routes/', 'ui/'] },
  { name: 'assembly: context, plugins, app', paths: ['context.ts', 'plugins/', 'app.ts'] },
  { name: 'admin CLI and its client', paths: ['cli/', 'client/'] },
];

/** Modules whose import means I/O; `policies/` must not import them. */
const IO_MODULES =
  /^(node:)?(fs|fs\/promises|child_process|net|http|https|http2|dgram|dns|tls|os|worker_threads|cluster|readline|process)$|^better-sqlite3$|^undici$/;

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(path)));
    else if (/\.(ts|mts)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

interface Import {
  from: string;
  specifier: string;
  /** Repository-relative path for relative imports (with `.js` mapped back to `.ts`), else null. */
  target: string | null;
}

async function importsOf(top: string): Promise<Import[]> {
  const out: Import[] = [];
  for (const file of await sourceFiles(join(ROOT, top))) {
    const text = await readFile(file, 'utf8');
    const info = ts.preProcessFile(text, true, true);
    const from = relative(ROOT, file).split(sep).join('/');
    for (const ref of info.importedFiles) {
      const specifier = ref.fileName;
      const target = specifier.startsWith('.')
        ? relative(ROOT, resolve(dirname(file), specifier))
            .split(sep)
            .join('/')
            .replace(/\.js$/, '.ts')
        : null;
      out.push({ from, specifier, target });
    }
  }
  return out;
}

function serverLayer(path: string): number {
  const below = path.slice('server/'.length);
  const index = SERVER_LAYERS.findIndex((layer) =>
    layer.paths.some((p) => (p.endsWith('/') ? below.startsWith(p) : below === p)),
  );
  if (index < 0) throw new Error(`${path} is in no server layer; add it to SERVER_LAYERS in test/architecture.test.ts`);
  return index;
}

describe('import direction', () => {
  it('agent/ never imports server/', async () => {
    const bad = (await importsOf('agent')).filter((i) => i.target?.startsWith('server/'));
    expect(bad.map((i) => `${i.from} -> ${i.specifier}`)).toEqual([]);
  });

  it('server/ never imports agent/', async () => {
    const bad = (await importsOf('server')).filter((i) => i.target?.startsWith('agent/'));
    expect(bad.map((i) => `${i.from} -> ${i.specifier}`)).toEqual([]);
  });

  it('policies/ imports neither agent/ nor server/, nor any module that does I/O', async () => {
    const bad = (await importsOf('policies')).filter(
      (i) =>
        (i.target !== null && !i.target.startsWith('policies/')) || (i.target === null && IO_MODULES.test(i.specifier)),
    );
    expect(bad.map((i) => `${i.from} -> ${i.specifier}`)).toEqual([]);
  });

  it('no server/ module imports one from a higher layer', async () => {
    const imports = (await importsOf('server')).filter((i) => i.target?.startsWith('server/'));
    const upward = imports
      .filter((i) => serverLayer(i.target!) > serverLayer(i.from))
      .map(
        (i) =>
          `${i.from} (${SERVER_LAYERS[serverLayer(i.from)]!.name}) -> ${i.target} (${SERVER_LAYERS[serverLayer(i.target!)]!.name})`,
      );
    expect(upward).toEqual([]);
  });

  it('the API routes and the dashboard do not import each other', async () => {
    const imports = (await importsOf('server')).filter((i) => i.target !== null);
    const crossing = imports.filter(
      (i) =>
        (i.from.startsWith('server/routes/') && i.target!.startsWith('server/ui/')) ||
        (i.from.startsWith('server/ui/') && i.target!.startsWith('server/routes/')),
    );
    expect(crossing.map((i) => `${i.from} -> ${i.target}`)).toEqual([]);
  });

  it('agent/host/ imports nothing of the agent above it', async () => {
    const bad = (await importsOf('agent/host')).filter(
      (i) => i.target !== null && !i.target.startsWith('agent/host/') && !i.target.startsWith('policies/'),
    );
    expect(bad.map((i) => `${i.from} -> ${i.specifier}`)).toEqual([]);
  });

  it('the layer list covers every server file (a new folder must be placed)', async () => {
    const files = (await sourceFiles(join(ROOT, 'server'))).map((f) => relative(ROOT, f).split(sep).join('/'));
    expect(() => files.forEach(serverLayer)).not.toThrow();
  });
});
