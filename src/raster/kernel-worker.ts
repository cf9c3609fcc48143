import { parentPort } from 'node:worker_threads';
import type { CfarParams } from './cfar.js';
import { CfarScratch, cfarRows } from './cfar.js';
import { colorizeLut } from './colorize.js';
import { logRatioDb } from './sar.js';
import type { SpeckleParams } from './speckle.js';
import { SpeckleScratch, speckleRows } from './speckle.js';
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

export type KernelJob = SpeckleJob | CfarJob | LogRatioJob | TileJob;

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
  cfarRows(
    new Float32Array(job.src),
    new Uint8Array(job.valid),
    new Uint8Array(job.bgCount),
    job.width,
    job.height,
    job.row0,
    job.rows,
    job.params,
    job.mode,
    job.bgCountOut && new Uint8Array(job.bgCountOut),
    out,
    cfarScratch,
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
    else if (job.kind === 'logratio') runLogRatio(job);
    else if (job.kind === 'tile') runTile(job);
    else runSpeckle(job);
    parentPort?.postMessage({ id: job.id });
  } catch (err) {
    parentPort?.postMessage({ id: job.id, error: String((err as Error)?.message ?? err) });
  }
});
