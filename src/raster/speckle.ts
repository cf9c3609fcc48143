import { ValidationError } from '../errors.js';
import { refinedLeeRows } from './refined-lee.js';
import type { RasterView } from './view.js';

/** Speckle filters; the first five reproduce Orfeo ToolBox 8.1 `otbcli_Despeckle` (boxcar: the window mean). */
export type SpeckleFilter = 'boxcar' | 'lee' | 'kuan' | 'frost' | 'gammamap' | 'refined-lee';

export const SPECKLE_FILTERS: readonly SpeckleFilter[] = [
  'boxcar',
  'lee',
  'kuan',
  'frost',
  'gammamap',
  'refined-lee',
];

export interface SpeckleOptions {
  filter: SpeckleFilter;
  /** Window side in pixels, odd (default 7; Refined Lee is always 7). */
  window?: number;
  /** Number of looks L of the intensity image (default 1): the speckle's Cu^2 = 1 / L. */
  looks?: number;
  /** Frost damping factor (default 0.1). */
  deramp?: number;
}

export interface SpeckleParams {
  filter: SpeckleFilter;
  window: number;
  radius: number;
  looks: number;
  deramp: number;
}

/** Validate options; errors name the parameter. */
export function speckleParams(opts: SpeckleOptions): SpeckleParams {
  if (!SPECKLE_FILTERS.includes(opts.filter))
    throw new ValidationError(`filter must be one of ${SPECKLE_FILTERS.join(', ')}, got '${opts.filter}'`);
  const window = opts.window ?? 7;
  if (!Number.isInteger(window) || window < 3 || window > 101 || window % 2 === 0) {
    throw new ValidationError(`window must be an odd integer from 3 to 101, got ${window}`);
  }
  if (opts.filter === 'refined-lee' && window !== 7)
    throw new ValidationError(`refined-lee uses a 7 x 7 window, got window ${window}`);
  const looks = opts.looks ?? 1;
  if (!(looks > 0) || !Number.isFinite(looks))
    throw new ValidationError(`looks must be a positive number, got ${looks}`);
  const deramp = opts.deramp ?? 0.1;
  if (!(deramp >= 0) || !Number.isFinite(deramp))
    throw new ValidationError(`deramp must be a non-negative number, got ${deramp}`);
  return { filter: opts.filter, window, radius: (window - 1) / 2, looks, deramp };
}

const EPS = 1e-10;
/** Rows after which the running column sums are recomputed from scratch, bounding rounding drift. */
const RESYNC_ROWS = 64;

/** Frost's distance classes for a radius: each offset's class, and each class's distance as m * sqrt(q). */
interface FrostClasses {
  /** Per offset (row-major over the window): dy, dx and class index. */
  dy: Int32Array;
  dx: Int32Array;
  cls: Int32Array;
  /** Per class: how many offsets, the multiplier m and the index of its base sqrt(q). */
  count: Float64Array;
  mult: Int32Array;
  base: Int32Array;
  /** Distinct sqrt(q) values: exp(-A d) = exp(-A sqrt(q))^m needs one Math.exp per base. */
  baseRoot: Float64Array;
}

function frostClasses(r: number): FrostClasses {
  const n = (2 * r + 1) ** 2;
  const dy = new Int32Array(n);
  const dx = new Int32Array(n);
  const cls = new Int32Array(n);
  const d2s: number[] = [];
  let k = 0;
  for (let y = -r; y <= r; y++) {
    for (let x = -r; x <= r; x++) {
      const d2 = x * x + y * y;
      let c = d2s.indexOf(d2);
      if (c < 0) {
        c = d2s.length;
        d2s.push(d2);
      }
      dy[k] = y;
      dx[k] = x;
      cls[k++] = c;
    }
  }
  const count = new Float64Array(d2s.length);
  for (let i = 0; i < n; i++) count[cls[i]]++;
  // d = sqrt(d2) = m * sqrt(q) with q square-free.
  const roots: number[] = [];
  const mult = new Int32Array(d2s.length);
  const base = new Int32Array(d2s.length);
  d2s.forEach((d2, c) => {
    if (d2 === 0) {
      mult[c] = 0;
      base[c] = -1;
      return;
    }
    let m = 1;
    let q = d2;
    for (let f = 2; f * f <= q; f++) {
      while (q % (f * f) === 0) {
        q /= f * f;
        m *= f;
      }
    }
    let b = roots.indexOf(q);
    if (b < 0) {
      b = roots.length;
      roots.push(q);
    }
    mult[c] = m;
    base[c] = b;
  });
  return { dy, dx, cls, count, mult, base, baseRoot: Float64Array.from(roots, Math.sqrt) };
}

/** Working buffers of one filtering job, reusable across calls of the same width and radius. */
export class SpeckleScratch {
  colSum = new Float64Array(0);
  colSq = new Float64Array(0);
  colN = new Float64Array(0);
  padded = new Float32Array(0);

  ensure(width: number, paddedLength: number): void {
    if (this.colSum.length < width) {
      this.colSum = new Float64Array(width);
      this.colSq = new Float64Array(width);
      this.colN = new Float64Array(width);
    }
    if (this.padded.length < paddedLength) this.padded = new Float32Array(paddedLength);
  }
}

/**
 * Filter rows [outRow0, outRow0 + outRows) of a single-band float32 intensity image of
 * `width` x `imageHeight` pixels into `dst` (whose row 0 is image row outRow0).
 * `src` holds image rows [srcRow0, srcRow0 + srcRows), which must include every row the windows touch
 * (outRow0 - r .. outRow0 + outRows - 1 + r, clamped to the image). Borders replicate the edge pixel;
 * window statistics are in double precision with the unbiased variance; NaN pixels are left out of the
 * statistics and stay NaN. Cost does not grow with the window (running sums), except Frost's weights.
 */
export function speckleRows(
  src: Float32Array,
  width: number,
  imageHeight: number,
  srcRow0: number,
  srcRows: number,
  dst: Float32Array,
  outRow0: number,
  outRows: number,
  p: SpeckleParams,
  scratch: SpeckleScratch = new SpeckleScratch(),
): void {
  const r = p.radius;
  const firstNeeded = Math.max(0, outRow0 - r);
  const lastNeeded = Math.min(imageHeight - 1, outRow0 + outRows - 1 + r);
  if (firstNeeded < srcRow0 || lastNeeded >= srcRow0 + srcRows) {
    throw new ValidationError(
      `source rows ${srcRow0}..${srcRow0 + srcRows - 1} do not cover rows ${firstNeeded}..${lastNeeded} needed for output rows ${outRow0}..${outRow0 + outRows - 1}`,
    );
  }
  if (p.filter === 'refined-lee') {
    refinedLeeRows(src, width, imageHeight, srcRow0, dst, outRow0, outRows, p);
    return;
  }
  const W = width;
  const padW = W + 2 * r;
  scratch.ensure(W, p.filter === 'frost' ? padW * (2 * r + 1) : 0);
  const { colSum, colSq, colN } = scratch;
  const rowBase = (y: number) => ((y < 0 ? 0 : y >= imageHeight ? imageHeight - 1 : y) - srcRow0) * W;

  const addRow = (base: number, sign: number) => {
    for (let x = 0; x < W; x++) {
      const v = src[base + x];
      if (v === v) {
        colSum[x] += sign * v;
        colSq[x] += sign * v * v;
        colN[x] += sign;
      }
    }
  };
  const resync = (y: number) => {
    colSum.fill(0, 0, W);
    colSq.fill(0, 0, W);
    colN.fill(0, 0, W);
    for (let k = -r; k <= r; k++) addRow(rowBase(y + k), 1);
  };

  const cu2 = 1 / p.looks;
  const L = p.looks;
  const code =
    p.filter === 'boxcar'
      ? 0
      : p.filter === 'lee'
        ? 1
        : p.filter === 'kuan'
          ? 2
          : p.filter === 'gammamap'
            ? 3
            : 4;
  const sqrt2Cu = Math.SQRT2 * Math.sqrt(cu2);
  const frost = code === 4 ? frostClasses(r) : null;
  const classSum = frost ? new Float64Array(frost.count.length) : null;
  const classN = frost ? new Float64Array(frost.count.length) : null;
  const baseExp = frost ? new Float64Array(frost.baseRoot.length) : null;
  const winRows = 2 * r + 1;

  for (let j = 0; j < outRows; j++) {
    const y = outRow0 + j;
    if (j % RESYNC_ROWS === 0) resync(y);
    else {
      addRow(rowBase(y - r - 1), -1);
      addRow(rowBase(y + r), 1);
    }
    const centre = rowBase(y);
    const out = j * W;
    // Horizontal window sums at x = 0 (columns clamped to the edge).
    let S = 0;
    let Q = 0;
    let N = 0;
    for (let k = -r; k <= r; k++) {
      const c = k < 0 ? 0 : k >= W ? W - 1 : k;
      S += colSum[c];
      Q += colSq[c];
      N += colN[c];
    }
    if (frost) {
      // Window rows, padded by r replicated columns on each side, for clamp-free neighbour access.
      const pad = scratch.padded;
      for (let k = 0; k < winRows; k++) {
        const b = rowBase(y - r + k);
        const o = k * padW;
        pad.set(src.subarray(b, b + W), o + r);
        for (let e = 0; e < r; e++) {
          pad[o + e] = src[b];
          pad[o + r + W + e] = src[b + W - 1];
        }
      }
    }
    for (let x = 0; x < W; x++) {
      const I = src[centre + x];
      let v: number;
      if (I !== I || N < 1) v = Number.NaN;
      else {
        const E = S / N;
        const variance = N > 1 ? (Q - S * E) / (N - 1) : 0;
        if (code === 0) v = E;
        else if (Math.abs(E) < EPS) v = 0;
        else if (Math.abs(variance) < EPS) v = E;
        else {
          const ci2 = variance / (E * E);
          if (code === 1) {
            if (ci2 < cu2) v = E;
            else {
              const w = 1 - cu2 / ci2;
              v = I * w + E * (1 - w);
            }
          } else if (code === 2) {
            if (ci2 < cu2) v = E;
            else {
              const w = (1 - cu2 / ci2) / (1 + cu2);
              v = I * w + E * (1 - w);
            }
          } else if (code === 3) {
            if (ci2 < cu2) v = E;
            else if (Math.sqrt(ci2) < sqrt2Cu) {
              const a = (1 + cu2) / (ci2 - cu2);
              const b = a - L - 1;
              const d = E * E * b * b + 4 * a * L * E * I;
              v = (b * E + Math.sqrt(d)) / (2 * a);
            } else v = I;
          } else {
            v = frostPixel(
              scratch.padded,
              padW,
              x,
              r,
              (p.deramp * variance) / (E * E),
              frost as FrostClasses,
              classSum as Float64Array,
              classN as Float64Array,
              baseExp as Float64Array,
            );
          }
        }
      }
      dst[out + x] = v;
      // Slide the window one column right.
      const add = Math.min(x + r + 1, W - 1);
      const sub = Math.max(x - r, 0);
      S += colSum[add] - colSum[sub];
      Q += colSq[add] - colSq[sub];
      N += colN[add] - colN[sub];
    }
  }
}

/** Frost's weighted mean at column x: sum of exp(-A d) x over sum of exp(-A d), NaN left out. */
function frostPixel(
  pad: Float32Array,
  padW: number,
  x: number,
  r: number,
  A: number,
  f: FrostClasses,
  classSum: Float64Array,
  classN: Float64Array,
  baseExp: Float64Array,
): number {
  classSum.fill(0);
  classN.fill(0);
  const n = f.dy.length;
  for (let k = 0; k < n; k++) {
    const v = pad[(f.dy[k] + r) * padW + x + r + f.dx[k]];
    if (v === v) {
      classSum[f.cls[k]] += v;
      classN[f.cls[k]]++;
    }
  }
  for (let b = 0; b < baseExp.length; b++) baseExp[b] = Math.exp(-A * f.baseRoot[b]);
  let num = 0;
  let den = 0;
  for (let c = 0; c < classSum.length; c++) {
    let w = 1;
    const b = f.base[c];
    if (b >= 0) {
      const e = baseExp[b];
      for (let m = f.mult[c]; m > 0; m--) w *= e;
    }
    num += w * classSum[c];
    den += w * classN[c];
  }
  return num / den;
}

/** Despeckle a whole single-band float32 raster (in memory) with one thread. */
export function despeckle(
  view: RasterView<Float32Array>,
  opts: SpeckleOptions,
  dst?: RasterView<Float32Array>,
): RasterView<Float32Array> {
  if (view.bands !== 1 || view.dataType !== 'float32')
    throw new ValidationError(`despeckle needs one float32 band, got ${view.bands} x ${view.dataType}`);
  const p = speckleParams(opts);
  const out = dst ?? {
    data: new Float32Array(view.width * view.height),
    width: view.width,
    height: view.height,
    bands: 1,
    dataType: 'float32' as const,
    nodata: view.nodata ?? null,
  };
  speckleRows(view.data, view.width, view.height, 0, view.height, out.data, 0, view.height, p);
  return out;
}
