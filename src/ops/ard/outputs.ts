import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StacItem } from '../../catalog/types.js';
import type { GeoTransform } from '../../geo/transform.js';
import type { CogWriteResult, StripSource } from '../../io/tiff/writer.js';
import { writeCog } from '../../io/tiff/writer.js';
import type { KernelPool } from '../../raster/kernel-pool.js';
import { toDb } from '../../raster/sar.js';
import type { SpeckleFilter } from '../../raster/speckle.js';
import { sha256File } from '../../util/hash.js';
import type { AcquisitionFields } from './item.js';
import { ardItem } from './item.js';
import type { ArdProgress } from './options.js';
import { QuicklookSampler, quicklookPng, streamedPercentiles } from './quicklook.js';
import { intermediatePrefix, TempRaster } from './temp-raster.js';

export interface ArdResult {
  cog: CogWriteResult;
  quicklook: string;
  itemPath: string;
  item: StacItem;
}

/** A geocoded raster in linear power produced strip by strip (full width, rows in order). */
export interface GeocodedStrips {
  width: number;
  height: number;
  /** Rows [rowOff, rowOff + rows) into `out` (at least rows x width values). */
  strip(rowOff: number, rows: number, out: Float32Array): Promise<void> | void;
  /** strip() gives 10 log10 of the values already (as raster/sar toDb). */
  inDb?: boolean;
}

/** What the item and the COG's metadata say about the product. */
export interface ArdProductInfo {
  id: string;
  target: string;
  pol: string;
  acquisition: AcquisitionFields;
  metadata: Record<string, string>;
  lineage: string;
  looks: { range: number; azimuth: number };
  enl: number;
}

/** Write `data` to `path` through a temporary file in the same folder and a rename. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.partial`;
  try {
    await writeFile(tmp, data, { flag: 'wx' });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** COG tiles and strips, pixels (writeCog's default). */
const BLOCK = 512;

/**
 * The outputs of the analysis-ready step from a geocoded raster in linear power, strip by strip: each
 * strip goes to dB and into the COG writer (float32, NaN nodata, DEFLATE + predictor 3, overviews;
 * the writer streams), its quick-look samples and range are kept; then the quick-look's 2-98 %
 * stretch from a raw copy of the dB strips (an intermediate `.<id>.ard-db.f32`), the PNG, and the STAC item (footprint `ring` in lon/lat),
 * each file written through a temporary file and a rename.
 */
export async function writeArdOutputs(
  src: GeocodedStrips,
  grid: { epsg: number; geoTransform: GeoTransform },
  ring: [number, number][],
  p: ArdProductInfo,
  outDir: string,
  o: {
    spacingM: number;
    filter: SpeckleFilter | 'none';
    signal?: AbortSignal;
    pool?: KernelPool;
    onProgress?: ArdProgress;
  },
): Promise<ArdResult> {
  const { width, height } = src;
  await mkdir(outDir, { recursive: true });
  const sampler = new QuicklookSampler(width, height);
  // Two strips in shared memory (the writer's pool reduces the first overview from them): the next
  // strip is produced into one while the writer encodes the other.
  const rowsPer = Math.min(BLOCK, height);
  const bufs = [0, 1].map(() => new Float32Array(new SharedArrayBuffer(width * rowsPer * 4)));
  let ahead: { rowOff: number; rows: number; done: Promise<void> } | null = null;
  // The strip being produced ahead, if any (awaited before the strips' buffers are let go).
  let inFlight: Promise<void> = Promise.resolve();
  let index = 0;
  // The dB values as the COG holds them, raw, for the quick-look's percentiles (decoding the COG
  // again would cost more than writing and reading them).
  const raw = await TempRaster.create(outDir, `${intermediatePrefix(p.id)}db.f32`, width, height);
  try {
    const source: StripSource = {
      width,
      height,
      bands: 1,
      dataType: 'float32',
      async readRows(rowOff, rows) {
        const slot = index++ % 2;
        const data = bufs[slot].subarray(0, rows * width);
        const hit = ahead !== null && ahead.rowOff === rowOff && ahead.rows === rows;
        if (ahead && !hit) await ahead.done.catch(() => {});
        const done = hit && ahead ? ahead.done : Promise.resolve(src.strip(rowOff, rows, data));
        ahead = null;
        await done;
        const next = rowOff + rows;
        if (next < height) {
          const nextRows = Math.min(BLOCK, height - next);
          const pending = Promise.resolve(
            src.strip(next, nextRows, bufs[1 - slot].subarray(0, nextRows * width)),
          );
          pending.catch(() => {});
          ahead = { rowOff: next, rows: nextRows, done: pending };
          inFlight = pending;
        }
        const view = {
          data,
          width,
          height: rows,
          bands: 1,
          dataType: 'float32' as const,
          nodata: Number.NaN,
        };
        if (!src.inDb) toDb(view, view);
        sampler.add(data, rowOff, rows);
        await raw.appendRows(data, rows);
        o.onProgress?.('geocode', rowOff + rows, height);
        return view;
      },
    };
    return await writeOutputFiles(source, raw, sampler, bufs[0], grid, ring, p, outDir, o);
  } finally {
    await inFlight.catch(() => {});
    await raw.remove();
  }
}

async function writeOutputFiles(
  source: StripSource,
  raw: TempRaster,
  sampler: QuicklookSampler,
  scratch: Float32Array,
  grid: { epsg: number; geoTransform: GeoTransform },
  ring: [number, number][],
  p: ArdProductInfo,
  outDir: string,
  o: { spacingM: number; filter: SpeckleFilter | 'none'; signal?: AbortSignal; pool?: KernelPool },
): Promise<ArdResult> {
  const { width, height } = source;
  const cogPath = join(outDir, `${p.id}.tif`);
  const pngPath = join(outDir, `${p.id}.png`);
  const itemPath = join(outDir, `${p.id}.json`);
  const cog = await writeCog(
    cogPath,
    source,
    {
      epsg: grid.epsg,
      geoTransform: grid.geoTransform,
      nodata: Number.NaN,
      bands: [{ description: `${p.target}_dB ${p.pol}` }],
      metadata: {
        ...p.metadata,
        POLARISATION: p.pol,
        CALIBRATION: p.target,
        UNITS: 'dB',
        SPECKLE_FILTER: o.filter,
      },
    },
    { blockSize: BLOCK, signal: o.signal, pool: o.pool },
  );
  await raw.finish();
  const [lo, hi] = await streamedPercentiles(raw, sampler.min, sampler.max, [2, 98], BLOCK, scratch);
  await writeFileAtomic(pngPath, quicklookPng(sampler, lo, hi));
  const item = ardItem({
    id: p.id,
    acquisition: p.acquisition,
    footprint: ring,
    grid: { epsg: grid.epsg, width, height, geoTransform: grid.geoTransform },
    spacingM: o.spacingM,
    looks: p.looks,
    enl: p.enl,
    lineage: p.lineage,
    data: {
      file: `${p.id}.tif`,
      band: `${p.target}_${p.pol}`,
      title: `${p.target} ${p.pol} (dB)`,
      sizeBytes: (await stat(cogPath)).size,
      checksum: `1220${await sha256File(cogPath)}`,
    },
    statistics: cog.statistics?.[0] ?? null,
    thumbnail: `${p.id}.png`,
  });
  await writeFileAtomic(itemPath, `${JSON.stringify(item, null, 2)}\n`);
  return { cog, quicklook: pngPath, itemPath, item };
}
