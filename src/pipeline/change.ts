import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProjectionFields } from '../catalog/item-builder.js';
import { changeFiles } from '../exploit/change.js';
import { latticeOverlap } from '../exploit/change-grid.js';
import type { Grid } from '../exploit/landmask.js';
import { lonLatBounds } from '../geo/crs.js';
import { GeoTiff } from '../io/tiff/reader.js';
import { RetryJobLater } from '../jobs/queue.js';
import { atomicDir, type PipelineContext, workDir } from './context.js';
import type { ProductRecord } from './registry.js';
import { type ArdStepResult, ardInto, assetKey, localArdCog } from './steps.js';

export interface ChangeStepResult {
  /** The previous acquisition compared with, or null when there is none. */
  previous: { productId: string; itemId: string; datetime: string } | null;
  changeItemId?: string;
  tifKey?: string;
  geojsonKey?: string;
  tif?: { sizeBytes: number; checksum: string };
  geojson?: { sizeBytes: number; checksum: string };
  areas?: number;
  proj?: ProjectionFields;
  /** Lon/lat ring of the change raster's bounds. */
  footprint?: [number, number][];
  /**
   * 'own': both ARD COGs were on one grid; 'intersection': on one pixel lattice with other extents,
   * compared on the intersection (the change raster's grid); 'resampled': on other lattices (CRS,
   * pixel size, or origins not whole pixels apart), this product was made again on the previous one's grid.
   */
  grid?: 'own' | 'intersection' | 'resampled';
}

/** Intersection of two bounds over the smaller one's area (0 when apart). */
export function overlapFraction(a: number[], b: number[]): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (!(w > 0 && h > 0)) return 0;
  const area = (x: number[]) => (x[2] - x[0]) * (x[3] - x[1]);
  return (w * h) / Math.min(area(a), area(b));
}

/** RetryJobLater delay while an earlier acquisition's ARD is still being made. */
const WAIT_FOR_PREVIOUS_MS = 3000;

/**
 * The previous acquisition of the same area and geometry: of the products with the same geometry key
 * (mode, polarisation, orbit direction, look side, relative orbit) acquired earlier and not failed,
 * whose footprints overlap by at least `minOverlap` and whose incidence differs by at most
 * `maxIncidenceDiffDeg`, the latest. Null when there is none.
 */
export async function previousAcquisition(
  ctx: PipelineContext,
  p: ProductRecord,
): Promise<ProductRecord | null> {
  if (!p.geometryKey || !p.acquiredAt || !p.bbox) return null;
  const minOverlap = ctx.minOverlap ?? 0.3;
  const maxInc = ctx.maxIncidenceDiffDeg ?? 3;
  for (const q of await ctx.registry.earlier(p.geometryKey, p.acquiredAt, p.id)) {
    if (!q.bbox || overlapFraction(p.bbox, q.bbox) < minOverlap) continue;
    const a = p.acquisition?.incidenceDeg ?? null;
    const b = q.acquisition?.incidenceDeg ?? null;
    if (a !== null && b !== null && Math.abs(a - b) > maxInc) continue;
    return q;
  }
  return null;
}

async function gridOf(
  path: string,
): Promise<{ epsg: number; geoTransform: number[]; width: number; height: number }> {
  const tif = await GeoTiff.open(path);
  try {
    const i = tif.info();
    return { epsg: i.epsg ?? 0, geoTransform: i.geoTransform ?? [], width: i.width, height: i.height };
  } finally {
    await tif.close();
  }
}

/**
 * change: log-ratio change against the previous acquisition of the same area and geometry. While
 * the latest earlier one's ARD is still being made, the job is retried later (so products that
 * arrive together are compared in acquisition order, not arrival order). Two ARD COGs on one pixel
 * lattice (one CRS and spacing; ARD grids are snapped to multiples of it) are compared on the
 * intersection of their grids; on different lattices, this product is made again on the previous
 * one's grid.
 */
export async function changeStep(
  ctx: PipelineContext,
  p: ProductRecord,
  ard: ArdStepResult,
): Promise<ChangeStepResult> {
  const prev = await previousAcquisition(ctx, p);
  if (!prev) return { previous: null };
  const prevArd = await ctx.registry.step(prev.id, 'ard');
  if (prevArd?.state !== 'done')
    throw new RetryJobLater(
      `waiting for the ARD of the previous acquisition ${prev.id}`,
      WAIT_FOR_PREVIOUS_MS,
    );
  const before = prevArd.result as ArdStepResult;
  const beforeCog = await localArdCog(ctx, prev.id, before);
  let afterCog = await localArdCog(ctx, p.id, ard);
  // ARD grids are snapped to multiples of the spacing: two passes in one CRS at one spacing are on
  // one pixel lattice and are compared on the intersection; only other lattices are made again.
  let grid: 'own' | 'intersection' | 'resampled' = 'own';
  const [gb, ga] = [await gridOf(beforeCog), await gridOf(afterCog)] as Grid[];
  const overlap = latticeOverlap(gb, ga, [beforeCog, afterCog]);
  if (overlap === null) {
    const r = await ardInto(ctx, p, join(workDir(ctx, p.id), `ard-like-${prev.id}`), beforeCog);
    afterCog = r.cogFile;
    grid = 'resampled';
  } else if (!overlap.same) grid = 'intersection';
  const dir = join(workDir(ctx, p.id), `change-${prev.id}`);
  await atomicDir(dir, async (tmp) => {
    await changeFiles(beforeCog, afterCog, join(tmp, 'change'), { maxMemoryBytes: ctx.ard?.maxMemoryBytes });
  });
  const changeItemId = `${ard.itemId}-change`;
  const tifKey = assetKey(p.collection, changeItemId, `${changeItemId}.tif`);
  const geojsonKey = assetKey(p.collection, changeItemId, `${changeItemId}.geojson`);
  const tif = await ctx.store.putFile(tifKey, join(dir, 'change.tif'), {
    contentType: 'image/tiff; application=geotiff; profile=cloud-optimized',
  });
  const gj = await ctx.store.putFile(geojsonKey, join(dir, 'change.geojson'), {
    contentType: 'application/geo+json',
  });
  const g = await gridOf(join(dir, 'change.tif'));
  const [w, s, e, n] = lonLatBounds(g.epsg, g.geoTransform as never, g.width, g.height);
  const areas = (JSON.parse(await readFile(join(dir, 'change.geojson'), 'utf8')) as { features: unknown[] })
    .features.length;
  return {
    previous: {
      productId: prev.id,
      itemId: before.itemId,
      datetime: String((before.item.properties as Record<string, unknown>).datetime),
    },
    changeItemId,
    tifKey,
    geojsonKey,
    tif: { sizeBytes: tif.sizeBytes, checksum: tif.checksum ?? '' },
    geojson: { sizeBytes: gj.sizeBytes, checksum: gj.checksum ?? '' },
    areas,
    proj: {
      epsg: g.epsg,
      width: g.width,
      height: g.height,
      geoTransform: g.geoTransform as ProjectionFields['geoTransform'],
    },
    footprint: [
      [w, s],
      [e, s],
      [e, n],
      [w, n],
    ],
    grid,
  };
}
