import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GeoTiff } from '../src/io/tiff/reader.js';
import { writeCog } from '../src/io/tiff/writer.js';
import { syntheticRaster } from './fixtures.js';
import { firstDifference, gdalinfoJson, gdalRead, PYTHON, tempDir, validateCog } from './helpers/gdal.js';

const tmp = tempDir('cog-streaming-');
afterAll(() => tmp.cleanup());
const DIST_WRITER = join(import.meta.dirname, '..', 'dist', 'src', 'io', 'tiff', 'writer.js');

describe('COG writer streams', () => {
  it('writes a raster several times larger than its own peak memory, strip by strip', () => {
    expect(existsSync(DIST_WRITER), 'run `npm run build` first (npm test does)').toBe(true);
    const out = join(tmp.dir, 'big.tif');
    // 4096 x 32768 float32 = 512 MiB of pixels, produced strip by strip in a child process:
    // memory follows the strip (the width), not the height.
    const script = `
      import { writeCog } from ${JSON.stringify(DIST_WRITER)};
      const W = 4096, H = 32768;
      let strip = null;
      const source = { width: W, height: H, bands: 1, dataType: 'float32', readRows(rowOff, rows) {
        if (!strip || strip.height !== rows) strip = { data: new Float32Array(W * rows), width: W, height: rows, bands: 1, dataType: 'float32', nodata: null };
        for (let r = 0; r < rows; r++) for (let x = 0; x < W; x++) strip.data[r * W + x] = ((x * 7 + (rowOff + r) * 13) % 1000) / 10;
        return strip;
      } };
      await writeCog(${JSON.stringify(out)}, source, { epsg: 32633, geoTransform: [0, 10, 0, 0, 0, -10] });
      process.stdout.write(String(process.resourceUsage().maxRSS));`;
    const maxRssKiB = Number(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }),
    );
    const rawMiB = 512;
    console.log(`streamed ${rawMiB} MiB of pixels with a peak RSS of ${(maxRssKiB / 1024).toFixed(0)} MiB`);
    expect(maxRssKiB / 1024).toBeLessThan(rawMiB / 3);
    expect(validateCog(out).errors).toEqual([]);
    const info = gdalinfoJson(out) as { size: number[]; bands: { overviews: unknown[] }[] };
    expect(info.size).toEqual([4096, 32768]);
    expect(info.bands[0].overviews.length).toBe(6);
    // GDAL reads the planted values back at a window far into the file.
    const got = execFileSync(
      PYTHON,
      [
        '-c',
        `from osgeo import gdal\nds=gdal.Open(${JSON.stringify(out)})\na=ds.GetRasterBand(1).ReadAsArray(4000, 30000, 3, 2)\nprint(' '.join(str(float(v)) for v in a.ravel()))`,
      ],
      { encoding: 'utf8' },
    )
      .trim()
      .split(' ')
      .map(Number);
    const expected = [];
    for (let y = 30000; y < 30002; y++)
      for (let x = 4000; x < 4003; x++) expected.push(Math.fround(((x * 7 + y * 13) % 1000) / 10));
    expect(got).toEqual(expected);
  });

  it('writes BigTIFF on request, with scale, offset and descriptions GDAL reports', async () => {
    const out = join(tmp.dir, 'bigtiff.tif');
    const view = syntheticRaster(300, 200, 2, 'int16', 9);
    const res = await writeCog(
      out,
      view,
      {
        epsg: 32633,
        geoTransform: [0, 10, 0, 0, 0, -10],
        nodata: -32768,
        bands: [
          { description: 'VV', scale: 0.01, offset: -50, metadata: { POLARISATION: 'VV' } },
          { description: 'VH', scale: 0.01, offset: -50 },
        ],
        metadata: { SENSOR: 'simulated' },
      },
      { bigTiff: 'yes', blockSize: 128 },
    );
    expect(res.bigTiff).toBe(true);
    expect(validateCog(out).errors).toEqual([]);
    const info = gdalinfoJson(out) as {
      metadata: Record<string, Record<string, string>>;
      bands: {
        description: string;
        scale: number;
        offset: number;
        noDataValue: number;
        metadata: Record<string, Record<string, string>>;
      }[];
    };
    expect(info.bands.map((b) => b.description)).toEqual(['VV', 'VH']);
    expect(info.bands[0].scale).toBe(0.01);
    expect(info.bands[0].offset).toBe(-50);
    expect(info.bands[0].noDataValue).toBe(-32768);
    expect(info.bands[0].metadata[''].POLARISATION).toBe('VV');
    expect(info.metadata[''].SENSOR).toBe('simulated');
    const back = gdalRead(out, 'int16');
    expect(firstDifference(back.data[0], view.data)).toBe(-1);
    const tif = await GeoTiff.open(out);
    expect(tif.bigTiff).toBe(true);
    expect(tif.info().bands[1]).toMatchObject({ description: 'VH', scale: 0.01, offset: -50 });
    await tif.close();
  });

  it('leaves no partial file when the source fails midway', async () => {
    const out = join(tmp.dir, 'failed.tif');
    const source = {
      width: 64,
      height: 64,
      bands: 1,
      dataType: 'float32' as const,
      readRows(rowOff: number) {
        if (rowOff >= 32) throw new Error('sensor feed interrupted');
        return syntheticRaster(64, 16, 1, 'float32', rowOff);
      },
    };
    await expect(writeCog(out, source, {}, { blockSize: 16 })).rejects.toThrow('sensor feed interrupted');
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(tmp.dir).filter((f) => f.startsWith('failed.tif'))).toEqual([]);
  });
});
