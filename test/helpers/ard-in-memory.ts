// The in-memory ard of commit 5abe3f6 (src/ops/ard.ts as it was before ard streamed), kept only as the
// reference the streaming ard is compared with pixel for pixel (test/ard-streaming.test.ts). Copied
// verbatim up to the geocoded-GeoTIFF path (not needed here), with the import paths moved; the names
// of the exported functions gained an `InMemory` suffix. Do not change its arithmetic.
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildStacItem } from '../../src/catalog/item-builder.js';
import { ValidationError } from '../../src/errors.js';
import { isKnownEpsg, mapSpacing, transformPoint, utmEpsgForLonLat } from '../../src/geo/crs.js';
import type { TiePoint } from '../../src/geo/geolocation.js';
import { TiePointGrid } from '../../src/geo/geolocation.js';
import type { GeoTransform } from '../../src/geo/transform.js';
import type { CommandBudgetOptions } from '../../src/io/budget.js';
import { assertCommandBudget, commandBudgets } from '../../src/io/budget.js';
import { detect, Sicd } from '../../src/io/nitf/sicd.js';
import { sicdImageToGround } from '../../src/io/nitf/sicd-projection.js';
import { encodePng } from '../../src/io/png.js';
import { SafeProduct } from '../../src/io/s1/safe.js';
import { GeoTiff } from '../../src/io/tiff/reader.js';
import type { CogWriteResult } from '../../src/io/tiff/writer.js';
import { writeCog } from '../../src/io/tiff/writer.js';
import { calibrationGrids, choosePolarisation } from '../../src/ops/calibrate.js';
import { acquisitionFromSicd } from '../../src/products/acquisition.js';
import type { CalibrationTarget } from '../../src/raster/calibration.js';
import { calibrateRows, calibrateRowsDenoised } from '../../src/raster/calibration.js';
import { dataTypeInfo } from '../../src/raster/dtype.js';
import { KernelPool } from '../../src/raster/kernel-pool.js';
import { multilook, percentiles, toDb } from '../../src/raster/sar.js';
import type { SpeckleFilter } from '../../src/raster/speckle.js';
import { speckleParams } from '../../src/raster/speckle.js';
import type { RasterView } from '../../src/raster/view.js';
import { snappedGrid, warpByTiePoints } from '../../src/raster/warp.js';
import { sha256File } from '../../src/util/hash.js';

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
export async function ardSafeInMemory(
  safePath: string,
  outDir: string,
  opts: ArdOptions = {},
): Promise<ArdResult> {
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
export async function ardSicdInMemory(
  path: string,
  outDir: string,
  opts: ArdOptions = {},
): Promise<ArdResult> {
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
