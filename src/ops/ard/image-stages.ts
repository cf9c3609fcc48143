import { ValidationError } from '../../errors.js';
import type { KernelPool } from '../../raster/kernel-pool.js';
import { multilook } from '../../raster/sar.js';
import type { SpeckleParams } from '../../raster/speckle.js';
import { TempRaster } from './temp-raster.js';

/**
 * A detected, calibrated image in image geometry, produced strip by strip: linear power (sigma0 ...),
 * float32, NaN nodata, `width` pixels a row.
 */
export interface ImageStrips {
  readonly width: number;
  readonly height: number;
  /** Rows [rowOff, rowOff + rows), full width; called in row order. */
  readRows(rowOff: number, rows: number): Promise<Float32Array>;
}

/** Bytes of full-resolution float32 rows one stage holds at once (about 64 MiB). */
export const STRIP_BYTES = 64 * 1024 * 1024;

function checkedStripBytes(v: number | undefined): number {
  if (v === undefined) return STRIP_BYTES;
  if (!(Number.isInteger(v) && v > 0))
    throw new ValidationError(`strip size must be a positive number of bytes, got ${v}`);
  return v;
}

/**
 * Multilook `src` by `looks.x` columns x `looks.y` rows (sarbridge's `multilook`: the mean of the
 * valid pixels of each block; trailing rows and columns that do not fill a block are dropped) into
 * an intermediate raster `dir/name`, reading strips of whole blocks of rows, so the result is the
 * same as multilooking the whole image. Looks of 1 x 1 copy the image.
 */
export async function multilookToRaster(
  src: ImageStrips,
  looks: { x: number; y: number },
  dir: string,
  name: string,
  o: {
    stripBytes?: number;
    signal?: AbortSignal;
    onRows?: (doneRows: number, totalRows: number) => void;
  } = {},
): Promise<TempRaster> {
  const stripBytes = checkedStripBytes(o.stripBytes);
  const signal = o.signal;
  const W = Math.floor(src.width / looks.x);
  const H = Math.floor(src.height / looks.y);
  const out = await TempRaster.create(dir, name, W, H);
  try {
    // Output rows per strip: whole blocks of looks.y source rows, about stripBytes of source.
    const k = Math.max(1, Math.floor(stripBytes / (src.width * 4 * looks.y)));
    for (let y0 = 0; y0 < H; y0 += k) {
      signal?.throwIfAborted();
      const rows = Math.min(k, H - y0);
      const data = await src.readRows(y0 * looks.y, rows * looks.y);
      if (looks.x === 1 && looks.y === 1) {
        await out.appendRows(data, rows);
        o.onRows?.(y0 + rows, H);
        continue;
      }
      const view = {
        data,
        width: src.width,
        height: rows * looks.y,
        bands: 1,
        dataType: 'float32' as const,
        nodata: Number.NaN,
      };
      const ml = multilook(view, { range: looks.x, azimuth: looks.y });
      await out.appendRows(ml.data, rows);
      o.onRows?.(y0 + rows, H);
    }
    await out.finish();
    return out;
  } catch (err) {
    await out.remove();
    throw err;
  }
}

/**
 * Multilook `src` (as multilookToRaster) and speckle-filter it on the worker pool into an intermediate
 * raster `dir/name`, in one pass without a multilooked intermediate: while the workers filter a strip
 * (with `params.radius` rows of halo, so every pixel sees the window it would in the whole image),
 * this thread reads, calibrates and multilooks the rows of the next strip into the other of two shared
 * buffers. Strips are half of `stripBytes` each, so the two buffers hold about what one strip did.
 */
export async function multilookAndDespeckle(
  src: ImageStrips,
  looks: { x: number; y: number },
  params: SpeckleParams,
  pool: KernelPool,
  dir: string,
  name: string,
  o: {
    stripBytes?: number;
    signal?: AbortSignal;
    onRows?: (doneRows: number, totalRows: number) => void;
  } = {},
): Promise<TempRaster> {
  const stripBytes = checkedStripBytes(o.stripBytes);
  const signal = o.signal;
  const width = Math.floor(src.width / looks.x);
  const height = Math.floor(src.height / looks.y);
  const out = await TempRaster.create(dir, name, width, height);
  const r = params.radius;
  const stripRows = Math.max(1, Math.min(height, Math.floor(stripBytes / 2 / (width * 4))));
  const capacity = Math.min(height, stripRows + 2 * r);
  // Output rows read at once: whole blocks of looks.y source rows, about half of stripBytes of source.
  const readRows = Math.max(1, Math.floor(stripBytes / 2 / (src.width * 4 * looks.y)));
  // Multilooked rows [a, b) into `into` from its row `at`.
  const produce = async (a: number, b: number, into: Float32Array, at: number): Promise<void> => {
    for (let y = a; y < b; y += readRows) {
      const n = Math.min(readRows, b - y);
      const data = await src.readRows(y * looks.y, n * looks.y);
      const o = (at + y - a) * width;
      if (looks.x === 1 && looks.y === 1) {
        into.set(data.subarray(0, n * width), o);
        continue;
      }
      const view = {
        data,
        width: src.width,
        height: n * looks.y,
        bands: 1,
        dataType: 'float32' as const,
        nodata: Number.NaN,
      };
      into.set(multilook(view, { range: looks.x, azimuth: looks.y }).data, o);
    }
  };
  const bufs = [0, 1].map(() => new SharedArrayBuffer(width * capacity * 4));
  const dst = new SharedArrayBuffer(width * stripRows * 4);
  try {
    // The current buffer holds image rows [h0, h1).
    let cur = 0;
    let h0 = 0;
    let h1 = Math.min(height, stripRows + r);
    await produce(h0, h1, new Float32Array(bufs[cur]), 0);
    for (let rowOff = 0; rowOff < height; rowOff += stripRows) {
      signal?.throwIfAborted();
      const rows = Math.min(stripRows, height - rowOff);
      const filtered = pool.despeckleRows(
        params,
        bufs[cur],
        0,
        dst,
        0,
        width,
        height,
        h0,
        h1 - h0,
        rowOff,
        rowOff,
        rows,
      );
      filtered.catch(() => {});
      // Meanwhile: the next strip's rows, its halo copied from this buffer, the rest produced.
      const next = rowOff + rows;
      let n0 = h0;
      let n1 = h1;
      if (next < height) {
        const nextRows = Math.min(stripRows, height - next);
        n0 = Math.max(0, next - r);
        n1 = Math.min(height, next + nextRows + r);
        const into = new Float32Array(bufs[1 - cur]);
        const keep0 = Math.max(n0, h0);
        if (h1 > keep0)
          into.set(
            new Float32Array(bufs[cur], (keep0 - h0) * width * 4, (h1 - keep0) * width),
            (keep0 - n0) * width,
          );
        if (n1 > h1) await produce(h1, n1, into, h1 - n0);
      }
      await filtered;
      await out.appendRows(new Float32Array(dst, 0, width * rows), rows);
      o.onRows?.(rowOff + rows, height);
      cur = 1 - cur;
      h0 = n0;
      h1 = n1;
    }
    await out.finish();
    return out;
  } catch (err) {
    await out.remove();
    throw err;
  }
}
