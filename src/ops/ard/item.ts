import type { ItemInput, SarFields, SatFields, ViewFields } from '../../catalog/item-builder.js';
import { buildStacItem } from '../../catalog/item-builder.js';
import type { StacItem } from '../../catalog/types.js';
import { FormatError } from '../../errors.js';
import type { GeoTransform } from '../../geo/transform.js';
import type { BandStatistics } from '../../io/tiff/writer.js';

/** What the STAC item says about the acquisition, as read from the product. */
export interface AcquisitionFields {
  /** Nominal time, and the first and last lines' times, ISO 8601. */
  time: { datetime: string; start?: string; end?: string };
  platform?: string;
  constellation?: string;
  instruments?: string[];
  /** The sar fields of the acquisition; ard adds the product's spacings and looks. */
  sar: Pick<
    SarFields,
    | 'instrumentMode'
    | 'frequencyBand'
    | 'polarizations'
    | 'productType'
    | 'centerFrequencyGHz'
    | 'observationDirection'
    | 'resolutionRangeM'
    | 'resolutionAzimuthM'
  >;
  sat?: SatFields;
  view?: ViewFields;
  /** Other fields of the product's own metadata (a sidecar's), copied as they are. */
  extra?: Record<string, unknown>;
}

/** What ard made, for its STAC item. */
export interface ArdItemInput {
  id: string;
  acquisition: AcquisitionFields;
  /** Footprint ring, [lon, lat] degrees. */
  footprint: [number, number][];
  grid: { epsg: number; width: number; height: number; geoTransform: GeoTransform };
  spacingM: number;
  looks: { range: number; azimuth: number };
  enl: number;
  lineage: string;
  /** The data asset: file name (in the item's folder), band name, title, size and checksum. */
  data: { file: string; band: string; title: string; sizeBytes: number; checksum: string };
  statistics: BandStatistics | null;
  thumbnail: string;
}

/**
 * ard's STAC item through the typed builder: sar (the acquisition's fields with this product's spacing
 * and looks), sat, view, projection (the output grid), processing, raster (`bands` with unit, nodata
 * and the COG's statistics, which the tiler takes as the display range) and file (size, SHA-256
 * multihash) fields.
 */
export function ardItem(a: ArdItemInput): StacItem {
  const acq = a.acquisition;
  const s = a.statistics;
  const input: ItemInput = {
    id: a.id,
    time: acq.time,
    footprint: a.footprint,
    platform: acq.platform,
    constellation: acq.constellation,
    instruments: acq.instruments,
    sar: {
      ...acq.sar,
      pixelSpacingRangeM: a.spacingM,
      pixelSpacingAzimuthM: a.spacingM,
      looksRange: a.looks.range,
      looksAzimuth: a.looks.azimuth,
      looksEquivalentNumber: a.enl,
    },
    sat: acq.sat,
    view: acq.view,
    proj: a.grid,
    processing: { level: 'L2', lineage: a.lineage, software: { sarbridge: '0.1.0' } },
    assets: {
      data: {
        href: `./${a.data.file}`,
        type: 'image/tiff; application=geotiff; profile=cloud-optimized',
        title: a.data.title,
        roles: ['data'],
        spatialResolutionM: a.spacingM,
        sampling: 'area',
        bands: [
          {
            name: a.data.band,
            nodata: 'nan',
            dataType: 'float32',
            unit: 'dB',
            ...(s
              ? {
                  statistics: {
                    minimum: s.min,
                    maximum: s.max,
                    mean: s.mean,
                    stddev: s.stdDev,
                    valid_percent: s.validPercent,
                  },
                }
              : {}),
          },
        ],
        file: { size: a.data.sizeBytes, checksum: a.data.checksum },
      },
      thumbnail: { href: `./${a.thumbnail}`, type: 'image/png', roles: ['thumbnail'], title: 'quick-look' },
    },
    properties: acq.extra,
  };
  return buildStacItem(input);
}

/** Sentinel-1's relative orbit of an absolute orbit (175 orbits a cycle), null for other missions. */
export function sentinel1RelativeOrbit(mission: string, absoluteOrbit: number): number | null {
  const offset = { S1A: 73, S1B: 27 }[mission.toUpperCase()];
  if (offset === undefined || !(absoluteOrbit > 0)) return null;
  return ((((absoluteOrbit - offset) % 175) + 175) % 175) + 1;
}

const KNOWN = new Set([
  'datetime',
  'start_datetime',
  'end_datetime',
  'platform',
  'constellation',
  'instruments',
  'sar:instrument_mode',
  'sar:frequency_band',
  'sar:polarizations',
  'sar:product_type',
  'sar:center_frequency',
  'sar:observation_direction',
  'sar:resolution_range',
  'sar:resolution_azimuth',
  'sat:orbit_state',
  'sat:relative_orbit',
  'sat:absolute_orbit',
  'sat:platform_international_designator',
  'view:incidence_angle',
  'view:off_nadir',
  'view:azimuth',
]);

/** Fields ard computes itself; a sidecar's values for them are not carried over. */
const COMPUTED = /^(sar:(pixel_spacing|looks)_|proj:|processing:|raster:|file:)/;

/**
 * The acquisition fields of a geocoded product's sidecar (STAC property names): each known field
 * checked for its type, the sar core fields required (a complete item needs them), other acquisition
 * fields (`sar:`, `sat:`, `view:` prefixes) copied as they are.
 */
export function acquisitionFromSidecar(file: string, side: Record<string, unknown>): AcquisitionFields {
  const bad = (key: string, expected: string): never => {
    throw new FormatError(file, `${key} must be ${expected}, got ${JSON.stringify(side[key])}`);
  };
  const str = (key: string, required = false): string | undefined => {
    const v = side[key];
    if (v === undefined) {
      if (required)
        throw new FormatError(
          file,
          `the sidecar has no ${key} (a complete STAC item needs datetime, sar:instrument_mode, sar:frequency_band, sar:polarizations and sar:product_type)`,
        );
      return undefined;
    }
    return typeof v === 'string' && v !== '' ? v : bad(key, 'a non-empty string');
  };
  const num = (key: string): number | undefined => {
    const v = side[key];
    if (v === undefined) return undefined;
    return typeof v === 'number' && Number.isFinite(v) ? v : bad(key, 'a number');
  };
  const strings = (key: string, required = false): string[] | undefined => {
    const v = side[key];
    if (v === undefined && !required) return undefined;
    if (v === undefined) str(key, true);
    return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')
      ? (v as string[])
      : bad(key, 'a non-empty array of strings');
  };
  const oneOf = <T extends string>(key: string, values: readonly T[]): T | undefined => {
    const v = str(key);
    if (v === undefined) return undefined;
    return (values as readonly string[]).includes(v) ? (v as T) : bad(key, `one of ${values.join(', ')}`);
  };
  const datetime = str('datetime', true) as string;
  const start = str('start_datetime');
  const end = str('end_datetime');
  const sat: SatFields = {
    orbitState: oneOf('sat:orbit_state', ['ascending', 'descending', 'geostationary'] as const),
    relativeOrbit: num('sat:relative_orbit'),
    absoluteOrbit: num('sat:absolute_orbit'),
    platformInternationalDesignator: str('sat:platform_international_designator'),
  };
  const view: ViewFields = {
    incidenceAngleDeg: num('view:incidence_angle'),
    offNadirDeg: num('view:off_nadir'),
    azimuthDeg: num('view:azimuth'),
  };
  const extra = Object.fromEntries(
    Object.entries(side).filter(([k]) => /^(sar|sat|view):/.test(k) && !KNOWN.has(k) && !COMPUTED.test(k)),
  );
  return {
    time: { datetime, start, end },
    platform: str('platform'),
    constellation: str('constellation'),
    instruments: strings('instruments'),
    sar: {
      instrumentMode: str('sar:instrument_mode', true) as string,
      frequencyBand: str('sar:frequency_band', true) as string,
      polarizations: strings('sar:polarizations', true) as string[],
      productType: str('sar:product_type', true) as string,
      centerFrequencyGHz: num('sar:center_frequency'),
      observationDirection: oneOf('sar:observation_direction', ['left', 'right'] as const),
      resolutionRangeM: num('sar:resolution_range'),
      resolutionAzimuthM: num('sar:resolution_azimuth'),
    },
    sat: Object.values(sat).some((v) => v !== undefined) ? sat : undefined,
    view: Object.values(view).some((v) => v !== undefined) ? view : undefined,
    extra: Object.keys(extra).length > 0 ? extra : undefined,
  };
}
