import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectVessels } from '../src/exploit/detect.js';
import type { CfarMethod, CfarOutputs, CfarParams } from '../src/raster/cfar.js';
import { CfarScratch, cfarParams, cfarRows } from '../src/raster/cfar.js';
import { changedRegions } from '../src/raster/cfar-regions.js';
import { KernelPool } from '../src/raster/kernel-pool.js';
import { gammaUnitMean, mulberry32 } from '../src/util/random.js';

/**
 * Censoring passes after the first recompute only rectangles near what the previous pass changed
 * (src/raster/cfar-regions.ts). Checked against the plain definition: every pass over the whole image.
 */

let pool: KernelPool;
beforeAll(() => {
  pool = new KernelPool(2);
});
afterAll(async () => {
  await pool.close();
});

/** Single-look sea with a bright half, a crowded cluster of ships and scattered ones, NaN holes. */
function scene(W: number, H: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  const a = new Float32Array(new SharedArrayBuffer(W * H * 4));
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) a[y * W + x] = (x > W * 0.7 ? 0.2 : 0.02) * gammaUnitMean(rand, 1);
  const ship = (cx: number, cy: number, len: number, b: number) => {
    for (let k = 0; k < len; k++)
      for (let w = 0; w < 2; w++) {
        const x = cx + k;
        const y = cy + w;
        if (x < W && y < H) a[y * W + x] = b * gammaUnitMean(rand, 1);
      }
  };
  for (let k = 0; k < 25; k++) ship(40 + (k % 5) * 9, 40 + Math.floor(k / 5) * 9, 6, 2);
  for (let k = 0; k < 15; k++)
    ship(Math.floor(rand() * (W - 10)), Math.floor(rand() * (H - 3)), 4 + (k % 8), 1);
  for (let k = 0; k < 30; k++) a[Math.floor(rand() * a.length)] = Number.NaN;
  return a;
}

/** The passes as defined: every censoring pass and the detection pass over the whole image. */
function fullPasses(image: Float32Array, W: number, H: number, p: CfarParams): CfarOutputs {
  const valid = new Uint8Array(W * H);
  const src = new Float32Array(W * H);
  for (let i = 0; i < W * H; i++) if (image[i] === image[i]) [valid[i], src[i]] = [1, image[i]];
  const out = {
    detection: new Uint8Array(W * H),
    bodyThreshold: new Float32Array(W * H),
    ratio: new Float32Array(W * H),
  };
  const sc = new CfarScratch();
  let counts = valid;
  for (let k = 0; k < (p.method === 'two-param' ? 0 : p.censorPasses); k++) {
    const next = new Uint8Array(W * H);
    cfarRows(src, valid, counts, W, H, 0, H, p, 'censor', next, null, sc);
    counts = next;
  }
  cfarRows(src, valid, counts, W, H, 0, H, p, 'detect', null, out, sc);
  return out;
}

describe('changedRegions', () => {
  it('covers every pixel within reach of a change, and nothing when nothing changed', () => {
    const W = 1000;
    const H = 930;
    const rand = mulberry32(5);
    for (const changes of [1, 3, 6]) {
      const a = new Uint8Array(W * H);
      const b = new Uint8Array(W * H);
      const where: [number, number][] = [];
      for (let k = 0; k < changes; k++) {
        const x = Math.floor(rand() * W);
        const y = Math.floor(rand() * H);
        b[y * W + x] = 1;
        where.push([x, y]);
      }
      const reach = 40;
      const regions = changedRegions(a, b, W, H, reach);
      expect(regions).not.toBeNull();
      const covered = new Uint8Array(W * H);
      for (const r of regions ?? []) {
        expect(r.col0 >= 0 && r.row0 >= 0 && r.col0 + r.cols <= W && r.row0 + r.rows <= H).toBe(true);
        for (let y = r.row0; y < r.row0 + r.rows; y++)
          for (let x = r.col0; x < r.col0 + r.cols; x++) {
            // Rectangles do not overlap (each pixel computed once).
            if (covered[y * W + x] !== 0) throw new Error(`(${x}, ${y}) in two rectangles`);
            covered[y * W + x] = 1;
          }
      }
      for (const [cx, cy] of where)
        for (let y = Math.max(0, cy - reach); y <= Math.min(H - 1, cy + reach); y++)
          for (let x = Math.max(0, cx - reach); x <= Math.min(W - 1, cx + reach); x++)
            if (covered[y * W + x] !== 1)
              throw new Error(`(${x}, ${y}) within reach of (${cx}, ${cy}) not covered`);
    }
    expect(changedRegions(new Uint8Array(W * H), new Uint8Array(W * H), W, H, 40)).toEqual([]);
    // Changes everywhere: one whole pass instead (null).
    const dense = new Uint8Array(W * H);
    for (let i = 0; i < W * H; i += 97) dense[i] = 1;
    expect(changedRegions(new Uint8Array(W * H), dense, W, H, 40)).toBeNull();
  });
});

describe('CFAR over column regions', () => {
  it.each(['two-param', 'censored', 'k'] as CfarMethod[])(
    '%s: rectangles tiling the image give the whole pass, censoring and detection',
    (method) => {
      const W = 301;
      const H = 257;
      const image = scene(W, H, 11);
      const p = cfarParams({ method, spacingM: 10, targetM: 30, guardM: 110, backgroundM: 190, looks: 1 });
      const valid = new Uint8Array(W * H);
      const src = new Float32Array(W * H);
      for (let i = 0; i < W * H; i++) if (image[i] === image[i]) [valid[i], src[i]] = [1, image[i]];
      const sc = new CfarScratch();
      const whole = new Uint8Array(W * H);
      cfarRows(src, valid, valid, W, H, 0, H, p, 'censor', whole, null, sc);
      const outs = () => ({
        detection: new Uint8Array(W * H),
        bodyThreshold: new Float32Array(W * H),
        ratio: new Float32Array(W * H),
      });
      const wholeOut = outs();
      cfarRows(src, valid, whole, W, H, 0, H, p, 'detect', null, wholeOut, sc);
      const pieces = new Uint8Array(W * H);
      const piecesOut = outs();
      // Uneven rectangles: a column split at 77 and 190, row splits at 64 and 200.
      for (const [r0, r1] of [
        [0, 64],
        [64, 200],
        [200, H],
      ])
        for (const [c0, c1] of [
          [0, 77],
          [77, 190],
          [190, W],
        ]) {
          const region = { col0: c0, cols: c1 - c0 };
          cfarRows(src, valid, valid, W, H, r0, r1 - r0, p, 'censor', pieces, null, sc, region);
          cfarRows(src, valid, whole, W, H, r0, r1 - r0, p, 'detect', null, piecesOut, sc, region);
        }
      expect(pieces).toEqual(whole);
      expect(piecesOut.detection).toEqual(wholeOut.detection);
      let detected = 0;
      for (let i = 0; i < W * H; i++) detected += wholeOut.detection[i];
      // The scene has ships: the comparison is not between two empty masks.
      expect(detected).toBeGreaterThan(50);
      expect(Array.from(piecesOut.ratio)).toEqual(Array.from(wholeOut.ratio));
    },
  );
});

describe('detectVessels with the censoring passes after the first on changed regions only', () => {
  it.each([
    ['k', 4],
    ['k', 2],
    ['censored', 3],
  ] as [CfarMethod, number][])(
    '%s with %i passes: the same mask as every pass over the whole image, on the pool and on one thread',
    async (method, censorPasses) => {
      const W = 640;
      const H = 600;
      const grid = {
        epsg: 32631,
        geoTransform: [600000, 10, 0, 4800000, 0, -10] as [number, number, number, number, number, number],
        width: W,
        height: H,
      };
      const image = scene(W, H, 23);
      const p = cfarParams({ method, spacingM: 10, looks: 1, censorPasses });
      const expected = fullPasses(image, W, H, p);
      for (const usePool of [true, false]) {
        const img = new Float32Array(new SharedArrayBuffer(W * H * 4));
        img.set(image);
        const r = await detectVessels(img, grid, {
          method,
          looks: 1,
          censorPasses,
          landMask: 'none',
          pool: usePool ? pool : null,
          keepOutputs: true,
        });
        expect(r.outputs?.detection).toEqual(expected.detection);
        expect(r.censoring.passes).toBeLessThanOrEqual(censorPasses);
      }
    },
  );

  it('the default K method runs four censoring passes, the later ones on a part of the image', async () => {
    const W = 1024;
    const H = 1024;
    const grid = {
      epsg: 32631,
      geoTransform: [600000, 10, 0, 4800000, 0, -10] as [number, number, number, number, number, number],
      width: W,
      height: H,
    };
    const r = await detectVessels(scene(W, H, 3), grid, { landMask: 'none', pool });
    expect(r.params.censorPasses).toBe(4);
    expect(r.censoring.passes).toBeGreaterThanOrEqual(2);
    // The first pass computes every pixel, the later ones only a part of the image each.
    expect(r.censoring.recomputedPixels).toBeGreaterThanOrEqual(W * H);
    expect(r.censoring.recomputedPixels).toBeLessThan(W * H + (r.censoring.passes - 1) * 0.5 * W * H);
  });
});
