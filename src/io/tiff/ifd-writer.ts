import { ValidationError } from '../../errors.js';
import { FieldType } from './tags.js';

/** One tag to write: numeric values of a field type, or an ASCII string. */
export interface TagEntry {
  tag: number;
  type: number;
  values: number[] | string;
}

const SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 7: 1, 12: 8, 16: 8 };

function valueBytes(e: TagEntry): number {
  const n = typeof e.values === 'string' ? Buffer.byteLength(e.values, 'latin1') + 1 : e.values.length;
  return n * SIZE[e.type];
}

function count(e: TagEntry): number {
  return typeof e.values === 'string' ? Buffer.byteLength(e.values, 'latin1') + 1 : e.values.length;
}

/** Bytes an IFD with these entries takes, including its out-of-line values (each padded to even). */
export function ifdSize(entries: TagEntry[], bigTiff: boolean): number {
  const inline = bigTiff ? 8 : 4;
  let size = (bigTiff ? 8 : 2) + entries.length * (bigTiff ? 20 : 12) + (bigTiff ? 8 : 4);
  for (const e of entries) {
    const b = valueBytes(e);
    if (b > inline) size += b + (b & 1);
  }
  return size;
}

function writeValues(view: DataView, pos: number, e: TagEntry): void {
  if (typeof e.values === 'string') {
    const bytes = Buffer.from(e.values, 'latin1');
    for (let i = 0; i < bytes.length; i++) view.setUint8(pos + i, bytes[i]);
    view.setUint8(pos + bytes.length, 0);
    return;
  }
  const v = e.values;
  switch (e.type) {
    case FieldType.Byte:
    case FieldType.Undefined:
      for (let i = 0; i < v.length; i++) view.setUint8(pos + i, v[i]);
      break;
    case FieldType.Short:
      for (let i = 0; i < v.length; i++) view.setUint16(pos + 2 * i, v[i], true);
      break;
    case FieldType.Long:
      for (let i = 0; i < v.length; i++) view.setUint32(pos + 4 * i, v[i], true);
      break;
    case FieldType.Double:
      for (let i = 0; i < v.length; i++) view.setFloat64(pos + 8 * i, v[i], true);
      break;
    case FieldType.Long8:
      for (let i = 0; i < v.length; i++) view.setBigUint64(pos + 8 * i, BigInt(v[i]), true);
      break;
    default:
      throw new ValidationError(`cannot write TIFF field type ${e.type}`);
  }
}

/**
 * Serialise one little-endian IFD at file offset `at` into `view` (whose byte 0 is file offset `base`).
 * Entries are sorted by tag; out-of-line values follow the IFD. Returns the IFD's size.
 */
export function writeIfd(
  view: DataView,
  base: number,
  at: number,
  entries: TagEntry[],
  nextIfd: number,
  bigTiff: boolean,
): number {
  const sorted = [...entries].sort((a, b) => a.tag - b.tag);
  const inline = bigTiff ? 8 : 4;
  const entrySize = bigTiff ? 20 : 12;
  let p = at - base;
  if (bigTiff) view.setBigUint64(p, BigInt(sorted.length), true);
  else view.setUint16(p, sorted.length, true);
  p += bigTiff ? 8 : 2;
  let extra = at - base + (bigTiff ? 8 : 2) + sorted.length * entrySize + (bigTiff ? 8 : 4);
  for (const e of sorted) {
    view.setUint16(p, e.tag, true);
    view.setUint16(p + 2, e.type, true);
    if (bigTiff) view.setBigUint64(p + 4, BigInt(count(e)), true);
    else view.setUint32(p + 4, count(e), true);
    const valuePos = p + (bigTiff ? 12 : 8);
    const b = valueBytes(e);
    if (b <= inline) {
      writeValues(view, valuePos, e);
    } else {
      if (bigTiff) view.setBigUint64(valuePos, BigInt(base + extra), true);
      else view.setUint32(valuePos, base + extra, true);
      writeValues(view, extra, e);
      extra += b + (b & 1);
    }
    p += entrySize;
  }
  if (bigTiff) view.setBigUint64(p, BigInt(nextIfd), true);
  else view.setUint32(p, nextIfd, true);
  return extra - (at - base);
}
