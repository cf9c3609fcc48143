import { ValidationError } from '../errors.js';
import type { S1Annotation } from '../io/s1/safe.js';
import { SafeProduct } from '../io/s1/safe.js';
import type { GeoTiff } from '../io/tiff/reader.js';
import type { CogMetadata, CogOptions, CogWriteResult, StripSource } from '../io/tiff/writer.js';
import { writeCog } from '../io/tiff/writer.js';
import type { CalibrationTarget } from '../raster/calibration.js';
import { CalibrationGrid, NoiseGrid } from '../raster/calibration.js';
import { dataTypeInfo, pixelBytes } from '../raster/dtype.js';
import { KernelPool } from '../raster/kernel-pool.js';
import type { ValueStatistics } from '../raster/stats.js';
import type { RasterView } from '../raster/view.js';
import { rasterFrom } from '../raster/view.js';

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
  /** Worker threads calibrating strips (default: one per core). */
  workers?: number;
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
      const pool = new KernelPool(opts.workers);
      try {
        const key = await pool.setCalibration(grid, noiseGrid);
        const source = calibratedStrips(tif, pool, key, opts.db ?? false);
        try {
          return await writeCog(output, source, cogMetadata(ann, pol, target, opts.db ?? false), {
            ...opts.cog,
            pool,
          });
        } finally {
          await source.settle();
        }
      } finally {
        await pool.close();
      }
    } finally {
      await tif.close();
    }
  } finally {
    await safe.close();
  }
}

function cogMetadata(ann: S1Annotation, pol: string, target: CalibrationTarget, db: boolean): CogMetadata {
  const name = `${target}${db ? '_dB' : ''}`;
  return {
    nodata: db ? Number.NaN : null,
    bands: [{ description: `${name} ${pol}` }],
    metadata: {
      MISSION: ann.mission,
      MODE: ann.mode,
      PRODUCT_TYPE: ann.productType,
      POLARISATION: pol,
      CALIBRATION: target,
      UNITS: db ? 'dB' : 'linear',
    },
  };
}

/**
 * The measurement calibrated strip by strip on the kernel pool's workers, one strip ahead of the
 * writer: while the writer encodes strip k, the next strip is read and calibrated into the other of
 * two shared buffers (the writer is done with a strip before it asks for the next).
 */
type StripView = RasterView & { statistics: ValueStatistics[] };

function calibratedStrips(
  tif: GeoTiff,
  pool: KernelPool,
  key: number,
  db: boolean,
): StripSource & { settle(): Promise<void> } {
  const W = tif.width;
  const dnType = tif.dataType;
  const slots: { dn: SharedArrayBuffer; out: SharedArrayBuffer }[] = [];
  let ahead: { rowOff: number; rows: number; strip: Promise<StripView> } | null = null;
  let index = 0;
  const produce = async (slot: number, rowOff: number, rows: number): Promise<StripView> => {
    if (!slots[slot] || slots[slot].out.byteLength < W * rows * 4)
      slots[slot] = {
        dn: new SharedArrayBuffer(W * rows * pixelBytes(dnType)),
        out: new SharedArrayBuffer(W * rows * 4),
      };
    const { dn, out } = slots[slot];
    const into = rasterFrom(new (dataTypeInfo(dnType).array)(dn, 0, W * rows), W, rows, dnType, 1, null);
    await tif.read({ colOff: 0, rowOff, width: W, height: rows }, { bands: [0], into });
    const statistics = await pool.calibrateRows(key, dn, dnType, out, W, rowOff, rows, db);
    const view = rasterFrom(new Float32Array(out, 0, W * rows), W, rows, 'float32', 1, Number.NaN);
    return Object.assign(view, { statistics: [statistics] });
  };
  return {
    width: W,
    height: tif.height,
    bands: 1,
    dataType: 'float32',
    readRows: async (rowOff, rows) => {
      const slot = index++ % 2;
      const hit = ahead !== null && ahead.rowOff === rowOff && ahead.rows === rows;
      // A strip read ahead that is not the one asked for still writes into this slot: let it finish.
      if (ahead && !hit) await ahead.strip.catch(() => {});
      const strip = hit && ahead ? ahead.strip : produce(slot, rowOff, rows);
      ahead = null;
      const next = rowOff + rows;
      if (next < tif.height) {
        const nextRows = Math.min(rows, tif.height - next);
        const pending = strip.then(() => produce(1 - slot, next, nextRows));
        pending.catch(() => {});
        ahead = { rowOff: next, rows: nextRows, strip: pending };
      }
      return strip;
    },
    settle: async () => {
      await ahead?.strip.catch(() => {});
    },
  };
}
