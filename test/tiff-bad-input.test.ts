import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError, NotFoundError, UnsupportedError, ValidationError } from '../src/errors.js';
import { MemorySource } from '../src/io/source.js';
import { GeoTiff } from '../src/io/tiff/reader.js';
import { FieldType, Tag } from '../src/io/tiff/tags.js';
import { tempDir } from './helpers/gdal.js';
import { replaceTag, tinyTiff } from './helpers/tiny-tiff.js';

const tmp = tempDir('bad-tiff-');
afterAll(() => tmp.cleanup());

function withIfdLoop(): Uint8Array {
  const bytes = tinyTiff();
  const view = new DataView(bytes.buffer);
  const n = view.getUint16(8, true);
  view.setUint32(8 + 2 + n * 12, 8, true); // next IFD points back at the first
  return bytes;
}

function truncatedIfd(): Uint8Array {
  return tinyTiff().subarray(0, 8 + 2 + 12 * 3);
}

function bigTiffHeader(offsetSize: number): Uint8Array {
  const b = new Uint8Array(32);
  const v = new DataView(b.buffer);
  b[0] = 0x49;
  b[1] = 0x49;
  v.setUint16(2, 43, true);
  v.setUint16(4, offsetSize, true);
  v.setBigUint64(8, 16n, true);
  return b;
}

const rows: {
  name: string;
  bytes: () => Uint8Array;
  error: new (...a: never[]) => Error;
  message: RegExp;
}[] = [
  {
    name: 'empty file',
    bytes: () => new Uint8Array(0),
    error: FormatError,
    message: /bad\.tif: is empty \(expected a TIFF header\)/,
  },
  {
    name: 'too short for a header',
    bytes: () => Uint8Array.from([0x49, 0x49, 42]),
    error: FormatError,
    message: /is 3 bytes, too short for a TIFF header/,
  },
  {
    name: 'wrong magic',
    bytes: () => new TextEncoder().encode('GIF89a....'),
    error: FormatError,
    message: /wrong magic bytes 0x47 0x49/,
  },
  {
    name: 'wrong version',
    bytes: () => Uint8Array.from([0x49, 0x49, 41, 0, 8, 0, 0, 0]),
    error: FormatError,
    message: /TIFF version is 41, expected 42/,
  },
  {
    name: 'BigTIFF with offset size 4',
    bytes: () => bigTiffHeader(4),
    error: FormatError,
    message: /BigTIFF offset size is 4, expected 8/,
  },
  {
    name: 'first IFD past the end',
    bytes: () => Uint8Array.from([0x49, 0x49, 42, 0, 0xff, 0xff, 0, 0]),
    error: FormatError,
    message: /IFD #0 entry count at byte 65535 .* lies past the end of the 8-byte file/,
  },
  {
    name: 'no IFD',
    bytes: () => Uint8Array.from([0x49, 0x49, 42, 0, 0, 0, 0, 0]),
    error: FormatError,
    message: /has no image file directory/,
  },
  {
    name: 'truncated IFD',
    bytes: truncatedIfd,
    error: FormatError,
    message: /IFD #0 \(truncated IFD\) at byte 10 .* lies past the end/,
  },
  {
    name: 'loop in the IFD chain',
    bytes: withIfdLoop,
    error: FormatError,
    message: /IFD chain loops back to byte 8/,
  },
  {
    name: 'strip offset past end of file',
    bytes: () => tinyTiff({ patch: (e) => replaceTag(e, Tag.StripOffsets, [1_000_000]) }),
    error: FormatError,
    message: /strip 0 offset 1000000 \(\+12 bytes\) lies past the end of the \d+-byte file/,
  },
  {
    name: '100000 x 100000 header over a tiny file (one strip)',
    bytes: () =>
      tinyTiff({
        patch: (e) =>
          replaceTag(
            replaceTag(replaceTag(e, Tag.ImageWidth, [100000]), Tag.ImageLength, [100000]),
            Tag.RowsPerStrip,
            [100000],
          ),
      }),
    error: FormatError,
    message: /strip 0 needs 10000000000 bytes of pixels but holds only 12 none bytes/,
  },
  {
    name: '100000 x 100000 tiled header over a tiny file',
    bytes: () =>
      tinyTiff({
        patch: (e) => [
          ...replaceTag(replaceTag(e, Tag.ImageWidth, [100000]), Tag.ImageLength, [100000]).filter(
            (x) => x.tag !== Tag.StripOffsets && x.tag !== Tag.StripByteCounts && x.tag !== Tag.RowsPerStrip,
          ),
          { tag: Tag.TileWidth, type: FieldType.Short, values: [256] },
          { tag: Tag.TileLength, type: FieldType.Short, values: [256] },
          { tag: Tag.TileOffsets, type: FieldType.Long, values: [100] },
          { tag: Tag.TileByteCounts, type: FieldType.Long, values: [12] },
        ],
      }),
    error: FormatError,
    message: /has 1 tile offsets and 1 byte counts for 152881 tiles of a 100000 x 100000 image/,
  },
  {
    name: 'JPEG compression',
    bytes: () => tinyTiff({ patch: (e) => replaceTag(e, Tag.Compression, [7]) }),
    error: UnsupportedError,
    message: /compression jpeg \(7\) is not supported \(expected none, DEFLATE, LZW or PackBits\)/,
  },
  {
    name: 'unknown compression',
    bytes: () => tinyTiff({ patch: (e) => replaceTag(e, Tag.Compression, [12345]) }),
    error: UnsupportedError,
    message: /compression unknown\(12345\) \(12345\) is not supported/,
  },
  {
    name: 'missing ImageWidth',
    bytes: () => tinyTiff({ patch: (e) => e.filter((x) => x.tag !== Tag.ImageWidth) }),
    error: FormatError,
    message: /required tag ImageWidth \(256\) is missing/,
  },
  {
    name: 'zero height',
    bytes: () => tinyTiff({ patch: (e) => replaceTag(e, Tag.ImageLength, [0]) }),
    error: FormatError,
    message: /image size 4 x 0 is not positive/,
  },
  {
    name: '12-bit samples',
    bytes: () => tinyTiff({ patch: (e) => replaceTag(e, Tag.BitsPerSample, [12]) }),
    error: UnsupportedError,
    message: /sample format 1 with 12 bits per sample is not supported/,
  },
  {
    name: 'predictor 3 on integers',
    bytes: () =>
      tinyTiff({
        patch: (e) => [
          ...replaceTag(e, Tag.Compression, [8]),
          { tag: Tag.Predictor, type: FieldType.Short, values: [3] },
        ],
      }),
    error: FormatError,
    message: /predictor 3 \(floating point\) is set on uint8 data/,
  },
  {
    name: 'corrupt DEFLATE data',
    bytes: () =>
      tinyTiff({
        patch: (e) => replaceTag(e, Tag.Compression, [8]),
        pixels: Uint8Array.from([0x78, 0x9c, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
      }),
    error: FormatError,
    message: /DEFLATE data is corrupt or larger than its 12-byte block/,
  },
  {
    name: 'undefined LZW code',
    bytes: () =>
      tinyTiff({
        patch: (e) => replaceTag(e, Tag.Compression, [5]),
        pixels: Uint8Array.from([0x80, 0x7f, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0]),
      }),
    error: FormatError,
    message: /LZW code 511 is not yet defined \(next is 258\)/,
  },
  {
    name: 'PackBits run past the block',
    bytes: () =>
      tinyTiff({
        patch: (e) => replaceTag(e, Tag.Compression, [32773]),
        pixels: Uint8Array.from([0x81, 7, 0x81, 7, 0x81, 7, 0x81, 7, 0x81, 7, 0x81, 7]),
      }),
    error: FormatError,
    message: /PackBits repeat run passes the end of its block/,
  },
];

describe('bad TIFF input gets a FormatError naming the file and the problem', () => {
  it.each(rows)('$name', async (row) => {
    const src = new MemorySource('bad.tif', row.bytes());
    const attempt = async () => {
      const tif = await GeoTiff.open(src);
      await tif.read();
    };
    const err = await attempt().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(row.error);
    expect((err as Error).message).toMatch(/^bad\.tif: /);
    expect((err as Error).message).toMatch(row.message);
  });

  it('a tag claiming more values than the file holds', async () => {
    const bytes = tinyTiff();
    const view = new DataView(bytes.buffer);
    view.setUint32(8 + 2 + 4, 0x7fffffff, true); // count of the first entry (ImageWidth)
    const err = await GeoTiff.open(new MemorySource('bad.tif', bytes)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect((err as Error).message).toMatch(
      /bad\.tif: tag 256 claims 2147483647 values \(8589934588 bytes\), more than the \d+-byte file holds/,
    );
  });

  it('a window outside the image or too large to allocate is a ValidationError', async () => {
    const tif = await GeoTiff.open(new MemorySource('ok.tif', tinyTiff()));
    await expect(tif.read({ colOff: 2, rowOff: 0, width: 3, height: 1 })).rejects.toThrow(ValidationError);
    await expect(tif.read(undefined, { maxBytes: 4 })).rejects.toThrow(
      /needs 12 bytes, more than the 4-byte limit; read by window/,
    );
    await expect(tif.read(undefined, { level: 1 })).rejects.toThrow(/overview level 1 does not exist/);
    const v = await tif.read();
    expect(Array.from(v.data)).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });

  it('a missing file is a NotFoundError and a directory a FormatError', async () => {
    await expect(GeoTiff.open(join(tmp.dir, 'nope.tif'))).rejects.toThrow(NotFoundError);
    await expect(GeoTiff.open(tmp.dir)).rejects.toThrow(/is not a regular file/);
    const p = join(tmp.dir, 'empty.tif');
    writeFileSync(p, '');
    await expect(GeoTiff.open(p)).rejects.toThrow(`${p}: is empty (expected a TIFF header)`);
  });
});
