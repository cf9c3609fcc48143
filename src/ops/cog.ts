import { GeoTiff } from '../io/tiff/reader.js';
import { stripSourceFromTiff } from '../io/tiff/strips.js';
import type { CogOptions, CogWriteResult } from '../io/tiff/writer.js';
import { writeCog } from '../io/tiff/writer.js';
import { georefOf } from './georef.js';

/**
 * Convert a GeoTIFF to a Cloud-Optimized GeoTIFF, keeping CRS, geotransform, nodata and metadata,
 * streaming strip by strip (the library function behind `sarbridge cog`).
 */
export async function translateToCog(
  input: string,
  output: string,
  opts: CogOptions = {},
): Promise<CogWriteResult> {
  const tif = await GeoTiff.open(input);
  try {
    return await writeCog(output, stripSourceFromTiff(tif, opts.signal), georefOf(tif), opts);
  } finally {
    await tif.close();
  }
}
