import { inflateRawSync } from 'node:zlib';
import { FormatError, UnsupportedError } from '../errors.js';
import type { ByteSource } from './source.js';

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const MAX_ENTRIES = 100_000;

/**
 * A ZIP archive's central directory (ZIP64 sizes and offsets included). Entry names that would leave
 * the archive's folder (absolute paths, `..` segments, drive letters) are refused when it is opened.
 */
export class ZipArchive {
  private constructor(
    readonly source: ByteSource,
    readonly entries: ZipEntry[],
  ) {}

  static async open(src: ByteSource): Promise<ZipArchive> {
    const file = src.name;
    if (src.size < 22) throw new FormatError(file, `is ${src.size} bytes, too short for a ZIP archive`);
    const tailLen = Math.min(src.size, 65557 + 20);
    const tail = await src.read(src.size - tailLen, tailLen, 'ZIP end of central directory');
    const tv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tv.getUint32(i, true) === 0x06054b50) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0)
      throw new FormatError(
        file,
        'has no ZIP end-of-central-directory record (not a ZIP file, or truncated)',
      );
    let count = tv.getUint16(eocd + 10, true);
    let cdSize = tv.getUint32(eocd + 12, true);
    let cdOffset = tv.getUint32(eocd + 16, true);
    if (
      (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) &&
      eocd >= 20 &&
      tv.getUint32(eocd - 20, true) === 0x07064b50
    ) {
      const z64 = Number(tv.getBigUint64(eocd - 12, true));
      const rec = await src.read(z64, 56, 'ZIP64 end of central directory');
      const rv = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
      if (rv.getUint32(0, true) !== 0x06064b50)
        throw new FormatError(file, 'ZIP64 end-of-central-directory record is damaged');
      count = Number(rv.getBigUint64(32, true));
      cdSize = Number(rv.getBigUint64(40, true));
      cdOffset = Number(rv.getBigUint64(48, true));
    }
    if (count > MAX_ENTRIES)
      throw new FormatError(file, `ZIP claims ${count} entries (at most ${MAX_ENTRIES} accepted)`);
    if (cdOffset + cdSize > src.size)
      throw new FormatError(
        file,
        `ZIP central directory at byte ${cdOffset} (+${cdSize}) lies past the end of the file (truncated)`,
      );
    const cd = await src.read(cdOffset, cdSize, 'ZIP central directory');
    const cv = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
    const entries: ZipEntry[] = [];
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cv.getUint32(p, true) !== 0x02014b50)
        throw new FormatError(file, `ZIP central directory entry ${i} is damaged`);
      const method = cv.getUint16(p + 10, true);
      let compressedSize = cv.getUint32(p + 20, true);
      let size = cv.getUint32(p + 24, true);
      const nameLen = cv.getUint16(p + 28, true);
      const extraLen = cv.getUint16(p + 30, true);
      const commentLen = cv.getUint16(p + 32, true);
      let localHeaderOffset = cv.getUint32(p + 42, true);
      if (p + 46 + nameLen + extraLen + commentLen > cd.length)
        throw new FormatError(file, `ZIP central directory entry ${i} is cut off`);
      const name = Buffer.from(cd.subarray(p + 46, p + 46 + nameLen)).toString('utf8');
      // ZIP64 extended information: 64-bit sizes and offset for the fields set to 0xffffffff.
      for (let e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen; ) {
        const id = cv.getUint16(e, true);
        const len = cv.getUint16(e + 2, true);
        if (id === 0x0001) {
          let q = e + 4;
          if (size === 0xffffffff) {
            size = Number(cv.getBigUint64(q, true));
            q += 8;
          }
          if (compressedSize === 0xffffffff) {
            compressedSize = Number(cv.getBigUint64(q, true));
            q += 8;
          }
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = Number(cv.getBigUint64(q, true));
        }
        e += 4 + len;
      }
      const normalized = name.replace(/\\/g, '/');
      if (
        normalized.startsWith('/') ||
        /^[a-zA-Z]:/.test(normalized) ||
        normalized.split('/').includes('..')
      ) {
        throw new FormatError(file, `ZIP entry '${name}' points outside the archive (path traversal)`);
      }
      entries.push({ name: normalized, method, compressedSize, size, localHeaderOffset });
      p += 46 + nameLen + extraLen + commentLen;
    }
    return new ZipArchive(src, entries);
  }

  find(name: string): ZipEntry | undefined {
    return this.entries.find((e) => e.name === name);
  }

  /** Byte offset of an entry's data (after its local header). */
  async dataOffset(entry: ZipEntry): Promise<number> {
    const h = await this.source.read(entry.localHeaderOffset, 30, `ZIP local header of ${entry.name}`);
    const hv = new DataView(h.buffer, h.byteOffset, h.byteLength);
    if (hv.getUint32(0, true) !== 0x04034b50)
      throw new FormatError(this.source.name, `ZIP local header of '${entry.name}' is damaged`);
    const start = entry.localHeaderOffset + 30 + hv.getUint16(26, true) + hv.getUint16(28, true);
    if (start + entry.compressedSize > this.source.size)
      throw new FormatError(
        this.source.name,
        `ZIP entry '${entry.name}' runs past the end of the file (truncated)`,
      );
    return start;
  }

  /** The whole content of an entry (for metadata files; large rasters are read in place when stored). */
  async read(entry: ZipEntry, maxBytes = 256 * 1024 * 1024): Promise<Uint8Array> {
    if (entry.size > maxBytes)
      throw new FormatError(
        this.source.name,
        `ZIP entry '${entry.name}' is ${entry.size} bytes, more than the ${maxBytes} read into memory`,
      );
    // Deflate adds at most 5 bytes per 16 KiB stored block: more compressed bytes than that is a lie.
    if (entry.compressedSize > entry.size + Math.ceil(entry.size / 16384) * 5 + 1024)
      throw new FormatError(
        this.source.name,
        `ZIP entry '${entry.name}' claims ${entry.compressedSize} compressed bytes for ${entry.size} bytes of content`,
      );
    const start = await this.dataOffset(entry);
    const raw = await this.source.read(start, entry.compressedSize, `ZIP entry ${entry.name}`);
    if (entry.method === 0) return raw;
    if (entry.method !== 8)
      throw new UnsupportedError(
        this.source.name,
        `ZIP entry '${entry.name}' uses compression method ${entry.method} (expected stored or deflate)`,
      );
    try {
      return inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.size) });
    } catch (err) {
      throw new FormatError(
        this.source.name,
        `ZIP entry '${entry.name}' is corrupt: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
}

/** A stored (uncompressed) ZIP entry as a byte source of its own, read in place. */
export class ZipEntrySource implements ByteSource {
  constructor(
    private readonly zip: ZipArchive,
    private readonly start: number,
    readonly size: number,
    readonly name: string,
  ) {}

  async read(offset: number, length: number, what?: string): Promise<Uint8Array> {
    if (offset < 0 || offset + length > this.size)
      throw new FormatError(
        this.name,
        `${what ?? 'data'} at byte ${offset} (+${length} bytes) lies past the end of the ${this.size}-byte entry`,
      );
    return this.zip.source.read(this.start + offset, length, what);
  }

  async readInto(offset: number, length: number, target: Uint8Array, what?: string): Promise<Uint8Array> {
    if (offset < 0 || offset + length > this.size)
      throw new FormatError(
        this.name,
        `${what ?? 'data'} at byte ${offset} (+${length} bytes) lies past the end of the ${this.size}-byte entry`,
      );
    return this.zip.source.readInto(this.start + offset, length, target, what);
  }

  async close(): Promise<void> {}
}
