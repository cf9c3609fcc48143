import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfidentialityLabel, LABEL_FIELD, RELEASABLE_TO } from '../src/access/labels.js';
import { ALL } from '../src/access/scope.js';
import type { StacItem } from '../src/catalog/types.js';
import { transformPoint } from '../src/geo/crs.js';
import type { SceneResult } from '../src/ops/simulate-scene.js';
import { simulateScene } from '../src/ops/simulate-scene.js';
import type { PipelineContext } from '../src/pipeline/context.js';
import { ingest } from '../src/pipeline/ingest.js';
import type { ProductRecord } from '../src/pipeline/registry.js';
import { jobsView } from '../src/pipeline/view.js';
import { startWorkers } from '../src/pipeline/worker.js';
import { publicItem } from '../src/server/context.js';
import { SICD_CHIP } from './helpers/data.js';
import { tempDir } from './helpers/gdal.js';
import { openTestPipeline, QUEUE_KINDS, type QueueKind, testQueueLocation } from './helpers/pipeline.js';
import { freshDatabase } from './helpers/postgres.js';
import { validateStacItem } from './helpers/stac.js';

const label = (classification: string, codes: string[]): ConfidentialityLabel => ({
  policy: 'NATO',
  classification,
  categories: [{ tagName: RELEASABLE_TO, type: 'permissive', values: codes }],
});
const NATO = label('UNCLASSIFIED', ['NATO']);
const GBR = label('RESTRICTED', ['GBR', 'NATO']);
const COLLECTION = label('UNCLASSIFIED', ['NATO', 'SWE']);

const tmp = tempDir('pipeline-chain-');
afterAll(() => tmp.cleanup());
let scene: SceneResult;

beforeAll(async () => {
  scene = await simulateScene(join(tmp.dir, 'scene'), {
    seed: 4,
    size: 640,
    ships: 12,
    safe: true,
    sicdTemplate: SICD_CHIP,
  });
}, 120_000);

/** Every item of a collection, by id. */
async function items(ctx: PipelineContext, collection = 'sar'): Promise<Map<string, StacItem>> {
  const page = await ctx.catalog.search({ collections: [collection], sortby: [], limit: 1000 }, ALL);
  return new Map(page.items.map((i) => [i.id, i]));
}

/** Planted ships of at least `minLengthM` inside `bbox` found within `radiusM` by a detection. */
function recall(
  truthPath: string,
  vessels: { geometry: { coordinates: number[] } }[],
  bbox: number[],
  epsg: number,
) {
  const truth = JSON.parse(readFileSync(truthPath, 'utf8')) as {
    features: { geometry: { coordinates: [number, number] }; properties: { length_m: number } }[];
  };
  const inside = truth.features.filter(
    (f) =>
      f.properties.length_m >= 100 &&
      f.geometry.coordinates[0] > bbox[0] + 0.005 &&
      f.geometry.coordinates[0] < bbox[2] - 0.005 &&
      f.geometry.coordinates[1] > bbox[1] + 0.005 &&
      f.geometry.coordinates[1] < bbox[3] - 0.005,
  );
  const pts = vessels.map((v) => {
    const c = v.geometry.coordinates;
    return transformPoint(4326, epsg, c[0], c[1]);
  });
  const found = inside.filter((f) => {
    const [x, y] = transformPoint(4326, epsg, ...f.geometry.coordinates);
    return pts.some(([px, py]) => Math.hypot(px - x, py - y) < 150);
  });
  return { planted: inside.length, found: found.length };
}

describe.each<QueueKind>(QUEUE_KINDS)(
  'pipeline on the %s queue (SQLite catalog and registry; PostgreSQL with Redis): SAFE and SICD products to published items',
  (kind) => {
    it('publishes each product with its label, its vessels and the change against the previous pass, once', async () => {
      const dataDir = join(tmp.dir, `data-${kind}`);
      // Embedded (SQLite queue, catalog and registry), or scaled out (Redis queue, PostgreSQL/PostGIS
      // catalog and registry).
      const pgDb = kind === 'redis' ? await freshDatabase() : null;
      const { ctx, close } = await openTestPipeline(dataDir, {
        queue: await testQueueLocation(kind, dataDir, 1),
        db: pgDb?.url,
        landMask: scene.landPath,
      });
      ctx.collectionLabel = COLLECTION;
      expect([ctx.registry.backend, ctx.catalog.backend]).toEqual(
        kind === 'redis' ? ['postgres', 'postgres'] : ['sqlite', 'sqlite'],
      );
      try {
        const [d1, d2] = scene.scenes;
        const safe1 = d1.safe?.safeDir as string;
        const safe2 = d2.safe?.safeDir as string;
        const sicd1 = d1.sicd?.path as string;
        const sicd2 = d2.sicd?.path as string;
        // Arrival out of acquisition order: the later pass first.
        const arrived = [
          ...(await ingest(ctx, [safe2], { label: GBR })),
          ...(await ingest(ctx, [safe1, sicd2], { label: NATO })),
          ...(await ingest(ctx, [sicd1])),
        ];
        expect(arrived.map((a) => [a.added, a.error])).toEqual(Array(4).fill([true, undefined]));
        const workers = await startWorkers(ctx.queue, ctx, { concurrency: 2 });
        await ctx.queue.drained({ timeoutMs: 300_000 });
        await workers.close();

        const view = await jobsView(ctx);
        expect(view.products, JSON.stringify(view.list, null, 1)).toEqual({
          processing: 0,
          published: 4,
          failed: 0,
        });
        const byPath = new Map<string, ProductRecord | null>();
        for (const a of arrived) byPath.set(a.path, await ctx.registry.get(a.id as string));
        const rec = (p: string) => {
          const r = byPath.get(p);
          if (!r) throw new Error(`no product for ${p}`);
          return r;
        };
        const all = await items(ctx);
        // 4 scenes and 2 changes (second SAFE on the first, second SICD on the first), nothing else.
        expect(all.size).toBe(6);
        for (const it of all.values()) {
          // As the API serves it (its links under the public URL), against the official schemas.
          const errors = validateStacItem(
            publicItem('http://127.0.0.1:8080', it) as unknown as Record<string, unknown>,
          );
          expect(errors, `${it.id}: ${errors.join('\n')}`).toEqual([]);
          for (const a of Object.values(it.assets)) {
            const key = a.href as string;
            expect(existsSync(join(dataDir, 'assets', key)), key).toBe(true);
          }
        }
        const scenes = new Map(
          [safe1, safe2, sicd1, sicd2].map((p) => [p, all.get(rec(p).itemIds[0]) as StacItem]),
        );
        // Labels: as given at arrival; the SICD given none has none of its own (the collection's applies).
        expect(scenes.get(safe1)?.properties[LABEL_FIELD]).toEqual(NATO);
        expect(scenes.get(safe2)?.properties[LABEL_FIELD]).toEqual(GBR);
        expect(scenes.get(sicd2)?.properties[LABEL_FIELD]).toEqual(NATO);
        expect(scenes.get(sicd1)?.properties[LABEL_FIELD]).toBeUndefined();
        expect(rec(sicd1).labelSource).toBe('collection');
        // Changes: on the later pass, against the earlier one of the same geometry, with the most
        // restrictive label of the two (RESTRICTED, releasable to the codes both have).
        const safeChange = all.get(rec(safe2).itemIds[1]) as StacItem;
        expect(safeChange.properties['sarbridge:derived_from']).toEqual([
          rec(safe1).itemIds[0],
          rec(safe2).itemIds[0],
        ]);
        expect(safeChange.properties[LABEL_FIELD]).toEqual(label('RESTRICTED', ['NATO']));
        expect(safeChange.properties.start_datetime).toBe('2026-06-01T06:00:00.000Z');
        const sicdChange = all.get(rec(sicd2).itemIds[1]) as StacItem;
        expect(sicdChange.properties['sarbridge:derived_from']).toEqual([
          rec(sicd1).itemIds[0],
          rec(sicd2).itemIds[0],
        ]);
        expect(sicdChange.properties[LABEL_FIELD]).toEqual(label('UNCLASSIFIED', ['NATO']));
        expect(rec(safe1).itemIds).toHaveLength(1);
        expect(rec(sicd1).itemIds).toHaveLength(1);

        // Vessels against the planted ships (each SAFE covers the whole scene).
        for (const [p, d] of [
          [safe1, d1],
          [safe2, d2],
        ] as const) {
          const it = scenes.get(p) as StacItem;
          const doc = JSON.parse(
            readFileSync(join(dataDir, 'assets', it.assets.vessels.href as string), 'utf8'),
          );
          const r = recall(d.truth, doc.features, it.bbox as number[], scene.epsg);
          console.log(`${it.id}: ${r.found} of ${r.planted} planted ships of 100 m or more found`);
          expect(r.planted).toBeGreaterThan(2);
          expect(r.found / r.planted).toBeGreaterThanOrEqual(0.75);
          expect(it.properties['sarbridge:vessel_count']).toBe(doc.features.length);
        }
        // Change polygons against the planted truth: each is on a planted change (a map rectangle) or
        // on a ship of either pass (ships move, arrive and leave); most planted changes are found.
        const polys = JSON.parse(
          readFileSync(join(dataDir, 'assets', safeChange.assets.polygons.href as string), 'utf8'),
        ).features as { geometry: { coordinates: [number, number][][] }; properties: { area_m2: number } }[];
        const ships = [d1, d2].flatMap((d) => d.ships);
        const onChange = (x: number, y: number) =>
          scene.changes.filter(
            (c) => x > c.box[0] - 60 && x < c.box[2] + 60 && y > c.box[1] - 60 && y < c.box[3] + 60,
          );
        const hit = new Set<string>();
        let explained = 0;
        for (const f of polys) {
          const ring = f.geometry.coordinates[0];
          const [cx, cy] = ring.reduce(
            (a, q) => [a[0] + q[0] / ring.length, a[1] + q[1] / ring.length],
            [0, 0],
          );
          const [x, y] = transformPoint(4326, scene.epsg, cx, cy);
          const on = onChange(x, y);
          for (const c of on) hit.add(c.id);
          if (on.length > 0 || ships.some((sh) => Math.hypot(sh.x - x, sh.y - y) < 300)) explained++;
        }
        console.log(
          `SAFE change: ${polys.length} polygons, ${explained} on a planted change or ship; ${hit.size} of ${scene.changes.length} planted changes found`,
        );
        expect(polys.length).toBeGreaterThan(0);
        expect(explained / polys.length).toBeGreaterThanOrEqual(0.9);
        expect(hit.size).toBeGreaterThanOrEqual(Math.ceil(0.75 * scene.changes.length));
        expect(safeChange.properties['sarbridge:change_areas']).toBe(polys.length);

        // One published event per product, in the outbox.
        const events = await ctx.catalog.events();
        expect(events.map((e) => e.productId).sort()).toEqual(arrived.map((a) => a.id).sort());
        expect(events.find((e) => e.productId === rec(safe2).id)?.itemIds).toEqual(rec(safe2).itemIds);

        // A second arrival of the same products (another path, same content) adds nothing.
        const again = await ingest(ctx, [safe1, safe2, sicd1, sicd2], { label: NATO });
        expect(again.map((a) => a.added)).toEqual([false, false, false, false]);
        const w2 = await startWorkers(ctx.queue, ctx, { concurrency: 1 });
        await ctx.queue.drained({ timeoutMs: 60_000 });
        await w2.close();
        expect((await items(ctx)).size).toBe(6);
        expect(await ctx.catalog.events()).toHaveLength(4);
        expect((await ctx.registry.get(rec(safe1).id))?.label).toEqual(NATO);
      } finally {
        await close();
        await pgDb?.drop();
      }
    }, 600_000);
  },
);
