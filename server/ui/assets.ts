/**
 * The dashboard's stylesheet, script and icon: plain files in server/ui/static, read once at
 * startup and served from memory with a content hash (so pages link to `app.css?v=<hash>` and
 * browsers may cache them for good). Found beside this module when running from source, or in
 * the package's server/ui/static when running the compiled dist/ build.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface Asset {
  name: string;
  body: Buffer;
  contentType: string;
  hash: string;
}

const TYPES: Record<string, string> = {
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  svg: 'image/svg+xml',
};

const ASSET_NAMES = ['app.css', 'app.js', 'favicon.svg'] as const;
export type AssetName = (typeof ASSET_NAMES)[number];

function staticDir(): string {
  const candidates = [new URL('./static/', import.meta.url), new URL('../../../server/ui/static/', import.meta.url)];
  for (const candidate of candidates) {
    const path = fileURLToPath(candidate);
    if (existsSync(`${path}app.css`)) return path;
  }
  throw new Error(
    `the dashboard's static files are missing (looked in ${candidates.map((c) => fileURLToPath(c)).join(' and ')})`,
  );
}

export function loadAssets(): Map<string, Asset> {
  const dir = staticDir();
  const assets = new Map<string, Asset>();
  for (const name of ASSET_NAMES) {
    const body = readFileSync(`${dir}${name}`);
    assets.set(name, {
      name,
      body,
      contentType: TYPES[name.split('.').pop()!]!,
      hash: createHash('sha256').update(body).digest('base64url').slice(0, 12),
    });
  }
  return assets;
}
