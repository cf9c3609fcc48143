import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertEventsOf } from '../src/alerts/fanout.js';
import { SqliteCatalog } from '../src/catalog/sqlite/store.js';
import { syntheticCollection } from '../src/catalog/synthetic.js';
import type { StacItem } from '../src/catalog/types.js';
import { AssetStorage } from '../src/io/asset-storage.js';
import { LocalStore } from '../src/store/local-store.js';
import { type SseClient, sseConnect } from './alerts-sse-client.js';
import { CLASSIFICATIONS, seesItem, type Who, whoOf, worldArb } from './helpers/access-model.js';
import { tempDir } from './helpers/gdal.js';
import { testServer } from './helpers/server.js';

/**
 * Random worlds (partner organisations and users with random codes, clearances and caveats;
 * collections and items with random labels and release holds, from helpers/access-model.ts), one
 * SSE stream per user, every item published as an event: each stream receives exactly the events
 * of the items the plain label rules of the model let it see (never the store's SQL), the provider
 * every one.
 */
const WORLDS = Number(process.env.ALERTS_SSE_PROPERTY_WORLDS ?? 10);
const tmp = tempDir('alerts-sse-prop-');
let store: SqliteCatalog;
let server: Awaited<ReturnType<typeof testServer>>;
let port = 0;
let run = 0;
let product = 0;
const tally = { partnerSeen: 0, partnerWithheld: 0 };

beforeAll(async () => {
  store = new SqliteCatalog(join(tmp.dir, 'catalog.db'));
  const assets = LocalStore.of(new AssetStorage(tmp.dir));
  server = await testServer(store, {
    events: {
      readOutbox: (afterSeq, limit) => store.events({ afterSeq, limit }),
      eventsOf: (row) => alertEventsOf(row, { catalog: store, assets }),
      pollMs: 20,
      batchRows: 7,
      maxStreams: 200,
    },
  });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  port = (server.app.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await server.close();
  await store.close();
  tmp.cleanup();
});

describe('alerts SSE property', () => {
  it('no stream receives an event about an item its principal may not see, and none misses one it may', async () => {
    const nowMs = Date.now();
    await fc.assert(
      fc.asyncProperty(worldArb(5, 40, nowMs), async (world) => {
        const r = ++run;
        const identity = server.access.services.identity;
        const cid = (c: string) => `r${r}-${c}`;
        for (const c of world.collections)
          await store.putCollection(
            {
              ...syntheticCollection(cid(c.id)),
              ...(c.label ? { 'sarbridge:label': c.label.doc } : {}),
            } as never,
            'create',
          );
        const streams: { name: string; who: Who; c: SseClient }[] = [];
        streams.push({
          name: 'provider',
          who: { kind: 'provider' },
          c: await sseConnect(port, '/events', server.admin),
        });
        for (const org of world.orgs) {
          const orgId = `r${r}-${org.id}`;
          identity.createOrganisation({
            id: orgId,
            kind: 'partner',
            codes: org.codes,
            clearance:
              org.rank === null ? [] : [{ policy: 'NATO', classification: CLASSIFICATIONS[org.rank] }],
            caveats: org.caveats,
          });
          for (const u of org.users) {
            const uid = `r${r}-${u.name}`;
            identity.createPrincipal(orgId, 'user', {
              id: uid,
              roles: [u.role],
              ...(u.clearance.kind === 'inherit'
                ? {}
                : {
                    clearance:
                      u.clearance.kind === 'none'
                        ? []
                        : [{ policy: 'NATO', classification: CLASSIFICATIONS[u.clearance.rank] }],
                  }),
              ...(u.caveats === null ? {} : { caveats: u.caveats }),
            });
            const headers = { authorization: `Bearer ${identity.createKey(`user:${uid}`).key}` };
            const c = await sseConnect(port, '/events', headers);
            expect(c.status).toBe(200);
            streams.push({ name: uid, who: whoOf(org, u), c });
          }
        }
        for (const it of world.items) {
          const productId = `p${String(++product).padStart(24, '0')}`;
          const doc = {
            type: 'Feature',
            stac_version: '1.0.0',
            id: it.id,
            geometry: { type: 'Point', coordinates: [it.box[0], it.box[1]] },
            bbox: [it.box[0], it.box[1], it.box[0], it.box[1]],
            properties: {
              datetime: new Date(it.startMs).toISOString(),
              ...(it.label ? { 'sarbridge:label': it.label.doc } : {}),
              ...(it.holdMs === null
                ? {}
                : { 'sarbridge:release_datetime': new Date(it.holdMs).toISOString() }),
            },
            links: [],
            assets: {},
          } as StacItem;
          await store.publishItems(cid(it.collection), [doc], {
            eventKey: `published:${productId}`,
            type: 'published',
            productId,
            collection: cid(it.collection),
            itemIds: [it.id],
            payload: {},
          });
        }
        const key = (collection: string, id: string) => `${collection}/${id}`;
        const provider = streams[0].c;
        await provider.waitFor(() => provider.events.length >= world.items.length, 20_000);
        // Every stream's frames of a batch are written together; give the sockets a moment.
        await new Promise((res) => setTimeout(res, 150));
        for (const s of streams) {
          const got = s.c.events.map((e) => {
            const ev = JSON.parse(e.data);
            return key(ev.collection, ev.itemId);
          });
          const expected = world.items
            .filter((it) => seesItem(s.who, world, it, Date.now()))
            .map((it) => key(cid(it.collection), it.id));
          expect(got, s.name).toEqual(expected);
          if (s.who.kind === 'partner') {
            tally.partnerSeen += expected.length;
            tally.partnerWithheld += world.items.length - expected.length;
          }
          s.c.close();
        }
      }),
      { numRuns: WORLDS },
    );
    console.log(
      `alerts SSE property: ${WORLDS} worlds, partner events delivered ${tally.partnerSeen}, withheld ${tally.partnerWithheld}`,
    );
    // The worlds must exercise both sides of the rule.
    expect(tally.partnerSeen).toBeGreaterThan(0);
    expect(tally.partnerWithheld).toBeGreaterThan(0);
  }, 120_000);
});
