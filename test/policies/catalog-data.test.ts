import { readFileSync } from 'node:fs';

import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';

import { Catalog, type Catalog as CatalogType, Signatures } from '../../policies/catalog/schema.js';

const raw: unknown = JSON.parse(readFileSync(new URL('../../policies/catalog/catalog.json', import.meta.url), 'utf8'));
const catalog = raw as CatalogType;
const tools = catalog.tools ?? [];

type SignatureKind = keyof typeof Signatures.properties;
const SIGNATURE_KINDS = Object.keys(Signatures.properties) as SignatureKind[];

/** value (lower-cased) -> ids of the tools carrying it, for one namespace of signatures. */
function owners(kinds: readonly SignatureKind[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const tool of tools) {
    for (const kind of kinds) {
      for (const value of tool.detect[kind] ?? []) {
        const key = value.toLowerCase();
        map.set(key, [...(map.get(key) ?? []), tool.id]);
      }
    }
  }
  return map;
}

function duplicated(map: Map<string, string[]>): string[] {
  return [...map].filter(([, ids]) => ids.length !== 1).map(([value, ids]) => `${value}: ${ids.join(', ')}`);
}

describe('catalog.json', () => {
  it('validates against the Catalog schema', () => {
    const errors = [...Value.Errors(Catalog, raw)].map((e) => `${e.path}: ${e.message}`);
    expect(errors, errors.join('\n')).toEqual([]);
    expect(Value.Check(Catalog, raw)).toBe(true);
  });

  it('lists at least 30 tools with unique ids', () => {
    expect(tools.length).toBeGreaterThanOrEqual(30);
    const ids = tools.map((t) => t.id);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
  });

  it.each(SIGNATURE_KINDS.filter((k) => k !== 'binaries' && k !== 'ambiguousBinaries'))(
    'gives every %s value to exactly one tool (case-insensitive)',
    (kind) => {
      expect(duplicated(owners([kind]))).toEqual([]);
    },
  );

  it('gives every binary name to one tool and one of binaries/ambiguousBinaries', () => {
    expect(duplicated(owners(['binaries', 'ambiguousBinaries']))).toEqual([]);
  });

  it.each([
    ['qwen-code', 'alibaba'],
    ['tongyi-lingma', 'alibaba'],
    ['kimi-cli', 'moonshot'],
    ['trae', 'bytedance'],
    ['baidu-comate', 'baidu'],
    ['codegeex', 'zhipu'],
    ['iflow-cli', 'iflow'],
  ])('includes %s from vendor %s', (id, vendor) => {
    expect(tools.find((t) => t.id === id)?.vendor).toBe(vendor);
  });

  it.each([
    ['claude-code', 'anthropic'],
    ['openai-codex-cli', 'openai'],
    ['gemini-cli', 'google'],
    ['github-copilot-cli', 'github'],
    ['github-copilot-ide', 'github'],
    ['cursor', 'anysphere'],
    ['cursor-agent', 'anysphere'],
  ])('includes %s from vendor %s', (id, vendor) => {
    expect(tools.find((t) => t.id === id)?.vendor).toBe(vendor);
  });

  it.each(tools.map((t) => [t.id, t] as const))('%s has at least one detection signature', (_id, tool) => {
    const count = SIGNATURE_KINDS.reduce((n, kind) => n + (tool.detect[kind]?.length ?? 0), 0);
    expect(count).toBeGreaterThan(0);
  });

  it('writes VS Code extension ids as lower-case publisher.name', () => {
    const bad = tools.flatMap((t) =>
      (t.detect.vscodeExtensions ?? []).filter((id) => !/^[a-z0-9][a-z0-9_-]*\.[a-z0-9][a-z0-9_-]*$/.test(id)),
    );
    expect(bad).toEqual([]);
  });

  it('writes nativeVersionDirs as relative POSIX paths', () => {
    const bad = tools.flatMap((t) =>
      (t.detect.nativeVersionDirs ?? []).filter(
        (dir) => dir.startsWith('/') || dir.startsWith('~') || dir.includes('\\') || dir.split('/').includes('..'),
      ),
    );
    expect(bad).toEqual([]);
  });

  it('keeps aliases apart from ids and from each other', () => {
    const ids = new Set(tools.map((t) => t.id.toLowerCase()));
    const collisions = tools.flatMap((t) =>
      (t.aliases ?? []).filter((a) => ids.has(a.toLowerCase())).map((a) => `${t.id}: ${a}`),
    );
    expect(collisions).toEqual([]);
    const seen = new Map<string, string>();
    const shared: string[] = [];
    for (const tool of tools) {
      for (const alias of tool.aliases ?? []) {
        const key = alias.toLowerCase();
        const other = seen.get(key);
        if (other !== undefined && other !== tool.id) shared.push(`${alias}: ${other}, ${tool.id}`);
        seen.set(key, tool.id);
      }
    }
    expect(shared).toEqual([]);
  });

  it('maps every vendor slug to exactly one vendorName', () => {
    const names = new Map<string, Set<string>>();
    for (const tool of tools) names.set(tool.vendor, (names.get(tool.vendor) ?? new Set()).add(tool.vendorName));
    const bad = [...names].filter(([, n]) => n.size !== 1).map(([slug, n]) => `${slug}: ${[...n].join(' | ')}`);
    expect(bad).toEqual([]);
  });
});
