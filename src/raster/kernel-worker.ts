import { parentPort } from 'node:worker_threads';
import type { CalibrationGridSpec, NoiseGridSpec } from './calibration.js';
import { CalibrationGrid, calibrateRows, calibrateRowsDenoised, NoiseGrid } from './calibration.js';
import type { CfarParams } from './cfar.js';
import { CfarScratch, cfarRows } from './cfar.js';
import type { CfarRegion } from './cfar-regions.js';
import { colorizeLut } from './colorize.js';
import type { DataType } from './dtype.js';
import { dataTypeInfo, pixelBytes } from './dtype.js';
import type { GeocodeBlock, LatticeRows } from './geocode-sample.js';
import { sampleLatticeBlock } from './geocode-sample.js';
import type { AxisWindows, OverviewResampling } from './overview.js';
import { reduceRows, reductionWindows } from './overview.js';
import { logRatioDb, toDb } from './sar.js';
import type { SpeckleParams } from './speckle.js';
import { SpeckleScratch, speckleRows } from './speckle.js';
import type { ValueStatistics } from './stats.js';
import { valueStatistics } from './stats.js';
import type { RasterView } from './view.js';
import { rasterFrom } from './view.js';
import type { TileWarp } from './warp-tile.js';
import { warpTile } from './warp-tile.js';

/** One strip of a speckle filter over shared memory (see KernelPool.despeckleRows). */
export interface SpeckleJob {
  kind: 'speckle';
  id: number;
  params: SpeckleParams;
  src: SharedArrayBuffer;
  /** Byte offset of the band's plane in src and in dst. */
  srcOffset: number;
  dstOffset: number;
  width: number;
  imageHeight: number;
  srcRow0: number;
  srcRows: number;
  dst: SharedArrayBuffer;
  /** Image row of the dst buffer's first row. */
  dstRow0: number;
  outRow0: number;
  outRows: number;
}

/** One strip of a CFAR pass over a whole image in shared memory (see KernelPool.cfarRows). */
export interface CfarJob {
  kind: 'cfar';
  id: number;
  params: CfarParams;
  src: SharedArrayBuffer;
  valid: SharedArrayBuffer;
  bgCount: SharedArrayBuffer;
  width: number;
  height: number;
  row0: number;
  rows: number;
  mode: 'censor' | 'detect';
  bgCountOut: SharedArrayBuffer | null;
  out: { detection: SharedArrayBuffer; bodyThreshold: SharedArrayBuffer; ratio: SharedArrayBuffer } | null;
  /** Only these rectangles (row0 and rows then unused; see KernelPool.cfarRegions). */
  regions?: CfarRegion[];
}

/** Rows of a log-ratio in dB, 10 log10(a / b), NaN where either is not positive (see KernelPool.logRatioDb). */
export interface LogRatioJob {
  kind: 'logratio';
  id: number;
  a: SharedArrayBuffer;
  b: SharedArrayBuffer;
  dst: SharedArrayBuffer;
  width: number;
  row0: number;
  rows: number;
}

/** A map tile warped from a source window and coloured (see KernelPool.renderTile). */
export interface TileJob {
  kind: 'tile';
  id: number;
  src: SharedArrayBuffer;
  width: number;
  height: number;
  warp: TileWarp;
  lut16: Uint16Array;
  rgb: Uint8Array;
  rgba: SharedArrayBuffer;
}

/** The calibration (and noise) grids later calibrate jobs name by `key` (see KernelPool.setCalibration). */
export interface CalibrationSetupJob {
  kind: 'calibration-setup';
  id: number;
  key: number;
  grid: CalibrationGridSpec;
  noise: NoiseGridSpec | null;
}

/** Rows [row0, row0 + rows) of a strip of DN calibrated to linear power (see KernelPool.calibrateRows). */
export interface CalibrateJob {
  kind: 'calibrate';
  id: number;
  key: number;
  dn: SharedArrayBuffer;
  dnType: DataType;
  out: SharedArrayBuffer;
  width: number;
  /** Image line of the strip's first row. */
  rowOff: number;
  row0: number;
  rows: number;
  /** Write 10 log10 of the values (NaN where not positive). */
  db: boolean;
}

/** Destination rows of an overview reduction between rasters in shared memory (see KernelPool.reduceRows). */
export interface ReduceJob {
  kind: 'reduce';
  id: number;
  method: OverviewResampling;
  src: { buffer: SharedArrayBuffer; byteOffset: number; width: number; height: number; bands: number };
  dst: { buffer: SharedArrayBuffer; byteOffset: number; width: number; height: number; bands: number };
  dataType: DataType;
  /** Image row of src's first row. */
  srcRowOff: number;
  dstRowBase: number;
  dstRow0: number;
  dstRows: number;
  /** Source width and height, destination width and height of the whole level. */
  sizes: [number, number, number, number];
  nodata: number | null;
}

/** Output rows of a geocoded block sampled through a lattice (see KernelPool.geocodeRows). */
export interface GeocodeJob {
  kind: 'geocode';
  id: number;
  /** The source window, float32. */
  src: SharedArrayBuffer;
  block: GeocodeBlock;
  lattice: LatticeRows;
  r0: number;
  r1: number;
  c0: number;
  c1: number;
  /** Output rows from block.outRowOff, float32, targetWidth wide. */
  out: SharedArrayBuffer;
  db: boolean;
}

export type KernelJob =
  | GeocodeJob
  | SpeckleJob
  | CfarJob
  | LogRatioJob
  | TileJob
  | CalibrationSetupJob
  | CalibrateJob
  | ReduceJob;

let reduceWindows: { key: string; xw: AxisWindows; yw: AxisWindows } | null = null;

function runReduce(job: ReduceJob): void {
  const [sw, sh, dw, dh] = job.sizes;
  const key = job.sizes.join(',');
  if (reduceWindows?.key !== key)
    reduceWindows = { key, xw: reductionWindows(sw, dw), yw: reductionWindows(sh, dh) };
  const view = (r: ReduceJob['src']): RasterView => {
    const { array, components } = dataTypeInfo(job.dataType);
    const data = new array(r.buffer, r.byteOffset, r.width * r.height * r.bands * components);
    return rasterFrom(data, r.width, r.height, job.dataType, r.bands, job.nodata);
  };
  reduceRows(
    job.method,
    view(job.src),
    job.srcRowOff,
    view(job.dst),
    job.dstRowBase,
    job.dstRow0,
    job.dstRows,
    reduceWindows.xw,
    reduceWindows.yw,
    job.nodata,
  );
}

const calibrations = new Map<number, { grid: CalibrationGrid; noise: NoiseGrid | null }>();

function runCalibrationSetup(job: CalibrationSetupJob): void {
  calibrations.set(job.key, {
    grid: CalibrationGrid.fromSpec(job.grid),
    noise: job.noise ? NoiseGrid.fromSpec(job.noise) : null,
  });
}

function runCalibrate(job: CalibrateJob): ValueStatistics {
  const c = calibrations.get(job.key);
  if (!c) throw new Error(`no calibration grid ${job.key} in this worker`);
  const W = job.width;
  const dn = new (dataTypeInfo(job.dnType).array)(
    job.dn,
    job.row0 * W * pixelBytes(job.dnType),
    job.rows * W,
  );
  const out = new Float32Array(job.out, job.row0 * W * 4, job.rows * W);
  if (!c.noise && !job.db) return calibrateRows(dn, job.rowOff + job.row0, job.rows, c.grid, out);
  if (c.noise) calibrateRowsDenoised(dn, job.rowOff + job.row0, job.rows, c.grid, c.noise, out);
  else calibrateRows(dn, job.rowOff + job.row0, job.rows, c.grid, out);
  if (job.db) {
    const view = rasterFrom(out, W, job.rows, 'float32', 1, Number.NaN);
    toDb(view, view);
  }
  return valueStatistics(out);
}

const speckleScratch = new SpeckleScratch();
const cfarScratch = new CfarScratch();

function runSpeckle(job: SpeckleJob): void {
  const src = new Float32Array(job.src, job.srcOffset, job.width * job.srcRows);
  const dst = new Float32Array(
    job.dst,
    job.dstOffset + (job.outRow0 - job.dstRow0) * job.width * 4,
    job.width * job.outRows,
  );
  speckleRows(
    src,
    job.width,
    job.imageHeight,
    job.srcRow0,
    job.srcRows,
    dst,
    job.outRow0,
    job.outRows,
    job.params,
    speckleScratch,
  );
}

function runCfar(job: CfarJob): void {
  const out = job.out && {
    detection: new Uint8Array(job.out.detection),
    bodyThreshold: new Float32Array(job.out.bodyThreshold),
    ratio: new Float32Array(job.out.ratio),
  };
  const src = new Float32Array(job.src);
  const valid = new Uint8Array(job.valid);
  const bgCount = new Uint8Array(job.bgCount);
  const bgCountOut = job.bgCountOut && new Uint8Array(job.bgCountOut);
  for (const r of job.regions ?? [{ row0: job.row0, rows: job.rows, col0: 0, cols: job.width }])
    cfarRows(
      src,
      valid,
      bgCount,
      job.width,
      job.height,
      r.row0,
      r.rows,
      job.params,
      job.mode,
      bgCountOut,
      out,
      cfarScratch,
      job.regions ? { col0: r.col0, cols: r.cols } : null,
    );
}

let tileValues: Float32Array | null = null;

function runTile(job: TileJob): void {
  const n = job.warp.tile * job.warp.tile;
  if (tileValues === null || tileValues.length !== n) tileValues = new Float32Array(n);
  warpTile(new Float32Array(job.src, 0, job.width * job.height), job.width, job.height, job.warp, tileValues);
  colorizeLut(tileValues, job.lut16, job.rgb, new Uint8Array(job.rgba, 0, n * 4));
}

function runLogRatio(job: LogRatioJob): void {
  const a = new Float32Array(job.a);
  const b = new Float32Array(job.b);
  const dst = new Float32Array(job.dst);
  logRatioDb(a, b, dst, job.row0 * job.width, (job.row0 + job.rows) * job.width);
}

parentPort?.on('message', (job: KernelJob) => {
  try {
    if (job.kind === 'cfar') runCfar(job);
    else if (job.kind === 'calibrate') {
      parentPort?.postMessage({ id: job.id, result: runCalibrate(job) });
      return;
    } else if (job.kind === 'calibration-setup') runCalibrationSetup(job);
    else if (job.kind === 'reduce') runReduce(job);
    else if (job.kind === 'logratio') runLogRatio(job);
    else if (job.kind === 'tile') runTile(job);
    else if (job.kind === 'geocode')
      sampleLatticeBlock(
        new Float32Array(job.src),
        job.block,
        job.lattice,
        job.r0,
        job.r1,
        job.c0,
        job.c1,
        new Float32Array(job.out),
        job.db,
      );
    else runSpeckle(job);
    parentPort?.postMessage({ id: job.id });
  } catch (err) {
    parentPort?.postMessage({ id: job.id, error: String((err as Error)?.message ?? err) });
  }
});
