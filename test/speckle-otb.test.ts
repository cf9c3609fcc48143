import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCog } from '../src/io/tiff/writer.js';
import { despeckle } from '../src/raster/speckle.js';
import { speckleScene } from './fixtures.js';
import { compareImages } from './helpers/compare.js';
import { tempDir } from './helpers/gdal.js';
import { otb, readFloat32 } from './helpers/otb.js';

const SIZE = 512;
const tmp = tempDir('speckle-otb-');
afterAll(() => tmp.cleanup());
const scene = speckleScene(SIZE, SIZE, 7, 1);
const input = join(tmp.dir, 'scene.tif');

beforeAll(async () => {
  await writeCog(
    input,
    scene,
    { epsg: 32633, geoTransform: [0, 10, 0, 0, 0, -10] },
    { compression: 'none', overviews: 'none', statistics: false },
  );
});

const cases: {
  filter: 'lee' | 'kuan' | 'gammamap' | 'frost';
  window: number;
  looks: number;
  deramp: number;
}[] = [];
for (const window of [3, 5, 7]) {
  for (const looks of [1, 4]) {
    cases.push(
      { filter: 'lee', window, looks, deramp: 0.1 },
      { filter: 'kuan', window, looks, deramp: 0.1 },
      { filter: 'gammamap', window, looks, deramp: 0.1 },
    );
  }
  cases.push(
    { filter: 'frost', window, looks: 1, deramp: 0.1 },
    { filter: 'frost', window, looks: 1, deramp: 0.5 },
  );
}

describe('speckle filters equal otbcli_Despeckle (OTB 8.1) within 1e-5 relative on every pixel', () => {
  it.each(cases)('$filter window $window looks $looks deramp $deramp', async (c) => {
    const out = join(tmp.dir, `${c.filter}-${c.window}-${c.looks}-${c.deramp}.tif`);
    const r = String((c.window - 1) / 2);
    const extra =
      c.filter === 'frost'
        ? ['-filter.frost.deramp', String(c.deramp)]
        : [`-filter.${c.filter}.nblooks`, String(c.looks)];
    otb('Despeckle', [
      '-in',
      input,
      '-out',
      out,
      'float',
      '-filter',
      c.filter,
      `-filter.${c.filter}.rad`,
      r,
      ...extra,
    ]);
    const ref = await readFloat32(out);
    const ours = despeckle(scene, { filter: c.filter, window: c.window, looks: c.looks, deramp: c.deramp });
    const { max: maxRel, first } = compareImages(ours.data, ref, SIZE);
    console.log(
      `${c.filter} ${c.window}x${c.window} L=${c.looks} deramp=${c.deramp}: max relative difference ${maxRel.toExponential(2)}`,
    );
    expect(first, `first differing pixel: ${first}`).toBeNull();
  });

  it.each([3, 5, 7])('boxcar %i x %i equals otbcli_Smoothing -type mean', async (window) => {
    const out = join(tmp.dir, `boxcar-${window}.tif`);
    otb('Smoothing', [
      '-in',
      input,
      '-out',
      out,
      'float',
      '-type',
      'mean',
      '-type.mean.radius',
      String((window - 1) / 2),
    ]);
    const ref = await readFloat32(out);
    const ours = despeckle(scene, { filter: 'boxcar', window });
    const { max: maxRel, first } = compareImages(ours.data, ref, SIZE);
    console.log(`boxcar ${window}x${window}: max relative difference ${maxRel.toExponential(2)}`);
    expect(first, `first differing pixel: ${first}`).toBeNull();
  });
});
