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
  /** Censoring passes before the detection pass (censored and k methods; default 2). */
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
  const censorPasses = opts.censorPasses ?? 2;
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
  cols: Float64Array[] = [];
  tables = new Map<number, KThresholdTable>();
  /** Fourteen zeroed column-sum arrays of `length` (the width plus padding on both sides). */
  ensure(length: number): Float64Array[] {
    if (this.length !== length) {
      this.length = length;
      this.cols = Array.from({ length: 14 }, () => new Float64Array(length));
    } else for (const c of this.cols) c.fill(0);
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
 * Add (sign +1) or remove (-1) one image row (from offset o) to column sums: target sums take every
 * valid value; background sums take the values whose count is 1 (valid and not censored).
 */
function addRow(
  src: Float32Array,
  count: Uint8Array,
  o: number,
  W: number,
  sign: number,
  s: Float64Array,
  q: Float64Array | null,
  n: Float64Array,
  P: number,
): void {
  for (let x = 0; x < W; x++) {
    const c = count[o + x];
    const v = src[o + x] * c;
    s[P + x] += sign * v;
    if (q !== null) q[P + x] += sign * v * v;
    n[P + x] += sign * c;
  }
}

/** Add or remove image row y (when inside the image) to the target (0), guard (1) or background (2) sums. */
function slideRow(
  src: Float32Array,
  valid: Uint8Array,
  bgCount: Uint8Array,
  cols: Float64Array[],
  W: number,
  H: number,
  P: number,
  y: number,
  sign: number,
  which: 0 | 1 | 2,
): void {
  if (y < 0 || y >= H) return;
  if (which === 0) addRow(src, valid, y * W, W, sign, cols[0], null, cols[1], P);
  else if (which === 1) addRow(src, bgCount, y * W, W, sign, cols[2], cols[3], cols[4], P);
  else addRow(src, bgCount, y * W, W, sign, cols[5], cols[6], cols[7], P);
}

/** Add or remove image row y (when inside the image) to the upper-half background (8) or guard (11) sums. */
function slideUpper(
  src: Float32Array,
  bgCount: Uint8Array,
  cols: Float64Array[],
  W: number,
  H: number,
  P: number,
  y: number,
  sign: number,
  first: 8 | 11,
): void {
  if (y < 0 || y >= H) return;
  addRow(src, bgCount, y * W, W, sign, cols[first], cols[first + 1], cols[first + 2], P);
}

/** Move the guard and background column sums down one row in one sweep (all rows inside the image). */
function slideBackground(
  src: Float32Array,
  count: Uint8Array,
  W: number,
  oGa: number,
  oGs: number,
  oBa: number,
  oBs: number,
  cols: Float64Array[],
  P: number,
): void {
  const gs = cols[2];
  const gq = cols[3];
  const gn = cols[4];
  const bs = cols[5];
  const bq = cols[6];
  const bn = cols[7];
  for (let x = 0; x < W; x++) {
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
 * CFAR over image rows [row0, row0 + rows) of a W x H intensity image. `src` holds 0 where `valid`
 * is 0 (nodata, masked land); `bgCount` is 1 for the pixels that count in background statistics
 * (valid and not censored). In 'censor' mode writes `bgCountOut[p] = 0` where the pixel itself
 * exceeds mean + t * std of its background (the outliers the next pass leaves out; for the K
 * method only when a 4-neighbour exceeds it too) and valid[p] elsewhere; in 'detect' mode fills `out` by the method's test on the target mean.
 *
 * The K method's detection pass also splits the background ring into four quadrants (split at the
 * pixel's row and column). When their means differ by more than HETEROGENEITY_RATIO, the ring spans
 * more than one clutter level and its moments describe neither: the test then takes the mean and
 * texture of the brightest quadrant not brighter than LOCAL_RANGE times the local level, the
 * censored mean over the guard window (the pixel's own surroundings, bright outliers left out by
 * the censoring passes). Bright clutter next to dark keeps its own level (no false alarms along the
 * edge); a ship in the dark water next to it keeps the dark level unless it lies within about a
 * guard half-width of the edge. The clutter level is then the greater of that mean and the censored
 * guard mean (an extended bright feature smaller than the ring, such as a rain cell), and the
 * threshold is the K quantile for the mean of the target window's pixels (see targetMeanOrder).
 *
 * Column sums over each window's rows slide down one row at a time; along a row the window sums
 * slide across (the column arrays are zero-padded, so windows clip at the border without branches).
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
): void {
  const ht = p.halfTarget;
  const hg = p.halfGuard;
  const hb = p.halfBackground;
  const P = hb + 1;
  const cols = scratch.ensure(W + 2 * P);
  const [cTS, cTN, cGS, cGQ, cGN, cBS, cBQ, cBN, cUS, cUQ, cUN, cVS, cVQ, cVN] = cols;
  const detect = mode === 'detect';
  const kind = p.method;
  // Quadrant statistics: the K method's detection pass only.
  const quad = detect && kind === 'k';
  for (let y = row0 - hb; y <= row0 + hb; y++) {
    if (detect && y >= row0 - ht && y <= row0 + ht) slideRow(src, valid, bgCount, cols, W, H, P, y, 1, 0);
    if (y >= row0 - hg && y <= row0 + hg) slideRow(src, valid, bgCount, cols, W, H, P, y, 1, 1);
    slideRow(src, valid, bgCount, cols, W, H, P, y, 1, 2);
    // Upper halves: rows y - h .. y (the pixel's own row included).
    if (quad && y <= row0) {
      slideUpper(src, bgCount, cols, W, H, P, y, 1, 8);
      if (y >= row0 - hg) slideUpper(src, bgCount, cols, W, H, P, y, 1, 11);
    }
  }
  const fullTargetN = (2 * ht + 1) * (2 * ht + 1);
  const kFull = kind === 'k' && detect ? scratch.table(p, fullTargetN) : null;
  const L = p.looks;
  const t = p.t;
  const floor = p.floor;
  const cen = bgCountOut as Uint8Array;
  const res = out as CfarOutputs;
  const minRatio = kFull ? kFull.gammaLimit : 1;
  // The K method censors only outliers with a 4-neighbour above the same threshold: a ship is a
  // cluster of bright pixels, the spikes of K clutter (independent texture) stand alone. Censoring
  // those spikes too cuts off the clutter's own tail, and the texture read from such moments is too
  // calm, which lowers every threshold (false alarms in spiky clutter).
  const kCensor = kind === 'k' && !detect;
  if (detect) {
    // Only detected pixels get a ratio and a body threshold.
    res.detection.fill(0, row0 * W, (row0 + rows) * W);
    res.ratio.fill(Number.NaN, row0 * W, (row0 + rows) * W);
    res.bodyThreshold.fill(Number.NaN, row0 * W, (row0 + rows) * W);
  }
  for (let y = row0; y < row0 + rows; y++) {
    const tRows = Math.min(H - 1, y + ht) - Math.max(0, y - ht) + 1;
    // Window sums at x = 0 (the padding holds zeros left of the image).
    let tS = 0;
    let tN = 0;
    let gS = 0;
    let gQ = 0;
    let gN = 0;
    let bS = 0;
    let bQ = 0;
    let bN = 0;
    // Quadrant sums: upper background (u) and guard (v) rows over the full width, and left parts
    // (columns x - h .. x) of the background (bL), guard (gL), upper background (uL), upper guard (vL).
    let uS = 0;
    let uQ = 0;
    let uN = 0;
    let vS = 0;
    let vQ = 0;
    let vN = 0;
    let bLS = 0;
    let bLQ = 0;
    let bLN = 0;
    let gLS = 0;
    let gLQ = 0;
    let gLN = 0;
    let uLS = 0;
    let uLQ = 0;
    let uLN = 0;
    let vLS = 0;
    let vLQ = 0;
    let vLN = 0;
    for (let i = -ht; i <= ht; i++) {
      tS += cTS[P + i];
      tN += cTN[P + i];
    }
    for (let i = -hg; i <= hg; i++) {
      gS += cGS[P + i];
      gQ += cGQ[P + i];
      gN += cGN[P + i];
    }
    for (let i = -hb; i <= hb; i++) {
      bS += cBS[P + i];
      bQ += cBQ[P + i];
      bN += cBN[P + i];
    }
    if (quad) {
      for (let i = -hb; i <= hb; i++) {
        uS += cUS[P + i];
        uQ += cUQ[P + i];
        uN += cUN[P + i];
        if (i <= 0) {
          bLS += cBS[P + i];
          bLQ += cBQ[P + i];
          bLN += cBN[P + i];
          uLS += cUS[P + i];
          uLQ += cUQ[P + i];
          uLN += cUN[P + i];
        }
      }
      for (let i = -hg; i <= hg; i++) {
        vS += cVS[P + i];
        vQ += cVQ[P + i];
        vN += cVN[P + i];
        if (i <= 0) {
          gLS += cGS[P + i];
          gLQ += cGQ[P + i];
          gLN += cGN[P + i];
          vLS += cVS[P + i];
          vLQ += cVQ[P + i];
          vLN += cVN[P + i];
        }
      }
    }
    const o = y * W;
    for (let x = 0; x < W; x++) {
      const v = src[o + x];
      const ok = valid[o + x] === 1;
      const rn = bN - gN;
      const rs = bS - gS;
      // rn^2 * variance of the background (population), without a division.
      const rv = (bQ - gQ) * rn - rs * rs;
      // rn * (mean + t * std): the two-parameter threshold scaled by rn (no division, and no
      // data-dependent branch on the common path: a random 50/50 branch costs more than a sqrt).
      const thrN = rs + t * Math.sqrt(Math.max(rv, 0));
      if (kCensor) {
        let out = false;
        if (ok && rn > 0.5 && v * rn > thrN) {
          const q = o + x;
          out =
            (x > 0 && src[q - 1] * rn > thrN) ||
            (x + 1 < W && src[q + 1] * rn > thrN) ||
            (y > 0 && src[q - W] * rn > thrN) ||
            (y + 1 < H && src[q + W] * rn > thrN);
        }
        cen[o + x] = ok && !out ? 1 : 0;
      } else if (!detect) {
        cen[o + x] = ok && !(rn > 0.5 && v * rn > thrN) ? 1 : 0;
      } else if (quad) {
        // Quadrants of the ring: upper-left, upper-right, lower-left, lower-right.
        const s0 = uLS - vLS;
        const n0 = uLN - vLN;
        const s1 = uS - uLS - (vS - vLS);
        const n1 = uN - uLN - (vN - vLN);
        const s2 = bLS - uLS - (gLS - vLS);
        const n2 = bLN - uLN - (gLN - vLN);
        const s3 = rs - s0 - s1 - s2;
        const n3 = rn - n0 - n1 - n2;
        // No threshold is below the gamma limit times the smallest quadrant mean (or the ring mean).
        if (
          ok &&
          rn > 0.5 &&
          (tS * rn > rs * minRatio * tN ||
            (n0 > 0.5 && tS * n0 > s0 * minRatio * tN) ||
            (n1 > 0.5 && tS * n1 > s1 * minRatio * tN) ||
            (n2 > 0.5 && tS * n2 > s2 * minRatio * tN) ||
            (n3 > 0.5 && tS * n3 > s3 * minRatio * tN))
        ) {
          const area = (Math.min(W - 1, x + ht) - Math.max(0, x - ht) + 1) * tRows;
          const targetMean = tS / tN;
          if (area - tN <= 0.1 * area && targetMean >= floor) {
            // The quadrant means that have enough pixels; heterogeneous when they differ too much.
            const m0 = n0 >= MIN_QUADRANT_PX ? s0 / n0 : Number.NaN;
            const m1 = n1 >= MIN_QUADRANT_PX ? s1 / n1 : Number.NaN;
            const m2q = n2 >= MIN_QUADRANT_PX ? s2 / n2 : Number.NaN;
            const m3 = n3 >= MIN_QUADRANT_PX ? s3 / n3 : Number.NaN;
            // Math.min / max of a NaN is NaN: leave the small quadrants out.
            const lo = Math.min(m0 || Infinity, m1 || Infinity, m2q || Infinity, m3 || Infinity);
            const hi = Math.max(m0 || 0, m1 || 0, m2q || 0, m3 || 0);
            let sS = rs;
            let sQ = bQ - gQ;
            let sN = rn;
            if (hi > HETEROGENEITY_RATIO * lo) {
              // The brightest quadrant that is not brighter than LOCAL_RANGE times the local level.
              const local = gN > 0.5 && gS > 0 ? gS / gN : targetMean;
              const cap = LOCAL_RANGE * local;
              // (Every quadrant brighter than that: the darkest.)
              const best =
                Math.max(m0 <= cap ? m0 : 0, m1 <= cap ? m1 : 0, m2q <= cap ? m2q : 0, m3 <= cap ? m3 : 0) ||
                lo;
              if (best === m0) [sS, sQ, sN] = [s0, uLQ - vLQ, n0];
              else if (best === m1) [sS, sQ, sN] = [s1, uQ - uLQ - (vQ - vLQ), n1];
              else if (best === m2q) [sS, sQ, sN] = [s2, bLQ - uLQ - (gLQ - vLQ), n2];
              else {
                const q0 = uLQ - vLQ;
                const q1 = uQ - uLQ - (vQ - vLQ);
                const q2 = bLQ - uLQ - (gLQ - vLQ);
                [sS, sQ, sN] = [s3, bQ - gQ - q0 - q1 - q2, n3];
              }
            }
            const mean = sS / sN;
            const varN2 = sQ * sN - sS * sS;
            const std = varN2 > 0 ? Math.sqrt(varN2) / sN : 0;
            // Texture order from the background moments (as SNAP's K-distribution code):
            // (1 + 1/nu)(1 + 1/L) = <x^2> / <x>^2. Fewer target pixels (border, nodata) use the
            // table of the next smaller size class: a slightly higher, conservative threshold.
            const m2 = std * std + mean * mean;
            const dd = m2 / (mean * mean) / (1 + 1 / L) - 1;
            const nu = dd > 0 ? 1 / dd : Number.POSITIVE_INFINITY;
            const n = Math.round(tN);
            const table = n === fullTargetN ? (kFull as KThresholdTable) : scratch.table(p, sizeClass(n));
            // An extended bright feature (a rain cell, a bright patch smaller than the ring) raises
            // the censored guard-window mean above the background's: the level is the greater.
            const level = gN > 0.5 && gS > mean * gN ? gS / gN : mean;
            const threshold = level * table.threshold(targetMeanOrder(L, nu, n));
            if (targetMean > threshold) {
              res.detection[o + x] = 1;
              res.ratio[o + x] = targetMean / threshold;
              res.bodyThreshold[o + x] = mean + BODY_K * std;
            }
          }
        }
      } else if (ok && rn > 0.5 && tS * rn > thrN * tN) {
        const area = (Math.min(W - 1, x + ht) - Math.max(0, x - ht) + 1) * tRows;
        const targetMean = tS / tN;
        const mean = rs / rn;
        if (area - tN <= 0.1 * area && targetMean >= floor) {
          const std = rv > 0 ? Math.sqrt(rv) / rn : 0;
          const threshold = mean + t * std;
          if (targetMean > threshold) {
            res.detection[o + x] = 1;
            res.ratio[o + x] = targetMean / threshold;
            res.bodyThreshold[o + x] = mean + BODY_K * std;
          }
        }
      }
      // Slide the windows one column right.
      const a = P + x;
      if (detect) {
        tS += cTS[a + ht + 1] - cTS[a - ht];
        tN += cTN[a + ht + 1] - cTN[a - ht];
      }
      gS += cGS[a + hg + 1] - cGS[a - hg];
      gQ += cGQ[a + hg + 1] - cGQ[a - hg];
      gN += cGN[a + hg + 1] - cGN[a - hg];
      bS += cBS[a + hb + 1] - cBS[a - hb];
      bQ += cBQ[a + hb + 1] - cBQ[a - hb];
      bN += cBN[a + hb + 1] - cBN[a - hb];
      if (quad) {
        uS += cUS[a + hb + 1] - cUS[a - hb];
        uQ += cUQ[a + hb + 1] - cUQ[a - hb];
        uN += cUN[a + hb + 1] - cUN[a - hb];
        vS += cVS[a + hg + 1] - cVS[a - hg];
        vQ += cVQ[a + hg + 1] - cVQ[a - hg];
        vN += cVN[a + hg + 1] - cVN[a - hg];
        bLS += cBS[a + 1] - cBS[a - hb];
        bLQ += cBQ[a + 1] - cBQ[a - hb];
        bLN += cBN[a + 1] - cBN[a - hb];
        uLS += cUS[a + 1] - cUS[a - hb];
        uLQ += cUQ[a + 1] - cUQ[a - hb];
        uLN += cUN[a + 1] - cUN[a - hb];
        gLS += cGS[a + 1] - cGS[a - hg];
        gLQ += cGQ[a + 1] - cGQ[a - hg];
        gLN += cGN[a + 1] - cGN[a - hg];
        vLS += cVS[a + 1] - cVS[a - hg];
        vLQ += cVQ[a + 1] - cVQ[a - hg];
        vLN += cVN[a + 1] - cVN[a - hg];
      }
    }
    // Slide every window down one row.
    if (y + 1 < row0 + rows) {
      if (detect) {
        slideRow(src, valid, bgCount, cols, W, H, P, y + 1 + ht, 1, 0);
        slideRow(src, valid, bgCount, cols, W, H, P, y - ht, -1, 0);
      }
      if (quad) {
        slideUpper(src, bgCount, cols, W, H, P, y + 1, 1, 8);
        slideUpper(src, bgCount, cols, W, H, P, y - hb, -1, 8);
        slideUpper(src, bgCount, cols, W, H, P, y + 1, 1, 11);
        slideUpper(src, bgCount, cols, W, H, P, y - hg, -1, 11);
      }
      if (y - hb >= 0 && y + 1 + hb < H) {
        slideBackground(
          src,
          bgCount,
          W,
          (y + 1 + hg) * W,
          (y - hg) * W,
          (y + 1 + hb) * W,
          (y - hb) * W,
          cols,
          P,
        );
      } else {
        slideRow(src, valid, bgCount, cols, W, H, P, y + 1 + hg, 1, 1);
        slideRow(src, valid, bgCount, cols, W, H, P, y - hg, -1, 1);
        slideRow(src, valid, bgCount, cols, W, H, P, y + 1 + hb, 1, 2);
        slideRow(src, valid, bgCount, cols, W, H, P, y - hb, -1, 2);
      }
    }
  }
}
