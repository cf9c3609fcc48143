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

/** 2^-k for k = 0..1075 (0 beyond double's range). */
const POW2_NEG = Float64Array.from({ length: 1076 }, (_, k) => 2 ** -k);
const LN2_HI = 0.6931471803691238;
const LN2_LO = 1.9082149292705877e-10;

/**
 * e^x for x <= 0, by range reduction x = k ln2 + t, |t| <= ln2 / 2, and the degree-11 Taylor polynomial
 * of e^t (truncation error below 1e-14 relative); about three times cheaper than Math.exp here.
 * Frost needs a few per pixel.
 */
export function expNeg(x: number): number {
  if (x < -745) return 0;
  // floor(v + 0.5), not Math.round: no -0, so k stays a small integer in optimized code.
  const k = Math.floor(x * Math.LOG2E + 0.5);
  const t = x - k * LN2_HI - k * LN2_LO;
  const p =
    1 +
    t *
      (1 +
        t *
          (0.5 +
            t *
              (1 / 6 +
                t *
                  (1 / 24 +
                    t *
                      (1 / 120 +
                        t *
                          (1 / 720 +
                            t *
                              (1 / 5040 +
                                t * (1 / 40320 + t * (1 / 362880 + t * (1 / 3628800 + t / 39916800))))))))));
  return -k < 1076 ? p * POW2_NEG[-k] : 0;
}
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

/** Working buffers of one filtering job, reusable across calls. */
export class SpeckleScratch {
  colSum = new Float64Array(0);
  colSq = new Float64Array(0);
  colN = new Float64Array(0);
  mean = new Float64Array(0);
  variance = new Float64Array(0);
  padded = new Float32Array(0);

  ensure(width: number, paddedLength: number): void {
    if (this.colSum.length < width) {
      this.colSum = new Float64Array(width);
      this.colSq = new Float64Array(width);
      this.colN = new Float64Array(width);
      this.mean = new Float64Array(width);
      this.variance = new Float64Array(width);
    }
    if (this.padded.length < paddedLength) this.padded = new Float32Array(paddedLength);
  }
}

/** Add (sign 1) or remove (sign -1) one image row to the column sums; NaN left out. */
function accumulateRow(
  src: Float32Array,
  base: number,
  W: number,
  sign: number,
  colSum: Float64Array,
  colSq: Float64Array,
  colN: Float64Array,
): void {
  for (let x = 0; x < W; x++) {
    const v = src[base + x];
    if (v === v) {
      colSum[x] += sign * v;
      colSq[x] += sign * v * v;
      colN[x] += sign;
    }
  }
}

/** Slide the column sums down one row: remove row `subBase`, add row `addBase`. */
function slideColumns(
  src: Float32Array,
  subBase: number,
  addBase: number,
  W: number,
  colSum: Float64Array,
  colSq: Float64Array,
  colN: Float64Array,
  hasNaN: boolean,
): void {
  if (!hasNaN) {
    for (let x = 0; x < W; x++) {
      const a = src[addBase + x];
      const b = src[subBase + x];
      colSum[x] += a - b;
      colSq[x] += a * a - b * b;
    }
    return;
  }
  accumulateRow(src, subBase, W, -1, colSum, colSq, colN);
  accumulateRow(src, addBase, W, 1, colSum, colSq, colN);
}

/** Filter kinds computed inline while the window slides along a row. */
const BOXCAR = 0;
const LEE = 1;
const KUAN = 2;
const GAMMA_MAP = 3;

/**
 * One output row of boxcar, Lee, Kuan or Gamma-MAP where the strip holds NaN: slides the window sums
 * and valid counts along the row (columns clamped to the edge) and computes each output from the
 * window's mean and unbiased variance over its valid pixels.
 */
function filterRow(
  kind: number,
  src: Float32Array,
  c: number,
  dst: Float32Array,
  o: number,
  W: number,
  r: number,
  colSum: Float64Array,
  colSq: Float64Array,
  colN: Float64Array,
  L: number,
): void {
  const cu2 = 1 / L;
  const twoCu2 = 2 * cu2;
  const kuanScale = 1 / (1 + cu2);
  let S = 0;
  let Q = 0;
  let N = 0;
  for (let k = -r; k <= r; k++) {
    const cc = k < 0 ? 0 : k >= W ? W - 1 : k;
    S += colSum[cc];
    Q += colSq[cc];
    N += colN[cc];
  }
  for (let x = 0; x < W; x++) {
    const I = src[c + x];
    let v = Number.NaN;
    if (I === I && N >= 1) {
      const E = S / N;
      v = filterPixel(kind, I, E, N > 1 ? (Q - S * E) / (N - 1) : 0, cu2, twoCu2, kuanScale, L);
    }
    dst[o + x] = v;
    const add = Math.min(x + r + 1, W - 1);
    const sub = Math.max(x - r, 0);
    S += colSum[add] - colSum[sub];
    Q += colSq[add] - colSq[sub];
    N += colN[add] - colN[sub];
  }
}

/** One output pixel of boxcar, Lee, Kuan or Gamma-MAP from its window mean E and variance V. */
function filterPixel(
  kind: number,
  I: number,
  E: number,
  V: number,
  cu2: number,
  twoCu2: number,
  kuanScale: number,
  L: number,
): number {
  if (kind === BOXCAR) return E;
  const E2 = E * E;
  if (Math.abs(E) < EPS) return 0;
  if (Math.abs(V) < EPS) return E;
  if (V < cu2 * E2) return E; // Ci^2 < Cu^2
  if (kind === LEE) return E + (1 - (cu2 * E2) / V) * (I - E);
  if (kind === KUAN) return E + (1 - (cu2 * E2) / V) * kuanScale * (I - E);
  if (V < twoCu2 * E2) {
    // Gamma-MAP with Ci < sqrt(2) Cu, compared as squares.
    const ci2 = V / E2;
    const a = (1 + cu2) / (ci2 - cu2);
    const b = a - L - 1;
    const d = E2 * b * b + 4 * a * L * E * I;
    return (b * E + Math.sqrt(d)) / (2 * a);
  }
  return I;
}

/**
 * `filterRow` for strips without NaN: the window count is the constant area, and the row is walked in
 * three segments so the interior slides its window without clamping column indexes.
 */
function filterRowDense(
  kind: number,
  src: Float32Array,
  c: number,
  dst: Float32Array,
  o: number,
  W: number,
  r: number,
  colSum: Float64Array,
  colSq: Float64Array,
  area: number,
  L: number,
): void {
  const cu2 = 1 / L;
  const twoCu2 = 2 * cu2;
  const kuanScale = 1 / (1 + cu2);
  const invArea = 1 / area;
  const invArea1 = 1 / (area - 1);
  let S = 0;
  let Q = 0;
  for (let k = -r; k <= r; k++) {
    const cc = k < 0 ? 0 : k >= W ? W - 1 : k;
    S += colSum[cc];
    Q += colSq[cc];
  }
  const x0 = Math.min(r, W);
  const x1 = Math.max(x0, W - r - 1);
  for (let x = 0; x < x0; x++) {
    const E = S * invArea;
    dst[o + x] = filterPixel(kind, src[c + x], E, (Q - S * E) * invArea1, cu2, twoCu2, kuanScale, L);
    const add = Math.min(x + r + 1, W - 1);
    S += colSum[add] - colSum[0];
    Q += colSq[add] - colSq[0];
  }
  for (let x = x0; x < x1; x++) {
    const E = S * invArea;
    const V = (Q - S * E) * invArea1;
    const I = src[c + x];
    let v: number;
    if (kind === LEE) {
      // Lee inline (the common case), the rest through filterPixel.
      const E2 = E * E;
      if (Math.abs(E) < EPS) v = 0;
      else if (Math.abs(V) < EPS || V < cu2 * E2) v = E;
      else v = E + (1 - (cu2 * E2) / V) * (I - E);
    } else v = filterPixel(kind, I, E, V, cu2, twoCu2, kuanScale, L);
    dst[o + x] = v;
    S += colSum[x + r + 1] - colSum[x - r];
    Q += colSq[x + r + 1] - colSq[x - r];
  }
  for (let x = x1; x < W; x++) {
    const E = S * invArea;
    dst[o + x] = filterPixel(kind, src[c + x], E, (Q - S * E) * invArea1, cu2, twoCu2, kuanScale, L);
    const sub = Math.max(x - r, 0);
    S += colSum[W - 1] - colSum[sub];
    Q += colSq[W - 1] - colSq[sub];
  }
}

/**
 * Window mean and unbiased variance of every pixel of a row, from the column sums, by sliding the
 * window along the row (columns clamped to the edge). NaN where the window has no valid pixel.
 */
function rowStatistics(
  W: number,
  r: number,
  colSum: Float64Array,
  colSq: Float64Array,
  colN: Float64Array,
  mean: Float64Array,
  variance: Float64Array,
): void {
  let S = 0;
  let Q = 0;
  let N = 0;
  for (let k = -r; k <= r; k++) {
    const c = k < 0 ? 0 : k >= W ? W - 1 : k;
    S += colSum[c];
    Q += colSq[c];
    N += colN[c];
  }
  for (let x = 0; x < W; x++) {
    if (N >= 1) {
      const E = S / N;
      mean[x] = E;
      variance[x] = N > 1 ? (Q - S * E) / (N - 1) : 0;
    } else {
      mean[x] = Number.NaN;
      variance[x] = Number.NaN;
    }
    const add = Math.min(x + r + 1, W - 1);
    const sub = Math.max(x - r, 0);
    S += colSum[add] - colSum[sub];
    Q += colSq[add] - colSq[sub];
    N += colN[add] - colN[sub];
  }
}

/** Per-row buffers of Frost: ring sums per distance class, their valid counts, row-pair sums, powers. */
interface FrostRings {
  /** (r + 1) padded rows: rowPair[ady] = row(y - ady) + row(y + ady) (row y alone for ady = 0). */
  rowPair: Float64Array[];
  /** K x W, flat: the sum of the pixels at each distance class from every pixel of the row. */
  classSum: Float64Array;
  /** K x W, flat: how many of them are valid (used when the window rows hold NaN). */
  classN: Float64Array;
  /** Per (ady, a) member: its class. */
  memberClass: Int32Array;
  /** Neighbour offsets into the padded rows, grouped by class: class k owns [classStart[k], classStart[k + 1]). */
  offset: Int32Array;
  classStart: Int32Array;
  /** Per base sqrt(q): its powers 0..r of exp(-A sqrt(q)), flat, and per class its index there (-1: d = 0). */
  powers: Float64Array;
  classPower: Int32Array;
}

function frostRings(f: FrostClasses, r: number, W: number): FrostRings {
  const padW = W + 2 * r;
  const K = f.count.length;
  const memberClass = new Int32Array((r + 1) * (r + 1));
  for (let ady = 0; ady <= r; ady++) {
    for (let a = 0; a <= r; a++) {
      let c = -1;
      for (let k = 0; k < f.dy.length; k++) if (f.dy[k] === ady && f.dx[k] === a) c = f.cls[k];
      memberClass[ady * (r + 1) + a] = c;
    }
  }
  const offset = new Int32Array(f.dy.length);
  const classStart = new Int32Array(K + 1);
  let q = 0;
  for (let c = 0; c < K; c++) {
    classStart[c] = q;
    for (let k = 0; k < f.dy.length; k++)
      if (f.cls[k] === c) offset[q++] = (f.dy[k] + r) * padW + f.dx[k] + r;
  }
  classStart[K] = q;
  const classPower = new Int32Array(K);
  for (let c = 0; c < K; c++) classPower[c] = f.base[c] < 0 ? -1 : f.base[c] * (r + 1) + f.mult[c];
  return {
    rowPair: Array.from({ length: r + 1 }, () => new Float64Array(padW)),
    classSum: new Float64Array(K * W),
    classN: new Float64Array(K * W),
    memberClass,
    offset,
    classStart,
    powers: new Float64Array(f.baseRoot.length * (r + 1)),
    classPower,
  };
}

/**
 * Ring sums of a row without NaN in its window rows: each class's sum for the whole row is built from
 * row-pair sums by tight loops (offsets (+-dy, +-dx) share a class, the window being symmetric).
 */
function frostRingSums(pad: Float32Array, padW: number, W: number, r: number, rings: FrostRings): void {
  const { rowPair, classSum, memberClass } = rings;
  for (let ady = 0; ady <= r; ady++) {
    const rp = rowPair[ady];
    const up = (r - ady) * padW;
    const down = (r + ady) * padW;
    if (ady === 0) for (let i = 0; i < padW; i++) rp[i] = pad[up + i];
    else for (let i = 0; i < padW; i++) rp[i] = pad[up + i] + pad[down + i];
  }
  classSum.fill(0);
  for (let ady = 0; ady <= r; ady++) {
    const rp = rowPair[ady];
    for (let a = 0; a <= r; a++) {
      const cs = memberClass[ady * (r + 1) + a] * W;
      if (a === 0) for (let x = 0; x < W; x++) classSum[cs + x] += rp[x + r];
      else for (let x = 0; x < W; x++) classSum[cs + x] += rp[x + r - a] + rp[x + r + a];
    }
  }
}

/** Ring sums and valid counts of a row whose window rows hold NaN: NaN neighbours are left out. */
function frostRingSumsNaN(pad: Float32Array, W: number, K: number, rings: FrostRings): void {
  const { classSum, classN, offset, classStart } = rings;
  for (let x = 0; x < W; x++) {
    for (let k = 0; k < K; k++) {
      let sum = 0;
      let cnt = 0;
      for (let q = classStart[k], e = classStart[k + 1]; q < e; q++) {
        const v = pad[x + offset[q]];
        if (v === v) {
          sum += v;
          cnt++;
        }
      }
      classSum[k * W + x] = sum;
      classN[k * W + x] = cnt;
    }
  }
}

/**
 * Frost's output for a row from its ring sums: sum(exp(-A d) ring) / sum(exp(-A d) count), with
 * A = deramp Var / E^2 and one exponential per base distance sqrt(q) (the others are its powers).
 * `counts` are per pixel (NaN present) or null for the classes' full sizes.
 */
function frostWeighRow(
  src: Float32Array,
  c: number,
  mean: Float64Array,
  variance: Float64Array,
  dst: Float32Array,
  o: number,
  W: number,
  r: number,
  deramp: number,
  f: FrostClasses,
  rings: FrostRings,
  counts: Float64Array | null,
): void {
  const { classSum, powers, classPower } = rings;
  const K = f.count.length;
  const B = f.baseRoot.length;
  const baseRoot = f.baseRoot;
  const count = f.count;
  for (let x = 0; x < W; x++) {
    const I = src[c + x];
    const E = mean[x];
    const V = variance[x];
    if (I !== I || E !== E) {
      dst[o + x] = Number.NaN;
      continue;
    }
    if (Math.abs(E) < EPS) {
      dst[o + x] = 0;
      continue;
    }
    if (Math.abs(V) < EPS) {
      dst[o + x] = E;
      continue;
    }
    const A = (deramp * V) / (E * E);
    for (let b = 0; b < B; b++) {
      const e = expNeg(-A * baseRoot[b]);
      let pw = 1;
      for (let m = 0; m <= r; m++) {
        powers[b * (r + 1) + m] = pw;
        pw *= e;
      }
    }
    let num = 0;
    let den = 0;
    for (let k = 0; k < K; k++) {
      const q = classPower[k];
      const w = q < 0 ? 1 : powers[q];
      num += w * classSum[k * W + x];
      den += w * (counts === null ? count[k] : counts[k * W + x]);
    }
    dst[o + x] = num / den;
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
  const winRows = 2 * r + 1;
  const isFrost = p.filter === 'frost';
  scratch.ensure(W, isFrost ? padW * winRows : 0);
  const { colSum, colSq, colN, mean, variance } = scratch;
  const rowBase = (y: number) => ((y < 0 ? 0 : y >= imageHeight ? imageHeight - 1 : y) - srcRow0) * W;
  const f = isFrost ? frostClasses(r) : null;
  const rings = f ? frostRings(f, r, W) : null;

  // One scan for NaN: without any, the window counts are the constant area and are not tracked.
  let hasNaN = false;
  for (let i = (firstNeeded - srcRow0) * W, e = (lastNeeded - srcRow0 + 1) * W; i < e; i++) {
    if (src[i] !== src[i]) {
      hasNaN = true;
      break;
    }
  }
  const area = winRows * winRows;
  const kind =
    p.filter === 'boxcar' ? BOXCAR : p.filter === 'lee' ? LEE : p.filter === 'kuan' ? KUAN : GAMMA_MAP;

  for (let j = 0; j < outRows; j++) {
    const y = outRow0 + j;
    if (j % RESYNC_ROWS === 0) {
      colSum.fill(0, 0, W);
      colSq.fill(0, 0, W);
      colN.fill(0, 0, W);
      for (let k = -r; k <= r; k++) accumulateRow(src, rowBase(y + k), W, 1, colSum, colSq, colN);
    } else {
      slideColumns(src, rowBase(y - r - 1), rowBase(y + r), W, colSum, colSq, colN, hasNaN);
    }
    const c = rowBase(y);
    const o = j * W;
    if (!isFrost) {
      if (hasNaN) filterRow(kind, src, c, dst, o, W, r, colSum, colSq, colN, p.looks);
      else filterRowDense(kind, src, c, dst, o, W, r, colSum, colSq, area, p.looks);
      continue;
    }
    rowStatistics(W, r, colSum, colSq, colN, mean, variance);
    // Frost: window rows padded by r replicated columns on each side.
    const pad = scratch.padded;
    for (let k = 0; k < winRows; k++) {
      const b = rowBase(y - r + k);
      const po = k * padW;
      pad.set(src.subarray(b, b + W), po + r);
      for (let e = 0; e < r; e++) {
        pad[po + e] = src[b];
        pad[po + r + W + e] = src[b + W - 1];
      }
    }
    const fr = f as FrostClasses;
    const rg = rings as FrostRings;
    if (hasNaN) frostRingSumsNaN(pad, W, fr.count.length, rg);
    else frostRingSums(pad, padW, W, r, rg);
    frostWeighRow(src, c, mean, variance, dst, o, W, r, p.deramp, fr, rg, hasNaN ? rg.classN : null);
  }
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
