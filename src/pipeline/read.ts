import { open, readFile, stat } from 'node:fs/promises';
import { FormatError, ValidationError } from '../errors.js';
import { lonLatBounds } from '../geo/crs.js';
import { Sicd } from '../io/nitf/sicd.js';
import { SafeProduct } from '../io/s1/safe.js';
import { GeoTiff } from '../io/tiff/reader.js';
import { acquisitionFromSafe, acquisitionFromSicd } from '../products/acquisition.js';
import type { AcquisitionSummary } from './registry.js';

export type ProductFormat = AcquisitionSummary['format'];

/** The sidecar names a geocoded GeoTIFF's metadata may have (the ones `sarbridge ard` looks for). */
export function geotiffSidecars(path: string): string[] {
  const base = path.replace(/\.tiff?$/i, '');
  return [`${path}.json`, `${base}.json`, `${base}_metadata.json`, `${base}.stac.json`];
}

async function head(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/**
 * The format of a product, by its content: a folder with a `manifest.safe` (Sentinel-1 SAFE), a zip
 * holding `<name>.SAFE/manifest.safe`, a NITF file (SICD), or a TIFF (a geocoded GeoTIFF with a
 * sidecar).
 * @throws FormatError naming the file and what was expected
 */
export async function recogniseFormat(path: string): Promise<ProductFormat> {
  const st = await stat(path);
  if (st.isDirectory()) {
    try {
      await stat(`${path}/manifest.safe`);
    } catch {
      throw new FormatError(path, 'is a folder without manifest.safe: not a Sentinel-1 SAFE');
    }
    return 'sentinel-1-safe';
  }
  const h = await head(path, 8);
  const sig = h.toString('latin1');
  if (sig.startsWith('NITF') || sig.startsWith('NSIF')) return 'sicd';
  if (sig.startsWith('PK\x03\x04')) return 'sentinel-1-safe';
  if (
    sig.startsWith('II*\0') ||
    sig.startsWith('MM\0*') ||
    sig.startsWith('II+\0') ||
    sig.startsWith('MM\0+')
  )
    return 'geotiff';
  throw new FormatError(
    path,
    `unknown product format (first bytes ${JSON.stringify(sig.slice(0, 4))}): expected a Sentinel-1 SAFE (folder or zip), a SICD (NITF) or a geocoded GeoTIFF with a sidecar`,
  );
}

/** Sentinel-1 relative orbit from the absolute one (S1A and S1B; null for other units). */
export function sentinel1RelativeOrbit(platform: string, absoluteOrbit: number | null): number | null {
  if (!absoluteOrbit) return null;
  if (platform === 'sentinel-1a') return ((((absoluteOrbit - 73) % 175) + 175) % 175) + 1;
  if (platform === 'sentinel-1b') return ((((absoluteOrbit - 27) % 175) + 175) % 175) + 1;
  return null;
}

async function sidecarProperties(path: string): Promise<{ props: Record<string, unknown>; file: string }> {
  for (const c of geotiffSidecars(path)) {
    let text: string;
    try {
      text = await readFile(c, 'utf8');
    } catch {
      continue;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new FormatError(c, `is not valid JSON (${(err as Error).message})`);
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json))
      throw new FormatError(c, 'must be a JSON object (a STAC item or a map of STAC properties)');
    const o = json as Record<string, unknown>;
    const props = o.type === 'Feature' && typeof o.properties === 'object' ? o.properties : o;
    return { props: props as Record<string, unknown>, file: c };
  }
  throw new FormatError(
    path,
    `a GeoTIFF product needs a metadata sidecar (tried ${geotiffSidecars(path).join(', ')})`,
  );
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/**
 * Read a product's acquisition from its metadata (no pixels): platform, mode, polarisations,
 * viewing geometry, times and footprint, then check them (see checkAcquisition).
 * @throws FormatError / ValidationError for a product that cannot be read or is impossible
 */
export async function readAcquisition(path: string, format: ProductFormat): Promise<AcquisitionSummary> {
  let a: AcquisitionSummary;
  if (format === 'sentinel-1-safe') {
    const safe = await SafeProduct.open(path);
    try {
      const pols = safe.polarisations();
      if (pols.length === 0) throw new FormatError(path, 'the SAFE lists no measurement');
      const anns = [];
      for (const p of pols) anns.push(await safe.annotation(p));
      const acq = acquisitionFromSafe(anns);
      const inc = acq.incidenceRangeDeg;
      a = {
        format,
        platform: acq.platform,
        mode: acq.mode,
        polarisations: acq.polarisations,
        orbitDirection: acq.orbitDirection,
        lookSide: acq.lookSide,
        relativeOrbit: sentinel1RelativeOrbit(acq.platform, acq.absoluteOrbit),
        incidenceDeg: anns[0].incidenceAngleMidSwathDeg ?? (inc ? (inc[0] + inc[1]) / 2 : null),
        startTime: acq.startTime,
        endTime: acq.endTime,
        footprint: acq.footprint,
      };
    } finally {
      await safe.close();
    }
  } else if (format === 'sicd') {
    const sicd = await Sicd.open(path);
    await sicd.close();
    const acq = acquisitionFromSicd(sicd);
    a = {
      format,
      platform: acq.platform.toLowerCase(),
      mode: acq.mode,
      polarisations: acq.polarisations,
      orbitDirection: acq.orbitDirection,
      lookSide: acq.lookSide,
      relativeOrbit: null,
      incidenceDeg: acq.incidenceRangeDeg ? acq.incidenceRangeDeg[0] : null,
      startTime: acq.startTime,
      endTime: acq.endTime,
      footprint: acq.footprint,
    };
  } else {
    const { props, file } = await sidecarProperties(path);
    const tif = await GeoTiff.open(path);
    let bounds: [number, number, number, number];
    try {
      if (tif.epsg === null || tif.geoTransform === null)
        throw new FormatError(path, 'is not georeferenced (no EPSG CRS or geotransform)');
      bounds = lonLatBounds(tif.epsg, tif.geoTransform, tif.width, tif.height) as [
        number,
        number,
        number,
        number,
      ];
    } finally {
      await tif.close();
    }
    const start = str(props.start_datetime) ?? str(props.datetime);
    if (start === null) throw new FormatError(file, 'has no datetime (a STAC item needs one)');
    const [w, s, e, n] = bounds;
    const dir = str(props['sat:orbit_state']);
    const look = str(props['sar:observation_direction']);
    const inc = props['view:incidence_angle'];
    const rel = props['sat:relative_orbit'];
    a = {
      format,
      platform: str(props.platform) ?? 'unknown',
      mode: str(props['sar:instrument_mode']) ?? 'unknown',
      polarisations: Array.isArray(props['sar:polarizations'])
        ? (props['sar:polarizations'] as string[])
        : [],
      orbitDirection: dir === 'ascending' || dir === 'descending' ? dir : null,
      lookSide: look === 'left' || look === 'right' ? look : null,
      relativeOrbit: typeof rel === 'number' ? rel : null,
      incidenceDeg: typeof inc === 'number' ? inc : null,
      startTime: start,
      endTime: str(props.end_datetime) ?? start,
      footprint: [
        [w, s],
        [e, s],
        [e, n],
        [w, n],
        [w, s],
      ],
    };
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
