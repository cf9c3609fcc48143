import { mulberry32 } from '../util/random.js';
import type { StacCollection, StacItem } from './types.js';

const MODES = ['IW', 'EW', 'SM', 'SPOTLIGHT', 'STRIPMAP', 'SCANSAR'];
const PLATFORMS = ['sentinel-1a', 'sentinel-1b', 'sarbridge-1', 'sarbridge-2', 'rcm-1', 'rcm-2'];

/** A collection document for synthetic SAR items. */
export function syntheticCollection(id: string): StacCollection {
  return {
    type: 'Collection',
    stac_version: '1.0.0',
    id,
    description: `Synthetic SAR acquisitions (${id})`,
    license: 'proprietary',
    extent: {
      spatial: { bbox: [[-180, -85, 180, 85]] },
      temporal: { interval: [['2023-01-01T00:00:00Z', '2025-12-31T23:59:59Z']] },
    },
    links: [],
  };
}

/**
 * Seeded synthetic SAR items: footprints are rotated rectangles (about 50-250 km by 20-200 km, the
 * sizes of IW, EW, stripmap and spotlight scenes) over the globe between 75 S and 75 N, acquired over
 * three years (2023-2025), with sar, sat, view and processing properties.
 */
export function* syntheticItems(
  n: number,
  seed = 1,
  collection = 'synthetic',
  from = 0,
): Generator<StacItem> {
  const rand = mulberry32(seed);
  const t0 = Date.parse('2023-01-01T00:00:00Z');
  const span = 3 * 365 * 86_400_000;
  for (let k = 0; k < from + n; k++) {
    const lon = -180 + rand() * 360;
    const lat = -75 + rand() * 150;
    const mode = MODES[Math.floor(rand() * MODES.length)];
    const lenKm = mode === 'SPOTLIGHT' ? 10 + rand() * 10 : 50 + rand() * 200;
    const widKm = mode === 'SPOTLIGHT' ? 10 + rand() * 10 : 20 + rand() * 180;
    const heading = (rand() - 0.5) * 0.4 + (rand() < 0.5 ? 0 : Math.PI);
    const t = t0 + rand() * span;
    const platform = PLATFORMS[Math.floor(rand() * PLATFORMS.length)];
    const orbit = rand() < 0.5 ? 'ascending' : 'descending';
    const relOrbit = 1 + Math.floor(rand() * 175);
    const incidence = 20 + rand() * 25;
    const pols = rand() < 0.6 ? ['VV', 'VH'] : rand() < 0.5 ? ['HH', 'HV'] : ['VV'];
    if (k < from) continue;
    const cosLat = Math.cos((lat * Math.PI) / 180);
    const dLat = (km: number) => km / 111.32;
    const dLon = (km: number) => km / (111.32 * Math.max(cosLat, 0.05));
    const corners = [
      [-lenKm / 2, -widKm / 2],
      [lenKm / 2, -widKm / 2],
      [lenKm / 2, widKm / 2],
      [-lenKm / 2, widKm / 2],
    ].map(([a, c]) => {
      const north = a * Math.cos(heading) - c * Math.sin(heading);
      const east = a * Math.sin(heading) + c * Math.cos(heading);
      return [
        Math.max(-180, Math.min(180, lon + dLon(east))),
        Math.max(-90, Math.min(90, lat + dLat(north))),
      ];
    });
    const ring = [...corners, corners[0]].map(([x, y]) => [Number(x.toFixed(6)), Number(y.toFixed(6))]);
    const lons = ring.map((p) => p[0]);
    const lats = ring.map((p) => p[1]);
    yield {
      type: 'Feature',
      stac_version: '1.0.0',
      stac_extensions: [
        'https://stac-extensions.github.io/sar/v1.3.0/schema.json',
        'https://stac-extensions.github.io/sat/v1.2.0/schema.json',
        'https://stac-extensions.github.io/view/v1.1.0/schema.json',
      ],
      id: `${collection}-${String(k).padStart(8, '0')}`,
      collection,
      geometry: { type: 'Polygon', coordinates: [ring] },
      bbox: [Math.min(...lons), Math.min(...lats), Math.max(...lons), Math.max(...lats)],
      properties: {
        datetime: new Date(Math.floor(t)).toISOString(),
        platform,
        constellation: platform.replace(/-\d.*$/, '').replace(/-[ab]$/, ''),
        'sar:instrument_mode': mode,
        'sar:frequency_band': platform.startsWith('sentinel') || platform.startsWith('rcm') ? 'C' : 'X',
        'sar:polarizations': pols,
        'sar:product_type': mode === 'SPOTLIGHT' ? 'SLC' : 'GRD',
        'sat:orbit_state': orbit,
        'sat:relative_orbit': relOrbit,
        'view:incidence_angle': Number(incidence.toFixed(2)),
      },
      links: [],
      assets: {
        data: {
          href: `${collection}/${k}.tif`,
          type: 'image/tiff; application=geotiff; profile=cloud-optimized',
          roles: ['data'],
        },
      },
    };
  }
}
