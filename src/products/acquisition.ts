import { ValidationError } from '../errors.js';
import { mapSpacing, transformPoint } from '../geo/crs.js';
import type { Vec3 } from '../geo/ecef.js';
import { ecfToGeodetic } from '../geo/ecef.js';
import type { Sicd } from '../io/nitf/sicd.js';
import { polyder1, sicdImageToGround } from '../io/nitf/sicd-projection.js';
import type { S1Annotation } from '../io/s1/safe.js';
import type { RasterInfo } from '../io/tiff/reader.js';
import type { Sidecar } from './sidecar.js';

/** One normalised description of a SAR acquisition, whatever the provider's format. */
export interface Acquisition {
  format: 'sentinel-1-safe' | 'sicd' | 'geocoded-geotiff';
  platform: string;
  constellation: string | null;
  /** STRIPMAP, SPOTLIGHT, IW ... as the provider names it. */
  mode: string;
  productType: string;
  /** L1 (GRD, SLC, SICD ...). */
  level: string;
  polarisations: string[];
  lookSide: 'left' | 'right' | null;
  orbitDirection: 'ascending' | 'descending' | null;
  absoluteOrbit: number | null;
  startTime: string;
  endTime: string;
  /** Incidence angles across the image, degrees. */
  incidenceRangeDeg: [number, number] | null;
  pixelSpacingM: { range: number; azimuth: number };
  resolutionM: { range: number; azimuth: number } | null;
  size: { width: number; height: number };
  /** Lon/lat polygon of the image corners (first line/sample, first line/last sample, ...), closed. */
  footprint: [number, number][];
  /** How image positions map to the ground. */
  geolocation:
    | { model: 'tie-point-grid'; points: number }
    | { model: 'sicd-rgzero-inca'; hae: number }
    | { model: 'geotransform'; epsg: number };
  calibration: { available: string[] };
  centreFrequencyHz: number | null;
  /** Orbit state vectors (ECF), when the product lists them. */
  stateVectors: { time: string; position: Vec3; velocity: Vec3 }[];
  /** Complex data: the scene centre point, lat/lon/height. */
  sceneCentre: { lat: number; lon: number; hae: number } | null;
}

const iso = (s: number) => new Date(Math.round(s * 1000)).toISOString();

/** The Acquisition of a Sentinel-1 product, from the annotations of its polarisations. */
export function acquisitionFromSafe(annotations: S1Annotation[]): Acquisition {
  const a = annotations[0];
  const g = a.geolocationGrid;
  const lastLine = Math.max(...g.map((p) => p.line));
  const lastPixel = Math.max(...g.map((p) => p.pixel));
  const corner = (line: number, pixel: number): [number, number] => {
    const p = g.reduce((best, q) =>
      Math.abs(q.line - line) + Math.abs(q.pixel - pixel) <
      Math.abs(best.line - line) + Math.abs(best.pixel - pixel)
        ? q
        : best,
    );
    return [p.lon, p.lat];
  };
  const footprint = [corner(0, 0), corner(0, lastPixel), corner(lastLine, lastPixel), corner(lastLine, 0)];
  footprint.push(footprint[0]);
  const inc = g.map((p) => p.incidenceDeg);
  return {
    format: 'sentinel-1-safe',
    platform: `sentinel-${a.mission.slice(1).toLowerCase()}`,
    constellation: 'sentinel-1',
    mode: a.mode,
    productType: a.productType,
    level: 'L1',
    polarisations: annotations.map((x) => x.polarisation),
    lookSide: 'right',
    orbitDirection: a.pass ? (a.pass.toLowerCase() as 'ascending' | 'descending') : null,
    absoluteOrbit: a.absoluteOrbit,
    startTime: iso(a.firstLineTimeS),
    endTime: iso(a.lastLineTimeS),
    incidenceRangeDeg: inc.length ? [Math.min(...inc), Math.max(...inc)] : null,
    pixelSpacingM: { range: a.rangePixelSpacingM, azimuth: a.azimuthPixelSpacingM },
    resolutionM: null,
    size: { width: a.numberOfSamples, height: a.numberOfLines },
    footprint,
    geolocation: { model: 'tie-point-grid', points: g.length },
    calibration: { available: ['sigma0', 'beta0', 'gamma0', 'thermal-noise'] },
    centreFrequencyHz: a.radarFrequencyHz,
    stateVectors: a.orbit.map((o) => ({ time: iso(o.timeS), position: o.position, velocity: o.velocity })),
    sceneCentre: null,
  };
}

/** Ascending or descending from the ARP velocity's northward component at the SCP's time of aperture. */
function sicdOrbitDirection(m: Sicd['meta']): 'ascending' | 'descending' | null {
  if (!m.arpPoly || !m.timeCoaPoly) return null;
  const t = m.timeCoaPoly[0]?.[0] ?? 0;
  const v: Vec3 = [polyder1(m.arpPoly.x, t), polyder1(m.arpPoly.y, t), polyder1(m.arpPoly.z, t)];
  const lat = (m.scpLlh[0] * Math.PI) / 180;
  const lon = (m.scpLlh[1] * Math.PI) / 180;
  const north: Vec3 = [-Math.sin(lat) * Math.cos(lon), -Math.sin(lat) * Math.sin(lon), Math.cos(lat)];
  const vn = v[0] * north[0] + v[1] * north[1] + v[2] * north[2];
  return vn > 0 ? 'ascending' : 'descending';
}

/** The Acquisition of a SICD; its footprint comes from GeoData.ImageCorners. */
export function acquisitionFromSicd(sicd: Sicd): Acquisition {
  const m = sicd.meta;
  const footprint = m.imageCorners.map(([lat, lon]) => [lon, lat] as [number, number]);
  footprint.push(footprint[0]);
  const start = Date.parse(m.collectStart) / 1000;
  let canProject = false;
  try {
    sicdImageToGround(m, [[0, 0]]);
    canProject = true;
  } catch {
    canProject = false;
  }
  const scp = ecfToGeodetic(m.scpEcf);
  return {
    format: 'sicd',
    platform: m.collectorName,
    constellation: null,
    mode: m.modeType,
    productType: 'SICD',
    level: 'L1',
    polarisations: m.polarization ? [m.polarization.replace(':', '').toUpperCase()] : [],
    lookSide: m.sideOfTrack === 'L' ? 'left' : m.sideOfTrack === 'R' ? 'right' : null,
    orbitDirection: sicdOrbitDirection(m),
    absoluteOrbit: null,
    startTime: iso(start),
    endTime: iso(start + m.collectDurationS),
    incidenceRangeDeg: m.incidenceAngleDeg !== null ? [m.incidenceAngleDeg, m.incidenceAngleDeg] : null,
    pixelSpacingM: { range: m.grid.row.ssM, azimuth: m.grid.col.ssM },
    resolutionM:
      m.grid.row.impRespWidM !== null && m.grid.col.impRespWidM !== null
        ? { range: m.grid.row.impRespWidM, azimuth: m.grid.col.impRespWidM }
        : null,
    size: { width: m.numCols, height: m.numRows },
    footprint,
    geolocation: canProject
      ? { model: 'sicd-rgzero-inca', hae: m.scpLlh[2] }
      : { model: 'tie-point-grid', points: 4 },
    calibration: {
      available: m.sigmaZeroSfPoly ? ['amplitude', 'intensity', 'sigma0'] : ['amplitude', 'intensity'],
    },
    centreFrequencyHz: null,
    stateVectors: [],
    sceneCentre: { lat: scp[0], lon: scp[1], hae: scp[2] },
  };
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/**
 * The Acquisition of a geocoded GeoTIFF from its sidecar's STAC fields (datetime or start_datetime /
 * end_datetime, platform, constellation, sar:*, sat:*, view:*) and the file's grid (footprint, size,
 * pixel spacing when the sidecar has none). Throws a ValidationError naming the sidecar when it has no
 * time.
 */
export function acquisitionFromGeocoded(info: RasterInfo, sidecar: Sidecar): Acquisition {
  const p = sidecar.properties;
  if (info.epsg === null || info.geoTransform === null || info.bounds === null)
    throw new ValidationError(`${info.file}: is not georeferenced (no EPSG CRS or geotransform)`);
  const start = str(p.start_datetime) ?? str(p.datetime);
  const end = str(p.end_datetime) ?? str(p.datetime) ?? start;
  if (start === null || end === null || Number.isNaN(Date.parse(start)) || Number.isNaN(Date.parse(end)))
    throw new ValidationError(
      `${sidecar.path}: the sidecar has no valid datetime (or start_datetime and end_datetime), expected ISO 8601 times`,
    );
  const epsg = info.epsg;
  const [minX, minY, maxX, maxY] = info.bounds;
  const footprint = (
    [
      [minX, maxY],
      [maxX, maxY],
      [maxX, minY],
      [minX, minY],
    ] as [number, number][]
  ).map(([x, y]) => transformPoint(epsg, 4326, x, y));
  footprint.push(footprint[0]);
  const lat = footprint.slice(0, 4).reduce((a, q) => a + q[1], 0) / 4;
  const gt = info.geoTransform;
  const pols = Array.isArray(p['sar:polarizations']) ? p['sar:polarizations'] : [];
  const side = str(p['sar:observation_direction']);
  const orbit = str(p['sat:orbit_state']);
  const inc = num(p['view:incidence_angle']);
  const resRange = num(p['sar:resolution_range']);
  const resAz = num(p['sar:resolution_azimuth']);
  const ghz = num(p['sar:center_frequency']);
  return {
    format: 'geocoded-geotiff',
    platform: str(p.platform) ?? 'unknown',
    constellation: str(p.constellation),
    mode: str(p['sar:instrument_mode']) ?? 'unknown',
    productType: str(p['sar:product_type']) ?? 'unknown',
    level: 'L2',
    polarisations: pols.filter((x): x is string => typeof x === 'string').map((x) => x.toUpperCase()),
    lookSide: side === 'left' || side === 'right' ? side : null,
    orbitDirection: orbit === 'ascending' || orbit === 'descending' ? orbit : null,
    absoluteOrbit: num(p['sat:absolute_orbit']),
    startTime: new Date(Date.parse(start)).toISOString(),
    endTime: new Date(Date.parse(end)).toISOString(),
    incidenceRangeDeg: inc === null ? null : [inc, inc],
    pixelSpacingM: {
      range: num(p['sar:pixel_spacing_range']) ?? Math.abs(gt[1]) / mapSpacing(epsg, 1, lat),
      azimuth: num(p['sar:pixel_spacing_azimuth']) ?? Math.abs(gt[5]) / mapSpacing(epsg, 1, lat),
    },
    resolutionM: resRange !== null && resAz !== null ? { range: resRange, azimuth: resAz } : null,
    size: { width: info.width, height: info.height },
    footprint,
    geolocation: { model: 'geotransform', epsg },
    calibration: { available: [] },
    centreFrequencyHz: ghz === null ? null : ghz * 1e9,
    stateVectors: [],
    sceneCentre: null,
  };
}
