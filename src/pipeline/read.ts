import { ValidationError } from '../errors.js';
import { openProduct } from '../products/open-product.js';
import { type RecognisedProduct, recogniseProduct } from '../products/recognise.js';
import { sidecarCandidates } from '../products/sidecar.js';
import type { AcquisitionSummary } from './registry.js';

export type ProductFormat = AcquisitionSummary['format'];

/** The names a geocoded GeoTIFF's sidecar may have (copied with it into the inbox). */
export const geotiffSidecars = sidecarCandidates;

const FORMATS: Record<RecognisedProduct['format'], ProductFormat> = {
  safe: 'sentinel-1-safe',
  'safe-zip': 'sentinel-1-safe',
  sicd: 'sicd',
  geotiff: 'geotiff',
};

/**
 * The format of a product, by its content (recogniseProduct).
 * @throws UnrecognisedProductError naming the file, what was found and what was expected
 */
export async function recogniseFormat(path: string): Promise<ProductFormat> {
  return FORMATS[(await recogniseProduct(path)).format];
}

/** Sentinel-1 relative orbit from the absolute one (S1A and S1B; null for other units). */
export function sentinel1RelativeOrbit(platform: string, absoluteOrbit: number | null): number | null {
  if (!absoluteOrbit) return null;
  if (platform === 'sentinel-1a') return ((((absoluteOrbit - 73) % 175) + 175) % 175) + 1;
  if (platform === 'sentinel-1b') return ((((absoluteOrbit - 27) % 175) + 175) % 175) + 1;
  return null;
}

/**
 * Recognise a product by its content and read its acquisition from its metadata (no pixels):
 * platform, mode, polarisations, viewing geometry, times and footprint, then check them (see
 * checkAcquisition).
 * @throws UnrecognisedProductError, FormatError or ValidationError naming the file and the problem
 */
export async function readAcquisition(path: string): Promise<AcquisitionSummary> {
  const p = await openProduct(path);
  let a: AcquisitionSummary;
  try {
    const acq = p.acquisition;
    const inc = acq.incidenceRangeDeg;
    const platform = acq.platform.toLowerCase();
    const rel = p.format === 'geotiff' ? p.sidecar.properties['sat:relative_orbit'] : undefined;
    a = {
      format: FORMATS[p.format],
      platform,
      mode: acq.mode,
      polarisations: acq.polarisations,
      orbitDirection: acq.orbitDirection,
      lookSide: acq.lookSide,
      relativeOrbit: typeof rel === 'number' ? rel : sentinel1RelativeOrbit(platform, acq.absoluteOrbit),
      incidenceDeg: inc ? (inc[0] + inc[1]) / 2 : null,
      startTime: acq.startTime,
      endTime: acq.endTime,
      footprint: acq.footprint,
    };
  } finally {
    await p.close();
  }
  checkAcquisition(path, a);
  return a;
}

/** The first synthetic-aperture radar in orbit (Seasat, launched 1978-06-27). */
const EARLIEST_MS = Date.parse('1978-06-27T00:00:00Z');

/**
 * An acquisition that cannot have happened is refused: a time that does not parse, before 1978 or
 * more than a day ahead of `nowMs`, an end before its start, a footprint with a coordinate out of
 * range or no area.
 * @throws ValidationError naming the product and the field
 */
export function checkAcquisition(path: string, a: AcquisitionSummary, nowMs = Date.now()): void {
  const t0 = Date.parse(a.startTime);
  const t1 = Date.parse(a.endTime);
  if (!Number.isFinite(t0))
    throw new ValidationError(`${path}: acquisition start '${a.startTime}' is not a time`);
  if (t0 < EARLIEST_MS || t0 > nowMs + 86_400_000)
    throw new ValidationError(
      `${path}: acquisition start ${a.startTime} is impossible (expected between 1978-06-27 and tomorrow)`,
    );
  if (!Number.isFinite(t1) || t1 < t0)
    throw new ValidationError(
      `${path}: acquisition end '${a.endTime}' is not a time after the start ${a.startTime}`,
    );
  if (a.footprint.length < 4)
    throw new ValidationError(
      `${path}: footprint has ${a.footprint.length} points (expected a ring of at least 4)`,
    );
  for (const [lon, lat] of a.footprint)
    if (!(Math.abs(lon) <= 180 && Math.abs(lat) <= 90))
      throw new ValidationError(`${path}: footprint point [${lon}, ${lat}] is not a longitude and latitude`);
  let area2 = 0;
  for (let i = 0; i + 1 < a.footprint.length; i++)
    area2 += a.footprint[i][0] * a.footprint[i + 1][1] - a.footprint[i + 1][0] * a.footprint[i][1];
  if (!(Math.abs(area2) > 1e-12)) throw new ValidationError(`${path}: footprint has no area`);
}

/** Footprint bounds [west, south, east, north]. */
export function footprintBbox(a: AcquisitionSummary): [number, number, number, number] {
  const lons = a.footprint.map((p) => p[0]);
  const lats = a.footprint.map((p) => p[1]);
  return [Math.min(...lons), Math.min(...lats), Math.max(...lons), Math.max(...lats)];
}

/**
 * The key of "the same geometry": products with equal keys can be compared for change. Platform
 * family (Sentinel-1 units share their orbits), mode, first polarisation, orbit direction, look
 * side and relative orbit (when known); the footprint overlap and incidence are checked apart.
 */
export function geometryKey(a: AcquisitionSummary): string {
  const family = a.platform.startsWith('sentinel-1') ? 'sentinel-1' : a.platform;
  return [
    a.format,
    family,
    a.mode,
    (a.polarisations.includes('VV') ? 'VV' : a.polarisations[0]) ?? '-',
    a.orbitDirection ?? '-',
    a.lookSide ?? '-',
    a.relativeOrbit ?? '-',
  ].join('|');
}
