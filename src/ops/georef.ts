import type { GeoTiff } from '../io/tiff/reader.js';
import type { CogMetadata } from '../io/tiff/writer.js';

/**
 * The georeferencing and descriptive metadata of an open GeoTIFF, to carry over to a derived COG
 * (statistics are left out: the writer computes the new raster's own).
 */
export function georefOf(tif: GeoTiff, nodata: number | null = tif.nodata): CogMetadata {
  const metadata: Record<string, string> = {};
  for (const it of tif.metadataItems) if (it.sample === undefined && !it.domain) metadata[it.name] = it.value;
  return {
    epsg: tif.epsg,
    geoTransform: tif.geoTransform,
    nodata,
    metadata,
    bands: tif.bandInfo().map((b) => {
      const md: Record<string, string> = {};
      for (const [k, v] of Object.entries(b.metadata)) if (!k.startsWith('STATISTICS_')) md[k] = v;
      return { description: b.description, scale: b.scale, offset: b.offset, metadata: md };
    }),
  };
}
