import type { TypedArray } from './dtype.js';

/**
 * Sums over a set of values from which statistics follow: the count of valid (finite, not nodata)
 * values, their sum, sum of squares, minimum and maximum, and the count of all values seen.
 * Partial results over parts of a raster merge into the result over the whole.
 */
export interface ValueStatistics {
  valid: number;
  sum: number;
  sumSq: number;
  min: number;
  max: number;
  total: number;
}

export function emptyValueStatistics(): ValueStatistics {
  return {
    valid: 0,
    sum: 0,
    sumSq: 0,
    min: Number.POSITIVE_INFINITY,
    max: Number.NEGATIVE_INFINITY,
    total: 0,
  };
}

/** Statistics of data[start, end), leaving out NaN, the infinities and `nodata` (when not null or NaN). */
export function valueStatistics(
  data: TypedArray,
  start = 0,
  end = data.length,
  nodata: number | null = null,
): ValueStatistics {
  const hasNd = nodata !== null && !Number.isNaN(nodata);
  const nd = hasNd ? (nodata as number) : 0;
  let n = 0;
  let s = 0;
  let s2 = 0;
  let mn = Number.POSITIVE_INFINITY;
  let mx = Number.NEGATIVE_INFINITY;
  // x - x is 0 for finite x and NaN for NaN and the infinities.
  for (let i = start; i < end; i++) {
    const x = data[i];
    if (x - x !== 0 || (hasNd && x === nd)) continue;
    n++;
    s += x;
    s2 += x * x;
    if (x < mn) mn = x;
    if (x > mx) mx = x;
  }
  return { valid: n, sum: s, sumSq: s2, min: mn, max: mx, total: end - start };
}

/** The statistics of the union of the parts. */
export function mergeValueStatistics(parts: ValueStatistics[]): ValueStatistics {
  const out = emptyValueStatistics();
  for (const p of parts) {
    out.valid += p.valid;
    out.sum += p.sum;
    out.sumSq += p.sumSq;
    out.total += p.total;
    if (p.min < out.min) out.min = p.min;
    if (p.max > out.max) out.max = p.max;
  }
  return out;
}
