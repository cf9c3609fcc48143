import type { RecognisedProduct } from '../products/recognise.js';
import { recogniseProduct } from '../products/recognise.js';
import type { ArdOptions, ArdResult } from './ard.js';
import { ardGeoTiff, ardSafe, ardSicd } from './ard.js';

/**
 * The analysis-ready step for any product sarbridge takes (behind `sarbridge ard` and the pipeline):
 * the product is recognised by its content (recogniseProduct: SAFE folder or zip, SICD, geocoded
 * GeoTIFF with its sidecar, `opts.meta` or found beside it), then ardSafe, ardSicd or ardGeoTiff runs.
 * Unknown content is an UnrecognisedProductError (a ValidationError) naming the file.
 */
export async function ardProduct(
  path: string,
  outDir: string,
  opts: ArdOptions & { meta?: string } = {},
): Promise<ArdResult & { recognised: RecognisedProduct }> {
  const recognised = await recogniseProduct(path, {
    sidecar: opts.meta,
    maxMetadataBytes: opts.maxMetadataBytes,
  });
  const run = { safe: ardSafe, 'safe-zip': ardSafe, sicd: ardSicd, geotiff: ardGeoTiff }[recognised.format];
  return { ...(await run(path, outDir, opts)), recognised };
}
