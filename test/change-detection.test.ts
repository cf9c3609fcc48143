import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectChanges } from '../src/exploit/change.js';
import { pixelScore } from '../src/exploit/score.js';
import type { SceneResult } from '../src/ops/simulate-scene.js';
import { plantedChangeRasters, simulateScene } from '../src/ops/simulate-scene.js';
import { KernelPool } from '../src/raster/kernel-pool.js';
import { labelComponents, morph3 } from '../src/raster/mask.js';
import { polygonize } from '../src/raster/polygonize.js';
import { kittlerIllingworth, otsu } from '../src/raster/threshold.js';
import { mulberry32 } from '../src/util/random.js';
import { runCapture } from './helpers/cli.js';
import { gdalinfoJson, gdalRead, tempDir, validateCog } from './helpers/gdal.js';
import { validateFeatureCollection } from './helpers/stac.js';

const tmp = tempDir('change-');
let pool: KernelPool;
beforeAll(() => {
  pool = new KernelPool(2);
});
afterAll(async () => {
  await pool.close();
  tmp.cleanup();
});

function shared(a: ArrayLike<number>): Float32Array {
  const s = new Float32Array(new SharedArrayBuffer(a.length * 4));
  s.set(a);
  return s;
}

async function changeOf(r: SceneResult) {
  const [b, a] = r.scenes.map((s) => shared(gdalRead(s.path, 'float32').data[0]));
  const grid = { epsg: r.epsg, geoTransform: r.geoTransform, width: r.size, height: r.size };
  return detectChanges(b, a, grid, { pool });
}

describe('change detection accuracy on simulated pairs (planted truth)', () => {
  it.each([
    [31, [3, -3], [20, 40]],
    [32, [6, -8], [40, 100]],
  ] as const)(
    'seed %i, changes %j dB over %j pixel squares: pixel F1 >= 0.9',
    async (seed, changeDb, sizes) => {
      const r = await simulateScene(join(tmp.dir, `pair-${seed}`), {
        seed,
        size: 1024,
        ships: 15,
        changeDb: [...changeDb],
        changeSizePx: [...sizes],
      });
      const res = await changeOf(r);
      const { truth, ships } = plantedChangeRasters(r);
      const s = pixelScore(res.classes, truth, ships);
      console.log(
        `changes ${changeDb.join('/')} dB: thresholds ${res.thresholds.decreaseDb.toFixed(2)} / ${res.thresholds.increaseDb.toFixed(2)} dB (sigma ${res.sigmaDb.toFixed(2)}), pixel P ${s.precision.toFixed(3)} R ${s.recall.toFixed(3)} F1 ${s.f1.toFixed(3)}, ${res.areas.length} areas`,
      );
      expect(r.changes.length).toBeGreaterThan(0);
      expect(s.f1).toBeGreaterThanOrEqual(0.9);
      // Every planted change is found as an area of the right sign.
      for (const c of r.changes) {
        const kind = c.changeDb > 0 ? 'increase' : 'decrease';
        expect(res.areas.some((a) => a.kind === kind && Math.abs(a.meanDb - c.changeDb) < 1.5)).toBe(true);
      }
    },
  );

  it('an image pair without change has no change polygons outside the ships (under 1% of the scene)', async () => {
    const r = await simulateScene(join(tmp.dir, 'nochange'), {
      seed: 33,
      size: 1024,
      ships: 15,
      changeDb: [0, 0],
    });
    const res = await changeOf(r);
    const { ships } = plantedChangeRasters(r);
    let falsePx = 0;
    for (let p = 0; p < res.classes.length; p++)
      if ((res.classes[p] === 1 || res.classes[p] === 2) && ships[p] === 0) falsePx++;
    console.log(
      `no change: ${falsePx} changed pixels away from ships (${((100 * falsePx) / res.classes.length).toFixed(3)}%)`,
    );
    expect(falsePx / res.classes.length).toBeLessThan(0.01);
  });
});

describe('thresholds', () => {
  /** A histogram of two Gaussian classes, exact counts from their densities. */
  function mixture(m1: number, s1: number, p1: number, m2: number, s2: number) {
    const bins = 2000;
    const min = -10;
    const max = 20;
    const w = (max - min) / bins;
    const counts = new Float64Array(bins);
    const g = (x: number, m: number, s: number) =>
      Math.exp(-0.5 * ((x - m) / s) ** 2) / (s * Math.sqrt(2 * Math.PI));
    for (let k = 0; k < bins; k++) {
      const x = min + (k + 0.5) * w;
      counts[k] = 1e6 * w * (p1 * g(x, m1, s1) + (1 - p1) * g(x, m2, s2));
    }
    return { min, max, counts, total: counts.reduce((a, b) => a + b, 0) };
  }

  it('Kittler-Illingworth finds the minimum-error point of two Gaussians; Otsu the midpoint for equal classes', () => {
    // Equal variances and weights: both at the midpoint.
    expect(kittlerIllingworth(mixture(0, 1, 0.5, 6, 1))).toBeCloseTo(3, 1);
    expect(otsu(mixture(0, 1, 0.5, 6, 1))).toBeCloseTo(3, 1);
    // Unequal weights (90/10): the Bayes minimum-error point moves towards the small class:
    // x = (m1 + m2)/2 + s^2 ln(p1/p2) / (m2 - m1) = 3 + ln 9 / 6 = 3.366.
    expect(kittlerIllingworth(mixture(0, 1, 0.9, 6, 1))).toBeCloseTo(3.366, 1);
  });
});

describe('polygons of change areas', () => {
  it('trace 4-connected components exactly: ring areas (outer minus holes) equal the pixel counts', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1e9 }),
        fc.integer({ min: 2, max: 24 }),
        fc.integer({ min: 2, max: 24 }),
        (seed, W, H) => {
          const rand = mulberry32(seed);
          const mask = new Uint8Array(W * H).map(() => (rand() < 0.55 ? 1 : 0));
          const { labels, count } = labelComponents(mask, W, H, 4);
          const polys = polygonize(labels, W, H, count);
          expect(polys.length).toBe(count);
          for (const poly of polys) {
            let pixels = 0;
            for (const l of labels) if (l === poly.label) pixels++;
            // Shoelace with y down: outer rings positive, holes negative.
            let area = 0;
            poly.rings.forEach((ring, i) => {
              let a = 0;
              for (let k = 0; k + 1 < ring.length; k++)
                a += ring[k][0] * ring[k + 1][1] - ring[k + 1][0] * ring[k][1];
              a /= 2;
              if (i === 0) expect(a).toBeGreaterThan(0);
              else expect(a).toBeLessThan(0);
              expect(ring[0]).toEqual(ring[ring.length - 1]);
              area += a;
            });
            expect(area).toBe(pixels);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('3 x 3 morphology', () => {
  it('erodes and dilates every bit plane like a direct neighbourhood AND / OR (word and byte paths)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1e9 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 12 }),
        (seed, W, H) => {
          const rand = mulberry32(seed);
          const mask = new Uint8Array(W * H).map(() => (rand() < 0.7 ? 1 : 0) | (rand() < 0.3 ? 2 : 0));
          for (const op of ['erode', 'dilate'] as const) {
            const got = morph3(mask, W, H, op);
            for (let y = 0; y < H; y++)
              for (let x = 0; x < W; x++) {
                let v = op === 'erode' ? 3 : 0;
                for (let dy = -1; dy <= 1; dy++)
                  for (let dx = -1; dx <= 1; dx++) {
                    // Outside the image the pixel stands in for its missing neighbour.
                    const xx = Math.min(W - 1, Math.max(0, x + dx));
                    const yy = Math.min(H - 1, Math.max(0, y + dy));
                    const xs = x + dx < 0 || x + dx >= W ? x : xx;
                    const ys = y + dy < 0 || y + dy >= H ? y : yy;
                    const m = mask[ys * W + xs];
                    v = op === 'erode' ? v & m : v | m;
                  }
                expect(got[y * W + x], `${op} (${x}, ${y}) of ${W} x ${H}`).toBe(v);
              }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('change: CLI and bad input', () => {
  let r: SceneResult;
  beforeAll(async () => {
    r = await simulateScene(join(tmp.dir, 'cli'), { seed: 4, size: 512, ships: 6 });
  });

  it('writes a two-band change COG and GeoJSON polygons with area and mean dB change', async () => {
    const prefix = join(tmp.dir, 'cli-change');
    const out = await runCapture(['change', r.scenes[0].path, r.scenes[1].path, prefix]);
    expect(out.code, out.stderr).toBe(0);
    expect(validateCog(`${prefix}.tif`).errors).toEqual([]);
    const info = gdalinfoJson(`${prefix}.tif`) as { bands: { description: string }[] };
    expect(info.bands.map((b) => b.description)).toEqual([
      'change class (0 none, 1 increase, 2 decrease)',
      'change dB (after / before)',
    ]);
    const doc = JSON.parse(readFileSync(`${prefix}.geojson`, 'utf8'));
    expect(validateFeatureCollection(doc)).toEqual([]);
    expect(doc.features.length).toBeGreaterThan(0);
    for (const f of doc.features) {
      expect(['increase', 'decrease']).toContain(f.properties.kind);
      expect(f.properties.area_m2).toBeGreaterThanOrEqual(10000);
      expect(f.properties.area_m2).toBe(f.properties.pixels * 100);
      expect(Math.sign(f.properties.mean_db)).toBe(f.properties.kind === 'increase' ? 1 : -1);
    }
  });

  it('compares images on one pixel lattice on their intersection, and refuses other lattices, naming what differs', async () => {
    // 256 x 256 pixels from the same origin: on the lattice, compared on the 256 x 256 intersection.
    const other = await simulateScene(join(tmp.dir, 'other'), {
      seed: 4,
      size: 256,
      ships: 0,
      dates: ['2026-06-01T06:00:00Z'],
    });
    const ok = await runCapture(['change', r.scenes[0].path, other.scenes[0].path, join(tmp.dir, 'inter')]);
    expect(ok.code, ok.stderr).toBe(0);
    expect((gdalinfoJson(join(tmp.dir, 'inter.tif')) as { size: number[] }).size).toEqual([256, 256]);
    const shifted = await simulateScene(join(tmp.dir, 'shifted'), {
      seed: 4,
      size: 512,
      ships: 0,
      dates: ['2026-06-01T06:00:00Z'],
      origin: [640005, 4760000],
    });
    const coarse = await simulateScene(join(tmp.dir, 'coarse'), {
      seed: 4,
      size: 256,
      ships: 0,
      dates: ['2026-06-01T06:00:00Z'],
      spacingM: 20,
    });
    const utm32 = await simulateScene(join(tmp.dir, 'utm32'), {
      seed: 4,
      size: 512,
      ships: 0,
      dates: ['2026-06-01T06:00:00Z'],
      epsg: 32632,
    });
    const cases: [string, RegExp][] = [
      [
        shifted.scenes[0].path,
        /is not on the pixel lattice of .*the origin is 0\.500 x 0\.000 pixels from the other's/,
      ],
      [
        coarse.scenes[0].path,
        /is not on the pixel lattice of .*pixel size \/ rotation \[20, 0, 0, -20\] differs from \[10, 0, 0, -10\]/,
      ],
      [utm32.scenes[0].path, /is not on the pixel lattice of .*EPSG:32632 differs from EPSG:32631/],
    ];
    for (const [after, msg] of cases) {
      const out = await runCapture(['change', r.scenes[0].path, after, join(tmp.dir, 'bad')]);
      expect(out.code).toBe(1);
      expect(out.stderr).toMatch(msg);
    }
  });

  it.each([
    [['--threshold', 'big'], /--threshold must be 'auto' or a positive number of dB/],
    [['--min-area-m2', '-5'], /--min-area-m2 must be a number >= 0/],
    [['--threshold-method', 'mean'], /--threshold-method must be one of ki, otsu/],
  ])('%j: a clear error naming the parameter', async (args, msg) => {
    const out = await runCapture(['change', r.scenes[0].path, r.scenes[1].path, join(tmp.dir, 'x'), ...args]);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(msg);
  });
});
