import type { SpeckleParams } from './speckle.js';

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
  const win = new Float64Array(49);
  const M = new Float64Array(9);
  const rowIndex = new Int32Array(7);
  const colIndex = new Int32Array(7);
  for (let j = 0; j < outRows; j++) {
    const y = outRow0 + j;
    for (let k = 0; k < 7; k++) {
      const yy = Math.min(imageHeight - 1, Math.max(0, y + k - 3));
      rowIndex[k] = (yy - srcRow0) * W;
    }
    for (let x = 0; x < W; x++) {
      const I = src[rowIndex[3] + x];
      if (I !== I) {
        dst[j * W + x] = Number.NaN;
        continue;
      }
      for (let k = 0; k < 7; k++) colIndex[k] = Math.min(W - 1, Math.max(0, x + k - 3));
      for (let a = 0; a < 7; a++) for (let b = 0; b < 7; b++) win[a * 7 + b] = src[rowIndex[a] + colIndex[b]];
      for (let a = 0; a < 3; a++) {
        for (let b = 0; b < 3; b++) {
          let s = 0;
          let n = 0;
          for (let u = 0; u < 3; u++) {
            for (let v = 0; v < 3; v++) {
              const val = win[(2 * a + u) * 7 + 2 * b + v];
              if (val === val) {
                s += val;
                n++;
              }
            }
          }
          M[a * 3 + b] = n > 0 ? s / n : Number.NaN;
        }
      }
      const [m00, m01, m02, m10, m11, m12, m20, m21, m22] = M;
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
      for (let a = 0; a < 7; a++) {
        for (let b = 0; b < 7; b++) {
          const inside =
            mask === 0
              ? b <= 3
              : mask === 1
                ? b >= 3
                : mask === 2
                  ? a <= 3
                  : mask === 3
                    ? a >= 3
                    : mask === 4
                      ? b <= a
                      : mask === 5
                        ? b >= a
                        : mask === 6
                          ? a + b <= 6
                          : a + b >= 6;
          if (!inside) continue;
          const val = win[a * 7 + b];
          if (val === val) {
            s += val;
            s2 += val * val;
            n++;
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
      dst[j * W + x] = out;
    }
  }
}
