/**
 * Python packaging files: dist-info folder names, METADATA headers, RECORD, pipx_metadata.json
 * and uv-receipt.toml. Everything the Python scanner knows about a distribution comes from these.
 */
import { normalizePyName } from '../ai-sdks.js';
import { isRecord, type Parsed, parseJson } from './text.js';
import { checkVersion, type VersionRead } from './version.js';

export interface DistInfoName {
  /** Normalised (PEP 503) distribution name. */
  name: string;
  version: string;
  kind: 'dist-info' | 'egg-info';
}

/** `aider_chat-0.86.1.dist-info` -> aider-chat 0.86.1; `foo-1.0-py3.11.egg-info` too. */
export function parseDistInfoDirName(dirName: string): DistInfoName | null {
  const dist = /^([A-Za-z0-9][A-Za-z0-9._]*?)-([0-9][A-Za-z0-9.!+_]*)\.dist-info$/.exec(dirName);
  if (dist) return { name: normalizePyName(dist[1]!), version: dist[2]!, kind: 'dist-info' };
  const egg = /^([A-Za-z0-9][A-Za-z0-9._]*?)-([0-9][A-Za-z0-9.!+_]*?)(?:-py\d+(?:\.\d+)?)?\.egg-info$/.exec(dirName);
  if (egg) return { name: normalizePyName(egg[1]!), version: egg[2]!, kind: 'egg-info' };
  return null;
}

export interface DistMetadata {
  name: string | null;
  version: VersionRead;
  /** Names of unconditional requirements (extras excluded), normalised. */
  requires: string[];
}

/** METADATA / PKG-INFO: RFC 822 style headers up to the first blank line. */
export function parseMetadata(text: string): DistMetadata {
  const headers = new Map<string, string[]>();
  let last: string | null = null;
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break;
    if ((line.startsWith(' ') || line.startsWith('\t')) && last) {
      const values = headers.get(last)!;
      values[values.length - 1] += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    last = line.slice(0, colon).trim().toLowerCase();
    const list = headers.get(last) ?? [];
    list.push(line.slice(colon + 1).trim());
    headers.set(last, list);
  }
  const name = headers.get('name')?.[0] ?? null;
  const requires: string[] = [];
  for (const req of headers.get('requires-dist') ?? []) {
    const parsed = parseRequirement(req);
    if (parsed && !parsed.conditionalOnExtra) requires.push(parsed.name);
  }
  return {
    name: name ? normalizePyName(name) : null,
    version: checkVersion(headers.get('version')?.[0], 'METADATA'),
    requires,
  };
}

/** `anthropic>=0.40; extra == "x"` -> { name: anthropic, conditionalOnExtra: true }. */
export function parseRequirement(text: string): { name: string; conditionalOnExtra: boolean } | null {
  const match = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(text);
  if (!match) return null;
  const marker = text.includes(';') ? text.slice(text.indexOf(';') + 1) : '';
  return { name: normalizePyName(match[1]!), conditionalOnExtra: /\bextra\s*==/.test(marker) };
}

/** RECORD is CSV: path,hash,size. Returns the paths (relative to site-packages). */
export function parseRecord(text: string): string[] {
  const paths: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line === '') continue;
    if (line.startsWith('"')) {
      const end = line.indexOf('",');
      if (end > 0) paths.push(line.slice(1, end).replace(/""/g, '"'));
      continue;
    }
    const comma = line.indexOf(',');
    paths.push(comma < 0 ? line : line.slice(0, comma));
  }
  return paths;
}

/** RECORD entries that are scripts installed beside the interpreter (bin/ or Scripts/). */
export function recordScripts(paths: readonly string[]): string[] {
  return paths.filter((p) => /(^|[\\/])\.\.[\\/].*(^|[\\/])(bin|Scripts)[\\/][^\\/]+$/.test(p));
}

export interface PipxMetadata {
  package: string;
  version: VersionRead;
  /** Names of the apps pipx exposed (file names in its bin dir). */
  apps: string[];
  /** Where pipx linked or copied those apps, when recorded. */
  appPaths: string[];
}

export function parsePipxMetadata(text: string): Parsed<PipxMetadata> {
  const json = parseJson(text);
  if (!json.ok) return json;
  if (!isRecord(json.value) || !isRecord(json.value.main_package))
    return { ok: false, error: 'pipx_metadata.json has no main_package' };
  const main = json.value.main_package;
  if (typeof main.package !== 'string' || main.package === '')
    return { ok: false, error: 'pipx_metadata.json main_package has no package name' };
  const apps = Array.isArray(main.apps)
    ? main.apps.filter((a): a is string => typeof a === 'string' && !/[\\/]/.test(a))
    : [];
  const appPaths: string[] = [];
  for (const entry of Array.isArray(main.app_paths) ? main.app_paths : []) {
    if (typeof entry === 'string') appPaths.push(entry);
    else if (isRecord(entry) && typeof entry.__Path__ === 'string') appPaths.push(entry.__Path__);
  }
  return {
    ok: true,
    value: {
      package: normalizePyName(main.package),
      version: checkVersion(main.package_version, 'pipx_metadata.json'),
      apps,
      appPaths,
    },
  };
}

export interface UvReceipt {
  requirements: string[];
  entrypoints: { name: string; installPath: string | null }[];
}

/**
 * The two arrays of uv-receipt.toml the scanner needs, read without a TOML library: receipts are
 * written by uv in one fixed shape (inline tables inside arrays).
 */
export function parseUvReceipt(text: string): Parsed<UvReceipt> {
  const requirements = inlineTables(arrayBody(text, 'requirements'))
    .map((t) => t.get('name'))
    .filter((n): n is string => !!n);
  const entrypoints = inlineTables(arrayBody(text, 'entrypoints'))
    .map((t) => ({ name: t.get('name') ?? '', installPath: t.get('install-path') ?? null }))
    .filter((e) => e.name !== '');
  if (!/^\s*\[tool\]\s*$/m.test(text) && requirements.length === 0)
    return { ok: false, error: 'uv-receipt.toml has no [tool] table' };
  return { ok: true, value: { requirements: requirements.map(normalizePyName), entrypoints } };
}

function arrayBody(text: string, key: string): string {
  const start = new RegExp(`^\\s*${key}\\s*=\\s*\\[`, 'm').exec(text);
  if (!start) return '';
  let depth = 1;
  let inString: string | null = null;
  for (let i = start.index + start[0].length; i < text.length; i++) {
    const ch = text[i]!;
    if (inString) {
      if (ch === '\\' && inString === '"') i++;
      else if (ch === inString) inString = null;
    } else if (ch === '"' || ch === "'") inString = ch;
    else if (ch === '[') depth++;
    else if (ch === ']' && --depth === 0) return text.slice(start.index + start[0].length, i);
  }
  return '';
}

function inlineTables(body: string): Map<string, string>[] {
  const tables: Map<string, string>[] = [];
  const tablePattern = /\{((?:[^{}"']|"(?:[^"\\]|\\.)*"|'[^']*')*)\}/g;
  const pairPattern = /([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|'[^']*')/g;
  for (const table of body.matchAll(tablePattern)) {
    const map = new Map<string, string>();
    for (const pair of table[1]!.matchAll(pairPattern)) map.set(pair[1]!, tomlString(pair[2]!));
    tables.push(map);
  }
  return tables;
}

function tomlString(token: string): string {
  if (token.startsWith("'")) return token.slice(1, -1);
  return token.slice(1, -1).replace(/\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)/g, (_, esc: string) => {
    if (esc[0] === 'u' || esc[0] === 'U') return String.fromCodePoint(parseInt(esc.slice(1), 16));
    return ({ n: '\n', t: '\t', r: '\r', b: '\b', f: '\f' } as Record<string, string>)[esc] ?? esc;
  });
}
