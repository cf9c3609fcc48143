import type { TagEntry } from '../../src/io/tiff/ifd-writer.js';
import { ifdSize, writeIfd } from '../../src/io/tiff/ifd-writer.js';
import { FieldType, Tag } from '../../src/io/tiff/tags.js';

/**
 * A hand-made little-endian TIFF for bad-input tests: an 8-bit image of `width` x `height` in one strip
 * after the IFD. `patch` edits the entries (drop, replace or add) before writing.
 */
export function tinyTiff(
  opts: {
    width?: number;
    height?: number;
    patch?: (entries: TagEntry[]) => TagEntry[];
    pixels?: Uint8Array;
  } = {},
): Uint8Array {
  const width = opts.width ?? 4;
  const height = opts.height ?? 3;
  const pixels = opts.pixels ?? Uint8Array.from({ length: width * height }, (_, i) => i);
  const entriesFor = (dataOffset: number): TagEntry[] => {
    const base: TagEntry[] = [
      { tag: Tag.ImageWidth, type: FieldType.Long, values: [width] },
      { tag: Tag.ImageLength, type: FieldType.Long, values: [height] },
      { tag: Tag.BitsPerSample, type: FieldType.Short, values: [8] },
      { tag: Tag.Compression, type: FieldType.Short, values: [1] },
      { tag: Tag.Photometric, type: FieldType.Short, values: [1] },
      { tag: Tag.StripOffsets, type: FieldType.Long, values: [dataOffset] },
      { tag: Tag.SamplesPerPixel, type: FieldType.Short, values: [1] },
      { tag: Tag.RowsPerStrip, type: FieldType.Long, values: [height] },
      { tag: Tag.StripByteCounts, type: FieldType.Long, values: [pixels.length] },
    ];
    return opts.patch ? opts.patch(base) : base;
  };
  const size = ifdSize(entriesFor(0), false);
  const dataOffset = 8 + size + (size & 1);
  const entries = entriesFor(dataOffset);
  const out = new Uint8Array(dataOffset + pixels.length);
  const view = new DataView(out.buffer);
  out[0] = 0x49;
  out[1] = 0x49;
  view.setUint16(2, 42, true);
  view.setUint32(4, 8, true);
  writeIfd(view, 0, 8, entries, 0, false);
  out.set(pixels, dataOffset);
  return out;
}

export function replaceTag(entries: TagEntry[], tag: number, values: number[], type?: number): TagEntry[] {
  return entries.map((e) => (e.tag === tag ? { ...e, values, type: type ?? e.type } : e));
}
