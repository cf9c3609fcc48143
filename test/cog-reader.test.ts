import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GeoTiff } from '../src/io/tiff/reader.js';
import type { DataType } from '../src/raster/dtype.js';
import { mulberry32 } from '../src/util/random.js';
import { syntheticRaster } from './fixtures.js';
import { firstDifference, gdalinfoJson, gdalMake, gdalRead, tempDir } from './helpers/gdal.js';

const tmp = tempDir('cog-reader-');
afterAll(() => tmp.cleanup());

interface Case {
  name: string;
  dataType: DataType;
  bands: number;
  options: string[];
  driver?: 'GTiff' | 'COG';
  overviews?: number[];
}

const INT_TYPES: DataType[] = ['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32'];
const FLOAT_TYPES: DataType[] = ['float32', 'float64'];
const COMPLEX_TYPES: DataType[] = ['cint16', 'cfloat32'];
const cases: Case[] = [];
for (const dt of [...INT_TYPES, ...FLOAT_TYPES, ...COMPLEX_TYPES]) {
  const float = FLOAT_TYPES.includes(dt);
  const complex = COMPLEX_TYPES.includes(dt);
  for (const compress of ['NONE', 'DEFLATE', 'LZW', 'PACKBITS']) {
    cases.push({
      name: `${dt} ${compress} strips`,
      dataType: dt,
      bands: 1,
      options: [`COMPRESS=${compress}`, 'BLOCKYSIZE=16'],
    });
    cases.push({
      name: `${dt} ${compress} tiled`,
      dataType: dt,
      bands: 1,
      options: [`COMPRESS=${compress}`, 'TILED=YES', 'BLOCKXSIZE=128', 'BLOCKYSIZE=64'],
    });
  }
  if (!complex) {
    for (const compress of ['DEFLATE', 'LZW']) {
      cases.push({
        name: `${dt} ${compress} predictor 2 tiled`,
        dataType: dt,
        bands: 1,
        options: [`COMPRESS=${compress}`, 'PREDICTOR=2', 'TILED=YES'],
      });
      if (float)
        cases.push({
          name: `${dt} ${compress} predictor 3 strips`,
          dataType: dt,
          bands: 1,
          options: [`COMPRESS=${compress}`, 'PREDICTOR=3'],
        });
    }
    cases.push({
      name: `${dt} 3 bands pixel-interleaved deflate predictor`,
      dataType: dt,
      bands: 3,
      options: ['COMPRESS=DEFLATE', `PREDICTOR=${float ? 3 : 2}`, 'TILED=YES', 'INTERLEAVE=PIXEL'],
    });
  }
  cases.push({
    name: `${dt} 2 bands band-interleaved lzw`,
    dataType: dt,
    bands: 2,
    options: ['COMPRESS=LZW', 'TILED=YES', 'INTERLEAVE=BAND'],
  });
  cases.push({
    name: `${dt} BigTIFF big-endian deflate`,
    dataType: dt,
    bands: 1,
    options: ['COMPRESS=DEFLATE', 'BIGTIFF=YES', 'ENDIANNESS=BIG', 'TILED=YES'],
  });
  cases.push({
    name: `${dt} big-endian predictor`,
    dataType: dt,
    bands: 1,
    options: ['COMPRESS=LZW', `PREDICTOR=${complex ? 1 : float ? 3 : 2}`, 'ENDIANNESS=BIG'],
  });
  cases.push({
    name: `${dt} internal overviews`,
    dataType: dt,
    bands: 1,
    options: ['COMPRESS=DEFLATE', 'TILED=YES'],
    overviews: [2, 4],
  });
  // GDAL 3.6's COG driver cannot write signed bytes (no PIXELTYPE option there).
  if (dt !== 'int8') {
    cases.push({
      name: `${dt} GDAL COG driver`,
      dataType: dt,
      bands: 1,
      driver: 'COG',
      options: [
        'COMPRESS=DEFLATE',
        'BLOCKSIZE=256',
        'OVERVIEWS=AUTO',
        'RESAMPLING=AVERAGE',
        `PREDICTOR=${complex ? 'NO' : 'YES'}`,
      ],
    });
  }
}

describe('GeoTIFF reader reads what GDAL writes, with GDAL values', () => {
  it.each(cases)('$name', async (c) => {
    const width = 601;
    const height = 419;
    const view = syntheticRaster(width, height, c.bands, c.dataType, 11);
    const path = join(tmp.dir, `${c.name.replace(/\s+/g, '_')}.tif`);
    gdalMake(path, view.data, {
      width,
      height,
      bands: c.bands,
      dtype: c.dataType,
      driver: c.driver ?? 'GTiff',
      options: c.options,
      epsg: 32633,
      geotransform: [500000, 10, 0, 6000000, 0, -10],
      overviews: c.overviews,
    });
    const ref = gdalRead(path, c.dataType);
    const tif = await GeoTiff.open(path);
    try {
      expect(tif.levels.map((l) => [l.width, l.height])).toEqual(ref.levels);
      for (let k = 0; k < ref.levels.length; k++) {
        const got = await tif.read(undefined, { level: k });
        const d = firstDifference(got.data, ref.data[k]);
        expect(
          d,
          `level ${k}: first difference at value ${d}: ours ${got.data[d]}, GDAL ${ref.data[k][d]}`,
        ).toBe(-1);
      }
      // Random windows and band subsets equal the same part of the full read.
      const rand = mulberry32(3);
      const comps = c.dataType.startsWith('c') ? 2 : 1;
      for (let t = 0; t < 5; t++) {
        const colOff = Math.floor(rand() * (width - 1));
        const rowOff = Math.floor(rand() * (height - 1));
        const w = 1 + Math.floor(rand() * (width - colOff));
        const h = 1 + Math.floor(rand() * (height - rowOff));
        const band = Math.floor(rand() * c.bands);
        const got = await tif.read({ colOff, rowOff, width: w, height: h }, { bands: [band] });
        const full = ref.data[0];
        for (let y = 0; y < h; y++) {
          const s = (band * width * height + (rowOff + y) * width + colOff) * comps;
          const d = firstDifference(
            got.data.subarray(y * w * comps, (y + 1) * w * comps),
            full.subarray(s, s + w * comps),
          );
          expect(d, `window ${colOff},${rowOff} ${w}x${h} band ${band}: row ${y} differs at ${d}`).toBe(-1);
        }
      }
      const info = tif.info();
      const gi = gdalinfoJson(path) as {
        size: number[];
        bands: { type: string; metadata?: Record<string, Record<string, string>> }[];
        geoTransform: number[];
      };
      expect([info.width, info.height]).toEqual(gi.size);
      if (c.dataType === 'int8' && gi.bands[0].type === 'Byte') {
        // GDAL < 3.7 has no Int8 type: it reports Byte and marks the band SIGNEDBYTE.
        expect(gi.bands[0].metadata?.IMAGE_STRUCTURE?.PIXELTYPE).toBe('SIGNEDBYTE');
      } else {
        expect(info.gdalDataType).toBe(gi.bands[0].type);
      }
      expect(info.geoTransform).toEqual(gi.geoTransform);
      expect(info.epsg).toBe(32633);
    } finally {
      await tif.close();
    }
  });
});
