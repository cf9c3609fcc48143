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
  o: { stripBytes?: number; signal?: AbortSignal } = {},
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
    }
    await out.finish();
    return out;
  } catch (err) {
    await out.remove();
    throw err;
  }
}

/**
 * Speckle-filter an intermediate raster into another (`dir/name`) on the worker pool, strip by strip:
 * each strip of output rows is read with `params.radius` rows of halo above and below into shared
 * memory, so every pixel sees the same window as when the whole image is filtered at once.
 */
export async function despeckleRaster(
  src: TempRaster,
  params: SpeckleParams,
  pool: KernelPool,
  dir: string,
  name: string,
  o: { stripBytes?: number; signal?: AbortSignal } = {},
): Promise<TempRaster> {
  const stripBytes = checkedStripBytes(o.stripBytes);
  const signal = o.signal;
  const { width, height } = src;
  const r = params.radius;
  const stripRows = Math.max(1, Math.min(height, Math.floor(stripBytes / (width * 4))));
  const out = await TempRaster.create(dir, name, width, height);
  try {
    const srcBuf = new SharedArrayBuffer(width * Math.min(height, stripRows + 2 * r) * 4);
    const dstBuf = new SharedArrayBuffer(width * stripRows * 4);
    for (let rowOff = 0; rowOff < height; rowOff += stripRows) {
      signal?.throwIfAborted();
      const rows = Math.min(stripRows, height - rowOff);
      const haloStart = Math.max(0, rowOff - r);
      const haloEnd = Math.min(height, rowOff + rows + r);
      const srcRows = haloEnd - haloStart;
      await src.read(
        { colOff: 0, rowOff: haloStart, width, height: srcRows },
        new Float32Array(srcBuf, 0, width * srcRows),
      );
      await pool.despeckleRows(
        params,
        srcBuf,
        0,
        dstBuf,
        0,
        width,
        height,
        haloStart,
        srcRows,
        rowOff,
        rowOff,
        rows,
      );
      await out.appendRows(new Float32Array(dstBuf, 0, width * rows), rows);
    }
    await out.finish();
    return out;
  } catch (err) {
    await out.remove();
    throw err;
  }
}
