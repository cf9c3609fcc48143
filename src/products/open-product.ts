import { ValidationError } from '../errors.js';
import { Sicd } from '../io/nitf/sicd.js';
import { SafeProduct } from '../io/s1/safe.js';
import { GeoTiff } from '../io/tiff/reader.js';
import type { Acquisition } from './acquisition.js';
import { acquisitionFromGeocoded, acquisitionFromSafe, acquisitionFromSicd } from './acquisition.js';
import type { RecognisedProduct, RecogniseOptions } from './recognise.js';
import { recogniseProduct } from './recognise.js';
import type { Sidecar } from './sidecar.js';
import { readSidecar, sidecarCandidates } from './sidecar.js';

interface Opened {
  recognised: RecognisedProduct;
  acquisition: Acquisition;
  close(): Promise<void>;
}

/** A product opened with its format's reader, ready for `ard` and the catalog. */
export type OpenProduct =
  | (Opened & { format: 'safe' | 'safe-zip'; safe: SafeProduct })
  | (Opened & { format: 'sicd'; sicd: Sicd })
  | (Opened & { format: 'geotiff'; tiff: GeoTiff; sidecar: Sidecar });

/**
 * Recognise a product by its content (recogniseProduct) and open it with its reader: the SAFE with
 * its annotations, the SICD, or the GeoTIFF with its sidecar, and its normalised Acquisition. A
 * geocoded GeoTIFF needs a sidecar for its time and sensor (ValidationError naming the names tried).
 * The caller closes the product.
 * @example
 * const p = await openProduct('/drop/scene.nitf');
 * try { console.log(p.format, p.acquisition.footprint); } finally { await p.close(); }
 */
export async function openProduct(path: string, opts: RecogniseOptions = {}): Promise<OpenProduct> {
  const recognised = await recogniseProduct(path, opts);
  switch (recognised.format) {
    case 'safe':
    case 'safe-zip': {
      const safe = await SafeProduct.open(path, { maxMetadataBytes: opts.maxMetadataBytes });
      try {
        const anns = [];
        for (const pol of safe.polarisations()) anns.push(await safe.annotation(pol));
        if (anns.length === 0)
          throw new ValidationError(`${path}: the SAFE has no product annotation (annotation/s1*-*.xml)`);
        return {
          format: recognised.format,
          recognised,
          acquisition: acquisitionFromSafe(anns),
          safe,
          close: () => safe.close(),
        };
      } catch (err) {
        await safe.close();
        throw err;
      }
    }
    case 'sicd': {
      const sicd = await Sicd.open(path, { maxXmlBytes: opts.maxMetadataBytes });
      return {
        format: 'sicd',
        recognised,
        acquisition: acquisitionFromSicd(sicd),
        sicd,
        close: () => sicd.close(),
      };
    }
    case 'geotiff': {
      if (recognised.sidecar === null)
        throw new ValidationError(
          `${path}: a geocoded GeoTIFF needs a sidecar (a STAC item or JSON) for its time and sensor; none found (tried ${sidecarCandidates(path).join(', ')})`,
        );
      const sidecar = await readSidecar(recognised.sidecar);
      const tiff = await GeoTiff.open(path);
      try {
        return {
          format: 'geotiff',
          recognised,
          acquisition: acquisitionFromGeocoded(tiff.info(), sidecar),
          tiff,
          sidecar,
          close: () => tiff.close(),
        };
      } catch (err) {
        await tiff.close();
        throw err;
      }
    }
  }
}
