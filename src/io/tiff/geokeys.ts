import { isGeographic } from '../../geo/crs.js';
import type { GeoTransform } from '../../geo/transform.js';
import type { TagValue } from './ifd.js';
import { Tag } from './tags.js';

/** GeoTIFF 1.1 key ids used here. */
export const GeoKey = {
  GTModelType: 1024,
  GTRasterType: 1025,
  GTCitation: 1026,
  GeographicType: 2048,
  GeogCitation: 2049,
  GeogAngularUnits: 2054,
  ProjectedCSType: 3072,
  ProjLinearUnits: 3076,
} as const;

export const USER_DEFINED = 32767;

export interface GeoKeys {
  /** Key id to value (number, number[] or string). */
  keys: Map<number, number | number[] | string>;
}

/** Decode the GeoKeyDirectory with its double and ASCII parameter tags. */
export function parseGeoKeys(tags: Map<number, TagValue>): GeoKeys | null {
  const dir = tags.get(Tag.GeoKeyDirectory);
  if (!Array.isArray(dir) || dir.length < 4) return null;
  const doubles = tags.get(Tag.GeoDoubleParams);
  const ascii = tags.get(Tag.GeoAsciiParams);
  const keys = new Map<number, number | number[] | string>();
  const n = dir[3];
  for (let i = 0; i < n && 4 + i * 4 + 3 < dir.length; i++) {
    const [id, loc, count, valueOffset] = dir.slice(4 + i * 4, 8 + i * 4);
    if (loc === 0) keys.set(id, valueOffset);
    else if (loc === Tag.GeoDoubleParams && Array.isArray(doubles)) {
      const v = doubles.slice(valueOffset, valueOffset + count);
      keys.set(id, count === 1 ? v[0] : v);
    } else if (loc === Tag.GeoAsciiParams && typeof ascii === 'string') {
      keys.set(id, ascii.slice(valueOffset, valueOffset + count).replace(/\|$/, ''));
    } else if (loc === Tag.GeoKeyDirectory) {
      keys.set(id, dir.slice(valueOffset, valueOffset + count));
    }
  }
  return { keys };
}

/** The EPSG code of the CRS named by the keys, or null for a user-defined or missing CRS. */
export function epsgFromGeoKeys(gk: GeoKeys | null): number | null {
  if (!gk) return null;
  const model = gk.keys.get(GeoKey.GTModelType);
  const projected = gk.keys.get(GeoKey.ProjectedCSType);
  const geographic = gk.keys.get(GeoKey.GeographicType);
  if (model === 1 && typeof projected === 'number' && projected !== USER_DEFINED && projected > 0)
    return projected;
  if (model === 2 && typeof geographic === 'number' && geographic !== USER_DEFINED && geographic > 0)
    return geographic;
  if (typeof projected === 'number' && projected !== USER_DEFINED && projected > 0) return projected;
  return null;
}

/** True when the raster's coordinates refer to pixel centres (GeoTIFF RasterPixelIsPoint). */
export function isPixelIsPoint(gk: GeoKeys | null): boolean {
  return gk?.keys.get(GeoKey.GTRasterType) === 2;
}

/**
 * The geotransform from ModelTransformation, or ModelTiepoint + ModelPixelScale; as GDAL does by default,
 * a PixelIsPoint raster is shifted by half a pixel so the transform is for pixel corners.
 */
export function geoTransformFromTags(tags: Map<number, TagValue>, gk: GeoKeys | null): GeoTransform | null {
  const m = tags.get(Tag.ModelTransformation);
  let gt: GeoTransform | null = null;
  if (Array.isArray(m) && m.length >= 16) {
    gt = [m[3], m[0], m[1], m[7], m[4], m[5]];
  } else {
    const tie = tags.get(Tag.ModelTiepoint);
    const scale = tags.get(Tag.ModelPixelScale);
    if (Array.isArray(tie) && tie.length >= 6 && Array.isArray(scale) && scale.length >= 2) {
      const [i, j, , x, y] = tie;
      const [sx, sy] = scale;
      gt = [x - i * sx, sx, 0, y + j * sy, 0, -sy];
    }
  }
  if (gt && isPixelIsPoint(gk)) {
    gt = [gt[0] - 0.5 * gt[1] - 0.5 * gt[2], gt[1], gt[2], gt[3] - 0.5 * gt[4] - 0.5 * gt[5], gt[4], gt[5]];
  }
  return gt;
}

/** GeoKeyDirectory values for an EPSG code (PixelIsArea). */
export function geoKeyDirectoryFor(epsg: number): number[] {
  const entries: [number, number, number, number][] = [];
  if (isGeographic(epsg)) {
    entries.push(
      [GeoKey.GTModelType, 0, 1, 2],
      [GeoKey.GTRasterType, 0, 1, 1],
      [GeoKey.GeographicType, 0, 1, epsg],
      [GeoKey.GeogAngularUnits, 0, 1, 9102],
    );
  } else {
    entries.push(
      [GeoKey.GTModelType, 0, 1, 1],
      [GeoKey.GTRasterType, 0, 1, 1],
      [GeoKey.ProjectedCSType, 0, 1, epsg],
      [GeoKey.ProjLinearUnits, 0, 1, 9001],
    );
  }
  entries.sort((a, b) => a[0] - b[0]);
  return [1, 1, 0, entries.length, ...entries.flat()];
}
