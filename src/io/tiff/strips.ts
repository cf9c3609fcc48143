import type { RasterView } from '../../raster/view.js';
import type { GeoTiff } from './reader.js';
import type { StripSource } from './writer.js';

/**
 * A strip source over an open GeoTIFF, reading full-width windows of its full resolution.
 * Strips of the same height reuse one buffer: each is valid until the next `readRows`.
 */
export function stripSourceFromTiff(tif: GeoTiff, signal?: AbortSignal): StripSource {
  let last: RasterView | undefined;
  return {
    width: tif.width,
    height: tif.height,
    bands: tif.bands,
    dataType: tif.dataType,
    readRows: async (rowOff, rows) => {
      last = await tif.read(
        { colOff: 0, rowOff, width: tif.width, height: rows },
        { signal, into: last, concurrency: 2 },
      );
      return last;
    },
  };
}
