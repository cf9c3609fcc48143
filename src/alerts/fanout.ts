/**
 * Fan-out: one outbox `published` row becomes the alert events it stands for, in a fixed order:
 * for each published item (in the row's order) one `item.published`, then one `vessel.detected` per
 * feature of the item's `vessels` asset (the detector's GeoJSON, with `dark` from the AIS match:
 * true without an AIS report nearby, false with one, null or absent when unknown), then one
 * `change.detected` per feature of its `polygons` asset (the change polygons: area_m2, mean_db,
 * kind). Ids are `<seq>-<n>`, n counting from 0 over the row, so fanning out the same row again
 * gives the same events. Items are read with the ALL scope: fan-out is not per partner; who may see
 * an event is decided per subscriber, on the item, when it is delivered or streamed.
 *
 * The events' `data` holds links relative to the API root (`/collections/{c}/items/{id}`);
 * cloudEvent() makes them absolute.
 */
import { ALL } from '../access/scope.js';
import type { OutboxEvent } from '../catalog/outbox.js';
import type { CatalogStore } from '../catalog/store.js';
import type { StacItem } from '../catalog/types.js';
import { FormatError } from '../errors.js';
import type { AssetStore } from '../store/store.js';
import type { AlertEvent, AlertEventType, EventGeometry } from './types.js';

export interface FanoutDeps {
  catalog: CatalogStore;
  assets: AssetStore;
  /** Largest detections GeoJSON read (default 64 MiB); a larger one is a FormatError. */
  maxAssetBytes?: number;
}

export const DEFAULT_MAX_ASSET_BYTES = 64 * 1024 * 1024;

interface Feature {
  id?: string | number;
  geometry: EventGeometry | null;
  properties: Record<string, unknown> | null;
}

const enc = encodeURIComponent;
export const itemPath = (collection: string, itemId: string): string =>
  `/collections/${enc(collection)}/items/${enc(itemId)}`;

/** The alert events of one outbox row (an empty list for a row of another type). */
export async function alertEventsOf(row: OutboxEvent, deps: FanoutDeps): Promise<AlertEvent[]> {
  if (row.type !== 'published') return [];
  const payload = row.payload ?? {};
  const time = row.createdAt;
  const ids = row.itemIds.length > 0 ? row.itemIds : ((payload.items as string[] | undefined) ?? []);
  const out: AlertEvent[] = [];
  const push = (
    type: AlertEventType,
    item: StacItem,
    geometry: EventGeometry | null,
    properties: Record<string, unknown>,
    data: Record<string, unknown>,
  ) => {
    const index = out.length;
    out.push({
      id: `${row.seq}-${index}`,
      outboxSeq: row.seq,
      index,
      type,
      time,
      collection: row.collection,
      itemId: item.id,
      geometry,
      properties,
      data,
    });
  };
  for (const itemId of ids) {
    const item = await deps.catalog.getItem(row.collection, itemId, ALL);
    if (!item) continue;
    const props = (item.properties ?? {}) as Record<string, unknown>;
    const self = itemPath(row.collection, item.id);
    const itemLinks = [
      { rel: 'self', href: self, type: 'application/geo+json' },
      { rel: 'collection', href: `/collections/${enc(row.collection)}`, type: 'application/json' },
    ];
    push(
      'item.published',
      item,
      geometryOf(item),
      { ...props },
      {
        item: {
          id: item.id,
          collection: row.collection,
          bbox: item.bbox,
          geometry: item.geometry,
          properties: props,
        },
        product: payload.product ?? null,
        links: itemLinks,
      },
    );
    const assets = (item.assets ?? {}) as Record<string, { href?: string }>;
    for (const [assetName, type] of [
      ['vessels', 'vessel.detected'],
      ['polygons', 'change.detected'],
    ] as const) {
      const href = assets[assetName]?.href;
      if (!href) continue;
      const features = await readFeatures(deps, href, `${row.collection}/${item.id} asset ${assetName}`);
      for (const f of features) {
        const own = f.properties ?? {};
        const detection = { id: f.id ?? null, geometry: f.geometry, properties: own };
        const links = [
          { rel: 'item', href: self, type: 'application/geo+json' },
          { rel: 'asset', href: `${self}/assets/${enc(assetName)}`, type: 'application/geo+json' },
        ];
        push(
          type,
          item,
          f.geometry,
          { ...props, ...own },
          type === 'vessel.detected'
            ? { vessel: detection, item: { id: item.id, collection: row.collection }, links }
            : { change: detection, item: { id: item.id, collection: row.collection }, links },
        );
      }
    }
  }
  return out;
}

function geometryOf(item: StacItem): EventGeometry | null {
  const g = item.geometry as EventGeometry | null | undefined;
  return g && (g.type === 'Polygon' || g.type === 'MultiPolygon' || g.type === 'Point') ? g : null;
}

async function readFeatures(deps: FanoutDeps, href: string, what: string): Promise<Feature[]> {
  const key = deps.assets.keyOf(href);
  if (key === null) throw new FormatError(what, `href ${href} names nothing in the asset store`);
  const reader = await deps.assets.source(key);
  try {
    const max = deps.maxAssetBytes ?? DEFAULT_MAX_ASSET_BYTES;
    if (reader.size > max)
      throw new FormatError(what, `${reader.size} bytes, more than the ${max} read at most`);
    const text = Buffer.from(await reader.read(0, reader.size, what)).toString('utf8');
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new FormatError(what, `not JSON: ${(err as Error).message}`);
    }
    const features = (doc as { features?: unknown }).features;
    if (!Array.isArray(features)) throw new FormatError(what, 'not a GeoJSON FeatureCollection');
    return features.map((f) => {
      const ft = f as Feature;
      const g = ft.geometry;
      const geometry =
        g && (g.type === 'Point' || g.type === 'Polygon' || g.type === 'MultiPolygon') ? g : null;
      return { id: ft.id, geometry, properties: ft.properties ?? {} };
    });
  } finally {
    await reader.close();
  }
}
