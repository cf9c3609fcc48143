import { readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { type ConfidentialityLabel, LABEL_FIELD, LabelRules, RELEASABLE_TO } from '../access/labels.js';
import { ALL } from '../access/scope.js';
import type { CatalogStore } from '../catalog/store.js';
import type { StacItem } from '../catalog/types.js';
import { changeFiles } from '../exploit/change.js';
import { detectFile } from '../exploit/detect.js';
import { lonLatBounds } from '../geo/crs.js';
import { bboxPolygon } from '../geo/geojson.js';
import { AssetStorage } from '../io/asset-storage.js';
import { simulateScene } from '../ops/simulate-scene.js';

/**
 * A demonstration catalog: a simulated pair of scenes (sea, coast, ships, changes), vessels detected
 * on each and the change between them, as a collection `demo` with one item per scene (data COG,
 * vessels GeoJSON) and one for the change (change COG, polygons). Asset hrefs are relative to
 * `outDir`, the asset storage to serve. Labels: the collection is NATO UNCLASSIFIED releasable to
 * NATO; the second pass is RESTRICTED, releasable to GBR and NATO; the change, derived from both,
 * carries the most restrictive of the two.
 */
export async function loadDemo(store: CatalogStore, outDir: string): Promise<StacItem[]> {
  const dir = resolve(outDir);
  const r = await simulateScene(join(dir, 'scenes'), { seed: 2026, size: 2048, ships: 40 });
  const [w, s, e, n] = lonLatBounds(r.epsg, r.geoTransform, r.size, r.size);
  const geometry = bboxPolygon([w, s, e, n]);
  const items: StacItem[] = [];
  const rel = (p: string) => relative(dir, p);
  const label = (classification: string, codes: string[]): ConfidentialityLabel => ({
    policy: 'NATO',
    classification,
    categories: [{ tagName: RELEASABLE_TO, type: 'permissive', values: codes }],
  });
  const collectionLabel = label('UNCLASSIFIED', ['NATO']);
  const sceneLabels = [collectionLabel, label('RESTRICTED', ['GBR', 'NATO'])];
  for (const [k, sc] of r.scenes.entries()) {
    const vessels = sc.path.replace(/\.tif$/, '.vessels.geojson');
    await detectFile(sc.path, vessels, { landMask: r.landPath });
    const side = JSON.parse(await readFile(sc.sidecar, 'utf8')) as { properties: Record<string, unknown> };
    items.push({
      type: 'Feature',
      stac_version: '1.0.0',
      stac_extensions: ['https://stac-extensions.github.io/sar/v1.3.0/schema.json'],
      id: `demo-${sc.date.slice(0, 10)}`,
      collection: 'demo',
      geometry,
      bbox: [w, s, e, n],
      properties: {
        datetime: sc.date,
        platform: 'sarbridge-sim',
        'sar:instrument_mode': 'STRIPMAP',
        'sar:frequency_band': 'C',
        'sar:polarizations': ['VV'],
        'sar:product_type': 'GEC',
        'sar:looks_equivalent_number': side.properties['sar:looks_equivalent_number'],
        ...(k > 0 && sceneLabels[k] ? { [LABEL_FIELD]: sceneLabels[k] } : {}),
      },
      links: [],
      assets: {
        data: {
          href: rel(sc.path),
          type: 'image/tiff; application=geotiff; profile=cloud-optimized',
          roles: ['data'],
          title: 'sigma0 VV (linear)',
          'raster:bands': [{ unit: 'linear', data_type: 'float32' }],
        },
        vessels: {
          href: rel(vessels),
          type: 'application/geo+json',
          roles: ['data', 'detections'],
          title: 'Vessel detections',
        },
      },
    });
  }
  const prefix = join(dir, 'scenes', 'change');
  await changeFiles(r.scenes[0].path, r.scenes[1].path, prefix);
  items.push({
    type: 'Feature',
    stac_version: '1.0.0',
    id: 'demo-change',
    collection: 'demo',
    geometry,
    bbox: [w, s, e, n],
    properties: {
      datetime: null,
      start_datetime: r.scenes[0].date,
      end_datetime: r.scenes[1].date,
      [LABEL_FIELD]: new LabelRules().combine(r.scenes.map((_, k) => sceneLabels[k] ?? collectionLabel)),
    },
    links: [],
    assets: {
      data: {
        href: rel(`${prefix}.tif`),
        type: 'image/tiff; application=geotiff; profile=cloud-optimized',
        roles: ['data'],
        title: 'change class (band 1) and dB change (band 2)',
        'raster:bands': [{ unit: 'class' }, { unit: 'dB' }],
      },
      polygons: {
        href: rel(`${prefix}.geojson`),
        type: 'application/geo+json',
        roles: ['data'],
        title: 'Change polygons',
      },
    },
  } as StacItem);
  if (await store.getCollection('demo', ALL)) await store.deleteCollection('demo');
  await store.putCollection(
    {
      type: 'Collection',
      stac_version: '1.0.0',
      id: 'demo',
      title: 'Simulated demonstration scenes',
      description:
        'Two simulated passes over a coast with ships, the vessels detected on them and the change between them.',
      license: 'proprietary',
      extent: {
        spatial: { bbox: [[w, s, e, n]] },
        temporal: { interval: [[r.scenes[0].date, r.scenes[1].date]] },
      },
      links: [],
      [LABEL_FIELD]: collectionLabel,
    },
    'create',
  );
  // file:size and file:checksum of every asset, as the API adds them to posted items.
  const storage = new AssetStorage(dir);
  for (const it of items) {
    for (const a of Object.values(it.assets)) {
      const info = await storage.info(String(a.href));
      a['file:size'] = info.size;
      a['file:checksum'] = info.checksum;
    }
    it.stac_extensions = [
      ...(it.stac_extensions ?? []),
      'https://stac-extensions.github.io/file/v2.1.0/schema.json',
    ];
  }
  await store.putItems('demo', items, 'create');
  return items;
}
