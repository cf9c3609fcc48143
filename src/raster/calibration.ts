import { ValidationError } from '../errors.js';
import type { TypedArray } from './dtype.js';
import type { ValueStatistics } from './stats.js';

export type CalibrationTarget = 'sigma0' | 'beta0' | 'gamma0';

/** A CalibrationGrid as plain data (see CalibrationGrid.spec). */
export interface CalibrationGridSpec {
  vectors: CalibrationLutVector[];
  width: number;
  numberOfLines: number;
  firstLineTimeS: number;
  lastLineTimeS: number;
}

/** A NoiseGrid as plain data. */
export interface NoiseGridSpec {
  range: CalibrationGridSpec;
  blocks: AzimuthNoiseBlock[];
}

/** A calibration vector as the kernel needs it: line, azimuth time and the LUT at pixel positions. */
export interface CalibrationLutVector {
  timeS: number;
  line: number;
  pixel: Float64Array;
  values: Float64Array;
}

/**
 * Sentinel-1 radiometric calibration LUT over an image: value = DN^2 / A^2 with A interpolated
 * bilinearly, as ESA SNAP's Sentinel1Calibrator and Orfeo ToolBox do:
 * - in azimuth by time: t(y) = first line time + y (last - first) / (lines - 1); vector k is the last
 *   whose line <= y (at most the second to last), weight (t(y) - t_k) / (t_k+1 - t_k);
 * - in range by pixel, between the vector's pixel positions (the last segment extends to the edge).
 * Each vector is expanded once to a full row of A values; a row then costs one blend per pixel.
 */
export class CalibrationGrid {
  private readonly rows = new Map<number, Float64Array>();

  /** A grid rebuilt from `spec()` (in a worker thread). */
  static fromSpec(s: CalibrationGridSpec): CalibrationGrid {
    return new CalibrationGrid(s.vectors, s.width, s.numberOfLines, s.firstLineTimeS, s.lastLineTimeS);
  }

  constructor(
    private readonly vectors: CalibrationLutVector[],
    readonly width: number,
    private readonly numberOfLines: number,
    private readonly firstLineTimeS: number,
    private readonly lastLineTimeS: number,
  ) {
    if (vectors.length < 2)
      throw new ValidationError(`calibration needs at least 2 vectors, got ${vectors.length}`);
    if (!(numberOfLines > 1)) throw new ValidationError(`numberOfLines must be > 1, got ${numberOfLines}`);
    for (let k = 1; k < vectors.length; k++) {
      if (!(vectors[k].line > vectors[k - 1].line))
        throw new ValidationError(
          `calibration vector lines must increase (line ${vectors[k].line} after ${vectors[k - 1].line})`,
        );
    }
  }

  /** What the grid is built from, as plain data a worker thread can receive. */
  spec(): CalibrationGridSpec {
    const { vectors, width, numberOfLines, firstLineTimeS, lastLineTimeS } = this;
    return { vectors, width, numberOfLines, firstLineTimeS, lastLineTimeS };
  }

  /** The vector's LUT interpolated at every pixel 0..width-1. */
  private expanded(k: number): Float64Array {
    let row = this.rows.get(k);
    if (row) return row;
    const { pixel, values } = this.vectors[k];
    row = new Float64Array(this.width);
    let j = 0;
    const last = pixel.length - 2;
    for (let x = 0; x < this.width; x++) {
      while (j < last && pixel[j + 1] <= x) j++;
      const w = (x - pixel[j]) / (pixel[j + 1] - pixel[j]);
      row[x] = values[j] + w * (values[j + 1] - values[j]);
    }
    this.rows.set(k, row);
    return row;
  }

  /**
   * The two expanded vectors image line y lies between and its weight: A(x) = a[x] + w (b[x] - a[x]).
   */
  lineBlend(y: number): { a: Float64Array; b: Float64Array; w: number } {
    const v = this.vectors;
    let k = 0;
    while (k < v.length - 2 && v[k + 1].line <= y) k++;
    const t =
      this.firstLineTimeS + (y * (this.lastLineTimeS - this.firstLineTimeS)) / (this.numberOfLines - 1);
    const w = (t - v[k].timeS) / (v[k + 1].timeS - v[k].timeS);
    return { a: this.expanded(k), b: this.expanded(k + 1), w };
  }

  /** A for every pixel of image line y, into `out`. */
  lineLut(y: number, out: Float64Array<ArrayBufferLike>): void {
    const { a, b, w } = this.lineBlend(y);
    for (let x = 0; x < this.width; x++) out[x] = a[x] + w * (b[x] - a[x]);
  }
}

/**
 * Calibrate DN rows: out = DN^2 / A^2 (linear power). `dn` holds `rows` rows of `grid.width` samples
 * starting at image line `rowOff`; DN 0 (no data in GRD products) gives 0. Returns the statistics of
 * the values written (as valueStatistics would give over `out`), gathered in the same pass.
 */
export function calibrateRows(
  dn: TypedArray,
  rowOff: number,
  rows: number,
  grid: CalibrationGrid,
  out: Float32Array<ArrayBufferLike>,
): ValueStatistics {
  const W = grid.width;
  let n = 0;
  let s = 0;
  let s2 = 0;
  let mn = Number.POSITIVE_INFINITY;
  let mx = Number.NEGATIVE_INFINITY;
  for (let r = 0; r < rows; r++) {
    // A is blended in the pixel loop (the same double arithmetic as lineLut, without the row store).
    const { a, b, w } = grid.lineBlend(rowOff + r);
    const base = r * W;
    for (let x = 0; x < W; x++) {
      const d = dn[base + x];
      const A = a[x] + w * (b[x] - a[x]);
      const v = Math.fround((d * d) / (A * A));
      out[base + x] = v;
      // v - v is 0 for finite v and NaN for NaN and the infinities (A = 0).
      if (v - v !== 0) continue;
      n++;
      s += v;
      s2 += v * v;
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    }
  }
  return { valid: n, sum: s, sumSq: s2, min: mn, max: mx, total: rows * W };
}

/** An azimuth noise block: a LUT along lines, for lines and samples in its bounds (inclusive). */
export interface AzimuthNoiseBlock {
  firstLine: number;
  lastLine: number;
  firstSample: number;
  lastSample: number;
  line: Float64Array;
  lut: Float64Array;
}

/**
 * Thermal noise power over an image: the range LUT interpolated as the calibration LUT is (a
 * CalibrationGrid over the noise range vectors), times the azimuth LUT of the block holding the pixel
 * (linear in line; 1 where no block applies, as for products without azimuth noise vectors).
 */
export class NoiseGrid {
  static fromSpec(s: NoiseGridSpec): NoiseGrid {
    return new NoiseGrid(CalibrationGrid.fromSpec(s.range), s.blocks);
  }

  constructor(
    private readonly range: CalibrationGrid,
    private readonly blocks: AzimuthNoiseBlock[],
  ) {}

  spec(): NoiseGridSpec {
    return { range: this.range.spec(), blocks: this.blocks };
  }

  lineNoise(y: number, out: Float64Array): void {
    this.range.lineLut(y, out);
    for (const b of this.blocks) {
      if (y < b.firstLine || y > b.lastLine) continue;
      const L = b.line;
      let k = 0;
      while (k < L.length - 2 && L[k + 1] <= y) k++;
      let v: number;
      if (L.length === 1) v = b.lut[0];
      else {
        const w = Math.min(1, Math.max(0, (y - L[k]) / (L[k + 1] - L[k])));
        v = b.lut[k] + w * (b.lut[k + 1] - b.lut[k]);
      }
      const x1 = Math.min(out.length - 1, b.lastSample);
      for (let x = Math.max(0, b.firstSample); x <= x1; x++) out[x] *= v;
    }
  }
}

/** Calibrate with thermal noise removed: out = max(0, DN^2 - N) / A^2. */
export function calibrateRowsDenoised(
  dn: TypedArray,
  rowOff: number,
  rows: number,
  grid: CalibrationGrid,
  noise: NoiseGrid,
  out: Float32Array<ArrayBufferLike>,
): void {
  const W = grid.width;
  const lut = new Float64Array(W);
  const nz = new Float64Array(W);
  for (let r = 0; r < rows; r++) {
    grid.lineLut(rowOff + r, lut);
    noise.lineNoise(rowOff + r, nz);
    const base = r * W;
    for (let x = 0; x < W; x++) {
      const d = dn[base + x];
      const v = d * d - nz[x];
      out[base + x] = v > 0 ? v / (lut[x] * lut[x]) : 0;
    }
  }
}
