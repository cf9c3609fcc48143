import { encodePng } from '../../io/png.js';
import { histogram } from '../../raster/sar.js';

/** Longest side of the quick-look, pixels. */
const QUICKLOOK_MAX = 1024;
/** Bins of the histogram the stretch's percentiles come from (as raster/sar percentiles). */
const BINS = 65536;

/**
 * The quick-look of a raster written strip by strip: every f-th pixel of every f-th row (f the
 * reduction that brings the longer side to at most 1024 pixels) and the range of the finite values,
 * gathered as the strips go by.
 */
export class QuicklookSampler {
  readonly factor: number;
  readonly width: number;
  readonly height: number;
  readonly samples: Float32Array;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly srcWidth: number,
    private readonly srcHeight: number,
  ) {
    this.factor = Math.max(1, Math.ceil(Math.max(srcWidth, srcHeight) / QUICKLOOK_MAX));
    this.width = Math.ceil(srcWidth / this.factor);
    this.height = Math.ceil(srcHeight / this.factor);
    this.samples = new Float32Array(this.width * this.height).fill(Number.NaN);
  }

  /** Take rows [rowOff, rowOff + rows) of the raster (full width, row-major). */
  add(data: Float32Array, rowOff: number, rows: number): void {
    const W = this.srcWidth;
    for (let i = 0; i < rows * W; i++) {
      const v = data[i];
      if (v - v !== 0) continue;
      if (v < this.min) this.min = v;
      if (v > this.max) this.max = v;
    }
    const f = this.factor;
    for (let y = 0; y < this.height; y++) {
      const srcRow = Math.min(this.srcHeight - 1, y * f);
      if (srcRow < rowOff || srcRow >= rowOff + rows) continue;
      const base = (srcRow - rowOff) * W;
      for (let x = 0; x < this.width; x++)
        this.samples[y * this.width + x] = data[base + Math.min(W - 1, x * f)];
    }
  }
}

/** Rows of a single-band float32 raster, read by windows (a TempRaster). */
export interface RowReader {
  readonly width: number;
  readonly height: number;
  read(
    win: { colOff: number; rowOff: number; width: number; height: number },
    into?: Float32Array,
  ): Promise<Float32Array>;
}

/**
 * Percentiles `ps` of a float32 raster's finite values, as raster/sar `percentiles` gives them for the
 * whole raster (the same 65536-bin histogram between its min and max, interpolated in the bin),
 * counted over strips of `stripRows` rows so the raster is never held whole. `src` is the raster
 * exactly as written to the COG (ard keeps a raw copy, so the COG need not be decoded again);
 * `scratch` (width x stripRows values) is used for the strips when given.
 */
export async function streamedPercentiles(
  src: RowReader,
  min: number,
  max: number,
  ps: number[],
  stripRows = 512,
  scratch?: Float32Array,
): Promise<number[]> {
  if (!(max >= min)) return ps.map(() => Number.NaN);
  const counts = new Float64Array(BINS);
  let total = 0;
  const { width, height } = src;
  const n = width * Math.min(stripRows, height);
  const buf = scratch && scratch.length >= n ? scratch : new Float32Array(n);
  for (let rowOff = 0; rowOff < height; rowOff += stripRows) {
    const rows = Math.min(stripRows, height - rowOff);
    const data = await src.read({ colOff: 0, rowOff, width, height: rows }, buf.subarray(0, width * rows));
    const view = { data, width, height: rows, bands: 1, dataType: 'float32' as const, nodata: Number.NaN };
    const h = histogram(view, { bins: BINS, min, max });
    for (let k = 0; k < BINS; k++) counts[k] += h.counts[k];
    total += h.total;
  }
  if (total === 0) return ps.map(() => Number.NaN);
  const w = (max - min) / BINS;
  return ps.map((p) => {
    const target = (p / 100) * total;
    let cum = 0;
    for (let k = 0; k < BINS; k++) {
      const c = counts[k];
      if (cum + c >= target && c > 0) return min + (k + (target - cum) / c) * w;
      cum += c;
    }
    return max;
  });
}

/** The quick-look PNG (grey, alpha 0 at nodata) of the samples stretched linearly between lo and hi. */
export function quicklookPng(q: QuicklookSampler, lo: number, hi: number): Buffer {
  const { width: w, height: h, samples } = q;
  const gray = new Uint8Array(w * h);
  const alpha = new Uint8Array(w * h);
  const scale = hi > lo ? 255 / (hi - lo) : 0;
  for (let i = 0; i < w * h; i++) {
    const v = samples[i];
    if (v !== v) continue;
    gray[i] = Math.max(0, Math.min(255, Math.round((v - lo) * scale)));
    alpha[i] = 255;
  }
  return encodePng(gray, w, h, alpha);
}
