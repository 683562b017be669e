/** Policy selectors (`claude-code`, `vendor:<slug>`, `category:<name>`, `*`) resolved against a catalog. */
import { catalogIndex } from './catalog/index.js';
import type { Catalog, Category } from './catalog/schema.js';

/** The catalogued tool ids a list of selectors stands for. Unknown selectors stand for nothing. */
export function resolveSelectors(selectors: readonly string[], catalog: Catalog): Set<string> {
  const index = catalogIndex(catalog);
  const ids = new Set<string>();
  for (const selector of selectors) {
    let tools: readonly { id: string }[];
    if (selector === '*') tools = catalog.tools;
    else if (selector.startsWith('vendor:')) tools = index.toolsByVendor(selector.slice('vendor:'.length));
    else if (selector.startsWith('category:'))
      tools = index.toolsByCategory(selector.slice('category:'.length) as Category);
    else tools = index.has(selector) ? [{ id: selector }] : [];
    for (const tool of tools) ids.add(tool.id);
  }
  return ids;
}
