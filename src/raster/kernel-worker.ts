import { parentPort } from 'node:worker_threads';
import type { SpeckleParams } from './speckle.js';
import { SpeckleScratch, speckleRows } from './speckle.js';

/** One strip of a speckle filter over shared memory (see KernelPool.despeckleRows). */
export interface SpeckleJob {
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

const scratch = new SpeckleScratch();

parentPort?.on('message', (job: SpeckleJob) => {
  try {
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
      scratch,
    );
    parentPort?.postMessage({ id: job.id });
  } catch (err) {
    parentPort?.postMessage({ id: job.id, error: String((err as Error)?.message ?? err) });
  }
});
