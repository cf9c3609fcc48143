import { ValidationError } from '../errors.js';
import type { Window } from '../geo/window.js';
import { assertWindowInside, fullWindow } from '../geo/window.js';
import type { RasterView } from './view.js';

type Float32View = RasterView<Float32Array>;

function float32(view: RasterView, what: string): Float32View {
  if (view.dataType !== 'float32')
    throw new ValidationError(`${what} needs float32 data, got ${view.dataType}`);
  return view as Float32View;
}

function like(view: RasterView, width = view.width, height = view.height): Float32View {
  return {
    data: new Float32Array(width * height * view.bands),
    width,
    height,
    bands: view.bands,
    dataType: 'float32',
    nodata: Number.NaN,
  };
}

/**
 * Multilook: average intensity over blocks of `range` columns by `azimuth` rows (NaN left out; a block
 * with no valid pixel is NaN). The output has floor(width / range) x floor(height / azimuth) pixels.
 * @example multilook(view, { range: 4, azimuth: 1 }) // 4 range looks
 */
export function multilook(view: RasterView, looks: { range: number; azimuth: number }): Float32View {
  const src = float32(view, 'multilook');
  const { range, azimuth } = looks;
  for (const [name, v, max] of [
    ['range', range, src.width],
    ['azimuth', azimuth, src.height],
  ] as const) {
    if (!Number.isInteger(v) || v < 1 || v > max)
      throw new ValidationError(`${name} looks must be an integer from 1 to ${max}, got ${v}`);
  }
  const W = Math.floor(src.width / range);
  const H = Math.floor(src.height / azimuth);
  const out = like(src, W, H);
  const sum = new Float64Array(W);
  const cnt = new Float64Array(W);
  for (let b = 0; b < src.bands; b++) {
    const sBase = b * src.width * src.height;
    const dBase = b * W * H;
    for (let y = 0; y < H; y++) {
      sum.fill(0);
      cnt.fill(0);
      for (let k = 0; k < azimuth; k++) {
        const row = sBase + (y * azimuth + k) * src.width;
        for (let x = 0; x < W; x++) {
          for (let r = 0, i = row + x * range; r < range; r++, i++) {
            const v = src.data[i];
            if (v === v) {
              sum[x] += v;
              cnt[x]++;
            }
          }
        }
      }
      for (let x = 0; x < W; x++) out.data[dBase + y * W + x] = cnt[x] > 0 ? sum[x] / cnt[x] : Number.NaN;
    }
  }
  return out;
}

/** 10 log10(x) for linear power (intensity, sigma0); x <= 0 and NaN become NaN (nodata). */
export function toDb(view: RasterView, dst?: Float32View): Float32View {
  const src = float32(view, 'dB conversion');
  const out = dst ?? like(src);
  const s = src.data;
  const d = out.data;
  for (let i = 0; i < s.length; i++) {
    const v = s[i];
    d[i] = v > 0 ? 10 * Math.log10(v) : Number.NaN;
  }
  return out;
}

/** 10^(dB / 10): back to linear power. */
export function fromDb(view: RasterView, dst?: Float32View): Float32View {
  const src = float32(view, 'dB to linear conversion');
  const out = dst ?? like(src);
  for (let i = 0; i < src.data.length; i++) out.data[i] = 10 ** (src.data[i] / 10);
  return out;
}

/** Amplitude to intensity (x^2). */
export function amplitudeToIntensity(view: RasterView, dst?: Float32View): Float32View {
  const src = float32(view, 'amplitude to intensity');
  const out = dst ?? like(src);
  for (let i = 0; i < src.data.length; i++) out.data[i] = src.data[i] * src.data[i];
  return out;
}

/** Intensity to amplitude (sqrt x); negative intensity becomes NaN. */
export function intensityToAmplitude(view: RasterView, dst?: Float32View): Float32View {
  const src = float32(view, 'intensity to amplitude');
  const out = dst ?? like(src);
  for (let i = 0; i < src.data.length; i++)
    out.data[i] = src.data[i] >= 0 ? Math.sqrt(src.data[i]) : Number.NaN;
  return out;
}

/**
 * Equivalent number of looks of intensity over a window (whole band by default): mean^2 / variance
 * (unbiased), NaN left out. 1 for single-look speckle; higher after multilooking or filtering.
 */
export function enl(view: RasterView, win: Window = fullWindow(view.width, view.height), band = 0): number {
  const src = float32(view, 'ENL');
  assertWindowInside(win, src.width, src.height);
  let s = 0;
  let s2 = 0;
  let n = 0;
  const base = band * src.width * src.height;
  for (let y = win.rowOff; y < win.rowOff + win.height; y++) {
    for (let x = win.colOff, i = base + y * src.width + x; x < win.colOff + win.width; x++, i++) {
      const v = src.data[i];
      if (v === v) {
        s += v;
        s2 += v * v;
        n++;
      }
    }
  }
  if (n < 2) throw new ValidationError(`ENL needs at least 2 valid pixels in the window, found ${n}`);
  const m = s / n;
  const variance = (s2 - s * m) / (n - 1);
  return variance > 0 ? (m * m) / variance : Number.POSITIVE_INFINITY;
}

export interface Histogram {
  min: number;
  max: number;
  /** counts[k] counts values in [min + k w, min + (k + 1) w), the last bin closed; w = (max - min) / bins. */
  counts: Float64Array;
  /** Valid (finite) values counted. */
  total: number;
}

/** Histogram of the finite values of one band; the range defaults to their min and max. */
export function histogram(
  view: RasterView,
  opts: { bins?: number; min?: number; max?: number; band?: number } = {},
): Histogram {
  const bins = opts.bins ?? 256;
  if (!Number.isInteger(bins) || bins < 1 || bins > 1 << 24)
    throw new ValidationError(`bins must be an integer from 1 to ${1 << 24}, got ${bins}`);
  const plane = view.width * view.height;
  const base = (opts.band ?? 0) * plane;
  const d = view.data;
  let min = opts.min ?? Number.POSITIVE_INFINITY;
  let max = opts.max ?? Number.NEGATIVE_INFINITY;
  if (opts.min === undefined || opts.max === undefined) {
    for (let i = base; i < base + plane; i++) {
      const v = d[i];
      if (v - v !== 0) continue;
      if (opts.min === undefined && v < min) min = v;
      if (opts.max === undefined && v > max) max = v;
    }
  }
  const counts = new Float64Array(bins);
  if (!(max >= min)) return { min, max, counts, total: 0 };
  const scale = max > min ? bins / (max - min) : 0;
  let total = 0;
  for (let i = base; i < base + plane; i++) {
    const v = d[i];
    if (v - v !== 0 || v < min || v > max) continue;
    let k = Math.floor((v - min) * scale);
    if (k >= bins) k = bins - 1;
    counts[k]++;
    total++;
  }
  return { min, max, counts, total };
}

/**
 * Percentiles (0-100) of the finite values of one band, for display stretches, from a fine histogram
 * (65536 bins): each is exact to (max - min) / 65536, interpolated within its bin.
 */
export function percentiles(view: RasterView, ps: number[], band = 0): number[] {
  for (const p of ps)
    if (!(p >= 0 && p <= 100)) throw new ValidationError(`percentiles must be within 0..100, got ${p}`);
  const h = histogram(view, { bins: 65536, band });
  if (h.total === 0) return ps.map(() => Number.NaN);
  const w = (h.max - h.min) / h.counts.length;
  return ps.map((p) => {
    const target = (p / 100) * h.total;
    let cum = 0;
    for (let k = 0; k < h.counts.length; k++) {
      const c = h.counts[k];
      if (cum + c >= target && c > 0) return h.min + (k + (target - cum) / c) * w;
      cum += c;
    }
    return h.max;
  });
}

/** dst[p] = 10 log10(a[p] / b[p]) for p in [from, to); NaN where either value is not positive (or NaN). */
export function logRatioDb(
  a: Float32Array,
  b: Float32Array,
  dst: Float32Array,
  from: number,
  to: number,
): void {
  const dbPerNeper = 10 / Math.LN10;
  for (let p = from; p < to; p++) {
    const x = a[p];
    const y = b[p];
    dst[p] = x > 0 && y > 0 ? dbPerNeper * Math.log(x / y) : Number.NaN;
  }
}
