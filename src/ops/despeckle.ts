import { ValidationError } from '../errors.js';
import { GeoTiff } from '../io/tiff/reader.js';
import type { CogOptions, CogWriteResult, StripSource } from '../io/tiff/writer.js';
import { writeCog } from '../io/tiff/writer.js';
import { dataTypeInfo } from '../raster/dtype.js';
import { KernelPool } from '../raster/kernel-pool.js';
import type { SpeckleOptions } from '../raster/speckle.js';
import { speckleParams } from '../raster/speckle.js';
import type { RasterView } from '../raster/view.js';
import { georefOf } from './georef.js';

export interface DespeckleFileOptions extends SpeckleOptions {
  cog?: CogOptions;
  /** Worker pool to use (one is started and stopped when not given). */
  pool?: KernelPool;
}

/**
 * Despeckle an intensity GeoTIFF into a float32 COG (the library function behind `sarbridge despeckle`).
 * Streams strip by strip: each strip of output rows is read with its halo of window rows into shared
 * memory, filtered in parallel on worker threads, and handed to the COG writer. The input's nodata
 * value becomes NaN and stays nodata in the output.
 */
export async function despeckleFile(
  input: string,
  output: string,
  opts: DespeckleFileOptions,
): Promise<CogWriteResult> {
  const params = speckleParams(opts);
  const tif = await GeoTiff.open(input);
  const pool = opts.pool ?? new KernelPool();
  try {
    if (dataTypeInfo(tif.dataType).components === 2)
      throw new ValidationError(
        `${input}: complex data (${tif.dataType}) must be detected to intensity before despeckling`,
      );
    const { width, height, bands } = tif;
    const r = params.radius;
    const blockSize = opts.cog?.blockSize ?? 512;
    // Two sets of shared buffers: strip k+1 is read and filtered on the workers while the writer
    // compresses strip k (which the writer no longer needs once it asks for the next).
    const slots = [0, 1].map(() => ({
      src: null as SharedArrayBuffer | null,
      dst: null as SharedArrayBuffer | null,
    }));
    const filterStrip = async (rowOff: number, slot: number): Promise<RasterView<Float32Array>> => {
      const rows = Math.min(blockSize, height - rowOff);
      const haloStart = Math.max(0, rowOff - r);
      const haloEnd = Math.min(height, rowOff + rows + r);
      const srcRows = haloEnd - haloStart;
      const win = { colOff: 0, rowOff: haloStart, width, height: srcRows };
      const s = slots[slot];
      const srcBytes = width * srcRows * bands * 4;
      if (s.src === null || s.src.byteLength < srcBytes) s.src = new SharedArrayBuffer(srcBytes);
      const src = new Float32Array(s.src, 0, width * srcRows * bands);
      if (tif.dataType === 'float32') {
        await tif.read(win, {
          into: { data: src, width, height: srcRows, bands, dataType: 'float32' },
          nodataToNaN: true,
        });
      } else {
        const raw = await tif.read(win);
        const nd = tif.nodata;
        for (let i = 0; i < src.length; i++) src[i] = raw.data[i] === nd ? Number.NaN : raw.data[i];
      }
      const dstBytes = width * rows * bands * 4;
      if (s.dst === null || s.dst.byteLength < dstBytes) s.dst = new SharedArrayBuffer(dstBytes);
      for (let b = 0; b < bands; b++) {
        await pool.despeckleRows(
          params,
          s.src,
          b * width * srcRows * 4,
          s.dst,
          b * width * rows * 4,
          width,
          height,
          haloStart,
          srcRows,
          rowOff,
          rowOff,
          rows,
        );
      }
      return {
        data: new Float32Array(s.dst, 0, width * rows * bands),
        width,
        height: rows,
        bands,
        dataType: 'float32',
        nodata: Number.NaN,
      };
    };
    let ahead: { rowOff: number; strip: Promise<RasterView<Float32Array>> } | null = null;
    let slot = 0;
    const source: StripSource = {
      width,
      height,
      bands,
      dataType: 'float32',
      readRows: async (rowOff, rows) => {
        if (rows !== Math.min(blockSize, height - rowOff))
          throw new ValidationError(
            `strip of ${rows} rows at ${rowOff} does not follow the ${blockSize}-row tiling`,
          );
        const strip = ahead && ahead.rowOff === rowOff ? ahead.strip : filterStrip(rowOff, slot);
        const next = rowOff + rows;
        const current = await strip;
        slot = 1 - slot;
        ahead = next < height ? { rowOff: next, strip: filterStrip(next, slot) } : null;
        ahead?.strip.catch(() => {});
        return current;
      },
    };
    const meta = georefOf(tif, Number.NaN);
    meta.metadata = {
      ...meta.metadata,
      SPECKLE_FILTER: params.filter,
      SPECKLE_WINDOW: String(params.window),
      SPECKLE_LOOKS: String(params.looks),
      ...(params.filter === 'frost' ? { SPECKLE_DERAMP: String(params.deramp) } : {}),
    };
    return await writeCog(output, source, meta, opts.cog ?? {});
  } finally {
    if (!opts.pool) await pool.close();
    await tif.close();
  }
}
