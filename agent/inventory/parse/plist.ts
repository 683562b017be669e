/**
 * Property lists (Info.plist): XML, and the binary `bplist00` format that some bundles ship.
 * Both readers are bounded (object count, nesting) and return an error instead of throwing.
 */
import { decodeText, type Parsed } from './text.js';

export type PlistValue = string | number | boolean | null | PlistValue[] | { [key: string]: PlistValue };

const MAX_DEPTH = 64;
const MAX_OBJECTS = 100_000;

export function parsePlist(bytes: Uint8Array): Parsed<PlistValue> {
  if (bytes.length >= 8 && Buffer.from(bytes.subarray(0, 6)).toString('latin1') === 'bplist')
    return parseBinaryPlist(bytes);
  return parseXmlPlist(decodeText(bytes));
}

/** CFBundleShortVersionString (what users see), else CFBundleVersion. */
export function bundleInfo(plist: PlistValue): {
  id: string | null;
  shortVersion: string | null;
  version: string | null;
  name: string | null;
  executable: string | null;
} {
  const dict = typeof plist === 'object' && plist !== null && !Array.isArray(plist) ? plist : {};
  const str = (key: string) => (typeof dict[key] === 'string' ? (dict[key] as string) : null);
  return {
    id: str('CFBundleIdentifier'),
    shortVersion: str('CFBundleShortVersionString'),
    version: str('CFBundleVersion'),
    name: str('CFBundleName'),
    executable: str('CFBundleExecutable'),
  };
}

// ---- XML -------------------------------------------------------------------------------------

type Token = { kind: 'open' | 'close' | 'empty'; name: string } | { kind: 'text'; text: string };

function* xmlTokens(text: string): Generator<Token> {
  const pattern =
    /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!DOCTYPE[^>]*>|<!\[CDATA\[([\s\S]*?)\]\]>|<(\/?)([A-Za-z][\w.-]*)[^>]*?(\/?)>|([^<]+)/g;
  for (const m of text.matchAll(pattern)) {
    if (m[1] !== undefined) yield { kind: 'text', text: m[1] };
    else if (m[3] !== undefined) yield { kind: m[2] ? 'close' : m[4] ? 'empty' : 'open', name: m[3] };
    else if (m[5] !== undefined) yield { kind: 'text', text: decodeEntities(m[5]) };
  }
}

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, e: string) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '\uFFFD';
    }
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[e]!;
  });
}

export function parseXmlPlist(text: string): Parsed<PlistValue> {
  const tokens = [...xmlTokens(text)];
  let pos = 0;
  let count = 0;
  const fail = (why: string): never => {
    throw new PlistError(why);
  };
  const skipBlank = () => {
    while (pos < tokens.length) {
      const t = tokens[pos]!;
      if (t.kind === 'text' && t.text.trim() === '') pos++;
      else break;
    }
  };
  const textUntil = (name: string): string => {
    let out = '';
    while (pos < tokens.length) {
      const t = tokens[pos++]!;
      if (t.kind === 'text') out += t.text;
      else if (t.kind === 'close' && t.name === name) return out;
      else fail(`unexpected <${t.name}> inside <${name}>`);
    }
    return fail(`unclosed <${name}>`);
  };
  const value = (depth: number): PlistValue => {
    if (depth > MAX_DEPTH) fail('nested too deeply');
    if (++count > MAX_OBJECTS) fail('too many objects');
    skipBlank();
    const t = tokens[pos++];
    if (!t || t.kind === 'text' || t.kind === 'close') return fail('expected a value');
    if (t.kind === 'empty') {
      if (t.name === 'true') return true;
      if (t.name === 'false') return false;
      if (t.name === 'string' || t.name === 'data') return '';
      if (t.name === 'dict') return {};
      if (t.name === 'array') return [];
      return fail(`unexpected <${t.name}/>`);
    }
    switch (t.name) {
      case 'string':
      case 'date':
      case 'data':
        return textUntil(t.name);
      case 'integer':
      case 'real': {
        const n = Number(textUntil(t.name).trim());
        return Number.isFinite(n) ? n : fail(`bad <${t.name}>`);
      }
      case 'true':
      case 'false':
        textUntil(t.name);
        return t.name === 'true';
      case 'array': {
        const out: PlistValue[] = [];
        for (;;) {
          skipBlank();
          const next = tokens[pos];
          if (!next) return fail('unclosed <array>');
          if (next.kind === 'close' && next.name === 'array') {
            pos++;
            return out;
          }
          out.push(value(depth + 1));
        }
      }
      case 'dict': {
        const out: Record<string, PlistValue> = Object.create(null) as Record<string, PlistValue>;
        for (;;) {
          skipBlank();
          const next = tokens[pos++];
          if (!next) return fail('unclosed <dict>');
          if (next.kind === 'close' && next.name === 'dict') return out;
          if (next.kind === 'empty' && next.name === 'key') {
            out[''] = value(depth + 1);
            continue;
          }
          if (next.kind !== 'open' || next.name !== 'key') return fail('expected <key> in <dict>');
          const key = textUntil('key');
          out[key] = value(depth + 1);
        }
      }
      default:
        return fail(`unknown element <${t.name}>`);
    }
  };
  try {
    skipBlank();
    const first = tokens[pos];
    if (first && first.kind === 'open' && first.name === 'plist') {
      pos++;
      const result = value(0);
      return { ok: true, value: result };
    }
    return { ok: false, error: 'not a property list (no <plist> element)' };
  } catch (error) {
    if (error instanceof PlistError) return { ok: false, error: `malformed plist (${error.message})` };
    throw error;
  }
}

class PlistError extends Error {}

// ---- binary ----------------------------------------------------------------------------------

/** Apple's bplist00: a trailer pointing at an offset table of typed objects. */
export function parseBinaryPlist(input: Uint8Array): Parsed<PlistValue> {
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  try {
    if (buf.length < 40 || buf.toString('latin1', 0, 8) !== 'bplist00') throw new PlistError('not a bplist00 file');
    const trailer = buf.length - 32;
    const offsetSize = buf[trailer + 6]!;
    const refSize = buf[trailer + 7]!;
    const numObjects = readUInt(buf, trailer + 8, 8);
    const topObject = readUInt(buf, trailer + 16, 8);
    const tableOffset = readUInt(buf, trailer + 24, 8);
    if (offsetSize < 1 || offsetSize > 8 || refSize < 1 || refSize > 8) throw new PlistError('bad trailer sizes');
    if (numObjects > MAX_OBJECTS || numObjects < 1 || topObject >= numObjects) throw new PlistError('bad object count');
    if (tableOffset + numObjects * offsetSize > trailer) throw new PlistError('offset table out of range');
    const offsetOf = (ref: number) => {
      if (ref >= numObjects) throw new PlistError('object reference out of range');
      const off = readUInt(buf, tableOffset + ref * offsetSize, offsetSize);
      if (off < 8 || off >= tableOffset) throw new PlistError('object offset out of range');
      return off;
    };
    const active = new Set<number>();
    const read = (ref: number, depth: number): PlistValue => {
      if (depth > MAX_DEPTH) throw new PlistError('nested too deeply');
      if (active.has(ref)) throw new PlistError('object cycle');
      const off = offsetOf(ref);
      const marker = buf[off]!;
      const type = marker >> 4;
      const info = marker & 0x0f;
      const lengthAt = (): [number, number] => {
        if (info !== 0x0f) return [info, off + 1];
        const intMarker = buf[off + 1]!;
        if (intMarker >> 4 !== 0x1) throw new PlistError('bad length marker');
        const size = 1 << (intMarker & 0x0f);
        return [readUInt(buf, off + 2, size), off + 2 + size];
      };
      const need = (start: number, bytes: number) => {
        if (start + bytes > tableOffset) throw new PlistError('object runs past the data');
      };
      switch (type) {
        case 0x0:
          if (marker === 0x08) return false;
          if (marker === 0x09) return true;
          return null;
        case 0x1: {
          const size = 1 << info;
          need(off + 1, size);
          return size === 8 ? Number(buf.readBigInt64BE(off + 1)) : readUInt(buf, off + 1, size);
        }
        case 0x2: {
          const size = 1 << info;
          need(off + 1, size);
          return size === 4 ? buf.readFloatBE(off + 1) : buf.readDoubleBE(off + 1);
        }
        case 0x3:
          need(off + 1, 8);
          return new Date(Date.UTC(2001, 0, 1) + buf.readDoubleBE(off + 1) * 1000).toISOString();
        case 0x4: {
          const [len, start] = lengthAt();
          need(start, len);
          return buf.toString('base64', start, start + len);
        }
        case 0x5: {
          const [len, start] = lengthAt();
          need(start, len);
          return buf.toString('latin1', start, start + len);
        }
        case 0x6: {
          const [len, start] = lengthAt();
          need(start, len * 2);
          const units = Buffer.from(buf.subarray(start, start + len * 2));
          units.swap16();
          return units.toString('utf16le');
        }
        case 0x8:
          return readUInt(buf, off + 1, info + 1);
        case 0xa: {
          const [len, start] = lengthAt();
          need(start, len * refSize);
          active.add(ref);
          const out: PlistValue[] = [];
          for (let i = 0; i < len; i++) out.push(read(readUInt(buf, start + i * refSize, refSize), depth + 1));
          active.delete(ref);
          return out;
        }
        case 0xd: {
          const [len, start] = lengthAt();
          need(start, len * 2 * refSize);
          active.add(ref);
          const out: Record<string, PlistValue> = Object.create(null) as Record<string, PlistValue>;
          for (let i = 0; i < len; i++) {
            const key = read(readUInt(buf, start + i * refSize, refSize), depth + 1);
            if (typeof key !== 'string') throw new PlistError('dictionary key is not a string');
            out[key] = read(readUInt(buf, start + (len + i) * refSize, refSize), depth + 1);
          }
          active.delete(ref);
          return out;
        }
        default:
          throw new PlistError(`unknown object type 0x${type.toString(16)}`);
      }
    };
    return { ok: true, value: read(topObject, 0) };
  } catch (error) {
    if (error instanceof PlistError || error instanceof RangeError)
      return { ok: false, error: `malformed binary plist (${error.message})` };
    throw error;
  }
}

function readUInt(buf: Buffer, offset: number, size: number): number {
  if (offset + size > buf.length) throw new PlistError('read past the end');
  let value = 0;
  for (let i = 0; i < size; i++) value = value * 256 + buf[offset + i]!;
  if (!Number.isSafeInteger(value)) throw new PlistError('integer too large');
  return value;
}
