import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildStacItem } from '../catalog/item-builder.js';
import { FormatError, ValidationError } from '../errors.js';
import {
  isGeographic,
  isKnownEpsg,
  mapSpacing,
  transformedBounds,
  transformPoint,
  utmEpsgForLonLat,
} from '../geo/crs.js';
import type { TiePoint } from '../geo/geolocation.js';
import { TiePointGrid } from '../geo/geolocation.js';
import type { GeoTransform } from '../geo/transform.js';
import type { CommandBudgetOptions } from '../io/budget.js';
import { assertCommandBudget, commandBudgets } from '../io/budget.js';
import { detect, Sicd } from '../io/nitf/sicd.js';
import { sicdImageToGround } from '../io/nitf/sicd-projection.js';
import { encodePng } from '../io/png.js';
import { SafeProduct } from '../io/s1/safe.js';
import { GeoTiff } from '../io/tiff/reader.js';
import type { CogWriteResult } from '../io/tiff/writer.js';
import { writeCog } from '../io/tiff/writer.js';
import { acquisitionFromSicd } from '../products/acquisition.js';
import type { CalibrationTarget } from '../raster/calibration.js';
import { calibrateRows, calibrateRowsDenoised } from '../raster/calibration.js';
import { dataTypeInfo } from '../raster/dtype.js';
import { KernelPool } from '../raster/kernel-pool.js';
import { fromDb, multilook, percentiles, toDb } from '../raster/sar.js';
import type { SpeckleFilter } from '../raster/speckle.js';
import { speckleParams } from '../raster/speckle.js';
import type { RasterView } from '../raster/view.js';
import { gridInverse, snappedGrid, warpByTiePoints } from '../raster/warp.js';
import { sha256File } from '../util/hash.js';
import { calibrationGrids, choosePolarisation } from './calibrate.js';

export interface ArdOptions extends CommandBudgetOptions {
  pol?: string;
  target?: CalibrationTarget;
  /** Speckle filter, or 'none' (default refined-lee). */
  filter?: SpeckleFilter | 'none';
  /** Output pixel spacing in metres (default 10). */
  spacingM?: number;
  /** Output CRS (default: the WGS84 UTM zone of the scene centre). */
  epsg?: number;
  removeNoise?: boolean;
  /** Equivalent number of looks of the product before multilooking (default 4.4, Sentinel-1 IW GRDH). */
  productLooks?: number;
  /** Accept a measurement cropped from the first line and sample (tests). */
  allowCrop?: boolean;
  /**
   * A GeoTIFF whose grid (CRS, geotransform and size) the output takes, e.g. an earlier pass's
   * analysis-ready COG, so the two can be compared pixel for pixel (change detection).
   */
  like?: string;
  /** Bytes of one metadata file (SAFE annotation, SICD XML) read into memory (default 64 MiB). */
  maxMetadataBytes?: number;
}

/**
 * Bytes an image-geometry ard holds at once (estimate): the full-resolution image at `fullBytes` per
 * pixel (as read plus calibrated), then the multilooked image (`looks` pixels each) with the
 * despeckle's two shared copies and the geocoded output.
 */
function ardBytes(width: number, height: number, fullBytes: number, looks: number): number {
  return width * height * fullBytes + Math.ceil((width * height) / looks) * 16;
}

/** The grid of a GeoTIFF, for ArdOptions.like. */
export interface GridSpec {
  epsg: number;
  geoTransform: GeoTransform;
  width: number;
  height: number;
}

async function likeGrid(path: string): Promise<GridSpec> {
  const tif = await GeoTiff.open(path);
  try {
    const info = tif.info();
    if (info.epsg === null || info.geoTransform === null || !isKnownEpsg(info.epsg))
      throw new ValidationError(`--like ${path}: not georeferenced in a CRS sarbridge knows`);
    const gt = info.geoTransform;
    if (gt[2] !== 0 || gt[4] !== 0 || !(gt[5] < 0))
      throw new ValidationError(`--like ${path}: the grid must be north-up`);
    return { epsg: info.epsg, geoTransform: gt, width: info.width, height: info.height };
  } finally {
    await tif.close();
  }
}

/** The output spacing: the --like grid's, else the option's (checked). */
async function spacingAndGrid(opts: ArdOptions): Promise<{ spacingM: number; like?: GridSpec }> {
  if (opts.like === undefined) return { spacingM: checkedSpacing(opts) };
  if (opts.epsg !== undefined)
    throw new ValidationError('--like and --crs cannot be used together: --like sets the CRS');
  const like = await likeGrid(opts.like);
  return { spacingM: Math.abs(like.geoTransform[1]), like };
}

export interface ArdResult {
  cog: CogWriteResult;
  quicklook: string;
  itemPath: string;
  item: Record<string, unknown>;
}

/** The output spacing (default 10 m) after checking it and the requested CRS. */
function checkedSpacing(opts: ArdOptions): number {
  const spacingM = opts.spacingM ?? 10;
  if (!(spacingM > 0))
    throw new ValidationError(`--spacing must be a positive number of metres, got ${spacingM}`);
  if (opts.epsg !== undefined && !isKnownEpsg(opts.epsg)) {
    throw new ValidationError(
      `--crs EPSG:${opts.epsg} is not a CRS sarbridge can write (WGS84, Web Mercator, UTM or polar)`,
    );
  }
  return spacingM;
}

function iso(seconds: number): string {
  return new Date(Math.round(seconds * 1000)).toISOString();
}

/** A quick-look PNG (at most 1024 pixels on a side) stretched between the 2nd and 98th percentiles. */
function quicklook(view: RasterView<Float32Array>): Buffer {
  const f = Math.max(1, Math.ceil(Math.max(view.width, view.height) / 1024));
  const w = Math.ceil(view.width / f);
  const h = Math.ceil(view.height / f);
  const [lo, hi] = percentiles(view, [2, 98]);
  const gray = new Uint8Array(w * h);
  const alpha = new Uint8Array(w * h);
  const scale = hi > lo ? 255 / (hi - lo) : 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = view.data[Math.min(view.height - 1, y * f) * view.width + Math.min(view.width - 1, x * f)];
      if (v !== v) continue;
      gray[y * w + x] = Math.max(0, Math.min(255, Math.round((v - lo) * scale)));
      alpha[y * w + x] = 255;
    }
  }
  return encodePng(gray, w, h, alpha);
}

/**
 * The analysis-ready step for a Sentinel-1 GRD SAFE (behind `sarbridge ard`): calibrate (optionally
 * removing thermal noise), multilook towards the output spacing, despeckle, geocode through the
 * geolocation grid, convert to dB, and write a COG (float32, NaN nodata, DEFLATE + predictor 3), a
 * quick-look PNG and a STAC 1.0.0 item with the sar, sat, view, projection, processing, raster and file
 * extensions. Runs in memory: a full IW GRDH scene needs a few GB.
 */
export async function ardSafe(safePath: string, outDir: string, opts: ArdOptions = {}): Promise<ArdResult> {
  const target = opts.target ?? 'sigma0';
  const { spacingM, like } = await spacingAndGrid(opts);
  const filter = opts.filter ?? 'refined-lee';
  const { memoryBytes, decodeBytes } = commandBudgets(opts);
  const safe = await SafeProduct.open(safePath, { maxMetadataBytes: opts.maxMetadataBytes });
  let ann: Awaited<ReturnType<SafeProduct['annotation']>>;
  let sigma: RasterView<Float32Array>;
  let productName: string;
  let pol: string;
  try {
    pol = choosePolarisation(safe, opts.pol);
    ann = await safe.annotation(pol);
    const tif = await safe.measurement(pol, ann, opts.allowCrop, { decodeBudgetBytes: decodeBytes });
    try {
      const W = tif.width;
      const H = tif.height;
      const dnBytes = dataTypeInfo(tif.dataType).componentBytes * dataTypeInfo(tif.dataType).components;
      const ml =
        Math.max(1, Math.floor(spacingM / ann.rangePixelSpacingM)) *
        Math.max(1, Math.floor(spacingM / ann.azimuthPixelSpacingM));
      assertCommandBudget(
        `${safePath} (${pol})`,
        `ard on ${W} x ${H} ${tif.dataType} pixels`,
        ardBytes(W, H, dnBytes + 4, ml),
        memoryBytes,
      );
      const { grid, noise } = await calibrationGrids(
        safe,
        pol,
        ann,
        target,
        W,
        opts.removeNoise ? 'range-azimuth' : 'none',
      );
      const dn = await tif.read(undefined, { bands: [0], maxBytes: memoryBytes });
      const data = new Float32Array(W * H);
      if (noise) calibrateRowsDenoised(dn.data, 0, H, grid, noise, data);
      else calibrateRows(dn.data, 0, H, grid, data);
      // GRD nodata: DN 0 at the swath edges.
      for (let i = 0; i < data.length; i++) if (dn.data[i] === 0) data[i] = Number.NaN;
      sigma = { data, width: W, height: H, bands: 1, dataType: 'float32', nodata: Number.NaN };
    } finally {
      await tif.close();
    }
    productName =
      safePath
        .replace(/\/+$/, '')
        .split('/')
        .pop()
        ?.replace(/\.(SAFE|zip)$/i, '') ?? 'product';
  } finally {
    await safe.close();
  }

  const looksRange = Math.max(1, Math.floor(spacingM / ann.rangePixelSpacingM));
  const looksAzimuth = Math.max(1, Math.floor(spacingM / ann.azimuthPixelSpacingM));
  return finishArd(
    {
      id: `${productName}_${pol}_${target}_dB`,
      image: sigma,
      looks: { x: looksRange, y: looksAzimuth },
      sarLooks: { range: looksRange, azimuth: looksAzimuth },
      enl: (opts.productLooks ?? 4.4) * looksRange * looksAzimuth,
      ties: ann.geolocationGrid.map((g) => ({ line: g.line, pixel: g.pixel, lat: g.lat, lon: g.lon })),
      target,
      pol,
      properties: {
        datetime: iso(ann.firstLineTimeS),
        start_datetime: iso(ann.firstLineTimeS),
        end_datetime: iso(ann.lastLineTimeS),
        platform: `sentinel-${ann.mission.slice(1).toLowerCase()}`,
        constellation: 'sentinel-1',
        instruments: ['c-sar'],
        'sar:instrument_mode': ann.mode,
        'sar:frequency_band': 'C',
        'sar:center_frequency': 5.405,
        'sar:polarizations': [pol],
        'sar:product_type': ann.productType,
        'sar:observation_direction': 'right',
        ...(ann.pass ? { 'sat:orbit_state': ann.pass.toLowerCase() } : {}),
        ...(ann.absoluteOrbit ? { 'sat:absolute_orbit': ann.absoluteOrbit } : {}),
        ...(ann.incidenceAngleMidSwathDeg !== null
          ? { 'view:incidence_angle': ann.incidenceAngleMidSwathDeg }
          : {}),
      },
      metadata: { MISSION: ann.mission, MODE: ann.mode },
      lineage: `calibrated to ${target}${opts.removeNoise ? ' with thermal noise removed' : ''}`,
    },
    outDir,
    { spacingM, epsg: opts.epsg, filter, like },
  );
}

/** A detected image in image geometry, with what the finishing steps and the STAC item need. */
interface ImageGeometryProduct {
  id: string;
  /** Linear power (sigma0 ...), float32, NaN nodata. */
  image: RasterView<Float32Array>;
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
  /** STAC properties of the acquisition (datetime, platform, sar:*, sat:*, view:*). */
  properties: Record<string, unknown>;
  metadata: Record<string, string>;
  lineage: string;
}

/**
 * The steps every product shares once detected and calibrated: multilook, despeckle, geocode through
 * the tie points, dB, then the COG, the quick-look and the STAC item.
 */
async function finishArd(
  p: ImageGeometryProduct,
  outDir: string,
  opts: { spacingM: number; epsg?: number; filter: SpeckleFilter | 'none'; like?: GridSpec },
): Promise<ArdResult> {
  const { spacingM, filter, like } = opts;
  const looksRange = p.looks.x;
  const looksAzimuth = p.looks.y;
  const sigma = p.image;
  // Multilook towards the output spacing.
  let img = sigma;
  if (looksRange > 1 || looksAzimuth > 1)
    img = multilook(sigma, { range: looksRange, azimuth: looksAzimuth });
  const enl = p.enl;

  if (filter !== 'none') img = await despeckleShared(img, filter, enl);

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
  const geo = warpByTiePoints(img, tieGrid, warpTarget, 'bilinear');
  toDb(geo, geo);

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
  return writeArdOutputs(geo, warpTarget.geoTransform, epsg, ring, { ...p, lineage }, outDir, {
    spacingM,
    filter,
    enl,
  });
}

/** Despeckle an intensity image on the worker pool (shared memory). */
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
 * The outputs of the analysis-ready step from a geocoded dB raster: the COG, the quick-look PNG and
 * the STAC item (footprint `ring` in lon/lat, not closed).
 */
async function writeArdOutputs(
  geo: RasterView<Float32Array>,
  gt: GeoTransform,
  epsg: number,
  ring: [number, number][],
  p: Omit<ImageGeometryProduct, 'image' | 'ties' | 'looks'>,
  outDir: string,
  o: { spacingM: number; filter: SpeckleFilter | 'none'; enl: number },
): Promise<ArdResult> {
  const { spacingM, filter, enl } = o;
  const target = p.target;
  const pol = p.pol;
  await mkdir(outDir, { recursive: true });
  const id = p.id;
  const cogPath = join(outDir, `${id}.tif`);
  const pngPath = join(outDir, `${id}.png`);
  const itemPath = join(outDir, `${id}.json`);
  const cog = await writeCog(cogPath, geo, {
    epsg,
    geoTransform: gt,
    nodata: Number.NaN,
    bands: [{ description: `${target}_dB ${pol}` }],
    metadata: { ...p.metadata, POLARISATION: pol, CALIBRATION: target, UNITS: 'dB', SPECKLE_FILTER: filter },
  });
  await writeFile(pngPath, quicklook(geo));

  const stats = cog.statistics?.[0];
  const item = buildStacItem({
    id,
    time: { datetime: String(p.properties.datetime) },
    footprint: ring,
    // The acquisition's properties (datetime, platform, sar:*, sat:*, view:*) as read from the
    // product, with this product's spacing and looks.
    properties: {
      ...p.properties,
      'sar:pixel_spacing_range': spacingM,
      'sar:pixel_spacing_azimuth': spacingM,
      'sar:looks_range': p.sarLooks.range,
      'sar:looks_azimuth': p.sarLooks.azimuth,
      'sar:looks_equivalent_number': enl,
    },
    proj: { epsg, width: geo.width, height: geo.height, geoTransform: gt },
    processing: { level: 'L2', lineage: p.lineage, software: { sarbridge: '0.1.0' } },
    assets: {
      data: {
        href: `./${id}.tif`,
        type: 'image/tiff; application=geotiff; profile=cloud-optimized',
        title: `${target} ${pol} (dB)`,
        roles: ['data'],
        spatialResolutionM: spacingM,
        sampling: 'area',
        bands: [
          {
            name: `${target}_${pol}`,
            nodata: 'nan',
            dataType: 'float32',
            unit: 'dB',
            ...(stats
              ? {
                  statistics: {
                    minimum: stats.min,
                    maximum: stats.max,
                    mean: stats.mean,
                    stddev: stats.stdDev,
                    valid_percent: stats.validPercent,
                  },
                }
              : {}),
          },
        ],
        file: { size: (await stat(cogPath)).size, checksum: `1220${await sha256File(cogPath)}` },
      },
      thumbnail: { href: `./${id}.png`, type: 'image/png', roles: ['thumbnail'], title: 'quick-look' },
    },
  });
  await writeFile(itemPath, `${JSON.stringify(item, null, 2)}\n`);
  return { cog, quicklook: pngPath, itemPath, item };
}

/** STAC's sar:frequency_band of a centre frequency in Hz. */
export function frequencyBand(hz: number): string | null {
  const ghz = hz / 1e9;
  const bands: [string, number, number][] = [
    ['P', 0.25, 1],
    ['L', 1, 2],
    ['S', 2, 4],
    ['C', 4, 8],
    ['X', 8, 12],
    ['Ku', 12, 18],
    ['K', 18, 27],
    ['Ka', 27, 40],
  ];
  return bands.find(([, lo, hi]) => ghz >= lo && ghz < hi)?.[0] ?? null;
}

/**
 * The analysis-ready step for a SICD: sigma0 from Radiometric.SigmaZeroSFPoly, tie points from the
 * SICD image-to-ground projection on a 33 x 33 lattice, then the shared steps (multilook, despeckle,
 * geocode, dB, COG, quick-look, STAC item).
 */
export async function ardSicd(path: string, outDir: string, opts: ArdOptions = {}): Promise<ArdResult> {
  const { spacingM, like } = await spacingAndGrid(opts);
  if ((opts.target ?? 'sigma0') !== 'sigma0')
    throw new ValidationError(`--to ${opts.target} is not available for a SICD (sigma0 only)`);
  const { memoryBytes } = commandBudgets(opts);
  const sicd = await Sicd.open(path, { maxXmlBytes: opts.maxMetadataBytes });
  let complex: RasterView<Float32Array>;
  try {
    const ml =
      Math.max(1, Math.floor(spacingM / sicd.meta.grid.col.ssM)) *
      Math.max(1, Math.floor(spacingM / sicd.meta.grid.row.ssM));
    assertCommandBudget(
      path,
      `ard on a ${sicd.width} x ${sicd.height} SICD`,
      ardBytes(sicd.width, sicd.height, 8 + 4, ml),
      memoryBytes,
    );
    complex = await sicd.readComplex();
  } finally {
    await sicd.close();
  }
  const m = sicd.meta;
  if (!m.sigmaZeroSfPoly)
    throw new ValidationError(
      `${path}: the SICD has no Radiometric.SigmaZeroSFPoly, so sigma0 is not available`,
    );
  const sigma = detect(complex, 'sigma0', { meta: m, rowOff: 0, colOff: 0 });
  const pts: [number, number][] = [];
  const N = 32;
  for (let i = 0; i <= N; i++)
    for (let j = 0; j <= N; j++) pts.push([(i * (m.numRows - 1)) / N, (j * (m.numCols - 1)) / N]);
  const ground = sicdImageToGround(m, pts);
  const acq = acquisitionFromSicd(sicd);
  const pol = acq.polarisations[0] ?? 'XX';
  const looksX = Math.max(1, Math.floor(spacingM / m.grid.col.ssM));
  const looksY = Math.max(1, Math.floor(spacingM / m.grid.row.ssM));
  const band = m.centreFrequencyHz ? frequencyBand(m.centreFrequencyHz) : null;
  return finishArd(
    {
      id: `${m.coreName}_${pol}_sigma0_dB`,
      image: sigma,
      looks: { x: looksX, y: looksY },
      // SICD rows run in range and columns in azimuth.
      sarLooks: { range: looksY, azimuth: looksX },
      enl: looksX * looksY,
      ties: pts.map(([line, pixel], k) => ({ line, pixel, lat: ground[k][0], lon: ground[k][1] })),
      target: 'sigma0',
      pol,
      properties: {
        datetime: acq.startTime,
        start_datetime: acq.startTime,
        end_datetime: acq.endTime,
        platform: m.collectorName.toLowerCase(),
        'sar:instrument_mode': m.modeType,
        ...(band ? { 'sar:frequency_band': band } : {}),
        ...(m.centreFrequencyHz ? { 'sar:center_frequency': m.centreFrequencyHz / 1e9 } : {}),
        'sar:polarizations': [pol],
        'sar:product_type': 'SICD',
        ...(acq.lookSide ? { 'sar:observation_direction': acq.lookSide } : {}),
        ...(acq.orbitDirection ? { 'sat:orbit_state': acq.orbitDirection } : {}),
        ...(m.incidenceAngleDeg !== null ? { 'view:incidence_angle': m.incidenceAngleDeg } : {}),
      },
      metadata: { COLLECTOR: m.collectorName, CORE_NAME: m.coreName, MODE: m.modeType },
      lineage: 'sigma0 from the SICD radiometric polynomial',
    },
    outDir,
    { spacingM, epsg: opts.epsg, filter: opts.filter ?? 'refined-lee', like },
  );
}

/** The sidecar of a geocoded product: a STAC item, or a flat JSON object with STAC property names. */
async function readSidecar(path: string, explicit?: string): Promise<Record<string, unknown>> {
  const base = path.replace(/\.tiff?$/i, '');
  const candidates = explicit
    ? [explicit]
    : [`${path}.json`, `${base}.json`, `${base}_metadata.json`, `${base}.stac.json`];
  for (const c of candidates) {
    let text: string;
    try {
      text = await readFile(c, 'utf8');
    } catch {
      if (explicit) throw new ValidationError(`--meta ${explicit}: cannot read it`);
      continue;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new FormatError(c, `is not valid JSON (${(err as Error).message})`, { cause: err });
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json))
      throw new FormatError(c, 'must be a JSON object (a STAC item or a map of STAC properties)');
    const o = json as Record<string, unknown>;
    return (o.type === 'Feature' && typeof o.properties === 'object' ? o.properties : o) as Record<
      string,
      unknown
    >;
  }
  throw new ValidationError(
    `${path}: no metadata sidecar found (tried ${candidates.join(', ')}); pass one with --meta`,
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
  const side = await readSidecar(path, opts.meta);
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
  toDb(img, img);
  const pols = Array.isArray(side['sar:polarizations']) ? (side['sar:polarizations'] as string[]) : [];
  const pol = opts.pol ?? pols[0] ?? 'XX';
  const acquisitionFields = Object.fromEntries(
    Object.entries(side).filter(([k]) =>
      /^(datetime|start_datetime|end_datetime|platform|constellation|instruments|sar:|sat:|view:)/.test(k),
    ),
  );
  if (!('datetime' in acquisitionFields))
    throw new ValidationError(`${path}: the sidecar has no datetime (a STAC item needs one)`);
  return writeArdOutputs(
    img,
    target.geoTransform,
    target.epsg,
    ring,
    {
      id: `${base}_ard`,
      target: String(side['sar:product_type'] ?? 'backscatter'),
      pol,
      sarLooks: {
        range: Number(side['sar:looks_range'] ?? 1) || 1,
        azimuth: Number(side['sar:looks_azimuth'] ?? 1) || 1,
      },
      enl,
      properties: acquisitionFields,
      metadata: {},
      lineage: `${lineage}, in dB`,
    },
    outDir,
    { spacingM: groundSpacing(target, centreLat), filter, enl },
  );
}
