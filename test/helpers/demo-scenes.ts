// The demonstration catalog `npm start` served before issue 14 (three hand-written items over a
// simulated pair of scenes, assets as paths under a folder): kept for the interoperability tests.
import { readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import {
  type ConfidentialityLabel,
  LABEL_FIELD,
  LabelRules,
  RELEASABLE_TO,
} from '../../src/access/labels.js';
import { ALL } from '../../src/access/scope.js';
import { type BandFields, buildStacItem, type ProjectionFields } from '../../src/catalog/item-builder.js';
import type { CatalogStore } from '../../src/catalog/store.js';
import type { StacItem } from '../../src/catalog/types.js';
import { FormatError } from '../../src/errors.js';
import { changeFiles } from '../../src/exploit/change.js';
import { detectFile } from '../../src/exploit/detect.js';
import { lonLatBounds } from '../../src/geo/crs.js';
import { AssetStorage } from '../../src/io/asset-storage.js';
import { GeoTiff } from '../../src/io/tiff/reader.js';
import { simulateScene } from '../../src/ops/simulate-scene.js';

const COG = 'image/tiff; application=geotiff; profile=cloud-optimized';

/**
 * The grid of a COG as its header says (not as the writer was asked): the projection fields, the
 * footprint (its lon/lat bounds) and the nodata value as the STAC band field.
 */
async function cogGrid(path: string): Promise<{
  proj: ProjectionFields;
  footprint: [number, number][];
  nodata: BandFields['nodata'];
}> {
  const tif = await GeoTiff.open(path);
  try {
    const { epsg, geoTransform, width, height, nodata } = tif;
    if (epsg === null || geoTransform === null)
      throw new FormatError(path, "the demo's COG has no EPSG code or no geotransform");
    const [w, s, e, n] = lonLatBounds(epsg, geoTransform, width, height);
    return {
      proj: { epsg, width, height, geoTransform },
      footprint: [
        [w, s],
        [e, s],
        [e, n],
        [w, n],
      ],
      nodata: nodata === null ? undefined : Number.isNaN(nodata) ? 'nan' : nodata,
    };
  } finally {
    await tif.close();
  }
}

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
  const items: StacItem[] = [];
  const rel = (p: string) => relative(dir, p);
  // file:size and file:checksum of every asset, as the API adds them to posted items.
  const storage = new AssetStorage(dir);
  const file = async (p: string) => {
    const info = await storage.info(rel(p));
    return { size: info.size, checksum: info.checksum };
  };
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
    const grid = await cogGrid(sc.path);
    items.push(
      buildStacItem({
        id: `demo-${sc.date.slice(0, 10)}`,
        collection: 'demo',
        time: { datetime: sc.date },
        footprint: grid.footprint,
        platform: 'sarbridge-sim',
        sar: {
          instrumentMode: 'STRIPMAP',
          frequencyBand: 'C',
          polarizations: ['VV'],
          productType: 'GEC',
          looksEquivalentNumber: side.properties['sar:looks_equivalent_number'] as number,
        },
        properties: k > 0 && sceneLabels[k] ? { [LABEL_FIELD]: sceneLabels[k] } : {},
        assets: {
          data: {
            href: rel(sc.path),
            type: COG,
            roles: ['data'],
            title: 'sigma0 VV (linear)',
            proj: grid.proj,
            bands: [{ unit: 'linear', dataType: 'float32', nodata: grid.nodata }],
            file: await file(sc.path),
          },
          vessels: {
            href: rel(vessels),
            type: 'application/geo+json',
            roles: ['data', 'detections'],
            title: 'Vessel detections',
            file: await file(vessels),
          },
        },
      }),
    );
  }
  const prefix = join(dir, 'scenes', 'change');
  await changeFiles(r.scenes[0].path, r.scenes[1].path, prefix);
  const grid = await cogGrid(`${prefix}.tif`);
  items.push(
    buildStacItem({
      id: 'demo-change',
      collection: 'demo',
      time: { start: r.scenes[0].date, end: r.scenes[1].date },
      footprint: grid.footprint,
      properties: {
        [LABEL_FIELD]: new LabelRules().combine(r.scenes.map((_, k) => sceneLabels[k] ?? collectionLabel)),
      },
      assets: {
        data: {
          href: rel(`${prefix}.tif`),
          type: COG,
          roles: ['data'],
          title: 'change class (band 1) and dB change (band 2)',
          proj: grid.proj,
          bands: [
            { unit: 'class', nodata: grid.nodata },
            { unit: 'dB', nodata: grid.nodata },
          ],
          file: await file(`${prefix}.tif`),
        },
        polygons: {
          href: rel(`${prefix}.geojson`),
          type: 'application/geo+json',
          roles: ['data'],
          title: 'Change polygons',
          file: await file(`${prefix}.geojson`),
        },
      },
    }),
  );
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
  await store.putItems('demo', items, 'create');
  return items;
}
