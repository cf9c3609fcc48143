import proj4 from 'proj4';
import { ValidationError } from '../errors.js';
import type { GeoTransform } from './transform.js';
import { applyGeoTransform } from './transform.js';

/** A bounding box [minX, minY, maxX, maxY]; for geographic boxes [west, south, east, north] in degrees. */
export type Bbox = [number, number, number, number];

export const EPSG_WGS84 = 4326;
export const EPSG_WEB_MERCATOR = 3857;

/** proj4 definition of an EPSG code sarbridge knows, or null. */
export function proj4Definition(epsg: number): string | null {
  if (epsg === 4326) return '+proj=longlat +datum=WGS84 +no_defs';
  if (epsg === 3857 || epsg === 900913) {
    return '+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m +nadgrids=@null +wktext +no_defs';
  }
  if (epsg === 4258) return '+proj=longlat +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +no_defs';
  // WGS 84 / UTM zones 1-60 north (326zz) and south (327zz).
  if (epsg >= 32601 && epsg <= 32660) return `+proj=utm +zone=${epsg - 32600} +datum=WGS84 +units=m +no_defs`;
  if (epsg >= 32701 && epsg <= 32760)
    return `+proj=utm +zone=${epsg - 32700} +south +datum=WGS84 +units=m +no_defs`;
  // ETRS89 / UTM zones 28-38 N.
  if (epsg >= 25828 && epsg <= 25838)
    return `+proj=utm +zone=${epsg - 25800} +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs`;
  // NAD83 / UTM zones 1-23 N.
  if (epsg >= 26901 && epsg <= 26923) return `+proj=utm +zone=${epsg - 26900} +datum=NAD83 +units=m +no_defs`;
  // Polar: UPS north/south, NSIDC sea-ice polar stereographic north, Antarctic polar stereographic.
  if (epsg === 32661)
    return '+proj=stere +lat_0=90 +lat_ts=90 +lon_0=0 +k=0.994 +x_0=2000000 +y_0=2000000 +datum=WGS84 +units=m +no_defs';
  if (epsg === 32761)
    return '+proj=stere +lat_0=-90 +lat_ts=-90 +lon_0=0 +k=0.994 +x_0=2000000 +y_0=2000000 +datum=WGS84 +units=m +no_defs';
  if (epsg === 3413)
    return '+proj=stere +lat_0=90 +lat_ts=70 +lon_0=-45 +k=1 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs';
  if (epsg === 3031)
    return '+proj=stere +lat_0=-90 +lat_ts=-71 +lon_0=0 +k=1 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs';
  return null;
}

/** True for geographic (degree) CRSs among the known ones. */
export function isGeographic(epsg: number): boolean {
  return epsg === 4326 || epsg === 4258;
}

/**
 * The grid spacing in a CRS's own units for `spacingM` metres on the ground at latitude `latDeg`:
 * degrees of latitude for geographic CRSs (square pixels in degrees, as gdalwarp -tr takes them), map
 * metres scaled by 1/cos(lat) for Web Mercator, metres for the conformal UTM and polar grids.
 */
export function mapSpacing(epsg: number, spacingM: number, latDeg: number): number {
  if (isGeographic(epsg)) {
    // Metres per degree of latitude on the WGS 84 ellipsoid (meridian arc).
    const phi = (latDeg * Math.PI) / 180;
    const perDegree = 111132.954 - 559.822 * Math.cos(2 * phi) + 1.175 * Math.cos(4 * phi);
    return spacingM / perDegree;
  }
  if (epsg === 3857 || epsg === 900913) return spacingM / Math.cos((latDeg * Math.PI) / 180);
  return spacingM;
}

/** True when sarbridge can transform coordinates in this CRS. */
export function isKnownEpsg(epsg: number): boolean {
  return proj4Definition(epsg) !== null;
}

/** The WGS 84 / UTM EPSG code for the zone containing (lon, lat), degrees. */
export function utmEpsgForLonLat(lon: number, lat: number): number {
  if (!Number.isFinite(lon) || !Number.isFinite(lat) || lat < -90 || lat > 90) {
    throw new ValidationError(`lon/lat (${lon}, ${lat}) must be finite with latitude in [-90, 90]`);
  }
  const normLon = ((((lon + 180) % 360) + 360) % 360) - 180;
  let zone = Math.floor((normLon + 180) / 6) + 1;
  if (zone > 60) zone = 60;
  // Norway and Svalbard exceptions.
  if (lat >= 56 && lat < 64 && normLon >= 3 && normLon < 12) zone = 32;
  if (lat >= 72 && lat < 84) {
    if (normLon >= 0 && normLon < 9) zone = 31;
    else if (normLon >= 9 && normLon < 21) zone = 33;
    else if (normLon >= 21 && normLon < 33) zone = 35;
    else if (normLon >= 33 && normLon < 42) zone = 37;
  }
  return (lat >= 0 ? 32600 : 32700) + zone;
}

const converters = new Map<string, proj4.Converter>();

function definitionOrThrow(epsg: number): string {
  const def = proj4Definition(epsg);
  if (def === null)
    throw new ValidationError(
      `EPSG:${epsg} is not a CRS sarbridge can transform (expected WGS84, Web Mercator, UTM or polar stereographic)`,
    );
  return def;
}

/** A cached coordinate converter between two EPSG codes; coordinates in (x, y) = (lon, lat) order. */
export function converter(fromEpsg: number, toEpsg: number): proj4.Converter {
  const key = `${fromEpsg}>${toEpsg}`;
  let conv = converters.get(key);
  if (!conv) {
    conv = proj4(definitionOrThrow(fromEpsg), definitionOrThrow(toEpsg));
    converters.set(key, conv);
  }
  return conv;
}

/** Transform one point (x, y) between EPSG codes. */
export function transformPoint(fromEpsg: number, toEpsg: number, x: number, y: number): [number, number] {
  if (fromEpsg === toEpsg) return [x, y];
  if (!Number.isFinite(x) || !Number.isFinite(y))
    throw new ValidationError(`cannot transform non-finite coordinates (${x}, ${y})`);
  const out = converter(fromEpsg, toEpsg).forward([x, y]);
  return [out[0], out[1]];
}

/**
 * The lon/lat bounds [west, south, east, north] of a raster, from its edges densified with
 * `densify` points each, as `gdalinfo` and rio do for `wgs84Extent`.
 */
export function lonLatBounds(
  epsg: number,
  gt: GeoTransform,
  width: number,
  height: number,
  densify = 21,
): Bbox {
  return transformedBounds(epsg, gt, width, height, EPSG_WGS84, densify);
}

/** The bounds of a raster in another CRS, from its edges densified with `densify` points each. */
export function transformedBounds(
  epsg: number,
  gt: GeoTransform,
  width: number,
  height: number,
  toEpsg: number,
  densify = 21,
): Bbox {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  const visit = (col: number, row: number) => {
    const [px, py] = applyGeoTransform(gt, col, row);
    const [x, y] = transformPoint(epsg, toEpsg, px, py);
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  };
  for (let i = 0; i <= densify; i++) {
    const f = i / densify;
    visit(f * width, 0);
    visit(f * width, height);
    visit(0, f * height);
    visit(width, f * height);
  }
  return [minX, minY, maxX, maxY];
}
