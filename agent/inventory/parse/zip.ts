/**
 * Just enough of the ZIP format to pull one small entry (META-INF/plugin.xml) out of a jar without
 * reading the whole archive: the end-of-central-directory record, the central directory, and the
 * local header in front of the entry's data. ZIP64 archives are reported as unsupported.
 */
export interface CentralDirectoryLocation {
  offset: number;
  size: number;
  entries: number;
}

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/** Finds the EOCD record in the archive's tail (`tailStart` = its offset in the file). */
export function findCentralDirectory(
  tail: Buffer,
  tailStart: number,
  fileSize: number,
): CentralDirectoryLocation | string {
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) !== EOCD) continue;
    const entries = tail.readUInt16LE(i + 10);
    const size = tail.readUInt32LE(i + 12);
    const offset = tail.readUInt32LE(i + 16);
    if (offset === 0xffffffff || size === 0xffffffff || entries === 0xffff) return 'ZIP64 archive (not supported)';
    if (offset + size > tailStart + i || offset + size > fileSize) return 'central directory out of range';
    return { offset, size, entries };
  }
  return 'not a zip archive (no end of central directory)';
}

export function parseCentralDirectory(cd: Buffer): ZipEntry[] | string {
  const entries: ZipEntry[] = [];
  let pos = 0;
  while (pos + 46 <= cd.length) {
    if (cd.readUInt32LE(pos) !== CENTRAL) return entries.length ? entries : 'bad central directory';
    const nameLength = cd.readUInt16LE(pos + 28);
    const extraLength = cd.readUInt16LE(pos + 30);
    const commentLength = cd.readUInt16LE(pos + 32);
    if (pos + 46 + nameLength > cd.length) return 'central directory entry out of range';
    entries.push({
      method: cd.readUInt16LE(pos + 10),
      compressedSize: cd.readUInt32LE(pos + 20),
      uncompressedSize: cd.readUInt32LE(pos + 24),
      localHeaderOffset: cd.readUInt32LE(pos + 42),
      name: cd.toString('utf8', pos + 46, pos + 46 + nameLength),
    });
    pos += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** Where an entry's data starts, given its 30-byte local header. */
export function localDataOffset(header: Buffer, entry: ZipEntry): number | string {
  if (header.length < 30 || header.readUInt32LE(0) !== LOCAL) return 'bad local header';
  return entry.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
}
