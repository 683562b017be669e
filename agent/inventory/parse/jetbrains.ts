/** JetBrains `META-INF/plugin.xml`: the plugin's id, name and version (top-level elements only). */
import { decodeEntities } from './plist.js';

export interface PluginDescriptor {
  id: string | null;
  name: string | null;
  version: string | null;
}

export function parsePluginXml(text: string): PluginDescriptor | null {
  const root = /<idea-plugin\b[^>]*>([\s\S]*)<\/idea-plugin\s*>/.exec(text.replace(/<!--[\s\S]*?-->/g, ''));
  if (!root) return null;
  const body = topLevel(root[1]!);
  const field = (tag: string) => {
    const m = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}\\s*>`).exec(body);
    if (!m) return null;
    const cdata = /^\s*<!\[CDATA\[([\s\S]*?)\]\]>\s*$/.exec(m[1]!);
    const value = (cdata ? cdata[1]! : decodeEntities(m[1]!)).trim();
    return value === '' ? null : value;
  };
  return { id: field('id'), name: field('name'), version: field('version') };
}

/**
 * The root's direct children with nested element bodies blanked out, so a `<version>` inside,
 * say, `<change-notes>` or an extension point cannot be taken for the plugin's own.
 */
function topLevel(body: string): string {
  let out = '';
  let depth = 0;
  const tag = /<!\[CDATA\[[\s\S]*?\]\]>|<(\/?)([A-Za-z][\w.:-]*)[^>]*?(\/?)>/g;
  let last = 0;
  for (const m of body.matchAll(tag)) {
    const at = m.index;
    if (depth <= 1) out += body.slice(last, at);
    last = at + m[0].length;
    if (m[2] === undefined) {
      // CDATA text stays, but cannot form tags any more.
      if (depth <= 1) out += m[0].slice(9, -3).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
      continue;
    }
    if (m[3]) {
      if (depth === 0) out += m[0];
      continue;
    }
    if (m[1]) {
      depth--;
      if (depth === 0) out += m[0];
    } else {
      if (depth === 0) out += m[0];
      depth++;
    }
  }
  if (depth <= 1) out += body.slice(last);
  return out;
}
