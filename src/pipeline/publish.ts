import { type ConfidentialityLabel, LABEL_FIELD } from '../access/labels.js';
import { ALL } from '../access/scope.js';
import { buildStacItem, extensionsUsed } from '../catalog/item-builder.js';
import type { StacCollection, StacItem } from '../catalog/types.js';
import { validateItem } from '../catalog/validate.js';
import { ConflictError } from '../errors.js';
import type { ChangeStepResult } from './change.js';
import type { PipelineContext } from './context.js';
import type { ProductRecord } from './registry.js';
import type { ArdStepResult, DetectStepResult } from './steps.js';

const COG = 'image/tiff; application=geotiff; profile=cloud-optimized';
/** The item property naming the registry's product an item was made from. */
export const PRODUCT_FIELD = 'sarbridge:product_id';

/** The collection, created (with the pipeline's collection label) when it does not exist yet. */
async function ensureCollection(ctx: PipelineContext, p: ProductRecord): Promise<StacCollection> {
  const have = await ctx.catalog.getCollection(p.collection, ALL);
  if (have) return have;
  const c: StacCollection = {
    type: 'Collection',
    stac_version: '1.0.0',
    id: p.collection,
    title: `SAR products (${p.collection})`,
    description:
      'Analysis-ready SAR imagery, vessel detections and change, published by the sarbridge pipeline.',
    license: 'proprietary',
    extent: { spatial: { bbox: [[-180, -90, 180, 90]] }, temporal: { interval: [[p.acquiredAt, null]] } },
    links: [],
    ...(ctx.collectionLabel ? { [LABEL_FIELD]: ctx.collectionLabel } : {}),
  };
  try {
    await ctx.catalog.putCollection(c, 'create');
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
  }
  return (await ctx.catalog.getCollection(p.collection, ALL)) ?? c;
}

/** The scene item: ard's item with the stored files' keys, the vessels and the product's label. */
export function sceneItem(
  p: ProductRecord,
  ard: ArdStepResult,
  det: DetectStepResult,
  change: ChangeStepResult,
): StacItem {
  const item = structuredClone(ard.item) as unknown as StacItem;
  item.id = ard.itemId;
  item.collection = p.collection;
  const data = item.assets.data as Record<string, unknown>;
  data.href = ard.cogKey;
  data['file:size'] = ard.cog.sizeBytes;
  data['file:checksum'] = ard.cog.checksum;
  item.assets.thumbnail = {
    ...(item.assets.thumbnail as Record<string, unknown>),
    href: ard.pngKey,
    'file:size': ard.png.sizeBytes,
    'file:checksum': ard.png.checksum,
  };
  item.assets.vessels = {
    href: det.key,
    type: 'application/geo+json',
    title: `Vessel detections (${det.vessels})`,
    roles: ['data', 'detections'],
    'file:size': det.file.sizeBytes,
    'file:checksum': det.file.checksum,
  };
  item.properties = {
    ...item.properties,
    [PRODUCT_FIELD]: p.id,
    'sarbridge:vessel_count': det.vessels,
    ...(change.changeItemId ? { 'sarbridge:change_item': change.changeItemId } : {}),
    ...(p.label ? { [LABEL_FIELD]: p.label } : {}),
  };
  item.stac_extensions = extensionsUsed(item);
  return item;
}

/** The change item: the change raster and polygons, labelled by combining both products' labels. */
export function changeItem(
  ctx: PipelineContext,
  p: ProductRecord,
  prev: ProductRecord,
  ard: ArdStepResult,
  change: ChangeStepResult,
  collectionLabel: ConfidentialityLabel | null,
): StacItem | null {
  if (!change.previous || !change.changeItemId || !change.proj || !change.footprint) return null;
  const label = ctx.rules.combine([p.label ?? collectionLabel, prev.label ?? collectionLabel]);
  const after = String((ard.item.properties as Record<string, unknown>).datetime);
  return buildStacItem({
    id: change.changeItemId,
    collection: p.collection,
    time: { start: change.previous.datetime, end: after },
    footprint: change.footprint,
    proj: change.proj,
    processing: {
      level: 'L3',
      lineage: `log-ratio change between ${change.previous.itemId} and ${ard.itemId}${change.grid === 'resampled' ? ` (made again on the grid of ${change.previous.itemId})` : ''}`,
      software: { sarbridge: '0.1.0' },
    },
    properties: {
      [PRODUCT_FIELD]: p.id,
      'sarbridge:derived_from': [change.previous.itemId, ard.itemId],
      'sarbridge:change_areas': change.areas ?? 0,
      ...(label ? { [LABEL_FIELD]: label } : {}),
    },
    assets: {
      data: {
        href: change.tifKey as string,
        type: COG,
        roles: ['data'],
        title: 'change class (band 1: 0 none, 1 increase, 2 decrease) and dB change (band 2)',
        bands: [
          { name: 'class', nodata: 'nan', dataType: 'float32' },
          { name: 'change_db', nodata: 'nan', dataType: 'float32', unit: 'dB' },
        ],
        file: change.tif && { size: change.tif.sizeBytes, checksum: change.tif.checksum },
      },
      polygons: {
        href: change.geojsonKey as string,
        type: 'application/geo+json',
        roles: ['data'],
        title: `Change polygons (${change.areas ?? 0})`,
        file: change.geojson && { size: change.geojson.sizeBytes, checksum: change.geojson.checksum },
      },
    },
  });
}

/**
 * publish: the scene item and the change item and the product's `published` event in one catalog
 * transaction (`publishItems`: the items upserted by their deterministic ids, so a retried
 * publication writes the same items again; the event inserted unless its key `published:<id>` is
 * there), then the product marked published in the registry. A crash between the two leaves the
 * product processing with its items and event in the catalog; the retry writes the same items,
 * finds the event and marks the product.
 */
export async function publishStep(
  ctx: PipelineContext,
  p: ProductRecord,
  ard: ArdStepResult,
  det: DetectStepResult,
  change: ChangeStepResult,
  durationSinceMs: number,
): Promise<{ items: string[]; eventAdded: boolean }> {
  const coll = await ensureCollection(ctx, p);
  const collectionLabel = (coll[LABEL_FIELD] as ConfidentialityLabel | undefined) ?? null;
  const items = [sceneItem(p, ard, det, change)];
  if (change.previous) {
    const prev = await ctx.registry.get(change.previous.productId);
    const c = prev && changeItem(ctx, p, prev, ard, change, collectionLabel);
    if (c) items.push(c);
  }
  for (const it of items) validateItem(it);
  const ids = items.map((i) => i.id);
  const { eventAdded } = await ctx.catalog.publishItems(p.collection, items, {
    eventKey: `published:${p.id}`,
    type: 'published',
    productId: p.id,
    collection: p.collection,
    itemIds: ids,
    payload: {
      product: p.id,
      collection: p.collection,
      items: ids,
      vessels: det.vessels,
      changeAreas: change.areas ?? 0,
      datetime: (ard.item.properties as Record<string, unknown>).datetime,
      ...(p.label ? { label: p.label } : {}),
    },
  });
  await ctx.registry.published(p.id, ids, performance.now() - durationSinceMs);
  return { items: ids, eventAdded };
}
