/**
 * Turning bytes found on disk into text. Manifests are meant to be UTF-8, but editors and
 * Windows tools also write a UTF-8 BOM or UTF-16; invalid bytes become U+FFFD instead of failing.
 */
const utf8 = new TextDecoder('utf-8', { fatal: false });
const utf16le = new TextDecoder('utf-16le', { fatal: false });

export function decodeText(bytes: Uint8Array): string {
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf)
    return utf8.decode(bytes.subarray(3));
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) return utf16le.decode(bytes.subarray(2));
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) return utf16le.decode(swapPairs(bytes.subarray(2)));
  return utf8.decode(bytes);
}

function swapPairs(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length - (bytes.length % 2));
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    out[i] = bytes[i + 1]!;
    out[i + 1] = bytes[i]!;
  }
  return out;
}

/** A string with a leading BOM removed (JSON.parse rejects it). */
function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

export function parseJson(text: string): Parsed<unknown> {
  try {
    return { ok: true, value: JSON.parse(stripBom(text)) as unknown };
  } catch (error) {
    return { ok: false, error: `malformed JSON (${error instanceof Error ? error.message : String(error)})` };
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `text` as a regular expression matching it literally. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
