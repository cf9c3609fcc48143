import { ValidationError } from '../errors.js';
import type { GeoTransform } from '../geo/transform.js';
import type { StacItem } from './types.js';

/**
 * The STAC extension schemas sarbridge's items may list, by field prefix. Projection is v1.2.0, the
 * one version that declares both `proj:code` (new in v1.2.0) and `proj:epsg` (deprecated in v1.2.0,
 * removed in v2.0.0): GDAL 3.6's STACIT driver reads only `proj:epsg`, newer clients read `proj:code`.
 */
export const EXTENSION_SCHEMAS = {
  sar: 'https://stac-extensions.github.io/sar/v1.3.0/schema.json',
  sat: 'https://stac-extensions.github.io/sat/v1.2.0/schema.json',
  view: 'https://stac-extensions.github.io/view/v1.1.0/schema.json',
  proj: 'https://stac-extensions.github.io/projection/v1.2.0/schema.json',
  processing: 'https://stac-extensions.github.io/processing/v1.2.0/schema.json',
  raster: 'https://stac-extensions.github.io/raster/v2.0.0/schema.json',
  file: 'https://stac-extensions.github.io/file/v2.1.0/schema.json',
} as const;

export type ExtensionPrefix = keyof typeof EXTENSION_SCHEMAS;

/** SAR extension v1.3.0 fields (spacings in metres, centre frequency in GHz). */
export interface SarFields {
  instrumentMode: string;
  frequencyBand: string;
  polarizations: string[];
  productType: string;
  centerFrequencyGHz?: number;
  observationDirection?: 'left' | 'right';
  pixelSpacingRangeM?: number;
  pixelSpacingAzimuthM?: number;
  resolutionRangeM?: number;
  resolutionAzimuthM?: number;
  looksRange?: number;
  looksAzimuth?: number;
  looksEquivalentNumber?: number;
}

/** Satellite extension v1.2.0 fields. */
export interface SatFields {
  orbitState?: 'ascending' | 'descending' | 'geostationary';
  relativeOrbit?: number;
  absoluteOrbit?: number;
  platformInternationalDesignator?: string;
}

/** View extension v1.1.0 fields, in degrees. */
export interface ViewFields {
  incidenceAngleDeg?: number;
  offNadirDeg?: number;
  azimuthDeg?: number;
}

/**
 * Projection of a raster grid: its EPSG code, its size and its GDAL geotransform (pixel corners,
 * `x = gt[0] + col * gt[1] + row * gt[2]`, `y = gt[3] + col * gt[4] + row * gt[5]`).
 */
export interface ProjectionFields {
  epsg: number;
  width: number;
  height: number;
  geoTransform: GeoTransform;
}

/** Processing extension v1.2.0 fields. */
export interface ProcessingFields {
  level?: string;
  lineage?: string;
  facility?: string;
  /** Software name to version. */
  software?: Record<string, string>;
}

/** A band of a raster asset (STAC 1.1 common band fields, as the raster extension v2.0.0 uses). */
export interface BandFields {
  name?: string;
  description?: string;
  /** A number, or 'nan', 'inf', '-inf'. */
  nodata?: number | 'nan' | 'inf' | '-inf';
  dataType?: string;
  unit?: string;
  statistics?: { minimum?: number; maximum?: number; mean?: number; stddev?: number; valid_percent?: number };
}

/** File extension v2.1.0 fields: size in bytes, checksum a multihash in hex. */
export interface FileFields {
  size: number;
  checksum: string;
}

export interface AssetInput {
  href: string;
  type: string;
  roles: string[];
  title?: string;
  /** The grid of this asset, when it differs from the item's (or the item has none). */
  proj?: ProjectionFields;
  bands?: BandFields[];
  /** raster:spatial_resolution, metres. */
  spatialResolutionM?: number;
  /** raster:sampling. */
  sampling?: 'area' | 'point';
  file?: FileFields;
}

export interface ItemInput {
  id: string;
  collection?: string;
  /**
   * An instant (with, optionally, the range it stands for: start_datetime and end_datetime, as an
   * acquisition's nominal time and its first and last lines), or a range alone (datetime is then null).
   */
  time: { datetime: string; start?: string; end?: string } | { start: string; end: string };
  /** Footprint, one ring of [lon, lat] in degrees, closed or not, in either winding. */
  footprint: [number, number][];
  platform?: string;
  constellation?: string;
  instruments?: string[];
  sar?: SarFields;
  sat?: SatFields;
  view?: ViewFields;
  /** The grid shared by the item's raster assets. */
  proj?: ProjectionFields;
  processing?: ProcessingFields;
  assets: Record<string, AssetInput>;
  /** Other properties, copied as they are (for instance the confidentiality label). */
  properties?: Record<string, unknown>;
}

/**
 * The projection extension fields of a grid: `proj:code` and `proj:epsg` for the CRS, `proj:shape`
 * as [rows, columns], `proj:transform` as the first two rows of the affine matrix
 * `[a, b, c, d, e, f]` with `x = a * col + b * row + c`, `y = d * col + e * row + f` (GDAL's
 * geotransform `[c, a, b, f, d, e]`), and `proj:bbox` in the CRS. Example: a UTM 31N grid of 10 m
 * pixels from (500000, 4000000), 8 rows by 10 columns, gives `proj:transform` [10, 0, 500000, 0,
 * -10, 4000000] and `proj:bbox` [500000, 3999920, 500100, 4000000].
 */
export function projectionFields(p: ProjectionFields): Record<string, unknown> {
  if (!Number.isInteger(p.epsg) || p.epsg <= 0)
    throw new ValidationError(`proj: epsg must be a positive integer, got ${p.epsg}`);
  if (!Number.isInteger(p.width) || !Number.isInteger(p.height) || p.width <= 0 || p.height <= 0)
    throw new ValidationError(`proj: shape must be positive integers, got ${p.width} x ${p.height}`);
  if (!p.geoTransform.every(Number.isFinite))
    throw new ValidationError(`proj: geotransform must be finite, got ${JSON.stringify(p.geoTransform)}`);
  const gt = p.geoTransform;
  const xs = [0, p.width].flatMap((c) => [0, p.height].map((r) => gt[0] + c * gt[1] + r * gt[2]));
  const ys = [0, p.width].flatMap((c) => [0, p.height].map((r) => gt[3] + c * gt[4] + r * gt[5]));
  return {
    'proj:code': `EPSG:${p.epsg}`,
    'proj:epsg': p.epsg,
    'proj:shape': [p.height, p.width],
    'proj:transform': [gt[1], gt[2], gt[0], gt[4], gt[5], gt[3]],
    'proj:bbox': [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)],
  };
}

/** Twice the signed area of a ring (positive when counter-clockwise, x east and y north). */
function signedArea2(ring: [number, number][]): number {
  let a = 0;
  for (let i = 0; i < ring.length; i++) {
    const [x1, y1] = ring[i];
    const [x2, y2] = ring[(i + 1) % ring.length];
    a += x1 * y2 - x2 * y1;
  }
  return a;
}

/**
 * A footprint as a GeoJSON exterior ring: counter-clockwise (RFC 7946 §3.1.6) and closed. Throws for
 * a ring of fewer than 3 distinct points or with coordinates out of range.
 */
export function exteriorRing(points: [number, number][]): [number, number][] {
  const open = points.slice();
  const [fx, fy] = open[0] ?? [];
  const last = open[open.length - 1];
  if (open.length > 1 && last[0] === fx && last[1] === fy) open.pop();
  if (open.length < 3) throw new ValidationError(`footprint: needs at least 3 points, got ${open.length}`);
  for (const [lon, lat] of open)
    if (!(Math.abs(lon) <= 180 && Math.abs(lat) <= 90))
      throw new ValidationError(`footprint: [${lon}, ${lat}] is not a longitude and latitude in degrees`);
  if (signedArea2(open) < 0) open.reverse();
  return [...open, open[0]];
}

const defined = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

function sarProperties(s: SarFields): Record<string, unknown> {
  return defined({
    'sar:instrument_mode': s.instrumentMode,
    'sar:frequency_band': s.frequencyBand,
    'sar:center_frequency': s.centerFrequencyGHz,
    'sar:polarizations': s.polarizations,
    'sar:product_type': s.productType,
    'sar:observation_direction': s.observationDirection,
    'sar:pixel_spacing_range': s.pixelSpacingRangeM,
    'sar:pixel_spacing_azimuth': s.pixelSpacingAzimuthM,
    'sar:resolution_range': s.resolutionRangeM,
    'sar:resolution_azimuth': s.resolutionAzimuthM,
    'sar:looks_range': s.looksRange,
    'sar:looks_azimuth': s.looksAzimuth,
    'sar:looks_equivalent_number': s.looksEquivalentNumber,
  });
}

function assetObject(a: AssetInput): Record<string, unknown> {
  return defined({
    href: a.href,
    type: a.type,
    title: a.title,
    roles: a.roles,
    ...(a.proj ? projectionFields(a.proj) : {}),
    'raster:spatial_resolution': a.spatialResolutionM,
    'raster:sampling': a.sampling,
    bands: a.bands?.map((b) =>
      defined({
        name: b.name,
        description: b.description,
        nodata: b.nodata,
        data_type: b.dataType,
        unit: b.unit,
        statistics: b.statistics,
      }),
    ),
    'file:size': a.file?.size,
    'file:checksum': a.file?.checksum,
  });
}

/**
 * The extension schema URLs whose fields `item` carries in its properties or assets, in the order of
 * EXTENSION_SCHEMAS (an extension's schema requires at least one of its fields, so one listed without
 * fields fails validation).
 */
export function extensionsUsed(item: Pick<StacItem, 'properties' | 'assets'>): string[] {
  const keys = new Set<string>();
  for (const o of [item.properties, ...Object.values(item.assets ?? {})])
    for (const k of Object.keys(o ?? {})) keys.add(k.split(':')[0]);
  return (Object.keys(EXTENSION_SCHEMAS) as ExtensionPrefix[])
    .filter((p) => keys.has(p))
    .map((p) => EXTENSION_SCHEMAS[p]);
}

/**
 * A STAC 1.0.0 item from typed fields: the footprint wound counter-clockwise and closed, bbox from
 * it, the sar, sat, view, projection, processing, raster and file extension fields under their
 * prefixes, and `stac_extensions` listing exactly the extensions whose fields it carries.
 *
 * @example
 * buildStacItem({ id: 'scene', time: { datetime: '2026-01-01T00:00:00Z' },
 *   footprint: [[0, 0], [1, 0], [1, 1], [0, 1]],
 *   proj: { epsg: 4326, width: 100, height: 100, geoTransform: [0, 0.01, 0, 1, 0, -0.01] },
 *   assets: { data: { href: './scene.tif', type: 'image/tiff; application=geotiff', roles: ['data'] } } });
 */
export function buildStacItem(input: ItemInput): StacItem {
  const ring = exteriorRing(input.footprint);
  const lons = ring.map((p) => p[0]);
  const lats = ring.map((p) => p[1]);
  const time =
    'datetime' in input.time
      ? defined({
          datetime: input.time.datetime,
          start_datetime: input.time.start,
          end_datetime: input.time.end,
        })
      : { datetime: null, start_datetime: input.time.start, end_datetime: input.time.end };
  const sat = input.sat;
  const view = input.view;
  const proc = input.processing;
  const properties = {
    ...time,
    ...defined({
      platform: input.platform,
      constellation: input.constellation,
      instruments: input.instruments,
    }),
    ...(input.sar ? sarProperties(input.sar) : {}),
    ...(sat
      ? defined({
          'sat:orbit_state': sat.orbitState,
          'sat:relative_orbit': sat.relativeOrbit,
          'sat:absolute_orbit': sat.absoluteOrbit,
          'sat:platform_international_designator': sat.platformInternationalDesignator,
        })
      : {}),
    ...(view
      ? defined({
          'view:incidence_angle': view.incidenceAngleDeg,
          'view:off_nadir': view.offNadirDeg,
          'view:azimuth': view.azimuthDeg,
        })
      : {}),
    ...(input.proj ? projectionFields(input.proj) : {}),
    ...(proc
      ? defined({
          'processing:level': proc.level,
          'processing:lineage': proc.lineage,
          'processing:facility': proc.facility,
          'processing:software': proc.software,
        })
      : {}),
    ...input.properties,
  } as StacItem['properties'];
  const assets = Object.fromEntries(Object.entries(input.assets).map(([k, a]) => [k, assetObject(a)]));
  const item: StacItem = {
    type: 'Feature',
    stac_version: '1.0.0',
    stac_extensions: [],
    id: input.id,
    ...(input.collection !== undefined ? { collection: input.collection } : {}),
    geometry: { type: 'Polygon', coordinates: [ring] },
    bbox: [Math.min(...lons), Math.min(...lats), Math.max(...lons), Math.max(...lats)],
    properties,
    links: [],
    assets,
  };
  item.stac_extensions = extensionsUsed(item);
  return item;
}
