import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ChangeFilesOptions, ChangeResult } from '../src/exploit/change.js';
import { changeFiles, detectChanges } from '../src/exploit/change.js';
import type { GeoTransform } from '../src/geo/transform.js';
import { writeCog } from '../src/io/tiff/writer.js';
import { mulberry32 } from '../src/util/random.js';
import { firstDifference, gdalRead, tempDir } from './helpers/gdal.js';

const tmp = tempDir('change-stream-');
afterAll(() => tmp.cleanup());

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
    ['otsu', 237, 7, undefined],
    ['otsu', 240, 32, undefined],
    ['ki', 237, 33, undefined],
    ['fixed 3 dB', 240, 64, 3],
  ] as const)('%s threshold, %i pixels wide, strips of %i rows', async (method, width, stripRows, fixed) => {
    const pair = plantedPair(width, 250, 7 + stripRows, changes, nodata);
    // The hole: back to the earlier intensities inside the frame.
    for (let y = hole[1]; y < hole[3]; y++)
      for (let x = hole[0]; x < hole[2]; x++) pair.after[y * width + x] = pair.before[y * width + x];
    const dir = join(tmp.dir, `eq-${width}-${stripRows}`);
    execFileSync('mkdir', ['-p', dir]);
    await writeFloatCog(join(dir, 'b.tif'), pair.before, width, 250);
    await writeFloatCog(join(dir, 'a.tif'), pair.after, width, 250);
    const opts: ChangeFilesOptions = {
      pool: null,
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
  });
});
