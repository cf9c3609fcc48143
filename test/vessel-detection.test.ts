import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectVessels } from '../src/exploit/detect.js';
import { naturalEarthLand, rasterizeLand, readLandPolygons } from '../src/exploit/landmask.js';
import { scoreDetections } from '../src/exploit/score.js';
import type { SceneResult } from '../src/ops/simulate-scene.js';
import { simulateScene } from '../src/ops/simulate-scene.js';
import type { CfarMethod } from '../src/raster/cfar.js';
import { CfarScratch, cfarParams, cfarRows } from '../src/raster/cfar.js';
import { gammaQ, kUpperQuantile } from '../src/raster/distributions.js';
import { KernelPool } from '../src/raster/kernel-pool.js';
import { gammaUnitMean, mulberry32 } from '../src/util/random.js';
import { runCapture } from './helpers/cli.js';
import { gdalRead, PYTHON, tempDir } from './helpers/gdal.js';
import { validateFeatureCollection } from './helpers/stac.js';

const REF = join(import.meta.dirname, 'helpers', 'cfar_ref.py');
const tmp = tempDir('detect-');
let pool: KernelPool;
beforeAll(() => {
  pool = new KernelPool(2);
});
afterAll(async () => {
  await pool.close();
  tmp.cleanup();
});

/** A seeded speckled sea with bright blobs, some NaN holes and a NaN band along one edge. */
function testImage(W: number, H: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  const a = new Float32Array(W * H);
  for (let i = 0; i < a.length; i++) a[i] = 0.02 * gammaUnitMean(rand, 2) * gammaUnitMean(rand, 3);
  for (let k = 0; k < 12; k++) {
    const cx = Math.floor(rand() * W);
    const cy = Math.floor(rand() * H);
    const b = 0.02 * 10 ** (0.5 + rand() * 2);
    for (let y = cy - 1; y <= cy + 1; y++)
      for (let x = cx - 2; x <= cx + 2; x++) if (x >= 0 && y >= 0 && x < W && y < H) a[y * W + x] = b;
  }
  for (let y = 0; y < H; y++) for (let x = W - 3; x < W; x++) a[y * W + x] = Number.NaN;
  for (let k = 0; k < 40; k++) a[Math.floor(rand() * a.length)] = Number.NaN;
  return a;
}

function ourDetection(a: Float32Array, W: number, H: number, method: CfarMethod, spacingM: number) {
  const p = cfarParams({ method, spacingM, targetM: 30, guardM: 110, backgroundM: 190, looks: 2 });
  const valid = new Uint8Array(W * H);
  const src = new Float32Array(W * H);
  for (let i = 0; i < a.length; i++) if (a[i] === a[i]) [valid[i], src[i]] = [1, a[i]];
  const out = {
    detection: new Uint8Array(W * H),
    bodyThreshold: new Float32Array(W * H),
    ratio: new Float32Array(W * H),
  };
  // Two strips, as the workers do, so the strip seams are covered.
  const sc = new CfarScratch();
  cfarRows(src, valid, valid, W, H, 0, 37, p, 'detect', null, out, sc);
  cfarRows(src, valid, valid, W, H, 37, H - 37, p, 'detect', null, out, sc);
  return { p, out };
}

describe('two-parameter CFAR against an independent numpy transcription of SNAP AdaptiveThresholding', () => {
  it('computes the Gaussian design parameter exactly (SNAP approximates it as 4.98368)', () => {
    const p = cfarParams({ spacingM: 10 });
    const py = Number(execFileSync(PYTHON, [REF, '--t', '6.5'], { encoding: 'utf8' }));
    // Python's statistics.NormalDist (AS241) agrees to 1e-11; the exact tail checks ours to 1e-14.
    expect(Math.abs(p.t - py) / py).toBeLessThan(1e-11);
    const tail = Number(
      execFileSync(PYTHON, ['-c', `import math; print(repr(0.5*math.erfc(${p.t}/math.sqrt(2))))`], {
        encoding: 'utf8',
      }),
    );
    expect(Math.abs(tail / 10 ** -6.5 - 1)).toBeLessThan(1e-13);
    expect(p.t).toBeCloseTo(4.98103, 5);
    // Window sizes by SNAP's rules at 10 m: 50 m -> 7, 500 m -> 51, 800 m -> 81 pixels.
    expect([p.targetPx, p.guardPx, p.backgroundPx]).toEqual([7, 51, 81]);
  });

  it.each([
    [7, 10],
    [11, 7.5],
  ])('gives the same detections as the reference (seed %i, %f m pixels)', (seed, spacingM) => {
    const W = 90;
    const H = 70;
    const a = testImage(W, H, seed);
    const { p, out } = ourDetection(a, W, H, 'two-param', spacingM);
    const inPath = join(tmp.dir, `cfar-${seed}.f32`);
    const outPath = join(tmp.dir, `cfar-${seed}.u8`);
    writeFileSync(inPath, Buffer.from(a.buffer));
    execFileSync(PYTHON, [
      REF,
      inPath,
      String(W),
      String(H),
      String(p.halfTarget),
      String(p.halfGuard),
      String(p.halfBackground),
      String(p.pfa),
      String(p.floor),
      outPath,
    ]);
    const ref = new Uint8Array(readFileSync(outPath));
    let detected = 0;
    const differ: string[] = [];
    for (let i = 0; i < W * H; i++) {
      detected += ref[i];
      if (ref[i] !== out.detection[i]) differ.push(`(${i % W}, ${Math.floor(i / W)}) ref ${ref[i]}`);
    }
    console.log(
      `CFAR vs numpy reference: ${detected} detected pixels, ${differ.length} differ; windows ${p.targetPx}/${p.guardPx}/${p.backgroundPx}`,
    );
    expect(detected).toBeGreaterThan(20);
    expect(differ.slice(0, 5)).toEqual([]);
  });
});

/** Detect on a simulated scene and score against its truth. */
async function runScene(r: SceneResult, method: CfarMethod) {
  const s = r.scenes[0];
  const img = gdalRead(s.path, 'float32').data[0] as Float32Array;
  const shared = new Float32Array(new SharedArrayBuffer(img.length * 4));
  shared.set(img);
  const grid = { epsg: r.epsg, geoTransform: r.geoTransform, width: r.size, height: r.size };
  const res = await detectVessels(shared, grid, {
    method,
    looks: 4.4,
    landMask: await readLandPolygons(r.landPath),
    pool,
  });
  return { res, score: scoreDetections(res.vessels, s.ships, 50) };
}

describe('vessel detection accuracy on simulated scenes (planted truth)', () => {
  let openSea: SceneResult;
  let harbour: SceneResult;
  beforeAll(async () => {
    const one = ['2026-06-01T06:00:00Z'];
    openSea = await simulateScene(join(tmp.dir, 'open'), {
      seed: 21,
      size: 1536,
      ships: 30,
      layout: 'open-sea',
      dates: one,
    });
    harbour = await simulateScene(join(tmp.dir, 'harbour'), {
      seed: 5,
      size: 1536,
      ships: 30,
      layout: 'harbour',
      dates: one,
    });
  });

  it('finds the vessels of the open sea (SCR 10-25 dB) with F1 >= 0.95 by the default K-distribution CFAR', async () => {
    const { res, score } = await runScene(openSea, 'k');
    console.log(
      `open sea, k: ${res.vessels.length} vessels, TP ${score.truePositives} FP ${score.falsePositives} FN ${score.falseNegatives} (don't care ${score.dontCare}), F1 ${score.f1.toFixed(3)}`,
    );
    expect(score.f1).toBeGreaterThanOrEqual(0.95);
  });

  it('measures length and heading of the vessels it finds', async () => {
    const { res, score } = await runScene(openSea, 'k');
    const lengthErr: number[] = [];
    const headingErr: number[] = [];
    openSea.scenes[0].ships.forEach((q, j) => {
      const i = score.matchOf[j];
      if (i < 0 || q.lengthM < 100) return;
      const v = res.vessels[i];
      lengthErr.push(Math.abs(v.lengthM - q.lengthM) / q.lengthM);
      const d = Math.abs(v.headingDeg - q.headingDeg) % 180;
      headingErr.push(Math.min(d, 180 - d));
    });
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    console.log(
      `vessels >= 100 m: median length error ${(100 * med(lengthErr)).toFixed(1)}%, median heading error ${med(headingErr).toFixed(1)} deg over ${lengthErr.length}`,
    );
    expect(lengthErr.length).toBeGreaterThan(8);
    expect(med(lengthErr)).toBeLessThan(0.25);
    expect(med(headingErr)).toBeLessThan(10);
  });

  it('in a crowded harbour, the censored CFAR recalls more vessels than the two-parameter CFAR', async () => {
    const two = (await runScene(harbour, 'two-param')).score;
    const cen = (await runScene(harbour, 'censored')).score;
    const k = (await runScene(harbour, 'k')).score;
    console.log(
      `harbour recall: two-param ${two.recall.toFixed(3)}, censored ${cen.recall.toFixed(3)}, k ${k.recall.toFixed(3)}; precision ${two.precision.toFixed(2)} / ${cen.precision.toFixed(2)} / ${k.precision.toFixed(2)}`,
    );
    expect(cen.recall).toBeGreaterThan(two.recall);
    expect(k.recall).toBeGreaterThan(two.recall);
    expect(Math.min(cen.precision, k.precision)).toBeGreaterThanOrEqual(0.9);
  });
});

describe('K-distribution threshold', () => {
  it('leaves the planted false-alarm rate above it in a Monte Carlo draw of K clutter', () => {
    const rand = mulberry32(99);
    for (const [looks, nu, pfa] of [
      [3, 2, 1e-3],
      [1, 0.7, 1e-3],
      [4.4, 20, 1e-4],
    ]) {
      const T = kUpperQuantile(pfa, looks, nu);
      const n = 2_000_000;
      let above = 0;
      for (let i = 0; i < n; i++) if (gammaUnitMean(rand, nu) * gammaUnitMean(rand, looks) > T) above++;
      const sd = Math.sqrt(pfa / n);
      console.log(
        `K(L=${looks}, nu=${nu}): T = ${T.toFixed(3)} for pfa ${pfa}; drawn ${(above / n).toExponential(3)}`,
      );
      expect(Math.abs(above / n - pfa)).toBeLessThan(4 * sd);
    }
  });

  it('reduces to the gamma (speckle-only) tail as the texture vanishes, and Q(a, x) is exact on closed forms', () => {
    expect(gammaQ(1, 2.5)).toBeCloseTo(Math.exp(-2.5), 15);
    expect(gammaQ(0.5, 1)).toBeCloseTo(0.157299207050285, 14); // erfc(1)
    expect(gammaQ(3, 2)).toBeCloseTo(Math.exp(-2) * (1 + 2 + 2), 14);
    expect(kUpperQuantile(1e-5, 4, 1e6) / kUpperQuantile(1e-5, 4, Number.POSITIVE_INFINITY)).toBeCloseTo(
      1,
      3,
    );
  });
});

describe('land mask', () => {
  it('rasterises Natural Earth land: Marseille is land, the Gulf of Lion sea, the buffer grows the coast', async () => {
    // UTM 31N, 20 m pixels over 5.0-5.6 E, 43.05-43.45 N.
    const grid = {
      epsg: 32631,
      geoTransform: [660000, 20, 0, 4812000, 0, -20] as [number, number, number, number, number, number],
      width: 2500,
      height: 2200,
    };
    const land = await naturalEarthLand();
    const m0 = rasterizeLand(land, grid, 0);
    const m1 = rasterizeLand(land, grid, 1000);
    const at = (mask: Uint8Array, x: number, y: number) =>
      mask[Math.floor((4812000 - y) / 20) * 2500 + Math.floor((x - 660000) / 20)];
    // Marseille Vieux-Port area (5.37 E, 43.30 N) and open sea (5.20 E, 43.15 N), in UTM 31N.
    expect(at(m0, 692060, 4797400)).toBe(1);
    expect(at(m0, 679100, 4780500)).toBe(0);
    let n0 = 0;
    let n1 = 0;
    let lost = 0;
    for (let i = 0; i < m0.length; i++) {
      n0 += m0[i];
      n1 += m1[i];
      if (m0[i] === 1 && m1[i] === 0) lost++;
    }
    expect(lost).toBe(0);
    console.log(`Natural Earth land: ${n0} pixels, ${n1} with a 1 km buffer`);
    expect(n1).toBeGreaterThan(n0);
  });

  it('grows a GeoJSON square by exactly the buffer distance (Euclidean)', () => {
    const grid = {
      epsg: 4326,
      geoTransform: [0, 0.001, 0, 0.1, 0, -0.001] as [number, number, number, number, number, number],
      width: 100,
      height: 100,
    };
    const square = [
      [
        [0.04, 0.04],
        [0.06, 0.04],
        [0.06, 0.06],
        [0.04, 0.06],
        [0.04, 0.04],
      ],
    ];
    const m = rasterizeLand([square], grid, 0);
    let n = 0;
    for (const v of m) n += v;
    expect(n).toBe(400);
    // 0.001 degree pixels are 111.32 m (sarbridge's metres per degree): a 556.6 m buffer is 5 pixels.
    const b = rasterizeLand([square], grid, 556.6);
    for (let y = 0; y < 100; y++)
      for (let x = 0; x < 100; x++) {
        const dx = Math.max(40 - x, x - 59, 0);
        const dy = Math.max(40 - y, y - 59, 0);
        expect(b[y * 100 + x], `pixel (${x}, ${y})`).toBe(Math.hypot(dx, dy) <= 5 ? 1 : 0);
      }
  });
});

describe('detect: CLI and bad input', () => {
  let scene: SceneResult;
  beforeAll(async () => {
    scene = await simulateScene(join(tmp.dir, 'cli'), {
      seed: 3,
      size: 512,
      ships: 8,
      dates: ['2026-06-01T06:00:00Z'],
    });
  });

  it('writes an RFC 7946 FeatureCollection of vessels with their measures', async () => {
    const out = join(tmp.dir, 'v.geojson');
    const r = await runCapture(['detect', scene.scenes[0].path, out, '--land-mask', scene.landPath]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(validateFeatureCollection(doc)).toEqual([]);
    expect(doc.features.length).toBe(JSON.parse(r.stdout).vessels);
    expect(doc.features.length).toBeGreaterThan(0);
    for (const f of doc.features) {
      expect(f.geometry.type).toBe('Point');
      for (const k of [
        'length_m',
        'width_m',
        'heading_deg',
        'peak_sigma0_db',
        'mean_sigma0_db',
        'pixels',
        'confidence',
      ])
        expect(typeof f.properties[k], k).toBe('number');
      expect(f.properties.confidence).toBeGreaterThanOrEqual(0);
      expect(f.properties.confidence).toBeLessThanOrEqual(1);
    }
  });

  const bad: [string, string[], RegExp][] = [
    [
      'guard larger than background',
      ['--guard-m', '900'],
      /guard window \(m\) 900 must be smaller than the background window 800/,
    ],
    ['target window smaller than nothing', ['--target-m', '0'], /--target-m must be a positive number/],
    [
      'guard window smaller than a pixel',
      ['--guard-m', '5', '--target-m', '1', '--background-m', '800'],
      /guard window \(m\) 5 is smaller than a pixel \(10 m\)/,
    ],
    ['min length above max', ['--min-length-m', '700'], /--min-length-m \(700\) and --max-length-m \(600\)/],
    ['unknown method', ['--method', 'magic'], /--method must be one of two-param, censored, k/],
  ];
  it.each(bad)('%s: a clear error naming the parameter', async (_name, args, msg) => {
    const r = await runCapture([
      'detect',
      scene.scenes[0].path,
      join(tmp.dir, 'x.geojson'),
      '--land-mask',
      'none',
      ...args,
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(msg);
  });

  const badMasks: [string, string, RegExp][] = [
    ['not JSON', '{"type": "FeatureCollection", ', /land mask .*bad.geojson: is not JSON/],
    [
      'a point',
      '{"type": "Point", "coordinates": [4, 43]}',
      /the document\.type must be Polygon, MultiPolygon or GeometryCollection, got "Point"/,
    ],
    [
      'projected coordinates',
      '{"type": "Polygon", "coordinates": [[[640000, 4760000], [641000, 4760000], [641000, 4761000], [640000, 4760000]]]}',
      /coordinates\[0\]\[0\] is not a lon\/lat position/,
    ],
    [
      'a short ring',
      '{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[4, 43], [5, 43], [4, 43]]]}}',
      /geometry\.coordinates\[0\] must be a ring of at least 4 positions/,
    ],
  ];
  it.each(badMasks)(
    'a land mask that is %s: a ValidationError naming the file and field',
    async (_n, text, msg) => {
      const path = join(tmp.dir, 'bad.geojson');
      writeFileSync(path, text);
      const r = await runCapture([
        'detect',
        scene.scenes[0].path,
        join(tmp.dir, 'x.geojson'),
        '--land-mask',
        path,
      ]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(msg);
    },
  );
});
