import { randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { open, readdir, rename, rm, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import zlib from 'node:zlib';
import { ValidationError } from '../../errors.js';
import type { GeoTransform } from '../../geo/transform.js';
import type { DataType } from '../../raster/dtype.js';
import { dataTypeInfo } from '../../raster/dtype.js';
import type { KernelPool } from '../../raster/kernel-pool.js';
import type { OverviewResampling } from '../../raster/overview.js';
import { overviewSizes, reduceRows, reductionWindows } from '../../raster/overview.js';
import type { ValueStatistics } from '../../raster/stats.js';
import { emptyValueStatistics, mergeValueStatistics, valueStatistics } from '../../raster/stats.js';
import type { RasterView } from '../../raster/view.js';
import { createRaster, cropRaster, rasterFrom } from '../../raster/view.js';
import { releaseShortLivedBuffers } from '../../util/memory.js';
import { deflateBlock, lzwEncode } from './codecs.js';
import type { GdalMetadataItem } from './gdal-metadata.js';
import { buildGdalMetadata } from './gdal-metadata.js';
import { geoKeyDirectoryFor } from './geokeys.js';
import type { TagEntry } from './ifd-writer.js';
import { ifdSize, writeIfd } from './ifd-writer.js';
import { applyFloatPredictor, applyHorizontalPredictor } from './predictor.js';
import { Compression, FieldType, SampleFormat, Tag } from './tags.js';

export type CogCompression = 'deflate' | 'lzw' | 'none';

export interface CogOptions {
  compression?: CogCompression;
  /** DEFLATE level 1-9 (default 6, as GDAL). */
  level?: number;
  /**
   * DEFLATE encoder strategy. 'default' is zlib's LZ77 + Huffman at `level`; 'huffman' entropy-codes
   * only (4x faster, a few % larger on noisy data); 'auto' (default) uses 'huffman' for floating-point
   * data with predictor 3, whose low mantissa planes of SAR speckle are noise LZ77 cannot shorten,
   * and 'default' otherwise. Every strategy writes standard DEFLATE streams any reader decodes.
   */
  deflateStrategy?: 'auto' | 'default' | 'huffman' | 'rle';
  /** 'auto': 2 for integers, 3 for floats, 1 for complex. */
  predictor?: 'auto' | 1 | 2 | 3;
  /** Tile size in pixels, a multiple of 16 (default 512). */
  blockSize?: number;
  /** 'auto' halves until the smallest level fits one tile; a number caps the count. */
  overviews?: 'auto' | 'none' | number;
  resampling?: OverviewResampling;
  /** 'auto' writes BigTIFF only when a classic TIFF cannot hold the file. */
  bigTiff?: 'auto' | 'yes' | 'no';
  /** Compute per-band statistics into GDAL_METADATA (default true). */
  statistics?: boolean;
  /** Tiles compressed at once on the thread pool (default 4, libuv's pool size). */
  concurrency?: number;
  /**
   * Worker threads that share the first overview's reduction of strips in shared memory (as sources
   * computing on the same pool produce them); without it, or for other strips, this thread reduces.
   */
  pool?: KernelPool;
  signal?: AbortSignal;
}

export interface BandMetadata {
  description?: string | null;
  scale?: number | null;
  offset?: number | null;
  metadata?: Record<string, string>;
}

/** Georeferencing and descriptive metadata of the raster being written. */
export interface CogMetadata {
  epsg?: number | null;
  geoTransform?: GeoTransform | null;
  nodata?: number | null;
  bands?: BandMetadata[];
  metadata?: Record<string, string>;
  /** TIFFTAG_IMAGEDESCRIPTION (some readers, such as Orfeo ToolBox for Sentinel-1, key on it). */
  imageDescription?: string;
}

/** A raster produced strip by strip, so it never has to fit in memory. */
export interface StripSource {
  width: number;
  height: number;
  bands: number;
  dataType: DataType;
  /**
   * Rows [rowOff, rowOff + rows) of all bands, full width, band-sequential. Called in row order;
   * the writer is done with a returned view before it asks for the next, so sources may reuse it.
   * A source that computed the strip's statistics per band (as valueStatistics would, with the
   * raster's nodata) may attach them, saving the writer a pass over the pixels.
   */
  readRows(
    rowOff: number,
    rows: number,
  ):
    | Promise<RasterView & { statistics?: ValueStatistics[] }>
    | (RasterView & { statistics?: ValueStatistics[] });
}

export interface CogWriteResult {
  path: string;
  bytes: number;
  bigTiff: boolean;
  levels: { width: number; height: number }[];
  statistics: BandStatistics[] | null;
}

export interface BandStatistics {
  min: number;
  max: number;
  mean: number;
  stdDev: number;
  validPercent: number;
}

/** A strip source over a raster in memory. */
export function stripSourceFromView(view: RasterView): StripSource {
  return {
    width: view.width,
    height: view.height,
    bands: view.bands,
    dataType: view.dataType,
    readRows: (rowOff, rows) => {
      if (view.bands === 1 && rowOff === 0 && rows === view.height) return view;
      const comps = dataTypeInfo(view.dataType).components;
      if (view.bands === 1) {
        const sub = view.data.subarray(rowOff * view.width * comps, (rowOff + rows) * view.width * comps);
        return rasterFrom(sub, view.width, rows, view.dataType, 1, view.nodata ?? null);
      }
      return cropRaster(view, { colOff: 0, rowOff, width: view.width, height: rows });
    },
  };
}

class StatsAccumulator {
  private readonly parts: ValueStatistics[];

  constructor(
    private readonly bands: number,
    private readonly nodata: number | null,
  ) {
    this.parts = Array.from({ length: bands }, () => emptyValueStatistics());
  }

  /** Add a strip: its own statistics when its source computed them, else a pass over its pixels. */
  add(v: RasterView & { statistics?: ValueStatistics[] }): void {
    const plane = v.width * v.height;
    for (let b = 0; b < this.bands; b++) {
      const part = v.statistics?.[b] ?? valueStatistics(v.data, b * plane, (b + 1) * plane, this.nodata);
      this.parts[b] = mergeValueStatistics([this.parts[b], part]);
    }
  }

  result(): BandStatistics[] {
    return this.parts.map((p) => {
      const n = p.valid;
      const mean = n > 0 ? p.sum / n : Number.NaN;
      const variance = n > 0 ? Math.max(0, p.sumSq / n - mean * mean) : Number.NaN;
      return {
        min: p.min,
        max: p.max,
        mean,
        stdDev: Math.sqrt(variance),
        validPercent: p.total > 0 ? (100 * n) / p.total : 0,
      };
    });
  }
}

interface Encoding {
  compression: CogCompression;
  level: number;
  strategy: number;
  predictor: 1 | 2 | 3;
  dataType: DataType;
  bands: number;
  blockSize: number;
}

/**
 * Interleave one tile of `rows` (band-sequential, full level width) into `out` as the TIFF stores it,
 * pixel-interleaved, with the predictor applied. `scratch` is a second tile-sized buffer for the
 * predictor-3 byte shuffle.
 */
function prepareTile(
  enc: Encoding,
  rows: RasterView,
  tx: number,
  out: Uint8Array,
  scratch: () => Uint8Array,
): void {
  const info = dataTypeInfo(enc.dataType);
  const bs = enc.blockSize;
  const comps = info.components;
  const spp = enc.bands;
  const cb = info.componentBytes;
  const x0 = tx * bs;
  const w = Math.min(bs, rows.width - x0);
  const h = rows.height;
  const src = rows.data;
  const rowSamples = bs * spp * comps;
  if (w < bs || h < bs) out.fill(0);
  const tile = new info.array(out.buffer, out.byteOffset, bs * bs * spp * comps);
  const plane = rows.width * h * comps;
  if (spp === 1) {
    for (let r = 0; r < h; r++) {
      const s = (r * rows.width + x0) * comps;
      tile.set(src.subarray(s, s + w * comps), r * bs * comps);
    }
  } else {
    for (let b = 0; b < spp; b++) {
      for (let r = 0; r < h; r++) {
        let s = b * plane + (r * rows.width + x0) * comps;
        let o = (r * bs * spp + b) * comps;
        for (let x = 0; x < w; x++) {
          for (let c = 0; c < comps; c++) tile[o + c] = src[s + c];
          s += comps;
          o += spp * comps;
        }
      }
    }
  }
  if (enc.predictor === 2) applyHorizontalPredictor('(tile)', out, bs, rowSamples, cb, spp);
  else if (enc.predictor === 3) {
    const tmp = scratch();
    tmp.set(out);
    applyFloatPredictor(tmp, out, bs, rowSamples, cb, spp);
  }
}

/** Where a level's encoded tiles go, in tile order; it remembers their sizes. */
interface TileSink {
  readonly byteCounts: number[];
  readonly bytes: number;
  append(tile: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** Appends a level's compressed tiles to a temporary file, copied into the COG once all are known. */
class TileStore implements TileSink {
  readonly byteCounts: number[] = [];
  bytes = 0;
  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  /**
   * A temporary file at `path`, unlinked as soon as it is open: only the handle keeps it, so the
   * system reclaims it however the process ends (even killed with SIGKILL).
   */
  static async create(path: string): Promise<TileStore> {
    const handle = await open(path, 'wx+');
    try {
      await unlink(path);
    } catch (err) {
      await handle.close().catch(() => {});
      throw err;
    }
    return new TileStore(path, handle);
  }

  async append(tile: Uint8Array): Promise<void> {
    await this.handle.write(tile, 0, tile.length, this.bytes);
    this.byteCounts.push(tile.length);
    this.bytes += tile.length;
  }

  /** Copy everything appended to `out` at `pos`, through `chunk`. */
  async copyTo(out: FileHandle, pos: number, chunk: Buffer): Promise<number> {
    for (let p = 0; p < this.bytes; ) {
      const { bytesRead } = await this.handle.read(chunk, 0, Math.min(chunk.length, this.bytes - p), p);
      if (bytesRead === 0) throw new Error(`internal: temporary tile file ${this.path} ended early`);
      await out.write(chunk, 0, bytesRead, pos + p);
      p += bytesRead;
    }
    return this.bytes;
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => {});
  }
}

/** The process with this id is running (or exists under another user). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove what an earlier writeCog of `path` left behind when it was killed: `<path>.<pid>-<hex>.partial`
 * (and the `.level<i>` files of earlier versions) of processes that no longer run.
 */
export async function removeStaleCogTemporaries(path: string): Promise<string[]> {
  const dir = dirname(path);
  const base = basename(path);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(`${base}.`)) continue;
    const m = /^(\d+)-[0-9a-f]{8}\.(partial|level\d+)$/.exec(name.slice(base.length + 1));
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processAlive(pid)) continue;
    await rm(join(dir, name), { force: true });
    removed.push(join(dir, name));
  }
  return removed;
}

/**
 * Writes a level's uncompressed tiles straight into the COG at their final offsets: every tile has
 * the same size, so the whole layout is known before the first pixel and nothing is copied.
 */
class DirectSink implements TileSink {
  readonly byteCounts: number[] = [];
  bytes = 0;
  constructor(
    private readonly out: FileHandle,
    readonly base: number,
  ) {}

  append(tile: Uint8Array): Promise<void> {
    const pos = this.base + this.bytes;
    this.byteCounts.push(tile.length);
    this.bytes += tile.length;
    return this.out.write(tile, 0, tile.length, pos).then(() => {});
  }

  async close(): Promise<void> {}
}

/**
 * Compresses tiles in parallel and appends them to their store in submission order: DEFLATE on the
 * libuv thread pool (zlib), LZW inline. A fixed set of tile buffers bounds memory: a buffer is reused
 * once its tile is written.
 */
class TileCompressor {
  private readonly free: Uint8Array[] = [];
  private waiters: (() => void)[] = [];
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown = null;

  constructor(
    private readonly enc: Encoding,
    tileBytes: number,
    slots: number,
  ) {
    for (let i = 0; i < slots; i++) this.free.push(new Uint8Array(tileBytes));
  }

  /** A free tile buffer to prepare the next tile in (waits until one is free). */
  async acquire(): Promise<Uint8Array> {
    while (this.free.length === 0 && !this.failure)
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    if (this.failure) throw this.failure;
    return this.free.pop() as Uint8Array;
  }

  /** Compress the tile and append it to `store` after the tiles submitted before it. */
  submit(tile: Uint8Array, store: TileSink): void {
    const compressed = this.compress(tile);
    compressed.catch(() => {});
    this.chain = this.chain
      .then(async () => store.append(await compressed))
      .catch((err) => {
        this.failure ??= err;
      })
      .finally(() => {
        this.free.push(tile);
        this.waiters.shift()?.();
      });
  }

  private async compress(tile: Uint8Array): Promise<Uint8Array> {
    if (this.enc.compression === 'deflate') return deflateBlock(tile, this.enc.level, this.enc.strategy);
    if (this.enc.compression === 'lzw') return lzwEncode(tile);
    return tile;
  }

  async drain(): Promise<void> {
    await this.chain;
    if (this.failure) throw this.failure;
  }
}

/** Collects one level's rows into tile rows and submits their tiles, in order, for compression. */
class LevelWriter {
  readonly tilesAcross: number;
  readonly tilesDown: number;
  private buf: RasterView | null = null;
  private filled = 0;
  private tileRow = 0;
  private scratchBuf: Uint8Array | null = null;

  constructor(
    readonly width: number,
    readonly height: number,
    private readonly enc: Encoding,
    private readonly nodata: number | null,
    readonly store: TileSink,
    private readonly compressor: TileCompressor,
    private readonly tileBytes: number,
  ) {
    this.tilesAcross = Math.ceil(width / enc.blockSize);
    this.tilesDown = Math.ceil(height / enc.blockSize);
  }

  get byteCounts(): number[] {
    return this.store.byteCounts;
  }

  private rowsInCurrentTileRow(): number {
    return this.tileRow === this.tilesDown - 1
      ? this.height - this.tileRow * this.enc.blockSize
      : this.enc.blockSize;
  }

  /** Append `count` rows from `src` starting at its row `srcRow`. */
  async addRows(src: RasterView, srcRow: number, count: number): Promise<void> {
    // Fast path: the rows are exactly one tile row; encode straight from them.
    if (this.filled === 0 && srcRow === 0 && count === src.height && count === this.rowsInCurrentTileRow()) {
      await this.flushTileRow(src);
      return;
    }
    const comps = dataTypeInfo(src.dataType).components;
    const bs = this.enc.blockSize;
    if (this.buf === null)
      this.buf = createRaster(this.width, bs, this.enc.bands, this.enc.dataType, this.nodata);
    const buf = this.buf;
    let done = 0;
    while (done < count) {
      const take = Math.min(count - done, bs - this.filled);
      for (let b = 0; b < src.bands; b++) {
        const s = (b * src.width * src.height + (srcRow + done) * src.width) * comps;
        const d = (b * this.width * bs + this.filled * this.width) * comps;
        buf.data.set(src.data.subarray(s, s + take * this.width * comps), d);
      }
      this.filled += take;
      done += take;
      const rows = this.rowsInCurrentTileRow();
      if (this.filled === rows) {
        // A short last tile row: single-band rows are a prefix of the buffer; bands need a crop.
        let view: RasterView = buf;
        if (rows !== bs) {
          view =
            buf.bands === 1
              ? rasterFrom(buf.data.subarray(0, this.width * rows * comps), this.width, rows, buf.dataType, 1)
              : cropRaster(buf, { colOff: 0, rowOff: 0, width: this.width, height: rows });
        }
        await this.flushTileRow(view);
        this.filled = 0;
      }
    }
  }

  private async flushTileRow(rows: RasterView): Promise<void> {
    const scratch = () => {
      this.scratchBuf ??= new Uint8Array(this.tileBytes);
      return this.scratchBuf;
    };
    for (let tx = 0; tx < this.tilesAcross; tx++) {
      const tile = await this.compressor.acquire();
      prepareTile(this.enc, rows, tx, tile, scratch);
      this.compressor.submit(tile, this.store);
    }
    this.tileRow++;
    releaseShortLivedBuffers();
  }
}

/** Reduces rows of one level into the next, streaming: keeps only the rows it still needs. */
class LevelReducer {
  private carry: RasterView | null = null;
  private carryRowOff = 0;
  private nextDstRow = 0;
  private readonly xw: ReturnType<typeof reductionWindows>;
  private readonly yw: ReturnType<typeof reductionWindows>;

  constructor(
    readonly srcWidth: number,
    readonly srcHeight: number,
    readonly dstWidth: number,
    readonly dstHeight: number,
    private readonly method: OverviewResampling,
    private readonly nodata: number | null,
    private readonly pool: KernelPool | null = null,
  ) {
    this.xw = reductionWindows(srcWidth, dstWidth);
    this.yw = reductionWindows(srcHeight, dstHeight);
  }

  private shared: SharedArrayBuffer | null = null;

  /**
   * Destination rows in shared memory, reused from push to push: whoever takes the rows a push
   * returns (the next level's writer and reducer) copies what it keeps before the next push.
   */
  private sharedRows(rows: number, bands: number, dataType: DataType): RasterView {
    const { array, components, componentBytes } = dataTypeInfo(dataType);
    const length = this.dstWidth * rows * bands * components;
    if (this.shared === null || this.shared.byteLength < length * componentBytes)
      this.shared = new SharedArrayBuffer(length * componentBytes);
    const data = new array(this.shared, 0, length);
    return rasterFrom(data, this.dstWidth, rows, dataType, bands, this.nodata);
  }

  /** Add source rows [rowOff, rowOff + rows.height); returns the destination rows now complete (or null). */
  async push(rows: RasterView, rowOff: number): Promise<{ view: RasterView; rowOff: number } | null> {
    let src: RasterView;
    let srcOff: number;
    if (this.carry && this.carry.height > 0) {
      const comps = dataTypeInfo(rows.dataType).components;
      const h = this.carry.height + rows.height;
      src = createRaster(this.srcWidth, h, rows.bands, rows.dataType, this.nodata);
      for (let b = 0; b < rows.bands; b++) {
        const cPlane = this.carry.width * this.carry.height * comps;
        const rPlane = rows.width * rows.height * comps;
        const dBase = b * this.srcWidth * h * comps;
        src.data.set(this.carry.data.subarray(b * cPlane, (b + 1) * cPlane), dBase);
        src.data.set(rows.data.subarray(b * rPlane, (b + 1) * rPlane), dBase + cPlane);
      }
      srcOff = this.carryRowOff;
    } else {
      src = rows;
      srcOff = rowOff;
    }
    const availEnd = srcOff + src.height;
    const first = this.nextDstRow;
    let last = first;
    while (last < this.dstHeight && Math.max(this.yw.end[last], this.yw.roundedEnd[last]) <= availEnd) last++;
    let out: { view: RasterView; rowOff: number } | null = null;
    if (last > first) {
      const n = last - first;
      const shared = this.pool !== null && src.data.buffer instanceof SharedArrayBuffer && n >= 16;
      const dst = shared
        ? this.sharedRows(n, rows.bands, rows.dataType)
        : createRaster(this.dstWidth, n, rows.bands, rows.dataType, this.nodata);
      if (shared && this.pool) {
        // A worker reduces the rows while the caller goes on (writing the source rows' tiles).
        await this.pool.reduceRows(
          this.method,
          src,
          srcOff,
          dst,
          first,
          n,
          [this.srcWidth, this.srcHeight, this.dstWidth, this.dstHeight],
          this.nodata,
        );
      } else reduceRows(this.method, src, srcOff, dst, 0, first, n, this.xw, this.yw, this.nodata);
      out = { view: dst, rowOff: first };
      this.nextDstRow = last;
    }
    // Keep the rows the next destination row still needs.
    const keepFrom =
      this.nextDstRow < this.dstHeight
        ? Math.min(this.yw.start[this.nextDstRow], this.yw.nearest[this.nextDstRow])
        : availEnd;
    const keep = Math.max(0, availEnd - Math.max(keepFrom, srcOff));
    this.carry =
      keep > 0
        ? cropRaster(src, { colOff: 0, rowOff: src.height - keep, width: this.srcWidth, height: keep })
        : null;
    this.carryRowOff = availEnd - keep;
    return out;
  }
}

function resolvePredictor(p: CogOptions['predictor'], dt: DataType, compression: CogCompression): 1 | 2 | 3 {
  const info = dataTypeInfo(dt);
  if (compression === 'none') {
    if (p !== undefined && p !== 'auto' && p !== 1)
      throw new ValidationError(`predictor ${p} needs compression (got compression none)`);
    return 1;
  }
  if (p === undefined || p === 'auto') return info.components === 2 ? 1 : info.kind === 'float' ? 3 : 2;
  if (p === 3 && info.kind !== 'float')
    throw new ValidationError(`predictor 3 is for floating-point data, not ${dt}`);
  if (p !== 1 && info.components === 2)
    throw new ValidationError(`predictor ${p} is not supported for complex data (${dt})`);
  if (p !== 1 && p !== 2 && p !== 3)
    throw new ValidationError(`predictor must be auto, 1, 2 or 3, got ${String(p)}`);
  return p;
}

const SAMPLE_FORMAT: Record<string, number> = {
  uint: SampleFormat.Uint,
  int: SampleFormat.Int,
  float: SampleFormat.Float,
};

function levelEntries(
  enc: Encoding,
  width: number,
  height: number,
  overview: boolean,
  offsets: number[],
  counts: number[],
  bigTiff: boolean,
): TagEntry[] {
  const info = dataTypeInfo(enc.dataType);
  const bits = info.componentBytes * 8 * info.components;
  const format =
    info.components === 2
      ? info.kind === 'float'
        ? SampleFormat.ComplexFloat
        : SampleFormat.ComplexInt
      : SAMPLE_FORMAT[info.kind];
  const spp = enc.bands;
  const compression =
    enc.compression === 'deflate'
      ? Compression.Deflate
      : enc.compression === 'lzw'
        ? Compression.Lzw
        : Compression.None;
  const entries: TagEntry[] = [
    { tag: Tag.ImageWidth, type: FieldType.Long, values: [width] },
    { tag: Tag.ImageLength, type: FieldType.Long, values: [height] },
    { tag: Tag.BitsPerSample, type: FieldType.Short, values: new Array(spp).fill(bits) },
    { tag: Tag.Compression, type: FieldType.Short, values: [compression] },
    { tag: Tag.Photometric, type: FieldType.Short, values: [1] },
    { tag: Tag.SamplesPerPixel, type: FieldType.Short, values: [spp] },
    { tag: Tag.PlanarConfiguration, type: FieldType.Short, values: [1] },
    { tag: Tag.TileWidth, type: FieldType.Short, values: [enc.blockSize] },
    { tag: Tag.TileLength, type: FieldType.Short, values: [enc.blockSize] },
    { tag: Tag.TileOffsets, type: bigTiff ? FieldType.Long8 : FieldType.Long, values: offsets },
    { tag: Tag.TileByteCounts, type: bigTiff ? FieldType.Long8 : FieldType.Long, values: counts },
    { tag: Tag.SampleFormat, type: FieldType.Short, values: new Array(spp).fill(format) },
  ];
  if (overview) entries.push({ tag: Tag.NewSubfileType, type: FieldType.Long, values: [1] });
  if (enc.predictor !== 1)
    entries.push({ tag: Tag.Predictor, type: FieldType.Short, values: [enc.predictor] });
  if (spp > 1)
    entries.push({ tag: Tag.ExtraSamples, type: FieldType.Short, values: new Array(spp - 1).fill(0) });
  return entries;
}

function formatNodata(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Number.POSITIVE_INFINITY) return 'inf';
  if (v === Number.NEGATIVE_INFINITY) return '-inf';
  return String(v);
}

function metadataItems(meta: CogMetadata, stats: BandStatistics[] | null): GdalMetadataItem[] {
  const items: GdalMetadataItem[] = [];
  for (const [name, value] of Object.entries(meta.metadata ?? {})) items.push({ name, value });
  (meta.bands ?? []).forEach((b, i) => {
    for (const [name, value] of Object.entries(b.metadata ?? {})) items.push({ name, value, sample: i });
    if (b.description)
      items.push({ name: 'DESCRIPTION', value: b.description, sample: i, role: 'description' });
    if (b.scale !== undefined && b.scale !== null)
      items.push({ name: 'SCALE', value: String(b.scale), sample: i, role: 'scale' });
    if (b.offset !== undefined && b.offset !== null)
      items.push({ name: 'OFFSET', value: String(b.offset), sample: i, role: 'offset' });
  });
  stats?.forEach((s, i) => {
    if (!Number.isFinite(s.mean)) return;
    items.push(
      { name: 'STATISTICS_MAXIMUM', value: String(s.max), sample: i },
      { name: 'STATISTICS_MEAN', value: String(s.mean), sample: i },
      { name: 'STATISTICS_MINIMUM', value: String(s.min), sample: i },
      { name: 'STATISTICS_STDDEV', value: String(s.stdDev), sample: i },
      { name: 'STATISTICS_VALID_PERCENT', value: String(Number(s.validPercent.toPrecision(6))), sample: i },
    );
  });
  return items;
}

function georefEntries(meta: CogMetadata, nodata: number | null, md: GdalMetadataItem[]): TagEntry[] {
  const entries: TagEntry[] = [];
  const gt = meta.geoTransform;
  if (gt) {
    if (gt[2] === 0 && gt[4] === 0) {
      entries.push({ tag: Tag.ModelPixelScale, type: FieldType.Double, values: [gt[1], -gt[5], 0] });
      entries.push({ tag: Tag.ModelTiepoint, type: FieldType.Double, values: [0, 0, 0, gt[0], gt[3], 0] });
    } else {
      entries.push({
        tag: Tag.ModelTransformation,
        type: FieldType.Double,
        values: [gt[1], gt[2], 0, gt[0], gt[4], gt[5], 0, gt[3], 0, 0, 0, 0, 0, 0, 0, 1],
      });
    }
  }
  if (meta.epsg !== undefined && meta.epsg !== null) {
    if (!Number.isInteger(meta.epsg) || meta.epsg <= 0 || meta.epsg >= 32767)
      throw new ValidationError(`epsg must be an EPSG code, got ${meta.epsg}`);
    entries.push({ tag: Tag.GeoKeyDirectory, type: FieldType.Short, values: geoKeyDirectoryFor(meta.epsg) });
  }
  if (md.length > 0)
    entries.push({ tag: Tag.GdalMetadata, type: FieldType.Ascii, values: buildGdalMetadata(md) });
  if (nodata !== null)
    entries.push({ tag: Tag.GdalNodata, type: FieldType.Ascii, values: formatNodata(nodata) });
  if (meta.imageDescription) {
    entries.push({ tag: Tag.ImageDescription, type: FieldType.Ascii, values: meta.imageDescription });
  }
  return entries;
}

const GHOST = 'LAYOUT=IFDS_BEFORE_DATA\nBLOCK_ORDER=ROW_MAJOR\nKNOWN_INCOMPATIBLE_EDITION=NO\n';

function ghostArea(): string {
  return `GDAL_STRUCTURAL_METADATA_SIZE=${String(GHOST.length).padStart(6, '0')} bytes\n${GHOST}`;
}

/**
 * Write a Cloud-Optimized GeoTIFF: tiled, compressed, with internal overviews, IFDs first and
 * overview data before full-resolution data (the layout GDAL's COG validator accepts).
 * Input is a raster in memory or a strip source that is read once, in row order, so rasters
 * larger than memory stream through. Tiles are compressed in parallel on the libuv thread pool.
 * The file appears at `path` only when complete (written beside it, then renamed).
 */
export async function writeCog(
  path: string,
  input: RasterView | StripSource,
  meta: CogMetadata = {},
  opts: CogOptions = {},
): Promise<CogWriteResult> {
  const source: StripSource = 'readRows' in input ? input : stripSourceFromView(input);
  const { width, height, bands, dataType } = source;
  const compression = opts.compression ?? 'deflate';
  if (!['deflate', 'lzw', 'none'].includes(compression))
    throw new ValidationError(`compression must be deflate, lzw or none, got '${compression}'`);
  const blockSize = opts.blockSize ?? 512;
  if (!Number.isInteger(blockSize) || blockSize < 16 || blockSize > 4096 || blockSize % 16 !== 0) {
    throw new ValidationError(`blockSize must be a multiple of 16 from 16 to 4096, got ${blockSize}`);
  }
  const level = opts.level ?? 6;
  if (!Number.isInteger(level) || level < 1 || level > 9)
    throw new ValidationError(`DEFLATE level must be 1..9, got ${level}`);
  const resampling = opts.resampling ?? 'average';
  if (resampling !== 'average' && resampling !== 'nearest')
    throw new ValidationError(`resampling must be average or nearest, got '${resampling}'`);
  const predictor = resolvePredictor(opts.predictor, dataType, compression);
  const strategyName = opts.deflateStrategy ?? 'auto';
  const strategies: Record<string, number> = {
    default: zlib.constants.Z_DEFAULT_STRATEGY,
    huffman: zlib.constants.Z_HUFFMAN_ONLY,
    rle: zlib.constants.Z_RLE,
  };
  if (strategyName !== 'auto' && strategies[strategyName] === undefined) {
    throw new ValidationError(`deflateStrategy must be auto, default, huffman or rle, got '${strategyName}'`);
  }
  const strategy =
    strategyName === 'auto'
      ? predictor === 3
        ? strategies.huffman
        : strategies.default
      : strategies[strategyName];
  const enc: Encoding = { compression, level, strategy, predictor, dataType, bands, blockSize };
  const nodata = meta.nodata ?? null;
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  let sizes = opts.overviews === 'none' ? [] : overviewSizes(width, height, blockSize);
  if (typeof opts.overviews === 'number') {
    if (!Number.isInteger(opts.overviews) || opts.overviews < 0)
      throw new ValidationError(`overviews must be auto, none or a count, got ${opts.overviews}`);
    sizes = overviewSizes(width, height, 1, opts.overviews);
  }
  const isComplex = dataTypeInfo(dataType).components === 2;
  const stats = opts.statistics !== false && !isComplex ? new StatsAccumulator(bands, nodata) : null;

  // A run killed before its rename left its .partial file: it goes now.
  await removeStaleCogTemporaries(path);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const outPath = `${path}.${tag}.partial`;
  const levelSizes: [number, number][] = [[width, height], ...sizes];
  const info = dataTypeInfo(dataType);
  const tileBytes = blockSize * blockSize * bands * info.components * info.componentBytes;
  const tileCounts = levelSizes.map(([w, h]) => Math.ceil(w / blockSize) * Math.ceil(h / blockSize));
  const extraFor = (statistics: BandStatistics[] | null) => {
    const md = metadataItems(meta, statistics);
    return georefEntries(meta, nodata, md);
  };
  const ghost = Buffer.from(ghostArea(), 'latin1');
  // Layout: header, ghost area, IFDs (full resolution first), overview data (smallest first),
  // full-resolution data; `dataStart` may leave a few zero bytes after the IFDs.
  const plan = (bigTiff: boolean, byteCounts: number[][], extra: TagEntry[], dataStart = 0) => {
    const header = bigTiff ? 16 : 8;
    let pos = header + ghost.length;
    pos += pos & 1;
    const ifdOffsets: number[] = [];
    const entryLists: TagEntry[][] = levelSizes.map(([w, h], i) => {
      const placeholder = new Array(byteCounts[i].length).fill(0);
      return [
        ...levelEntries(enc, w, h, i > 0, placeholder, byteCounts[i], bigTiff),
        ...(i === 0 ? extra : []),
      ];
    });
    for (const entries of entryLists) {
      ifdOffsets.push(pos);
      pos += ifdSize(entries, bigTiff);
      pos += pos & 1;
    }
    const headerBytes = pos;
    pos = Math.max(pos, dataStart);
    const levelStarts: number[] = new Array(levelSizes.length).fill(0);
    const tileOffsets: number[][] = levelSizes.map(() => []);
    for (let i = levelSizes.length - 1; i >= 0; i--) {
      levelStarts[i] = pos;
      for (const c of byteCounts[i]) {
        tileOffsets[i].push(pos);
        pos += c;
      }
    }
    return {
      headerBytes,
      dataStart: Math.max(headerBytes, dataStart),
      ifdOffsets,
      entryLists,
      tileOffsets,
      levelStarts,
      total: pos,
    };
  };
  const chooseBigTiff = (layoutFor: (big: boolean) => { total: number }): boolean => {
    if (opts.bigTiff === 'yes') return true;
    if (layoutFor(false).total <= 0xffffffff) return false;
    if (opts.bigTiff === 'no')
      throw new ValidationError(
        `the COG would be ${layoutFor(false).total} bytes, more than a classic TIFF holds; allow BigTIFF`,
      );
    return true;
  };
  // Uncompressed tiles all have the same size: the layout is known before the first pixel, so tiles
  // go straight to their place in the file. The statistics come last; the header is planned with the
  // longest text they can take.
  const direct = compression === 'none';
  const fixedCounts = tileCounts.map((n) => new Array<number>(n).fill(tileBytes));
  const longest = 'x'.repeat(24);
  const statsPlaceholder = stats
    ? Array.from({ length: bands }, () => ({ min: 0, max: 0, mean: 0, stdDev: 0, validPercent: 0 }))
    : null;
  const reservedExtra = (): TagEntry[] => {
    const md = metadataItems(meta, statsPlaceholder).map((item) =>
      item.name.startsWith('STATISTICS_') ? { ...item, value: longest } : item,
    );
    return georefEntries(meta, nodata, md);
  };
  const directBig = direct ? chooseBigTiff((big) => plan(big, fixedCounts, reservedExtra())) : false;
  const directLayout = direct ? plan(directBig, fixedCounts, reservedExtra()) : null;

  const sinks: TileSink[] = [];
  const stores: TileStore[] = [];
  let out: FileHandle | null = null;
  try {
    if (directLayout) {
      out = await open(outPath, 'w');
      for (let i = 0; i < levelSizes.length; i++)
        sinks.push(new DirectSink(out, directLayout.levelStarts[i]));
    } else {
      for (let i = 0; i < levelSizes.length; i++) {
        const st = await TileStore.create(`${path}.${tag}.level${i}`);
        stores.push(st);
        sinks.push(st);
      }
    }
    const compressor = new TileCompressor(enc, tileBytes, concurrency);
    const writers = levelSizes.map(
      ([w, h], i) => new LevelWriter(w, h, enc, nodata, sinks[i], compressor, tileBytes),
    );
    const reducers = sizes.map(([w, h], i) => {
      const [sw, sh] = levelSizes[i];
      return new LevelReducer(sw, sh, w, h, resampling, nodata, i === 0 ? (opts.pool ?? null) : null);
    });

    // Rows a reducer of `levelIndex` produced: written to the next level and reduced further down.
    const passOn = async (
      levelIndex: number,
      produced: { view: RasterView; rowOff: number } | null,
    ): Promise<void> => {
      if (!produced) return;
      await writers[levelIndex + 1].addRows(produced.view, 0, produced.view.height);
      await pushDown(levelIndex + 1, produced.view, produced.rowOff);
    };
    const pushDown = async (levelIndex: number, rows: RasterView, rowOff: number): Promise<void> => {
      if (levelIndex < reducers.length)
        await passOn(levelIndex, await reducers[levelIndex].push(rows, rowOff));
    };

    for (let rowOff = 0; rowOff < height; rowOff += blockSize) {
      opts.signal?.throwIfAborted();
      const rows = Math.min(blockSize, height - rowOff);
      const strip = await source.readRows(rowOff, rows);
      if (
        strip.width !== width ||
        strip.height !== rows ||
        strip.bands !== bands ||
        strip.dataType !== dataType
      ) {
        throw new ValidationError(
          `strip at row ${rowOff} is ${strip.width} x ${strip.height} x ${strip.bands} ${strip.dataType}, expected ${width} x ${rows} x ${bands} ${dataType}`,
        );
      }
      stats?.add(strip);
      // The first overview level's rows are started before this strip's tiles are written: with a
      // pool, a worker reduces them meanwhile (without one, push has reduced them already).
      const reduced = reducers.length > 0 ? reducers[0].push(strip, rowOff) : null;
      reduced?.catch(() => {});
      await writers[0].addRows(strip, 0, rows);
      await passOn(0, await reduced);
    }
    await compressor.drain();
    const statistics = stats?.result() ?? null;
    const byteCounts = writers.map((w) => w.byteCounts);
    const extra = extraFor(statistics);
    const bigTiff = directLayout ? directBig : chooseBigTiff((big) => plan(big, byteCounts, extra));
    const layout = plan(bigTiff, byteCounts, extra, directLayout?.dataStart ?? 0);
    if (directLayout && (layout.dataStart !== directLayout.dataStart || layout.total !== directLayout.total))
      throw new Error(
        `internal: the header outgrew its reservation (${layout.headerBytes} > ${directLayout.dataStart})`,
      );
    const head = Buffer.alloc(layout.dataStart);
    const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
    head.write('II', 0, 'latin1');
    if (bigTiff) {
      view.setUint16(2, 43, true);
      view.setUint16(4, 8, true);
      view.setUint16(6, 0, true);
      view.setBigUint64(8, BigInt(layout.ifdOffsets[0]), true);
    } else {
      view.setUint16(2, 42, true);
      view.setUint32(4, layout.ifdOffsets[0], true);
    }
    ghost.copy(head, bigTiff ? 16 : 8);
    layout.entryLists.forEach((entries, i) => {
      const withOffsets = entries.map((e) =>
        e.tag === Tag.TileOffsets ? { ...e, values: layout.tileOffsets[i] } : e,
      );
      const next = i + 1 < layout.ifdOffsets.length ? layout.ifdOffsets[i + 1] : 0;
      writeIfd(view, 0, layout.ifdOffsets[i], withOffsets, next, bigTiff);
    });

    out ??= await open(outPath, 'w');
    await out.write(head, 0, head.length, 0);
    if (!directLayout) {
      let pos = head.length;
      const chunk = Buffer.allocUnsafe(1024 * 1024);
      for (let i = stores.length - 1; i >= 0; i--) pos += await stores[i].copyTo(out, pos, chunk);
      if (pos !== layout.total) throw new Error(`internal: wrote ${pos} bytes, planned ${layout.total}`);
    }
    await out.close();
    out = null;
    await rename(outPath, path);
    return {
      path,
      bytes: layout.total,
      bigTiff,
      levels: levelSizes.map(([w, h]) => ({ width: w, height: h })),
      statistics,
    };
  } finally {
    for (const st of stores) await st.close();
    await out?.close().catch(() => {});
    await rm(outPath, { force: true });
  }
}
