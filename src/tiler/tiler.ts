import sharp from 'sharp';
import { NotFoundError, ValidationError } from '../errors.js';
import { converter, EPSG_WGS84, isKnownEpsg } from '../geo/crs.js';
import type { TileMatrixSetDef } from '../geo/tms.js';
import { tileBounds } from '../geo/tms.js';
import { GeoTiff } from '../io/tiff/reader.js';
import { LruCache } from '../util/lru.js';
import type { ColormapName } from './colormap.js';
import { colorizeLut, colormap, float16Lut } from './colormap.js';

/** An item's raster asset as the tiler needs it. */
export interface RasterAsset {
  /** Local file path of the COG. */
  path: string;
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
  /** Value-to-colour tables by display range and unit. */
  private readonly luts = new LruCache<string, Uint16Array>(32, () => 1);

  constructor(opts: { maxOpenFiles?: number; blockCacheBytes?: number } = {}) {
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
  }

  /** The COG header of a file, opened once and kept (bounded). */
  open(path: string): Promise<OpenCog> {
    let p = this.files.get(path);
    if (!p) {
      p = (async () => {
        let tif: GeoTiff;
        try {
          tif = await GeoTiff.open(path);
        } catch (err) {
          if ((err as { code?: string }).code === 'ENOENT')
            throw new NotFoundError(`asset file ${path} does not exist`);
          throw err;
        }
        const info = tif.info();
        if (info.epsg === null || info.geoTransform === null || !isKnownEpsg(info.epsg))
          throw new ValidationError(`${path}: the asset has no CRS sarbridge can map`);
        const cache = this.blocks;
        tif.useBlockCache({
          get: (k) => cache.get(`${path}|${k}`),
          set: (k, v) => cache.set(`${path}|${k}`, v),
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

  /**
   * Values of a tile (256 x 256 float32, NaN outside the image or at nodata), or null when the tile
   * does not touch the image.
   */
  async tileValues(
    asset: RasterAsset,
    tms: TileMatrixSetDef,
    z: number,
    x: number,
    y: number,
    resampling: 'bilinear' | 'nearest',
  ): Promise<Float32Array | null> {
    const cog = await this.open(asset.path);
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
    // The window goes into a pooled buffer when the data are float32 (the common case for SAR).
    const dt = cog.tif.dataType;
    const pooled = dt === 'float32' ? this.takeFloats(win.width * win.height) : null;
    const view = await cog.tif.read(win, {
      level,
      bands: [asset.band],
      nodataToNaN: true,
      into: pooled
        ? {
            data: pooled.subarray(0, win.width * win.height),
            width: win.width,
            height: win.height,
            bands: 1,
            dataType: 'float32',
          }
        : undefined,
    });
    const src = view.data;
    const nodata = view.nodata ?? null;
    const W = win.width;
    const H = win.height;
    const out = this.takeFloats(TILE * TILE).subarray(0, TILE * TILE);
    const step = TILE / GRID;
    const invStep = 1 / step;
    const invF = 1 / f;
    // Per output row: the control points interpolated to the row (then linear along it).
    const edgeCol = new Float64Array(n);
    const edgeRow = new Float64Array(n);
    const rowSc = new Float64Array(TILE);
    const rowSr = new Float64Array(TILE);
    const inside = new Uint8Array(TILE);
    for (let py = 0; py < TILE; py++) {
      const gy = (py + 0.5) / step;
      const j = Math.min(GRID - 1, Math.floor(gy));
      const fy = gy - j;
      for (let i = 0; i < n; i++) {
        const k = j * n + i;
        edgeCol[i] = cols[k] * (1 - fy) + cols[k + n] * fy;
        edgeRow[i] = rows[k] * (1 - fy) + rows[k + n] * fy;
      }
      // Source positions along the row (window pixels at the chosen level; centres at +0.5).
      for (let px = 0; px < TILE; px++) {
        const gx = (px + 0.5) * invStep;
        const i = gx < GRID - 1 ? Math.floor(gx) : GRID - 1;
        const fx = gx - i;
        const col = edgeCol[i] + (edgeCol[i + 1] - edgeCol[i]) * fx;
        const row = edgeRow[i] + (edgeRow[i + 1] - edgeRow[i]) * fx;
        inside[px] = col >= 0 && row >= 0 && col < cog.width && row < cog.height ? 1 : 0;
        rowSc[px] = col * invF - wc0;
        rowSr[px] = row * invF - wr0;
      }
      const o0 = py * TILE;
      if (resampling === 'nearest') sampleNearest(src, W, H, rowSc, rowSr, inside, out, o0, nodata);
      else sampleBilinear(src, W, H, rowSc, rowSr, inside, out, o0, nodata);
    }
    if (pooled) this.giveFloats(pooled);
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
    const cog = await this.open(asset.path);
    const level = cog.factors.length - 1;
    const view = await cog.tif.read(undefined, { level, bands: [asset.band], nodataToNaN: true });
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

  /** Values to an encoded image (PNG or WebP, RGBA). */
  async encode(
    values: Float32Array,
    width: number,
    height: number,
    asset: RasterAsset,
    o: RenderOptions,
  ): Promise<Buffer> {
    const [lo, hi] = o.rescale ?? (await this.displayRange(asset));
    const key = `${lo},${hi},${asset.unit}`;
    let lut = this.luts.get(key);
    if (!lut) {
      lut = float16Lut(
        lo,
        hi,
        asset.unit === 'linear' ? (v) => (v > 0 ? 10 * Math.log10(v) : Number.NaN) : (v) => v,
      );
      this.luts.set(key, lut);
    }
    const rgbaBuf = this.takeBytes(width * height * 4);
    const rgba = colorizeLut(
      values,
      lut,
      colormap(o.colormap ?? 'gray'),
      rgbaBuf.subarray(0, width * height * 4),
    );
    const img = sharp(Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength), {
      raw: { width, height, channels: 4 },
    });
    try {
      return await ((o.format ?? 'png') === 'webp'
        ? img.webp({ quality: 90, effort: 2 }).toBuffer()
        : img.png({ compressionLevel: 3, adaptiveFiltering: false }).toBuffer());
    } finally {
      // sharp has read the pixels once its output is ready.
      this.giveBytes(rgbaBuf);
    }
  }

  // Small pools of pixel buffers, so a busy tile server does not churn the garbage collector.
  private readonly floats: Float32Array[] = [];
  private readonly bytes: Uint8Array[] = [];
  private takeFloats(n: number): Float32Array {
    const i = this.floats.findIndex((b) => b.length >= n);
    return i >= 0 ? this.floats.splice(i, 1)[0] : new Float32Array(Math.max(n, TILE * TILE));
  }
  private giveFloats(b: Float32Array): void {
    if (this.floats.length < 16 && b.length <= 4 * TILE * TILE) this.floats.push(b);
  }
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
    const values = await this.tileValues(asset, tms, z, x, y, o.resampling ?? 'bilinear');
    if (values === null) return null;
    try {
      return await this.encode(values, TILE, TILE, asset, o);
    } finally {
      this.giveFloats(values);
    }
  }

  /** A preview of the whole asset in its own grid, the longer side at most maxSize pixels. */
  async preview(asset: RasterAsset, maxSize: number, o: RenderOptions): Promise<Buffer> {
    const cog = await this.open(asset.path);
    let level = 0;
    for (let l = 1; l < cog.factors.length; l++)
      if (Math.max(cog.width, cog.height) / cog.factors[l] >= maxSize) level = l;
    const view = await cog.tif.read(undefined, { level, bands: [asset.band], nodataToNaN: true });
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
    const cog = await this.open(asset.path);
    const [x, y] = converter(EPSG_WGS84, cog.epsg).forward([lon, lat]);
    const gt = cog.gt;
    const det = gt[1] * gt[5] - gt[2] * gt[4];
    const col = Math.floor((gt[5] * (x - gt[0]) - gt[2] * (y - gt[3])) / det);
    const row = Math.floor((-gt[4] * (x - gt[0]) + gt[1] * (y - gt[3])) / det);
    if (!(col >= 0 && row >= 0 && col < cog.width && row < cog.height)) return null;
    const view = await cog.tif.read(
      { colOff: col, rowOff: row, width: 1, height: 1 },
      { bands: [asset.band], nodataToNaN: true },
    );
    const v = view.data[0] as number;
    return v !== v || v === view.nodata ? null : v;
  }

  /** Native resolution of an asset in metres per pixel and its lon/lat bounds. */
  async extent(asset: RasterAsset): Promise<{ resolutionM: number; levels: number; epsg: number }> {
    const cog = await this.open(asset.path);
    const unit = cog.epsg === EPSG_WGS84 ? 111_320 : 1;
    return { resolutionM: Math.abs(cog.gt[1]) * unit, levels: cog.factors.length, epsg: cog.epsg };
  }

  /** Unit of the file's values from its metadata, when it says. */
  async fileUnit(path: string): Promise<'dB' | 'linear' | null> {
    return (await this.open(path)).unitFromFile;
  }
}

type Samples = ArrayLike<number>;

/** Nearest-neighbour samples of a row of output pixels. */
function sampleNearest(
  src: Samples,
  W: number,
  H: number,
  sc: Float64Array,
  sr: Float64Array,
  inside: Uint8Array,
  out: Float32Array,
  o0: number,
  nodata: number | null,
): void {
  for (let px = 0; px < sc.length; px++) {
    let v = Number.NaN;
    if (inside[px] === 1) {
      const ic = Math.floor(sc[px]);
      const ir = Math.floor(sr[px]);
      if (ic >= 0 && ir >= 0 && ic < W && ir < H) v = src[ir * W + ic];
      if (v === nodata) v = Number.NaN;
    }
    out[o0 + px] = v;
  }
}

/** Bilinear samples of a row of output pixels; next to nodata, the nearest pixel. */
function sampleBilinear(
  src: Samples,
  W: number,
  H: number,
  sc: Float64Array,
  sr: Float64Array,
  inside: Uint8Array,
  out: Float32Array,
  o0: number,
  nodata: number | null,
): void {
  const dx = W > 1 ? 1 : 0;
  const dy = H > 1 ? W : 0;
  const maxC = Math.max(0, W - 2);
  const maxR = Math.max(0, H - 2);
  for (let px = 0; px < sc.length; px++) {
    if (inside[px] === 0) {
      out[o0 + px] = Number.NaN;
      continue;
    }
    const u = sc[px] - 0.5;
    const w = sr[px] - 0.5;
    let ic = Math.floor(u);
    let ir = Math.floor(w);
    ic = Math.min(maxC, Math.max(0, ic));
    ir = Math.min(maxR, Math.max(0, ir));
    let a = u - ic;
    let b = w - ir;
    a = Math.min(1, Math.max(0, a));
    b = Math.min(1, Math.max(0, b));
    const o = ir * W + ic;
    const p00 = src[o];
    const p10 = src[o + dx];
    const p01 = src[o + dy];
    const p11 = src[o + dx + dy];
    let v = (p00 + (p10 - p00) * a) * (1 - b) + (p01 + (p11 - p01) * a) * b;
    if (v !== v || p00 === nodata || p10 === nodata || p01 === nodata || p11 === nodata) {
      const nc = Math.min(W - 1, Math.max(0, Math.floor(sc[px])));
      const nr = Math.min(H - 1, Math.max(0, Math.floor(sr[px])));
      v = src[nr * W + nc];
      if (v === nodata) v = Number.NaN;
    }
    out[o0 + px] = v;
  }
}
