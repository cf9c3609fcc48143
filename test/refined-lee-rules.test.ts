import { describe, expect, it } from 'vitest';
import { speckleParams, speckleRows } from '../src/raster/speckle.js';
import { mulberry32 } from '../src/util/random.js';

/**
 * The rules of Refined Lee as docs/speckle.md and src/raster/refined-lee.ts state them, written out
 * pixel by pixel the plain way: the 7 x 7 window with replicated borders, the nine 3 x 3 sub-window
 * means, the four gradients, the half window, Lee's MMSE over it. Sums run over the window's rows top
 * to bottom, each left to right, in double precision, NaN left out.
 */
function refinedLeeByRules(src: Float32Array, W: number, H: number, looks: number): Float32Array {
  const out = new Float32Array(W * H);
  const at = (y: number, x: number) =>
    src[Math.min(H - 1, Math.max(0, y)) * W + Math.min(W - 1, Math.max(0, x))];
  const sigmaV2 = 1 / looks;
  const inHalf = [
    (_a: number, b: number) => b <= 3,
    (_a: number, b: number) => b >= 3,
    (a: number) => a <= 3,
    (a: number) => a >= 3,
    (a: number, b: number) => b <= a,
    (a: number, b: number) => b >= a,
    (a: number, b: number) => a + b <= 6,
    (a: number, b: number) => a + b >= 6,
  ];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const I = src[y * W + x];
      if (Number.isNaN(I)) {
        out[y * W + x] = Number.NaN;
        continue;
      }
      const win = (a: number, b: number) => at(y + a - 3, x + b - 3);
      const M: number[][] = [];
      for (let a = 0; a < 3; a++) {
        M.push([]);
        for (let b = 0; b < 3; b++) {
          let s = 0;
          let n = 0;
          for (let u = 0; u < 3; u++)
            for (let v = 0; v < 3; v++) {
              const val = win(2 * a + u, 2 * b + v);
              if (!Number.isNaN(val)) {
                s += val;
                n++;
              }
            }
          M[a].push(n > 0 ? s / n : Number.NaN);
        }
      }
      const g = [
        Math.abs(M[0][2] + 2 * M[1][2] + M[2][2] - (M[0][0] + 2 * M[1][0] + M[2][0])),
        Math.abs(M[0][1] + 2 * M[0][2] + M[1][2] - (M[1][0] + 2 * M[2][0] + M[2][1])),
        Math.abs(M[0][0] + 2 * M[0][1] + M[0][2] - (M[2][0] + 2 * M[2][1] + M[2][2])),
        Math.abs(M[1][0] + 2 * M[0][0] + M[0][1] - (M[2][1] + 2 * M[2][2] + M[1][2])),
      ];
      let dir = 0;
      for (let k = 1; k < 4; k++) if (g[k] > g[dir]) dir = k;
      const c = M[1][1];
      const pick = (near: number, far: number, first: number) =>
        Math.abs(c - near) <= Math.abs(c - far) ? first : first + 1;
      const half = [
        pick(M[1][0], M[1][2], 0),
        pick(M[2][0], M[0][2], 4),
        pick(M[0][1], M[2][1], 2),
        pick(M[0][0], M[2][2], 6),
      ][dir];
      let s = 0;
      let s2 = 0;
      let n = 0;
      for (let a = 0; a < 7; a++)
        for (let b = 0; b < 7; b++) {
          const val = win(a, b);
          if (inHalf[half](a, b) && !Number.isNaN(val)) {
            s += val;
            s2 += val * val;
            n++;
          }
        }
      const m = s / n;
      const v = n > 1 ? (s2 - s * m) / (n - 1) : 0;
      const varX = (v - m * m * sigmaV2) / (1 + sigmaV2);
      out[y * W + x] = v > 0 && varX > 0 ? m + (varX / v) * (I - m) : m;
    }
  }
  return out;
}

describe('Refined Lee against its rules written out pixel by pixel', () => {
  // [width, height, share of NaN pixels, rows per strip]
  const cases: [number, number, number, number][] = [
    [1, 1, 0, 1],
    [2, 3, 0.1, 1],
    [6, 5, 0.3, 2],
    [7, 7, 0, 7],
    [40, 31, 0.02, 5],
    [97, 64, 0.5, 64],
    [128, 40, 0, 3],
  ];
  it.each(cases)(
    '%i x %i pixels, %f NaN, strips of %i rows: every pixel the same',
    (W, H, nanShare, strip) => {
      const rand = mulberry32(W * 1000 + H);
      const src = new Float32Array(W * H);
      for (let i = 0; i < src.length; i++) {
        const speckle = -Math.log(1 - rand());
        const target = rand() < 0.03 ? 30 : rand() < 0.05 ? 1e-7 : 0.05;
        src[i] = rand() < nanShare ? Number.NaN : target * speckle;
      }
      const want = refinedLeeByRules(src, W, H, 4.4);
      const p = speckleParams({ filter: 'refined-lee', looks: 4.4 });
      for (let row0 = 0; row0 < H; row0 += strip) {
        const rows = Math.min(strip, H - row0);
        const h0 = Math.max(0, row0 - 3);
        const h1 = Math.min(H, row0 + rows + 3);
        const got = new Float32Array(rows * W);
        speckleRows(src.subarray(h0 * W, h1 * W), W, H, h0, h1 - h0, got, row0, rows, p);
        for (let i = 0; i < got.length; i++) {
          const k = row0 * W + i;
          if (!Object.is(got[i], want[k]))
            expect.fail(`pixel (${Math.floor(k / W)}, ${k % W}): ${got[i]}, the rules give ${want[k]}`);
        }
      }
    },
  );
});
