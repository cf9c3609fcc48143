import sharp from 'sharp';
import { NotFoundError, ValidationError } from '../errors.js';
import { converter, EPSG_WGS84, isKnownEpsg } from '../geo/crs.js';
import type { TileMatrixSetDef } from '../geo/tms.js';
import { tileBounds } from '../geo/tms.js';
import type { Window } from '../geo/window.js';
import { checkBudget, DEFAULT_DECODE_BUDGET_BYTES } from '../io/budget.js';
import type { ByteSource } from '../io/source.js';
import { GeoTiff } from '../io/tiff/reader.js';
import { dataTypeInfo } from '../raster/dtype.js';
import { KernelPool } from '../raster/kernel-pool.js';
import { type TileWarp, warpTile } from '../raster/warp-tile.js';
import { LruCache } from '../util/lru.js';
import type { ColormapName } from './colormap.js';
import { colorizeLut, colormap, float16Lut } from './colormap.js';

/** An item's raster asset as the tiler needs it. */
export interface RasterAsset {
  /** Local file path of the COG; with `source`, the name it is cached under (e.g. its s3:// URL). */
  path: string;
  /** Opens the COG's bytes (an object store's reader); none: the local file at `path`. */
  source?: () => Promise<ByteSource>;
  /** 'dB' values are shown as they are; 'linear' power is shown in dB. */
  unit: 'dB' | 'linear';
  /** Statistics stored on the item (raster:bands), in the asset's unit. */
  stats?: { mean?: number; stddev?: number; minimum?: number; maximum?: number };
  band: number;
}

export interface RenderOptions {
  resampling?: 'bilinear' | 'nearest';
  /** Display range [min, max] (in dB for dB and linear assets); from the item's statistics by default. */
  rescale?: [number, number];
  colormap?: ColormapName;
  format?: 'png' | 'webp';
}

const TILE = 256;
/** Control points across a tile: positions between them are interpolated (GDAL's approximate transformer does the same). */
const GRID = 16;

interface OpenCog {
  tif: GeoTiff;
  epsg: number;
  gt: [number, number, number, number, number, number];
  width: number;
  height: number;
  /** Overview factors (1 for full resolution) per level. */
  factors: number[];
  unitFromFile: 'dB' | 'linear' | null;
}

/**
 * Dynamic map tiles from COGs: a tile's pixel centres are mapped (through a 17 x 17 grid of exact
 * CRS transforms, bilinear in between) to the source pixels of the overview level nearest the tile's
 * resolution without being coarser; only that window is read (blocks are decoded once and kept in a
 * bounded cache); nearest or bilinear resampling; values to dB, stretched and coloured; nodata and
 * the outside transparent.
 */
export class Tiler {
  private readonly files: LruCache<string, Promise<OpenCog>>;
  private readonly blocks: LruCache<string, Uint8Array>;
  /** Display ranges sampled from assets without statistics, by path, band and unit. */
  private readonly ranges = new LruCache<string, Promise<[number, number]>>(256, () => 1);
  /** Value-to-colour tables by display range and unit. */
  private readonly luts = new LruCache<string, Uint16Array>(32, () => 1);

  private readonly pool: KernelPool | null;
  /** Files opened so far (a generation number per opening). */
  private opened = 0;
  /** Bytes one request may decode (per block, and the window it reads). */
  readonly decodeBudgetBytes: number;

  /**
   * `renderWorkers` threads warp and colour tiles (0: on the calling thread). `decodeBudgetBytes`
   * (default 256 MiB) bounds each request: a block that decodes to more, or a tile, preview or point
   * window larger than that, is refused (FormatError / ValidationError naming the file and budget).
   */
  constructor(
    opts: {
      maxOpenFiles?: number;
      blockCacheBytes?: number;
      renderWorkers?: number;
      decodeBudgetBytes?: number;
    } = {},
  ) {
    this.decodeBudgetBytes = checkBudget(
      'decodeBudgetBytes',
      opts.decodeBudgetBytes ?? DEFAULT_DECODE_BUDGET_BYTES,
    );
    const workers = opts.renderWorkers ?? 0;
    this.pool = workers > 0 ? new KernelPool(workers) : null;
    this.files = new LruCache(
      opts.maxOpenFiles ?? 64,
      () => 1,
      (_k, v) => {
        v.then((c) => c.tif.close()).catch(() => {});
      },
    );
    this.blocks = new LruCache(opts.blockCacheBytes ?? 256 * 1024 * 1024, (v) => v.byteLength);
  }

  async close(): Promise<void> {
    this.files.clear();
    this.blocks.clear();
    this.ranges.clear();
    await this.pool?.close();
  }

  /**
   * The COG header of a file (or of the bytes `source` opens), opened once and kept (bounded). A source
   * whose object was replaced ('StaleObject' errors) is forgotten, so the next request opens the new one.
   */
  open(path: string, source?: () => Promise<ByteSource>): Promise<OpenCog> {
    let p = this.files.get(path);
    if (!p) {
      const opening = ++this.opened;
      p = (async () => {
        let tif: GeoTiff;
        try {
          const src = source ? forgetWhenStale(await source(), () => this.forget(path, p)) : path;
          tif = await GeoTiff.open(src, { decodeBudgetBytes: this.decodeBudgetBytes });
        } catch (err) {
          if ((err as { code?: string }).code === 'ENOENT')
            throw new NotFoundError(`asset file ${path} does not exist`);
          throw err;
        }
        const info = tif.info();
        if (info.epsg === null || info.geoTransform === null || !isKnownEpsg(info.epsg))
          throw new ValidationError(`${path}: the asset has no CRS sarbridge can map`);
        const cache = this.blocks;
        // Blocks are kept per opening, so a replaced file's old blocks are never served with the new one.
        tif.useBlockCache({
          get: (k) => cache.get(`${path}#${opening}|${k}`),
          set: (k, v) => cache.set(`${path}#${opening}|${k}`, v),
        });
        const units = (info.metadata.UNITS ?? info.bands[0]?.metadata.UNITS ?? '').toLowerCase();
        return {
          tif,
          epsg: info.epsg,
          gt: info.geoTransform,
          width: info.width,
          height: info.height,
          factors: [1, ...info.overviews.map((o) => info.width / o.width)],
          unitFromFile: units === 'db' ? 'dB' : units === 'linear' ? 'linear' : null,
        };
      })();
      // A file that failed to open is not remembered.
      p.catch(() => this.files.delete(path));
      this.files.set(path, p);
    }
    return p;
  }

  /** Forget the opening `p` of `path` (not a later one). */
  private forget(path: string, p: Promise<OpenCog> | undefined): void {
    if (p !== undefined && this.files.get(path) === p) this.files.delete(path);
  }

  /**
   * Values of a tile (256 x 256 float32, NaN outside the image or at nodata), or null when the tile
   * does not touch the image.
   */
  /**
   * Where a tile falls in an asset: the overview level, the window to read and the warp of the tile's
   * pixels into it; null when the tile does not touch the image.
   */
  async plan(
    asset: RasterAsset,
    tms: TileMatrixSetDef,
    z: number,
    x: number,
    y: number,
    resampling: 'bilinear' | 'nearest',
  ): Promise<{ cog: OpenCog; level: number; win: Window; warp: TileWarp } | null> {
    const cog = await this.open(asset.path, asset.source);
    const [minX, minY, maxX, maxY] = tileBounds(tms, z, x, y);
    const conv = converter(tms.epsg, cog.epsg);
    // Source pixel coordinates (full resolution) at the control points.
    const n = GRID + 1;
    const cols = new Float64Array(n * n);
    const rows = new Float64Array(n * n);
    const gt = cog.gt;
    const det = gt[1] * gt[5] - gt[2] * gt[4];
    for (let j = 0; j < n; j++)
      for (let i = 0; i < n; i++) {
        const px = minX + ((maxX - minX) * i) / GRID;
        const py = maxY - ((maxY - minY) * j) / GRID;
        const [sx, sy] = conv.forward([px, py]);
        const dx = sx - gt[0];
        const dy = sy - gt[3];
        cols[j * n + i] = (gt[5] * dx - gt[2] * dy) / det;
        rows[j * n + i] = (-gt[4] * dx + gt[1] * dy) / det;
      }
    let c0 = Infinity;
    let c1 = -Infinity;
    let r0 = Infinity;
    let r1 = -Infinity;
    for (let k = 0; k < n * n; k++) {
      if (!Number.isFinite(cols[k]) || !Number.isFinite(rows[k])) continue;
      c0 = Math.min(c0, cols[k]);
      c1 = Math.max(c1, cols[k]);
      r0 = Math.min(r0, rows[k]);
      r1 = Math.max(r1, rows[k]);
    }
    if (!(c1 > 0 && r1 > 0 && c0 < cog.width && r0 < cog.height)) return null;
    // Source pixels per output pixel, then the coarsest level that is not coarser than that.
    const ratio = Math.max((c1 - c0) / TILE, (r1 - r0) / TILE);
    let level = 0;
    for (let l = 1; l < cog.factors.length; l++) if (cog.factors[l] <= ratio) level = l;
    const f = cog.factors[level];
    const lw = Math.ceil(cog.width / f - 1e-9);
    const lh = Math.ceil(cog.height / f - 1e-9);
    const wc0 = Math.max(0, Math.floor(c0 / f) - 1);
    const wr0 = Math.max(0, Math.floor(r0 / f) - 1);
    const wc1 = Math.min(lw, Math.ceil(c1 / f) + 1);
    const wr1 = Math.min(lh, Math.ceil(r1 / f) + 1);
    if (wc1 <= wc0 || wr1 <= wr0) return null;
    const win = { colOff: wc0, rowOff: wr0, width: wc1 - wc0, height: wr1 - wr0 };
    const warp: TileWarp = {
      tile: TILE,
      grid: GRID,
      cols,
      rows,
      f,
      wc0,
      wr0,
      width: cog.width,
      height: cog.height,
      resampling,
      nodata: cog.tif.nodata,
    };
    return { cog, level, win, warp };
  }

  /**
   * Values of a tile (256 x 256 float32, NaN outside the image or at nodata), or null when the tile
   * does not touch the image (computed on this thread).
   */
  async tileValues(
    asset: RasterAsset,
    tms: TileMatrixSetDef,
    z: number,
    x: number,
    y: number,
    resampling: 'bilinear' | 'nearest',
  ): Promise<Float32Array | null> {
    const plan = await this.plan(asset, tms, z, x, y, resampling);
    if (!plan) return null;
    const view = await plan.cog.tif.read(plan.win, {
      level: plan.level,
      bands: [asset.band],
      nodataToNaN: true,
      maxBytes: this.decodeBudgetBytes,
    });
    const out = new Float32Array(TILE * TILE);
    warpTile(
      view.data as ArrayLike<number>,
      plan.win.width,
      plan.win.height,
      { ...plan.warp, nodata: view.nodata ?? null },
      out,
    );
    return out;
  }

  /** The display range of an asset: from the item's statistics (mean +- 2 std), else a sample of its smallest overview. */
  async displayRange(asset: RasterAsset): Promise<[number, number]> {
    const s = asset.stats;
    if (s && typeof s.mean === 'number' && typeof s.stddev === 'number' && asset.unit === 'dB') {
      let lo = s.mean - 2 * s.stddev;
      let hi = s.mean + 2 * s.stddev;
      if (typeof s.minimum === 'number') lo = Math.max(lo, s.minimum);
      if (typeof s.maximum === 'number') hi = Math.min(hi, s.maximum);
      if (hi > lo) return [lo, hi];
    }
    // The sampled range is the same for every tile of the asset: computed once, kept.
    const key = `${asset.path}|${asset.band}|${asset.unit}`;
    let range = this.ranges.get(key);
    if (!range) {
      range = this.sampledRange(asset);
      this.ranges.set(key, range);
      range.catch(() => this.ranges.delete(key));
    }
    return range;
  }

  /** The 2-98% range of an asset's smallest overview (in dB for linear power). */
  private async sampledRange(asset: RasterAsset): Promise<[number, number]> {
    const cog = await this.open(asset.path, asset.source);
    const level = cog.factors.length - 1;
    const view = await cog.tif.read(undefined, {
      level,
      bands: [asset.band],
      nodataToNaN: true,
      maxBytes: this.decodeBudgetBytes,
    });
    const vals: number[] = [];
    const data = view.data as ArrayLike<number>;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v !== v || v === view.nodata) continue;
      const d = asset.unit === 'linear' ? (v > 0 ? 10 * Math.log10(v) : Number.NaN) : v;
      if (Number.isFinite(d)) vals.push(d);
    }
    if (vals.length === 0) return [0, 1];
    vals.sort((a, b) => a - b);
    const q = (p: number) => vals[Math.min(vals.length - 1, Math.floor(p * vals.length))];
    return q(0.98) > q(0.02) ? [q(0.02), q(0.98)] : [q(0) - 1, q(0) + 1];
  }

  /** The value-to-colour table of a display range (kept, in shared memory for the workers). */
  private lut(lo: number, hi: number, unit: 'dB' | 'linear'): Uint16Array {
    const key = `${lo},${hi},${unit}`;
    let lut = this.luts.get(key);
    if (!lut) {
      const t = float16Lut(
        lo,
        hi,
        unit === 'linear' ? (v) => (v > 0 ? 10 * Math.log10(v) : Number.NaN) : (v) => v,
      );
      lut = new Uint16Array(new SharedArrayBuffer(t.byteLength));
      lut.set(t);
      this.luts.set(key, lut);
    }
    return lut;
  }

  /** Values to an encoded image (PNG or WebP, RGBA). */
  async encode(
    values: Float32Array,
    width: number,
    height: number,
    asset: RasterAsset,
    o: RenderOptions,
  ): Promise<Buffer> {
    const [lo, hi] = o.rescale ?? (await this.displayRange(asset));
    const rgbaBuf = this.takeBytes(width * height * 4);
    const rgba = colorizeLut(
      values,
      this.lut(lo, hi, asset.unit),
      colormap(o.colormap ?? 'gray'),
      rgbaBuf.subarray(0, width * height * 4),
    );
    try {
      return await this.toImage(Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength), width, height, o);
    } finally {
      // sharp has read the pixels once its output is ready.
      this.giveBytes(rgbaBuf);
    }
  }

  private toImage(rgba: Buffer, width: number, height: number, o: RenderOptions): Promise<Buffer> {
    const img = sharp(rgba, { raw: { width, height, channels: 4 } });
    return (o.format ?? 'png') === 'webp'
      ? img.webp({ quality: 90, effort: 2 }).toBuffer()
      : img.png({ compressionLevel: 3, adaptiveFiltering: false }).toBuffer();
  }

  private readonly shared: SharedArrayBuffer[] = [];
  private takeShared(bytes: number): SharedArrayBuffer {
    const i = this.shared.findIndex((b) => b.byteLength >= bytes);
    return i >= 0 ? this.shared.splice(i, 1)[0] : new SharedArrayBuffer(Math.max(bytes, TILE * TILE * 4));
  }
  private giveShared(b: SharedArrayBuffer): void {
    if (this.shared.length < 32 && b.byteLength <= 16 * TILE * TILE) this.shared.push(b);
  }

  // Small pools of pixel buffers, so a busy tile server does not churn the garbage collector.
  private readonly bytes: Uint8Array[] = [];
  private takeBytes(n: number): Uint8Array {
    const i = this.bytes.findIndex((b) => b.length >= n);
    return i >= 0 ? this.bytes.splice(i, 1)[0] : new Uint8Array(Math.max(n, TILE * TILE * 4));
  }
  private giveBytes(b: Uint8Array): void {
    if (this.bytes.length < 16 && b.length <= TILE * TILE * 4) this.bytes.push(b);
  }

  async tile(
    asset: RasterAsset,
    tms: TileMatrixSetDef,
    z: number,
    x: number,
    y: number,
    o: RenderOptions,
  ): Promise<Buffer | null> {
    const resampling = o.resampling ?? 'bilinear';
    if (!this.pool) {
      const values = await this.tileValues(asset, tms, z, x, y, resampling);
      return values === null ? null : this.encode(values, TILE, TILE, asset, o);
    }
    // On a worker: the window is read into shared memory, warped and coloured there.
    const plan = await this.plan(asset, tms, z, x, y, resampling);
    if (!plan) return null;
    const { win } = plan;
    // The window is checked against the budget before its shared buffer is taken.
    const info = dataTypeInfo(plan.cog.tif.dataType);
    const winBytes = win.width * win.height * Math.max(4, info.componentBytes * info.components);
    if (winBytes > this.decodeBudgetBytes)
      throw new ValidationError(
        `${asset.path}: tile ${z}/${x}/${y} reads a ${win.width} x ${win.height} window at level ${plan.level} (${winBytes} bytes), more than the ${this.decodeBudgetBytes}-byte decode budget; add overviews (sarbridge cog)`,
      );
    const srcBuf = this.takeShared(win.width * win.height * 4);
    const rgbaBuf = this.takeShared(TILE * TILE * 4);
    try {
      const src = new Float32Array(srcBuf, 0, win.width * win.height);
      let nodata: number | null;
      if (plan.cog.tif.dataType === 'float32') {
        const v = await plan.cog.tif.read(win, {
          level: plan.level,
          bands: [asset.band],
          nodataToNaN: true,
          maxBytes: this.decodeBudgetBytes,
          into: { data: src, width: win.width, height: win.height, bands: 1, dataType: 'float32' },
        });
        nodata = v.nodata ?? null;
      } else {
        const v = await plan.cog.tif.read(win, {
          level: plan.level,
          bands: [asset.band],
          nodataToNaN: true,
          maxBytes: this.decodeBudgetBytes,
        });
        src.set(v.data as ArrayLike<number>);
        nodata = v.nodata ?? null;
      }
      const [lo, hi] = o.rescale ?? (await this.displayRange(asset));
      await this.pool.renderTile({
        src: srcBuf,
        width: win.width,
        height: win.height,
        warp: { ...plan.warp, nodata },
        lut16: this.lut(lo, hi, asset.unit),
        rgb: colormap(o.colormap ?? 'gray'),
        rgba: rgbaBuf,
      });
      return await this.toImage(Buffer.from(rgbaBuf, 0, TILE * TILE * 4), TILE, TILE, o);
    } finally {
      this.giveShared(srcBuf);
      this.giveShared(rgbaBuf);
    }
  }

  /** A preview of the whole asset in its own grid, the longer side at most maxSize pixels. */
  async preview(asset: RasterAsset, maxSize: number, o: RenderOptions): Promise<Buffer> {
    const cog = await this.open(asset.path, asset.source);
    let level = 0;
    for (let l = 1; l < cog.factors.length; l++)
      if (Math.max(cog.width, cog.height) / cog.factors[l] >= maxSize) level = l;
    const view = await cog.tif.read(undefined, {
      level,
      bands: [asset.band],
      nodataToNaN: true,
      maxBytes: this.decodeBudgetBytes,
    });
    const w = view.width;
    const h = view.height;
    const scale = Math.min(1, maxSize / Math.max(w, h));
    const ow = Math.max(1, Math.round(w * scale));
    const oh = Math.max(1, Math.round(h * scale));
    const out = new Float32Array(ow * oh);
    for (let r = 0; r < oh; r++)
      for (let c = 0; c < ow; c++) {
        const v = view.data[
          Math.min(h - 1, Math.floor((r + 0.5) / scale)) * w + Math.min(w - 1, Math.floor((c + 0.5) / scale))
        ] as number;
        out[r * ow + c] = v === view.nodata ? Number.NaN : v;
      }
    return this.encode(out, ow, oh, asset, o);
  }

  /** The asset's value at a lon/lat (null outside the image or at nodata). */
  async point(asset: RasterAsset, lon: number, lat: number): Promise<number | null> {
    const cog = await this.open(asset.path, asset.source);
    const [x, y] = converter(EPSG_WGS84, cog.epsg).forward([lon, lat]);
    const gt = cog.gt;
    const det = gt[1] * gt[5] - gt[2] * gt[4];
    const col = Math.floor((gt[5] * (x - gt[0]) - gt[2] * (y - gt[3])) / det);
    const row = Math.floor((-gt[4] * (x - gt[0]) + gt[1] * (y - gt[3])) / det);
    if (!(col >= 0 && row >= 0 && col < cog.width && row < cog.height)) return null;
    const view = await cog.tif.read(
      { colOff: col, rowOff: row, width: 1, height: 1 },
      { bands: [asset.band], nodataToNaN: true, maxBytes: this.decodeBudgetBytes },
    );
    const v = view.data[0] as number;
    return v !== v || v === view.nodata ? null : v;
  }

  /** Native resolution of an asset in metres per pixel and its lon/lat bounds. */
  async extent(asset: RasterAsset): Promise<{ resolutionM: number; levels: number; epsg: number }> {
    const cog = await this.open(asset.path, asset.source);
    const unit = cog.epsg === EPSG_WGS84 ? 111_320 : 1;
    return { resolutionM: Math.abs(cog.gt[1]) * unit, levels: cog.factors.length, epsg: cog.epsg };
  }

  /** Unit of the file's values from its metadata, when it says. */
  async fileUnit(path: string, source?: () => Promise<ByteSource>): Promise<'dB' | 'linear' | null> {
    return (await this.open(path, source)).unitFromFile;
  }
}

/** `src`, calling `forget` when a read finds the object replaced (an error with code 'StaleObject'). */
function forgetWhenStale(src: ByteSource, forget: () => void): ByteSource {
  const check = (err: unknown): never => {
    if ((err as { code?: string }).code === 'StaleObject') forget();
    throw err;
  };
  return {
    name: src.name,
    size: src.size,
    read: (offset, length, what) => src.read(offset, length, what).catch(check),
    readInto: (offset, length, target, what) => src.readInto(offset, length, target, what).catch(check),
    close: () => src.close(),
  };
}
