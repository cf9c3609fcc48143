import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogStore } from '../src/catalog/store.js';
import { syntheticCollection, syntheticItems } from '../src/catalog/synthetic.js';
import type { StacItem } from '../src/catalog/types.js';
import { buildServer } from '../src/server/app.js';
import { tempDir } from './helpers/gdal.js';
import { catalogBackends } from './helpers/postgres.js';
import { validateCollection as validateCollectionSchema, validateStacItem } from './helpers/stac.js';

const CQL2 = join(import.meta.dirname, '..', '..', 'shared', 'conformance', 'cql2');
const N = 300;
const items = [...syntheticItems(N, 7, 'sar')];

describe.each(catalogBackends())('STAC API on $name', (backend) => {
  const tmp = tempDir('stac-');
  let store: CatalogStore;
  let app: FastifyInstance;
  const req = async (method: string, url: string, body?: unknown, headers: Record<string, string> = {}) => {
    const r = await app.inject({ method: method as 'GET', url, payload: body as string, headers });
    return { status: r.statusCode, body: r.body.length ? r.json() : null, headers: r.headers };
  };
  const search = async (body: Record<string, unknown>) => {
    const r = await req('POST', '/search', { limit: 1000, ...body });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return (r.body.features as StacItem[]).map((f) => f.id).sort();
  };
  const expectIds = (pred: (it: StacItem) => boolean) =>
    items
      .filter(pred)
      .map((it) => it.id)
      .sort();

  beforeAll(async () => {
    store = await backend.open(tmp.dir);
    app = await buildServer({ store, bodyLimit: 2 * 1024 * 1024 });
    expect((await req('POST', '/collections', syntheticCollection('sar'))).status).toBe(201);
    const r = await req('POST', '/collections/sar/items', { type: 'FeatureCollection', features: items });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.added).toBe(N);
  });
  afterAll(async () => {
    await app.close();
    await store.close();
    await backend.cleanup?.();
    tmp.cleanup();
  });

  it('serves a landing page, conformance classes and an OpenAPI 3 document', async () => {
    const land = await req('GET', '/');
    expect(land.status).toBe(200);
    expect(land.body.type).toBe('Catalog');
    for (const rel of ['self', 'root', 'conformance', 'data', 'search', 'service-desc'])
      expect(land.body.links.map((l: { rel: string }) => l.rel)).toContain(rel);
    const conf = await req('GET', '/conformance');
    expect(conf.body.conformsTo).toContain('https://api.stacspec.org/v1.0.0/item-search#filter');
    expect(conf.body.conformsTo).toContain('http://www.opengis.net/spec/cql2/1.0/conf/cql2-text');
    const api = await req('GET', '/api');
    expect(api.body.openapi).toBe('3.0.3');
    expect(api.headers['content-type']).toContain('application/vnd.oai.openapi+json');
    expect(Object.keys(api.body.paths)).toContain('/search');
  });

  it('returns collections and items valid against the official STAC schemas', async () => {
    const c = await req('GET', '/collections/sar');
    expect(c.status).toBe(200);
    expect(validateCollectionSchema(c.body)).toEqual([]);
    const list = await req('GET', '/collections');
    expect(list.body.collections.map((x: { id: string }) => x.id)).toEqual(['sar']);
    const it0 = await req('GET', `/collections/sar/items/${items[3].id}`);
    expect(it0.status).toBe(200);
    expect(it0.headers['content-type']).toContain('application/geo+json');
    expect(validateStacItem(it0.body)).toEqual([]);
    const page = await req('GET', '/collections/sar/items?limit=20');
    expect(page.body.features).toHaveLength(20);
    for (const f of page.body.features) expect(validateStacItem(f)).toEqual([]);
  });

  it('searches by bbox, datetime, ids and collections (GET and POST agree)', async () => {
    const bbox = [-20, -10, 40, 50];
    const overlaps = (it: StacItem) => {
      const b = it.bbox as number[];
      return b[0] <= bbox[2] && b[2] >= bbox[0] && b[1] <= bbox[3] && b[3] >= bbox[1];
    };
    // Items with a bbox overlap; the footprints are rectangles, so the exact test keeps those whose
    // polygon meets the box: at least the items fully inside it, at most the overlapping ones.
    const got = await search({ bbox });
    const inside = expectIds((it) => {
      const b = it.bbox as number[];
      return b[0] >= bbox[0] && b[2] <= bbox[2] && b[1] >= bbox[1] && b[3] <= bbox[3];
    });
    for (const id of inside) expect(got).toContain(id);
    for (const id of got) expect(expectIds(overlaps)).toContain(id);
    const get = await req('GET', `/search?bbox=${bbox.join(',')}&limit=1000`);
    expect(get.body.features.map((f: StacItem) => f.id).sort()).toEqual(got);

    const dt = '2024-03-01T00:00:00Z/2024-06-30T23:59:59Z';
    const [a, b] = dt.split('/').map(Date.parse);
    expect(await search({ datetime: dt })).toEqual(
      expectIds(
        (it) =>
          Date.parse(it.properties.datetime as string) >= a &&
          Date.parse(it.properties.datetime as string) <= b,
      ),
    );
    expect(await search({ datetime: '../2023-03-01T00:00:00Z' })).toEqual(
      expectIds((it) => Date.parse(it.properties.datetime as string) <= Date.parse('2023-03-01T00:00:00Z')),
    );
    expect(await search({ ids: [items[1].id, items[5].id] })).toEqual([items[1].id, items[5].id].sort());
    expect(await search({ collections: ['nope'] })).toEqual([]);
  });

  const filters: [string, Record<string, unknown>, (it: StacItem) => boolean][] = [
    [
      'comparison (text)',
      { filter: "sat:relative_orbit > 100 AND sat:orbit_state = 'ascending'" },
      (it) =>
        (it.properties['sat:relative_orbit'] as number) > 100 &&
        it.properties['sat:orbit_state'] === 'ascending',
    ],
    [
      'comparison (JSON)',
      { filter: { op: '<=', args: [{ property: 'view:incidence_angle' }, 30] } },
      (it) => (it.properties['view:incidence_angle'] as number) <= 30,
    ],
    [
      'LIKE',
      { filter: "platform LIKE 'sentinel%'" },
      (it) => (it.properties.platform as string).startsWith('sentinel'),
    ],
    [
      'LIKE is case-sensitive; CASEI is not',
      { filter: "CASEI(sar:instrument_mode) LIKE CASEI('spot%')" },
      (it) => it.properties['sar:instrument_mode'] === 'SPOTLIGHT',
    ],
    [
      'IN',
      { filter: "sar:instrument_mode IN ('IW', 'EW')" },
      (it) => ['IW', 'EW'].includes(it.properties['sar:instrument_mode'] as string),
    ],
    [
      'NOT IN',
      { filter: "sar:instrument_mode NOT IN ('IW', 'EW')" },
      (it) => !['IW', 'EW'].includes(it.properties['sar:instrument_mode'] as string),
    ],
    [
      'BETWEEN',
      { filter: 'view:incidence_angle BETWEEN 25 AND 35' },
      (it) =>
        (it.properties['view:incidence_angle'] as number) >= 25 &&
        (it.properties['view:incidence_angle'] as number) <= 35,
    ],
    ['IS NULL', { filter: 'sar:looks_range IS NULL' }, () => true],
    ['IS NOT NULL', { filter: 'sar:frequency_band IS NOT NULL' }, () => true],
    [
      'OR / NOT',
      { filter: "NOT (platform = 'rcm-1') OR sat:relative_orbit < 10" },
      (it) => it.properties.platform !== 'rcm-1' || (it.properties['sat:relative_orbit'] as number) < 10,
    ],
    [
      'arithmetic',
      { filter: 'sat:relative_orbit * 2 + 1 > 301' },
      (it) => (it.properties['sat:relative_orbit'] as number) * 2 + 1 > 301,
    ],
    [
      'property-property',
      { filter: 'view:incidence_angle > sat:relative_orbit' },
      (it) =>
        (it.properties['view:incidence_angle'] as number) > (it.properties['sat:relative_orbit'] as number),
    ],
    [
      'T_AFTER',
      { filter: "T_AFTER(datetime, TIMESTAMP('2025-06-01T00:00:00Z'))" },
      (it) => Date.parse(it.properties.datetime as string) > Date.parse('2025-06-01T00:00:00Z'),
    ],
    [
      'T_BEFORE',
      { filter: "T_BEFORE(datetime, DATE('2023-02-01'))" },
      (it) => Date.parse(it.properties.datetime as string) < Date.parse('2023-02-01T00:00:00Z'),
    ],
    [
      'T_DURING',
      { filter: "T_DURING(datetime, INTERVAL('2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z'))" },
      (it) => {
        const t = Date.parse(it.properties.datetime as string);
        return t > Date.parse('2024-01-01T00:00:00Z') && t < Date.parse('2024-02-01T00:00:00Z');
      },
    ],
    [
      'T_INTERSECTS',
      { filter: "T_INTERSECTS(datetime, INTERVAL('2024-01-01T00:00:00Z', '..'))" },
      (it) => Date.parse(it.properties.datetime as string) >= Date.parse('2024-01-01T00:00:00Z'),
    ],
    [
      'datetime compared with a timestamp',
      { filter: "datetime >= TIMESTAMP('2025-01-01T00:00:00Z')" },
      (it) => Date.parse(it.properties.datetime as string) >= Date.parse('2025-01-01T00:00:00Z'),
    ],
    [
      'S_INTERSECTS with a point',
      { filter: `S_INTERSECTS(geometry, POINT(${centre(items[10]).join(' ')}))` },
      (it) => it.id === items[10].id || containsPoint(it, centre(items[10])),
    ],
    [
      'S_WITHIN a large box',
      { filter: 'S_WITHIN(geometry, BBOX(-60, -30, 60, 30))' },
      (it) => {
        const b = it.bbox as number[];
        return b[0] >= -60 && b[2] <= 60 && b[1] >= -30 && b[3] <= 30;
      },
    ],
    [
      'S_CONTAINS a point',
      {
        filter: {
          op: 's_contains',
          args: [{ property: 'geometry' }, { type: 'Point', coordinates: centre(items[20]) }],
        },
      },
      (it) => it.id === items[20].id || containsPoint(it, centre(items[20])),
    ],
    [
      'query extension',
      { query: { 'sar:instrument_mode': { eq: 'SM' }, 'sat:relative_orbit': { gte: 50 } } },
      (it) =>
        it.properties['sar:instrument_mode'] === 'SM' &&
        (it.properties['sat:relative_orbit'] as number) >= 50,
    ],
  ];
  it.each(filters)('filter: %s', async (_name, body, pred) => {
    const got = await search(body);
    expect(got).toEqual(expectIds(pred));
  });

  it('sorts (sortby) and trims fields (fields)', async () => {
    const r = await req('POST', '/search', {
      limit: 50,
      sortby: [
        { field: 'properties.sat:relative_orbit', direction: 'asc' },
        { field: 'id', direction: 'asc' },
      ],
      fields: { include: ['properties.sat:relative_orbit'], exclude: ['assets'] },
    });
    const orbits = r.body.features.map((f: StacItem) => f.properties['sat:relative_orbit']);
    expect(orbits).toEqual([...orbits].sort((a: number, b: number) => a - b));
    expect(r.body.features[0].assets).toBeUndefined();
    expect(r.body.features[0].properties['sar:instrument_mode']).toBeUndefined();
    expect(r.body.features[0].properties.datetime).toBeDefined();
    const get = await req('GET', '/search?limit=5&sortby=-datetime');
    const times = get.body.features.map((f: StacItem) => Date.parse(f.properties.datetime as string));
    expect(times).toEqual([...times].sort((a: number, b: number) => b - a));
  });

  it('pages by token without repeating or skipping items while new items are inserted', async () => {
    const seen: string[] = [];
    let body: Record<string, unknown> | null = {
      limit: 37,
      filter: "sar:frequency_band = 'C'",
      collections: ['sar'],
    };
    const extra = [...syntheticItems(40, 99, 'sar', 0)].map((it) => ({
      ...it,
      id: `late-${it.id}`,
      properties: { ...it.properties, 'sar:frequency_band': 'C' },
    }));
    let k = 0;
    while (body) {
      const r = await req('POST', '/search', body);
      expect(r.status).toBe(200);
      seen.push(...r.body.features.map((f: StacItem) => f.id));
      // Insert new matching items between pages.
      if (k < 4)
        await req('POST', '/collections/sar/items', {
          type: 'FeatureCollection',
          features: extra.slice(k * 10, k * 10 + 10),
        });
      k++;
      const next = r.body.links.find((l: { rel: string }) => l.rel === 'next');
      body = next ? next.body : null;
    }
    const original = expectIds((it) => it.properties['sar:frequency_band'] === 'C');
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of original) expect(seen).toContain(id);
    for (const it of extra) await req('DELETE', `/collections/sar/items/${it.id}`);
  });

  it('GET paging follows the next link', async () => {
    let url: string | null = '/collections/sar/items?limit=100';
    const seen = new Set<string>();
    while (url) {
      const r = await req('GET', url.replace(/^https?:\/\/[^/]+/, ''));
      for (const f of r.body.features) seen.add(f.id);
      url = r.body.links.find((l: { rel: string }) => l.rel === 'next')?.href ?? null;
    }
    expect(seen.size).toBe(N);
  });

  it('runs every CQL2 conformance example as a filter: 200, or 400 naming what is not supported', async () => {
    const unsupported: string[] = [];
    for (const f of readdirSync(join(CQL2, 'json'))
      .filter((x) => x.endsWith('.json'))
      .sort()) {
      const filter = JSON.parse(readFileSync(join(CQL2, 'json', f), 'utf8'));
      const r = await req('POST', '/search', { filter, limit: 1 });
      if (r.status === 200) continue;
      expect(r.status, `${f}: ${JSON.stringify(r.body)}`).toBe(400);
      expect(r.body.code).toBe('UnsupportedFilter');
      unsupported.push(`${f.replace('.json', '')} (${/uses '([^']+)'/.exec(r.body.description)?.[1]})`);
    }
    console.log(
      `CQL2 examples not supported by the catalog (${unsupported.length}): ${unsupported.join(', ')}`,
    );
    expect(unsupported.length).toBeLessThan(40);
  });

  it('creates, replaces, patches and deletes items and collections', async () => {
    const it = { ...items[0], id: 'tx-1' };
    expect((await req('POST', '/collections/sar/items', it)).status).toBe(201);
    expect((await req('POST', '/collections/sar/items', it)).status).toBe(409);
    const put = await req('PUT', '/collections/sar/items/tx-1', {
      ...it,
      properties: { ...it.properties, 'sat:relative_orbit': 999 },
    });
    expect(put.status).toBe(200);
    expect(await search({ filter: 'sat:relative_orbit = 999' })).toEqual(['tx-1']);
    const patch = await req('PATCH', '/collections/sar/items/tx-1', {
      properties: { 'sat:relative_orbit': 998 },
    });
    expect(patch.status).toBe(200);
    expect(patch.body.properties['sat:relative_orbit']).toBe(998);
    expect(patch.body.properties['sar:instrument_mode']).toBe(it.properties['sar:instrument_mode']);
    expect((await req('DELETE', '/collections/sar/items/tx-1')).status).toBe(204);
    expect((await req('GET', '/collections/sar/items/tx-1')).status).toBe(404);
    const c2 = syntheticCollection('tmp');
    expect((await req('POST', '/collections', c2)).status).toBe(201);
    expect((await req('PATCH', '/collections/tmp', { description: 'changed' })).body.description).toBe(
      'changed',
    );
    expect((await req('PUT', '/collections/tmp', { ...c2, title: 'T' })).body.title).toBe('T');
    expect((await req('DELETE', '/collections/tmp')).status).toBe(204);
    expect((await req('GET', '/collections/tmp')).status).toBe(404);
  });

  const bad: [string, string, string, unknown, number, RegExp][] = [
    [
      'malformed CQL2 text',
      'GET',
      `/search?filter=${encodeURIComponent("platform = 'x' AND")}`,
      undefined,
      400,
      /unexpected end of the filter at position 18/,
    ],
    [
      'malformed CQL2 JSON',
      'POST',
      '/search',
      { filter: { op: '=', args: 3 } },
      400,
      /\/args must be an array/,
    ],
    ['bbox min > max', 'GET', '/search?bbox=10,0,5,5', undefined, 400, /bbox west 10 is greater than east 5/],
    ['bbox out of range', 'GET', '/search?bbox=-200,0,5,5', undefined, 400, /outside longitude -180..180/],
    ['bbox not numbers', 'GET', '/search?bbox=a,b,c,d', undefined, 400, /bbox must be 4 \(or 6\) numbers/],
    [
      'datetime interval backwards',
      'GET',
      '/search?datetime=2024-01-02T00:00:00Z/2024-01-01T00:00:00Z',
      undefined,
      400,
      /ends before it starts/,
    ],
    [
      'datetime not RFC 3339',
      'GET',
      '/search?datetime=yesterday',
      undefined,
      400,
      /'yesterday' is not an RFC 3339 timestamp/,
    ],
    ['datetime open at both ends', 'GET', '/search?datetime=../..', undefined, 400, /open at both ends/],
    [
      'limit above the maximum',
      'GET',
      '/search?limit=10001',
      undefined,
      400,
      /limit 10001 is above the maximum of 10000/,
    ],
    ['limit not a number', 'GET', '/search?limit=ten', undefined, 400, /limit must be a positive integer/],
    [
      'unknown collection',
      'GET',
      '/collections/none/items',
      undefined,
      404,
      /collection 'none' does not exist/,
    ],
    ['unknown item', 'GET', '/collections/sar/items/none', undefined, 404, /item 'none' does not exist/],
    ['bad paging token', 'GET', '/search?token=abc', undefined, 400, /token/],
    [
      'invalid item (pointer)',
      'POST',
      '/collections/sar/items',
      { ...items[0], id: 'bad', properties: { ...items[0].properties, datetime: 'soon' } },
      400,
      /\/properties\/datetime: must be an RFC 3339 timestamp/,
    ],
    [
      'invalid item geometry (pointer)',
      'POST',
      '/collections/sar/items',
      {
        ...items[0],
        id: 'bad',
        geometry: {
          type: 'Polygon',
          coordinates: [
            [
              [0, 0],
              [1, 0],
              [1, 1],
            ],
          ],
        },
      },
      400,
      /\/geometry\/coordinates\/0: must be an array of at least 4 positions/,
    ],
    [
      'invalid item in a bulk insert (pointer)',
      'POST',
      '/collections/sar/items',
      {
        type: 'FeatureCollection',
        features: [
          { ...items[0], id: 'ok-1' },
          { ...items[0], id: 'bad/id' },
        ],
      },
      400,
      /\/features\/1\/id: must be a string/,
    ],
    [
      'invalid collection (pointer)',
      'POST',
      '/collections',
      {
        ...syntheticCollection('c'),
        extent: { spatial: { bbox: [[0, 0, 1]] }, temporal: { interval: [[null, null]] } },
      },
      400,
      /\/extent\/spatial\/bbox\/0: must be 4 or 6 finite numbers/,
    ],
    ['body not JSON', 'POST', '/search', '{"limit": ', 400, /JSON/],
    ['unknown route', 'GET', '/nothing', undefined, 404, /no route GET \/nothing/],
  ];
  it.each(bad)('%s -> %i', async (_name, method, url, body, status, msg) => {
    const r = await req(
      method,
      url,
      body,
      typeof body === 'string' ? { 'content-type': 'application/json' } : {},
    );
    expect(r.status, JSON.stringify(r.body)).toBe(status);
    expect(typeof r.body.code).toBe('string');
    expect(r.body.description).toMatch(msg);
    // A bulk insert with a bad item inserts nothing.
    if (url.endsWith('/items') && method === 'POST')
      expect((await req('GET', '/collections/sar/items/ok-1')).status).toBe(404);
  });

  it('refuses a request body over the size limit with 413', async () => {
    const big = { type: 'FeatureCollection', features: Array.from({ length: 3000 }, () => items[0]) };
    const r = await req('POST', '/collections/sar/items', big);
    expect(r.status).toBe(413);
    expect(r.body.code).toBe('PayloadTooLarge');
  });
});

function centre(it: StacItem): [number, number] {
  const ring = (it.geometry as { coordinates: number[][][] }).coordinates[0];
  const c = ring.slice(0, 4).reduce((a, p) => [a[0] + p[0] / 4, a[1] + p[1] / 4], [0, 0]);
  return [Number(c[0].toFixed(6)), Number(c[1].toFixed(6))];
}

/** Point in the item's (convex, rectangular) footprint, by the signs of cross products. */
function containsPoint(it: StacItem, [x, y]: [number, number]): boolean {
  const ring = (it.geometry as { coordinates: number[][][] }).coordinates[0];
  let sign = 0;
  for (let i = 0; i + 1 < ring.length; i++) {
    const [ax, ay] = ring[i];
    const [bx, by] = ring[i + 1];
    const c = (bx - ax) * (y - ay) - (by - ay) * (x - ax);
    if (c === 0) continue;
    if (sign === 0) sign = Math.sign(c);
    else if (Math.sign(c) !== sign) return false;
  }
  return true;
}
