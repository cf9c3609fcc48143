import type { GeoTiff } from './reader.js';
import type { StripSource } from './writer.js';

/** A strip source over an open GeoTIFF, reading full-width windows of its full resolution. */
export function stripSourceFromTiff(tif: GeoTiff, signal?: AbortSignal): StripSource {
  return {
    width: tif.width,
    height: tif.height,
    bands: tif.bands,
    dataType: tif.dataType,
    readRows: (rowOff, rows) => tif.read({ colOff: 0, rowOff, width: tif.width, height: rows }, { signal }),
  };
}
