import { open } from 'node:fs/promises';
import zlib from 'node:zlib';
import { geoKeyDirectoryFor } from '../../src/io/tiff/geokeys.js';
import type { TagEntry } from '../../src/io/tiff/ifd-writer.js';
import { ifdSize, writeIfd } from '../../src/io/tiff/ifd-writer.js';
import { FieldType, Tag } from '../../src/io/tiff/tags.js';

/** A geotransform of 10 m pixels in UTM 31N near 3 E, 45 N, north up. */
export const BOMB_EPSG = 32631;
export const BOMB_GEOTRANSFORM = [500_000, 10, 0, 5_000_000, 0, -10] as const;

/** Georeferenced float32 single-strip TIFF tags (strip offset and byte count given). */
function entries(
  width: number,
  height: number,
  compression: number,
  offset: number,
  count: number,
): TagEntry[] {
  const gt = BOMB_GEOTRANSFORM;
  return [
    { tag: Tag.ImageWidth, type: FieldType.Long, values: [width] },
    { tag: Tag.ImageLength, type: FieldType.Long, values: [height] },
    { tag: Tag.BitsPerSample, type: FieldType.Short, values: [32] },
    { tag: Tag.Compression, type: FieldType.Short, values: [compression] },
    { tag: Tag.Photometric, type: FieldType.Short, values: [1] },
    { tag: Tag.StripOffsets, type: FieldType.Long, values: [offset] },
    { tag: Tag.SamplesPerPixel, type: FieldType.Short, values: [1] },
    { tag: Tag.RowsPerStrip, type: FieldType.Long, values: [height] },
    { tag: Tag.StripByteCounts, type: FieldType.Long, values: [count] },
    { tag: Tag.SampleFormat, type: FieldType.Short, values: [3] },
    { tag: Tag.ModelPixelScale, type: FieldType.Double, values: [gt[1], -gt[5], 0] },
    { tag: Tag.ModelTiepoint, type: FieldType.Double, values: [0, 0, 0, gt[0], gt[3], 0] },
    { tag: Tag.GeoKeyDirectory, type: FieldType.Short, values: geoKeyDirectoryFor(BOMB_EPSG) },
  ];
}

function header(ifd: TagEntry[], dataOffset: number): Buffer {
  const head = Buffer.alloc(dataOffset);
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  head.write('II', 0, 'latin1');
  view.setUint16(2, 42, true);
  view.setUint32(4, 8, true);
  writeIfd(view, 0, 8, ifd, 0, false);
  return head;
}

/**
 * A "decompression bomb": a georeferenced float32 TIFF of `width` x `height` (default 16384 x 16384)
 * in ONE DEFLATE strip of zeros. 1 GiB of pixels compress to about 1 MB, which passes a per-byte
 * expansion check; a reader that decodes the strip whole takes 1 GiB per decode. The zeros are
 * compressed in 1 MiB pieces, so writing it never holds more than that.
 */
export async function writeDeflateBomb(path: string, width = 16384, height = 16384): Promise<number> {
  const decoded = width * height * 4;
  const chunks: Buffer[] = [];
  const deflate = zlib.createDeflate({ level: 9 });
  deflate.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    deflate.on('end', resolve);
    deflate.on('error', reject);
  });
  const zeros = Buffer.alloc(1024 * 1024);
  for (let left = decoded; left > 0; left -= zeros.length) {
    const piece = left >= zeros.length ? zeros : zeros.subarray(0, left);
    if (!deflate.write(piece)) await new Promise((r) => deflate.once('drain', r));
  }
  deflate.end();
  await done;
  const data = Buffer.concat(chunks);
  const size = ifdSize(entries(width, height, 8, 0, 0), false);
  const dataOffset = 8 + size + (size & 1);
  const fh = await open(path, 'w');
  try {
    await fh.write(header(entries(width, height, 8, dataOffset, data.length), dataOffset), 0, dataOffset, 0);
    await fh.write(data, 0, data.length, dataOffset);
  } finally {
    await fh.close();
  }
  return dataOffset + data.length;
}

/**
 * A georeferenced float32 TIFF whose ONE DEFLATE strip declares `width` x `height` but inflates to
 * `actualBytes` (more than declared when actualBytes is larger): the inflater must stop at the
 * declared size.
 */
export async function writeLyingDeflateStrip(
  path: string,
  width: number,
  height: number,
  actualBytes: number,
): Promise<void> {
  const data = zlib.deflateSync(Buffer.alloc(actualBytes, 1));
  const size = ifdSize(entries(width, height, 8, 0, 0), false);
  const dataOffset = 8 + size + (size & 1);
  const fh = await open(path, 'w');
  try {
    await fh.write(header(entries(width, height, 8, dataOffset, data.length), dataOffset), 0, dataOffset, 0);
    await fh.write(data, 0, data.length, dataOffset);
  } finally {
    await fh.close();
  }
}

/**
 * A georeferenced float32 TIFF of `width` x `height` in ONE uncompressed strip, written sparse (the
 * pixels are a hole of zeros, so a 1 GiB image takes no disk), with `rows` of values `row + 1` at
 * the rows listed (to check what a windowed read returns).
 */
export async function writeSparseUncompressedStrip(
  path: string,
  width: number,
  height: number,
  rows: number[] = [],
): Promise<void> {
  const size = ifdSize(entries(width, height, 1, 0, 0), false);
  const dataOffset = 8 + size + (size & 1);
  const bytes = width * height * 4;
  const fh = await open(path, 'w');
  try {
    await fh.write(header(entries(width, height, 1, dataOffset, bytes), dataOffset), 0, dataOffset, 0);
    const line = new Float32Array(width);
    for (const r of rows) {
      line.fill(r + 1);
      await fh.write(new Uint8Array(line.buffer), 0, width * 4, dataOffset + r * width * 4);
    }
    await fh.truncate(dataOffset + bytes);
  } finally {
    await fh.close();
  }
}
