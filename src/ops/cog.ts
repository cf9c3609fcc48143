import type { CommandBudgetOptions } from '../io/budget.js';
import { assertCommandBudget, commandBudgets } from '../io/budget.js';
import { GeoTiff } from '../io/tiff/reader.js';
import { stripSourceFromTiff } from '../io/tiff/strips.js';
import type { CogOptions, CogWriteResult } from '../io/tiff/writer.js';
import { writeCog } from '../io/tiff/writer.js';
import { dataTypeInfo } from '../raster/dtype.js';
import { georefOf } from './georef.js';

/**
 * Convert a GeoTIFF to a Cloud-Optimized GeoTIFF, keeping CRS, geotransform, nodata and metadata,
 * streaming strip by strip (the library function behind `sarbridge cog`). Memory stays within
 * `maxMemoryBytes` (default 4 GiB): an input whose blocks decode to more than `decodeBudgetBytes`
 * (default 256 MiB), or whose strips of rows would not fit, is refused before decoding.
 */
export async function translateToCog(
  input: string,
  output: string,
  opts: CogOptions & CommandBudgetOptions = {},
): Promise<CogWriteResult> {
  const { memoryBytes, decodeBytes } = commandBudgets(opts);
  const tif = await GeoTiff.open(input, { decodeBudgetBytes: decodeBytes });
  try {
    // The writer holds a few strips of `blockSize` rows per level (read, reduced, tiled, compressed).
    const rows = Math.min(tif.height, opts.blockSize ?? 512);
    const info = dataTypeInfo(tif.dataType);
    const stripBytes = tif.width * rows * tif.bands * info.components * info.componentBytes;
    assertCommandBudget(
      input,
      `cog of ${tif.width} x ${tif.height} x ${tif.bands} ${tif.dataType} (strips of ${rows} rows)`,
      8 * stripBytes + Math.min(decodeBytes, tif.levels[0].blockBytes(tif.levels[0].blockHeight)),
      memoryBytes,
    );
    return await writeCog(output, stripSourceFromTiff(tif, opts.signal), georefOf(tif), opts);
  } finally {
    await tif.close();
  }
}
