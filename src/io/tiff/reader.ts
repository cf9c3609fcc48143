import { FormatError, ValidationError } from '../../errors.js';
import type { Bbox } from '../../geo/crs.js';
import { isKnownEpsg, lonLatBounds } from '../../geo/crs.js';
import type { GeoTransform } from '../../geo/transform.js';
import { rasterExtent, scaleGeoTransform } from '../../geo/transform.js';
import type { Window } from '../../geo/window.js';
import { assertWindowInside, fullWindow } from '../../geo/window.js';
import type { DataType, TypedArray } from '../../raster/dtype.js';
import { dataTypeInfo, gdalTypeName, isFloat } from '../../raster/dtype.js';
import type { RasterView } from '../../raster/view.js';
import { createRaster } from '../../raster/view.js';
import { checkBudget, DEFAULT_DECODE_BUDGET_BYTES, fmtMiB, MiB } from '../budget.js';
import { forEachLimit } from '../concurrency.js';
import type { ByteSource } from '../source.js';
import { FileSource } from '../source.js';
import type { GdalMetadataItem } from './gdal-metadata.js';
import { parseGdalMetadata } from './gdal-metadata.js';
import { epsgFromGeoKeys, geoTransformFromTags, parseGeoKeys } from './geokeys.js';
import { parseTiffStructure } from './ifd.js';
import type { BlockScratch } from './image.js';
import { TiffImage } from './image.js';
import { Compression, compressionName, Tag } from './tags.js';

/** Band-level facts, from GDAL_METADATA and GDAL_NODATA. */
export interface BandInfo {
  band: number;
  description: string | null;
  scale: number | null;
  offset: number | null;
  metadata: Record<string, string>;
}

/** What `sarbridge info` prints for a GeoTIFF. */
export interface RasterInfo {
  file: string;
  driver: 'GTiff';
  bigTiff: boolean;
  width: number;
  height: number;
  bandCount: number;
  dataType: DataType;
  gdalDataType: string;
  epsg: number | null;
  geoTransform: GeoTransform | null;
  /** Extent in the CRS, [minX, minY, maxX, maxY]. */
  bounds: Bbox | null;
  /** [west, south, east, north], degrees. */
  lonLatBounds: Bbox | null;
  nodata: number | null;
  tiled: boolean;
  blockSize: [number, number];
  compression: string;
  predictor: number;
  interleave: 'pixel' | 'band';
  overviews: { width: number; height: number }[];
  bands: BandInfo[];
  metadata: Record<string, string>;
}

export interface ReadOptions {
  /** 0 = full resolution, i = the i-th overview (decreasing size). The window is in that level's pixels. */
  level?: number;
  /** 0-based band indexes to read; all by default. */
  bands?: number[];
  /** For float data, turn the nodata value into NaN. */
  nodataToNaN?: boolean;
  /** Refuse to allocate more than this many bytes (default 2 GiB). */
  maxBytes?: number;
  /**
   * Bytes one block may decode to, and all blocks decoded at once together (default: the file's
   * decode budget, see GeoTiffOpenOptions). A larger block is refused with a FormatError.
   */
  decodeBudgetBytes?: number;
  /** Blocks decoded at once (default 4). */
  concurrency?: number;
  /** A raster of the window's size, bands and type to read into instead of allocating one. */
  into?: RasterView;
  signal?: AbortSignal;
}

const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;

export interface GeoTiffOpenOptions {
  /**
   * Bytes one block (tile or strip) may decode to, and the blocks one read decodes at once together
   * (default 256 MiB). A file whose blocks decode to more (a "decompression bomb", or a huge single
   * strip) cannot be read at all: read() refuses before decoding.
   */
  decodeBudgetBytes?: number;
}

/** Decode buffers larger than this are not kept between reads. */
const MAX_POOLED_SCRATCH_BYTES = 32 * MiB;

function parseNodata(file: string, v: unknown): number | null {
  if (typeof v !== 'string') return null;
  const s = v.trim().toLowerCase();
  if (s === '') return null;
  if (s === 'nan') return Number.NaN;
  if (s === 'inf' || s === '+inf') return Number.POSITIVE_INFINITY;
  if (s === '-inf') return Number.NEGATIVE_INFINITY;
  const n = Number(s);
  if (Number.isNaN(n)) throw new FormatError(file, `GDAL_NODATA value '${v}' is not a number`);
  return n;
}

/**
 * A GeoTIFF or Cloud-Optimized GeoTIFF opened for windowed reading at any overview level.
 * @example
 * const tif = await GeoTiff.open('scene.tif');
 * const view = await tif.read({ colOff: 0, rowOff: 0, width: 256, height: 256 }, { level: 1 });
 * await tif.close();
 */
export class GeoTiff {
  /** Full resolution first, then overviews by decreasing width. */
  readonly levels: TiffImage[];
  readonly epsg: number | null;
  readonly geoTransform: GeoTransform | null;
  readonly nodata: number | null;
  readonly metadataItems: GdalMetadataItem[];
  /** Decode buffers kept between reads (a read takes one per concurrent block decoder). */
  private readonly scratchPool: BlockScratch[] = [];
  /** Decoded blocks kept between reads (by `level/index`), when a cache is given (see useBlockCache). */
  private blockCache: { get(k: string): Uint8Array | undefined; set(k: string, v: Uint8Array): void } | null =
    null;

  /**
   * Keep decoded blocks in `cache` (shared between files by prefixing keys is the caller's business:
   * give each GeoTiff its own view). A server reading the same blocks again and again (map tiles)
   * then decodes each once.
   */
  useBlockCache(
    cache: { get(k: string): Uint8Array | undefined; set(k: string, v: Uint8Array): void } | null,
  ): void {
    this.blockCache = cache;
  }

  /** Bytes one block may decode to (and one read's concurrent decodes together). */
  readonly decodeBudgetBytes: number;

  private constructor(
    readonly source: ByteSource,
    readonly bigTiff: boolean,
    levels: TiffImage[],
    decodeBudgetBytes: number,
  ) {
    this.levels = levels;
    this.decodeBudgetBytes = decodeBudgetBytes;
    const tags = levels[0].ifd.tags;
    const gk = parseGeoKeys(tags);
    this.epsg = epsgFromGeoKeys(gk);
    this.geoTransform = geoTransformFromTags(tags, gk);
    if (this.geoTransform && !this.geoTransform.every(Number.isFinite)) {
      throw new FormatError(
        source.name,
        `geotransform ${JSON.stringify(this.geoTransform.map(String))} has non-finite values`,
      );
    }
    this.nodata = parseNodata(source.name, tags.get(Tag.GdalNodata));
    const md = tags.get(Tag.GdalMetadata);
    this.metadataItems = typeof md === 'string' ? parseGdalMetadata(md) : [];
  }

  /** Open a file path or a byte source. Throws FormatError for anything that is not a readable TIFF. */
  static async open(src: string | ByteSource, opts: GeoTiffOpenOptions = {}): Promise<GeoTiff> {
    const budget = checkBudget('decodeBudgetBytes', opts.decodeBudgetBytes ?? DEFAULT_DECODE_BUDGET_BYTES);
    const source = typeof src === 'string' ? await FileSource.open(src) : src;
    try {
      const structure = await parseTiffStructure(source);
      const images = structure.ifds.map(
        (ifd) => new TiffImage(source.name, ifd, structure.littleEndian, source.size),
      );
      const main = images[0];
      const overviews = images
        .slice(1)
        .filter(
          (im) =>
            im.isOverview &&
            !im.isMask &&
            im.bands === main.bands &&
            im.dataType === main.dataType &&
            im.width < main.width,
        )
        .sort((a, b) => b.width - a.width);
      return new GeoTiff(source, structure.bigTiff, [main, ...overviews], budget);
    } catch (err) {
      await source.close();
      throw err;
    }
  }

  get width(): number {
    return this.levels[0].width;
  }

  get height(): number {
    return this.levels[0].height;
  }

  get bands(): number {
    return this.levels[0].bands;
  }

  get dataType(): DataType {
    return this.levels[0].dataType;
  }

  /** The geotransform of overview level `level`. */
  levelGeoTransform(level: number): GeoTransform | null {
    if (!this.geoTransform) return null;
    const im = this.levelImage(level);
    return scaleGeoTransform(this.geoTransform, this.width, this.height, im.width, im.height);
  }

  levelImage(level: number): TiffImage {
    const im = this.levels[level];
    if (!Number.isInteger(level) || !im)
      throw new ValidationError(
        `overview level ${level} does not exist (the file has levels 0..${this.levels.length - 1})`,
      );
    return im;
  }

  bandInfo(): BandInfo[] {
    const out: BandInfo[] = [];
    for (let b = 0; b < this.bands; b++) {
      const items = this.metadataItems.filter((it) => it.sample === b && !it.domain);
      const role = (r: string) => items.find((it) => it.role === r)?.value;
      const numOrNull = (s: string | undefined) => (s === undefined || s === '' ? null : Number(s));
      const metadata: Record<string, string> = {};
      for (const it of items) if (!it.role) metadata[it.name] = it.value;
      out.push({
        band: b + 1,
        description: role('description') ?? null,
        scale: numOrNull(role('scale')),
        offset: numOrNull(role('offset')),
        metadata,
      });
    }
    return out;
  }

  info(): RasterInfo {
    const main = this.levels[0];
    const gt = this.geoTransform;
    const metadata: Record<string, string> = {};
    for (const it of this.metadataItems)
      if (it.sample === undefined && !it.domain) metadata[it.name] = it.value;
    return {
      file: this.source.name,
      driver: 'GTiff',
      bigTiff: this.bigTiff,
      width: main.width,
      height: main.height,
      bandCount: main.bands,
      dataType: main.dataType,
      gdalDataType: gdalTypeName(main.dataType),
      epsg: this.epsg,
      geoTransform: gt,
      bounds: gt ? rasterExtent(gt, main.width, main.height) : null,
      lonLatBounds:
        gt && this.epsg !== null && isKnownEpsg(this.epsg)
          ? lonLatBounds(this.epsg, gt, main.width, main.height)
          : null,
      nodata: this.nodata,
      tiled: main.tiled,
      blockSize: [main.blockWidth, main.blockHeight],
      compression: compressionName(main.compression),
      predictor: main.predictor,
      interleave: main.planar === 1 ? 'pixel' : 'band',
      overviews: this.levels.slice(1).map((im) => ({ width: im.width, height: im.height })),
      bands: this.bandInfo(),
      metadata,
    };
  }

  /**
   * Read a window (default: the whole level) into a band-sequential RasterView.
   * Blocks are fetched and decoded concurrently; only the blocks the window touches are read.
   */
  async read(win?: Window, opts: ReadOptions = {}): Promise<RasterView> {
    const level = opts.level ?? 0;
    const im = this.levelImage(level);
    const w = win ?? fullWindow(im.width, im.height);
    assertWindowInside(w, im.width, im.height, `window at level ${level}`);
    const bands = opts.bands ?? Array.from({ length: im.bands }, (_, i) => i);
    for (const b of bands)
      if (!Number.isInteger(b) || b < 0 || b >= im.bands)
        throw new ValidationError(`band index ${b} is outside 0..${im.bands - 1}`);
    const info = dataTypeInfo(im.dataType);
    const bytes = w.width * w.height * bands.length * info.components * info.componentBytes;
    const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    if (bytes > maxBytes) {
      throw new ValidationError(
        `${this.source.name}: reading ${w.width} x ${w.height} x ${bands.length} ${im.dataType} at level ${level} needs ${bytes} bytes, more than the ${maxBytes}-byte limit; read by window`,
      );
    }
    const c0 = Math.floor(w.colOff / im.blockWidth);
    const c1 = Math.floor((w.colOff + w.width - 1) / im.blockWidth);
    const r0 = Math.floor(w.rowOff / im.blockHeight);
    const r1 = Math.floor((w.rowOff + w.height - 1) / im.blockHeight);
    const perBand = im.blocksAcross * im.blocksDown;
    // row0/rows: the part of the block to decode (rows within it), all of it unless split below.
    const jobs: { index: number; bx: number; by: number; bandSlot: number; row0: number; rows: number }[] =
      [];
    for (let by = r0; by <= r1; by++) {
      for (let bx = c0; bx <= c1; bx++) {
        if (im.planar === 1)
          jobs.push({
            index: by * im.blocksAcross + bx,
            bx,
            by,
            bandSlot: -1,
            row0: 0,
            rows: im.blockHeight,
          });
        else {
          for (let slot = 0; slot < bands.length; slot++) {
            jobs.push({
              index: bands[slot] * perBand + by * im.blocksAcross + bx,
              bx,
              by,
              bandSlot: slot,
              row0: 0,
              rows: im.blockHeight,
            });
          }
        }
      }
    }
    // Every block must decode within the budget, and the blocks decoded at once together.
    const budget = checkBudget('decodeBudgetBytes', opts.decodeBudgetBytes ?? this.decodeBudgetBytes);
    let largest = 1;
    for (const job of jobs) {
      const stripRow0 = job.by * im.blockHeight;
      const full = im.blockBytes(im.blockRows(job.index % perBand));
      if (full > budget && im.compression === Compression.None && !im.tiled) {
        // An uncompressed strip is read by rows: only the window's rows of it.
        job.row0 = Math.max(w.rowOff, stripRow0) - stripRow0;
        job.rows =
          Math.min(w.rowOff + w.height, stripRow0 + im.blockRows(job.index % perBand)) - stripRow0 - job.row0;
        const cost = im.blockBytes(job.rows) * (im.predictor === 3 ? 2 : 1);
        if (cost > budget)
          throw new FormatError(
            this.source.name,
            `${job.rows} rows of strip ${job.index} decode to ${fmtMiB(cost)}, over the ${fmtMiB(budget)} decode budget; read a smaller window`,
          );
        largest = Math.max(largest, cost);
      } else largest = Math.max(largest, this.blockCost(im, job.index, budget));
    }
    const concurrency = Math.max(1, Math.min(opts.concurrency ?? 4, Math.floor(budget / largest)));
    const into = opts.into;
    const out =
      into &&
      into.width === w.width &&
      into.height === w.height &&
      into.bands === bands.length &&
      into.dataType === im.dataType
        ? into
        : createRaster(w.width, w.height, bands.length, im.dataType, this.nodata);
    const fill = this.nodata ?? 0;

    const scratches: BlockScratch[] = [];
    for (let i = 0; i < Math.min(concurrency, jobs.length); i++)
      scratches.push(this.scratchPool.pop() ?? { raw: null, out: null });
    try {
      await forEachLimit(
        jobs,
        concurrency,
        async (job, _i, worker) => {
          const key = `${level}/${job.index}`;
          const partial = job.row0 !== 0 || job.rows < im.blockRows(job.index % perBand);
          let blk = partial ? undefined : this.blockCache?.get(key);
          if (partial) {
            blk = await im.decodeStripRows(this.source, job.index, job.row0, job.rows, scratches[worker]);
          } else if (blk === undefined) {
            blk = await im.decodeBlock(this.source, job.index, scratches[worker]);
            // The scratch buffer is reused by the next block: the cache keeps a copy.
            this.blockCache?.set(key, blk.slice());
          }
          const row0 = job.by * im.blockHeight + job.row0;
          copyBlock(im, blk, job.bx, row0, row0 + job.rows, job.bandSlot, bands, w, out.data, fill);
        },
        opts.signal,
      );
    } finally {
      // Keep small decode buffers for the next read; a large one goes back to the garbage collector.
      for (const s of scratches)
        if (
          (s.raw?.length ?? 0) <= MAX_POOLED_SCRATCH_BYTES &&
          (s.out?.length ?? 0) <= MAX_POOLED_SCRATCH_BYTES
        )
          this.scratchPool.push(s);
    }
    if (opts.nodataToNaN && isFloat(im.dataType) && this.nodata !== null && !Number.isNaN(this.nodata)) {
      const d = out.data;
      const nd = this.nodata;
      for (let i = 0; i < d.length; i++) if (d[i] === nd) d[i] = Number.NaN;
    }
    return out;
  }

  /**
   * Bytes decoding block `index` of `im` holds (its compressed bytes, its decoded bytes, and the
   * predictor's output for floating-point prediction); throws a FormatError over `budget`.
   */
  private blockCost(im: TiffImage, index: number, budget: number): number {
    const count = im.byteCounts[index];
    if (im.offsets[index] === 0 && count === 0) return 1; // sparse
    const decoded = im.blockBytes(im.blockRows(index % (im.blocksAcross * im.blocksDown)));
    const kind = im.tiled ? 'tile' : 'strip';
    const file = this.source.name;
    if (decoded > budget)
      throw new FormatError(
        file,
        `${kind} ${index} decodes to ${fmtMiB(decoded)}, over the ${fmtMiB(budget)} decode budget (${im.blockWidth} x ${im.blockRows(index % (im.blocksAcross * im.blocksDown))} pixels of ${im.dataType} in one ${kind}; rewrite it tiled, e.g. with gdal_translate -co TILED=YES)`,
      );
    if (count > budget)
      throw new FormatError(
        file,
        `${kind} ${index} holds ${fmtMiB(count)} of compressed data, over the ${fmtMiB(budget)} decode budget`,
      );
    const compressed = im.compression === Compression.None ? 0 : count;
    return compressed + decoded * (im.predictor === 3 ? 2 : 1);
  }

  async close(): Promise<void> {
    await this.source.close();
  }
}

/**
 * Copy the part of a decoded block that falls in the window into the band-sequential output; `blk`
 * holds image rows blockRow0 to blockRow1 (all of the block, or the rows of a strip read by rows).
 */
function copyBlock(
  im: TiffImage,
  blk: Uint8Array,
  bx: number,
  blockRow0: number,
  blockRow1: number,
  bandSlot: number,
  bands: number[],
  w: Window,
  out: TypedArray,
  fill: number,
): void {
  const comps = im.components;
  const spp = im.blockSamples;
  const x0 = Math.max(w.colOff, bx * im.blockWidth);
  const x1 = Math.min(w.colOff + w.width, (bx + 1) * im.blockWidth);
  const y0 = Math.max(w.rowOff, blockRow0);
  const y1 = Math.min(w.rowOff + w.height, blockRow1);
  const planeLen = w.width * w.height * comps;
  const slots = bandSlot >= 0 ? [bandSlot] : bands.map((_, i) => i);
  if (blk.length === 0) {
    for (const slot of slots) {
      for (let y = y0; y < y1; y++) {
        const o = slot * planeLen + ((y - w.rowOff) * w.width + (x0 - w.colOff)) * comps;
        out.fill(fill, o, o + (x1 - x0) * comps);
      }
    }
    return;
  }
  const Ctor = out.constructor as new (b: ArrayBufferLike, o: number, l: number) => TypedArray;
  const src = new Ctor(blk.buffer, blk.byteOffset, blk.byteLength / im.componentBytes);
  const rowStride = im.blockWidth * spp * comps;
  for (const slot of slots) {
    const sampleIdx = bandSlot >= 0 ? 0 : bands[slot];
    const planeBase = slot * planeLen;
    for (let y = y0; y < y1; y++) {
      const srcRow = (y - blockRow0) * rowStride;
      const dstRow = planeBase + ((y - w.rowOff) * w.width + (x0 - w.colOff)) * comps;
      const xs = x0 - bx * im.blockWidth;
      if (spp === 1) {
        const s = srcRow + xs * comps;
        out.set(src.subarray(s, s + (x1 - x0) * comps), dstRow);
      } else {
        let o = dstRow;
        for (let x = xs, xe = xs + (x1 - x0); x < xe; x++) {
          const s = srcRow + (x * spp + sampleIdx) * comps;
          out[o++] = src[s];
          if (comps === 2) out[o++] = src[s + 1];
        }
      }
    }
  }
}
