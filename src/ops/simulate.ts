import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FormatError, ValidationError } from '../errors.js';
import { SafeProduct } from '../io/s1/safe.js';
import { FileSource } from '../io/source.js';
import type { StripSource } from '../io/tiff/writer.js';
import { writeCog } from '../io/tiff/writer.js';
import { ZipArchive } from '../io/zip.js';
import { gammaUnitMean, mulberry32 } from '../util/random.js';
import { calibrationGrids } from './calibrate.js';

export interface FillSafeOptions {
  seed?: number;
  /** Write only the first `width` x `height` pixels (a crop of the annotated raster). */
  crop?: { width: number; height: number };
  /** Looks of the simulated speckle (default 4.4, about Sentinel-1 IW GRDH's ENL). */
  looks?: number;
  /** Polarisations to write (default: all the product has). */
  pols?: string[];
}

/** The planted sigma0 at a pixel: sea at 0.02 (-17 dB), land at 0.2 (-7 dB) beyond a coastline, a bright town. */
export function plantedSigma0(x: number, y: number, width: number): number {
  const coast = width * 0.45 + 600 * Math.sin(y / 900);
  if (x < coast) return 0.02;
  const dx = x - width * 0.7;
  const dy = y - 3000;
  return dx * dx + dy * dy < 400 * 400 ? 2.0 : 0.2;
}

/**
 * `sarbridge simulate fill-safe`: unpack a real SAFE (metadata only) into `outDir` and write measurement
 * TIFFs of the annotated size (or a crop) whose calibration recovers the planted sigma0 (times speckle):
 * DN = sqrt(sigma0 * speckle) * A, A the sigmaNought LUT at the pixel. Returns the SAFE folder written.
 */
export async function fillSafe(
  safeZipOrDir: string,
  outDir: string,
  opts: FillSafeOptions = {},
): Promise<string> {
  const looks = opts.looks ?? 4.4;
  if (!(looks > 0)) throw new ValidationError(`looks must be positive, got ${looks}`);
  const src = await FileSource.open(safeZipOrDir);
  let zip: ZipArchive;
  try {
    zip = await ZipArchive.open(src);
  } catch (err) {
    await src.close();
    if (err instanceof FormatError)
      throw new FormatError(safeZipOrDir, 'fill-safe needs the SAFE as a .zip (as distributed)', {
        cause: err,
      });
    throw err;
  }
  let safeDir = '';
  try {
    for (const e of zip.entries) {
      if (e.name.endsWith('/')) continue;
      const out = join(outDir, e.name);
      const top = e.name.split('/')[0];
      if (top.endsWith('.SAFE')) safeDir = join(outDir, top);
      await mkdir(dirname(out), { recursive: true });
      await writeFile(out, await zip.read(e));
    }
  } finally {
    await src.close();
  }
  if (!safeDir) throw new FormatError(safeZipOrDir, 'holds no .SAFE folder');
  const safe = await SafeProduct.open(safeDir);
  try {
    const wanted = opts.pols?.map((p) => p.toUpperCase()) ?? safe.polarisations();
    for (const pol of wanted) {
      if (!safe.polarisations().includes(pol))
        throw new ValidationError(
          `polarisation ${pol} is not in the product (it has ${safe.polarisations().join(', ')})`,
        );
      const ann = await safe.annotation(pol);
      const width = opts.crop?.width ?? ann.numberOfSamples;
      const height = opts.crop?.height ?? ann.numberOfLines;
      if (width > ann.numberOfSamples || height > ann.numberOfLines || width < 1 || height < 1) {
        throw new ValidationError(
          `crop ${width} x ${height} must fit the annotated ${ann.numberOfSamples} x ${ann.numberOfLines}`,
        );
      }
      const { grid } = await calibrationGrids(safe, pol, ann, 'sigma0', width);
      const rand = mulberry32((opts.seed ?? 1) + (pol === 'VV' ? 0 : 1000));
      const lut = new Float64Array(width);
      const polScale = pol === 'VV' ? 1 : 0.2; // cross-pol about 7 dB below co-pol
      const source: StripSource = {
        width,
        height,
        bands: 1,
        dataType: 'uint16',
        readRows: (rowOff, rows) => {
          const data = new Uint16Array(width * rows);
          for (let r = 0; r < rows; r++) {
            grid.lineLut(rowOff + r, lut);
            for (let x = 0; x < width; x++) {
              const s0 =
                plantedSigma0(x, rowOff + r, ann.numberOfSamples) * polScale * gammaUnitMean(rand, looks);
              data[r * width + x] = Math.min(65535, Math.round(Math.sqrt(s0) * lut[x]));
            }
          }
          return { data, width, height: rows, bands: 1, dataType: 'uint16', nodata: null };
        },
      };
      const measurement = join(safeDir, 'measurement', `${safe.polarisationFile(pol)}.tiff`);
      await mkdir(dirname(measurement), { recursive: true });
      await writeCog(
        measurement,
        source,
        {
          imageDescription: `Sentinel-${ann.mission.slice(1)} ${ann.mode} ${ann.productType}H L1`.replace(
            'GRDH',
            'GRD HR',
          ),
        },
        { compression: 'none', overviews: 'none', statistics: false },
      );
    }
  } finally {
    await safe.close();
  }
  return safeDir;
}
