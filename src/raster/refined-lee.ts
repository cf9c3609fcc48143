import type { SpeckleParams } from './speckle.js';

/**
 * Columns [lo, hi] of each row a (0..6) of the 7 x 7 window inside each of the eight half windows
 * (see refinedLeeRows, rule 3), indexed mask * 7 + a.
 */
const HALF_LO = new Int32Array(56);
const HALF_HI = new Int32Array(56);
for (let a = 0; a < 7; a++) {
  const rows: [number, number][] = [
    [0, 3],
    [3, 6],
    a <= 3 ? [0, 6] : [0, -1],
    a >= 3 ? [0, 6] : [0, -1],
    [0, a],
    [a, 6],
    [0, 6 - a],
    [6 - a, 6],
  ];
  rows.forEach(([lo, hi], mask) => {
    HALF_LO[mask * 7 + a] = lo;
    HALF_HI[mask * 7 + a] = hi;
  });
}

/**
 * One row of 3 x 3 sub-window means for window centres on image row `r` (which may lie up to 2 rows
 * outside the image) and columns -2 .. W + 1, into `out` (index column + 2): the mean of the valid
 * pixels of rows r - 1 .. r + 1 and columns c - 1 .. c + 1, each clamped into the image, summed row by
 * row in double precision; NaN where none is valid.
 */
function subWindowMeans(
  src: Float32Array,
  W: number,
  imageHeight: number,
  srcRow0: number,
  r: number,
  cols: Int32Array,
  out: Float64Array,
): void {
  const row = (yy: number) => (Math.min(imageHeight - 1, Math.max(0, yy)) - srcRow0) * W;
  const r0 = row(r - 1);
  const r1 = row(r);
  const r2 = row(r + 1);
  for (let k = 0; k < W + 4; k++) {
    // Column c = k - 2 reads clamped columns cols[k], cols[k + 1], cols[k + 2] (c - 1 .. c + 1).
    const c0 = cols[k];
    const c1 = cols[k + 1];
    const c2 = cols[k + 2];
    let s = 0;
    let n = 0;
    let v = src[r0 + c0];
    if (v === v) {
      s += v;
      n++;
    }
    v = src[r0 + c1];
    if (v === v) {
      s += v;
      n++;
    }
    v = src[r0 + c2];
    if (v === v) {
      s += v;
      n++;
    }
    v = src[r1 + c0];
    if (v === v) {
      s += v;
      n++;
    }
    v = src[r1 + c1];
    if (v === v) {
      s += v;
      n++;
    }
    v = src[r1 + c2];
    if (v === v) {
      s += v;
      n++;
    }
    v = src[r2 + c0];
    if (v === v) {
      s += v;
      n++;
    }
    v = src[r2 + c1];
    if (v === v) {
      s += v;
      n++;
    }
    v = src[r2 + c2];
    if (v === v) {
      s += v;
      n++;
    }
    out[k] = n > 0 ? s / n : Number.NaN;
  }
}

/**
 * Refined Lee (J.-S. Lee 1981, "Refined filtering of image noise using local statistics"), as ESA SNAP
 * structures it, on a 7 x 7 window with replicated borders. The rules implemented, per pixel:
 *
 * 1. Means of the nine 3 x 3 sub-windows at row and column offsets 0, 2, 4 of the window: M[a][b].
 * 2. Four Sobel gradients on M: g0 = |right column - left column| (a vertical edge), g2 = |top row -
 *    bottom row| (a horizontal edge), g1 = |upper-right - lower-left| (an edge along the main diagonal),
 *    g3 = |upper-left - lower-right| (an edge along the anti-diagonal), each side weighted 1, 2, 1.
 *    The largest picks the edge direction (the first on ties).
 * 3. Of the two half windows along that edge, the one whose sub-window mean next to the centre is
 *    closer to the centre sub-window's mean M[1][1]: left/right (columns 0-3 or 3-6), top/bottom
 *    (rows 0-3 or 3-6), lower-left/upper-right of the main diagonal (j <= i or j >= i), upper-left/
 *    lower-right of the anti-diagonal (i + j <= 6 or i + j >= 6). Each half holds 28 pixels.
 * 4. Lee's MMSE over that half: mean m and unbiased variance v; noise sigma_v^2 = 1 / L (L looks);
 *    var_x = (v - m^2 sigma_v^2) / (1 + sigma_v^2); the output is m when var_x <= 0 (or v = 0),
 *    else m + (var_x / v) (I - m).
 * NaN pixels are left out of every mean and variance and stay NaN.
 *
 * The sub-window means are 3 x 3 means centred 2 pixels apart, so each is computed once per pixel
 * (a ring of five rows of them) rather than nine times; every sum still adds the same values in the
 * same order (rows of the window top to bottom, each left to right), so the result is the same
 * to the last bit as summing each window on its own (test/refined-lee-rules.test.ts).
 */
export function refinedLeeRows(
  src: Float32Array,
  width: number,
  imageHeight: number,
  srcRow0: number,
  dst: Float32Array,
  outRow0: number,
  outRows: number,
  p: SpeckleParams,
): void {
  const W = width;
  const sigmaV2 = 1 / p.looks;
  // cols[k] = column k - 3 clamped into the image, for k = 0 .. W + 5 (columns -3 .. W + 2).
  const cols = new Int32Array(W + 6);
  for (let k = 0; k < W + 6; k++) cols[k] = Math.min(W - 1, Math.max(0, k - 3));
  const ring = Array.from({ length: 5 }, () => new Float64Array(W + 4));
  const ringRow = new Int32Array(5).fill(-0x7fffffff);
  const meansOf = (r: number): Float64Array => {
    const slot = (((r - outRow0) % 5) + 5) % 5;
    if (ringRow[slot] !== r) {
      subWindowMeans(src, W, imageHeight, srcRow0, r, cols, ring[slot]);
      ringRow[slot] = r;
    }
    return ring[slot];
  };
  const rowIndex = new Int32Array(7);
  for (let j = 0; j < outRows; j++) {
    const y = outRow0 + j;
    for (let k = 0; k < 7; k++) {
      const yy = Math.min(imageHeight - 1, Math.max(0, y + k - 3));
      rowIndex[k] = (yy - srcRow0) * W;
    }
    const top = meansOf(y - 2);
    const mid = meansOf(y);
    const bottom = meansOf(y + 2);
    const centre = rowIndex[3];
    const o = j * W;
    for (let x = 0; x < W; x++) {
      const I = src[centre + x];
      if (I !== I) {
        dst[o + x] = Number.NaN;
        continue;
      }
      // Sub-window (a, b) is centred on row y - 2 + 2a, column x - 2 + 2b (means index column + 2).
      const m00 = top[x];
      const m01 = top[x + 2];
      const m02 = top[x + 4];
      const m10 = mid[x];
      const m11 = mid[x + 2];
      const m12 = mid[x + 4];
      const m20 = bottom[x];
      const m21 = bottom[x + 2];
      const m22 = bottom[x + 4];
      const g0 = Math.abs(m02 + 2 * m12 + m22 - (m00 + 2 * m10 + m20));
      const g1 = Math.abs(m01 + 2 * m02 + m12 - (m10 + 2 * m20 + m21));
      const g2 = Math.abs(m00 + 2 * m01 + m02 - (m20 + 2 * m21 + m22));
      const g3 = Math.abs(m10 + 2 * m00 + m01 - (m21 + 2 * m22 + m12));
      let dir = 0;
      let best = g0;
      if (g1 > best) {
        dir = 1;
        best = g1;
      }
      if (g2 > best) {
        dir = 2;
        best = g2;
      }
      if (g3 > best) dir = 3;
      // Mask: 0 left, 1 right, 2 top, 3 bottom, 4 lower-left of diagonal, 5 upper-right, 6 upper-left of anti-diagonal, 7 lower-right.
      let mask: number;
      if (dir === 0) mask = Math.abs(m11 - m10) <= Math.abs(m11 - m12) ? 0 : 1;
      else if (dir === 2) mask = Math.abs(m11 - m01) <= Math.abs(m11 - m21) ? 2 : 3;
      else if (dir === 1) mask = Math.abs(m11 - m20) <= Math.abs(m11 - m02) ? 4 : 5;
      else mask = Math.abs(m11 - m00) <= Math.abs(m11 - m22) ? 6 : 7;
      let s = 0;
      let s2 = 0;
      let n = 0;
      const m7 = mask * 7;
      if (x >= 3 && x + 3 < W) {
        for (let a = 0; a < 7; a++) {
          const base = rowIndex[a] + x - 3;
          for (let b = base + HALF_LO[m7 + a], e = base + HALF_HI[m7 + a]; b <= e; b++) {
            const val = src[b];
            if (val === val) {
              s += val;
              s2 += val * val;
              n++;
            }
          }
        }
      } else {
        for (let a = 0; a < 7; a++) {
          const base = rowIndex[a];
          for (let b = HALF_LO[m7 + a], e = HALF_HI[m7 + a]; b <= e; b++) {
            const val = src[base + cols[x + b]];
            if (val === val) {
              s += val;
              s2 += val * val;
              n++;
            }
          }
        }
      }
      const m = s / n;
      const v = n > 1 ? (s2 - s * m) / (n - 1) : 0;
      let out = m;
      if (v > 0) {
        const varX = (v - m * m * sigmaV2) / (1 + sigmaV2);
        if (varX > 0) out = m + (varX / v) * (I - m);
      }
      dst[o + x] = out;
    }
  }
}
