import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL } from '../src/access/scope.js';
import type { NewOutboxEvent } from '../src/catalog/outbox.js';
import { PostgresCatalog } from '../src/catalog/postgres/store.js';
import type { CatalogStore } from '../src/catalog/store.js';
import { syntheticCollection, syntheticItems } from '../src/catalog/synthetic.js';
import { ValidationError } from '../src/errors.js';
import { tempDir } from './helpers/gdal.js';
import { catalogBackends, freshDatabase } from './helpers/postgres.js';

const tmp = tempDir('catalog-outbox-');
afterAll(() => tmp.cleanup());

const event = (
  productId: string,
  itemIds: string[],
  payload: Record<string, unknown> = {},
): NewOutboxEvent => ({
  eventKey: `published:${productId}`,
  type: 'published',
  productId,
  collection: 'c',
  itemIds,
  payload,
});

const allIds = async (store: CatalogStore) =>
  (await store.search({ collections: ['c'], sortby: [], limit: 1000 }, ALL)).items.map((i) => i.id).sort();

describe.each(catalogBackends())(
  'outbox on the $name catalog: items and event in one transaction',
  (backend) => {
    let store: CatalogStore;
    beforeAll(async () => {
      store = await backend.open(tmp.dir);
      await store.putCollection(syntheticCollection('c'), 'create');
    });
    afterAll(async () => {
      await store.close();
      await backend.cleanup?.();
    });

    it('writes neither the items nor the event when the event cannot be written', async () => {
      const items = [...syntheticItems(2, 1, 'c')];
      // A BigInt does not serialise: the event's insert throws after the items are written in the transaction.
      await expect(store.publishItems('c', items, event('pbad', [], { n: 1n }))).rejects.toThrow(/BigInt/);
      expect(await allIds(store)).toEqual([]);
      expect(await store.events()).toEqual([]);
    });

    it('writes neither when the items cannot be written (no such collection)', async () => {
      await expect(
        store.publishItems('nope', [...syntheticItems(1, 2, 'nope')], event('p0', [])),
      ).rejects.toThrow(/collection 'nope' does not exist/);
      expect(await store.events()).toEqual([]);
    });

    it('adds the event once: a second publication with its key writes the items again and no event', async () => {
      const items = [...syntheticItems(2, 3, 'c')];
      const ids = items.map((i) => i.id);
      expect(await store.publishItems('c', items, event('p1', ids, { n: 1 }))).toEqual({ eventAdded: true });
      expect(await store.publishItems('c', items, event('p1', ids, { n: 2 }))).toEqual({ eventAdded: false });
      expect(await allIds(store)).toEqual([...ids].sort());
      const evs = await store.events();
      expect(evs.map((e) => [e.eventKey, e.productId, e.itemIds, e.payload, e.deliveredAt])).toEqual([
        ['published:p1', 'p1', ids, { n: 1 }, null],
      ]);
      expect(Date.parse(evs[0].createdAt)).toBeGreaterThan(Date.now() - 60_000);
    });

    it('reads on in seq order from afterSeq, by pages, and leaves delivered ones out of undelivered reads', async () => {
      for (const [k, p] of ['p2', 'p3', 'p4'].entries())
        await store.publishItems('c', [...syntheticItems(1, 10 + k, 'c')], event(p, []));
      const all = await store.events();
      expect(all.map((e) => e.productId)).toEqual(['p1', 'p2', 'p3', 'p4']);
      expect(all.map((e) => e.seq)).toEqual([...all.map((e) => e.seq)].sort((a, b) => a - b));
      const page = await store.events({ afterSeq: all[1].seq, limit: 1 });
      expect(page.map((e) => e.productId)).toEqual(['p3']);
      expect(await store.events({ afterSeq: all[3].seq })).toEqual([]);
      await store.markDelivered(all[0].seq);
      await store.markDelivered(all[0].seq);
      const undelivered = await store.events({ undelivered: true });
      expect(undelivered.map((e) => e.productId)).toEqual(['p2', 'p3', 'p4']);
      expect((await store.events())[0].deliveredAt).not.toBeNull();
    });

    it.each([
      [{ afterSeq: -1 }, /afterSeq must be an integer >= 0, got -1/],
      [{ afterSeq: 1.5 }, /afterSeq must be an integer >= 0, got 1.5/],
      [{ limit: 0 }, /limit must be an integer from 1 to 10000, got 0/],
      [{ limit: 10_001 }, /limit must be an integer from 1 to 10000, got 10001/],
      [{ limit: Number.NaN }, /limit must be an integer from 1 to 10000, got NaN/],
    ])('refuses events(%o)', async (q, message) => {
      const err = await store.events(q).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as Error).message).toMatch(message);
    });
  },
);

describe('outbox on PostgreSQL: publications from several processes at once', () => {
  it('commits seqs in order, one event per key and one copy of each item, with 8 connections racing', async () => {
    const db = await freshDatabase();
    const stores = Array.from({ length: 8 }, () => new PostgresCatalog(db.url));
    try {
      await stores[0].putCollection(syntheticCollection('c'), 'create');
      const products = Array.from({ length: 6 }, (_, k) => ({
        id: `p${k}`,
        items: [...syntheticItems(2, 100 + k, 'c', 2 * k)],
      }));
      // Every product published by every store at once: 48 racing transactions, 6 keys.
      const results = await Promise.all(
        stores.flatMap((s) =>
          products.map((p) =>
            s.publishItems(
              'c',
              p.items,
              event(
                p.id,
                p.items.map((i) => i.id),
              ),
            ),
          ),
        ),
      );
      expect(results.filter((r) => r.eventAdded)).toHaveLength(products.length);
      const evs = await stores[0].events();
      expect(evs.map((e) => e.productId).sort()).toEqual(products.map((p) => p.id).sort());
      expect(await allIds(stores[0])).toEqual(products.flatMap((p) => p.items.map((i) => i.id)).sort());
      // A reader that read on from each event's seq in turn saw every event: the seqs are increasing.
      const seqs = evs.map((e) => e.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      let after = 0;
      const seen: string[] = [];
      for (;;) {
        const [e] = await stores[1].events({ afterSeq: after, limit: 1 });
        if (!e) break;
        seen.push(e.productId);
        after = e.seq;
      }
      expect(seen).toEqual(evs.map((e) => e.productId));
    } finally {
      for (const s of stores) await s.close();
      await db.drop();
    }
  }, 120_000);
});
