import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GeoTiff } from '../src/io/tiff/reader.js';
import { writeCog } from '../src/io/tiff/writer.js';
import type { DataType } from '../src/raster/dtype.js';
import { syntheticRaster } from './fixtures.js';
import { runCapture } from './helpers/cli.js';
import { PYROSAR_DB as REAL_DB } from './helpers/data.js';
import { firstDifference, gdalinfoJson, gdalMake, gdalRead, tempDir, validateCog } from './helpers/gdal.js';

const tmp = tempDir('info-cli-');
afterAll(() => tmp.cleanup());

interface GdalInfo {
  size: [number, number];
  geoTransform?: number[];
  coordinateSystem?: { wkt: string };
  bands: {
    type: string;
    noDataValue?: number | string;
    overviews?: { size: [number, number] }[];
    description?: string;
  }[];
  wgs84Extent?: { coordinates: number[][][] };
}

function epsgOfWkt(wkt: string | undefined): number | null {
  if (!wkt) return null;
  const ids = [...wkt.matchAll(/ID\["EPSG",(\d+)\]/g)];
  return ids.length ? Number(ids[ids.length - 1][1]) : null;
}

/** Compare `sarbridge info` with `gdalinfo -json` on the fields both report. */
async function expectInfoAgrees(path: string): Promise<void> {
  const { code, stdout, stderr } = await runCapture(['info', path]);
  expect(stderr).toBe('');
  expect(code).toBe(0);
  const ours = JSON.parse(stdout);
  const gi = gdalinfoJson(path) as unknown as GdalInfo;
  expect([ours.width, ours.height]).toEqual(gi.size);
  expect(ours.bandCount).toBe(gi.bands.length);
  expect(ours.gdalDataType).toBe(gi.bands[0].type);
  expect(ours.epsg).toBe(epsgOfWkt(gi.coordinateSystem?.wkt));
  if (gi.geoTransform) {
    for (let i = 0; i < 6; i++) expect(ours.geoTransform[i]).toBeCloseTo(gi.geoTransform[i], 9);
  } else expect(ours.geoTransform).toBeNull();
  const nd = gi.bands[0].noDataValue;
  if (nd === undefined) expect(ours.nodata).toBeNull();
  else if (nd === 'NaN') expect(ours.nodata).toBe('NaN');
  else expect(ours.nodata).toBe(nd);
  expect(ours.overviews.map((o: { width: number; height: number }) => [o.width, o.height])).toEqual(
    (gi.bands[0].overviews ?? []).map((o) => o.size),
  );
  if (gi.wgs84Extent) {
    // gdalinfo's WGS84 extent is the 4 corners; ours is densified along the edges, so it contains them.
    const [w, s, e, n] = ours.lonLatBounds;
    for (const [lon, lat] of gi.wgs84Extent.coordinates[0]) {
      expect(lon).toBeGreaterThanOrEqual(w - 1e-7);
      expect(lon).toBeLessThanOrEqual(e + 1e-7);
      expect(lat).toBeGreaterThanOrEqual(s - 1e-7);
      expect(lat).toBeLessThanOrEqual(n + 1e-7);
    }
  }
}

describe('sarbridge info agrees with gdalinfo -json', () => {
  it('on the real geocoded Sentinel-1 dB product', async () => {
    await expectInfoAgrees(REAL_DB);
  });

  const fixtures: {
    name: string;
    dt: DataType;
    epsg: number;
    gt: [number, number, number, number, number, number];
    nodata: number | null;
  }[] = [
    {
      name: 'float32 UTM 33N NaN nodata',
      dt: 'float32',
      epsg: 32633,
      gt: [500000, 10, 0, 6000000, 0, -10],
      nodata: Number.NaN,
    },
    {
      name: 'uint16 UTM 23S nodata 0',
      dt: 'uint16',
      epsg: 32723,
      gt: [300000, 5, 0, 7400000, 0, -5],
      nodata: 0,
    },
    {
      name: 'int16 WGS84 geographic nodata -32768',
      dt: 'int16',
      epsg: 4326,
      gt: [10, 0.001, 0, 60, 0, -0.001],
      nodata: -32768,
    },
    {
      name: 'float64 Web Mercator',
      dt: 'float64',
      epsg: 3857,
      gt: [1000000, 20, 0, 7000000, 0, -20],
      nodata: null,
    },
    {
      name: 'uint8 NSIDC polar stereographic',
      dt: 'uint8',
      epsg: 3413,
      gt: [-500000, 40, 0, -1000000, 0, -40],
      nodata: 255,
    },
    {
      name: 'cfloat32 rotated grid',
      dt: 'cfloat32',
      epsg: 32631,
      gt: [600000, 8, 2, 4800000, 1.5, -8],
      nodata: null,
    },
  ];
  it.each(fixtures)('on our COG: $name', async (f) => {
    const path = join(tmp.dir, `${f.name.replace(/\s+/g, '_')}.tif`);
    const view = syntheticRaster(700, 600, 1, f.dt, 5);
    await writeCog(
      path,
      view,
      {
        epsg: f.epsg,
        geoTransform: f.gt,
        nodata: f.nodata,
        bands: [{ description: 'VV', scale: 1, offset: 0 }],
      },
      { blockSize: 256 },
    );
    await expectInfoAgrees(path);
    const gi = gdalinfoJson(path) as unknown as GdalInfo;
    expect(gi.bands[0].description).toBe('VV');
  });

  it('on a GDAL file georeferenced as PixelIsPoint', async () => {
    const path = join(tmp.dir, 'point.tif');
    const view = syntheticRaster(64, 48, 1, 'float32', 2);
    gdalMake(path, view.data, {
      width: 64,
      height: 48,
      bands: 1,
      dtype: 'float32',
      epsg: 32632,
      geotransform: [400000, 30, 0, 5000000, 0, -30],
      options: [],
    });
    // Rewrite with AREA_OR_POINT=Point so the GeoTIFF carries RasterPixelIsPoint.
    const pointPath = join(tmp.dir, 'point2.tif');
    const { execFileSync } = await import('node:child_process');
    execFileSync('gdal_translate', ['-q', '-mo', 'AREA_OR_POINT=Point', path, pointPath]);
    await expectInfoAgrees(pointPath);
  });
});

describe('sarbridge cog', () => {
  it('converts the real dB product into a valid COG with the same pixels, CRS and nodata', async () => {
    const out = join(tmp.dir, 'real.cog.tif');
    const { code, stderr } = await runCapture(['cog', REAL_DB, out, '--blocksize', '128']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(validateCog(out).errors).toEqual([]);
    const a = gdalRead(REAL_DB, 'float32');
    const b = gdalRead(out, 'float32');
    expect(firstDifference(b.data[0], a.data[0])).toBe(-1);
    const tif = await GeoTiff.open(out);
    const info = tif.info();
    await tif.close();
    expect(info.epsg).toBe(32631);
    expect(info.nodata).toBe(-99);
    expect(info.compression).toBe('deflate');
    expect(info.predictor).toBe(3);
    expect(info.blockSize).toEqual([128, 128]);
    expect(info.overviews.length).toBeGreaterThan(0);
    // Statistics are written for the tiler's automatic stretch: GDAL agrees with them.
    const { execFileSync } = await import('node:child_process');
    const stats = JSON.parse(execFileSync('gdalinfo', ['-json', '-stats', REAL_DB], { encoding: 'utf8' }))
      .bands[0];
    // gdalinfo -json prints statistics to 3 decimals.
    expect(Number(info.bands[0].metadata.STATISTICS_MEAN)).toBeCloseTo(stats.mean, 3);
    expect(Number(info.bands[0].metadata.STATISTICS_MINIMUM)).toBeCloseTo(stats.minimum, 3);
    expect(Number(info.bands[0].metadata.STATISTICS_MAXIMUM)).toBeCloseTo(stats.maximum, 3);
    expect(Number(info.bands[0].metadata.STATISTICS_STDDEV)).toBeCloseTo(stats.stdDev, 3);
  });

  it.each([
    ['lzw', 'nearest', '256'],
    ['none', 'average', '512'],
  ])('honours --compress %s --resampling %s --blocksize %s', async (compress, resampling, block) => {
    const src = join(tmp.dir, `src-${compress}.tif`);
    copyFileSync(REAL_DB, src);
    const out = join(tmp.dir, `out-${compress}.tif`);
    const { code } = await runCapture([
      'cog',
      src,
      out,
      '--compress',
      compress,
      '--resampling',
      resampling,
      '--blocksize',
      block,
      '--overviews',
      'none',
    ]);
    expect(code).toBe(0);
    const tif = await GeoTiff.open(out);
    const info = tif.info();
    await tif.close();
    expect(info.compression).toBe(compress);
    expect(info.blockSize).toEqual([Number(block), Number(block)]);
    expect(info.overviews).toEqual([]);
  });

  it.each([
    { args: ['cog', 'a.tif'], code: 2, msg: /missing required argument/ },
    {
      args: ['cog', 'a.tif', 'b.tif', '--compress', 'jpeg'],
      code: 2,
      msg: /--compress must be one of deflate, lzw, none/,
    },
    { args: ['cog', 'a.tif', 'b.tif', '--blocksize', 'big'], code: 2, msg: /--blocksize must be an integer/ },
    {
      args: ['cog', 'a.tif', 'b.tif', '--blocksize', '100'],
      code: 1,
      msg: /blockSize must be a multiple of 16/,
    },
    { args: ['frobnicate'], code: 2, msg: /unknown command/ },
    { args: ['info', '/nonexistent/file.tif'], code: 1, msg: /\/nonexistent\/file.tif: cannot open/ },
  ])('exits $code for $args', async ({ args, code, msg }) => {
    const existing = join(tmp.dir, 'a.tif');
    copyFileSync(REAL_DB, existing);
    const resolved = args.map((a) => (a === 'a.tif' ? existing : a === 'b.tif' ? join(tmp.dir, 'b.tif') : a));
    const r = await runCapture(resolved);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(msg);
    expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
  });

  it('exits 1 with the file named for a file that is not a TIFF', async () => {
    const bad = join(tmp.dir, 'not-a-tiff.tif');
    writeFileSync(bad, 'hello, this is text');
    const r = await runCapture(['info', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `sarbridge: ${bad}: unknown content starting 0x68 0x65 0x6c 0x6c 0x6f 0x2c 0x20 0x74 ('hello, t'); expected a Sentinel-1 SAFE (a folder or zip holding manifest.safe), a SICD (NITF with the SICD XML in a DES) or a geocoded GeoTIFF\n`,
    );
  });
});
