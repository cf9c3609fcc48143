import { describe, expect, it } from 'vitest';
import { ValidationError } from '../src/errors.js';
import {
  enl,
  fromDb,
  histogram,
  intensityToAmplitude,
  multilook,
  percentiles,
  toDb,
} from '../src/raster/sar.js';
import type { SpeckleFilter } from '../src/raster/speckle.js';
import { despeckle, speckleParams } from '../src/raster/speckle.js';
import type { RasterView } from '../src/raster/view.js';
import { gammaUnitMean, mulberry32 } from '../src/util/random.js';

function view(data: number[] | Float32Array, width: number, height: number): RasterView<Float32Array> {
  return { data: Float32Array.from(data), width, height, bands: 1, dataType: 'float32', nodata: Number.NaN };
}

function speckled(
  width: number,
  height: number,
  truth: (x: number, y: number) => number,
  looks: number,
  seed: number,
): RasterView<Float32Array> {
  const rand = mulberry32(seed);
  const d = new Float32Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) d[y * width + x] = truth(x, y) * gammaUnitMean(rand, looks);
  return view(d, width, height);
}

describe('multilook, dB, amplitude, ENL', () => {
  it('multilook averages blocks of range x azimuth pixels, leaving out NaN', () => {
    const v = view([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, Number.NaN, Number.NaN, 0, 0], 4, 4);
    const m = multilook(v, { range: 2, azimuth: 2 });
    expect([m.width, m.height]).toEqual([2, 2]);
    expect(Array.from(m.data)).toEqual([
      (1 + 2 + 5 + 6) / 4,
      (3 + 4 + 7 + 8) / 4,
      (9 + 10) / 2,
      (11 + 12 + 0 + 0) / 4,
    ]);
    const r = multilook(view([1, 2, 3, 4, 5, 6, 7], 7, 1), { range: 3, azimuth: 1 });
    expect(Array.from(r.data)).toEqual([2, 5]);
    expect(() => multilook(v, { range: 0, azimuth: 1 })).toThrow(
      /range looks must be an integer from 1 to 4, got 0/,
    );
    expect(() => multilook(v, { range: 1, azimuth: 5 })).toThrow(ValidationError);
  });

  it('dB is 10 log10 of linear power; zero, negative and NaN become NaN; and back', () => {
    const d = toDb(view([1, 10, 100, 0.5, 0, -1, Number.NaN], 7, 1));
    expect(d.data[0]).toBe(0);
    expect(d.data[1]).toBe(10);
    expect(d.data[2]).toBe(20);
    expect(d.data[3]).toBeCloseTo(-3.0103, 4);
    expect(Number.isNaN(d.data[4]) && Number.isNaN(d.data[5]) && Number.isNaN(d.data[6])).toBe(true);
    const back = fromDb(view([0, 10, -3.0103], 3, 1));
    expect(back.data[1]).toBeCloseTo(10, 5);
    expect(back.data[2]).toBeCloseTo(0.5, 4);
    expect(Array.from(intensityToAmplitude(view([4, 9, -1], 3, 1)).data)).toEqual([2, 3, Number.NaN]);
  });

  it('ENL of single-look speckle is about 1, and of 4-look speckle about 4', () => {
    expect(enl(speckled(300, 300, () => 0.3, 1, 1))).toBeCloseTo(1, 1);
    expect(enl(speckled(300, 300, () => 0.3, 4, 2))).toBeGreaterThan(3.8);
    expect(enl(speckled(300, 300, () => 0.3, 4, 2))).toBeLessThan(4.2);
    // mean^2 / var of [1, 2, 3]: 4 / 1.
    expect(enl(view([1, 2, 3, Number.NaN], 4, 1))).toBe(4);
  });

  it('histogram and percentiles for a display stretch', () => {
    const v = view(
      Array.from({ length: 1001 }, (_, i) => i / 10),
      1001,
      1,
    );
    const h = histogram(v, { bins: 10 });
    expect(h.total).toBe(1001);
    expect(Array.from(h.counts)).toEqual([100, 100, 100, 100, 100, 100, 100, 100, 100, 101]);
    const [p2, p50, p98] = percentiles(v, [2, 50, 98]);
    expect(p2).toBeCloseTo(2, 1);
    expect(p50).toBeCloseTo(50, 1);
    expect(p98).toBeCloseTo(98, 1);
    expect(() => percentiles(v, [101])).toThrow(/percentiles must be within 0..100, got 101/);
  });
});

/** The formulas, computed directly per window (no running sums), NaN left out. */
function directFilter(
  v: RasterView<Float32Array>,
  filter: SpeckleFilter,
  window: number,
  looks: number,
): Float32Array {
  const r = (window - 1) / 2;
  const out = new Float32Array(v.data.length);
  const cu2 = 1 / looks;
  for (let y = 0; y < v.height; y++) {
    for (let x = 0; x < v.width; x++) {
      const I = v.data[y * v.width + x];
      const vals: number[] = [];
      for (let dy = -r; dy <= r; dy++) {
        for (let dx = -r; dx <= r; dx++) {
          const yy = Math.min(v.height - 1, Math.max(0, y + dy));
          const xx = Math.min(v.width - 1, Math.max(0, x + dx));
          const val = v.data[yy * v.width + xx];
          if (!Number.isNaN(val)) vals.push(val);
        }
      }
      if (Number.isNaN(I)) {
        out[y * v.width + x] = Number.NaN;
        continue;
      }
      const E = vals.reduce((a, b) => a + b, 0) / vals.length;
      const variance = vals.reduce((a, b) => a + (b - E) ** 2, 0) / (vals.length - 1);
      let o: number;
      if (filter === 'boxcar') o = E;
      else if (Math.abs(E) < 1e-10) o = 0;
      else if (Math.abs(variance) < 1e-10) o = E;
      else {
        const ci2 = variance / (E * E);
        const w = ci2 < cu2 ? 0 : 1 - cu2 / ci2;
        o = I * w + E * (1 - w);
      }
      out[y * v.width + x] = o;
    }
  }
  return out;
}

describe('nodata (NaN) in speckle filters', () => {
  it.each(['boxcar', 'lee'] as const)(
    '%s leaves NaN out of the window statistics and keeps NaN pixels NaN',
    (filter) => {
      const v = speckled(40, 30, (x) => (x < 20 ? 1 : 5), 1, 3);
      for (const i of [0, 5, 41, 300, 301, 302, 640, 1199]) v.data[i] = Number.NaN;
      for (let i = 900; i < 960; i++) v.data[i] = Number.NaN; // two whole NaN rows
      const ours = despeckle(v, { filter, window: 5, looks: 1 });
      const ref = directFilter(v, filter, 5, 1);
      for (let i = 0; i < ref.length; i++) {
        if (Number.isNaN(ref[i])) expect(Number.isNaN(ours.data[i]), `pixel ${i} should be NaN`).toBe(true);
        else expect(Math.abs(ours.data[i] - ref[i]) / Math.abs(ref[i]), `pixel ${i}`).toBeLessThan(1e-5);
      }
    },
  );

  it('rejects bad parameters by name', () => {
    expect(() => speckleParams({ filter: 'lee', window: 4 })).toThrow(
      /window must be an odd integer from 3 to 101, got 4/,
    );
    expect(() => speckleParams({ filter: 'lee', looks: 0 })).toThrow(
      /looks must be a positive number, got 0/,
    );
    expect(() => speckleParams({ filter: 'frost', deramp: -1 })).toThrow(
      /deramp must be a non-negative number, got -1/,
    );
    expect(() => speckleParams({ filter: 'median' as SpeckleFilter })).toThrow(
      /filter must be one of boxcar, lee, kuan, frost, gammamap, refined-lee/,
    );
    expect(() => speckleParams({ filter: 'refined-lee', window: 5 })).toThrow(
      /refined-lee uses a 7 x 7 window/,
    );
  });
});

describe('Refined Lee, by its properties', () => {
  it('raises the ENL of a homogeneous single-look region at least 4x', () => {
    const v = speckled(200, 200, () => 0.2, 1, 11);
    const before = enl(v, { colOff: 20, rowOff: 20, width: 160, height: 160 });
    const after = enl(despeckle(v, { filter: 'refined-lee', looks: 1 }), {
      colOff: 20,
      rowOff: 20,
      width: 160,
      height: 160,
    });
    console.log(`Refined Lee: ENL ${before.toFixed(2)} -> ${after.toFixed(2)}`);
    expect(after / before).toBeGreaterThanOrEqual(4);
  });

  // [name, signed distance in pixels from the edge, positive on the bright side]
  const edges: [string, (x: number, y: number) => number][] = [
    ['0 degrees (horizontal edge)', (_x, y) => y - 100],
    ['90 degrees (vertical edge)', (x) => x - 100],
    ['45 degrees', (x, y) => (x - y) / Math.SQRT2],
    ['135 degrees', (x, y) => (x + y - 200) / Math.SQRT2],
  ];
  // 4-look speckle (Sentinel-1 GRD's ENL is about 4.4) and a 10 dB step; the side means are averaged
  // over 8 seeded scenes (160 pixels of edge each), so the figure is the filter's bias, not one draw's
  // noise. With single-look speckle the bright side reads about 9% low at 2 pixels (docs/speckle.md).
  it.each(edges)('keeps the contrast of a step edge at %s', (_name, dist) => {
    const dark = 1;
    const bright = 10;
    const S = 200;
    const seeds = 8;
    let biasBright = 0;
    let biasDark = 0;
    let biasBox = 0;
    for (let seed = 1; seed <= seeds; seed++) {
      const v = speckled(S, S, (x, y) => (dist(x, y) >= 0 ? bright : dark), 4, seed * 7919);
      const f = despeckle(v, { filter: 'refined-lee', looks: 4 });
      const box = despeckle(v, { filter: 'boxcar', window: 7 });
      // Means along the lines 2 pixels from the edge on each side, away from the image border.
      let sb = 0;
      let nb = 0;
      let sd = 0;
      let nd = 0;
      let sbox = 0;
      for (let y = 20; y < S - 20; y++) {
        for (let x = 20; x < S - 20; x++) {
          const d = dist(x, y);
          if (d >= 1.5 && d < 2.5) {
            sb += f.data[y * S + x];
            sbox += box.data[y * S + x];
            nb++;
          } else if (d <= -1.5 && d > -2.5) {
            sd += f.data[y * S + x];
            nd++;
          }
        }
      }
      biasBright += (sb / nb - bright) / bright / seeds;
      biasDark += (sd / nd - dark) / dark / seeds;
      biasBox += (sbox / nb - bright) / bright / seeds;
    }
    console.log(
      `edge: bright side ${(100 * biasBright).toFixed(1)}% from truth (boxcar ${(100 * biasBox).toFixed(1)}%), dark side ${(100 * biasDark).toFixed(1)}%`,
    );
    expect(Math.abs(biasBright)).toBeLessThan(0.05);
    expect(Math.abs(biasDark)).toBeLessThan(0.05);
  });

  it('does not smear a bright point into its 7 x 7 window as boxcar does', () => {
    const v = view(new Float32Array(41 * 41).fill(1), 41, 41);
    v.data[20 * 41 + 20] = 100;
    const f = despeckle(v, { filter: 'refined-lee', looks: 1 });
    const box = despeckle(v, { filter: 'boxcar', window: 7 });
    let smeared = 0;
    let boxSmeared = 0;
    for (let dy = -3; dy <= 3; dy++) {
      for (let dx = -3; dx <= 3; dx++) {
        if (Math.max(Math.abs(dx), Math.abs(dy)) < 2) continue; // the point and its 8 neighbours
        const i = (20 + dy) * 41 + 20 + dx;
        if (f.data[i] > 1.05) smeared++;
        if (box.data[i] > 1.05) boxSmeared++;
      }
    }
    console.log(
      `bright point: ${smeared} of 40 outer window pixels raised by Refined Lee, ${boxSmeared} by boxcar; point ${f.data[20 * 41 + 20].toFixed(1)} (boxcar ${box.data[20 * 41 + 20].toFixed(1)})`,
    );
    expect(boxSmeared).toBe(40);
    expect(smeared).toBe(0);
    expect(f.data[20 * 41 + 20]).toBeGreaterThan(10 * box.data[20 * 41 + 20]);
  });
});
