import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertEventsOf } from '../src/alerts/fanout.js';
import { SqliteCatalog } from '../src/catalog/sqlite/store.js';
import { syntheticCollection } from '../src/catalog/synthetic.js';
import type { StacItem } from '../src/catalog/types.js';
import { AssetStorage } from '../src/io/asset-storage.js';
import { LocalStore } from '../src/store/local-store.js';
import { type SseClient, sseConnect } from './alerts-sse-client.js';
import { tempDir } from './helpers/gdal.js';
import { testServer } from './helpers/server.js';

const tmp = tempDir('alerts-sse-');
let store: SqliteCatalog;
let server: Awaited<ReturnType<typeof testServer>>;
let port = 0;
const H: Record<'admin' | 'gbr' | 'fra', Record<string, string>> = { admin: {}, gbr: {}, fra: {} };
let product = 0;

const NATO = (classification: string, rel: string[]) => ({
  policy: 'NATO',
  classification,
  categories: [{ tagName: 'Releasable To', type: 'permissive', values: rel }],
});

function item(id: string, label: unknown, padBytes = 0): StacItem {
  return {
    type: 'Feature',
    stac_version: '1.0.0',
    id,
    geometry: { type: 'Point', coordinates: [4.9, 43.4] },
    bbox: [4.9, 43.4, 4.9, 43.4],
    properties: {
      datetime: '2026-06-01T06:00:00Z',
      'sarbridge:label': label,
      ...(padBytes > 0 ? { description: 'x'.repeat(padBytes) } : {}),
    },
    links: [],
    assets: {},
  } as StacItem;
}

/** Publish one item with its outbox row, as the pipeline's publish step does (one transaction). */
async function publish(id: string, label: unknown, padBytes = 0): Promise<void> {
  const productId = `p${String(++product).padStart(24, '0')}`;
  await store.publishItems('sar', [item(id, label, padBytes)], {
    eventKey: `published:${productId}`,
    type: 'published',
    productId,
    collection: 'sar',
    itemIds: [id],
    payload: {},
  });
}

const open = (headers: Record<string, string>, query = '') => sseConnect(port, `/events${query}`, headers);
const ids = (c: SseClient) => c.events.map((e) => JSON.parse(e.data).itemId as string);

beforeAll(async () => {
  store = new SqliteCatalog(join(tmp.dir, 'catalog.db'));
  const assets = LocalStore.of(new AssetStorage(tmp.dir));
  server = await testServer(store, {
    events: {
      readOutbox: (afterSeq, limit) => store.events({ afterSeq, limit }),
      eventsOf: (row) => alertEventsOf(row, { catalog: store, assets }),
      pollMs: 50,
      heartbeatMs: 300,
      maxQueuedBytes: 4 * 1024 * 1024,
      maxQueuedEvents: 1000,
      batchRows: 10,
      refreshMs: 300,
    },
    corsOrigins: ['https://app.example.org'],
  });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  port = (server.app.server.address() as AddressInfo).port;
  H.admin = server.admin;
  const idn = server.access.services.identity;
  idn.createOrganisation({
    id: 'gbr',
    kind: 'partner',
    codes: ['GBR'],
    clearance: [{ policy: 'NATO', classification: 'SECRET' }],
    caveats: [],
  });
  idn.createOrganisation({
    id: 'fra',
    kind: 'partner',
    codes: ['FRA'],
    clearance: [{ policy: 'NATO', classification: 'SECRET' }],
  });
  idn.createPrincipal('gbr', 'user', { id: 'gbr-analyst', roles: ['partner-analyst'] });
  idn.createPrincipal('fra', 'user', { id: 'fra-analyst', roles: ['partner-analyst'] });
  H.gbr = { authorization: `Bearer ${idn.createKey('user:gbr-analyst').key}` };
  H.fra = { authorization: `Bearer ${idn.createKey('user:fra-analyst').key}` };
  await store.putCollection(
    { ...syntheticCollection('sar'), 'sarbridge:label': NATO('UNCLASSIFIED', ['GBR', 'FRA']) } as never,
    'create',
  );
});

afterAll(async () => {
  await server.close();
  await store.close();
  tmp.cleanup();
});

describe('GET /events', () => {
  it('sends an event only to the organisations its item is released to; the provider sees all', async () => {
    const [a, g, f] = await Promise.all([
      open({ ...H.admin, origin: 'https://app.example.org' }),
      open(H.gbr),
      open(H.fra),
    ]);
    // Through the server's CORS settings, as every other route.
    expect(a.headers['access-control-allow-origin']).toBe('https://app.example.org');
    for (const c of [a, g, f]) {
      expect(c.status).toBe(200);
      expect(c.headers['content-type']).toMatch(/^text\/event-stream/);
      expect(c.headers['cache-control']).toBe('no-store');
      expect(c.headers['x-accel-buffering']).toBe('no');
    }
    await publish('gbr-only', NATO('RESTRICTED', ['GBR']));
    await publish('fra-only', NATO('RESTRICTED', ['FRA']));
    await publish('both', NATO('RESTRICTED', ['GBR', 'FRA']));
    await publish('provider-only', { policy: 'NATO', classification: 'RESTRICTED', categories: [] });
    await a.waitFor(() => a.events.length >= 4);
    // A last event all see: once it has arrived, nothing earlier is still on its way.
    await publish('marker-1', NATO('UNCLASSIFIED', ['GBR', 'FRA']));
    await g.waitFor(() => ids(g).includes('marker-1'));
    await f.waitFor(() => ids(f).includes('marker-1'));
    expect(ids(a)).toEqual(['gbr-only', 'fra-only', 'both', 'provider-only', 'marker-1']);
    expect(ids(g)).toEqual(['gbr-only', 'both', 'marker-1']);
    expect(ids(f)).toEqual(['fra-only', 'both', 'marker-1']);
    const first = g.events[0];
    expect(first.type).toBe('item.published');
    expect(first.id).toBe(JSON.parse(first.data).id);
    expect(g.retry).toBe(3000);
    for (const c of [a, g, f]) c.close();
  });

  it('resumes with Last-Event-ID in the middle of a burst: nothing missed, nothing twice', async () => {
    const ref = await open(H.gbr);
    const c1 = await open(H.gbr, '?types=item.published');
    const N = 60;
    const burst = (async () => {
      for (let k = 0; k < N; k++) {
        await publish(`burst-${k}`, NATO('RESTRICTED', ['GBR']));
        if (k % 10 === 0) await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await c1.waitFor(() => c1.events.length >= 15);
    c1.close();
    const last = c1.events[c1.events.length - 1].id;
    const c2 = await open({ ...H.gbr, 'last-event-id': last }, '?types=item.published');
    expect(c2.status).toBe(200);
    await burst;
    await ref.waitFor(() => ref.events.length >= N);
    await c2.waitFor(() => c1.events.length + c2.events.length >= N);
    await new Promise((r) => setTimeout(r, 300));
    const got = [...c1.events, ...c2.events].map((e) => e.id);
    expect(got).toEqual(ref.events.map((e) => e.id));
    expect(new Set(got).size).toBe(N);
    // The query form of the resume point gives the same tail.
    const c3 = await open(H.gbr, `?lastEventId=${last}`);
    await c3.waitFor(() => c3.events.length >= c2.events.length);
    expect(c3.events.map((e) => e.id)).toEqual(c2.events.map((e) => e.id));
    for (const c of [ref, c2, c3]) c.close();
  });

  it('drops a client that stops reading once its queue is full; a reading client gets every event', {
    timeout: 90_000,
  }, async () => {
    const reader = await open(H.gbr);
    const slow = await open(H.gbr);
    slow.pause();
    const rss0 = process.memoryUsage().rss;
    const N = 600;
    // 32 KiB per event: the socket buffers of the paused client fill after some MiB.
    for (let k = 0; k < N; k++) {
      await publish(`big-${k}`, NATO('RESTRICTED', ['GBR']), 32 * 1024);
      await new Promise((r) => setTimeout(r, 1));
    }
    await reader.waitFor(() => reader.events.length >= N, 60_000);
    expect(ids(reader)).toEqual(Array.from({ length: N }, (_, k) => `big-${k}`));
    // The server ends it: its audit record says why.
    const slowCloses = () =>
      (server.access.services.audit.query({ limit: 10_000 }) as { action: string; result: string }[]).filter(
        (r) => r.action === 'events.close' && r.result === 'slow',
      ).length;
    await slow.waitFor(() => slowCloses() === 1, 20_000);
    const rss1 = process.memoryUsage().rss;
    console.log(
      `slow client: dropped after ${N} events of 32 KiB to the reader; rss ${(rss0 / 2 ** 20).toFixed(0)} -> ${(rss1 / 2 ** 20).toFixed(0)} MiB`,
    );
    // 600 x 32 KiB = 19 MiB went out; the dropped client's queue was at most 4 MiB plus a batch of 10 rows.
    expect(rss1 - rss0).toBeLessThan(200 * 2 ** 20);
    reader.close();
  });

  it('ends the stream of a key revoked while it is open, at the next scope refresh', async () => {
    const idn = server.access.services.identity;
    const { key } = idn.createKey('user:gbr-analyst');
    const c = await open({ authorization: `Bearer ${key}` });
    expect(c.status).toBe(200);
    const closes = () =>
      (server.access.services.audit.query({ limit: 10_000 }) as { action: string; result: string }[]).filter(
        (r) => r.action === 'events.close' && r.result === 'revoked',
      ).length;
    expect(closes()).toBe(0);
    idn.revokeKey(key.split('_')[1]);
    await c.waitFor(() => closes() === 1, 5_000);
    await publish('after-revocation', NATO('RESTRICTED', ['GBR']));
    await new Promise((r) => setTimeout(r, 300));
    expect(ids(c)).not.toContain('after-revocation');
  });

  it('sends heartbeats', async () => {
    const c = await open(H.fra);
    await c.waitFor(() => c.comments >= 2, 3_000);
    c.close();
  });

  it('answers 401 without a credential', async () => {
    const c = await open({});
    expect(c.status).toBe(401);
  });

  it.each([
    ['Last-Event-ID', 'abc', 400, /Last-Event-ID: expected an event id/],
    ['Last-Event-ID', '12', 400, /Last-Event-ID: expected an event id/],
    ['Last-Event-ID', '0-0', 400, /Last-Event-ID: expected/],
    ['Last-Event-ID', '999999-0', 400, /Last-Event-ID: no event '999999-0'/],
    ['Last-Event-ID', '1-7', 400, /Last-Event-ID: no event '1-7': outbox row 1 has 1 event/],
    ['lastEventId', 'x-1', 400, /lastEventId: expected an event id/],
    ['types', 'item.deleted', 400, /types: expected some of item.published/],
    ['bbox', '1,2,3', 400, /bbox: must be 4/],
    ['collections', 'a,,b', 400, /collections: expected a comma-separated list/],
  ])('%s %s: %i', async (name, value, status, message) => {
    const c =
      name === 'Last-Event-ID'
        ? await open({ ...H.gbr, 'last-event-id': value })
        : await open(H.gbr, `?${name}=${encodeURIComponent(value)}`);
    expect(c.status).toBe(status);
    await c.waitFor(() => c.ended);
    expect(JSON.parse(c.body).description).toMatch(message);
  });

  it('answers 429 past the streams per principal', async () => {
    const cs = await Promise.all(Array.from({ length: 10 }, () => open(H.fra)));
    expect(cs.map((c) => c.status)).toEqual(Array(10).fill(200));
    const over = await open(H.fra);
    expect(over.status).toBe(429);
    for (const c of cs) c.close();
  });

  it('writes one audit record per stream opened and closed, none per event', async () => {
    const rows = server.access.services.audit.query({ limit: 10_000 }) as { action: string }[];
    const opened = rows.filter((r) => r.action === 'events.open').length;
    expect(opened).toBeGreaterThan(5);
    expect(
      rows.filter(
        (r) => r.action.startsWith('events.') && !['events.open', 'events.close'].includes(r.action),
      ),
    ).toEqual([]);
  });
});
