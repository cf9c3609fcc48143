import { ValidationError } from '../errors.js';
import { KThresholdTable, normalUpperQuantile } from './distributions.js';

/**
 * CFAR ship detection kernels over intensity (sigma0, linear). Window statistics by running column
 * sums and per-row prefix sums, so the cost per pixel does not depend on the window sizes.
 *
 * Windows follow ESA SNAP's AdaptiveThresholding: sizes in metres become pixel sizes
 * floor(m / spacing) + 1 and half sizes (target and guard size / 2, (background size - 1) / 2), so
 * every window is (2 half + 1) pixels wide; windows are clipped at the image border; the background
 * is the background square minus the guard square.
 */
export type CfarMethod = 'two-param' | 'censored' | 'k';
export const CFAR_METHODS: readonly CfarMethod[] = ['two-param', 'censored', 'k'];

export interface CfarOptions {
  method?: CfarMethod;
  /** Pixel spacing, metres. */
  spacingM: number;
  targetM?: number;
  guardM?: number;
  backgroundM?: number;
  /** False-alarm probability as an exponent: pfa = 10^-pfa (default 6.5, as SNAP). */
  pfa?: number;
  /** Equivalent number of looks of the intensity (the K-distribution CFAR needs it; default 1). */
  looks?: number;
  /** No detection where the target mean is below this (default 0.005, as SNAP). */
  floor?: number;
  /** Censoring passes before the detection pass (censored method: default 2; k: default 4). */
  censorPasses?: number;
}

export interface CfarParams {
  method: CfarMethod;
  halfTarget: number;
  halfGuard: number;
  halfBackground: number;
  /** Pixel sizes of the windows, for reports. */
  targetPx: number;
  guardPx: number;
  backgroundPx: number;
  pfa: number;
  /** Gaussian design parameter: P(Z > t) = 10^-pfa. */
  t: number;
  looks: number;
  floor: number;
  censorPasses: number;
}

function positive(name: string, v: number): number {
  if (!(typeof v === 'number' && Number.isFinite(v) && v > 0))
    throw new ValidationError(`${name} must be a positive number, got ${v}`);
  return v;
}

/** Check the options and turn the windows into pixel half sizes (SNAP's rules). */
export function cfarParams(opts: CfarOptions): CfarParams {
  const method = opts.method ?? 'k';
  if (!CFAR_METHODS.includes(method))
    throw new ValidationError(`method must be one of ${CFAR_METHODS.join(', ')}, got '${method}'`);
  const s = positive('pixel spacing (m)', opts.spacingM);
  const targetM = positive('target window (m)', opts.targetM ?? 50);
  const guardM = positive('guard window (m)', opts.guardM ?? 500);
  const backgroundM = positive('background window (m)', opts.backgroundM ?? 800);
  if (guardM < s) throw new ValidationError(`guard window (m) ${guardM} is smaller than a pixel (${s} m)`);
  if (backgroundM < s)
    throw new ValidationError(`background window (m) ${backgroundM} is smaller than a pixel (${s} m)`);
  if (guardM <= targetM)
    throw new ValidationError(`guard window (m) ${guardM} must be larger than the target window ${targetM}`);
  if (backgroundM <= guardM)
    throw new ValidationError(
      `guard window (m) ${guardM} must be smaller than the background window ${backgroundM}`,
    );
  const pfa = positive('pfa', opts.pfa ?? 6.5);
  if (pfa > 15)
    throw new ValidationError(`pfa is the exponent of 10^-pfa and must be at most 15, got ${pfa}`);
  const looks = positive('looks', opts.looks ?? 1);
  const floor = opts.floor ?? 0.005;
  if (!(floor >= 0)) throw new ValidationError(`floor must be a number >= 0, got ${floor}`);
  // The K method reads texture from the background moments, which ships left in it spoil (a crowded
  // harbour); four passes censor them where two do not (docs/exploitation.md). Passes after the
  // first are cheap: only near what the previous one changed (see changedRegions).
  const censorPasses = opts.censorPasses ?? (method === 'k' ? 4 : 2);
  if (!(Number.isInteger(censorPasses) && censorPasses >= 1 && censorPasses <= 5))
    throw new ValidationError(`censorPasses must be an integer from 1 to 5, got ${censorPasses}`);
  const targetPx = Math.max(1, Math.floor(targetM / s) + 1);
  const guardPx = Math.floor(guardM / s) + 1;
  const backgroundPx = Math.floor(backgroundM / s) + 1;
  const halfTarget = Math.floor(targetPx / 2);
  const halfGuard = Math.floor(guardPx / 2);
  const halfBackground = Math.floor((backgroundPx - 1) / 2);
  if (halfBackground <= halfGuard)
    throw new ValidationError(
      `background window (m) ${backgroundM} leaves no background ring around the guard window ${guardM} at ${s} m spacing`,
    );
  return {
    method,
    halfTarget,
    halfGuard,
    halfBackground,
    targetPx: 2 * halfTarget + 1,
    guardPx: 2 * halfGuard + 1,
    backgroundPx: 2 * halfBackground + 1,
    pfa,
    t: normalUpperQuantile(10 ** -pfa),
    looks,
    floor,
    censorPasses,
  };
}

/** Per-pixel outputs of the detection pass (whole-image arrays; a strip writes its own rows). */
export interface CfarOutputs {
  /** 1 where detected. */
  detection: Uint8Array;
  /**
   * Where detected: background mean + 2 background standard deviations (censored for the censored
   * and K methods); pixels above it are bright in their own right (an object's body, see
   * measureVessels). NaN elsewhere.
   */
  bodyThreshold: Float32Array;
  /** Where detected: the test statistic (target mean) over the threshold (> 1). NaN elsewhere. */
  ratio: Float32Array;
}

/** Standard deviations above the background mean that make a pixel part of an object's body. */
export const BODY_K = 2;

/** Reused scratch of one thread. */
export class CfarScratch {
  length = 0;
  width = 0;
  cols: Float64Array[] = [];
  /** Window sums along one row: ring S, Q, N, guard S, N, target S, N. */
  rowSums: Float64Array[] = [];
  tables = new Map<number, KThresholdTable>();
  /** Fourteen zeroed column-sum arrays of `length` (the width plus padding on both sides). */
  ensure(length: number, width: number): Float64Array[] {
    if (this.length !== length) {
      this.length = length;
      this.cols = Array.from({ length: 14 }, () => new Float64Array(length));
    } else for (const c of this.cols) c.fill(0);
    if (this.width !== width) {
      this.width = width;
      this.rowSums = Array.from({ length: 7 }, () => new Float64Array(width));
    }
    return this.cols;
  }
  /** The K threshold table for a target mean of n pixels (nu and L scale by n), cached. */
  table(p: CfarParams, n: number): KThresholdTable {
    let t = this.tables.get(n);
    if (!t || t.looks !== p.looks * n || t.pfa !== 10 ** -p.pfa) {
      t = new KThresholdTable(10 ** -p.pfa, p.looks * n);
      this.tables.set(n, t);
    }
    return t;
  }
}

/** The largest of 1, 2, 3, 4, 6, 9, 13, 19, 28, 42, 63, ... (steps of about 1.5) that is <= n. */
export function sizeClass(n: number): number {
  let c = 1;
  for (;;) {
    const next = Math.max(c + 1, Math.floor(c * 1.5));
    if (next > n) return c;
    c = next;
  }
}

/**
 * Add image row `add` and remove image row `rem` (row indexes; either may lie outside the image,
 * then it is skipped) to column sums of values (s), squares (q, when given) and counts (n). `count`
 * is 1 for the pixels that take part: every valid pixel for target sums, the valid and not censored
 * ones for background sums.
 */
function slidePair(
  src: Float32Array,
  count: Uint8Array,
  W: number,
  H: number,
  add: number,
  rem: number,
  s: Float64Array,
  q: Float64Array | null,
  n: Float64Array,
  P: number,
  ca: number,
  cb: number,
): void {
  const inA = add >= 0 && add < H;
  const inR = rem >= 0 && rem < H;
  const oa = add * W;
  const or = rem * W;
  if (inA && inR) {
    if (q === null)
      for (let x = ca; x < cb; x++) {
        const ca = count[oa + x];
        const cr = count[or + x];
        s[P + x] += src[oa + x] * ca - src[or + x] * cr;
        n[P + x] += ca - cr;
      }
    else
      for (let x = ca; x < cb; x++) {
        const ca = count[oa + x];
        const cr = count[or + x];
        const va = src[oa + x] * ca;
        const vr = src[or + x] * cr;
        s[P + x] += va - vr;
        q[P + x] += va * va - vr * vr;
        n[P + x] += ca - cr;
      }
  } else if (inA || inR) {
    const o = inA ? oa : or;
    const sign = inA ? 1 : -1;
    for (let x = ca; x < cb; x++) {
      const c = count[o + x];
      const v = src[o + x] * c;
      s[P + x] += sign * v;
      if (q !== null) q[P + x] += sign * v * v;
      n[P + x] += sign * c;
    }
  }
}

/** Add row `add` and remove row `rem` (either outside the image: skipped) of the target (0), guard (1), background (2) sums. */
function slideRow(
  src: Float32Array,
  valid: Uint8Array,
  bgCount: Uint8Array,
  cols: Float64Array[],
  W: number,
  H: number,
  P: number,
  add: number,
  rem: number,
  which: 0 | 1 | 2,
  ca: number,
  cb: number,
): void {
  if (which === 0) slidePair(src, valid, W, H, add, rem, cols[0], null, cols[1], P, ca, cb);
  else if (which === 1) slidePair(src, bgCount, W, H, add, rem, cols[2], cols[3], cols[4], P, ca, cb);
  else slidePair(src, bgCount, W, H, add, rem, cols[5], cols[6], cols[7], P, ca, cb);
}

/**
 * Move the upper-half column sums (background rows y - hb .. y in 8-10, guard rows y - hg .. y in
 * 11-13) from row y to row y + 1: add row y + 1 to both, remove row y - hb and row y - hg, in one
 * sweep when all three rows are inside the image.
 */
function slideUpper(
  src: Float32Array,
  count: Uint8Array,
  cols: Float64Array[],
  W: number,
  H: number,
  P: number,
  y: number,
  hb: number,
  hg: number,
  ca: number,
  cb: number,
): void {
  const add = y + 1;
  if (add >= H || y - hb < 0) {
    slidePair(src, count, W, H, add, y - hb, cols[8], cols[9], cols[10], P, ca, cb);
    slidePair(src, count, W, H, add, y - hg, cols[11], cols[12], cols[13], P, ca, cb);
    return;
  }
  const us = cols[8];
  const uq = cols[9];
  const un = cols[10];
  const vs = cols[11];
  const vq = cols[12];
  const vn = cols[13];
  const oa = add * W;
  const ou = (y - hb) * W;
  const ov = (y - hg) * W;
  for (let x = ca; x < cb; x++) {
    const ca = count[oa + x];
    const cu = count[ou + x];
    const cv = count[ov + x];
    const va = src[oa + x] * ca;
    const vu = src[ou + x] * cu;
    const vv = src[ov + x] * cv;
    const aa = va * va;
    const i = P + x;
    us[i] += va - vu;
    uq[i] += aa - vu * vu;
    un[i] += ca - cu;
    vs[i] += va - vv;
    vq[i] += aa - vv * vv;
    vn[i] += ca - cv;
  }
}

/** Move the guard and background column sums down one row in one sweep (all rows inside the image). */
function slideBackground(
  src: Float32Array,
  count: Uint8Array,
  oGa: number,
  oGs: number,
  oBa: number,
  oBs: number,
  cols: Float64Array[],
  P: number,
  ca: number,
  cb: number,
): void {
  const gs = cols[2];
  const gq = cols[3];
  const gn = cols[4];
  const bs = cols[5];
  const bq = cols[6];
  const bn = cols[7];
  for (let x = ca; x < cb; x++) {
    const cga = count[oGa + x];
    const cgr = count[oGs + x];
    const cba = count[oBa + x];
    const cbr = count[oBs + x];
    const ga = src[oGa + x] * cga;
    const gr = src[oGs + x] * cgr;
    const ba = src[oBa + x] * cba;
    const br = src[oBs + x] * cbr;
    const i = P + x;
    gs[i] += ga - gr;
    gq[i] += ga * ga - gr * gr;
    gn[i] += cga - cgr;
    bs[i] += ba - br;
    bq[i] += ba * ba - br * br;
    bn[i] += cba - cbr;
  }
}

/** Quadrant means whose ratio (largest / smallest) exceeds this make a background heterogeneous. */
export const HETEROGENEITY_RATIO = 1.5;
/** A quadrant at most this many times brighter than the local level may stand for it. */
export const LOCAL_RANGE = 4;
/** Quadrants with fewer background pixels than this take no part in the heterogeneity test. */
const MIN_QUADRANT_PX = 64;

/**
 * The texture order nu' of the K distribution (looks L n, mean 1) that stands for the mean of n
 * independent K(L, nu) pixels: the one with the same third cumulant. A K pixel of mean 1 has
 * E[x^2] = (1 + 1/L)(1 + 1/nu), E[x^3] = (1 + 1/L)(1 + 2/L)(1 + 1/nu)(1 + 2/nu), and the mean of n
 * has the third cumulant k3(x) / n^2; with u = 1/nu' that is a quadratic in u. Matching the second
 * moment instead (nu' = n nu) gives the right variance but too light a tail: for L = 1, nu = 2,
 * n = 49 it sets the pfa = 10^-6.5 threshold at 2.22 times the mean, where a Monte Carlo of 4e6
 * windows puts it at about 2.55 (P > 2.35 is 4e-6); the third-cumulant match gives 2.53. In the
 * gamma limit (nu infinite) both are infinite.
 */
export function targetMeanOrder(L: number, nu: number, n: number): number {
  if (!(nu > 0) || nu === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  const a = 1 + 1 / L;
  const e2 = a * (1 + 1 / nu);
  const e3 = a * (1 + 2 / L) * (1 + 1 / nu) * (1 + 2 / nu);
  const k3 = (e3 - 3 * e2 + 2) / (n * n);
  const Ln = L * n;
  const A = (1 + 1 / Ln) * (1 + 2 / Ln);
  const B = 1 + 1 / Ln;
  // 2A u^2 + 3(A - B) u + (A - 3B + 2 - k3) = 0, the positive root.
  const qa = 2 * A;
  const qb = 3 * (A - B);
  const qc = A - 3 * B + 2 - k3;
  const disc = qb * qb - 4 * qa * qc;
  const u = (-qb + Math.sqrt(Math.max(0, disc))) / (2 * qa);
  return u > 0 ? 1 / u : Number.POSITIVE_INFINITY;
}

/**
 * Window sums along one row from column sums: the ring (background minus guard) sums of values,
 * squares and counts, and the guard window's sums of values and counts, at every x of the row. The
 * sums slide across (the column arrays are zero-padded, so windows clip at the border).
 */
function ringRow(
  cols: Float64Array[],
  P: number,
  hb: number,
  hg: number,
  row: Float64Array[],
  xa: number,
  xb: number,
): void {
  const [, , cGS, cGQ, cGN, cBS, cBQ, cBN] = cols;
  const [rS, rQ, rN, gSo, gNo] = row;
  let gS = 0;
  let gQ = 0;
  let gN = 0;
  let bS = 0;
  let bQ = 0;
  let bN = 0;
  for (let i = -hg; i <= hg; i++) {
    gS += cGS[P + xa + i];
    gQ += cGQ[P + xa + i];
    gN += cGN[P + xa + i];
  }
  for (let i = -hb; i <= hb; i++) {
    bS += cBS[P + xa + i];
    bQ += cBQ[P + xa + i];
    bN += cBN[P + xa + i];
  }
  for (let x = xa; x < xb; x++) {
    rS[x] = bS - gS;
    rQ[x] = bQ - gQ;
    rN[x] = bN - gN;
    gSo[x] = gS;
    gNo[x] = gN;
    const a = P + x;
    gS += cGS[a + hg + 1] - cGS[a - hg];
    gQ += cGQ[a + hg + 1] - cGQ[a - hg];
    gN += cGN[a + hg + 1] - cGN[a - hg];
    bS += cBS[a + hb + 1] - cBS[a - hb];
    bQ += cBQ[a + hb + 1] - cBQ[a - hb];
    bN += cBN[a + hb + 1] - cBN[a - hb];
  }
}

/**
 * Sums of values and counts over a window of half width h along one row, from the column sums of
 * values `s` and counts `n` into `outS` and `outN` (the target window's, and the guard window's for
 * the K method's detection pass).
 */
function windowRow(
  s: Float64Array,
  n: Float64Array,
  P: number,
  h: number,
  outS: Float64Array,
  outN: Float64Array,
  xa: number,
  xb: number,
): void {
  let sum = 0;
  let count = 0;
  for (let i = -h; i <= h; i++) {
    sum += s[P + xa + i];
    count += n[P + xa + i];
  }
  for (let x = xa; x < xb; x++) {
    outS[x] = sum;
    outN[x] = count;
    const a = P + x;
    sum += s[a + h + 1] - s[a - h];
    count += n[a + h + 1] - n[a - h];
  }
}

/** Sum of col[P + from .. P + to] (inclusive). */
function span(col: Float64Array, P: number, from: number, to: number): number {
  let s = 0;
  for (let i = P + from; i <= P + to; i++) s += col[i];
  return s;
}

/**
 * The censoring pass over row y: bgCountOut[p] = 0 where the pixel exceeds mean + t * std of its
 * ring (for the K method only when a 4-neighbour exceeds it too), valid[p] elsewhere.
 */
function censorRow(
  src: Float32Array,
  valid: Uint8Array,
  W: number,
  H: number,
  y: number,
  t: number,
  neighbours: boolean,
  row: Float64Array[],
  cen: Uint8Array,
  xa: number,
  xb: number,
): void {
  const [rS, rQ, rN] = row;
  const o = y * W;
  for (let x = xa; x < xb; x++) {
    const q = o + x;
    const v = src[q];
    const rn = rN[x];
    const rs = rS[x];
    // rn^2 * variance of the ring (population), and rn * (mean + t * std), without a division.
    const rv = rQ[x] * rn - rs * rs;
    const thrN = rs + t * Math.sqrt(Math.max(rv, 0));
    let out = valid[q] === 1 && rn > 0.5 && v * rn > thrN;
    if (out && neighbours)
      out =
        (x > 0 && src[q - 1] * rn > thrN) ||
        (x + 1 < W && src[q + 1] * rn > thrN) ||
        (y > 0 && src[q - W] * rn > thrN) ||
        (y + 1 < H && src[q + W] * rn > thrN);
    cen[q] = valid[q] === 1 && !out ? 1 : 0;
  }
}

/** The two-parameter detection test over row y (the censored method's too, on censored counts). */
function twoParamRow(
  valid: Uint8Array,
  W: number,
  H: number,
  y: number,
  p: CfarParams,
  row: Float64Array[],
  res: CfarOutputs,
  xa: number,
  xb: number,
): void {
  const [rS, rQ, rN, , , tSr, tNr] = row;
  const ht = p.halfTarget;
  const tRows = Math.min(H - 1, y + ht) - Math.max(0, y - ht) + 1;
  const t = p.t;
  const o = y * W;
  for (let x = xa; x < xb; x++) {
    const rn = rN[x];
    const rs = rS[x];
    const tS = tSr[x];
    const tN = tNr[x];
    const rv = rQ[x] * rn - rs * rs;
    const thrN = rs + t * Math.sqrt(Math.max(rv, 0));
    if (valid[o + x] === 1 && rn > 0.5 && tS * rn > thrN * tN) {
      const area = (Math.min(W - 1, x + ht) - Math.max(0, x - ht) + 1) * tRows;
      const targetMean = tS / tN;
      if (area - tN <= 0.1 * area && targetMean >= p.floor) {
        const mean = rs / rn;
        const std = rv > 0 ? Math.sqrt(rv) / rn : 0;
        const threshold = mean + t * std;
        if (targetMean > threshold) {
          res.detection[o + x] = 1;
          res.ratio[o + x] = targetMean / threshold;
          res.bodyThreshold[o + x] = mean + BODY_K * std;
        }
      }
    }
  }
}

/**
 * The K method's detection test over row y. A pixel is a candidate only when its target mean exceeds
 * the gamma-limit threshold over the censored guard mean (every K threshold is at least that: the
 * level is never below the guard mean, and no texture gives a lower threshold than none), so the
 * quadrant statistics are summed for a few per cent of the pixels (see kTest).
 */
function kRow(
  valid: Uint8Array,
  W: number,
  H: number,
  y: number,
  p: CfarParams,
  cols: Float64Array[],
  P: number,
  row: Float64Array[],
  res: CfarOutputs,
  scratch: CfarScratch,
  kFull: KThresholdTable,
  xa: number,
  xb: number,
): void {
  const [, , , gSr, gNr, tSr, tNr] = row;
  const ht = p.halfTarget;
  const tRows = Math.min(H - 1, y + ht) - Math.max(0, y - ht) + 1;
  // A little under the gamma limit: the interpolated table may undershoot it by rounding.
  const low = kFull.gammaLimit * 0.999;
  const o = y * W;
  for (let x = xa; x < xb; x++) {
    const tS = tSr[x];
    const tN = tNr[x];
    const gN = gNr[x];
    if (valid[o + x] === 1 && (gN > 0.5 ? tS * gN > low * gSr[x] * tN : true) && tS >= p.floor * tN) {
      const area = (Math.min(W - 1, x + ht) - Math.max(0, x - ht) + 1) * tRows;
      if (area - tN <= 0.1 * area) kTest(o, x, p, cols, P, row, res, scratch, kFull);
    }
  }
}

/**
 * The K test at one candidate pixel x of the row at offset o. The background ring is split into four
 * quadrants (at the pixel's row and column); when their means differ by more than
 * HETEROGENEITY_RATIO, the ring spans more than one clutter level and its moments describe neither:
 * the test then takes the mean and texture of the brightest quadrant not brighter than LOCAL_RANGE
 * times the local level, the censored mean over the guard window (the pixel's own surroundings,
 * bright outliers left out by the censoring passes). Bright clutter next to dark keeps its own level
 * (no false alarms along the edge); a ship in the dark water next to it keeps the dark level unless
 * it lies within about a guard half-width of the edge. The clutter level is then the greater of that
 * mean and the censored guard mean (an extended bright feature smaller than the ring, such as a rain
 * cell), and the threshold is the K quantile for the mean of the target window's pixels (see
 * targetMeanOrder).
 */
function kTest(
  o: number,
  x: number,
  p: CfarParams,
  cols: Float64Array[],
  P: number,
  row: Float64Array[],
  res: CfarOutputs,
  scratch: CfarScratch,
  kFull: KThresholdTable,
): void {
  const hb = p.halfBackground;
  const hg = p.halfGuard;
  const a = P + x;
  // The ring's sums (background window minus guard window), summed here rather than along every row.
  const rn = span(cols[7], a, -hb, hb) - row[4][x];
  if (!(rn > 0.5)) return;
  const rs = span(cols[5], a, -hb, hb) - row[3][x];
  const rq = span(cols[6], a, -hb, hb) - span(cols[3], a, -hg, hg);
  const tS = row[5][x];
  const tN = row[6][x];
  const gS = row[3][x];
  const gN = row[4][x];
  const targetMean = tS / tN;
  // Upper background (u) and guard (v) rows: left parts (columns x - h .. x) and right parts.
  const uLS = span(cols[8], a, -hb, 0);
  const uLQ = span(cols[9], a, -hb, 0);
  const uLN = span(cols[10], a, -hb, 0);
  const uRS = span(cols[8], a, 1, hb);
  const uRQ = span(cols[9], a, 1, hb);
  const uRN = span(cols[10], a, 1, hb);
  const vLS = span(cols[11], a, -hg, 0);
  const vLQ = span(cols[12], a, -hg, 0);
  const vLN = span(cols[13], a, -hg, 0);
  const vRS = span(cols[11], a, 1, hg);
  const vRQ = span(cols[12], a, 1, hg);
  const vRN = span(cols[13], a, 1, hg);
  // Left parts of the whole background (b) and guard (g) rows.
  const bLS = span(cols[5], a, -hb, 0);
  const bLQ = span(cols[6], a, -hb, 0);
  const bLN = span(cols[7], a, -hb, 0);
  const gLS = span(cols[2], a, -hg, 0);
  const gLQ = span(cols[3], a, -hg, 0);
  const gLN = span(cols[4], a, -hg, 0);
  // Quadrants of the ring: upper-left, upper-right, lower-left, lower-right.
  const s0 = uLS - vLS;
  const q0 = uLQ - vLQ;
  const n0 = uLN - vLN;
  const s1 = uRS - vRS;
  const q1 = uRQ - vRQ;
  const n1 = uRN - vRN;
  const s2 = bLS - uLS - (gLS - vLS);
  const q2 = bLQ - uLQ - (gLQ - vLQ);
  const n2 = bLN - uLN - (gLN - vLN);
  const s3 = rs - s0 - s1 - s2;
  const q3 = rq - q0 - q1 - q2;
  const n3 = rn - n0 - n1 - n2;
  const m0 = n0 >= MIN_QUADRANT_PX ? s0 / n0 : Number.NaN;
  const m1 = n1 >= MIN_QUADRANT_PX ? s1 / n1 : Number.NaN;
  const m2 = n2 >= MIN_QUADRANT_PX ? s2 / n2 : Number.NaN;
  const m3 = n3 >= MIN_QUADRANT_PX ? s3 / n3 : Number.NaN;
  // Math.min / max of a NaN is NaN: leave the small quadrants out.
  const lo = Math.min(m0 || Infinity, m1 || Infinity, m2 || Infinity, m3 || Infinity);
  const hi = Math.max(m0 || 0, m1 || 0, m2 || 0, m3 || 0);
  let sS = rs;
  let sQ = rq;
  let sN = rn;
  if (hi > HETEROGENEITY_RATIO * lo) {
    // The brightest quadrant that is not brighter than LOCAL_RANGE times the local level.
    const local = gN > 0.5 && gS > 0 ? gS / gN : targetMean;
    const cap = LOCAL_RANGE * local;
    // (Every quadrant brighter than that: the darkest.)
    const best =
      Math.max(m0 <= cap ? m0 : 0, m1 <= cap ? m1 : 0, m2 <= cap ? m2 : 0, m3 <= cap ? m3 : 0) || lo;
    if (best === m0) {
      sS = s0;
      sQ = q0;
      sN = n0;
    } else if (best === m1) {
      sS = s1;
      sQ = q1;
      sN = n1;
    } else if (best === m2) {
      sS = s2;
      sQ = q2;
      sN = n2;
    } else {
      sS = s3;
      sQ = q3;
      sN = n3;
    }
  }
  const mean = sS / sN;
  const varN2 = sQ * sN - sS * sS;
  const std = varN2 > 0 ? Math.sqrt(varN2) / sN : 0;
  // Texture order from the background moments (as SNAP's K-distribution code):
  // (1 + 1/nu)(1 + 1/L) = <x^2> / <x>^2. Fewer target pixels (border, nodata) use the table of the
  // next smaller size class: a slightly higher, conservative threshold.
  const L = p.looks;
  const m2nd = std * std + mean * mean;
  const dd = m2nd / (mean * mean) / (1 + 1 / L) - 1;
  const nu = dd > 0 ? 1 / dd : Number.POSITIVE_INFINITY;
  const n = Math.round(tN);
  const fullN = (2 * p.halfTarget + 1) * (2 * p.halfTarget + 1);
  const table = n === fullN ? kFull : scratch.table(p, sizeClass(n));
  // An extended bright feature (a rain cell, a bright patch smaller than the ring) raises the
  // censored guard-window mean above the background's: the level is the greater.
  const level = gN > 0.5 && gS > mean * gN ? gS / gN : mean;
  const threshold = level * table.threshold(targetMeanOrder(L, nu, n));
  if (targetMean > threshold) {
    res.detection[o + x] = 1;
    res.ratio[o + x] = targetMean / threshold;
    res.bodyThreshold[o + x] = mean + BODY_K * std;
  }
}

/**
 * CFAR over image rows [row0, row0 + rows) of a W x H intensity image. `src` holds 0 where `valid`
 * is 0 (nodata, masked land); `bgCount` is 1 for the pixels that count in background statistics
 * (valid and not censored). In 'censor' mode writes `bgCountOut[p] = 0` where the pixel itself
 * exceeds mean + t * std of its background (the outliers the next pass leaves out; for the K
 * method only when a 4-neighbour exceeds it too) and valid[p] elsewhere; in 'detect' mode fills
 * `out` by the method's test on the target mean (two-parameter: mean + t * std of the ring; K: see
 * kTest).
 *
 * Column sums over each window's rows slide down one row at a time (for the K method's detection
 * pass also over the upper halves of the background and guard windows, rows y - h .. y); along a
 * row, window sums slide across into row arrays, then the row's test runs over those.
 */
export function cfarRows(
  src: Float32Array,
  valid: Uint8Array,
  bgCount: Uint8Array,
  W: number,
  H: number,
  row0: number,
  rows: number,
  p: CfarParams,
  mode: 'censor' | 'detect',
  bgCountOut: Uint8Array | null,
  out: CfarOutputs | null,
  scratch: CfarScratch = new CfarScratch(),
  columns: { col0: number; cols: number } | null = null,
): void {
  const ht = p.halfTarget;
  const hg = p.halfGuard;
  const hb = p.halfBackground;
  const P = hb + 1;
  const cols = scratch.ensure(W + 2 * P, W);
  const row = scratch.rowSums;
  const detect = mode === 'detect';
  const kind = p.method;
  // Output columns [xa, xb); column sums over the columns their windows reach.
  const xa = columns ? columns.col0 : 0;
  const xb = columns ? columns.col0 + columns.cols : W;
  const ca = Math.max(0, xa - hb);
  const cb = Math.min(W, xb + hb + 1);
  // Upper-half column sums: the K method's detection pass only.
  const quad = detect && kind === 'k';
  for (let y = row0 - hb; y <= row0 + hb; y++) {
    if (detect && y >= row0 - ht && y <= row0 + ht)
      slideRow(src, valid, bgCount, cols, W, H, P, y, -1, 0, ca, cb);
    if (y >= row0 - hg && y <= row0 + hg) slideRow(src, valid, bgCount, cols, W, H, P, y, -1, 1, ca, cb);
    slideRow(src, valid, bgCount, cols, W, H, P, y, -1, 2, ca, cb);
    // Upper halves: rows y - h .. y (the pixel's own row included).
    if (quad && y <= row0) {
      slidePair(src, bgCount, W, H, y, -1, cols[8], cols[9], cols[10], P, ca, cb);
      if (y >= row0 - hg) slidePair(src, bgCount, W, H, y, -1, cols[11], cols[12], cols[13], P, ca, cb);
    }
  }
  const fullTargetN = (2 * ht + 1) * (2 * ht + 1);
  const kFull = quad ? scratch.table(p, fullTargetN) : null;
  const res = out as CfarOutputs;
  if (detect) {
    // Only detected pixels get a ratio and a body threshold.
    for (let y = row0; y < row0 + rows; y++) {
      res.detection.fill(0, y * W + xa, y * W + xb);
      res.ratio.fill(Number.NaN, y * W + xa, y * W + xb);
      res.bodyThreshold.fill(Number.NaN, y * W + xa, y * W + xb);
    }
  }
  for (let y = row0; y < row0 + rows; y++) {
    if (quad) windowRow(cols[2], cols[4], P, hg, row[3], row[4], xa, xb);
    else ringRow(cols, P, hb, hg, row, xa, xb);
    if (!detect) {
      // The K method censors only outliers with a 4-neighbour above the same threshold: a ship is
      // a cluster of bright pixels, the spikes of K clutter (independent texture) stand alone.
      // Censoring those spikes too cuts off the clutter's own tail, and the texture read from such
      // moments is too calm, which lowers every threshold (false alarms in spiky clutter).
      censorRow(src, valid, W, H, y, p.t, kind === 'k', row, bgCountOut as Uint8Array, xa, xb);
    } else {
      windowRow(cols[0], cols[1], P, ht, row[5], row[6], xa, xb);
      if (quad) kRow(valid, W, H, y, p, cols, P, row, res, scratch, kFull as KThresholdTable, xa, xb);
      else twoParamRow(valid, W, H, y, p, row, res, xa, xb);
    }
    // Slide every window down one row.
    if (y + 1 < row0 + rows) {
      if (detect) slideRow(src, valid, bgCount, cols, W, H, P, y + 1 + ht, y - ht, 0, ca, cb);
      if (quad) slideUpper(src, bgCount, cols, W, H, P, y, hb, hg, ca, cb);
      if (y - hb >= 0 && y + 1 + hb < H) {
        slideBackground(
          src,
          bgCount,
          (y + 1 + hg) * W,
          (y - hg) * W,
          (y + 1 + hb) * W,
          (y - hb) * W,
          cols,
          P,
          ca,
          cb,
        );
      } else {
        slideRow(src, valid, bgCount, cols, W, H, P, y + 1 + hg, y - hg, 1, ca, cb);
        slideRow(src, valid, bgCount, cols, W, H, P, y + 1 + hb, y - hb, 2, ca, cb);
      }
    }
  }
}
