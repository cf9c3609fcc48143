import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteCatalog } from '../src/catalog/sqlite/store.js';
import { syntheticCollection } from '../src/catalog/synthetic.js';
import { webMercatorTileAt } from '../src/geo/tms.js';
import { writeCog } from '../src/io/tiff/writer.js';
import { ardSafe } from '../src/ops/ard.js';
import { fillSafe } from '../src/ops/simulate.js';
import { S1_ZIP as ZIP } from './helpers/data.js';
import { gdalinfoJson, gdalRead, PYTHON, tempDir, validateCog } from './helpers/gdal.js';
import { testServer } from './helpers/server.js';
import { validateStacItem } from './helpers/stac.js';

/** gdalwarp `src` onto the north-up grid (geotransform gt, w x h) in EPSG `epsg`, NaN outside. */
function gdalwarpOnto(
  src: string,
  dst: string,
  epsg: number,
  gt: number[],
  w: number,
  h: number,
  resampling: string,
): void {
  execFileSync('gdalwarp', [
    '-q',
    '-overwrite',
    '-t_srs',
    `EPSG:${epsg}`,
    '-r',
    resampling,
    '-et',
    '0',
    '-te',
    String(gt[0]),
    String(gt[3] + h * gt[5]),
    String(gt[0] + w * gt[1]),
    String(gt[3]),
    '-ts',
    String(w),
    String(h),
    '-dstnodata',
    'nan',
    src,
    dst,
  ]);
}

const tmp = tempDir('ard-');
afterAll(() => tmp.cleanup());
let safeDir = '';

beforeAll(async () => {
  // 3000 x 2000 pixels of the scene (all sea in the planted pattern: sigma0 0.02, -17 dB).
  safeDir = await fillSafe(ZIP, tmp.dir, { crop: { width: 3000, height: 2000 }, pols: ['VV'], seed: 5 });
});

describe('sarbridge ard: calibrate, multilook, despeckle, geocode, COG + quick-look + STAC item', () => {
  it('writes a valid COG, a PNG and a STAC item valid against the official schemas', async () => {
    const out = join(tmp.dir, 'ard');
    const r = await ardSafe(safeDir, out, {
      pol: 'VV',
      spacingM: 20,
      filter: 'refined-lee',
      allowCrop: true,
    });
    expect(validateCog(r.cog.path).errors).toEqual([]);
    const info = gdalinfoJson(r.cog.path) as { coordinateSystem: { wkt: string }; bands: { type: string }[] };
    expect(info.bands[0].type).toBe('Float32');
    expect(info.coordinateSystem.wkt).toMatch(/UTM zone 36S/);
    const png = gdalinfoJson(r.quicklook) as { driverShortName: string; bands: unknown[] };
    expect(png.driverShortName).toBe('PNG');
    expect(png.bands).toHaveLength(2);

    const errors = validateStacItem(r.item);
    expect(errors, errors.join('\n')).toEqual([]);
    // The validation is not vacuous: a wrong frequency band and a missing datetime are caught.
    const broken = structuredClone(r.item) as { properties: Record<string, unknown> };
    broken.properties['sar:frequency_band'] = 'Z';
    delete broken.properties.datetime;
    const brokenErrors = validateStacItem(broken);
    expect(brokenErrors.some((e) => e.includes('sar'))).toBe(true);
    expect(brokenErrors.some((e) => e.includes('item.json'))).toBe(true);
    const asset = (r.item.assets as Record<string, Record<string, unknown>>).data;
    const bytes = readFileSync(r.cog.path);
    expect(asset['file:checksum']).toBe(`1220${createHash('sha256').update(bytes).digest('hex')}`);
    expect(asset['file:size']).toBe(bytes.length);
    // Complete: every extension the chain's items carry, each with its fields.
    expect(r.item.stac_extensions).toEqual(
      [
        'sar/v1.3.0',
        'sat/v1.2.0',
        'view/v1.1.0',
        'projection/v1.2.0',
        'processing/v1.2.0',
        'raster/v2.0.0',
        'file/v2.1.0',
      ].map((e) => `https://stac-extensions.github.io/${e}/schema.json`),
    );
    expect(r.item.properties).toMatchObject({
      // The crop's first line (the product starts at 03:16:53).
      datetime: expect.stringMatching(/^2021-01-19T03:16:5\d\.\d{3}Z$/),
      start_datetime: expect.stringMatching(/^2021-01-19T03:16:5\d\.\d{3}Z$/),
      end_datetime: expect.stringMatching(/^2021-01-19T03:1[67]:\d\d\.\d{3}Z$/),
      platform: 'sentinel-1a',
      constellation: 'sentinel-1',
      'sar:instrument_mode': 'IW',
      'sar:polarizations': ['VV'],
      'sar:pixel_spacing_range': 20,
      'sar:looks_range': 2,
      'sar:looks_azimuth': 2,
      'sat:orbit_state': 'descending',
      // The product name's absolute orbit 036201; ESA's relative orbit of Sentinel-1A,
      // (absolute - 73) mod 175 + 1, is 79.
      'sat:absolute_orbit': 36201,
      'sat:relative_orbit': 79,
      'processing:level': 'L2',
    });
    expect((r.item.properties as Record<string, number>)['view:incidence_angle']).toBeGreaterThan(30);
    expect(asset['raster:spatial_resolution']).toBe(20);
    const stats = (asset.bands as { unit: string; statistics: Record<string, number> }[])[0];
    expect(stats.unit).toBe('dB');
    // The item's statistics are the COG's (GDAL computes them again from the pixels; gdalinfo prints 3 decimals).
    const gdalStats = JSON.parse(
      execFileSync('gdalinfo', ['-json', '-stats', '-nomd', r.cog.path], { encoding: 'utf8' }),
    ) as { bands: { minimum: number; maximum: number; mean: number; stdDev: number }[] };
    expect(stats.statistics.minimum).toBeCloseTo(gdalStats.bands[0].minimum, 2);
    expect(stats.statistics.maximum).toBeCloseTo(gdalStats.bands[0].maximum, 2);
    expect(stats.statistics.mean).toBeCloseTo(gdalStats.bands[0].mean, 2);
    expect(stats.statistics.stddev).toBeCloseTo(gdalStats.bands[0].stdDev, 2);
    expect(JSON.parse(readFileSync(r.itemPath, 'utf8'))).toEqual(r.item);

    // The planted sigma0 (0.02) comes back as about -17 dB.
    const px = gdalRead(r.cog.path, 'float32').data[0];
    const valid = Array.from(px)
      .filter((v) => !Number.isNaN(v))
      .sort((a, b) => a - b);
    const median = valid[Math.floor(valid.length / 2)];
    console.log(
      `ARD: ${valid.length} valid pixels, median ${median.toFixed(2)} dB (planted ${(10 * Math.log10(0.02)).toFixed(2)} dB)`,
    );
    expect(valid.length).toBeGreaterThan(1000);
    expect(Math.abs(median - 10 * Math.log10(0.02))).toBeLessThan(0.5);
  });

  it('--crs EPSG:4326 takes --spacing as ground metres: square pixels of that many metres of latitude', async () => {
    const r = await ardSafe(safeDir, join(tmp.dir, 'ard-4326'), {
      spacingM: 40,
      epsg: 4326,
      filter: 'none',
      allowCrop: true,
    });
    const info = gdalinfoJson(r.cog.path) as { geoTransform: number[]; size: number[] };
    const [, dx, , lat0, , dy] = info.geoTransform;
    // A degree of latitude is 110.6 to 111.7 km; at the scene's latitude (17.7 S) about 110.65 km.
    expect(dx).toBeCloseTo(40 / 110_650, 6);
    expect(dy).toBeCloseTo(-dx, 12);
    expect(lat0).toBeLessThan(0);
    expect(info.size[0]).toBeGreaterThan(100);
    expect(r.item.properties).toMatchObject({ 'proj:code': 'EPSG:4326' });
  });

  it('refuses a bad spacing or CRS by name', async () => {
    await expect(ardSafe(safeDir, join(tmp.dir, 'x'), { spacingM: 0, allowCrop: true })).rejects.toThrow(
      /--spacing must be a positive number of metres, got 0/,
    );
    await expect(ardSafe(safeDir, join(tmp.dir, 'x'), { epsg: 2154, allowCrop: true })).rejects.toThrow(
      /--crs EPSG:2154 is not a CRS sarbridge can write/,
    );
  });
});

describe('sarbridge ard on a SICD', () => {
  it('geocodes sigma0 through the SICD projection into a valid COG and STAC item', async () => {
    const { ardSicd } = await import('../src/ops/ard.js');
    const { Sicd } = await import('../src/io/nitf/sicd.js');
    const { sicdImageToGround } = await import('../src/io/nitf/sicd-projection.js');
    const chip = join(import.meta.dirname, '..', '..', 'shared', 'data', 'real', 'sicd_50x50.nitf');
    const r = await ardSicd(chip, join(tmp.dir, 'sicd'), { spacingM: 5, filter: 'lee' });
    expect(validateCog(r.cog.path).errors).toEqual([]);
    const errors = validateStacItem(r.item);
    expect(errors, errors.join('\n')).toEqual([]);
    const props = r.item.properties as Record<string, unknown>;
    expect(props).toMatchObject({
      'sar:frequency_band': 'C',
      'sar:product_type': 'SICD',
      'proj:code': 'EPSG:32618',
      'sar:observation_direction': 'right',
    });
    // The item's bbox holds the image corners as the SICD projection places them.
    const s = await Sicd.open(chip);
    await s.close();
    const corners = sicdImageToGround(s.meta, [
      [0, 0],
      [49, 49],
    ]);
    const [w, so, e, n] = r.item.bbox as number[];
    for (const [lat, lon] of corners) {
      expect(lon).toBeGreaterThanOrEqual(w - 1e-9);
      expect(lon).toBeLessThanOrEqual(e + 1e-9);
      expect(lat).toBeGreaterThanOrEqual(so - 1e-9);
      expect(lat).toBeLessThanOrEqual(n + 1e-9);
    }
    const px = gdalRead(r.cog.path, 'float32').data[0];
    expect(Array.from(px).filter((v) => !Number.isNaN(v)).length).toBeGreaterThan(1000);
  });
});

describe('sarbridge ard on a geocoded GeoTIFF with a STAC sidecar', () => {
  it('recognises dB, keeps the grid, carries the sidecar fields into a valid item', async () => {
    const { ardGeoTiff } = await import('../src/ops/ard.js');
    const { copyFileSync, writeFileSync } = await import('node:fs');
    const dir = join(tmp.dir, 'gec');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir, { recursive: true });
    const tif = join(dir, 'pyrosar_db.tif');
    copyFileSync(join(import.meta.dirname, '..', '..', 'shared', 'data', 'real', 'pyrosar_db.tif'), tif);
    writeFileSync(
      join(dir, 'pyrosar_db.json'),
      JSON.stringify({
        type: 'Feature',
        properties: {
          datetime: '2015-03-09T17:30:17Z',
          platform: 'sentinel-1a',
          constellation: 'sentinel-1',
          'sar:instrument_mode': 'IW',
          'sar:frequency_band': 'C',
          'sar:polarizations': ['VV'],
          'sar:product_type': 'GRD',
          'sat:orbit_state': 'ascending',
        },
      }),
    );
    const r = await ardGeoTiff(tif, join(dir, 'out'), { filter: 'none' });
    const errors = validateStacItem(r.item);
    expect(errors, errors.join('\n')).toEqual([]);
    expect(r.item.properties).toMatchObject({
      'sat:orbit_state': 'ascending',
      'proj:code': 'EPSG:32631',
      'proj:shape': [217, 268],
    });
    // Unfiltered, dB -> linear -> dB gives the input values back; -99 (nodata) becomes NaN.
    const a = gdalRead(r.cog.path, 'float32').data[0];
    const b = gdalRead(tif, 'float32').data[0];
    let checked = 0;
    for (let i = 0; i < b.length; i++) {
      if (b[i] === -99) {
        expect(Number.isNaN(a[i])).toBe(true);
        continue;
      }
      expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-4);
      checked++;
    }
    expect(checked).toBeGreaterThan(50000);
    await expect(
      ardGeoTiff(
        join(import.meta.dirname, '..', '..', 'shared', 'data', 'real', 'pyrosar_db.tif'),
        join(dir, 'x'),
      ),
    ).rejects.toThrow(/no metadata sidecar found/);
  });

  it('--crs and --spacing resample a geocoded product as gdalwarp -r bilinear does (in linear power)', async () => {
    const { ardGeoTiff } = await import('../src/ops/ard.js');
    const { copyFileSync, mkdirSync, writeFileSync } = await import('node:fs');
    const dir = join(tmp.dir, 'gec-warp');
    mkdirSync(dir, { recursive: true });
    const tif = join(dir, 'pyrosar_db.tif');
    copyFileSync(join(import.meta.dirname, '..', '..', 'shared', 'data', 'real', 'pyrosar_db.tif'), tif);
    writeFileSync(
      join(dir, 'pyrosar_db.json'),
      JSON.stringify({
        type: 'Feature',
        properties: {
          datetime: '2015-03-09T17:30:17Z',
          unit: 'dB',
          'sar:instrument_mode': 'IW',
          'sar:frequency_band': 'C',
          'sar:polarizations': ['VV'],
          'sar:product_type': 'GRD',
        },
      }),
    );
    // 10 m from the 20 m product: gdalwarp widens its bilinear kernel when it reduces, not when it enlarges.
    const r = await ardGeoTiff(tif, join(dir, 'out'), { filter: 'none', epsg: 4326, spacingM: 10 });
    const errors = validateStacItem(r.item);
    expect(errors, errors.join('\n')).toEqual([]);
    expect(r.item.properties).toMatchObject({ 'proj:code': 'EPSG:4326' });
    const got = gdalinfoJson(r.cog.path) as { geoTransform: number[]; size: number[] };
    // 10 m is about 9.0e-5 degrees of latitude at 43.5 N.
    expect(got.geoTransform[1]).toBeCloseTo(10 / 111_100, 7);
    // The reference: the same input in linear power, warped by gdalwarp onto our grid with an exact
    // transformer (-et 0), NaN nodata.
    const linear = join(dir, 'linear.tif');
    execFileSync(PYTHON, [
      '-c',
      `
from osgeo import gdal
import numpy as np
src = gdal.Open(${JSON.stringify(tif)})
a = src.GetRasterBand(1).ReadAsArray().astype(np.float64)
a = np.where(a == -99, np.nan, 10 ** (a / 10)).astype(np.float32)
dst = gdal.GetDriverByName('GTiff').Create(${JSON.stringify(linear)}, src.RasterXSize, src.RasterYSize, 1, gdal.GDT_Float32)
dst.SetGeoTransform(src.GetGeoTransform())
dst.SetProjection(src.GetProjection())
dst.GetRasterBand(1).SetNoDataValue(float('nan'))
dst.GetRasterBand(1).WriteArray(a)
dst = None
`,
    ]);
    const ref = join(dir, 'gdalwarp.tif');
    const gt = got.geoTransform;
    const [w, h] = got.size;
    gdalwarpOnto(linear, ref, 4326, gt, w, h, 'bilinear');
    const a = gdalRead(r.cog.path, 'float32').data[0] as Float32Array;
    const b = gdalRead(ref, 'float32').data[0] as Float32Array;
    let n = 0;
    let far = 0;
    let maxRel = 0;
    let edge = 0;
    for (let i = 0; i < b.length; i++) {
      const va = a[i];
      const vb = b[i];
      if (va !== va || vb !== vb) {
        if ((va !== va) !== (vb !== vb)) edge++;
        continue;
      }
      const rel = Math.abs(10 ** (va / 10) - vb) / vb;
      maxRel = Math.max(maxRel, rel);
      if (rel > 1e-3) far++;
      n++;
    }
    console.log(
      `geocoded -> EPSG:4326 at 10 m: ${n} pixels against gdalwarp, max relative difference ${maxRel.toExponential(2)}, ${far} above 1e-3, ${edge} valid in one only`,
    );
    expect(n).toBeGreaterThan(100000);
    expect(far / n).toBeLessThan(0.001);
    expect(edge / n).toBeLessThan(0.01);

    // Reducing 20 m to 60 m averages 3 x 3 blocks before sampling. On a --like grid aligned with the
    // product's pixels, that is gdalwarp -r average of the same linear values.
    const like60 = join(dir, 'grid60.tif');
    const src = gdalinfoJson(tif) as { geoTransform: number[]; size: number[] };
    const [w60, h60] = [Math.floor(src.size[0] / 3), Math.floor(src.size[1] / 3)];
    const g0 = src.geoTransform;
    await writeCog(
      like60,
      {
        data: new Float32Array(w60 * h60),
        width: w60,
        height: h60,
        bands: 1,
        dataType: 'float32',
        nodata: null,
      },
      { epsg: 32631, geoTransform: [g0[0], 60, 0, g0[3], 0, -60] },
    );
    const coarse = await ardGeoTiff(tif, join(dir, 'out60'), { filter: 'none', like: like60 });
    expect(String((coarse.item.properties as Record<string, unknown>)['processing:lineage'])).toMatch(
      /averaged 3 x 3/,
    );
    const ref60 = join(dir, 'gdalwarp-average.tif');
    gdalwarpOnto(linear, ref60, 32631, [g0[0], 60, 0, g0[3], 0, -60], w60, h60, 'average');
    const c = gdalRead(coarse.cog.path, 'float32').data[0] as Float32Array;
    const d = gdalRead(ref60, 'float32').data[0] as Float32Array;
    let m = 0;
    let maxRel60 = 0;
    for (let i = 0; i < d.length; i++) {
      if (c[i] !== c[i] || d[i] !== d[i]) continue;
      maxRel60 = Math.max(maxRel60, Math.abs(10 ** (c[i] / 10) - d[i]) / d[i]);
      m++;
    }
    console.log(
      `20 m -> 60 m: ${m} pixels against gdalwarp -r average, max relative difference ${maxRel60.toExponential(2)}`,
    );
    expect(m).toBeGreaterThan(0.9 * w60 * h60 * 0.9);
    expect(maxRel60).toBeLessThan(1e-4);
  });

  it('puts the output on the grid of --like, so two passes line up pixel for pixel', async () => {
    const first = await ardSafe(safeDir, join(tmp.dir, 'like-a'), {
      pol: 'VV',
      spacingM: 20,
      filter: 'none',
      allowCrop: true,
    });
    const info = gdalinfoJson(first.cog.path) as { geoTransform: number[]; size: number[] };
    // A reference grid two pixels east and south of the first, 20 pixels smaller.
    const gt = info.geoTransform;
    const ref = join(tmp.dir, 'like-ref.tif');
    const [w, h] = [info.size[0] - 20, info.size[1] - 20];
    await writeCog(
      ref,
      { data: new Float32Array(w * h), width: w, height: h, bands: 1, dataType: 'float32', nodata: null },
      { epsg: 32736, geoTransform: [gt[0] + 2 * gt[1], gt[1], 0, gt[3] + 2 * gt[5], 0, gt[5]] },
    );
    const second = await ardSafe(safeDir, join(tmp.dir, 'like-b'), {
      pol: 'VV',
      filter: 'none',
      allowCrop: true,
      like: ref,
    });
    const got = gdalinfoJson(second.cog.path) as { geoTransform: number[]; size: number[] };
    const want = gdalinfoJson(ref) as { geoTransform: number[]; size: number[] };
    expect(got.size).toEqual(want.size);
    got.geoTransform.forEach((v, i) => {
      expect(v).toBeCloseTo(want.geoTransform[i], 6);
    });
    // Same pixels as the first pass where the grids overlap (the same scene geocoded twice).
    const a = gdalRead(first.cog.path, 'float32').data[0] as Float32Array;
    const b = gdalRead(second.cog.path, 'float32').data[0] as Float32Array;
    // The inverse mapping is solved on a lattice every 8 output pixels and interpolated in between;
    // shifted grids put the lattice elsewhere, so the samples move by a small fraction of a pixel.
    let maxDiff = 0;
    let sum = 0;
    let n = 0;
    for (let r = 0; r < h; r += 3)
      for (let c = 0; c < w; c += 3) {
        const va = a[(r + 2) * info.size[0] + c + 2];
        const vb = b[r * w + c];
        if (va !== va || vb !== vb) continue;
        maxDiff = Math.max(maxDiff, Math.abs(va - vb));
        sum += Math.abs(va - vb);
        n++;
      }
    console.log(
      `--like: ${n} pixels compared, mean |difference| ${(sum / n).toExponential(2)} dB, max ${maxDiff.toFixed(3)} dB`,
    );
    expect(n).toBeGreaterThan(1000);
    expect(sum / n).toBeLessThan(0.01);
    expect(maxDiff).toBeLessThan(0.2);
    await expect(
      ardSafe(safeDir, join(tmp.dir, 'like-c'), { like: ref, epsg: 32736, allowCrop: true }),
    ).rejects.toThrow(/--like and --crs cannot be used together/);
  });
});

describe("the tiler takes the display range from ard's statistics", () => {
  it("renders an ard item's tile stretched over mean +- 2 std of its raster band statistics", async () => {
    const r = await ardSafe(safeDir, join(tmp.dir, 'tiles'), {
      spacingM: 40,
      filter: 'none',
      allowCrop: true,
    });
    const band = (r.item.assets.data.bands as { name: string; statistics: Record<string, number> }[])[0];
    const s = band.statistics;
    expect(s.stddev).toBeGreaterThan(0);
    const store = new SqliteCatalog(join(tmp.dir, 'tiles.db'));
    const server = await testServer(store, { assetRoot: tmp.dir });
    try {
      const headers = server.admin;
      const post = (payload: object, url = '/collections/ard/items') =>
        server.app.inject({ method: 'POST', url, headers, payload });
      expect((await post(syntheticCollection('ard'), '/collections')).statusCode).toBe(201);
      const asStored = (id: string, withStats: boolean) => {
        const item = structuredClone(r.item) as unknown as Record<
          string,
          Record<string, Record<string, unknown>>
        >;
        item.id = id as never;
        item.assets.data.href = relative(tmp.dir, r.cog.path);
        item.assets.thumbnail.href = relative(tmp.dir, r.quicklook);
        if (!withStats) item.assets.data.bands = [{ name: band.name, unit: 'dB' }];
        return item;
      };
      for (const [id, withStats] of [
        ['with-stats', true],
        ['without-stats', false],
      ] as const) {
        const res = await post(asStored(id, withStats));
        expect(res.statusCode, res.body).toBe(201);
      }
      const [w, so, e, n] = r.item.bbox as number[];
      const [x, y] = webMercatorTileAt((w + e) / 2, (so + n) / 2, 11);
      const tile = async (id: string, query = '') => {
        const res = await server.app.inject({
          url: `/tiles/ard/${id}/data/WebMercatorQuad/11/${x}/${y}.png${query}`,
          headers,
        });
        expect(res.statusCode, res.body).toBe(200);
        return (await sharp(res.rawPayload).raw().toBuffer()).toString('base64');
      };
      // The stretch the tiler documents for item statistics, computed here from the item.
      const lo = Math.max(s.mean - 2 * s.stddev, s.minimum);
      const hi = Math.min(s.mean + 2 * s.stddev, s.maximum);
      const byStats = await tile('with-stats');
      expect(byStats).toBe(await tile('with-stats', `?rescale=${lo},${hi}`));
      // Not vacuous: another stretch, and the same item without statistics (a sampled 2-98 % range),
      // render differently.
      expect(byStats).not.toBe(await tile('with-stats', `?rescale=${lo - 3},${hi + 3}`));
      expect(byStats).not.toBe(await tile('without-stats'));
    } finally {
      await server.close();
      await store.close();
    }
  });
});

describe('ard on a geocoded GeoTIFF refuses a bad sidecar by file and field', () => {
  const good = {
    datetime: '2015-03-09T17:30:17Z',
    'sar:instrument_mode': 'IW',
    'sar:frequency_band': 'C',
    'sar:polarizations': ['VV'],
    'sar:product_type': 'GRD',
  };
  const drop = (k: string) => Object.fromEntries(Object.entries(good).filter(([key]) => key !== k));
  it.each([
    ['no datetime', drop('datetime'), /pyrosar_db\.json: the sidecar has no datetime/],
    [
      'no instrument mode',
      drop('sar:instrument_mode'),
      /pyrosar_db\.json: the sidecar has no sar:instrument_mode/,
    ],
    ['no polarisations', drop('sar:polarizations'), /the sidecar has no sar:polarizations/],
    [
      'polarisations not a list',
      { ...good, 'sar:polarizations': 'VV' },
      /sar:polarizations must be a non-empty array of strings, got "VV"/,
    ],
    [
      'empty product type',
      { ...good, 'sar:product_type': '' },
      /sar:product_type must be a non-empty string, got ""/,
    ],
    [
      'orbit state',
      { ...good, 'sat:orbit_state': 'sideways' },
      /sat:orbit_state must be one of ascending, descending, geostationary, got "sideways"/,
    ],
    [
      'incidence angle text',
      { ...good, 'view:incidence_angle': '35' },
      /view:incidence_angle must be a number, got "35"/,
    ],
    [
      'look side',
      { ...good, 'sar:observation_direction': 'up' },
      /sar:observation_direction must be one of left, right, got "up"/,
    ],
  ])('%s', async (_name, properties, message) => {
    const { ardGeoTiff } = await import('../src/ops/ard.js');
    const { copyFileSync, mkdirSync, writeFileSync } = await import('node:fs');
    const dir = join(tmp.dir, `bad-sidecar-${_name.replace(/\W+/g, '-')}`);
    mkdirSync(dir, { recursive: true });
    const tif = join(dir, 'pyrosar_db.tif');
    copyFileSync(join(import.meta.dirname, '..', '..', 'shared', 'data', 'real', 'pyrosar_db.tif'), tif);
    writeFileSync(join(dir, 'pyrosar_db.json'), JSON.stringify({ type: 'Feature', properties }));
    await expect(ardGeoTiff(tif, join(dir, 'out'), { filter: 'none' })).rejects.toThrow(message);
  });
});
