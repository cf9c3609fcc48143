import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CogCompression } from '../src/io/tiff/writer.js';
import { writeCog } from '../src/io/tiff/writer.js';
import type { DataType } from '../src/raster/dtype.js';
import { KernelPool } from '../src/raster/kernel-pool.js';
import { rasterFrom } from '../src/raster/view.js';
import { syntheticRaster } from './fixtures.js';
import { firstDifference, gdalMake, gdalRead, tempDir, validateCog } from './helpers/gdal.js';

const tmp = tempDir('cog-writer-');
afterAll(() => tmp.cleanup());

interface Case {
  dataType: DataType;
  compression: CogCompression;
  predictor: 'auto' | 1 | 2 | 3;
  blockSize: number;
  resampling: 'average' | 'nearest';
  bands: number;
  deflateStrategy?: 'auto' | 'default' | 'huffman' | 'rle';
}

const cases: Case[] = [];
const types: DataType[] = [
  'uint8',
  'int8',
  'uint16',
  'int16',
  'uint32',
  'int32',
  'float32',
  'float64',
  'cint16',
  'cfloat32',
];
for (const dataType of types) {
  const complex = dataType.startsWith('c');
  const float = dataType.includes('float');
  cases.push({
    dataType,
    compression: 'deflate',
    predictor: 'auto',
    blockSize: 256,
    resampling: 'average',
    bands: 1,
  });
  cases.push({
    dataType,
    compression: 'lzw',
    predictor: 'auto',
    blockSize: 512,
    resampling: 'nearest',
    bands: 1,
  });
  cases.push({
    dataType,
    compression: 'none',
    predictor: 1,
    blockSize: 256,
    resampling: 'average',
    bands: 1,
  });
  if (!complex) {
    cases.push({
      dataType,
      compression: 'deflate',
      predictor: 2,
      blockSize: 256,
      resampling: 'nearest',
      bands: 1,
    });
    cases.push({
      dataType,
      compression: 'lzw',
      predictor: float ? 3 : 2,
      blockSize: 256,
      resampling: 'average',
      bands: 3,
    });
  }
  cases.push({
    dataType,
    compression: 'deflate',
    predictor: 1,
    blockSize: 256,
    resampling: 'average',
    bands: 2,
  });
}

// Every DEFLATE strategy writes streams GDAL decodes.
for (const deflateStrategy of ['default', 'huffman', 'rle'] as const) {
  cases.push({
    dataType: 'float32',
    compression: 'deflate',
    predictor: 3,
    blockSize: 256,
    resampling: 'average',
    bands: 1,
    deflateStrategy,
  });
  cases.push({
    dataType: 'int16',
    compression: 'deflate',
    predictor: 2,
    blockSize: 256,
    resampling: 'average',
    bands: 1,
    deflateStrategy,
  });
}

/**
 * Write a synthetic raster as a COG and check it with GDAL: the validator, level 0 read back, and the
 * overviews against gdaladdo on the same pixels. With a pool, the pixels sit in shared memory so the
 * first overview level is reduced half on a worker, half on this thread.
 */
async function checkAgainstGdal(c: Case, pool?: KernelPool): Promise<void> {
  const width = 700;
  const height = 530;
  let view = syntheticRaster(width, height, c.bands, c.dataType, 7);
  if (pool) {
    const Array_ = view.data.constructor as new (b: SharedArrayBuffer) => typeof view.data;
    const data = new Array_(new SharedArrayBuffer(view.data.byteLength));
    data.set(view.data);
    view = rasterFrom(data, width, height, c.dataType, c.bands, view.nodata ?? null);
  }
  const name = `${c.dataType}-${c.compression}-${c.predictor}-${c.blockSize}-${c.resampling}-${c.bands}-${c.deflateStrategy ?? 'auto'}${pool ? '-pool' : ''}`;
  const path = join(tmp.dir, `${name}.tif`);
  const res = await writeCog(
    path,
    view,
    { epsg: 32631, geoTransform: [600000, 10, 0, 4800000, 0, -10] },
    {
      compression: c.compression,
      predictor: c.predictor,
      blockSize: c.blockSize,
      resampling: c.resampling,
      deflateStrategy: c.deflateStrategy,
      pool,
    },
  );
  const v = validateCog(path);
  expect(v.errors, `validator errors for ${name}`).toEqual([]);

  const got = gdalRead(path, c.dataType);
  expect(got.levels).toEqual(res.levels.map((l) => [l.width, l.height]));
  const diff = firstDifference(got.data[0], view.data);
  expect(diff, `first differing value of level 0 at index ${diff}`).toBe(-1);

  // Overviews against gdaladdo on the same pixels.
  // GDAL 3.6 has no signed byte type: the reference averages the same values stored as int16.
  const refType: DataType = c.dataType === 'int8' ? 'int16' : c.dataType;
  const refData = c.dataType === 'int8' ? Int16Array.from(view.data) : view.data;
  const ref = join(tmp.dir, `${name}-ref.tif`);
  const factors = res.levels.slice(1).map((_, i) => 2 ** (i + 1));
  gdalMake(ref, refData, {
    width,
    height,
    bands: c.bands,
    dtype: refType,
    overviews: factors,
    resampling: c.resampling.toUpperCase(),
  });
  const refRead = gdalRead(ref, refType);
  expect(refRead.levels).toEqual(got.levels);
  // GDAL 3.6 averages everything but Byte and UInt16 in float32 (sums included), so its float and
  // int32/uint32 overviews carry float32 rounding of the inputs' magnitude; ours are computed in double.
  const float32Work = ['float32', 'float64', 'cfloat32', 'int32', 'uint32'].includes(c.dataType);
  let maxAbs = 0;
  for (const v of view.data) maxAbs = Math.max(maxAbs, Math.abs(v));
  const absTol = float32Work ? 4 * maxAbs * 2 ** -24 : 0;
  for (let k = 1; k < got.levels.length; k++) {
    const d = firstDifference(got.data[k], refRead.data[k], 0, absTol);
    expect(
      d,
      `overview ${k} differs from gdaladdo at index ${d}: ours ${got.data[k][d]}, GDAL ${refRead.data[k][d]}`,
    ).toBe(-1);
  }
}

describe('COG writer, checked by GDAL', () => {
  it.each(cases)('$dataType $compression predictor $predictor block $blockSize $resampling x$bands', (c) =>
    checkAgainstGdal(c),
  );
});

describe('COG writer with a kernel pool reducing the first overview, checked by GDAL', () => {
  let pool: KernelPool;
  beforeAll(() => {
    pool = new KernelPool(2);
  });
  afterAll(() => pool.close());
  const pooled = cases.filter((c) => c.bands === 1 && c.compression === 'deflate' && !c.deflateStrategy);
  it.each(pooled)('$dataType predictor $predictor $resampling', (c) => checkAgainstGdal(c, pool));
});
