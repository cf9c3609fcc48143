import { GeoTiff } from './tiff/reader.js';
import { stripSourceFromTiff } from './tiff/strips.js';
import type { CogOptions, CogWriteResult } from './tiff/writer.js';
import { writeCog } from './tiff/writer.js';

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
    const bandInfo = tif.bandInfo();
    const metadata: Record<string, string> = {};
    for (const it of tif.metadataItems)
      if (it.sample === undefined && !it.domain) metadata[it.name] = it.value;
    return await writeCog(
      output,
      stripSourceFromTiff(tif, opts.signal),
      {
        epsg: tif.epsg,
        geoTransform: tif.geoTransform,
        nodata: tif.nodata,
        metadata,
        bands: bandInfo.map((b) => {
          const md: Record<string, string> = {};
          for (const [k, v] of Object.entries(b.metadata)) if (!k.startsWith('STATISTICS_')) md[k] = v;
          return { description: b.description, scale: b.scale, offset: b.offset, metadata: md };
        }),
      },
      opts,
    );
  } finally {
    await tif.close();
  }
}
