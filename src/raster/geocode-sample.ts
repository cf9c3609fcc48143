/**
 * Bilinear geocoding of output rows through a lattice of inverse positions (the sampling of
 * warpByTiePoints, as ard's StripGeocoder streams it): the output pixel centres' source positions are
 * interpolated bilinearly between lattice points every `step` output pixels, and the source is sampled
 * bilinearly there (NaN outside and where all four neighbours are nodata).
 */

/**
 * Inverse positions (source line, pixel) of lattice rows j0 .. j0 + rows - 1, points i0 .. i0 + cols - 1
 * of each (of `nx` in a whole lattice row), row-major.
 */
export interface LatticeRows {
  j0: number;
  i0: number;
  cols: number;
  nx: number;
  /** Lattice rows in the output grid (including the last one at its bottom edge). */
  ny: number;
  step: number;
  line: Float64Array;
  pixel: Float64Array;
}

/** Where the source window sits and how large the source and output grids are. */
export interface GeocodeBlock {
  /** Source window read into `s`: its first row and column and width. */
  winRowOff: number;
  winColOff: number;
  winWidth: number;
  srcWidth: number;
  srcHeight: number;
  targetWidth: number;
  targetHeight: number;
  /** Output grid row of `out`'s first row. */
  outRowOff: number;
}

/**
 * Output rows [r0, r1) and columns [c0, c1) into `out` (rows from b.outRowOff, targetWidth wide),
 * from the source window `s`; pixels with no source stay as they are. With `db`, the values written
 * are 10 log10 of the float32 results (NaN where not positive), as raster/sar toDb gives them.
 */
export function sampleLatticeBlock(
  s: Float32Array,
  b: GeocodeBlock,
  lat: LatticeRows,
  r0: number,
  r1: number,
  c0: number,
  c1: number,
  out: Float32Array,
  db: boolean,
): void {
  const width = b.targetWidth;
  const height = b.targetHeight;
  const { nx, ny, step: STEP, j0, i0, cols } = lat;
  const H = b.srcHeight;
  const W = b.srcWidth;
  const ww = b.winWidth;
  const wy0 = b.winRowOff;
  const wx0 = b.winColOff;
  // Per column: its lattice cell and the fraction across it (the same for every row).
  const nc = c1 - c0;
  const cellOf = new Int32Array(nc);
  const fxOf = new Float64Array(nc);
  for (let c = c0; c < c1; c++) {
    const i = Math.min(Math.floor(c / STEP), nx - 2);
    const cc0 = i * STEP;
    const cc1 = Math.min((i + 1) * STEP, width - 1);
    cellOf[c - c0] = i;
    fxOf[c - c0] = cc1 > cc0 ? (c - cc0) / (cc1 - cc0) : 0;
  }
  for (let r = r0; r < r1; r++) {
    const j = Math.min(Math.floor(r / STEP), ny - 2);
    const rr0 = j * STEP;
    const rr1 = Math.min((j + 1) * STEP, height - 1);
    const fy = rr1 > rr0 ? (r - rr0) / (rr1 - rr0) : 0;
    const a = (j - j0) * cols - i0;
    const bb = a + cols;
    const aL = lat.line;
    const aP = lat.pixel;
    const o = (r - b.outRowOff) * width;
    for (let c = c0; c < c1; c++) {
      const i = cellOf[c - c0];
      const fx = fxOf[c - c0];
      const l =
        (1 - fy) * ((1 - fx) * aL[a + i] + fx * aL[a + i + 1]) +
        fy * ((1 - fx) * aL[bb + i] + fx * aL[bb + i + 1]);
      const p =
        (1 - fy) * ((1 - fx) * aP[a + i] + fx * aP[a + i + 1]) +
        fy * ((1 - fx) * aP[bb + i] + fx * aP[bb + i + 1]);
      if (!(l >= -0.5 && l <= H - 0.5 && p >= -0.5 && p <= W - 0.5)) continue;
      const y0 = Math.max(0, Math.min(H - 2, Math.floor(l)));
      const x0 = Math.max(0, Math.min(W - 2, Math.floor(p)));
      const wy = Math.max(0, Math.min(1, l - y0));
      const wx = Math.max(0, Math.min(1, p - x0));
      const k = (y0 - wy0) * ww + (x0 - wx0);
      // The same sums in the same order as warpByTiePoints (so the same float result).
      let sum = 0;
      let wsum = 0;
      let v = s[k];
      let w = (1 - wy) * (1 - wx);
      if (v === v && w > 0) {
        sum += v * w;
        wsum += w;
      }
      v = s[k + 1];
      w = (1 - wy) * wx;
      if (v === v && w > 0) {
        sum += v * w;
        wsum += w;
      }
      v = s[k + ww];
      w = wy * (1 - wx);
      if (v === v && w > 0) {
        sum += v * w;
        wsum += w;
      }
      v = s[k + ww + 1];
      w = wy * wx;
      if (v === v && w > 0) {
        sum += v * w;
        wsum += w;
      }
      if (wsum > 0) out[o + c] = sum / wsum;
    }
    if (db)
      for (let c = c0; c < c1; c++) {
        const v = out[o + c];
        out[o + c] = v > 0 ? 10 * Math.log10(v) : Number.NaN;
      }
  }
}
