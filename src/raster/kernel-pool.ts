import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { SarbridgeError } from '../errors.js';
import { siblingWorkerUrl, startWorker } from '../util/workers.js';
import type { CfarParams } from './cfar.js';
import type { CfarJob, KernelJob, LogRatioJob, SpeckleJob, TileJob } from './kernel-worker.js';
import type { SpeckleParams } from './speckle.js';

/**
 * Worker threads for pixel kernels over shared memory: a strip of rows is split between the workers,
 * each reading the rows (and halo) it needs from the shared source and writing its own output rows.
 */
export class KernelPool {
  private readonly workers: Worker[];
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private nextId = 0;

  constructor(readonly size = Math.max(1, availableParallelism())) {
    const url = siblingWorkerUrl(import.meta.url, 'kernel-worker');
    this.workers = Array.from({ length: size }, () => {
      const w = startWorker(url);
      w.on('message', (m: { id: number; error?: string }) => {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.error !== undefined) p?.reject(new SarbridgeError(`kernel worker failed: ${m.error}`));
        else p?.resolve();
      });
      w.on('error', (err) => {
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
      return w;
    });
  }

  /**
   * Filter image rows [outRow0, outRow0 + outRows) in parallel. `src` holds image rows
   * [srcRow0, srcRow0 + srcRows) (with the halo) from byte `srcOffset`, `dst` image rows from `dstRow0`
   * from byte `dstOffset`; both float32, `width` pixels wide, in SharedArrayBuffers.
   */
  async despeckleRows(
    params: SpeckleParams,
    src: SharedArrayBuffer,
    srcOffset: number,
    dst: SharedArrayBuffer,
    dstOffset: number,
    width: number,
    imageHeight: number,
    srcRow0: number,
    srcRows: number,
    dstRow0: number,
    outRow0: number,
    outRows: number,
  ): Promise<void> {
    await this.split(
      outRow0,
      outRows,
      (a, b, id): SpeckleJob => ({
        kind: 'speckle',
        id,
        params,
        src,
        srcOffset,
        dst,
        dstOffset,
        width,
        imageHeight,
        srcRow0,
        srcRows,
        dstRow0,
        outRow0: a,
        outRows: b - a,
      }),
    );
  }

  /**
   * One CFAR pass (see cfarRows) over a whole image in shared memory, its rows split between the
   * workers. `out` holds SharedArrayBuffers of the detection outputs in 'detect' mode.
   */
  async cfarRows(
    params: CfarParams,
    buffers: { src: SharedArrayBuffer; valid: SharedArrayBuffer; bgCount: SharedArrayBuffer },
    width: number,
    height: number,
    mode: 'censor' | 'detect',
    bgCountOut: SharedArrayBuffer | null,
    out: CfarJob['out'],
  ): Promise<void> {
    await this.split(
      0,
      height,
      (a, b, id): CfarJob => ({
        kind: 'cfar',
        id,
        params,
        ...buffers,
        width,
        height,
        row0: a,
        rows: b - a,
        mode,
        bgCountOut,
        out,
      }),
    );
  }

  /** dst = 10 log10(a / b) over a width x height image in shared memory (NaN where undefined). */
  async logRatioDb(
    a: SharedArrayBuffer,
    b: SharedArrayBuffer,
    dst: SharedArrayBuffer,
    width: number,
    height: number,
  ): Promise<void> {
    await this.split(
      0,
      height,
      (r0, r1, id): LogRatioJob => ({ kind: 'logratio', id, a, b, dst, width, row0: r0, rows: r1 - r0 }),
    );
  }

  private nextWorker = 0;

  /** Warp and colour one map tile on the next worker in turn. */
  async renderTile(job: Omit<TileJob, 'kind' | 'id'>): Promise<void> {
    const id = this.nextId++;
    const k = this.nextWorker++ % this.workers.length;
    await new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.workers[k].postMessage({ ...job, kind: 'tile', id } satisfies TileJob);
    });
  }

  /** Split rows [row0, row0 + rows) into one job per worker and wait for all. */
  private async split(row0: number, rows: number, make: (a: number, b: number, id: number) => KernelJob) {
    const parts = Math.min(this.workers.length, rows);
    const jobs: Promise<void>[] = [];
    for (let k = 0; k < parts; k++) {
      const a = row0 + Math.floor((k * rows) / parts);
      const b = row0 + Math.floor(((k + 1) * rows) / parts);
      const id = this.nextId++;
      const job = make(a, b, id);
      jobs.push(
        new Promise<void>((resolve, reject) => {
          this.pending.set(id, { resolve, reject });
          this.workers[k].postMessage(job);
        }),
      );
    }
    await Promise.all(jobs);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Shared float32 storage of `length` values. */
export function sharedFloat32(length: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(length * 4));
}

export type { SpeckleParams };
