import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresCatalog } from '../src/catalog/postgres/store.js';
import { SqliteCatalog } from '../src/catalog/sqlite/store.js';
import type { CatalogStore } from '../src/catalog/store.js';
import type { StacCollection, StacItem, StacLink } from '../src/catalog/types.js';
import { tempDir } from './helpers/gdal.js';
import { catalogBackends, freshDatabase } from './helpers/postgres.js';
import { testServer } from './helpers/server.js';
import { validateCollection } from './helpers/stac.js';

/**
 * Issue 12, findings 3 and 6, and collections complete for clients (summaries, item_assets, link
 * titles, numberMatched), on both catalog backends, through HTTP. Each test names the text it checks.
 */

const ITEM_ASSETS = 'https://stac-extensions.github.io/item-assets/v1.0.0/schema.json';

const NATO = (classification: string, rel: string[]) => ({
  policy: 'NATO',
  classification,
  categories: [{ tagName: 'Releasable To', type: 'permissive', values: rel }],
});

const COG = 'image/tiff; application=geotiff; profile=cloud-optimized';

function item(id: string, props: Record<string, unknown>, assets?: Record<string, unknown>): StacItem {
  return {
    type: 'Feature',
    stac_version: '1.0.0',
    id,
    geometry: {
      type: 'Polygon',
      coordinates: [
        [
          [3, 51],
          [3.1, 51],
          [3.1, 51.05],
          [3, 51.05],
          [3, 51],
        ],
      ],
    },
    bbox: [3, 51, 3.1, 51.05],
    properties: { datetime: '2026-06-01T06:00:00Z', ...props },
    links: [],
    assets: (assets ?? {
      data: { href: 'scenes/a.tif', type: COG, roles: ['data'], title: 'sigma0 VV' },
      thumbnail: { href: 'scenes/a.png', type: 'image/png', roles: ['thumbnail'], title: 'Preview' },
    }) as StacItem['assets'],
  };
}

/** What the catalog holds; gbr's analyst may see visible-1 and visible-2 only. */
const ITEMS: StacItem[] = [
  item('visible-1', {
    datetime: '2026-06-01T06:00:00Z',
    platform: 'sentinel-1a',
    constellation: 'sentinel-1',
    'sar:instrument_mode': 'IW',
    'sar:polarizations': ['VV', 'VH'],
    'sar:frequency_band': 'C',
    'sat:orbit_state': 'ascending',
    'sat:relative_orbit': 10,
    'sarbridge:label': NATO('RESTRICTED', ['GBR', 'NATO']),
  }),
  item('visible-2', {
    datetime: null,
    start_datetime: '2026-06-03T06:00:00Z',
    end_datetime: '2026-06-03T06:00:25Z',
    platform: 'sentinel-1b',
    constellation: 'sentinel-1',
    'sar:instrument_mode': 'EW',
    'sar:polarizations': ['HH'],
    'sar:frequency_band': 'C',
    'sat:orbit_state': 'descending',
    'sat:relative_orbit': 20,
  }),
  // Releasable to USA only: no partner here sees it.
  item(
    'secret',
    {
      datetime: '2027-01-01T00:00:00Z',
      platform: 'hidden-sat',
      'sar:instrument_mode': 'SPOTLIGHT',
      'sar:polarizations': ['HV'],
      'sat:relative_orbit': 99,
      'sarbridge:label': NATO('SECRET', ['USA']),
    },
    {
      data: { href: 'scenes/s.tif', type: COG, roles: ['data'], title: 'sigma0 VV' },
      secret_analysis: { href: 'scenes/s.json', type: 'application/json', roles: ['metadata'], title: 'x' },
    },
  ),
  // Held back from partners until 2099.
  item('held', {
    datetime: '2025-01-01T00:00:00Z',
    platform: 'held-sat',
    'sar:product_type': 'SLC',
    'sarbridge:release_datetime': '2099-01-01T00:00:00Z',
  }),
];

const COLLECTION: StacCollection = {
  type: 'Collection',
  stac_version: '1.0.0',
  id: 'sar',
  title: 'Radar scenes',
  description: 'SAR scenes for the interoperability tests',
  license: 'proprietary',
  extent: {
    spatial: { bbox: [[-180, -90, 180, 90]] },
    temporal: { interval: [['2020-01-01T00:00:00Z', null]] },
  },
  links: [],
  // A stored summary of a summarised property must not reach the caller (it may describe hidden items).
  summaries: { platform: ['stored-only'], 'gsd-note': ['kept as stored'] },
  'sarbridge:label': NATO('UNCLASSIFIED', ['NATO']),
};

/** Only-provider collection with its own item_assets declaration. */
const DECLARED: StacCollection = {
  type: 'Collection',
  stac_version: '1.0.0',
  id: 'declared',
  description: 'A collection that declares its item assets',
  license: 'proprietary',
  extent: { spatial: { bbox: [[-180, -90, 180, 90]] }, temporal: { interval: [[null, null]] } },
  links: [],
  item_assets: { data: { title: 'Data', type: COG, roles: ['data'] } },
  'sarbridge:label': NATO('UNCLASSIFIED', ['NATO']),
};

/** Every link of a document, the links of its features and collections included. */
function allLinks(doc: Record<string, unknown>): StacLink[] {
  const out: StacLink[] = [...((doc.links as StacLink[]) ?? [])];
  for (const f of (doc.features as Record<string, unknown>[]) ?? []) out.push(...allLinks(f));
  for (const c of (doc.collections as Record<string, unknown>[]) ?? []) out.push(...allLinks(c));
  return out;
}

const rel = (doc: { links: StacLink[] }, r: string) => doc.links.filter((l) => l.rel === r);

describe.each(catalogBackends())('STAC collections and item pages on $name', (backend) => {
  const tmp = tempDir('stac-coll-');
  let store: CatalogStore;
  let server: Awaited<ReturnType<typeof testServer>>;
  let app: FastifyInstance;
  const H: Record<'admin' | 'gbr' | 'fra', Record<string, string>> = { admin: {}, gbr: {}, fra: {} };
  let base = '';

  const get = async (url: string, who: keyof typeof H = 'admin') => {
    const r = await app.inject({ url, headers: H[who] });
    return { status: r.statusCode, body: r.json() };
  };
  const post = async (url: string, payload: unknown, who: keyof typeof H = 'admin') => {
    const r = await app.inject({ method: 'POST', url, payload: payload as object, headers: H[who] });
    return { status: r.statusCode, body: r.json() };
  };
  /** Follow next links from a page, GET or POST as each link says; all pages. */
  const pages = async (first: { body: Record<string, unknown> }, who: keyof typeof H) => {
    const out = [first.body];
    for (;;) {
      const next = rel(out.at(-1) as { links: StacLink[] }, 'next')[0];
      if (!next) return out;
      const url = next.href.slice(base.length);
      const r = next.method === 'POST' ? await post(url, next.body, who) : await get(url, who);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      out.push(r.body);
    }
  };
  const ids = (ps: Record<string, unknown>[]) =>
    ps.flatMap((p) => (p.features as StacItem[]).map((f) => f.id)).sort();

  beforeAll(async () => {
    store = await backend.open(tmp.dir);
    mkdirSync(join(tmp.dir, 'assets'));
    server = await testServer(store, { assetRoot: join(tmp.dir, 'assets') });
    app = server.app;
    H.admin = server.admin;
    const id = server.access.services.identity;
    id.createOrganisation({
      id: 'gbr',
      kind: 'partner',
      codes: ['GBR', 'NATO'],
      clearance: [{ policy: 'NATO', classification: 'SECRET' }],
      caveats: [],
    });
    id.createOrganisation({
      id: 'fra',
      kind: 'partner',
      codes: ['FRA'],
      clearance: [{ policy: 'NATO', classification: 'SECRET' }],
    });
    id.createPrincipal('gbr', 'user', { id: 'analyst', roles: ['partner-analyst'] });
    id.createPrincipal('fra', 'user', { id: 'fra-analyst', roles: ['partner-analyst'] });
    H.gbr = { authorization: `Bearer ${id.createKey('user:analyst').key}` };
    H.fra = { authorization: `Bearer ${id.createKey('user:fra-analyst').key}` };
    for (const c of [COLLECTION, DECLARED]) {
      const r = await post('/collections', c);
      expect(r.status, JSON.stringify(r.body)).toBe(201);
    }
    for (const it of ITEMS) {
      const r = await post('/collections/sar/items', it);
      expect(r.status, JSON.stringify(r.body)).toBe(201);
    }
    const self = rel((await get('/collections/sar')).body, 'self')[0];
    base = self.href.replace(/\/collections\/sar$/, '');
  });
  afterAll(async () => {
    await server?.close();
    await store?.close();
    await backend.cleanup?.();
    tmp.cleanup();
  });

  describe('finding 3: collections= on /collections/{id}/items', () => {
    // STAC API - Features (ogcapi-features/README.md, Endpoints): "the collection ID in the path is
    // equivalent to providing that single value in the collections query parameter".
    const rows: [string, number, string[] | RegExp][] = [
      ['', 200, ['visible-1', 'visible-2']],
      ['?collections=sar', 200, ['visible-1', 'visible-2']],
      ['?collections=sar,sar', 200, ['visible-1', 'visible-2']],
      ['?collections=sar&collections=sar', 200, ['visible-1', 'visible-2']],
      ['?collections=declared', 400, /collections.*'sar'.*'declared'/],
      ['?collections=sar,declared', 400, /collections.*'declared'/],
    ];
    for (const [query, status, want] of rows)
      it(`STAC API - Features §Endpoints: /collections/sar/items${query || ' (no collections)'} answers ${status} (the path's id is the collections value)`, async () => {
        const r = await get(`/collections/sar/items${query}`, 'gbr');
        expect(r.status, JSON.stringify(r.body)).toBe(status);
        if (Array.isArray(want)) expect(ids([r.body])).toEqual(want);
        else {
          expect(r.body.code).toBe('ValidationError');
          expect(r.body.description).toMatch(want);
        }
      });

    it('STAC API - Features §Endpoints: pystac-client CollectionClient.get_items() request (collections=<id>, limit) pages like the plain request', async () => {
      const plain = await pages(await get('/collections/sar/items?limit=1'), 'admin');
      const client = await pages(await get('/collections/sar/items?collections=sar&limit=1'), 'admin');
      expect(ids(client)).toEqual(ids(plain));
      expect(ids(client)).toEqual(['held', 'secret', 'visible-1', 'visible-2']);
    });

    it('a collection the caller may not see answers the same 404 with or without collections=', async () => {
      const hidden = await get('/collections/sar/items?collections=sar', 'fra');
      const missing = await get('/collections/nowhere/items?collections=nowhere', 'fra');
      expect(hidden.status).toBe(404);
      expect(missing.status).toBe(404);
      expect(hidden.body.code).toBe(missing.body.code);
      expect(hidden.body.description.replace('sar', 'X')).toBe(
        missing.body.description.replace('nowhere', 'X'),
      );
    });
  });

  describe('finding 6: self links and numberMatched', () => {
    it('OGC API - Features /req/core/fc-links: a /collections/{id}/items page links to itself (self), with root, parent and collection', async () => {
      const r = await get('/collections/sar/items?limit=1&datetime=2020-01-01T00:00:00Z/..');
      expect(r.status).toBe(200);
      const self = rel(r.body, 'self');
      expect(self).toHaveLength(1);
      expect(self[0].href).toBe(
        `${base}/collections/sar/items?limit=1&datetime=2020-01-01T00%3A00%3A00Z%2F..`,
      );
      expect(self[0].type).toBe('application/geo+json');
      expect(rel(r.body, 'root')[0].href).toBe(`${base}/`);
      expect(rel(r.body, 'parent')[0].href).toBe(`${base}/collections/sar`);
      expect(rel(r.body, 'collection')[0].href).toBe(`${base}/collections/sar`);
      // The self link of the second page is that page's own URL, the token included.
      const next = rel(r.body, 'next')[0];
      const second = await get(next.href.slice(base.length));
      expect(rel(second.body, 'self')[0].href).toBe(next.href);
    });

    it('OGC API - Features /req/core/fc-links: search pages link to themselves (GET: the URL; POST: the body)', async () => {
      const g = await get('/search?collections=sar&limit=2');
      expect(rel(g.body, 'self')[0].href).toBe(`${base}/search?collections=sar&limit=2`);
      expect(rel(g.body, 'root')[0].href).toBe(`${base}/`);
      const body = { collections: ['sar'], limit: 2 };
      const p = await post('/search', body);
      expect(p.status).toBe(200);
      expect(rel(p.body, 'self')[0]).toMatchObject({ href: `${base}/search`, method: 'POST', body });
    });

    const matchedRows: [string, keyof typeof H, string, number][] = [
      ['items of a collection, provider', 'admin', '/collections/sar/items?limit=1', 4],
      [
        'items of a collection, partner (hidden and held items not counted)',
        'gbr',
        '/collections/sar/items?limit=1',
        2,
      ],
      ['search, provider', 'admin', '/search?collections=sar,declared&limit=3', 4],
      ['search, partner', 'gbr', '/search?limit=1', 2],
      ['search with a filter, partner', 'gbr', '/search?filter=platform%3D%27sentinel-1a%27&limit=1', 1],
      ['search matching hidden items only, partner', 'gbr', '/search?ids=secret,held', 0],
      ['first page holding every match', 'admin', '/search?ids=visible-1,secret', 2],
    ];
    for (const [what, who, url, n] of matchedRows)
      it(`OGC API - Features /req/core/fc-numberMatched: ${what}: numberMatched is the number of matching items the caller may see (${n}), on every page`, async () => {
        const all = await pages(await get(url, who), who);
        expect(ids(all)).toHaveLength(n);
        for (const p of all) {
          expect(p.numberMatched).toBe(n);
          expect(p.numberReturned).toBe((p.features as unknown[]).length);
        }
      });

    it('OGC API - Features /req/core/fc-numberMatched: POST search pages carry it too', async () => {
      const all = await pages(await post('/search', { limit: 1 }, 'gbr'), 'gbr');
      expect(all).toHaveLength(2);
      for (const p of all) expect(p.numberMatched).toBe(2);
    });

    it('STAC API 1.0 item search: no context object (the context extension is not part of STAC API 1.0)', async () => {
      const r = await get('/search?limit=1');
      expect(r.body).not.toHaveProperty('context');
    });
  });

  describe('summaries, item_assets and titles', () => {
    it('STAC Collection §summaries: values of the items the caller may see, ranges as {minimum, maximum}; hidden and held items add nothing', async () => {
      const mine = (await get('/collections/sar', 'gbr')).body;
      expect(mine.summaries).toEqual({
        platform: ['sentinel-1a', 'sentinel-1b'],
        constellation: ['sentinel-1'],
        'sar:instrument_mode': ['EW', 'IW'],
        'sar:frequency_band': ['C'],
        'sar:polarizations': ['HH', 'VH', 'VV'],
        'sat:orbit_state': ['ascending', 'descending'],
        'sat:relative_orbit': { minimum: 10, maximum: 20 },
        datetime: { minimum: '2026-06-01T06:00:00.000Z', maximum: '2026-06-03T06:00:25.000Z' },
        'gsd-note': ['kept as stored'],
      });
      const all = (await get('/collections/sar')).body;
      expect(all.summaries.platform).toEqual(['held-sat', 'hidden-sat', 'sentinel-1a', 'sentinel-1b']);
      expect(all.summaries['sar:product_type']).toEqual(['SLC']);
      expect(all.summaries['sat:relative_orbit']).toEqual({ minimum: 10, maximum: 99 });
      expect(all.summaries.datetime).toEqual({
        minimum: '2025-01-01T00:00:00.000Z',
        maximum: '2027-01-01T00:00:00.000Z',
      });
      // /collections gives each collection the same document as /collections/{id}.
      const list = (await get('/collections', 'gbr')).body.collections as StacCollection[];
      expect(list.find((c) => c.id === 'sar')).toEqual(mine);
      // The extent stays as stored.
      expect(mine.extent).toEqual(COLLECTION.extent);
    });

    it('Item Assets extension §Asset Object: derived from the visible items (members all of them share), the extension listed; a declared item_assets is served as stored', async () => {
      const mine = (await get('/collections/sar', 'gbr')).body;
      expect(mine.item_assets).toEqual({
        data: { type: COG, roles: ['data'], title: 'sigma0 VV' },
        thumbnail: { type: 'image/png', roles: ['thumbnail'], title: 'Preview' },
      });
      expect(mine.stac_extensions).toContain(ITEM_ASSETS);
      const all = (await get('/collections/sar')).body;
      expect(Object.keys(all.item_assets).sort()).toEqual(['data', 'secret_analysis', 'thumbnail']);
      const declared = (await get('/collections/declared', 'gbr')).body;
      expect(declared.item_assets).toEqual(DECLARED.item_assets);
      expect(declared.stac_extensions).toContain(ITEM_ASSETS);
      expect(declared).not.toHaveProperty('summaries');
    });

    it('STAC Collection spec: every collection document validates against the official collection schema (and the item_assets rules)', async () => {
      for (const who of ['admin', 'gbr'] as const) {
        for (const c of (await get('/collections', who)).body.collections)
          expect(validateCollection(c), `${who} ${c.id}`).toEqual([]);
        expect(validateCollection((await get('/collections/sar', who)).body)).toEqual([]);
      }
      // The item_assets check can fail: a definition with one member, or the extension listed without item_assets.
      const doc = (await get('/collections/sar')).body;
      expect(validateCollection({ ...doc, item_assets: { x: { title: 'only' } } })).not.toEqual([]);
      expect(
        validateCollection({
          ...doc,
          stac_extensions: [ITEM_ASSETS],
          item_assets: undefined,
        }),
      ).not.toEqual([]);
    });

    it('STAC Link Object §title: every link the API writes on collections, item pages, searches and items carries a title', async () => {
      const docs = [
        (await get('/collections')).body,
        (await get('/collections/sar')).body,
        (await get('/collections/sar/items?limit=1')).body,
        (await get('/search?limit=1')).body,
        (await post('/search', { limit: 1 })).body,
        (await get('/collections/sar/items/visible-1')).body,
      ];
      for (const d of docs)
        for (const l of allLinks(d))
          expect(typeof l.title === 'string' && l.title !== '', JSON.stringify(l)).toBe(true);
      const coll = docs[1];
      expect(rel(coll, 'items')[0].title).toBe('Items of Radar scenes');
      expect(rel(docs[2], 'next')[0].title).toBe('Next page');
      expect(rel(docs[5], 'collection')[0].title).toBe('Radar scenes');
    });

    it('summaries follow the writes: a deleted, a replaced and a relabelled item take their values with them', async () => {
      const extra = item('extra', { platform: 'extra-sat', 'sar:polarizations': ['VV'] });
      expect((await post('/collections/sar/items', extra)).status).toBe(201);
      expect((await get('/collections/sar', 'gbr')).body.summaries.platform).toContain('extra-sat');
      // Replaced with a label gbr cannot see: gone from gbr's summaries, still the provider's.
      await store.putItems(
        'sar',
        [item('extra', { platform: 'extra-sat-2', 'sarbridge:label': NATO('SECRET', ['USA']) })],
        'upsert',
      );
      const gbr = (await get('/collections/sar', 'gbr')).body.summaries.platform;
      expect(gbr).toEqual(['sentinel-1a', 'sentinel-1b']);
      expect((await get('/collections/sar')).body.summaries.platform).toContain('extra-sat-2');
      expect((await get('/collections/sar')).body.summaries.platform).not.toContain('extra-sat');
      expect((await get('/collections/sar/items?limit=1', 'gbr')).body.numberMatched).toBe(2);
      expect(await store.deleteItem('sar', 'extra')).toBe(true);
      expect((await get('/collections/sar')).body.summaries.platform).not.toContain('extra-sat-2');
      // A new collection label moves the items that inherit it: releasable to FRA, fra now sees
      // visible-2 (no label of its own) and held is still held.
      await store.putCollection(
        { ...COLLECTION, 'sarbridge:label': NATO('UNCLASSIFIED', ['NATO', 'FRA']) },
        'replace',
      );
      const fra = (await get('/collections/sar', 'fra')).body;
      expect(fra.summaries.platform).toEqual(['sentinel-1b']);
      expect((await get('/collections/sar/items', 'fra')).body.numberMatched).toBe(1);
      await store.putCollection(COLLECTION, 'replace');
      expect((await get('/collections/sar', 'fra')).status).toBe(404);
      expect((await get('/collections/sar', 'gbr')).body.summaries.platform).toEqual([
        'sentinel-1a',
        'sentinel-1b',
      ]);
    });
  });
});

describe.each([
  {
    name: 'SQLite',
    open: async (dir: string) => ({
      store: new SqliteCatalog(join(dir, 'c.db'), { countLimit: 2 }) as CatalogStore,
    }),
  },
  {
    name: 'PostgreSQL/PostGIS',
    open: async () => {
      const db = await freshDatabase();
      return { store: new PostgresCatalog(db.url, { countLimit: 2 }) as CatalogStore, drop: db.drop };
    },
  },
])('numberMatched above the count limit on $name', (backend) => {
  const tmp = tempDir('stac-count-');
  let opened: { store: CatalogStore; drop?: () => Promise<void> };
  let server: Awaited<ReturnType<typeof testServer>>;

  beforeAll(async () => {
    opened = await backend.open(tmp.dir);
    server = await testServer(opened.store);
    await opened.store.putCollection({ ...COLLECTION, summaries: undefined }, 'create');
    await opened.store.putItems('sar', ITEMS, 'create');
  });
  afterAll(async () => {
    await server?.close();
    await opened?.store.close();
    await opened?.drop?.();
    tmp.cleanup();
  });

  const rows: [string, number | undefined][] = [
    ['/collections/sar/items?limit=1', undefined],
    ['/search?ids=visible-1,visible-2,secret&limit=1', undefined],
    ['/search?ids=visible-1,visible-2&limit=1', 2],
    ['/search?ids=visible-1,visible-2,secret,held', 4],
  ];
  for (const [url, n] of rows)
    it(`OGC API - Features /req/core/fc-numberMatched ("MAY omit ... difficult to compute"): ${url} with a count limit of 2 ${n === undefined ? 'omits numberMatched' : `gives ${n}`}`, async () => {
      const r = await server.app.inject({ url, headers: server.admin });
      expect(r.statusCode).toBe(200);
      const body = r.json();
      if (n === undefined) expect(body).not.toHaveProperty('numberMatched');
      else expect(body.numberMatched).toBe(n);
      expect(body.numberReturned).toBe(body.features.length);
    });
});

describe('a catalog written before the summary table', () => {
  const tmp = tempDir('stac-backfill-');
  afterAll(() => tmp.cleanup());

  const summaryOf = async (store: CatalogStore) =>
    (await store.summarize(['sar'], { kind: 'all' } as never)).get('sar')?.values.platform;

  it('SQLite: opening it builds the summaries from its items', async () => {
    const path = join(tmp.dir, 'old.db');
    const first = new SqliteCatalog(path);
    await first.putCollection(COLLECTION, 'create');
    await first.putItems('sar', ITEMS, 'create');
    await first.close();
    const db = new Database(path);
    db.exec('DROP TABLE item_summary');
    db.close();
    const again = new SqliteCatalog(path);
    expect(await summaryOf(again)).toEqual(['held-sat', 'hidden-sat', 'sentinel-1a', 'sentinel-1b']);
    await again.close();
  });

  it('PostgreSQL: opening it builds the summaries from its items', async () => {
    const db = await freshDatabase();
    try {
      const first = new PostgresCatalog(db.url);
      await first.putCollection(COLLECTION, 'create');
      await first.putItems('sar', ITEMS, 'create');
      await first.close();
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      await c.query('DROP TABLE item_summary');
      await c.end();
      const again = new PostgresCatalog(db.url);
      expect(await summaryOf(again)).toEqual(['held-sat', 'hidden-sat', 'sentinel-1a', 'sentinel-1b']);
      await again.close();
    } finally {
      await db.drop();
    }
  });
});

describe('the summary table written batch by batch', () => {
  const tmp = tempDir('stac-summary-rows-');
  afterAll(() => tmp.cleanup());

  /** A seeded mix of writes: batches created, upserted with changed values, items deleted, the collection relabelled. */
  async function writes(store: CatalogStore): Promise<void> {
    await store.putCollection(COLLECTION, 'create');
    await store.putItems('sar', ITEMS, 'create');
    const many = Array.from({ length: 60 }, (_, i) =>
      item(
        `m${i}`,
        {
          platform: `sat-${i % 4}`,
          'sar:polarizations': i % 3 ? ['VV', 'VH'] : ['HH', 'HH'],
          'sat:relative_orbit': i % 7,
          'sar:center_frequency': i % 2 ? 5.405 : 9.65,
          'sat:orbit_state': i % 5 ? 'ascending' : true,
          ...(i % 6 === 0 ? { 'sarbridge:label': NATO('SECRET', ['USA']) } : {}),
          ...(i % 10 === 0 ? { 'sarbridge:release_datetime': '2030-01-01T00:30:00Z' } : {}),
        },
        i % 4
          ? undefined
          : { data: { href: 'x.tif', type: COG, roles: ['data'], title: { en: 'x', de: 'x' } }, empty: {} },
      ),
    );
    await store.putItems('sar', many.slice(0, 40), 'create');
    await store.putItems(
      'sar',
      many.slice(20).map((it, i) => ({ ...it, properties: { ...it.properties, platform: `re-${i % 3}` } })),
      'upsert',
    );
    for (const id of ['m1', 'm2', 'm30', 'visible-1']) await store.deleteItem('sar', id);
    await store.putCollection(
      { ...COLLECTION, 'sarbridge:label': NATO('UNCLASSIFIED', ['NATO', 'FRA']) },
      'replace',
    );
    await store.putItems('sar', many.slice(50), 'upsert');
  }

  const ORDER = 'ORDER BY collection, field, value, label_id, release_ms';
  const ROWS = `SELECT collection, field, value, label_id, release_ms, n FROM item_summary ${ORDER}`;

  it('STAC Collection §summaries: on SQLite it holds what a rebuild from the items counts (creates, upserts, deletes, a relabel)', async () => {
    const path = join(tmp.dir, 'rows.db');
    const store = new SqliteCatalog(path);
    await writes(store);
    await store.close();
    const db = new Database(path);
    const written = db.prepare(ROWS).all();
    db.exec('DROP TABLE item_summary');
    db.close();
    await new SqliteCatalog(path).close();
    const again = new Database(path);
    const rebuilt = again.prepare(ROWS).all();
    again.close();
    expect(written.length).toBeGreaterThan(20);
    expect(written).toEqual(rebuilt);
  });

  it('STAC Collection §summaries: on PostgreSQL it holds what a rebuild from the items counts (creates, upserts, deletes, a relabel)', async () => {
    const db = await freshDatabase();
    try {
      const store = new PostgresCatalog(db.url);
      await writes(store);
      await store.close();
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      const written = (await c.query(ROWS)).rows;
      await c.query('DROP TABLE item_summary');
      await new PostgresCatalog(db.url).close();
      const rebuilt = (await c.query(ROWS)).rows;
      await c.end();
      expect(written.length).toBeGreaterThan(20);
      expect(written).toEqual(rebuilt);
    } finally {
      await db.drop();
    }
  });
});

describe.each(catalogBackends())('numberMatched follows the catalog between pages on $name', (backend) => {
  const tmp = tempDir('stac-count-fresh-');
  let store: CatalogStore;
  let server: Awaited<ReturnType<typeof testServer>>;
  let gbr: Record<string, string>;

  beforeAll(async () => {
    store = await backend.open(tmp.dir);
    server = await testServer(store);
    const id = server.access.services.identity;
    id.createOrganisation({
      id: 'gbr',
      kind: 'partner',
      codes: ['GBR', 'NATO'],
      clearance: [{ policy: 'NATO', classification: 'SECRET' }],
      caveats: [],
    });
    id.createPrincipal('gbr', 'user', { id: 'analyst', roles: ['partner-analyst'] });
    gbr = { authorization: `Bearer ${id.createKey('user:analyst').key}` };
    await store.putCollection(COLLECTION, 'create');
    await store.putItems('sar', ITEMS, 'create');
  });
  afterAll(async () => {
    await server?.close();
    await store?.close();
    await backend.cleanup?.();
    tmp.cleanup();
  });

  const page = async (url: string, headers: Record<string, string>) => {
    const r = await server.app.inject({ url, headers });
    expect(r.statusCode, r.body).toBe(200);
    const body = r.json() as { numberMatched?: number; links: StacLink[] };
    const next = body.links.find((l) => l.rel === 'next');
    return {
      matched: body.numberMatched,
      next: next && new URL(next.href).pathname + new URL(next.href).search,
    };
  };

  it('OGC API - Features /req/core/fc-numberMatched: an item written or deleted between two pages is counted on the next page', async () => {
    const first = await page('/search?collections=sar&limit=1', server.admin);
    expect(first.matched).toBe(4);
    // Written through another connection to the same catalog (SQLite) or the same store (PostgreSQL).
    const other = store.backend === 'sqlite' ? new SqliteCatalog(join(tmp.dir, 'catalog.db')) : store;
    await other.putItems('sar', [item('late', { platform: 'late-sat' })], 'create');
    if (other !== store) await other.close();
    const second = await page(first.next as string, server.admin);
    expect(second.matched).toBe(5);
    expect(await store.deleteItem('sar', 'late')).toBe(true);
    expect((await page(second.next as string, server.admin)).matched).toBe(4);
  });

  it('OGC API - Features /req/core/fc-numberMatched: an item released between two pages of a partner is counted on the next page', async () => {
    const release = new Date(Date.now() + 1500).toISOString();
    await store.putItems(
      'sar',
      [
        item('soon', {
          platform: 'soon-sat',
          'sarbridge:label': NATO('RESTRICTED', ['GBR', 'NATO']),
          'sarbridge:release_datetime': release,
        }),
      ],
      'create',
    );
    const first = await page('/search?collections=sar&limit=1', gbr);
    expect(first.matched).toBe(2);
    expect((await page(first.next as string, gbr)).matched).toBe(2);
    await new Promise((r) => setTimeout(r, Date.parse(release) - Date.now() + 50));
    expect((await page(first.next as string, gbr)).matched).toBe(3);
  });
});
