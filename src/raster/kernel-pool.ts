import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { SarbridgeError } from '../errors.js';
import { siblingWorkerUrl, startWorker } from '../util/workers.js';
import type { CalibrationGrid, NoiseGrid } from './calibration.js';
import type { CfarParams } from './cfar.js';
import type { CfarRegion } from './cfar-regions.js';
import type { DataType } from './dtype.js';
import type { GeocodeBlock, LatticeRows } from './geocode-sample.js';
import type {
  CalibrateJob,
  CfarJob,
  GeocodeJob,
  KernelJob,
  LogRatioJob,
  SpeckleJob,
  TileJob,
} from './kernel-worker.js';
import type { OverviewResampling } from './overview.js';
import type { SpeckleParams } from './speckle.js';
import type { ValueStatistics } from './stats.js';
import { mergeValueStatistics } from './stats.js';
import type { RasterView } from './view.js';

/**
 * Worker threads for pixel kernels over shared memory: a strip of rows is split between the workers,
 * each reading the rows (and halo) it needs from the shared source and writing its own output rows.
 */
export class KernelPool {
  private readonly workers: Worker[];
  private readonly pending = new Map<
    number,
    { resolve: (result?: unknown) => void; reject: (e: Error) => void }
  >();
  private nextId = 0;

  constructor(readonly size = Math.max(1, availableParallelism())) {
    const url = siblingWorkerUrl(import.meta.url, 'kernel-worker');
    this.workers = Array.from({ length: size }, () => {
      const w = startWorker(url);
      w.on('message', (m: { id: number; error?: string; result?: unknown }) => {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.error !== undefined) p?.reject(new SarbridgeError(`kernel worker failed: ${m.error}`));
        else p?.resolve(m.result);
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

  /**
   * One CFAR pass over rectangles of a whole image in shared memory (see changedRegions), spread over
   * the workers by area (largest first, each to the least loaded worker).
   */
  async cfarRegions(
    params: CfarParams,
    buffers: { src: SharedArrayBuffer; valid: SharedArrayBuffer; bgCount: SharedArrayBuffer },
    width: number,
    height: number,
    mode: 'censor' | 'detect',
    bgCountOut: SharedArrayBuffer | null,
    out: CfarJob['out'],
    regions: CfarRegion[],
  ): Promise<void> {
    const lists: CfarRegion[][] = this.workers.map(() => []);
    const load = this.workers.map(() => 0);
    for (const r of [...regions].sort((a, b) => b.rows * b.cols - a.rows * a.cols)) {
      const k = load.indexOf(Math.min(...load));
      lists[k].push(r);
      load[k] += (r.rows + 2 * params.halfBackground) * (r.cols + 2 * params.halfBackground);
    }
    await Promise.all(
      lists.map((list, k) =>
        list.length === 0
          ? null
          : this.post(this.workers[k], (id) => ({
              kind: 'cfar',
              id,
              params,
              ...buffers,
              width,
              height,
              row0: 0,
              rows: 0,
              mode,
              bgCountOut,
              out,
              regions: list,
            })),
      ),
    );
  }

  /**
   * Geocode output rows [r0, r1), columns [c0, c1) of a block from its source window `src` through
   * the lattice (see sampleLatticeBlock), the rows split between the workers; `out` holds output
   * rows from block.outRowOff. Both float32 in shared memory.
   */
  async geocodeRows(
    src: SharedArrayBuffer,
    block: GeocodeBlock,
    lattice: LatticeRows,
    r0: number,
    r1: number,
    c0: number,
    c1: number,
    out: SharedArrayBuffer,
    db: boolean,
  ): Promise<void> {
    await this.split(
      r0,
      r1 - r0,
      (a, b, id): GeocodeJob => ({ kind: 'geocode', id, src, block, lattice, r0: a, r1: b, c0, c1, out, db }),
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

  private nextCalibration = 0;

  /**
   * Send a calibration grid (and noise grid) to every worker once; calibrateRows names it by the key
   * returned. The grids live as long as the pool.
   */
  async setCalibration(grid: CalibrationGrid, noise: NoiseGrid | null): Promise<number> {
    const key = this.nextCalibration++;
    await this.broadcast((id) => ({
      kind: 'calibration-setup',
      id,
      key,
      grid: grid.spec(),
      noise: noise?.spec() ?? null,
    }));
    return key;
  }

  /**
   * Calibrate a strip of `rows` DN rows (image lines from `rowOff`, `width` samples, in shared memory)
   * to linear power, or dB with `db`, in `out` (shared float32), split between the workers:
   * calibrateRows or, with a noise grid, calibrateRowsDenoised, with the grids of `key`. Returns the
   * strip's statistics (finite values), computed by the workers while the rows are in their caches.
   */
  async calibrateRows(
    key: number,
    dn: SharedArrayBuffer,
    dnType: DataType,
    out: SharedArrayBuffer,
    width: number,
    rowOff: number,
    rows: number,
    db = false,
  ): Promise<ValueStatistics> {
    const parts = (await this.split(
      0,
      rows,
      (a, b, id): CalibrateJob => ({
        kind: 'calibrate',
        id,
        key,
        dn,
        dnType,
        out,
        width,
        rowOff,
        row0: a,
        rows: b - a,
        db,
      }),
    )) as ValueStatistics[];
    return mergeValueStatistics(parts);
  }

  /**
   * Overview rows [dstRow0, dstRow0 + dstRows) of a level `sizes` = [source width, source height,
   * destination width, destination height], from `src` (image rows from `srcRowOff`) into `dst` from
   * its first row, on the next worker; both rasters in shared memory.
   */
  async reduceRows(
    method: OverviewResampling,
    src: RasterView,
    srcRowOff: number,
    dst: RasterView,
    dstRow0: number,
    dstRows: number,
    sizes: [number, number, number, number],
    nodata: number | null,
  ): Promise<void> {
    const shared = (v: RasterView) => {
      if (!(v.data.buffer instanceof SharedArrayBuffer))
        throw new SarbridgeError('internal: reduceRows needs rasters in shared memory');
      return {
        buffer: v.data.buffer,
        byteOffset: v.data.byteOffset,
        width: v.width,
        height: v.height,
        bands: v.bands,
      };
    };
    const job = {
      kind: 'reduce' as const,
      method,
      src: shared(src),
      dst: shared(dst),
      dataType: src.dataType,
      srcRowOff,
      dstRowBase: 0,
      dstRow0,
      dstRows,
      sizes,
      nodata,
    };
    await this.onNextWorker((id) => ({ ...job, id }));
  }

  /** Post a job (made with its id) to a worker; resolves with the worker's result. */
  private post(worker: Worker, make: (id: number) => KernelJob): Promise<unknown> {
    const id = this.nextId++;
    return new Promise<unknown>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage(make(id));
    });
  }

  /** The same job on every worker (each gets its own id). */
  private async broadcast(make: (id: number) => KernelJob): Promise<void> {
    await Promise.all(this.workers.map((w) => this.post(w, make)));
  }

  private nextWorker = 0;

  /** Warp and colour one map tile on the next worker in turn. */
  async renderTile(job: Omit<TileJob, 'kind' | 'id'>): Promise<void> {
    await this.onNextWorker((id): TileJob => ({ ...job, kind: 'tile', id }));
  }

  /** One job on the next worker in turn. */
  private onNextWorker(make: (id: number) => KernelJob): Promise<unknown> {
    return this.post(this.workers[this.nextWorker++ % this.workers.length], make);
  }

  /** Split rows [row0, row0 + rows) into one job per worker and wait for all. */
  private async split(
    row0: number,
    rows: number,
    make: (a: number, b: number, id: number) => KernelJob,
  ): Promise<unknown[]> {
    const parts = Math.min(this.workers.length, rows);
    const jobs: Promise<unknown>[] = [];
    for (let k = 0; k < parts; k++) {
      const a = row0 + Math.floor((k * rows) / parts);
      const b = row0 + Math.floor(((k + 1) * rows) / parts);
      jobs.push(this.post(this.workers[k], (id) => make(a, b, id)));
    }
    return await Promise.all(jobs);
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
