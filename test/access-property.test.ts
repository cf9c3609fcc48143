import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogStore } from '../src/catalog/store.js';
import { syntheticCollection } from '../src/catalog/synthetic.js';
import { webMercatorTileAt } from '../src/geo/tms.js';
import {
  CLASSIFICATIONS,
  effectiveLabel,
  HOUR,
  type ModelItem,
  type ModelQuery,
  matchesQuery,
  queryArb,
  seesCollection,
  seesItem,
  T0,
  type Who,
  type World,
  whoOf,
  worldArb,
} from './helpers/access-model.js';
import { gdalMake, tempDir } from './helpers/gdal.js';
import { catalogBackends } from './helpers/postgres.js';
import { testServer } from './helpers/server.js';

/**
 * The access acceptance test: random worlds of partner organisations, users, labels, clearances,
 * holds and items on both stores, and random callers × queries through every read path. The expected
 * visible set comes from the plain rules in helpers/access-model.ts, never from the SQL. Nothing
 * outside the caller's scope may appear in an item, a count, a tile, an asset byte or an audit row,
 * and a hidden thing answers exactly as a missing one.
 */
// Test knobs: fewer worlds or cases for a quick run, and the seed and path of a failure to replay it.
const env = process.env;
const WORLDS = Number(env.ACCESS_PROPERTY_WORLDS ?? 10);
const CASES_PER_WORLD = Number(env.ACCESS_PROPERTY_CASES ?? 500);
const REPLAY = env.ACCESS_PROPERTY_SEED
  ? { seed: Number(env.ACCESS_PROPERTY_SEED), path: env.ACCESS_PROPERTY_PATH }
  : {};
const ITEMS: [number, number] = [100, 300];
const ASSET = 'scene.tif';
/** A point and a tile inside the asset (10-11 E, 50-51 N). */
const POINT = '10.5,50.5';
const TILE_Z = 9;
const [TILE_X, TILE_Y] = webMercatorTileAt(10.5, 50.5, TILE_Z);

const caseArb = fc.record({
  kind: fc.oneof(
    { weight: 10, arbitrary: fc.constant('search' as const) },
    { weight: 7, arbitrary: fc.constant('item' as const) },
    { weight: 2, arbitrary: fc.constant('collection' as const) },
    { weight: 1, arbitrary: fc.constant('raster' as const) },
  ),
  q: queryArb,
  item: fc.nat(),
  coll: fc.integer({ min: 0, max: 4 }),
});
type CaseValue = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

interface Caller {
  name: string;
  who: Who;
  headers: Record<string, string>;
  orgId: string | null;
}

interface Reply {
  status: number;
  body: string;
  raw: Buffer;
  headers: Record<string, unknown>;
  json(): // biome-ignore lint/suspicious/noExplicitAny: response documents
  any;
}

const iso = (ms: number) => new Date(ms).toISOString();
const half = (h: number) => iso(T0 + h * HOUR);

describe.each(catalogBackends())('access property on $name', (backend) => {
  const tmp = tempDir('access-prop-');
  let assetBytes: Buffer;
  const counts = {
    worlds: 0,
    cases: 0,
    requests: 0,
    search: 0,
    item: 0,
    collection: 0,
    raster: 0,
    landing: 0,
  };

  beforeAll(() => {
    // A small Float32 COG over 10-11 E, 50-51 N, shared by every item (relative href).
    const n = 128;
    const px = new Float32Array(n * n);
    for (let k = 0; k < px.length; k++) px[k] = 0.01 + ((k * 7919) % 1000) / 2000;
    gdalMake(join(tmp.dir, ASSET), px, {
      width: n,
      height: n,
      bands: 1,
      dtype: 'float32',
      driver: 'COG',
      epsg: 4326,
      geotransform: [10, 1 / n, 0, 51, 0, -1 / n],
    });
    assetBytes = readFileSync(join(tmp.dir, ASSET));
  });
  afterAll(() => {
    tmp.cleanup();
    console.log(
      `access property on ${backend.name}: ${counts.worlds} worlds, ${counts.cases} cases (search ${counts.search}, item ${counts.item}, collection ${counts.collection}, raster ${counts.raster}, landing ${counts.landing}), ${counts.requests} requests`,
    );
  });

  it('shows every caller exactly what the label rules allow, on every read path', async () => {
    const nowMs = Date.now();
    const run = await fc.check(
      fc.asyncProperty(
        worldArb(ITEMS[0], ITEMS[1], nowMs),
        fc.array(caseArb, { minLength: CASES_PER_WORLD, maxLength: CASES_PER_WORLD }),
        async (world, cases) => {
          await runWorld(world, cases);
        },
      ),
      { numRuns: WORLDS, endOnFailure: true, ...REPLAY },
    );
    // The world is too large to print whole: the seed replays it, the error names the case.
    if (run.failed)
      throw new Error(
        `world ${counts.worlds} failed (replay: ACCESS_PROPERTY_SEED=${run.seed} ACCESS_PROPERTY_PATH=${run.counterexamplePath}): ${(run.errorInstance as Error)?.message}`,
      );
    expect(counts.cases).toBeGreaterThanOrEqual(WORLDS * CASES_PER_WORLD);
  }, 600_000);

  async function runWorld(world: World, cases: CaseValue[]): Promise<void> {
    const dir = join(tmp.dir, `w${counts.worlds}`);
    mkdirSync(dir);
    const store: CatalogStore = await backend.open(dir);
    const server = await testServer(store, { assetRoot: tmp.dir, renderWorkers: 0 });
    try {
      await checkWorld(world, cases, server);
      counts.worlds++;
    } finally {
      await server.close();
      await store.close();
      await backend.cleanup?.();
    }
  }

  async function checkWorld(
    world: World,
    cases: CaseValue[],
    server: Awaited<ReturnType<typeof testServer>>,
  ): Promise<void> {
    const { app } = server;
    const identity = server.access.services.identity;
    /** Request ids of every request a partner organisation's principals made. */
    const requestsOf = new Map<string, Set<string>>();
    const call = async (
      c: Caller,
      url: string,
      o: { method?: 'GET' | 'POST'; body?: unknown; headers?: Record<string, string> } = {},
    ): Promise<Reply> => {
      const r = await app.inject({
        method: o.method ?? 'GET',
        url,
        payload: o.body === undefined ? undefined : JSON.stringify(o.body),
        headers: {
          ...c.headers,
          ...(o.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...o.headers,
        },
      });
      counts.requests++;
      expect(r.statusCode, `${c.name} ${url}: ${r.body}`).toBeLessThan(500);
      if (c.orgId !== null) {
        const set = requestsOf.get(c.orgId) ?? new Set();
        set.add(String(r.headers['x-request-id']));
        requestsOf.set(c.orgId, set);
      }
      return {
        status: r.statusCode,
        body: r.body,
        raw: r.rawPayload,
        headers: r.headers,
        json: () => JSON.parse(r.body),
      };
    };

    // The world: organisations, users and keys; a provider-operator; collections and items.
    const provider: Caller = {
      name: 'provider-admin',
      who: { kind: 'provider' },
      headers: server.admin,
      orgId: null,
    };
    identity.createPrincipal('provider', 'user', { id: 'operator', roles: ['provider-operator'] });
    const callers: Caller[] = [
      provider,
      {
        name: 'provider-operator',
        who: { kind: 'provider' },
        headers: { authorization: `Bearer ${identity.createKey('user:operator').key}` },
        orgId: null,
      },
    ];
    const admins = new Map<string, Caller>();
    for (const org of world.orgs) {
      identity.createOrganisation({
        id: org.id,
        kind: 'partner',
        codes: org.codes,
        clearance: org.rank === null ? [] : [{ policy: 'NATO', classification: CLASSIFICATIONS[org.rank] }],
        caveats: org.caveats,
      });
      for (const u of org.users) {
        identity.createPrincipal(org.id, 'user', {
          id: u.name,
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
        const c: Caller = {
          name: `${u.name} (${org.id})`,
          who: whoOf(org, u),
          headers: { authorization: `Bearer ${identity.createKey(`user:${u.name}`).key}` },
          orgId: org.id,
        };
        callers.push(c);
        if (u.role === 'partner-admin') admins.set(org.id, c);
      }
    }
    const anonymous: Caller = { name: 'anonymous', who: { kind: 'anonymous' }, headers: {}, orgId: null };
    for (const c of world.collections) {
      const r = await call(provider, '/collections', {
        method: 'POST',
        body: { ...syntheticCollection(c.id), ...(c.label ? { 'sarbridge:label': c.label.doc } : {}) },
      });
      expect(r.status, r.body).toBe(201);
      const features = world.items.filter((it) => it.collection === c.id).map(itemDoc);
      if (features.length === 0) continue;
      const w = await call(provider, `/collections/${c.id}/items`, {
        method: 'POST',
        body: { type: 'FeatureCollection', features },
      });
      expect(w.status, w.body).toBe(201);
    }
    /** Collection ids a query may name: the world's, then missing ones. */
    const collIds = [0, 1, 2, 3, 4].map((k) => world.collections[k]?.id ?? `absent-coll-${k}`);
    const collOf = (id: string) => world.collections.find((c) => c.id === id);
    const sees = (c: Caller, it: ModelItem) => seesItem(c.who, world, it, Date.now());

    /** A hidden thing answers exactly as a missing one: status, content type and body (ids substituted). */
    const sameAsMissing = async (c: Caller, url: string, missingUrl: string, subs: [string, string][]) => {
      const a = await call(c, url);
      const b = await call(c, missingUrl);
      const norm = (s: string, k: 0 | 1) =>
        subs.reduce((acc, p, i) => acc.replaceAll(`'${p[k]}'`, `'§${i}'`), s);
      expect(a.status, `${c.name} ${url}: ${a.body}`).toBe(404);
      expect(b.status, `${c.name} ${missingUrl}`).toBe(404);
      expect(norm(a.body, 0), `${c.name} ${url} vs ${missingUrl}`).toBe(norm(b.body, 1));
      expect(a.headers['content-type']).toBe(b.headers['content-type']);
      expect(a.raw.includes(assetBytes.subarray(0, 16))).toBe(false);
    };
    /** The URL of something hidden from `c` and the one of a missing thing in the same place. */
    const missingItemUrl = (c: Caller, it: ModelItem, make: (coll: string, id: string) => string) => {
      const collVisible = seesCollection(c.who, collOf(it.collection));
      return {
        url: make(it.collection, it.id),
        missing: collVisible ? make(it.collection, 'absent-item') : make('absent-coll', 'absent-item'),
        subs: (collVisible
          ? [[it.id, 'absent-item']]
          : [
              [it.collection, 'absent-coll'],
              [it.id, 'absent-item'],
            ]) as [string, string][],
      };
    };

    // Landing page and /collections for every caller, and the anonymous one.
    for (const c of [...callers, anonymous]) {
      const visible = world.collections.filter((x) => seesCollection(c.who, x)).map((x) => x.id);
      const land = await call(c, '/');
      expect(land.status).toBe(200);
      const children = land
        .json()
        .links.filter((l: { rel: string }) => l.rel === 'child')
        .map((l: { href: string }) => l.href.replace('http://localhost/collections/', ''));
      expect(children.sort(), `${c.name} landing children`).toEqual([...visible].sort());
      const list = await call(c, '/collections');
      if (c.who.kind === 'anonymous') expect(list.status).toBe(401);
      else {
        expect(list.status).toBe(200);
        expect(
          list
            .json()
            .collections.map((x: { id: string }) => x.id)
            .sort(),
          `${c.name} /collections`,
        ).toEqual([...visible].sort());
      }
      counts.landing++;
      counts.cases++;
    }
    expect((await call(anonymous, '/search')).status).toBe(401);
    expect(
      (await call(anonymous, `/collections/${world.items[0].collection}/items/${world.items[0].id}`)).status,
    ).toBe(401);

    /** Provider responses of raster URLs, the reference bytes for partners who may see the item. */
    const providerRaster = new Map<string, Reply>();
    const reference = async (url: string) => {
      let r = providerRaster.get(url);
      if (!r) {
        r = await call(provider, url);
        providerRaster.set(url, r);
      }
      return r;
    };

    // Four lanes of cases at a time (the stores answer while the next request is prepared).
    const runCase = async (k: CaseValue) => {
      const c = callers[k.q.principal % callers.length];
      const it = world.items[k.item % world.items.length];
      if (k.kind === 'search') await searchCase(c, k.q);
      else if (k.kind === 'item') await itemCase(c, it);
      else if (k.kind === 'collection') await collectionCase(c, collIds[k.coll]);
      else await rasterCase(c, it);
      counts.cases++;
      counts[k.kind]++;
    };
    let failed = false;
    const lanes = await Promise.allSettled(
      [0, 1, 2, 3].map(async (lane) => {
        for (let i = lane; i < cases.length && !failed; i += 4)
          await runCase(cases[i]).catch((err) => {
            failed = true;
            throw err;
          });
      }),
    );
    for (const l of lanes) if (l.status === 'rejected') throw l.reason;

    async function itemCase(c: Caller, it: ModelItem): Promise<void> {
      const path = (coll: string, id: string) => `/collections/${coll}/items/${id}`;
      const xml = (coll: string, id: string) => `/collections/${coll}/items/${id}/label.xml`;
      if (sees(c, it)) {
        const r = await call(c, path(it.collection, it.id));
        expect(r.status, `${c.name} may see ${it.collection}/${it.id}: ${r.body}`).toBe(200);
        const doc = r.json();
        expect([doc.collection, doc.id, doc.properties.datetime]).toEqual([
          it.collection,
          it.id,
          iso(it.startMs),
        ]);
        const x = await call(c, xml(it.collection, it.id));
        const label = effectiveLabel(world, it);
        if (label === null) {
          expect(x.status).toBe(404);
          return;
        }
        expect(x.status, x.body).toBe(200);
        expect(x.body).toContain(`<slab:Classification>${CLASSIFICATIONS[label.rank]}</slab:Classification>`);
        for (const v of [...label.codes, ...label.caveats])
          expect(x.body).toContain(`<slab:GenericValue>${v}<`);
        return;
      }
      for (const make of [path, xml]) {
        const m = missingItemUrl(c, it, make);
        await sameAsMissing(c, m.url, m.missing, m.subs);
      }
    }

    async function collectionCase(c: Caller, id: string): Promise<void> {
      const coll = collOf(id);
      const urls = (x: string) => [
        `/collections/${x}`,
        `/collections/${x}/queryables`,
        `/collections/${x}/items?limit=1000`,
      ];
      if (!seesCollection(c.who, coll)) {
        for (const [a, b] of urls(id).map((u, i) => [u, urls('absent-coll')[i]]))
          await sameAsMissing(c, a, b, [[id, 'absent-coll']]);
        await sameAsMissing(c, `/collections/${id}/label.xml`, '/collections/absent-coll/label.xml', [
          [id, 'absent-coll'],
        ]);
        return;
      }
      const [doc, q, items] = await Promise.all(urls(id).map((u) => call(c, u)));
      expect([doc.status, q.status, items.status]).toEqual([200, 200, 200]);
      expect(doc.json().id).toBe(id);
      const got = items
        .json()
        .features.map((f: { id: string }) => f.id)
        .sort();
      const want = world.items
        .filter((it) => it.collection === id && sees(c, it))
        .map((it) => it.id)
        .sort();
      expect(got, `${c.name} /collections/${id}/items`).toEqual(want);
      const x = await call(c, `/collections/${id}/label.xml`);
      const label = coll?.label ?? null;
      if (label === null) expect(x.status).toBe(404);
      else {
        expect(x.status).toBe(200);
        expect(x.body).toContain(`<slab:Classification>${CLASSIFICATIONS[label.rank]}</slab:Classification>`);
      }
    }

    async function rasterCase(c: Caller, it: ModelItem): Promise<void> {
      const base = (coll: string, id: string) => `/collections/${coll}/items/${id}`;
      const makers = [
        (coll: string, id: string) => `${base(coll, id)}/tilejson.json`,
        (coll: string, id: string) =>
          `/tiles/${coll}/${id}/data/WebMercatorQuad/${TILE_Z}/${TILE_X}/${TILE_Y}.png`,
        (coll: string, id: string) => `${base(coll, id)}/preview.png?max_size=64`,
        (coll: string, id: string) => `${base(coll, id)}/point/${POINT}`,
        (coll: string, id: string) => `${base(coll, id)}/assets/data`,
      ];
      if (!sees(c, it)) {
        for (const make of makers) {
          const m = missingItemUrl(c, it, make);
          await sameAsMissing(c, m.url, m.missing, m.subs);
        }
        const m = missingItemUrl(c, it, (coll, id) => `${base(coll, id)}/assets/data`);
        const ranged = await call(c, m.url, { headers: { range: 'bytes=0-99' } });
        expect(ranged.status).toBe(404);
        expect(ranged.raw.includes(assetBytes.subarray(0, 16))).toBe(false);
        return;
      }
      for (const make of makers.slice(0, 4)) {
        const url = make(it.collection, it.id);
        const [mine, ref] = [await call(c, url), await reference(url)];
        expect(mine.status, `${c.name} ${url}: ${mine.body}`).toBe(200);
        expect(mine.status).toBe(ref.status);
        if (url.includes('.png')) expect(mine.raw.equals(ref.raw)).toBe(true);
        else expect(mine.json()).toEqual(ref.json());
      }
      const url = `${base(it.collection, it.id)}/assets/data`;
      const full = await call(c, url);
      expect(full.status).toBe(200);
      expect(full.raw.equals(assetBytes)).toBe(true);
      const ranged = await call(c, url, { headers: { range: 'bytes=0-99' } });
      expect(ranged.status).toBe(206);
      expect(ranged.raw.equals(assetBytes.subarray(0, 100))).toBe(true);
    }

    async function searchCase(c: Caller, q0: ModelQuery): Promise<void> {
      // /collections/{id}/items is GET only and takes no collections parameter.
      const q: ModelQuery = q0.itemsOf === null ? q0 : { ...q0, method: 'GET', collections: null };
      const path = q.itemsOf === null ? '/search' : `/collections/${collIds[q.itemsOf]}/items`;
      const { get, post } = searchParams(q, world, collIds);
      if (q.itemsOf !== null && !seesCollection(c.who, collOf(collIds[q.itemsOf]))) {
        const qs = new URLSearchParams(get).toString();
        await sameAsMissing(c, `${path}?${qs}`, `/collections/absent-coll/items?${qs}`, [
          [collIds[q.itemsOf], 'absent-coll'],
        ]);
        return;
      }
      const want = world.items
        .filter((it) => matchesQuery(q, world, it, collIds) && sees(c, it))
        .map((it) => `${it.collection}/${it.id}`)
        .sort();
      const got: string[] = [];
      const order: ModelItem[] = [];
      let r =
        q.method === 'GET'
          ? await call(c, `${path}?${new URLSearchParams(get)}`)
          : await call(c, path, { method: 'POST', body: post });
      const label = `${c.name} ${q.method} ${path} ${JSON.stringify(q.method === 'GET' ? get : post)}`;
      for (let pages = 0; ; pages++) {
        expect(r.status, `${label}: ${r.body}`).toBe(200);
        const doc = r.json();
        expect(doc.features.length).toBeLessThanOrEqual(q.limit);
        expect(doc.numberReturned).toBe(doc.features.length);
        if (doc.numberMatched !== undefined) expect(doc.numberMatched, label).toBe(want.length);
        for (const f of doc.features) {
          got.push(`${f.collection}/${f.id}`);
          const m = world.items.find((x) => x.collection === f.collection && x.id === f.id);
          if (m) order.push(m);
        }
        const next = doc.links.find((l: { rel: string }) => l.rel === 'next');
        if (!next) break;
        expect(pages, `${label}: more pages than items`).toBeLessThanOrEqual(want.length / q.limit + 1);
        r =
          next.method === 'POST'
            ? await call(c, next.href.replace('http://localhost', ''), { method: 'POST', body: next.body })
            : await call(c, next.href.replace('http://localhost', ''));
      }
      expect(new Set(got).size, `${label}: duplicates`).toBe(got.length);
      const leaked = got.filter((k) => !want.includes(k));
      const lost = want.filter((k) => !got.includes(k));
      expect({ leaked, lost }, label).toEqual({ leaked: [], lost: [] });
      const s = q.sortby ?? { field: 'datetime', direction: 'desc' };
      const key =
        s.field === 'datetime'
          ? (m: ModelItem) => m.startMs
          : s.field === 'id'
            ? (m: ModelItem) => m.id
            : null;
      if (key)
        for (let i = 1; i < order.length; i++) {
          const [a, b] = [key(order[i - 1]), key(order[i])];
          expect(s.direction === 'asc' ? a <= b : a >= b, `${label}: order at ${i}`).toBe(true);
        }
    }

    // Audit: a partner-admin reads its own organisation's records only, and every request of its
    // organisation's principals is there; another organisation answers as a missing one.
    for (const org of world.orgs) {
      const admin = admins.get(org.id) as Caller;
      const records: { org: string | null; requestId: string | null }[] = [];
      for (let after = 0; ; ) {
        const r = await call(admin, `/admin/audit?limit=5000&after=${after}`);
        expect(r.status, r.body).toBe(200);
        const page = r.json().records as { seq: number; org: string | null; requestId: string | null }[];
        records.push(...page);
        if (page.length < 5000) break;
        after = page[page.length - 1].seq;
      }
      const foreign = records.filter((x) => x.org !== org.id);
      expect(foreign.slice(0, 3), `${org.id}'s audit`).toEqual([]);
      const ids = new Set(records.map((x) => x.requestId));
      const missing = [...(requestsOf.get(org.id) ?? [])].filter((id) => !ids.has(id));
      expect(missing.slice(0, 3), `${org.id}'s requests missing from its audit`).toEqual([]);
      const other = world.orgs[(world.orgs.indexOf(org) + 1) % world.orgs.length].id;
      await sameAsMissing(admin, `/admin/audit?org=${other}`, '/admin/audit?org=absent-org', [
        [other, 'absent-org'],
      ]);
      const byProvider = await call(provider, `/admin/audit?org=${org.id}&limit=10000`);
      expect(byProvider.json().records.every((x: { org: string }) => x.org === org.id)).toBe(true);
      counts.cases++;
    }
  }
});

/** The item document the provider writes. */
function itemDoc(it: ModelItem): Record<string, unknown> {
  const [w, s, e, n] = it.box;
  return {
    type: 'Feature',
    stac_version: '1.0.0',
    id: it.id,
    bbox: [w, s, e, n],
    geometry: {
      type: 'Polygon',
      coordinates: [
        [
          [w, s],
          [e, s],
          [e, n],
          [w, n],
          [w, s],
        ],
      ],
    },
    properties: {
      datetime: iso(it.startMs),
      ...(it.range ? { start_datetime: iso(it.startMs), end_datetime: iso(it.endMs) } : {}),
      ...(it.platform === null ? {} : { platform: it.platform }),
      'sat:relative_orbit': it.orbit,
      ...(it.label ? { 'sarbridge:label': it.label.doc } : {}),
      ...(it.holdMs === null ? {} : { 'sarbridge:release_datetime': iso(it.holdMs) }),
    },
    links: [],
    assets: {
      data: {
        href: ASSET,
        type: 'image/tiff; application=geotiff; profile=cloud-optimized',
        roles: ['data'],
      },
    },
  };
}

/** A query as GET parameters (CQL2 text) and as a POST body (CQL2 JSON). */
function searchParams(
  q: ModelQuery,
  world: World,
  collIds: string[],
): { get: Record<string, string>; post: Record<string, unknown> } {
  const get: Record<string, string> = { limit: String(q.limit) };
  const post: Record<string, unknown> = { limit: q.limit };
  if (q.bbox) {
    get.bbox = q.bbox.join(',');
    post.bbox = q.bbox;
  }
  if (q.datetime && (q.datetime.start !== null || q.datetime.end !== null)) {
    const v = `${q.datetime.start === null ? '..' : half(q.datetime.start)}/${q.datetime.end === null ? '..' : half(q.datetime.end)}`;
    get.datetime = v;
    post.datetime = v;
  }
  if (q.collections) {
    const ids = q.collections.map((k) => collIds[k]);
    get.collections = ids.join(',');
    post.collections = ids;
  }
  if (q.ids) {
    const ids = [...new Set(q.ids.map((k) => world.items[k % world.items.length].id))];
    get.ids = ids.join(',');
    post.ids = ids;
  }
  if (q.filter) {
    const f = q.filter;
    if (f.prop === 'platform') {
      get.filter = `platform = '${f.value}'`;
      post.filter = { op: '=', args: [{ property: 'platform' }, f.value] };
    } else {
      get.filter = `"sat:relative_orbit" ${f.op} ${f.value}`;
      post.filter = { op: f.op, args: [{ property: 'sat:relative_orbit' }, f.value] };
    }
    get['filter-lang'] = 'cql2-text';
    post['filter-lang'] = 'cql2-json';
  }
  if (q.sortby) {
    get.sortby = `${q.sortby.direction === 'asc' ? '+' : '-'}${q.sortby.field}`;
    post.sortby = [q.sortby];
  }
  return { get, post };
}
