import { ValidationError } from '../errors.js';
import { GeoTiff } from '../io/tiff/reader.js';
import type { CogOptions, CogWriteResult, StripSource } from '../io/tiff/writer.js';
import { writeCog } from '../io/tiff/writer.js';
import { dataTypeInfo } from '../raster/dtype.js';
import { multilook, toDb } from '../raster/sar.js';
import type { RasterView } from '../raster/view.js';
import { georefOf } from './georef.js';

/** Read rows of a real-valued GeoTIFF as float32 with the nodata value turned into NaN. */
async function readFloat32Rows(
  tif: GeoTiff,
  rowOff: number,
  rows: number,
): Promise<RasterView<Float32Array>> {
  const win = { colOff: 0, rowOff, width: tif.width, height: rows };
  if (tif.dataType === 'float32')
    return (await tif.read(win, { nodataToNaN: true })) as RasterView<Float32Array>;
  const raw = await tif.read(win);
  const data = new Float32Array(raw.data.length);
  const nd = tif.nodata;
  for (let i = 0; i < data.length; i++) data[i] = raw.data[i] === nd ? Number.NaN : raw.data[i];
  return {
    data,
    width: raw.width,
    height: raw.height,
    bands: raw.bands,
    dataType: 'float32',
    nodata: Number.NaN,
  };
}

function realOnly(tif: GeoTiff, input: string, what: string): void {
  if (dataTypeInfo(tif.dataType).components === 2)
    throw new ValidationError(`${input}: ${what} needs detected (real) data, not ${tif.dataType}`);
}

/**
 * Multilook an intensity GeoTIFF by `range` columns x `azimuth` rows into a float32 COG whose pixels
 * are that much larger (the library function behind `sarbridge multilook`).
 */
export async function multilookFile(
  input: string,
  output: string,
  looks: { range: number; azimuth: number },
  cog: CogOptions = {},
): Promise<CogWriteResult> {
  const tif = await GeoTiff.open(input);
  try {
    realOnly(tif, input, 'multilook');
    for (const [name, v, max] of [
      ['range', looks.range, tif.width],
      ['azimuth', looks.azimuth, tif.height],
    ] as const) {
      if (!Number.isInteger(v) || v < 1 || v > max)
        throw new ValidationError(`--${name} must be an integer from 1 to ${max}, got ${v}`);
    }
    const width = Math.floor(tif.width / looks.range);
    const height = Math.floor(tif.height / looks.azimuth);
    const source: StripSource = {
      width,
      height,
      bands: tif.bands,
      dataType: 'float32',
      readRows: async (rowOff, rows) =>
        multilook(await readFloat32Rows(tif, rowOff * looks.azimuth, rows * looks.azimuth), looks),
    };
    const meta = georefOf(tif, Number.NaN);
    const gt = tif.geoTransform;
    if (gt)
      meta.geoTransform = [
        gt[0],
        gt[1] * looks.range,
        gt[2] * looks.azimuth,
        gt[3],
        gt[4] * looks.range,
        gt[5] * looks.azimuth,
      ];
    meta.metadata = {
      ...meta.metadata,
      MULTILOOK_RANGE: String(looks.range),
      MULTILOOK_AZIMUTH: String(looks.azimuth),
    };
    return await writeCog(output, source, meta, cog);
  } finally {
    await tif.close();
  }
}

/** Convert linear power (intensity, sigma0) to dB into a float32 COG (behind `sarbridge db`). */
export async function dbFile(input: string, output: string, cog: CogOptions = {}): Promise<CogWriteResult> {
  const tif = await GeoTiff.open(input);
  try {
    realOnly(tif, input, 'dB conversion');
    const source: StripSource = {
      width: tif.width,
      height: tif.height,
      bands: tif.bands,
      dataType: 'float32',
      readRows: async (rowOff, rows) => {
        const v = await readFloat32Rows(tif, rowOff, rows);
        return toDb(v, v);
      },
    };
    const meta = georefOf(tif, Number.NaN);
    meta.metadata = { ...meta.metadata, UNITS: 'dB' };
    return await writeCog(output, source, meta, cog);
  } finally {
    await tif.close();
  }
}
