import { ValidationError } from '../errors.js';
import type { S1Annotation } from '../io/s1/safe.js';
import { SafeProduct } from '../io/s1/safe.js';
import type { CogOptions, CogWriteResult, StripSource } from '../io/tiff/writer.js';
import { writeCog } from '../io/tiff/writer.js';
import type { CalibrationTarget } from '../raster/calibration.js';
import { CalibrationGrid, calibrateRows, calibrateRowsDenoised, NoiseGrid } from '../raster/calibration.js';
import { toDb } from '../raster/sar.js';

/** The polarisation to process: the one asked for, else VV when the product has it, else the first. */
export function choosePolarisation(safe: SafeProduct, asked?: string): string {
  const pols = safe.polarisations();
  const pol = (asked ?? (pols.includes('VV') ? 'VV' : pols[0]))?.toUpperCase();
  if (!pol || !pols.includes(pol))
    throw new ValidationError(
      `--pol ${asked ?? ''} is not in the product (it has ${pols.join(', ') || 'none'})`,
    );
  return pol;
}

/**
 * The calibration grid of a polarisation for an image `width` samples wide, and its thermal noise grid
 * when asked for (`range` alone as Orfeo ToolBox's earlier releases did, or `range-azimuth`).
 */
export async function calibrationGrids(
  safe: SafeProduct,
  pol: string,
  ann: S1Annotation,
  target: CalibrationTarget,
  width: number,
  noise: 'none' | 'range' | 'range-azimuth' = 'none',
): Promise<{ grid: CalibrationGrid; noise: NoiseGrid | null }> {
  const key = target === 'sigma0' ? 'sigmaNought' : target === 'beta0' ? 'betaNought' : 'gamma';
  const vectors = await safe.calibration(pol);
  const grid = new CalibrationGrid(
    vectors.map((v) => ({ timeS: v.timeS, line: v.line, pixel: v.pixel, values: v[key] })),
    width,
    ann.numberOfLines,
    ann.firstLineTimeS,
    ann.lastLineTimeS,
  );
  if (noise === 'none') return { grid, noise: null };
  const n = await safe.noise(pol);
  const range = new CalibrationGrid(
    n.range.map((v) => ({ timeS: v.timeS, line: v.line, pixel: v.pixel, values: v.lut })),
    width,
    ann.numberOfLines,
    ann.firstLineTimeS,
    ann.lastLineTimeS,
  );
  return { grid, noise: new NoiseGrid(range, noise === 'range' ? [] : n.azimuth) };
}

export interface CalibrateOptions {
  /** Polarisation (default: VV if present, else the first). */
  pol?: string;
  target?: CalibrationTarget;
  /** Write 10 log10 of the calibrated values. */
  db?: boolean;
  cog?: CogOptions;
  /** Accept a measurement smaller than the annotation (a crop from the first line and sample). */
  allowCrop?: boolean;
  /** Subtract thermal noise (range x azimuth noise LUTs), clamped at 0. */
  removeNoise?: boolean;
  /** Use the range noise LUT only (as Orfeo ToolBox 8.1 does), ignoring the azimuth LUT. */
  rangeNoiseOnly?: boolean;
}

/**
 * Calibrate a Sentinel-1 GRD SAFE (folder or zip) to sigma0, beta0 or gamma0 into a float32 COG
 * (the library function behind `sarbridge calibrate`), streaming the measurement strip by strip.
 */
export async function calibrateFile(
  safePath: string,
  output: string,
  opts: CalibrateOptions = {},
): Promise<CogWriteResult> {
  const target = opts.target ?? 'sigma0';
  if (!['sigma0', 'beta0', 'gamma0'].includes(target))
    throw new ValidationError(`--to must be sigma0, beta0 or gamma0, got '${target}'`);
  const safe = await SafeProduct.open(safePath);
  try {
    const pol = choosePolarisation(safe, opts.pol);
    const ann = await safe.annotation(pol);
    const tif = await safe.measurement(pol, ann, opts.allowCrop);
    try {
      const { grid, noise: noiseGrid } = await calibrationGrids(
        safe,
        pol,
        ann,
        target,
        tif.width,
        opts.removeNoise ? (opts.rangeNoiseOnly ? 'range' : 'range-azimuth') : 'none',
      );
      const lut = new Float64Array(tif.width);
      const source: StripSource = {
        width: tif.width,
        height: tif.height,
        bands: 1,
        dataType: 'float32',
        readRows: async (rowOff, rows) => {
          const dn = await tif.read({ colOff: 0, rowOff, width: tif.width, height: rows }, { bands: [0] });
          const out = {
            data: new Float32Array(tif.width * rows),
            width: tif.width,
            height: rows,
            bands: 1,
            dataType: 'float32' as const,
            nodata: Number.NaN,
          };
          if (noiseGrid) calibrateRowsDenoised(dn.data, rowOff, rows, grid, noiseGrid, out.data);
          else calibrateRows(dn.data, rowOff, rows, grid, out.data, lut);
          return opts.db ? toDb(out, out) : out;
        },
      };
      const name = `${target}${opts.db ? '_dB' : ''}`;
      return await writeCog(
        output,
        source,
        {
          nodata: opts.db ? Number.NaN : null,
          bands: [{ description: `${name} ${pol}` }],
          metadata: {
            MISSION: ann.mission,
            MODE: ann.mode,
            PRODUCT_TYPE: ann.productType,
            POLARISATION: pol,
            CALIBRATION: target,
            UNITS: opts.db ? 'dB' : 'linear',
          },
        },
        opts.cog ?? {},
      );
    } finally {
      await tif.close();
    }
  } finally {
    await safe.close();
  }
}
