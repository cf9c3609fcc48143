import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectChanges } from '../src/exploit/change.js';
import { detectVessels } from '../src/exploit/detect.js';
import { readIntensity } from '../src/exploit/intensity.js';
import { rasterizeLand, readLandPolygons } from '../src/exploit/landmask.js';
import { simulateScene } from '../src/ops/simulate-scene.js';
import type { CfarMethod } from '../src/raster/cfar.js';
import { CfarScratch, cfarParams, cfarRows } from '../src/raster/cfar.js';
import { KernelPool } from '../src/raster/kernel-pool.js';
import { benchDir, CLI, fmt, median, PYTHON, timed } from './util.js';

const SIZE = 4096;
const RUNS = 3;
const DATES = ['2026-06-01T06:00:00Z', '2026-06-13T06:00:00Z'];

/** A simulated scene's sigma0 in shared memory. */
async function readShared(path: string): Promise<Float32Array> {
  return (await readIntensity(path, 0, 'the benchmark')).image;
}

function copyShared(a: Float32Array): Float32Array {
  const s = new Float32Array(new SharedArrayBuffer(a.length * 4));
  s.set(a);
  return s;
}

/**
 * `npm run bench -- detect`: CFAR vessel detection on a seeded 4096 x 4096 simulated scene (coast,
 * sea, 80 ships) beside a plain numpy implementation of the same two-parameter CFAR, and change
 * detection on the scene's two dates.
 */
export async function benchDetect(): Promise<void> {
  const dir = benchDir('detect');
  const sceneDir = join(dir, 'scene');
  const before = join(sceneDir, 'scene_2026-06-01.tif');
  if (!existsSync(before)) await simulateScene(sceneDir, { seed: 77, size: SIZE, ships: 80, dates: DATES });
  const after = join(sceneDir, 'scene_2026-06-13.tif');
  const land = join(sceneDir, 'land.geojson');
  const grid = {
    epsg: 32631,
    geoTransform: [640000, 10, 0, 4760000, 0, -10] as [number, number, number, number, number, number],
    width: SIZE,
    height: SIZE,
  };
  const image = await readShared(before);
  const polys = await readLandPolygons(land);
  console.log(`input: ${before} (${SIZE} x ${SIZE} float32 sigma0, simulated); medians of ${RUNS} runs\n`);

  // The numpy reference: the same two-parameter CFAR by integral images, on the same pixels with the
  // same land (NaN) mask, as a whole process.
  const p = cfarParams({ method: 'two-param', spacingM: 10 });
  const pool = new KernelPool();
  const masked = copyShared(image);
  const lm = rasterizeLand(polys, grid, 200);
  for (let i = 0; i < lm.length; i++) if (lm[i]) masked[i] = Number.NaN;
  const raw = join(dir, 'scene.f32');
  writeFileSync(raw, Buffer.from(masked.buffer));
  const numpyOut = join(dir, 'numpy.u8');
  const refArgs = [
    join(process.cwd(), 'test', 'helpers', 'cfar_ref.py'),
    '--numpy-fast',
    raw,
    String(SIZE),
    String(SIZE),
    String(p.halfTarget),
    String(p.halfGuard),
    String(p.halfBackground),
    String(p.pfa),
    String(p.floor),
    numpyOut,
  ];
  const np = timed(PYTHON, refArgs);
  const numpyMask = new Uint8Array(readFileSync(numpyOut));

  const rows: string[] = [];
  rows.push(
    '| | detection, in memory | x numpy | whole command (read COG, detect, write GeoJSON) | peak RSS | vessels |',
  );
  rows.push('|---|---|---|---|---|---|');
  rows.push(
    `| numpy, two-parameter (integral images) | ${fmt(np.seconds)} s | 1.00 | | ${fmt(np.peakMiB, 0)} MiB | |`,
  );
  let differ = -1;
  for (const method of ['two-param', 'censored', 'k'] as CfarMethod[]) {
    const times: number[] = [];
    let vessels = 0;
    for (let i = 0; i < RUNS; i++) {
      const img = copyShared(image);
      const t0 = performance.now();
      const r = await detectVessels(img, grid, { method, looks: 4.4, landMask: polys, pool });
      times.push((performance.now() - t0) / 1000);
      vessels = r.vessels.length;
      if (method === 'two-param' && i === 0) {
        // The detection masks must agree with numpy's (recomputed here: detectVessels keeps its own).
        const valid = new Uint8Array(SIZE * SIZE);
        const src = new Float32Array(SIZE * SIZE);
        for (let k = 0; k < src.length; k++) if (masked[k] === masked[k]) [valid[k], src[k]] = [1, masked[k]];
        const out = {
          detection: new Uint8Array(SIZE * SIZE),
          bodyThreshold: new Float32Array(SIZE * SIZE),
          ratio: new Float32Array(SIZE * SIZE),
        };
        cfarRows(src, valid, valid, SIZE, SIZE, 0, SIZE, p, 'detect', null, out, new CfarScratch());
        differ = 0;
        for (let k = 0; k < out.detection.length; k++) if (out.detection[k] !== numpyMask[k]) differ++;
      }
    }
    const whole: { seconds: number; peakMiB: number }[] = [];
    for (let i = 0; i < RUNS; i++)
      whole.push(
        timed(process.execPath, [
          CLI,
          'detect',
          before,
          join(dir, `${method}.geojson`),
          '--method',
          method,
          '--land-mask',
          land,
        ]),
      );
    const t = median(times);
    rows.push(
      `| sarbridge ${method} | **${fmt(t)} s** | ${fmt(np.seconds / t, 1)} | ${fmt(median(whole.map((w) => w.seconds)))} s | ${fmt(median(whole.map((w) => w.peakMiB)), 0)} MiB | ${vessels} |`,
    );
  }
  console.log(rows.join('\n'));
  console.log(`\ntwo-parameter detection mask vs numpy: ${differ} of ${SIZE * SIZE} pixels differ`);

  // Change detection between the two dates.
  const b = await readShared(before);
  const a = await readShared(after);
  const ct: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await detectChanges(b, a, grid, { pool });
    ct.push((performance.now() - t0) / 1000);
  }
  const cw: { seconds: number; peakMiB: number }[] = [];
  for (let i = 0; i < RUNS; i++)
    cw.push(timed(process.execPath, [CLI, 'change', before, after, join(dir, 'change')]));
  await pool.close();
  console.log(
    `\nchange detection, two ${SIZE} x ${SIZE} images: in memory **${fmt(median(ct))} s**; whole command (read both, write COG + GeoJSON) ${fmt(median(cw.map((w) => w.seconds)))} s, peak ${fmt(median(cw.map((w) => w.peakMiB)), 0)} MiB`,
  );
}
