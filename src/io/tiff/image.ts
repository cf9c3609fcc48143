import { FormatError, UnsupportedError } from '../../errors.js';
import type { DataType } from '../../raster/dtype.js';
import { dataTypeInfo } from '../../raster/dtype.js';
import type { ByteSource } from '../source.js';
import { inflateBlock, lzwDecode, unpackBits, unsupportedCompression } from './codecs.js';
import type { Ifd, TagValue } from './ifd.js';
import { swapBytes, undoFloatPredictor, undoHorizontalPredictor } from './predictor.js';
import { Compression, compressionName, SampleFormat, Tag } from './tags.js';

/** Upper bounds on how much one compressed byte can expand, to reject impossible headers early. */
const MAX_EXPANSION: Record<number, number> = { 1: 1, 8: 1100, 32946: 1100, 5: 4096, 32773: 128 };

function num(
  file: string,
  tags: Map<number, TagValue>,
  tag: number,
  name: string,
  fallback?: number,
): number {
  const v = tags.get(tag);
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new FormatError(file, `required tag ${name} (${tag}) is missing`);
  }
  if (!Array.isArray(v) || v.length === 0 || !Number.isFinite(v[0]))
    throw new FormatError(file, `tag ${name} (${tag}) is not a number`);
  return v[0];
}

function arr(file: string, tags: Map<number, TagValue>, tag: number, name: string): number[] | undefined {
  const v = tags.get(tag);
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw new FormatError(file, `tag ${name} (${tag}) is not numeric`);
  return v;
}

function dataTypeOf(file: string, format: number, bits: number): DataType {
  const key = `${format}:${bits}`;
  const map: Record<string, DataType> = {
    '1:8': 'uint8',
    '1:16': 'uint16',
    '1:32': 'uint32',
    '2:8': 'int8',
    '2:16': 'int16',
    '2:32': 'int32',
    '3:32': 'float32',
    '3:64': 'float64',
    '5:32': 'cint16',
    '6:64': 'cfloat32',
  };
  const dt = map[key] ?? (format === 4 && bits === 8 ? 'uint8' : undefined);
  if (!dt)
    throw new UnsupportedError(file, `sample format ${format} with ${bits} bits per sample is not supported`);
  return dt;
}

/** Reusable buffers for decoding blocks (one per concurrent decoder). */
export interface BlockScratch {
  raw: Uint8Array | null;
  out: Uint8Array | null;
}

/** One IFD's raster: its layout, and decoding of its blocks (tiles or strips) to host-order bytes. */
export class TiffImage {
  readonly width: number;
  readonly height: number;
  /** Bands (samples per pixel); a complex sample counts once. */
  readonly bands: number;
  readonly dataType: DataType;
  readonly compression: number;
  readonly predictor: number;
  /** 1 = pixel interleaved (contiguous), 2 = band separate. */
  readonly planar: number;
  readonly tiled: boolean;
  readonly blockWidth: number;
  readonly blockHeight: number;
  readonly blocksAcross: number;
  readonly blocksDown: number;
  readonly offsets: number[];
  readonly byteCounts: number[];
  readonly subfileType: number;
  /** Bytes of one stored component (I or Q for complex). */
  readonly componentBytes: number;
  /** Components per band per pixel: 2 for complex. */
  readonly components: number;

  constructor(
    readonly file: string,
    readonly ifd: Ifd,
    readonly littleEndian: boolean,
    fileSize: number,
  ) {
    const t = ifd.tags;
    this.width = num(file, t, Tag.ImageWidth, 'ImageWidth');
    this.height = num(file, t, Tag.ImageLength, 'ImageLength');
    if (
      !Number.isSafeInteger(this.width) ||
      !Number.isSafeInteger(this.height) ||
      this.width <= 0 ||
      this.height <= 0
    ) {
      throw new FormatError(file, `image size ${this.width} x ${this.height} is not positive`);
    }
    this.subfileType = num(file, t, Tag.NewSubfileType, 'NewSubfileType', 0);
    this.bands = num(file, t, Tag.SamplesPerPixel, 'SamplesPerPixel', 1);
    if (this.bands < 1 || this.bands > 65535)
      throw new FormatError(file, `SamplesPerPixel ${this.bands} is out of range`);
    const bits = arr(file, t, Tag.BitsPerSample, 'BitsPerSample') ?? [1];
    const formats = arr(file, t, Tag.SampleFormat, 'SampleFormat') ?? [SampleFormat.Uint];
    if (bits.some((b) => b !== bits[0]) || formats.some((f) => f !== formats[0])) {
      throw new UnsupportedError(file, 'bands with different bit depths or sample formats are not supported');
    }
    this.dataType = dataTypeOf(file, formats[0], bits[0]);
    const info = dataTypeInfo(this.dataType);
    this.componentBytes = info.componentBytes;
    this.components = info.components;
    this.compression = num(file, t, Tag.Compression, 'Compression', 1);
    this.predictor = num(file, t, Tag.Predictor, 'Predictor', 1);
    this.planar = num(file, t, Tag.PlanarConfiguration, 'PlanarConfiguration', 1);
    if (this.planar !== 1 && this.planar !== 2)
      throw new FormatError(file, `PlanarConfiguration ${this.planar} is not 1 or 2`);
    if (MAX_EXPANSION[this.compression] === undefined)
      unsupportedCompression(file, this.compression, compressionName(this.compression));
    if (this.predictor !== 1 && this.predictor !== 2 && this.predictor !== 3)
      throw new UnsupportedError(file, `predictor ${this.predictor} is not supported (expected 1, 2 or 3)`);
    if (this.predictor === 3 && info.kind !== 'float')
      throw new FormatError(file, `predictor 3 (floating point) is set on ${this.dataType} data`);
    if (this.predictor !== 1 && this.components === 2)
      throw new UnsupportedError(file, 'predictors on complex data are not supported');

    this.tiled = t.has(Tag.TileWidth);
    if (this.tiled) {
      this.blockWidth = num(file, t, Tag.TileWidth, 'TileWidth');
      this.blockHeight = num(file, t, Tag.TileLength, 'TileLength');
      this.offsets = arr(file, t, Tag.TileOffsets, 'TileOffsets') ?? [];
      this.byteCounts = arr(file, t, Tag.TileByteCounts, 'TileByteCounts') ?? [];
    } else {
      this.blockWidth = this.width;
      const rps = num(file, t, Tag.RowsPerStrip, 'RowsPerStrip', this.height);
      this.blockHeight = Math.min(Math.max(1, rps), this.height);
      this.offsets = arr(file, t, Tag.StripOffsets, 'StripOffsets') ?? [];
      this.byteCounts = arr(file, t, Tag.StripByteCounts, 'StripByteCounts') ?? [];
    }
    if (
      this.blockWidth <= 0 ||
      this.blockHeight <= 0 ||
      this.blockWidth > 1 << 20 ||
      this.blockHeight > 1 << 24
    ) {
      throw new FormatError(file, `block size ${this.blockWidth} x ${this.blockHeight} is out of range`);
    }
    this.blocksAcross = Math.ceil(this.width / this.blockWidth);
    this.blocksDown = Math.ceil(this.height / this.blockHeight);
    const expected = this.blocksAcross * this.blocksDown * (this.planar === 2 ? this.bands : 1);
    const kind = this.tiled ? 'tile' : 'strip';
    if (this.offsets.length < expected || this.byteCounts.length < expected) {
      throw new FormatError(
        file,
        `has ${this.offsets.length} ${kind} offsets and ${this.byteCounts.length} byte counts for ${expected} ${kind}s of a ${this.width} x ${this.height} image`,
      );
    }
    const maxExpansion = MAX_EXPANSION[this.compression];
    const fullBlock = this.blockBytes(this.blockHeight);
    for (let i = 0; i < expected; i++) {
      const off = this.offsets[i];
      const n = this.byteCounts[i];
      if (off === 0 && n === 0) continue; // sparse block
      if (!Number.isSafeInteger(off) || !Number.isSafeInteger(n) || off < 0 || n < 0 || off + n > fileSize) {
        throw new FormatError(
          file,
          `${kind} ${i} offset ${off} (+${n} bytes) lies past the end of the ${fileSize}-byte file`,
        );
      }
      const rows = this.blockRows(i % (this.blocksAcross * this.blocksDown));
      const need =
        this.compression === Compression.None
          ? this.blockBytes(rows)
          : Math.min(fullBlock, this.blockBytes(rows));
      if (need > n * maxExpansion + 1024) {
        throw new FormatError(
          file,
          `${kind} ${i} needs ${need} bytes of pixels but holds only ${n} ${compressionName(this.compression)} bytes`,
        );
      }
    }
  }

  get isOverview(): boolean {
    return (this.subfileType & 1) === 1;
  }

  get isMask(): boolean {
    return (this.subfileType & 4) === 4;
  }

  /** Samples per pixel within one block (1 when bands are stored separately). */
  get blockSamples(): number {
    return this.planar === 1 ? this.bands : 1;
  }

  /** Bytes of a block of `rows` rows, decoded. */
  blockBytes(rows: number): number {
    return this.blockWidth * rows * this.blockSamples * this.components * this.componentBytes;
  }

  /** Rows actually present in block `index` (strips at the bottom may be short). */
  blockRows(index: number): number {
    if (this.tiled) return this.blockHeight;
    const row = Math.floor(index / this.blocksAcross);
    return Math.min(this.blockHeight, this.height - row * this.blockHeight);
  }

  /**
   * Decoded, host-order bytes of block `index` (band-separate blocks count after each other).
   * With `scratch`, reads and predictor work reuse its buffers: the result may alias them and is
   * valid only until the scratch is used again.
   */
  async decodeBlock(src: ByteSource, index: number, scratch?: BlockScratch): Promise<Uint8Array> {
    const file = this.file;
    const rows = this.blockRows(index % (this.blocksAcross * this.blocksDown));
    const size = this.blockBytes(rows);
    const off = this.offsets[index];
    const count = this.byteCounts[index];
    if (off === 0 && count === 0) return new Uint8Array(0); // sparse: caller fills
    let raw: Uint8Array;
    if (scratch) {
      const want = Math.max(count, this.compression === Compression.None ? size : 0);
      if (scratch.raw === null || scratch.raw.length < want) scratch.raw = new Uint8Array(want);
      raw = await src.readInto(off, count, scratch.raw, `block ${index}`);
    } else {
      raw = await src.read(off, count, `block ${index}`);
    }
    let buf: Uint8Array;
    switch (this.compression) {
      case Compression.None:
        if (scratch) buf = raw;
        else {
          buf = new Uint8Array(size);
          buf.set(raw.subarray(0, size));
        }
        break;
      case Compression.Deflate:
      case Compression.AdobeDeflateOld:
        buf = await inflateBlock(file, raw, size);
        break;
      case Compression.Lzw:
        buf = lzwDecode(file, raw, size);
        break;
      case Compression.PackBits:
        buf = unpackBits(file, raw, size);
        break;
      default:
        unsupportedCompression(file, this.compression, compressionName(this.compression));
    }
    if (buf.length < size)
      throw new FormatError(file, `block ${index} decodes to ${buf.length} bytes, expected ${size}`);
    return this.finishRows(buf, rows, size, scratch);
  }

  /**
   * Rows `row0` to `row0 + rows` of uncompressed strip `index`, decoded: only those rows' bytes are
   * read, so a strip larger than the decode budget can still be read by window.
   */
  async decodeStripRows(
    src: ByteSource,
    index: number,
    row0: number,
    rows: number,
    scratch?: BlockScratch,
  ): Promise<Uint8Array> {
    if (this.compression !== Compression.None || this.tiled)
      throw new Error('internal: decodeStripRows reads uncompressed strips only');
    const rowBytes = this.blockBytes(1);
    const size = rowBytes * rows;
    const off = this.offsets[index] + row0 * rowBytes;
    let buf: Uint8Array;
    if (scratch) {
      if (scratch.raw === null || scratch.raw.length < size) scratch.raw = new Uint8Array(size);
      buf = await src.readInto(off, size, scratch.raw, `rows ${row0}+${rows} of strip ${index}`);
    } else buf = await src.read(off, size, `rows ${row0}+${rows} of strip ${index}`);
    return this.finishRows(buf, rows, size, scratch);
  }

  /** Host byte order and predictor undone, in place or into the scratch's second buffer. */
  private finishRows(b: Uint8Array, rows: number, size: number, scratch?: BlockScratch): Uint8Array {
    const file = this.file;
    let buf = b;
    if ((buf.byteOffset & 7) !== 0) buf = new Uint8Array(buf.subarray(0, size));
    const rowSamples = this.blockWidth * this.blockSamples * this.components;
    if (this.predictor === 3) {
      let out: Uint8Array;
      if (scratch) {
        if (scratch.out === null || scratch.out.length < size) scratch.out = new Uint8Array(size);
        out = scratch.out.subarray(0, size);
      } else out = new Uint8Array(size);
      undoFloatPredictor(buf, out, rows, rowSamples, this.componentBytes, this.blockSamples);
      return out;
    }
    if (!this.littleEndian && this.componentBytes > 1) swapBytes(buf.subarray(0, size), this.componentBytes);
    if (this.predictor === 2)
      undoHorizontalPredictor(
        file,
        buf.subarray(0, size),
        rows,
        rowSamples,
        this.componentBytes,
        this.blockSamples,
      );
    return buf;
  }
}
