import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transformPoint } from '../src/geo/crs.js';
import { TiePointGrid } from '../src/geo/geolocation.js';
import type { Window } from '../src/geo/window.js';
import { StripGeocoder } from '../src/ops/ard/geocode.js';
import type { ArdOptions, ArdResult } from '../src/ops/ard.js';
import { ardSafe, ardSicd } from '../src/ops/ard.js';
import { fillSafe } from '../src/ops/simulate.js';
import { fillSicd } from '../src/ops/simulate-sicd.js';
import { snappedGrid, warpByTiePoints } from '../src/raster/warp.js';
import { mulberry32 } from '../src/util/random.js';
import { ardSafeInMemory, ardSicdInMemory } from './helpers/ard-in-memory.js';
import { S1_ZIP, SICD_CHIP } from './helpers/data.js';
import { gdalinfoJson, gdalRead, tempDir } from './helpers/gdal.js';
import { validateStacItem } from './helpers/stac.js';

const tmp = tempDir('ard-streaming-');
afterAll(() => tmp.cleanup());
let safeDir = '';
let sicdPath = '';

beforeAll(async () => {
  // Sea, coast, town and ships planted in a 3000 x 2000 crop of a real IW GRDH's geometry.
  safeDir = await fillSafe(S1_ZIP, join(tmp.dir, 'safe'), {
    crop: { width: 3000, height: 2000 },
    pols: ['VV'],
    seed: 11,
  });
  // A 600 x 400 SICD with a real one's collection geometry and planted clutter and point targets.
  mkdirSync(join(tmp.dir, 'sicd'), { recursive: true });
  sicdPath = (
    await fillSicd(SICD_CHIP, join(tmp.dir, 'sicd', 'filled.nitf'), { rows: 600, cols: 400, seed: 3 })
  ).path;
}, 120_000);

interface Case {
  name: string;
  input: () => string;
  streamed: (path: string, out: string, o: ArdOptions) => Promise<ArdResult>;
  reference: (
    path: string,
    out: string,
    o: ArdOptions,
  ) => Promise<{ cog: { path: string }; quicklook: string; item: Record<string, unknown> }>;
  opts: ArdOptions;
}

// Small strips and geocoding blocks, so these small products cross many seams: odd row counts per
// strip (not multiples of the looks, the despeckle window or the lattice step) and blocks of columns
// that end inside lattice cells.
const CASES: Case[] = [
  {
    name: 'SAFE, 20 m (2 x 2 looks), refined Lee, thermal noise removed',
    input: () => safeDir,
    streamed: ardSafe,
    reference: ardSafeInMemory,
    opts: {
      pol: 'VV',
      spacingM: 20,
      filter: 'refined-lee',
      removeNoise: true,
      allowCrop: true,
      streaming: { stripBytes: 3000 * 4 * 2 * 13, geocodeColumns: 203 },
    },
  },
  {
    name: 'SAFE, 10 m (no multilook), Gamma MAP, gamma0',
    input: () => safeDir,
    streamed: ardSafe,
    reference: ardSafeInMemory,
    opts: {
      pol: 'VV',
      spacingM: 10,
      target: 'gamma0',
      filter: 'gammamap',
      allowCrop: true,
      streaming: { stripBytes: 3000 * 4 * 37, geocodeColumns: 1000 },
    },
  },
  {
    name: 'SAFE, 40 m, unfiltered, EPSG:4326',
    input: () => safeDir,
    streamed: ardSafe,
    reference: ardSafeInMemory,
    opts: {
      spacingM: 40,
      epsg: 4326,
      filter: 'none',
      allowCrop: true,
      streaming: { stripBytes: 3000 * 4 * 4 * 3 },
    },
  },
  {
    name: 'SICD, 3 m, Lee',
    input: () => sicdPath,
    streamed: ardSicd,
    reference: ardSicdInMemory,
    opts: { spacingM: 3, filter: 'lee', streaming: { stripBytes: 400 * 4 * 11, geocodeColumns: 77 } },
  },
  {
    name: 'SICD chip (real), 5 m, Frost',
    input: () => SICD_CHIP,
    streamed: ardSicd,
    reference: ardSicdInMemory,
    opts: { spacingM: 5, filter: 'frost', streaming: { stripBytes: 50 * 4 * 3, geocodeColumns: 9 } },
  },
];

const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);
/** Float32 values a and b as ordered integers, so that their difference counts the floats between. */
function ordered(v: number): number {
  f32[0] = v;
  return i32[0] < 0 ? -2147483648 - i32[0] : i32[0];
}

/**
 * How two float32 rasters differ: pixels not bit-equal, the largest difference in float32 ulps
 * (units in the last place), and the first pixel beyond `maxUlps` or valid in one only (NaN equals NaN).
 */
function ulpDiff(a: Float32Array, b: Float32Array, width: number, maxUlps: number) {
  let differing = 0;
  let worst = 0;
  let first: string | null =
    a.length === b.length ? null : `sizes differ: ${a.length} and ${b.length} values`;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (Object.is(x, y) || (x !== x && y !== y)) continue;
    differing++;
    const ulps = x !== x || y !== y ? Number.POSITIVE_INFINITY : Math.abs(ordered(x) - ordered(y));
    worst = Math.max(worst, ulps);
    if (ulps > maxUlps && first === null)
      first = `pixel (${i % width}, ${Math.floor(i / width)}): streamed ${x}, in memory ${y} (${ulps} ulps)`;
  }
  return { differing, worst, first };
}

describe('streamed ard equals the in-memory ard of commit 5abe3f6 pixel for pixel', () => {
  it.each(CASES)(
    '$name',
    async (c) => {
      const name = c.name.replace(/\W+/g, '-');
      const got = await c.streamed(c.input(), join(tmp.dir, `streamed-${name}`), c.opts);
      const { streaming: _, ...refOpts } = c.opts;
      const want = await c.reference(c.input(), join(tmp.dir, `memory-${name}`), refOpts);

      // The geocoding grid: CRS, geotransform and size identical.
      const gi = gdalinfoJson(got.cog.path) as {
        geoTransform: number[];
        size: number[];
        coordinateSystem: { wkt: string };
      };
      const wi = gdalinfoJson(want.cog.path) as typeof gi;
      expect(gi.size).toEqual(wi.size);
      expect(gi.geoTransform).toEqual(wi.geoTransform);
      expect(gi.coordinateSystem.wkt).toBe(wi.coordinateSystem.wkt);
      const gp = got.item.properties as Record<string, unknown>;
      const wp = want.item.properties as Record<string, unknown>;
      for (const k of ['proj:code', 'proj:shape', 'proj:transform', 'proj:bbox'])
        expect(gp[k], k).toEqual(wp[k]);
      expect(got.item.geometry).toEqual(want.item.geometry);
      expect(got.item.bbox).toEqual(want.item.bbox);

      // Every pixel of every level, as GDAL reads them. Unfiltered, the arithmetic is the same in the
      // same order: equal to the bit, and so the same COG file and PNG. The speckle filters keep running
      // column sums (in float64) that restart every 64 rows of each job the worker pool runs, so their
      // rounding depends on where the rows are cut into jobs: the in-memory ard cuts the whole image in
      // two, the streamed one each strip. A filtered pixel may then differ in its last float32 bit, and
      // after geocoding (bilinear, 4 such pixels) and dB by a few ulps; nothing else may differ.
      const exact = c.opts.filter === 'none';
      const maxUlps = exact ? 0 : 2;
      const a = gdalRead(got.cog.path, 'float32');
      const b = gdalRead(want.cog.path, 'float32');
      expect(a.levels).toEqual(b.levels);
      const d = ulpDiff(a.data[0] as Float32Array, b.data[0] as Float32Array, a.levels[0][0], maxUlps);
      let valid = 0;
      for (const v of a.data[0] as Float32Array) if (v === v) valid++;
      console.log(
        `${c.name}: ${gi.size[0]} x ${gi.size[1]}, ${valid} valid pixels, ${d.differing} not bit-equal to the in-memory ard, worst ${d.worst} ulps`,
      );
      expect(d.first, d.first ?? '').toBeNull();
      expect(valid).toBeGreaterThan(0.2 * gi.size[0] * gi.size[1]);
      for (let k = 1; k < a.levels.length; k++) {
        const o = ulpDiff(a.data[k] as Float32Array, b.data[k] as Float32Array, a.levels[k][0], maxUlps);
        expect(o.first, `overview ${k}: ${o.first}`).toBeNull();
      }
      const ga = (got.item.assets as Record<string, Record<string, unknown>>).data;
      const wa = (want.item.assets as Record<string, Record<string, unknown>>).data;
      const gs = (ga.bands as { statistics: Record<string, number> }[])[0].statistics;
      const ws = (wa.bands as { statistics: Record<string, number> }[])[0].statistics;
      expect(Object.keys(gs).sort()).toEqual(Object.keys(ws).sort());
      for (const k of Object.keys(ws))
        expect(Math.abs(gs[k] - ws[k]), k).toBeLessThanOrEqual(exact ? 0 : 1e-5 * Math.abs(ws[k]));
      const qa = await sharp(got.quicklook).raw().toBuffer({ resolveWithObject: true });
      const qb = await sharp(want.quicklook).raw().toBuffer({ resolveWithObject: true });
      expect([qa.info.width, qa.info.height, qa.info.channels]).toEqual([
        qb.info.width,
        qb.info.height,
        qb.info.channels,
      ]);
      let grey = 0;
      for (let i = 0; i < qa.data.length; i++) grey = Math.max(grey, Math.abs(qa.data[i] - qb.data[i]));
      expect(grey).toBeLessThanOrEqual(exact ? 0 : 1);
      if (exact) {
        expect(readFileSync(got.cog.path).equals(readFileSync(want.cog.path))).toBe(true);
        expect(ga['file:checksum']).toBe(wa['file:checksum']);
      }

      const errors = validateStacItem(got.item);
      expect(errors, errors.join('\n')).toEqual([]);
      // Only the three outputs are left: no intermediate raster, no partial file.
      expect(readdirSync(join(tmp.dir, `streamed-${name}`)).sort()).toEqual(
        [`${got.item.id}.json`, `${got.item.id}.png`, `${got.item.id}.tif`].sort(),
      );
    },
    300_000,
  );
});

describe('intermediate files', () => {
  const opts: ArdOptions = {
    pol: 'VV',
    spacingM: 40,
    filter: 'lee',
    allowCrop: true,
    streaming: { stripBytes: 3000 * 4 * 4 * 50 },
  };

  it('a failed run leaves none behind, and a killed run’s are removed by the next run', async () => {
    const out = join(tmp.dir, 'fail');
    const first = await ardSafe(safeDir, join(tmp.dir, 'ok'), opts);
    const id = String(first.item.id);
    // The COG cannot be renamed into place (a folder has its name): the run fails after the
    // intermediates were written.
    mkdirSync(join(out, `${id}.tif`), { recursive: true });
    await expect(ardSafe(safeDir, out, opts)).rejects.toThrow();
    expect(readdirSync(out)).toEqual([`${id}.tif`]);

    // What a killed run leaves: a complete intermediate and a partial one.
    const again = join(tmp.dir, 'again');
    mkdirSync(again, { recursive: true });
    const stale = [`.${id}.ard-multilooked.f32`, `.${id}.ard-despeckled.f32.0badf00d.partial`];
    for (const f of stale) writeFileSync(join(again, f), 'left by a killed run');
    await ardSafe(safeDir, again, opts);
    expect(readdirSync(again).sort()).toEqual([`${id}.json`, `${id}.png`, `${id}.tif`].sort());
  }, 300_000);

  it.each([
    [{ stripBytes: 0 }, /strip size must be a positive number of bytes, got 0/],
    [{ stripBytes: 1.5 }, /strip size must be a positive number of bytes, got 1.5/],
    [{ geocodeColumns: 0 }, /geocoding columns must be a positive integer, got 0/],
  ])('refuses streaming sizes %j by name', async (streaming, message) => {
    const out = join(tmp.dir, `bad-${JSON.stringify(streaming).replace(/\W+/g, '')}`);
    await expect(ardSafe(safeDir, out, { ...opts, streaming })).rejects.toThrow(message);
    expect(readdirSync(out).filter((f) => f.includes('.ard-') || f.endsWith('.partial'))).toEqual([]);
  });
});

describe('StripGeocoder', () => {
  // A 300 x 200 image on a grid rotated by 13 degrees (a descending pass), tie points every 30 lines
  // and 25 pixels, some nodata; the output grid covers it at 1.3 times its spacing.
  const W = 300;
  const H = 200;
  const rand = mulberry32(9);
  const data = new Float32Array(W * H);
  for (let i = 0; i < data.length; i++) data[i] = rand() < 0.02 ? Number.NaN : 0.01 + rand();
  const image = { data, width: W, height: H, bands: 1, dataType: 'float32' as const, nodata: Number.NaN };
  const h = (193 * Math.PI) / 180;
  const ties = [];
  for (let line = 0; line <= H - 1 + 30; line += 30)
    for (let pixel = 0; pixel <= W - 1 + 25; pixel += 25) {
      const x = 500_000 + pixel * 10 * Math.cos(h) + line * 10 * Math.sin(h);
      const y = 7_000_000 - pixel * 10 * Math.sin(h) + line * 10 * Math.cos(h);
      const [lon, lat] = transformPoint(32633, 4326, x, y);
      ties.push({ line: Math.min(line, H - 1), pixel: Math.min(pixel, W - 1), lat, lon });
    }
  const grid = new TiePointGrid(ties, 32633);
  const target = snappedGrid(grid.bounds(W, H), 13);
  const reference = warpByTiePoints(image, grid, target, 'bilinear').data;

  it.each([
    [512, 4096],
    [8, 8],
    [7, 5],
    [13, 1],
    [1, 100],
  ])(
    'strips of %i rows and blocks of %i columns give warpByTiePoints bit for bit, reading small windows',
    async (stripRows, columns) => {
      let largest = 0;
      const reader = {
        width: W,
        height: H,
        async read(win: Window, into?: Float32Array) {
          largest = Math.max(largest, win.width * win.height);
          const out = into ?? new Float32Array(win.width * win.height);
          for (let r = 0; r < win.height; r++)
            out.set(
              data.subarray((win.rowOff + r) * W + win.colOff, (win.rowOff + r) * W + win.colOff + win.width),
              r * win.width,
            );
          return out;
        },
      };
      const g = new StripGeocoder(reader, grid, target, columns);
      const got = new Float32Array(target.width * target.height);
      for (let rowOff = 0; rowOff < target.height; rowOff += stripRows) {
        const rows = Math.min(stripRows, target.height - rowOff);
        await g.strip(rowOff, rows, got.subarray(rowOff * target.width, (rowOff + rows) * target.width));
      }
      const d = ulpDiff(got, reference, target.width, 0);
      expect(d.first, d.first ?? '').toBeNull();
      let valid = 0;
      for (const v of got) if (v === v) valid++;
      expect(valid).toBeGreaterThan(0.4 * target.width * target.height);
      // Only what a block needs: for thin strips or narrow blocks, a small part of the image.
      if (stripRows <= 13 || columns <= 8) expect(largest).toBeLessThan(0.25 * W * H);
    },
  );

  it('refuses strips out of order', async () => {
    const reader = { width: W, height: H, read: async () => new Float32Array(0) };
    const g = new StripGeocoder(reader, grid, target);
    await expect(g.strip(8, 8, new Float32Array(8 * target.width))).rejects.toThrow(
      /geocoding strips must come in order: expected row 0, got 8/,
    );
  });
});
