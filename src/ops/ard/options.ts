import { ValidationError } from '../../errors.js';
import { isKnownEpsg } from '../../geo/crs.js';
import type { CommandBudgetOptions } from '../../io/budget.js';
import { GeoTiff } from '../../io/tiff/reader.js';
import type { CalibrationTarget } from '../../raster/calibration.js';
import type { SpeckleFilter } from '../../raster/speckle.js';
import type { GridSpec } from './image-geometry.js';

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
  /** Stops the work between strips. */
  signal?: AbortSignal;
  /** Told after each strip: the stage, and its rows done of its total (for a progress bar). */
  onProgress?: ArdProgress;
  /**
   * Sizes of the streamed work (defaults suit a full scene; tests make them small so that a small
   * product crosses many strip and block seams): bytes of float32 rows a strip of the image-geometry
   * stages holds, and output columns geocoded at once.
   */
  streaming?: StreamingSizes;
}

/**
 * Progress of ard: 'image' (calibrate, multilook, despeckle in the image geometry; rows of the
 * multilooked image) then 'geocode' (geocode, COG; rows of the output grid).
 */
export type ArdProgress = (stage: 'image' | 'geocode', doneRows: number, totalRows: number) => void;

export interface StreamingSizes {
  stripBytes?: number;
  geocodeColumns?: number;
}

export async function likeGrid(path: string): Promise<GridSpec> {
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

/** The output spacing (default 10 m) after checking it and the requested CRS. */
export function checkedSpacing(opts: ArdOptions): number {
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

/** The output spacing: the --like grid's, else the option's (checked). */
export async function spacingAndGrid(opts: ArdOptions): Promise<{ spacingM: number; like?: GridSpec }> {
  if (opts.like === undefined) return { spacingM: checkedSpacing(opts) };
  if (opts.epsg !== undefined)
    throw new ValidationError('--like and --crs cannot be used together: --like sets the CRS');
  const like = await likeGrid(opts.like);
  return { spacingM: Math.abs(like.geoTransform[1]), like };
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
