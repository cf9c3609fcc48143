import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { detectChanges } from '../src/exploit/change.js';
import { detectVessels } from '../src/exploit/detect.js';
import { readIntensity } from '../src/exploit/intensity.js';
import { rasterizeLand, readLandPolygons } from '../src/exploit/landmask.js';
import { simulateScene } from '../src/ops/simulate-scene.js';
import type { CfarMethod } from '../src/raster/cfar.js';
import { cfarParams } from '../src/raster/cfar.js';
import { KernelPool } from '../src/raster/kernel-pool.js';
import { benchDir, CLI, fmt, median, PYTHON, timed } from './util.js';

const SIZE = 4096;
const RUNS = 5;
const load = () =>
  `load ${loadavg()
    .map((x) => fmt(x, 1))
    .join(' ')}`;
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
 * sea, 80 ships) beside an efficient plain-numpy implementation of the same two-parameter CFAR
 * (bench/cfar_numpy.py: each integral image built once), and change detection on the scene's two
 * dates. Like is compared with like: numpy's computation with sarbridge's in-memory detection, and
 * numpy's whole process (Python start, reading, writing) with sarbridge's whole command; only the
 * two-parameter rows have a numpy ratio (the same algorithm). Medians of RUNS runs each; the
 * two-parameter mask checked is the output of a timed run.
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
  console.log(
    `input: ${before} (${SIZE} x ${SIZE} float32 sigma0, simulated); medians of ${RUNS} runs; ${load()}\n`,
  );

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
    join(process.cwd(), 'bench', 'cfar_numpy.py'),
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
  const npRuns = Array.from({ length: RUNS }, () => timed(PYTHON, refArgs));
  const npWhole = median(npRuns.map((r) => r.seconds));
  const npCompute = median(npRuns.map((r) => Number(r.stdout.trim())));
  const npPeak = median(npRuns.map((r) => r.peakMiB));
  const numpyMask = new Uint8Array(readFileSync(numpyOut));
  const npLoad = load();

  const rows: string[] = [];
  rows.push(
    '| | detection, in memory | x numpy (in memory) | whole command | x numpy (whole process) | peak RSS | vessels | load average |',
  );
  rows.push('|---|---|---|---|---|---|---|---|');
  rows.push(
    `| numpy, two-parameter (integral images, each built once) | ${fmt(npCompute)} s | 1.00 | ${fmt(npWhole)} s (read raw float32, write mask) | 1.00 | ${fmt(npPeak, 0)} MiB | | ${npLoad} |`,
  );
  let differ = -1;
  for (const method of ['two-param', 'censored', 'k'] as CfarMethod[]) {
    const times: number[] = [];
    let vessels = 0;
    let looksSource = '';
    for (let i = 0; i < RUNS; i++) {
      const img = copyShared(image);
      const t0 = performance.now();
      const r = await detectVessels(img, grid, {
        method,
        landMask: polys,
        pool,
        keepOutputs: method === 'two-param' && i === 0,
      });
      times.push((performance.now() - t0) / 1000);
      vessels = r.vessels.length;
      looksSource = r.looksSource;
      if (r.outputs) {
        // The mask of this timed run against numpy's.
        differ = 0;
        for (let k = 0; k < r.outputs.detection.length; k++)
          if (r.outputs.detection[k] !== numpyMask[k]) differ++;
      }
    }
    const memLoad = load();
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
    const w = median(whole.map((x) => x.seconds));
    const same = method === 'two-param';
    rows.push(
      `| sarbridge ${method}${method === 'k' ? ' (default)' : ''} | **${fmt(t)} s** | ${same ? fmt(npCompute / t, 1) : '(other algorithm)'} | ${fmt(w)} s (read COG, detect, write GeoJSON) | ${same ? fmt(npWhole / w, 1) : ''} | ${fmt(median(whole.map((x) => x.peakMiB)), 0)} MiB | ${vessels} | ${memLoad}; ${load()} |`,
    );
    if (method === 'k') console.log(`looks: ${looksSource}`);
  }
  console.log(rows.join('\n'));
  console.log(
    `\ntwo-parameter detection mask (a timed run's output) vs numpy: ${differ} of ${SIZE * SIZE} pixels differ`,
  );

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
    `\nchange detection (${load()}), two ${SIZE} x ${SIZE} images: in memory **${fmt(median(ct))} s**; whole command (read both, write COG + GeoJSON) ${fmt(median(cw.map((w) => w.seconds)))} s, peak ${fmt(median(cw.map((w) => w.peakMiB)), 0)} MiB`,
  );
}
