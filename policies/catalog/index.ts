/**
 * The built-in catalog and fast lookups over any catalog: by id, vendor, category, and by each
 * kind of detection signature (what the agent's scanners ask: "which tool owns the npm package
 * @openai/codex?"). Pure: no I/O beyond the JSON module import.
 */
import { TypeCompiler } from '@sinclair/typebox/compiler';

import { closest } from '../suggest.js';
import catalogData from './catalog.json' with { type: 'json' };
import { Catalog, type CatalogTool, type Category, type Signatures } from './schema.js';

const catalogCheck = TypeCompiler.Compile(Catalog);

/** Returns the catalog when it matches the schema, else throws naming the first problem. */
function checkCatalog(value: unknown): Catalog {
  if (catalogCheck.Check(value)) return value;
  const first = catalogCheck.Errors(value).First();
  throw new TypeError(`invalid catalog${first ? ` at ${first.path || '/'}: ${first.message}` : ''}`);
}

/** The catalog shipped with this build. A signed bundle may carry a newer one. */
export const builtinCatalog: Catalog = checkCatalog(catalogData);

type SignatureKind = keyof Signatures;

export interface CatalogIndex {
  readonly catalog: Catalog;
  has(id: string): boolean;
  tool(id: string): CatalogTool | undefined;
  ids(): readonly string[];
  vendors(): readonly string[];
  toolsByVendor(vendor: string): readonly CatalogTool[];
  toolsByCategory(category: Category): readonly CatalogTool[];
  /** The tool that owns a signature value (compared case-insensitively), if any. */
  bySignature(kind: SignatureKind, value: string): CatalogTool | undefined;
  /** Every value of one signature kind across the catalog, lower-cased. */
  signatureValues(kind: SignatureKind): ReadonlySet<string>;
  /** The id a mistyped id or an alias most likely means ("codex" -> "openai-codex-cli"). */
  suggest(input: string): string | null;
}

const indexes = new WeakMap<Catalog, CatalogIndex>();

/** Builds (once per catalog object) the lookup tables. */
export function catalogIndex(catalog: Catalog): CatalogIndex {
  let index = indexes.get(catalog);
  if (!index) {
    index = buildIndex(catalog);
    indexes.set(catalog, index);
  }
  return index;
}

function buildIndex(catalog: Catalog): CatalogIndex {
  const byId = new Map<string, CatalogTool>();
  const byVendor = new Map<string, CatalogTool[]>();
  const byCategory = new Map<Category, CatalogTool[]>();
  const bySignature = new Map<SignatureKind, Map<string, CatalogTool>>();
  const nameToId = new Map<string, string>();

  for (const tool of catalog.tools) {
    byId.set(tool.id, tool);
    push(byVendor, tool.vendor, tool);
    push(byCategory, tool.category, tool);
    nameToId.set(tool.id, tool.id);
    for (const alias of tool.aliases ?? [])
      if (!nameToId.has(alias.toLowerCase())) nameToId.set(alias.toLowerCase(), tool.id);
    for (const [kind, values] of Object.entries(tool.detect) as [SignatureKind, string[] | undefined][]) {
      let table = bySignature.get(kind);
      if (!table) bySignature.set(kind, (table = new Map()));
      // First owner wins; the catalog tests make sure there is only one.
      for (const value of values ?? []) if (!table.has(value.toLowerCase())) table.set(value.toLowerCase(), tool);
    }
  }
  const ids = [...byId.keys()];
  const vendors = [...byVendor.keys()].sort();
  const signatureSets = new Map<SignatureKind, ReadonlySet<string>>();

  return {
    catalog,
    has: (id) => byId.has(id),
    tool: (id) => byId.get(id),
    ids: () => ids,
    vendors: () => vendors,
    toolsByVendor: (vendor) => byVendor.get(vendor) ?? [],
    toolsByCategory: (category) => byCategory.get(category) ?? [],
    bySignature: (kind, value) => bySignature.get(kind)?.get(value.toLowerCase()),
    signatureValues: (kind) => {
      let set = signatureSets.get(kind);
      if (!set) signatureSets.set(kind, (set = new Set(bySignature.get(kind)?.keys() ?? [])));
      return set;
    },
    suggest: (input) => {
      const exact = nameToId.get(input.toLowerCase());
      if (exact) return exact;
      const near = closest(input, nameToId.keys());
      return near === null ? null : nameToId.get(near)!;
    },
  };
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
