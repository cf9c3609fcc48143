/**
 * Fan-out of one planted outbox row: a scene item with a vessels GeoJSON (two vessels, one dark) and
 * a change item with a polygons GeoJSON (one area) become, in order, item.published, 2 x
 * vessel.detected, item.published, change.detected with ids <seq>-0..4, the planted geometries and
 * properties, and data links back to the API; cloudEvent makes them absolute.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cloudEvent } from '../src/alerts/cloudevents.js';
import { alertEventsOf } from '../src/alerts/fanout.js';
import type { OutboxEvent } from '../src/catalog/outbox.js';
import { SqliteCatalog } from '../src/catalog/sqlite/store.js';
import { syntheticCollection } from '../src/catalog/synthetic.js';
import type { StacItem } from '../src/catalog/types.js';
import { AssetStorage } from '../src/io/asset-storage.js';
import { LocalStore } from '../src/store/local-store.js';
import { tempDir } from './helpers/gdal.js';

const tmp = tempDir('alerts-fanout-');
afterAll(() => tmp.cleanup());

const box = [
  [
    [2, 50],
    [3, 50],
    [3, 51],
    [2, 51],
    [2, 50],
  ],
];
const item = (id: string, assets: Record<string, unknown>): StacItem =>
  ({
    type: 'Feature',
    stac_version: '1.0.0',
    id,
    bbox: [2, 50, 3, 51],
    geometry: { type: 'Polygon', coordinates: box },
    properties: { datetime: '2026-12-01T06:00:00Z', platform: 's1a' },
    links: [],
    assets,
  }) as unknown as StacItem;

describe('alertEventsOf', () => {
  it('turns a published row into its events', async () => {
    const vessels = {
      type: 'FeatureCollection',
      features: [
        {
          type: 'Feature',
          id: 'vessel-1',
          geometry: { type: 'Point', coordinates: [2.5, 50.5] },
          properties: { length_m: 120, dark: true },
        },
        {
          type: 'Feature',
          id: 'vessel-2',
          geometry: { type: 'Point', coordinates: [2.6, 50.4] },
          properties: { length_m: 40, dark: false },
        },
      ],
    };
    const change = {
      type: 'FeatureCollection',
      features: [
        {
          type: 'Feature',
          id: 'change-1',
          geometry: {
            type: 'Polygon',
            coordinates: [
              [
                [2.1, 50.1],
                [2.2, 50.1],
                [2.2, 50.2],
                [2.1, 50.1],
              ],
            ],
          },
          properties: { kind: 'increase', area_m2: 5400, mean_db: 4.2 },
        },
      ],
    };
    writeFileSync(join(tmp.dir, 'v.geojson'), JSON.stringify(vessels));
    writeFileSync(join(tmp.dir, 'c.geojson'), JSON.stringify(change));
    const catalog = new SqliteCatalog(':memory:');
    await catalog.putCollection(syntheticCollection('sar'), 'create');
    await catalog.putItems(
      'sar',
      [
        item('scene', { vessels: { href: 'v.geojson', type: 'application/geo+json', roles: ['data'] } }),
        item('chg', { polygons: { href: 'c.geojson', type: 'application/geo+json', roles: ['data'] } }),
      ],
      'create',
    );
    const row: OutboxEvent = {
      seq: 17,
      eventKey: 'published:p1',
      type: 'published',
      productId: 'p1',
      collection: 'sar',
      itemIds: ['scene', 'chg'],
      payload: { product: 'p1', collection: 'sar', items: ['scene', 'chg'], vessels: 2, changeAreas: 1 },
      createdAt: '2026-12-02T13:00:00.000Z',
      deliveredAt: null,
    };
    const deps = { catalog, assets: LocalStore.of(new AssetStorage(tmp.dir)) };
    const evs = await alertEventsOf(row, deps);
    expect(evs.map((e) => [e.id, e.type, e.itemId])).toEqual([
      ['17-0', 'item.published', 'scene'],
      ['17-1', 'vessel.detected', 'scene'],
      ['17-2', 'vessel.detected', 'scene'],
      ['17-3', 'item.published', 'chg'],
      ['17-4', 'change.detected', 'chg'],
    ]);
    expect(evs[1]?.geometry).toEqual({ type: 'Point', coordinates: [2.5, 50.5] });
    expect(evs[1]?.properties).toMatchObject({ dark: true, platform: 's1a' });
    expect(evs[2]?.properties.dark).toBe(false);
    expect(evs[4]?.properties).toMatchObject({ area_m2: 5400, mean_db: 4.2 });
    expect(evs[0]?.geometry).toEqual({ type: 'Polygon', coordinates: box });
    // deterministic: the same row again gives the same events
    expect(await alertEventsOf(row, deps)).toEqual(evs);
    const ce = cloudEvent(evs[1] as (typeof evs)[number], 'https://sar.example.org/');
    expect(ce).toMatchObject({
      specversion: '1.0',
      id: '17-1',
      type: 'vessel.detected',
      subject: 'sar/scene',
      source: 'https://sar.example.org',
    });
    const links = (ce.data as { links: { rel: string; href: string }[] }).links;
    expect(links).toContainEqual(
      expect.objectContaining({ rel: 'item', href: 'https://sar.example.org/collections/sar/items/scene' }),
    );
    await catalog.close();
  });
});
