import { FormatError } from '../../errors.js';
import type { ByteSource } from '../source.js';
import { FIELD_TYPE_SIZE, FieldType } from './tags.js';

/** A decoded tag value: numbers for numeric types, a string for ASCII. */
export type TagValue = number[] | string;

export interface Ifd {
  /** Byte offset of the IFD in the file. */
  offset: number;
  tags: Map<number, TagValue>;
}

export interface TiffStructure {
  littleEndian: boolean;
  bigTiff: boolean;
  ifds: Ifd[];
}

/** Limits that keep a malformed header from costing more than the file justifies. */
const MAX_IFDS = 4096;
const MAX_ENTRIES = 4096;
const PREFETCH = 64 * 1024;

/** Reads the file's first bytes once, so the IFDs of a COG cost one read. */
class HeaderCache {
  private head: Uint8Array | null = null;
  constructor(private readonly src: ByteSource) {}

  async get(offset: number, length: number, what: string): Promise<Uint8Array> {
    if (this.head === null) this.head = await this.src.read(0, Math.min(this.src.size, PREFETCH), 'header');
    if (offset >= 0 && offset + length <= this.head.length)
      return this.head.subarray(offset, offset + length);
    if (offset < 0 || offset + length > this.src.size) {
      throw new FormatError(
        this.src.name,
        `${what} at byte ${offset} (+${length} bytes) lies past the end of the ${this.src.size}-byte file`,
      );
    }
    return this.src.read(offset, length, what);
  }
}

function dv(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function readUint64(view: DataView, pos: number, le: boolean, file: string, what: string): number {
  const v = view.getBigUint64(pos, le);
  if (v > BigInt(Number.MAX_SAFE_INTEGER))
    throw new FormatError(file, `${what} ${v} is larger than any file`);
  return Number(v);
}

function decodeValues(
  bytes: Uint8Array,
  type: number,
  count: number,
  le: boolean,
  file: string,
  tag: number,
): TagValue {
  if (type === FieldType.Ascii) {
    let end = bytes.indexOf(0);
    if (end < 0) end = bytes.length;
    return Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('latin1');
  }
  const view = dv(bytes);
  const out = new Array<number>(count);
  switch (type) {
    case 1:
    case 7:
      for (let i = 0; i < count; i++) out[i] = bytes[i];
      break;
    case 6:
      for (let i = 0; i < count; i++) out[i] = view.getInt8(i);
      break;
    case 3:
      for (let i = 0; i < count; i++) out[i] = view.getUint16(i * 2, le);
      break;
    case 8:
      for (let i = 0; i < count; i++) out[i] = view.getInt16(i * 2, le);
      break;
    case 4:
    case 13:
      for (let i = 0; i < count; i++) out[i] = view.getUint32(i * 4, le);
      break;
    case 9:
      for (let i = 0; i < count; i++) out[i] = view.getInt32(i * 4, le);
      break;
    case 5:
      for (let i = 0; i < count; i++) out[i] = view.getUint32(i * 8, le) / view.getUint32(i * 8 + 4, le);
      break;
    case 10:
      for (let i = 0; i < count; i++) out[i] = view.getInt32(i * 8, le) / view.getInt32(i * 8 + 4, le);
      break;
    case 11:
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, le);
      break;
    case 12:
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, le);
      break;
    case 16:
    case 18:
      for (let i = 0; i < count; i++) out[i] = readUint64(view, i * 8, le, file, `tag ${tag} value`);
      break;
    case 17:
      for (let i = 0; i < count; i++) out[i] = Number(view.getBigInt64(i * 8, le));
      break;
    default:
      throw new FormatError(file, `tag ${tag} has unknown field type ${type}`);
  }
  return out;
}

/**
 * Parse the TIFF or BigTIFF header and the whole IFD chain. Every offset and count is checked
 * against the file size before anything is read or allocated; a loop in the chain is an error.
 */
export async function parseTiffStructure(src: ByteSource): Promise<TiffStructure> {
  const file = src.name;
  if (src.size === 0) throw new FormatError(file, 'is empty (expected a TIFF header)');
  if (src.size < 8)
    throw new FormatError(file, `is ${src.size} bytes, too short for a TIFF header (8 bytes)`);
  const cache = new HeaderCache(src);
  const head = await cache.get(0, Math.min(16, src.size), 'TIFF header');
  const hv = dv(head);
  let le: boolean;
  if (head[0] === 0x49 && head[1] === 0x49) le = true;
  else if (head[0] === 0x4d && head[1] === 0x4d) le = false;
  else
    throw new FormatError(
      file,
      `wrong magic bytes 0x${head[0].toString(16)} 0x${head[1].toString(16)} (expected 'II' or 'MM' of a TIFF file)`,
    );
  const version = hv.getUint16(2, le);
  let bigTiff: boolean;
  let firstIfd: number;
  if (version === 42) {
    bigTiff = false;
    firstIfd = hv.getUint32(4, le);
  } else if (version === 43) {
    if (src.size < 16) throw new FormatError(file, 'is too short for a BigTIFF header (16 bytes)');
    bigTiff = true;
    if (hv.getUint16(4, le) !== 8)
      throw new FormatError(file, `BigTIFF offset size is ${hv.getUint16(4, le)}, expected 8`);
    firstIfd = readUint64(hv, 8, le, file, 'first IFD offset');
  } else {
    throw new FormatError(file, `TIFF version is ${version}, expected 42 (TIFF) or 43 (BigTIFF)`);
  }

  const countSize = bigTiff ? 8 : 2;
  const entrySize = bigTiff ? 20 : 12;
  const inlineSize = bigTiff ? 8 : 4;
  const ifds: Ifd[] = [];
  const seen = new Set<number>();
  let next = firstIfd;
  if (next === 0) throw new FormatError(file, 'has no image file directory (first IFD offset is 0)');
  while (next !== 0) {
    if (seen.has(next)) throw new FormatError(file, `IFD chain loops back to byte ${next}`);
    if (ifds.length >= MAX_IFDS) throw new FormatError(file, `has more than ${MAX_IFDS} IFDs`);
    seen.add(next);
    const cntBytes = await cache.get(next, countSize, `IFD #${ifds.length} entry count`);
    const count = bigTiff
      ? readUint64(dv(cntBytes), 0, le, file, 'IFD entry count')
      : dv(cntBytes).getUint16(0, le);
    if (count === 0 || count > MAX_ENTRIES)
      throw new FormatError(
        file,
        `IFD #${ifds.length} at byte ${next} has ${count} entries (expected 1..${MAX_ENTRIES})`,
      );
    const body = await cache.get(
      next + countSize,
      count * entrySize + inlineSize,
      `IFD #${ifds.length} (truncated IFD)`,
    );
    const bv = dv(body);
    const tags = new Map<number, TagValue>();
    for (let i = 0; i < count; i++) {
      const p = i * entrySize;
      const tag = bv.getUint16(p, le);
      const type = bv.getUint16(p + 2, le);
      const n = bigTiff ? readUint64(bv, p + 4, le, file, `tag ${tag} count`) : bv.getUint32(p + 4, le);
      const size = FIELD_TYPE_SIZE[type];
      if (size === undefined) continue; // unknown field types are skipped, as libtiff does
      const total = size * n;
      if (total > src.size)
        throw new FormatError(
          file,
          `tag ${tag} claims ${n} values (${total} bytes), more than the ${src.size}-byte file holds`,
        );
      let bytes: Uint8Array;
      if (total <= inlineSize) {
        bytes = body.subarray(p + (bigTiff ? 12 : 8), p + (bigTiff ? 12 : 8) + total);
      } else {
        const off = bigTiff ? readUint64(bv, p + 12, le, file, `tag ${tag} offset`) : bv.getUint32(p + 8, le);
        bytes = await cache.get(off, total, `tag ${tag} values`);
      }
      tags.set(tag, decodeValues(bytes, type, n, le, file, tag));
    }
    ifds.push({ offset: next, tags });
    next = bigTiff
      ? readUint64(bv, count * entrySize, le, file, 'next IFD offset')
      : bv.getUint32(count * entrySize, le);
  }
  return { littleEndian: le, bigTiff, ifds };
}
