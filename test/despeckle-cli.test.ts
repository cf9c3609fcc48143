import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GeoTiff } from '../src/io/tiff/reader.js';
import { writeCog } from '../src/io/tiff/writer.js';
import { speckleScene } from './fixtures.js';
import { runCapture } from './helpers/cli.js';
import { compareImages } from './helpers/compare.js';
import { gdalRead, tempDir, validateCog } from './helpers/gdal.js';
import { otb, readFloat32 } from './helpers/otb.js';

const tmp = tempDir('despeckle-cli-');
afterAll(() => tmp.cleanup());
// 600 x 1300: several 256-row strips, so strip halos and the split between workers are exercised.
const W = 600;
const H = 1300;
const scene = speckleScene(W, H, 5, 1);
const input = join(tmp.dir, 'scene.tif');

beforeAll(async () => {
  await writeCog(
    input,
    scene,
    { epsg: 32633, geoTransform: [400000, 10, 0, 5000000, 0, -10] },
    { compression: 'none', overviews: 'none', statistics: false },
  );
});

async function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  const r = await runCapture(args);
  return { code: r.code, stderr: r.stderr };
}

describe('sarbridge despeckle streams strips with halos through the worker pool', () => {
  it.each([
    ['lee', 7, ['-filter', 'lee', '-filter.lee.rad', '3', '-filter.lee.nblooks', '1']],
    ['gammamap', 5, ['-filter', 'gammamap', '-filter.gammamap.rad', '2', '-filter.gammamap.nblooks', '1']],
    ['frost', 5, ['-filter', 'frost', '-filter.frost.rad', '2', '-filter.frost.deramp', '0.1']],
  ] as const)(
    '%s %i x %i equals otbcli_Despeckle on a multi-strip image',
    async (filter, window, otbArgs) => {
      const out = join(tmp.dir, `${filter}.tif`);
      const r = await cli([
        'despeckle',
        input,
        out,
        '--filter',
        filter,
        '--window',
        String(window),
        '--blocksize',
        '256',
      ]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(validateCog(out).errors).toEqual([]);
      const ref = join(tmp.dir, `${filter}-otb.tif`);
      otb('Despeckle', ['-in', input, '-out', ref, 'float', ...otbArgs]);
      const { max, first } = compareImages(await readFloat32(out), await readFloat32(ref), W);
      console.log(
        `despeckle ${filter} ${window}x${window} via CLI: max relative difference from OTB ${max.toExponential(2)}`,
      );
      expect(first, `first differing pixel: ${first}`).toBeNull();
      const tif = await GeoTiff.open(out);
      const info = tif.info();
      await tif.close();
      expect(info.epsg).toBe(32633);
      expect(info.geoTransform).toEqual([400000, 10, 0, 5000000, 0, -10]);
      expect(info.metadata.SPECKLE_FILTER).toBe(filter);
      expect(info.dataType).toBe('float32');
    },
  );

  it('refined-lee runs through the CLI and lowers the speckle', async () => {
    const out = join(tmp.dir, 'rl.tif');
    expect((await cli(['despeckle', input, out, '--filter', 'refined-lee'])).code).toBe(0);
    const a = await readFloat32(out);
    const before = scene.data;
    // Coefficient of variation over a homogeneous part of the dark region (no planted bright point:
    // those sit at x % 97 === 13), before and after.
    const cv = (d: ArrayLike<number>) => {
      let s = 0;
      let s2 = 0;
      let n = 0;
      for (let y = 300; y < 1000; y++) {
        for (let x = 20; x < 100; x++) {
          const v = d[y * W + x];
          s += v;
          s2 += v * v;
          n++;
        }
      }
      const m = s / n;
      return Math.sqrt(s2 / n - m * m) / m;
    };
    expect(cv(a)).toBeLessThan(cv(before) / 2);
  });

  it.each([
    { args: ['despeckle', 'IN', 'OUT'], code: 2, msg: /required option '--filter <name>' not specified/ },
    {
      args: ['despeckle', 'IN', 'OUT', '--filter', 'median'],
      code: 2,
      msg: /--filter must be one of boxcar, lee, kuan, frost, gammamap, refined-lee/,
    },
    {
      args: ['despeckle', 'IN', 'OUT', '--filter', 'lee', '--window', '4'],
      code: 1,
      msg: /window must be an odd integer from 3 to 101, got 4/,
    },
    {
      args: ['despeckle', 'IN', 'OUT', '--filter', 'lee', '--looks', '-2'],
      code: 2,
      msg: /--looks must be a positive number/,
    },
    {
      args: ['despeckle', 'IN', 'OUT', '--filter', 'refined-lee', '--window', '5'],
      code: 1,
      msg: /refined-lee uses a 7 x 7 window/,
    },
    {
      args: ['multilook', 'IN', 'OUT', '--range', '0'],
      code: 2,
      msg: /--range must be an integer from 1 to 1000/,
    },
    {
      args: ['multilook', 'IN', 'OUT', '--azimuth', '5000'],
      code: 2,
      msg: /--azimuth must be an integer from 1 to 1000/,
    },
  ])('exits $code for $args', async ({ args, code, msg }) => {
    const r = await cli(args.map((a) => (a === 'IN' ? input : a === 'OUT' ? join(tmp.dir, 'bad.tif') : a)));
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(msg);
  });
});

describe('sarbridge multilook and db', () => {
  it('multilook 3 x 2 averages blocks, scales the pixel size, and GDAL reads it', async () => {
    const out = join(tmp.dir, 'ml.tif');
    expect((await cli(['multilook', input, out, '--range', '3', '--azimuth', '2'])).code).toBe(0);
    expect(validateCog(out).errors).toEqual([]);
    const got = gdalRead(out, 'float32');
    expect(got.levels[0]).toEqual([200, 650]);
    const d = got.data[0];
    for (const [x, y] of [
      [0, 0],
      [57, 311],
      [199, 649],
    ]) {
      let s = 0;
      for (let dy = 0; dy < 2; dy++)
        for (let dx = 0; dx < 3; dx++) s += scene.data[(2 * y + dy) * W + 3 * x + dx];
      expect(d[y * 200 + x]).toBeCloseTo(Math.fround(s / 6), 5);
    }
    const gt = JSON.parse(execFileSync('gdalinfo', ['-json', out], { encoding: 'utf8' })).geoTransform;
    expect(gt).toEqual([400000, 30, 0, 5000000, 0, -20]);
  });

  it('db writes 10 log10 of each pixel', async () => {
    const out = join(tmp.dir, 'db.tif');
    expect((await cli(['db', input, out])).code).toBe(0);
    const got = gdalRead(out, 'float32').data[0];
    for (const i of [0, 1234, 600 * 700 + 17, W * H - 1])
      expect(got[i]).toBeCloseTo(10 * Math.log10(scene.data[i]), 4);
    const tif = await GeoTiff.open(out);
    expect(tif.info().metadata.UNITS).toBe('dB');
    await tif.close();
  });
});
