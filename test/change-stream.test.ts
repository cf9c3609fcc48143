import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../src/errors.js';
import type { ChangeFilesOptions, ChangeResult } from '../src/exploit/change.js';
import { changeFiles, detectChanges } from '../src/exploit/change.js';
import type { GeoTransform } from '../src/geo/transform.js';
import { writeCog } from '../src/io/tiff/writer.js';
import { KernelPool } from '../src/raster/kernel-pool.js';
import { mulberry32 } from '../src/util/random.js';
import { firstDifference, gdalRead, tempDir } from './helpers/gdal.js';

const tmp = tempDir('change-stream-');
let pool: KernelPool;
beforeAll(() => {
  pool = new KernelPool(2);
});
afterAll(async () => {
  await pool.close();
  tmp.cleanup();
});

const EPSG = 32631;
const GT: GeoTransform = [600000, 10, 0, 5000000, 0, -10];

interface Pair {
  width: number;
  height: number;
  before: Float32Array;
  after: Float32Array;
}

/**
 * Single-look speckle (exponential intensity) over a mean of 0.05, with planted changes in `after`:
 * rectangles (x0, y0, x1, y1, factor), and NaN rectangles in either image.
 */
function plantedPair(
  width: number,
  height: number,
  seed: number,
  changes: [number, number, number, number, number][],
  nodata: { image: 'before' | 'after'; box: [number, number, number, number] }[],
): Pair {
  const rnd = mulberry32(seed);
  const before = new Float32Array(new SharedArrayBuffer(width * height * 4));
  const after = new Float32Array(new SharedArrayBuffer(width * height * 4));
  for (let p = 0; p < width * height; p++) {
    before[p] = -0.05 * Math.log(1 - rnd());
    after[p] = -0.05 * Math.log(1 - rnd());
  }
  for (const [x0, y0, x1, y1, f] of changes)
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) after[y * width + x] *= f;
  for (const { image, box } of nodata) {
    const a = image === 'before' ? before : after;
    for (let y = box[1]; y < box[3]; y++) for (let x = box[0]; x < box[2]; x++) a[y * width + x] = Number.NaN;
  }
  return { width, height, before, after };
}

async function writeFloatCog(
  path: string,
  data: Float32Array,
  width: number,
  height: number,
  gt = GT,
  epsg = EPSG,
) {
  await writeCog(
    path,
    { data, width, height, bands: 1, dataType: 'float32', nodata: Number.NaN },
    { epsg, geoTransform: gt, nodata: Number.NaN },
  );
}

/** The streamed result equals the whole-image one: thresholds, class and dB pixels (as GDAL reads the COG), areas. */
function expectSameChange(
  whole: ChangeResult,
  streamed: Awaited<ReturnType<typeof changeFiles>>,
  cogPath: string,
): void {
  expect(streamed.thresholds).toEqual(whole.thresholds);
  expect(streamed.centreDb).toBe(whole.centreDb);
  expect(streamed.sigmaDb).toBe(whole.sigmaDb);
  const bands = gdalRead(cogPath, 'float32').data[0];
  const n = whole.classes.length;
  const cls = Float32Array.from(whole.classes, (c) => (c === 255 ? Number.NaN : c));
  const dCls = firstDifference(bands.subarray(0, n), cls);
  expect(dCls, `class differs at pixel ${dCls}: ${bands[dCls]} streamed, ${cls[dCls]} whole`).toBe(-1);
  const dDb = firstDifference(bands.subarray(n, 2 * n), whole.changeDb);
  expect(dDb, `dB differs at pixel ${dDb}`).toBe(-1);
  expect(streamed.areas.map((a) => [a.id, a.kind, a.pixels, a.areaM2])).toEqual(
    whole.areas.map((a) => [a.id, a.kind, a.pixels, a.areaM2]),
  );
  for (let i = 0; i < whole.areas.length; i++) {
    expect(Math.abs(streamed.areas[i].meanDb - whole.areas[i].meanDb)).toBeLessThan(1e-9);
    expect(streamed.areas[i].rings).toEqual(whole.areas[i].rings);
  }
}

describe('streamed changeFiles equals detectChanges on the whole images', () => {
  // Changes cut by the strip boundaries (strips of 7, 32, 33 and 64 rows): rectangles across rows
  // 64 and 96, a U whose arms join two strips further down, a frame with a hole, small areas at
  // the minimum area, and nodata in both images (a column band, a block across a boundary).
  const changes: [number, number, number, number, number][] = [
    [20, 50, 60, 80, 8],
    [80, 60, 110, 70, 0.1],
    [130, 10, 140, 120, 6],
    [155, 10, 165, 120, 6],
    [130, 120, 165, 130, 6],
    [30, 140, 90, 200, 0.08],
    [180, 150, 230, 210, 10],
    [60, 226, 64, 230, 8],
    [100, 225, 103, 228, 8],
  ];
  const hole: [number, number, number, number, number] = [190, 165, 220, 195, 0.1];
  const nodata = [
    { image: 'before' as const, box: [0, 0, 10, 250] as [number, number, number, number] },
    { image: 'after' as const, box: [40, 90, 70, 110] as [number, number, number, number] },
  ];
  it.each([
    ['otsu', 237, 7, 'in this thread', undefined],
    ['otsu', 240, 32, 'in this thread', undefined],
    ['ki', 237, 33, 'in this thread', undefined],
    ['fixed 3 dB', 240, 64, 'in this thread', 3],
    ['otsu', 240, 1, 'on a kernel pool', undefined],
    ['ki', 237, 96, 'on a kernel pool', undefined],
  ] as const)(
    '%s threshold, %i pixels wide, strips of %i rows, %s',
    async (method, width, stripRows, where, fixed) => {
      const pair = plantedPair(width, 250, 7 + stripRows, changes, nodata);
      // The hole: back to the earlier intensities inside the frame.
      for (let y = hole[1]; y < hole[3]; y++)
        for (let x = hole[0]; x < hole[2]; x++) pair.after[y * width + x] = pair.before[y * width + x];
      const dir = join(tmp.dir, `eq-${width}-${stripRows}-${where.length}`);
      execFileSync('mkdir', ['-p', dir]);
      await writeFloatCog(join(dir, 'b.tif'), pair.before, width, 250);
      await writeFloatCog(join(dir, 'a.tif'), pair.after, width, 250);
      const opts: ChangeFilesOptions = {
        pool: where === 'on a kernel pool' ? pool : null,
        minAreaM2: 1000,
        threshold: fixed ?? 'auto',
        thresholdMethod: method === 'ki' ? 'ki' : 'otsu',
      };
      const grid = { epsg: EPSG, geoTransform: GT, width, height: 250 };
      const whole = await detectChanges(pair.before, pair.after, grid, opts);
      const streamed = await changeFiles(join(dir, 'b.tif'), join(dir, 'a.tif'), join(dir, 'c'), {
        ...opts,
        stripRows,
      });
      expect(whole.areas.length).toBeGreaterThan(4);
      // The U is one area (its arms joined 2 strips below their tops), the frame has a hole.
      expect(whole.areas.some((a) => a.pixels >= 10 * 110 * 2 + 35 * 10 - 200)).toBe(true);
      expect(whole.areas.some((a) => a.rings.length >= 2)).toBe(true);
      expectSameChange(whole, streamed, join(dir, 'c.tif'));
    },
  );
});

describe('images on one pixel lattice with other extents: the change on the intersection', () => {
  // A 260 x 260 scene of both dates; `before` its window (0, 0, 200, 180), `after` (13, 7, 190, 200).
  const W0 = 260;
  const scene = plantedPair(
    W0,
    W0,
    5,
    [
      [100, 100, 150, 140, 8],
      [20, 150, 60, 175, 0.1],
    ],
    [{ image: 'before', box: [150, 20, 170, 60] }],
  );
  const crop = (a: Float32Array, c0: number, r0: number, w: number, h: number) => {
    const out = new Float32Array(w * h);
    for (let y = 0; y < h; y++) out.set(a.subarray((r0 + y) * W0 + c0, (r0 + y) * W0 + c0 + w), y * w);
    return out;
  };
  const at = (c: number, r: number): GeoTransform => [GT[0] + c * 10, 10, 0, GT[3] - r * 10, 0, -10];
  const dir = join(tmp.dir, 'lattice');
  mkdirSync(dir, { recursive: true });
  const beforePath = join(dir, 'before.tif');
  const afterPath = join(dir, 'after.tif');

  it('equals the change of the two images cropped to the intersection by gdal_translate -srcwin', async () => {
    await writeFloatCog(beforePath, crop(scene.before, 0, 0, 200, 180), 200, 180);
    await writeFloatCog(afterPath, crop(scene.after, 13, 7, 190, 200), 190, 200, at(13, 7));
    const r = await changeFiles(beforePath, afterPath, join(dir, 'c'), {
      pool: null,
      minAreaM2: 500,
      stripRows: 40,
    });
    expect(r.sameGrid).toBe(false);
    expect(r.grid).toEqual({ epsg: EPSG, geoTransform: at(13, 7), width: 187, height: 173 });
    // The reference: both cropped by GDAL to the intersection (before: 13, 7; after: 0, 0; 187 x 173).
    const bCrop = join(dir, 'before-crop.tif');
    const aCrop = join(dir, 'after-crop.tif');
    execFileSync('gdal_translate', ['-q', '-srcwin', '13', '7', '187', '173', beforePath, bCrop]);
    execFileSync('gdal_translate', ['-q', '-srcwin', '0', '0', '187', '173', afterPath, aCrop]);
    const ref = await changeFiles(bCrop, aCrop, join(dir, 'ref'), { pool: null, minAreaM2: 500 });
    expect(ref.sameGrid).toBe(true);
    expect(ref.grid.geoTransform).toEqual(r.grid.geoTransform);
    expect(r.thresholds).toEqual(ref.thresholds);
    const got = gdalRead(join(dir, 'c.tif'), 'float32').data[0];
    const want = gdalRead(join(dir, 'ref.tif'), 'float32').data[0];
    const d = firstDifference(got, want);
    expect(d, `pixel ${d} differs: ${got[d]} vs ${want[d]}`).toBe(-1);
    expect(r.areas).toEqual(ref.areas);
    // The intermediate rasters (log-ratio, labels) are gone.
    expect(readdirSync(dir).filter((n) => n.startsWith('.change-'))).toEqual([]);
    expect(r.areas.filter((a) => a.kind === 'increase').length).toBeGreaterThan(0);
    expect(r.areas.filter((a) => a.kind === 'decrease').length).toBeGreaterThan(0);
  });

  // Bad inputs: one row per case, each a ValidationError naming what is wrong.
  it.each([
    ['other CRS', { epsg: 32632 }, /not on the pixel lattice of .*EPSG:32632 differs from EPSG:32631/],
    [
      'origin half a pixel off',
      { gt: [GT[0] + 5, 10, 0, GT[3], 0, -10] },
      /origin is 0\.500 x 0\.000 pixels from the other's, not a whole number/,
    ],
    [
      'other pixel size',
      { gt: [GT[0], 20, 0, GT[3], 0, -20] },
      /pixel size \/ rotation \[20, 0, 0, -20\] differs/,
    ],
    ['no overlap at all', { gt: at(200, 0) }, /do not overlap: there is nothing to compare/],
    [
      'budget too small for one strip',
      { maxMemoryBytes: 512 * 1024 },
      /change detection on 200 x 180 pixels \(strips of 16 rows\) needs about .* MiB, over the 524288 bytes memory budget \(raise it with --max-memory/,
    ],
  ] as const)('refuses %s', async (_name, o, msg) => {
    const spec = o as { epsg?: number; gt?: GeoTransform; maxMemoryBytes?: number };
    const other = join(dir, `bad-${_name.replace(/ /g, '-')}.tif`);
    await writeFloatCog(other, crop(scene.after, 0, 0, 200, 180), 200, 180, spec.gt ?? GT, spec.epsg ?? EPSG);
    if (!(await import('node:fs')).existsSync(beforePath))
      await writeFloatCog(beforePath, crop(scene.before, 0, 0, 200, 180), 200, 180);
    const run = changeFiles(beforePath, other, join(dir, 'bad'), {
      pool: null,
      maxMemoryBytes: spec.maxMemoryBytes,
    });
    await expect(run).rejects.toThrow(ValidationError);
    await expect(run).rejects.toThrow(msg);
  });
});

describe('memory: changeFiles on two large float32 COGs stays within the budget', () => {
  const W = 6000;
  const H = 8000;
  const dir = join(tmp.dir, 'big');
  beforeAll(async () => {
    mkdirSync(dir, { recursive: true });
    // The inputs streamed through our writer (no compression), the later one 3 pixels to the east.
    for (const [name, seed, dx] of [
      ['b', 1, 0],
      ['a', 2, 3],
    ] as const) {
      const rnd = mulberry32(seed);
      const buf = new Float32Array(W * 512);
      await writeCog(
        join(dir, `${name}.tif`),
        {
          width: W,
          height: H,
          bands: 1,
          dataType: 'float32',
          readRows(rowOff, rows) {
            for (let p = 0; p < rows * W; p++) buf[p] = -0.05 * Math.log(1 - rnd());
            if (name === 'a')
              for (let j = 0; j < rows; j++)
                if (rowOff + j >= 3000 && rowOff + j < 3300)
                  for (let x = 1000; x < 1300; x++) buf[j * W + x] *= 8;
            return {
              data: buf.subarray(0, rows * W),
              width: W,
              height: rows,
              bands: 1,
              dataType: 'float32',
              nodata: Number.NaN,
            };
          },
        },
        { epsg: EPSG, geoTransform: [GT[0] + dx * 10, 10, 0, GT[3], 0, -10], nodata: Number.NaN },
        { compression: 'none', overviews: 'none' },
      );
    }
  }, 60_000);
  const child = (args: string[]) => {
    const out = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'helpers', 'change-memory-child.ts'), ...args],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(out.status, out.stderr).toBe(0);
    return JSON.parse(out.stdout.trim().split('\n').pop() as string);
  };

  // 192 MiB: too tight for the kernel pool's workers, filtered in this thread; 320 MiB: on the pool.
  it.each([192, 320])(
    '6000 x 8000 pixels (192 MB a band) with a %i MiB budget: peak RSS under the idle process (modules, pool) plus the budget',
    (budgetMiB) => {
      // The bound: the process idle with the same modules and the kernel pool started (VmHWM of a
      // run on a 64 x 64 pair), plus the budget, which holds the rasters.
      const idle = child(['baseline']);
      const run = child([
        'run',
        join(dir, 'b.tif'),
        join(dir, 'a.tif'),
        join(dir, `c${budgetMiB}`),
        String(budgetMiB),
      ]);
      const peakMiB = run.peakKiB / 1024;
      const boundMiB = idle.peakKiB / 1024 + budgetMiB;
      console.log(
        `change on ${W - 3} x ${H}: peak RSS ${peakMiB.toFixed(0)} MiB (idle ${(idle.peakKiB / 1024).toFixed(0)} MiB, budget ${budgetMiB} MiB, bound ${boundMiB.toFixed(0)} MiB), ${run.ms} ms, ${run.areas} areas`,
      );
      expect(run.grid.width).toBe(W - 3);
      expect(run.areas).toBeGreaterThan(0);
      expect(peakMiB).toBeLessThan(boundMiB);
      // The two inputs alone, read whole as before, would not fit under the bound.
      expect(boundMiB).toBeLessThan(idle.peakKiB / 1024 + (2 * W * H * 4) / 1024 / 1024);
    },
    120_000,
  );
});
