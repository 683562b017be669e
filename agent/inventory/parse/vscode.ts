/**
 * VS Code-family extension folders: `<publisher>.<name>-<version>[-<targetPlatform>]`, and the two
 * files in which the editor records what is really installed: `extensions.json` (the list) and
 * `.obsolete` (folders that are uninstalled or superseded, waiting to be deleted).
 */
import { isRecord, type Parsed, parseJson } from './text.js';

export interface ExtensionFolder {
  /** publisher.name, lower-case. */
  id: string;
  version: string;
  targetPlatform: string | null;
}

const TARGET_PLATFORMS = [
  'win32-x64',
  'win32-arm64',
  'win32-ia32',
  'linux-x64',
  'linux-arm64',
  'linux-armhf',
  'alpine-x64',
  'alpine-arm64',
  'darwin-x64',
  'darwin-arm64',
  'web',
  'universal',
];

export function parseExtensionFolderName(folder: string): ExtensionFolder | null {
  let rest = folder;
  let targetPlatform: string | null = null;
  const lower = folder.toLowerCase();
  for (const platform of TARGET_PLATFORMS) {
    if (lower.endsWith(`-${platform}`)) {
      targetPlatform = platform;
      rest = folder.slice(0, -(platform.length + 1));
      break;
    }
  }
  const match = /^([a-z0-9][a-z0-9_-]*)\.([a-z0-9][a-z0-9_.-]*?)-(\d+\.\d+\.\d+(?:[-+][0-9a-z.+-]*)?)$/i.exec(rest);
  if (!match) return null;
  return { id: `${match[1]!}.${match[2]!}`.toLowerCase(), version: match[3]!, targetPlatform };
}

/** `.obsolete` is a JSON object `{ "<folder>": true }`; returns the folder names, lower-cased. */
export function parseObsolete(text: string): Parsed<Set<string>> {
  const json = parseJson(text);
  if (!json.ok) return json;
  if (!isRecord(json.value)) return { ok: false, error: '.obsolete is not a JSON object' };
  return {
    ok: true,
    value: new Set(
      Object.entries(json.value)
        .filter(([, v]) => v === true)
        .map(([k]) => k.toLowerCase()),
    ),
  };
}

export interface InstalledExtension {
  id: string;
  version: string | null;
  /** The folder name the entry points at, lower-cased, when it can be told. */
  folder: string | null;
  /** The entry's absolute location (`location.fsPath`/`path`, or a string location), when given. */
  location: string | null;
}

/** `extensions.json`: an array of { identifier: { id }, version, relativeLocation?, location? }. */
export function parseExtensionsJson(text: string): Parsed<InstalledExtension[]> {
  const json = parseJson(text);
  if (!json.ok) return json;
  if (!Array.isArray(json.value)) return { ok: false, error: 'extensions.json is not a JSON array' };
  const out: InstalledExtension[] = [];
  for (const entry of json.value) {
    if (!isRecord(entry) || !isRecord(entry.identifier) || typeof entry.identifier.id !== 'string') continue;
    out.push({
      id: entry.identifier.id.toLowerCase(),
      version: typeof entry.version === 'string' ? entry.version : null,
      folder: entryFolder(entry),
      location: entryLocation(entry),
    });
  }
  return { ok: true, value: out };
}

function entryFolder(entry: Record<string, unknown>): string | null {
  if (typeof entry.relativeLocation === 'string' && entry.relativeLocation !== '')
    return lastSegment(entry.relativeLocation);
  const location = entry.location;
  if (typeof location === 'string') return lastSegment(location);
  if (isRecord(location)) {
    for (const key of ['fsPath', 'path', 'external']) {
      const value = location[key];
      if (typeof value === 'string' && value !== '') return lastSegment(decodeURIComponentSafe(value));
    }
  }
  return null;
}

function entryLocation(entry: Record<string, unknown>): string | null {
  const location = entry.location;
  if (typeof location === 'string')
    return location.startsWith('/') || /^[A-Za-z]:[\\/]/.test(location) ? location : null;
  if (!isRecord(location) || (location.scheme !== undefined && location.scheme !== 'file')) return null;
  for (const key of ['fsPath', 'path']) {
    const value = location[key];
    if (typeof value === 'string' && value !== '') return value.replace(/^\/([A-Za-z]:)/, '$1');
  }
  return null;
}

function lastSegment(path: string): string | null {
  const parts = path.split(/[\\/]+/).filter(Boolean);
  return parts.length ? parts[parts.length - 1]!.toLowerCase() : null;
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
