import { join } from 'node:path';
import { GeoTiff } from '../src/io/tiff/reader.js';
import { KernelPool } from '../src/raster/kernel-pool.js';
import type { SpeckleFilter } from '../src/raster/speckle.js';
import { speckleParams, speckleRows } from '../src/raster/speckle.js';
import { benchDir, CLI, fmt, median, speckleInput, timed } from './util.js';

const SIZE = 4096;
const RUNS = 3;

async function readAll(path: string): Promise<Float32Array> {
  const t = await GeoTiff.open(path);
  try {
    return (await t.read()).data as Float32Array;
  } finally {
    await t.close();
  }
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] === b[i] ? 0 : Math.abs(a[i] - b[i]) / Math.abs(b[i]);
    if (d > m || d !== d) m = d !== d ? Number.POSITIVE_INFINITY : d;
  }
  return m;
}

/**
 * `npm run bench -- despeckle`: Lee 7x7 and Frost 5x5 on a seeded 4096 x 4096 float32 speckle image,
 * as whole commands (read, filter, write) beside `otbcli_Despeckle`, and the kernel alone beside a plain
 * Float32Array copy of the same image.
 */
export async function benchDespeckle(): Promise<void> {
  const dir = benchDir('despeckle');
  const input = join(dir, 'speckle-4096.tif');
  await speckleInput(input, SIZE);
  const mpix = (SIZE * SIZE) / 1e6;
  const cases: { filter: SpeckleFilter; window: number; otbArgs: string[]; target: number }[] = [
    {
      filter: 'lee',
      window: 7,
      otbArgs: ['-filter', 'lee', '-filter.lee.rad', '3', '-filter.lee.nblooks', '1'],
      target: 5,
    },
    {
      filter: 'frost',
      window: 5,
      otbArgs: ['-filter', 'frost', '-filter.frost.rad', '2', '-filter.frost.deramp', '0.1'],
      target: 10,
    },
  ];
  console.log(`input: ${input} (${SIZE} x ${SIZE} float32, uncompressed GeoTIFF); medians of ${RUNS} runs\n`);
  for (const c of cases) {
    const otbOut = join(dir, `otb-${c.filter}.tif`);
    const ours = join(dir, `ours-${c.filter}.tif`);
    const oursRaw = join(dir, `ours-${c.filter}-none.tif`);
    const t = { otb: [] as number[], ours: [] as number[], raw: [] as number[] };
    for (let i = 0; i < RUNS; i++) {
      t.otb.push(timed('otbcli_Despeckle', ['-in', input, '-out', otbOut, 'float', ...c.otbArgs]).seconds);
      t.ours.push(
        timed(process.execPath, [
          CLI,
          'despeckle',
          input,
          ours,
          '--filter',
          c.filter,
          '--window',
          String(c.window),
        ]).seconds,
      );
      t.raw.push(
        timed(process.execPath, [
          CLI,
          'despeckle',
          input,
          oursRaw,
          '--filter',
          c.filter,
          '--window',
          String(c.window),
          '--compress',
          'none',
        ]).seconds,
      );
    }
    const o = median(t.otb);
    const diff = maxRelDiff(await readAll(ours), await readAll(otbOut));
    console.log(`${c.filter} ${c.window}x${c.window}, whole command`);
    console.log(
      `  otbcli_Despeckle (uncompressed GeoTIFF out)          ${fmt(o)} s  (${fmt(mpix / o, 1)} Mpix/s)`,
    );
    console.log(
      `  sarbridge despeckle (DEFLATE COG with overviews)     ${fmt(median(t.ours))} s  speed-up x${fmt(o / median(t.ours), 1)} (target >= ${c.target})`,
    );
    console.log(
      `  sarbridge despeckle --compress none (COG, overviews) ${fmt(median(t.raw))} s  speed-up x${fmt(o / median(t.raw), 1)}`,
    );
    console.log(`  max relative difference from OTB over all pixels: ${diff.toExponential(2)}`);

    // The kernel alone, in shared memory, on the worker pool and on one thread.
    const src = new Float32Array(new SharedArrayBuffer(SIZE * SIZE * 4));
    src.set(await readAll(input));
    const dst = new Float32Array(new SharedArrayBuffer(SIZE * SIZE * 4));
    const params = speckleParams({ filter: c.filter, window: c.window });
    const pool = new KernelPool();
    const par: number[] = [];
    const one: number[] = [];
    const copy: number[] = [];
    const loopCopy: number[] = [];
    for (let i = 0; i < 5; i++) {
      let t0 = performance.now();
      await pool.despeckleRows(
        params,
        src.buffer as SharedArrayBuffer,
        0,
        dst.buffer as SharedArrayBuffer,
        0,
        SIZE,
        SIZE,
        0,
        SIZE,
        0,
        0,
        SIZE,
      );
      par.push((performance.now() - t0) / 1000);
      t0 = performance.now();
      speckleRows(src, SIZE, SIZE, 0, SIZE, dst, 0, SIZE, params);
      one.push((performance.now() - t0) / 1000);
      t0 = performance.now();
      dst.set(src);
      copy.push((performance.now() - t0) / 1000);
      t0 = performance.now();
      for (let k = 0; k < src.length; k++) dst[k] = src[k];
      loopCopy.push((performance.now() - t0) / 1000);
    }
    await pool.close();
    console.log(
      `  kernel alone: ${fmt(mpix / median(par), 0)} Mpix/s on ${pool.size} workers (${fmt(mpix / median(one), 0)} Mpix/s on one thread); Float32Array copy: ${fmt(mpix / median(loopCopy), 0)} Mpix/s element by element, ${fmt(mpix / median(copy), 0)} Mpix/s with set()\n`,
    );
  }
}
