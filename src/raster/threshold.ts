import type { Histogram } from './sar.js';

/**
 * Automatic thresholds on a histogram. Both search the bins of [from, to) (bin indices) for the
 * split that best separates two classes, and return the threshold as a value (a bin edge).
 */

/** Cumulative counts, sums and sums of squares of bin centres over bins [from, k), k = from..to. */
function cumulate(h: Histogram, from: number, to: number) {
  const w = (h.max - h.min) / h.counts.length;
  const n = to - from;
  const c0 = new Float64Array(n + 1);
  const c1 = new Float64Array(n + 1);
  const c2 = new Float64Array(n + 1);
  for (let k = 0; k < n; k++) {
    const c = h.counts[from + k];
    const x = h.min + (from + k + 0.5) * w;
    c0[k + 1] = c0[k] + c;
    c1[k + 1] = c1[k] + c * x;
    c2[k + 1] = c2[k] + c * x * x;
  }
  return { w, n, c0, c1, c2 };
}

/**
 * Kittler and Illingworth's minimum-error threshold (Pattern Recognition 19, 1986): two Gaussian
 * classes; the split T minimises J(T) = P1 ln(s1^2) + P2 ln(s2^2) - 2 (P1 ln P1 + P2 ln P2) (the
 * criterion up to constants), with Pi, si the weight and standard deviation of each side. Classes
 * thinner than `minVar` (in value units squared, default a tenth of a bin width squared) are not
 * allowed, so a single bin cannot form a class. Returns NaN when no split is possible.
 */
export function kittlerIllingworth(h: Histogram, from = 0, to = h.counts.length, minVar?: number): number {
  const { w, n, c0, c1, c2 } = cumulate(h, from, to);
  const total = c0[n];
  if (total <= 0) return Number.NaN;
  const floor = minVar ?? (w * w) / 10;
  let best = Number.POSITIVE_INFINITY;
  let bestK = -1;
  for (let k = 1; k < n; k++) {
    const n1 = c0[k];
    const n2 = total - n1;
    if (n1 < 2 || n2 < 2) continue;
    const m1 = c1[k] / n1;
    const m2 = (c1[n] - c1[k]) / n2;
    const v1 = c2[k] / n1 - m1 * m1;
    const v2 = (c2[n] - c2[k]) / n2 - m2 * m2;
    if (v1 < floor || v2 < floor) continue;
    const p1 = n1 / total;
    const p2 = n2 / total;
    const j = p1 * Math.log(v1) + p2 * Math.log(v2) - 2 * (p1 * Math.log(p1) + p2 * Math.log(p2));
    if (j < best) {
      best = j;
      bestK = k;
    }
  }
  return bestK < 0 ? Number.NaN : h.min + (from + bestK) * w;
}

/** Otsu's threshold (IEEE SMC 9, 1979): the split that maximises the between-class variance. */
export function otsu(h: Histogram, from = 0, to = h.counts.length): number {
  const { w, n, c0, c1 } = cumulate(h, from, to);
  const total = c0[n];
  if (total <= 0) return Number.NaN;
  let best = -1;
  let bestK = -1;
  for (let k = 1; k < n; k++) {
    const n1 = c0[k];
    const n2 = total - n1;
    if (n1 <= 0 || n2 <= 0) continue;
    const d = c1[k] / n1 - (c1[n] - c1[k]) / n2;
    const between = ((n1 * n2) / (total * total)) * d * d;
    if (between > best) {
      best = between;
      bestK = k;
    }
  }
  return bestK < 0 ? Number.NaN : h.min + (from + bestK) * w;
}

/** The value below which a fraction q of a histogram's counts lie (interpolated within the bin). */
export function histogramQuantile(h: Histogram, q: number): number {
  const w = (h.max - h.min) / h.counts.length;
  const target = q * h.total;
  let cum = 0;
  for (let k = 0; k < h.counts.length; k++) {
    const c = h.counts[k];
    if (c > 0 && cum + c >= target) return h.min + (k + (target - cum) / c) * w;
    cum += c;
  }
  return h.max;
}
