import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FormatError, ValidationError } from '../errors.js';
import { TiePointGrid } from '../geo/geolocation.js';
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
  /** Ships to plant on the sea (default 40), with their truth in `<outDir>/truth.geojson`. */
  ships?: number;
}

/** A ship planted in the image: centre (line, pixel), size in pixels, heading, contrast. */
export interface PlantedSafeShip {
  id: string;
  line: number;
  pixel: number;
  lengthPx: number;
  widthPx: number;
  /** Angle of the ship's axis from the image's line direction, degrees. */
  angleDeg: number;
  scrDb: number;
}

/** Seeded ships on the sea of plantedSigma0 (away from the coast and from each other). */
export function plantShips(n: number, width: number, height: number, seed: number): PlantedSafeShip[] {
  const rand = mulberry32(seed * 7919 + 17);
  const ships: PlantedSafeShip[] = [];
  for (let tries = 0; ships.length < n && tries < n * 100; tries++) {
    const line = 50 + rand() * (height - 100);
    const pixel = 50 + rand() * (width - 100);
    const lengthPx = 3 + rand() * 27;
    if (plantedSigma0(pixel + lengthPx + 30, line, width) !== 0.02) continue;
    if (ships.some((q) => Math.hypot(q.line - line, q.pixel - pixel) < (q.lengthPx + lengthPx) / 2 + 10))
      continue;
    ships.push({
      id: `ship-${ships.length + 1}`,
      line,
      pixel,
      lengthPx,
      widthPx: Math.max(1.5, lengthPx / 7),
      angleDeg: rand() * 180,
      scrDb: 10 + rand() * 15,
    });
  }
  return ships;
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
  let truth: unknown = null;
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
      const ships = plantShips(opts.ships ?? 40, width, height, opts.seed ?? 1);
      // Ships by first row, for the rows they cover.
      const reach = ships.map((q) => ({
        q,
        r0: Math.floor(q.line - q.lengthPx),
        r1: Math.ceil(q.line + q.lengthPx),
      }));
      if (pol === wanted[0]) truth = { ships, ann };
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
            const line = rowOff + r;
            for (let x = 0; x < width; x++) {
              const s0 = plantedSigma0(x, line, ann.numberOfSamples) * polScale * gammaUnitMean(rand, looks);
              data[r * width + x] = Math.min(65535, Math.round(Math.sqrt(s0) * lut[x]));
            }
            // Ships: oriented rectangles of constant sigma0 (SCR above the sea), speckled.
            for (const { q, r0, r1 } of reach) {
              if (line < r0 || line > r1) continue;
              const a = (q.angleDeg * Math.PI) / 180;
              const ul = Math.cos(a);
              const up = Math.sin(a);
              const bright = 0.02 * polScale * 10 ** (q.scrDb / 10);
              for (
                let x = Math.max(0, Math.floor(q.pixel - q.lengthPx));
                x <= Math.min(width - 1, Math.ceil(q.pixel + q.lengthPx));
                x++
              ) {
                const dl = line - q.line;
                const dp = x - q.pixel;
                if (
                  Math.abs(dl * ul + dp * up) <= q.lengthPx / 2 &&
                  Math.abs(-dl * up + dp * ul) <= q.widthPx / 2
                )
                  data[r * width + x] = Math.min(
                    65535,
                    Math.round(Math.sqrt(bright * gammaUnitMean(rand, looks)) * lut[x]),
                  );
              }
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
  if (truth) {
    // Truth in lon/lat through the product's own geolocation grid.
    const t = truth as { ships: PlantedSafeShip[]; ann: Awaited<ReturnType<SafeProduct['annotation']>> };
    const ties = new TiePointGrid(
      t.ann.geolocationGrid.map((g) => ({ line: g.line, pixel: g.pixel, lat: g.lat, lon: g.lon })),
      4326,
    );
    const features = t.ships.map((q) => {
      const [lon, lat] = ties.forward(q.line, q.pixel);
      return {
        type: 'Feature',
        geometry: { type: 'Point', coordinates: [lon, lat] },
        properties: {
          id: q.id,
          line: q.line,
          pixel: q.pixel,
          length_px: q.lengthPx,
          width_px: q.widthPx,
          angle_deg: q.angleDeg,
          scr_db: q.scrDb,
        },
      };
    });
    await writeFile(
      join(outDir, 'truth.geojson'),
      `${JSON.stringify({ type: 'FeatureCollection', features })}\n`,
    );
  }
  return safeDir;
}
