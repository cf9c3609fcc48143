import { mkdir } from 'node:fs/promises';
import { mapSpacing, transformPoint, utmEpsgForLonLat } from '../../geo/crs.js';
import type { TiePoint } from '../../geo/geolocation.js';
import { TiePointGrid } from '../../geo/geolocation.js';
import type { GeoTransform } from '../../geo/transform.js';
import { KernelPool } from '../../raster/kernel-pool.js';
import type { SpeckleFilter } from '../../raster/speckle.js';
import { speckleParams } from '../../raster/speckle.js';
import { snappedGrid } from '../../raster/warp.js';
import { StripGeocoder } from './geocode.js';
import type { ImageStrips } from './image-stages.js';
import { multilookAndDespeckle, multilookToRaster } from './image-stages.js';
import type { AcquisitionFields } from './item.js';
import type { ArdProgress, StreamingSizes } from './options.js';
import type { ArdResult } from './outputs.js';
import { writeArdOutputs } from './outputs.js';
import type { TempRaster } from './temp-raster.js';
import { intermediatePrefix, removeStaleIntermediates } from './temp-raster.js';

/** The grid of a GeoTIFF, for ArdOptions.like. */
export interface GridSpec {
  epsg: number;
  geoTransform: GeoTransform;
  width: number;
  height: number;
}

/** A detected image in image geometry, with what the finishing steps and the STAC item need. */
export interface ImageGeometryProduct {
  id: string;
  /** Linear power (sigma0 ...), float32, NaN nodata, strip by strip. */
  image: ImageStrips;
  /** Multilook factors towards the output spacing, along x (columns) and y (rows). */
  looks: { x: number; y: number };
  /** The same factors in SAR terms, for the STAC item. */
  sarLooks: { range: number; azimuth: number };
  /** Equivalent number of looks after multilooking. */
  enl: number;
  /** Tie points of the full-resolution image (line, pixel centres). */
  ties: TiePoint[];
  target: string;
  pol: string;
  acquisition: AcquisitionFields;
  metadata: Record<string, string>;
  lineage: string;
}

/**
 * The steps every product in image geometry shares once detected and calibrated, streamed: multilook
 * and despeckle in one pass (strips with their halo of window rows filtered on the worker pool while
 * this thread reads and calibrates the next strip) into an intermediate raster (with no filter, the
 * multilooked image is the intermediate), geocode through the tie points by output strips that read
 * only the source window each block of columns needs (sampled and converted to dB on the workers, one
 * strip ahead of the COG writer), then the COG, the quick-look and the STAC item. Intermediates go to
 * `outDir` as `.<id>.ard-*` files, each written complete under a temporary name and renamed, and are
 * deleted when the step ends (a killed run's are deleted by the next run for the same product).
 */
export async function finishImageGeometry(
  p: ImageGeometryProduct,
  outDir: string,
  opts: {
    spacingM: number;
    epsg?: number;
    filter: SpeckleFilter | 'none';
    like?: GridSpec;
    signal?: AbortSignal;
    streaming?: StreamingSizes;
    onProgress?: ArdProgress;
  },
): Promise<ArdResult> {
  const { spacingM, filter, like, signal, onProgress } = opts;
  const stages = {
    stripBytes: opts.streaming?.stripBytes,
    signal,
    onRows: onProgress && ((done: number, total: number) => onProgress('image', done, total)),
  };
  const looksRange = p.looks.x;
  const looksAzimuth = p.looks.y;
  await mkdir(outDir, { recursive: true });
  await removeStaleIntermediates(outDir, p.id);
  const prefix = intermediatePrefix(p.id);
  const temps: TempRaster[] = [];
  let pool: KernelPool | null = null;
  try {
    let img: TempRaster;
    if (filter === 'none') {
      img = await multilookToRaster(p.image, p.looks, outDir, `${prefix}multilooked.f32`, stages);
      temps.push(img);
    } else {
      const params = speckleParams({ filter, looks: p.enl });
      pool = new KernelPool();
      img = await multilookAndDespeckle(
        p.image,
        p.looks,
        params,
        pool,
        outDir,
        `${prefix}despeckled.f32`,
        stages,
      );
      temps.push(img);
      // The workers' views of the despeckle's strips would keep them alive: closed now.
      await pool.close();
      pool = null;
    }

    const centre = p.ties[Math.floor(p.ties.length / 2)];
    const epsg = like?.epsg ?? opts.epsg ?? utmEpsgForLonLat(centre.lon, centre.lat);
    const ties = p.ties.map((g) => ({
      line: (g.line + 0.5) / looksAzimuth - 0.5,
      pixel: (g.pixel + 0.5) / looksRange - 0.5,
      lat: g.lat,
      lon: g.lon,
    }));
    const tieGrid = new TiePointGrid(ties, epsg);
    const warpTarget =
      like ?? snappedGrid(tieGrid.bounds(img.width, img.height), mapSpacing(epsg, spacingM, centre.lat));
    // A fresh pool for the geocoding (its workers sample each block, in dB) and the COG's first overview.
    pool = new KernelPool();
    const geocoder = new StripGeocoder(img, tieGrid, warpTarget, opts.streaming?.geocodeColumns, {
      pool,
      db: true,
    });

    // Footprint: the image edges through the tie-point grid, in lon/lat.
    const ring: [number, number][] = [];
    const edge = (l0: number, p0: number, l1: number, p1: number) => {
      for (let k = 0; k < 8; k++) {
        const [x, y] = tieGrid.forward(l0 + ((l1 - l0) * k) / 8, p0 + ((p1 - p0) * k) / 8);
        ring.push(transformPoint(epsg, 4326, x, y));
      }
    };
    const lastL = img.height - 1;
    const lastP = img.width - 1;
    edge(0, 0, 0, lastP);
    edge(0, lastP, lastL, lastP);
    edge(lastL, lastP, lastL, 0);
    edge(lastL, 0, 0, 0);
    const lineage = `${p.lineage}, multilooked ${looksRange} x ${looksAzimuth}, despeckled (${filter}), geocoded through the tie points, in dB`;
    return await writeArdOutputs(
      {
        width: warpTarget.width,
        height: warpTarget.height,
        strip: (rowOff, rows, out) => geocoder.strip(rowOff, rows, out),
        inDb: true,
      },
      { epsg, geoTransform: warpTarget.geoTransform },
      ring,
      { ...p, looks: p.sarLooks, lineage },
      outDir,
      { spacingM, filter, signal, pool, onProgress },
    );
  } finally {
    await pool?.close();
    for (const t of temps) await t.remove();
  }
}
