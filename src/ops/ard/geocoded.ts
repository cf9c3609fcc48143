import { FormatError, ValidationError } from '../../errors.js';
import { isGeographic, mapSpacing, transformedBounds, transformPoint } from '../../geo/crs.js';
import type { GeoTransform } from '../../geo/transform.js';
import { assertCommandBudget, commandBudgets } from '../../io/budget.js';
import { GeoTiff } from '../../io/tiff/reader.js';
import type { Sidecar } from '../../products/sidecar.js';
import { findSidecar, readSidecar, sidecarCandidates } from '../../products/sidecar.js';
import { dataTypeInfo } from '../../raster/dtype.js';
import { KernelPool } from '../../raster/kernel-pool.js';
import { fromDb, multilook } from '../../raster/sar.js';
import type { SpeckleFilter } from '../../raster/speckle.js';
import { speckleParams } from '../../raster/speckle.js';
import type { RasterView } from '../../raster/view.js';
import { gridInverse, snappedGrid, warpByTiePoints } from '../../raster/warp.js';
import type { GridSpec } from './image-geometry.js';
import { acquisitionFromSidecar } from './item.js';
import type { ArdOptions } from './options.js';
import { checkedSpacing, likeGrid } from './options.js';
import type { ArdResult } from './outputs.js';
import { writeArdOutputs } from './outputs.js';

/** Despeckle an intensity image held in memory on the worker pool (shared memory). */
async function despeckleShared(
  img: RasterView<Float32Array>,
  filter: SpeckleFilter,
  enl: number,
): Promise<RasterView<Float32Array>> {
  const params = speckleParams({ filter, looks: enl });
  const src = new Float32Array(new SharedArrayBuffer(img.data.length * 4));
  src.set(img.data);
  const dst = new Float32Array(new SharedArrayBuffer(img.data.length * 4));
  const pool = new KernelPool();
  try {
    await pool.despeckleRows(
      params,
      src.buffer as SharedArrayBuffer,
      0,
      dst.buffer as SharedArrayBuffer,
      0,
      img.width,
      img.height,
      0,
      img.height,
      0,
      0,
      img.height,
    );
  } finally {
    await pool.close();
  }
  return { ...img, data: dst };
}

/**
 * The sidecar of a geocoded product (src/products/sidecar.ts reads and checks it): the one given with
 * --meta, else the first of the usual names beside the image.
 */
async function sidecarOf(path: string, explicit?: string): Promise<Sidecar> {
  if (explicit) {
    try {
      return await readSidecar(explicit);
    } catch (err) {
      if (err instanceof FormatError) throw err;
      throw new ValidationError(`--meta ${explicit}: cannot read it`, { cause: err });
    }
  }
  const found = await findSidecar(path);
  if (found) return readSidecar(found);
  throw new ValidationError(
    `${path}: no metadata sidecar found (tried ${sidecarCandidates(path).join(', ')}); pass one with --meta`,
  );
}

/** A grid's pixel spacing in metres on the ground at latitude `lat` (inverse of mapSpacing). */
function groundSpacing(g: GridSpec, lat: number): number {
  return Math.abs(g.geoTransform[1]) / mapSpacing(g.epsg, 1, lat);
}

function fmtSpacing(g: GridSpec): string {
  const d = Math.abs(g.geoTransform[1]);
  return isGeographic(g.epsg) ? `${d.toPrecision(6)} degrees` : `${Number(d.toPrecision(6))} m`;
}

/**
 * The output grid of a geocoded product: the --like grid; else, when --crs or --spacing asks for one,
 * a grid in that CRS (default the product's) at that ground spacing (default the product's) covering
 * the product; else (or when that is the product's own grid) `own` itself, and nothing is resampled.
 */
async function geocodedTarget(own: GridSpec, opts: ArdOptions, lat: number): Promise<GridSpec> {
  const sameGrid = (g: GridSpec) =>
    g.epsg === own.epsg &&
    g.width === own.width &&
    g.height === own.height &&
    g.geoTransform.every((v, i) => Math.abs(v - own.geoTransform[i]) <= 1e-6 * Math.abs(own.geoTransform[1]));
  let target = own;
  if (opts.like !== undefined) target = await likeGrid(opts.like);
  else if (opts.epsg !== undefined || opts.spacingM !== undefined) {
    const epsg = opts.epsg ?? own.epsg;
    const spacing = mapSpacing(epsg, opts.spacingM ?? groundSpacing(own, lat), lat);
    const bounds = transformedBounds(own.epsg, own.geoTransform, own.width, own.height, epsg);
    target = { epsg, ...snappedGrid(bounds, spacing) };
  }
  return sameGrid(target) ? own : target;
}

/**
 * The analysis-ready step for a geocoded product of a commercial provider (GEC/GTC-style GeoTIFF with a
 * STAC item or JSON sidecar carrying sar, sat and view fields): values in dB are recognised (from the
 * sidecar's or the file's units, or because linear power cannot be negative), the image is despeckled
 * in linear power on its own grid, resampled (bilinear, in linear power) when --crs, --spacing or --like
 * ask for another grid, and the same COG, quick-look and STAC item are written, with the sidecar's
 * acquisition fields carried over.
 */
export async function ardGeoTiff(
  path: string,
  outDir: string,
  opts: ArdOptions & { meta?: string } = {},
): Promise<ArdResult> {
  if (opts.like !== undefined && opts.epsg !== undefined)
    throw new ValidationError('--like and --crs cannot be used together: --like sets the CRS');
  checkedSpacing(opts);
  const sidecar = await sidecarOf(path, opts.meta);
  const side = sidecar.properties;
  const acquisition = acquisitionFromSidecar(sidecar.path, side);
  const { memoryBytes, decodeBytes } = commandBudgets(opts);
  const tif = await GeoTiff.open(path, { decodeBudgetBytes: decodeBytes });
  let view: RasterView<Float32Array>;
  let meta: ReturnType<GeoTiff['info']>;
  try {
    if (tif.epsg === null || tif.geoTransform === null)
      throw new ValidationError(
        `${path}: is not georeferenced (no EPSG CRS or geotransform); use the product's own reader`,
      );
    meta = tif.info();
    const info = dataTypeInfo(tif.dataType);
    // The band as read, as float32, the despeckle's two shared copies and the resampled output.
    assertCommandBudget(
      path,
      `ard on ${tif.width} x ${tif.height} ${tif.dataType} pixels`,
      tif.width * tif.height * (info.componentBytes * info.components + 16),
      memoryBytes,
    );
    const raw = await tif.read(undefined, { bands: [0], maxBytes: memoryBytes });
    const data = new Float32Array(raw.data.length);
    const nd = tif.nodata;
    for (let i = 0; i < data.length; i++) data[i] = raw.data[i] === nd ? Number.NaN : raw.data[i];
    view = { data, width: raw.width, height: raw.height, bands: 1, dataType: 'float32', nodata: Number.NaN };
  } finally {
    await tif.close();
  }
  const unitHint = String(
    side.unit ?? side['sar:unit'] ?? meta.metadata.UNITS ?? meta.bands[0]?.metadata.UNITS ?? '',
  ).toLowerCase();
  let negatives = 0;
  let valid = 0;
  for (const v of view.data) {
    if (v === v) {
      valid++;
      if (v < 0) negatives++;
    }
  }
  const inDb = unitHint === 'db' || (unitHint === '' && negatives > 0.01 * valid);
  if (inDb) fromDb(view, view);
  const filter = opts.filter ?? 'refined-lee';
  const enl = Number(side['sar:looks_equivalent_number'] ?? opts.productLooks ?? 1) || 1;
  let img = view;
  if (filter !== 'none') img = await despeckleShared(view, filter, enl);
  const base =
    path
      .replace(/\/+$/, '')
      .split('/')
      .pop()
      ?.replace(/\.tiff?$/i, '') ?? 'product';
  const epsg = tif.epsg as number;
  const gt = tif.geoTransform as GeoTransform;
  const [minX, minY, maxX, maxY] = meta.bounds as [number, number, number, number];
  const ring: [number, number][] = [
    [minX, minY],
    [maxX, minY],
    [maxX, maxY],
    [minX, maxY],
  ].map(([x, y]) => transformPoint(epsg, 4326, x, y));
  const own: GridSpec = { epsg, geoTransform: gt, width: img.width, height: img.height };
  const centreLat = ring.reduce((a, p) => a + p[1], 0) / ring.length;
  const target = await geocodedTarget(own, opts, centreLat);
  let lineage = `geocoded product ${base} (${inDb ? 'dB' : 'linear'}), despeckled (${filter})`;
  if (target !== own) {
    // Reducing by 2 or more: average looks x looks blocks first (as the SAFE path multilooks), so that
    // bilinear sampling does not alias the speckle.
    const looks = Math.floor(groundSpacing(target, centreLat) / groundSpacing(own, centreLat) + 1e-9);
    let src = img;
    let srcGt = gt;
    if (looks >= 2) {
      src = multilook(img, { range: looks, azimuth: looks });
      srcGt = [gt[0], gt[1] * looks, 0, gt[3], 0, gt[5] * looks];
      lineage += `, averaged ${looks} x ${looks}`;
    }
    img = warpByTiePoints(src, gridInverse(epsg, srcGt, target.epsg), target, 'bilinear');
    lineage += `, resampled (bilinear) from EPSG:${epsg} to EPSG:${target.epsg} at ${fmtSpacing(target)}`;
  }
  const pol = opts.pol ?? acquisition.sar.polarizations[0];
  const geocoded = img;
  return writeArdOutputs(
    {
      width: geocoded.width,
      height: geocoded.height,
      strip: (rowOff, rows, out) =>
        out.set(geocoded.data.subarray(rowOff * geocoded.width, (rowOff + rows) * geocoded.width)),
    },
    { epsg: target.epsg, geoTransform: target.geoTransform },
    ring,
    {
      id: `${base}_ard`,
      target: acquisition.sar.productType,
      pol,
      looks: {
        range: Number(side['sar:looks_range'] ?? 1) || 1,
        azimuth: Number(side['sar:looks_azimuth'] ?? 1) || 1,
      },
      enl,
      acquisition,
      metadata: {},
      lineage: `${lineage}, in dB`,
    },
    outDir,
    { spacingM: groundSpacing(target, centreLat), filter, signal: opts.signal, onProgress: opts.onProgress },
  );
}
