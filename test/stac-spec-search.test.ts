import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogStore } from '../src/catalog/store.js';
import { syntheticCollection, syntheticItems } from '../src/catalog/synthetic.js';
import type { StacItem } from '../src/catalog/types.js';
import { tempDir } from './helpers/gdal.js';
import { catalogBackends } from './helpers/postgres.js';
import { testServer } from './helpers/server.js';

/**
 * Issue 12, findings 4, 7, 8 and 10: the search parameters as the STAC API 1.0.0 texts define them.
 * Each row cites the section it checks:
 * - Fields: https://github.com/stac-api-extensions/fields (v1.0.0), "Include/Exclude Semantics"
 *   and its table "null vs. empty vs. missing".
 * - limit: OGC API - Features - Part 1 (17-069r4), /req/core/fc-limit-response-1 (STAC API Item
 *   Search takes `limit` from it).
 * - Query: https://github.com/stac-api-extensions/query (v1.0.0), with the queryables' types.
 * - POST body types: STAC API Item Search, "Query Parameter Table" (the JSON type of each parameter).
 * The expected results are computed here from the items' own JSON, not by the code under test.
 */

const MAX_LIMIT = 5;
const POLS: string[][] = [['VV'], ['VV', 'VH'], ['HH'], ['HH', 'HV'], ['VH'], ['VV', 'VH']];

/** 12 items whose queryables take planted values: sat:relative_orbit 1..12, polarizations cycling. */
const items: StacItem[] = [...syntheticItems(12, 5, 'spec')].map((it, i) => ({
  ...it,
  properties: {
    ...it.properties,
    'sat:relative_orbit': i + 1,
    'view:incidence_angle': 20 + i * 1.5,
    'sar:polarizations': POLS[i % POLS.length],
    'processing:level': String(1 + (i % 2)),
    'custom:note': `n${i}`,
  },
}));
// One item without polarizations: `neq` on an array does not match an item that lacks it.
delete (items[11].properties as Record<string, unknown>)['sar:polarizations'];

const ids = (pred: (p: Record<string, unknown>) => boolean) =>
  items
    .filter((it) => pred(it.properties))
    .map((it) => it.id)
    .sort();
const orbit = (p: Record<string, unknown>) => p['sat:relative_orbit'] as number;
const pols = (p: Record<string, unknown>) => (p['sar:polarizations'] as string[] | undefined) ?? null;

describe.each(catalogBackends())('STAC API 1.0.0 search parameters on $name', (backend) => {
  const tmp = tempDir('spec-search-');
  let store: CatalogStore;
  let app: FastifyInstance;
  let server: Awaited<ReturnType<typeof testServer>>;
  const send = async (method: 'GET' | 'POST', url: string, body?: unknown) => {
    const r = await app.inject({ method, url, payload: body as never, headers: server.admin });
    return { status: r.statusCode, body: r.json() };
  };
  const search = async (body: Record<string, unknown>) => {
    const r = await send('POST', '/search', { collections: ['spec'], limit: MAX_LIMIT, ...body });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
  };
  /** Every id a POST search matches, following its next links. */
  const allIds = async (body: Record<string, unknown>) => {
    const got: string[] = [];
    let page = await search(body);
    for (;;) {
      got.push(...page.features.map((f: StacItem) => f.id));
      const next = page.links.find((l: { rel: string }) => l.rel === 'next');
      if (!next) break;
      page = await search(next.body);
    }
    return got.sort();
  };
  let full: StacItem;

  beforeAll(async () => {
    store = await backend.open(tmp.dir);
    server = await testServer(store, { maxLimit: MAX_LIMIT, assetRoot: tmp.dir });
    app = server.app;
    expect((await send('POST', '/collections', syntheticCollection('spec'))).status).toBe(201);
    const r = await send('POST', '/collections/spec/items', { type: 'FeatureCollection', features: items });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    full = (await search({ ids: [items[1].id] })).features[0];
  });
  afterAll(async () => {
    await server.close();
    await store.close();
    await backend.cleanup?.();
    tmp.cleanup();
  });

  describe('finding 4: fields extension', () => {
    // §1's defaults (type, stac_version, id, geometry, bbox, links, assets, properties.datetime) and
    // the collection the links name.
    const DEFAULT = [
      'assets',
      'bbox',
      'collection',
      'geometry',
      'id',
      'links',
      'properties',
      'stac_version',
      'type',
    ];
    const all = () => Object.keys(full).sort();
    const allProps = () => Object.keys(full.properties).sort();
    const without = (xs: string[], ...drop: string[]) => xs.filter((x) => !drop.includes(x));
    type Row = [
      name: string,
      fields: { get: string } | { post: unknown },
      top: () => string[],
      props: () => string[] | undefined,
    ];
    const rows: Row[] = [
      [
        '§Include/Exclude Semantics 1: {} returns the default fields',
        { post: {} },
        () => DEFAULT,
        () => ['datetime'],
      ],
      [
        '§null vs. empty vs. missing: "fields": null is the default fields',
        { post: null },
        () => DEFAULT,
        () => ['datetime'],
      ],
      [
        '§1: include and exclude empty (pystac-client) is the default fields',
        { post: { include: [], exclude: [] } },
        () => DEFAULT,
        () => ['datetime'],
      ],
      [
        '§null vs. empty vs. missing: include missing, exclude empty is the default fields',
        { post: { exclude: [] } },
        () => DEFAULT,
        () => ['datetime'],
      ],
      [
        '§null vs. empty vs. missing: include and exclude null is the default fields',
        { post: { include: null, exclude: null } },
        () => DEFAULT,
        () => ['datetime'],
      ],
      [
        '§1: GET fields= (empty string) is the default fields',
        { get: '' },
        () => DEFAULT,
        () => ['datetime'],
      ],
      ['§2: GET fields=id returns only id', { get: 'id' }, () => ['id'], () => undefined],
      [
        '§2: include ["id"] with exclude [] (pystac-client) returns only id',
        { post: { include: ['id'], exclude: [] } },
        () => ['id'],
        () => undefined,
      ],
      [
        '§2: include id and a property returns only those',
        { post: { include: ['id', 'properties.sat:relative_orbit'] } },
        () => ['id', 'properties'],
        () => ['sat:relative_orbit'],
      ],
      [
        '§Overview: a property may be named without "properties."',
        { get: 'id,sat:relative_orbit' },
        () => ['id', 'properties'],
        () => ['sat:relative_orbit'],
      ],
      [
        '§3: exclude with include missing returns ALL but the excluded',
        { post: { exclude: ['geometry'] } },
        () => without(all(), 'geometry'),
        allProps,
      ],
      [
        '§4: exclude with include empty returns DEFAULT but the excluded',
        { post: { include: [], exclude: ['geometry'] } },
        () => without(DEFAULT, 'geometry'),
        () => ['datetime'],
      ],
      [
        '§4 and §null vs. empty vs. missing: GET fields=-geometry has an empty include (DEFAULT but geometry)',
        { get: '-geometry' },
        () => without(DEFAULT, 'geometry'),
        () => ['datetime'],
      ],
      [
        '§5.2: include properties, exclude properties.sar:polarizations: every property but that one',
        { post: { include: ['properties'], exclude: ['properties.sar:polarizations'] } },
        () => ['properties'],
        () => without(allProps(), 'sar:polarizations'),
      ],
      [
        '§5.1: exclude properties, include properties.datetime: datetime alone in properties',
        { post: { include: ['properties.datetime'], exclude: ['properties'] } },
        () => ['properties'],
        () => ['datetime'],
      ],
      [
        '§6: a field both included and excluded is included',
        { post: { include: ['id', 'geometry'], exclude: ['geometry'] } },
        () => ['geometry', 'id'],
        () => undefined,
      ],
      [
        '§null vs. empty vs. missing, row ["a"] / ["a", "b"]: only a',
        { post: { include: ['id'], exclude: ['id', 'geometry'] } },
        () => ['id'],
        () => undefined,
      ],
      [
        '§Overview "implementations may return fields not specified": links bring the collection they name',
        { get: 'id,links' },
        () => ['collection', 'id', 'links'],
        () => undefined,
      ],
    ];
    it.each(rows)('Fields %s', async (_name, fields, top, props) => {
      const r =
        'get' in fields
          ? await send(
              'GET',
              `/search?collections=spec&ids=${items[1].id}&fields=${encodeURIComponent(fields.get)}`,
            )
          : await send('POST', '/search', { collections: ['spec'], ids: [items[1].id], fields: fields.post });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      const f = r.body.features[0];
      expect(Object.keys(f).sort()).toEqual([...top()].sort());
      expect(f.properties === undefined ? undefined : Object.keys(f.properties).sort()).toEqual(props());
      for (const k of Object.keys(f)) if (k !== 'properties') expect(f[k]).toEqual(full[k]);
      for (const k of Object.keys(f.properties ?? {})) expect(f.properties[k]).toEqual(full.properties[k]);
    });

    const bad: [string, unknown, RegExp][] = [
      [
        'a string in a POST body',
        'id',
        /^fields must be a JSON object .* in a POST body, got the string 'id'$/,
      ],
      ['include a string', { include: 'id' }, /^fields\.include must be null or a JSON array of field names/],
      [
        'exclude holding a number',
        { exclude: [1] },
        /^fields\.exclude must be null or a JSON array of field names/,
      ],
      ['an unknown member', { includes: ['id'] }, /^fields\.includes is not a member of fields/],
    ];
    it.each(bad)(
      'Fields §Overview ("fields" object with string arrays): %s -> 400',
      async (_n, fields, msg) => {
        const r = await send('POST', '/search', { fields });
        expect(r.status).toBe(400);
        expect(r.body.code).toBe('InvalidParameterValue');
        expect(r.body.description).toMatch(msg);
      },
    );
    it('Fields §Overview (STAC API - Features binding): GET /collections/{id}/items?fields=id returns only id', async () => {
      const r = await send('GET', '/collections/spec/items?fields=id&limit=2');
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.features.map((f: StacItem) => Object.keys(f))).toEqual([['id'], ['id']]);
    });
    it('Fields GET: the parameter given twice -> 400', async () => {
      const r = await send('GET', '/search?fields=id&fields=bbox');
      expect(r.status).toBe(400);
      expect(r.body.description).toMatch(/^fields must be one comma-separated list/);
    });
    it('Fields GET: a lone "-" names no field -> 400', async () => {
      const r = await send('GET', '/search?fields=id,-');
      expect(r.status).toBe(400);
      expect(r.body.description).toMatch(/^fields: '-' names no field$/);
    });
  });

  describe('finding 7: limit above the maximum', () => {
    const capped: [string, 'GET' | 'POST', string | number][] = [
      ['maximum + 1', 'GET', String(MAX_LIMIT + 1)],
      ['10001', 'GET', '10001'],
      ['30 digits', 'GET', '9'.repeat(30)],
      ['a large JSON integer', 'POST', 1_000_000],
    ];
    it.each(capped)(
      'OGC API - Features /req/core/fc-limit-response-1 C: limit %s is no error; the maximum is used',
      async (_n, via, limit) => {
        const r =
          via === 'GET'
            ? await send('GET', `/search?collections=spec&limit=${limit}`)
            : await send('POST', '/search', { collections: ['spec'], limit });
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        expect(r.body.features).toHaveLength(MAX_LIMIT);
        expect(r.body.numberReturned).toBe(MAX_LIMIT);
        expect(r.body.links.some((l: { rel: string }) => l.rel === 'next')).toBe(true);
      },
    );
    it('fc-limit-response-1 A: a limit below the maximum is honoured', async () => {
      const r = await send('GET', '/search?collections=spec&limit=3');
      expect(r.body.features).toHaveLength(3);
    });
    const bad: [string, 'GET' | 'POST', unknown, RegExp][] = [
      ['0', 'GET', '0', /^limit must be a positive integer in decimal digits, got '0'$/],
      ['-1', 'GET', '-1', /^limit must be a positive integer in decimal digits, got '-1'$/],
      ['1.5', 'GET', '1.5', /^limit must be a positive integer in decimal digits, got '1\.5'$/],
      ['ten', 'GET', 'ten', /^limit must be a positive integer in decimal digits, got 'ten'$/],
      ['0 (JSON)', 'POST', 0, /^limit must be a positive integer in decimal digits, got 0$/],
      ['2.5 (JSON)', 'POST', 2.5, /^limit must be a positive integer in decimal digits, got 2\.5$/],
    ];
    it.each(bad)(
      'OGC API - Features §7.15.3 (limit: integer, minimum 1): %s -> 400',
      async (_n, via, limit, msg) => {
        const r =
          via === 'GET'
            ? await send('GET', `/search?limit=${limit}`)
            : await send('POST', '/search', { limit });
        expect(r.status).toBe(400);
        expect(r.body.code).toBe('InvalidParameterValue');
        expect(r.body.description).toMatch(msg);
      },
    );
  });

  describe('finding 8: values compare by the queryable type', () => {
    type Row = [name: string, query: Record<string, unknown>, expected: () => string[]];
    const query: Row[] = [
      [
        'gt "1" on an integer compares as 1',
        { 'sat:relative_orbit': { gt: '1' } },
        () => ids((p) => orbit(p) > 1),
      ],
      [
        'lt "5" on an integer compares as 5',
        { 'sat:relative_orbit': { lt: '5' } },
        () => ids((p) => orbit(p) < 5),
      ],
      [
        'gte "3" and lte "10" (two operators are ANDed)',
        { 'sat:relative_orbit': { gte: '3', lte: '10' } },
        () => ids((p) => orbit(p) >= 3 && orbit(p) <= 10),
      ],
      ['eq "12"', { 'sat:relative_orbit': { eq: '12' } }, () => ids((p) => orbit(p) === 12)],
      ['in ["1", "2", 3]', { 'sat:relative_orbit': { in: ['1', '2', 3] } }, () => ids((p) => orbit(p) <= 3)],
      [
        'gt "30.5" on a number',
        { 'view:incidence_angle': { gt: '30.5' } },
        () => ids((p) => (p['view:incidence_angle'] as number) > 30.5),
      ],
      [
        'eq 1 on a string queryable compares as "1"',
        { 'processing:level': { eq: 1 } },
        () => ids((p) => p['processing:level'] === '1'),
      ],
      [
        'in on an array matches when any element is in the list',
        { 'sar:polarizations': { in: ['VH'] } },
        () => ids((p) => pols(p)?.includes('VH') ?? false),
      ],
      [
        'in on an array with two values',
        { 'sar:polarizations': { in: ['HH', 'HV'] } },
        () => ids((p) => pols(p)?.some((x) => x === 'HH' || x === 'HV') ?? false),
      ],
      [
        'eq on an array matches when the array holds the value',
        { 'sar:polarizations': { eq: 'VV' } },
        () => ids((p) => pols(p)?.includes('VV') ?? false),
      ],
      [
        'neq on an array matches an array without the value (not an item without the property)',
        { 'sar:polarizations': { neq: 'VV' } },
        () => ids((p) => pols(p) !== null && !pols(p)?.includes('VV')),
      ],
    ];
    it.each(query)('Query extension §operators: %s', async (_n, q, expected) => {
      expect(await allIds({ query: q })).toEqual(expected());
    });

    const filters: Row[] = [
      [
        "sat:relative_orbit = '12' compares as 12",
        { filter: "sat:relative_orbit = '12'" },
        () => ids((p) => orbit(p) === 12),
      ],
      ["sat:relative_orbit > '9'", { filter: "sat:relative_orbit > '9'" }, () => ids((p) => orbit(p) > 9)],
      [
        "BETWEEN '3' AND '7'",
        { filter: "sat:relative_orbit BETWEEN '3' AND '7'" },
        () => ids((p) => orbit(p) >= 3 && orbit(p) <= 7),
      ],
      ["IN ('1', '2')", { filter: "sat:relative_orbit IN ('1', '2')" }, () => ids((p) => orbit(p) <= 2)],
      [
        "cql2-json: '30.5' < view:incidence_angle (literal on the left)",
        { filter: { op: '<', args: ['30.5', { property: 'view:incidence_angle' }] } },
        () => ids((p) => (p['view:incidence_angle'] as number) > 30.5),
      ],
      [
        "processing:level = 2 compares as '2'",
        { filter: 'processing:level = 2' },
        () => ids((p) => p['processing:level'] === '2'),
      ],
    ];
    it.each(filters)(
      'CQL2 comparison predicates, typed by the queryables: %s',
      async (_n, body, expected) => {
        expect(await allIds(body)).toEqual(expected());
      },
    );

    it("the query extension's array match is no CQL2 operator: a filter naming it is refused", async () => {
      const r = await send('POST', '/search', {
        filter: { op: 'sarbridge:any_in', args: [{ property: 'sar:polarizations' }, ['VV']] },
      });
      expect(r.status).toBe(400);
      expect(r.body.code).toBe('UnsupportedFilter');
    });

    const bad: [string, Record<string, unknown>, RegExp][] = [
      [
        "query gt 'abc' on an integer",
        { query: { 'sat:relative_orbit': { gt: 'abc' } } },
        /^query: sat:relative_orbit is an integer \(its queryable type\); 'abc' is not one/,
      ],
      [
        "query eq '1.5' on an integer (does not convert exactly)",
        { query: { 'sat:relative_orbit': { eq: '1.5' } } },
        /^query: sat:relative_orbit is an integer .*'1\.5' is not one/,
      ],
      [
        "query gt '0x10' on a number",
        { query: { 'view:incidence_angle': { gt: '0x10' } } },
        /^query: view:incidence_angle is a number .*'0x10' is not one/,
      ],
      [
        'query gt on an array',
        { query: { 'sar:polarizations': { gt: 'VV' } } },
        /^query\.sar:polarizations\.gt: sar:polarizations is an array; it takes eq, neq and in$/,
      ],
      [
        'query eq with an array value on an array',
        { query: { 'sar:polarizations': { eq: ['VV'] } } },
        /^query\.sar:polarizations\.eq: sar:polarizations is an array; eq takes one value/,
      ],
      [
        'query eq with an object',
        { query: { platform: { eq: { a: 1 } } } },
        /^query\.platform\.eq takes a single value/,
      ],
      [
        "filter sat:relative_orbit = 'abc'",
        { filter: "sat:relative_orbit = 'abc'" },
        /^filter: sat:relative_orbit is an integer \(its queryable type\); 'abc' is not one/,
      ],
      [
        "filter IN ('1', 'x')",
        { filter: "sat:relative_orbit IN ('1', 'x')" },
        /^filter: sat:relative_orbit is an integer .*'x' is not one/,
      ],
      [
        "filter sar:polarizations = 'VV' (an array)",
        { filter: "sar:polarizations = 'VV'" },
        /^filter: sar:polarizations is an array \(its queryable type\): = compares single values/,
      ],
      [
        'filter processing:level = true (a boolean is no string)',
        { filter: 'processing:level = true' },
        /^filter: processing:level is a string .*true is not one/,
      ],
    ];
    it.each(bad)(
      'bad input: %s -> 400 naming the parameter, the property and its type',
      async (_n, body, msg) => {
        const r = await send('POST', '/search', body);
        expect(r.status, JSON.stringify(r.body)).toBe(400);
        expect(r.body.code).toBe('InvalidParameterValue');
        expect(r.body.description).toMatch(msg);
      },
    );

    it('property: a number sent as text selects what the number selects (query and CQL2)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: -1, max: 14 }),
          fc.constantFrom('eq', 'neq', 'lt', 'lte', 'gt', 'gte'),
          async (n, op) => {
            const asText = await allIds({ query: { 'sat:relative_orbit': { [op]: String(n) } } });
            expect(asText).toEqual(await allIds({ query: { 'sat:relative_orbit': { [op]: n } } }));
            const sym = { eq: '=', neq: '<>', lt: '<', lte: '<=', gt: '>', gte: '>=' }[op];
            expect(await allIds({ filter: `sat:relative_orbit ${sym} '${n}'` })).toEqual(asText);
          },
        ),
        { numRuns: 15 },
      );
    });
  });

  describe('finding 10: a POST body holds each parameter in its JSON type', () => {
    const bad: [string, Record<string, unknown>, RegExp][] = [
      [
        'bbox as a string',
        { bbox: '1,2,3,4' },
        /^bbox must be a JSON array of 4 \(or 6\) numbers in a POST body, got the string '1,2,3,4'$/,
      ],
      ['bbox of 3 numbers', { bbox: [1, 2, 3] }, /^bbox must be 4 \(or 6\) numbers/],
      [
        'ids as a string',
        { ids: 'a,b' },
        /^ids must be a JSON array of strings in a POST body, got the string 'a,b'$/,
      ],
      [
        'collections as a string',
        { collections: 'spec' },
        /^collections must be a JSON array of strings in a POST body/,
      ],
      [
        'intersects as a string',
        { intersects: '{"type":"Point","coordinates":[0,0]}' },
        /^intersects must be a GeoJSON geometry object in a POST body, got the string/,
      ],
      [
        'limit as a string',
        { limit: '5' },
        /^limit must be a JSON integer in a POST body, got the string '5'$/,
      ],
      ['sortby as a string', { sortby: '-datetime' }, /^sortby must be a JSON array of .* in a POST body/],
      [
        'query as a string',
        { query: '{"platform":{"eq":"x"}}' },
        /^query must be a JSON object in a POST body, got the string/,
      ],
      [
        'datetime as a number',
        { datetime: 20240101 },
        /^datetime must be an RFC 3339 timestamp or interval$/,
      ],
      ['token as a number', { token: 5 }, /^token must be a string$/],
    ];
    it.each(bad)(
      'STAC API Item Search §Query Parameter Table: %s -> 400 naming it',
      async (_n, body, msg) => {
        const r = await send('POST', '/search', body);
        expect(r.status, JSON.stringify(r.body)).toBe(400);
        expect(r.body.code).toBe('InvalidParameterValue');
        expect(r.body.description).toMatch(msg);
      },
    );
    it('§Query Parameter Table: GET keeps the comma-separated text forms of bbox, ids and collections', async () => {
      const [w, s, e, n] = full.bbox as number[];
      const get = await send('GET', `/search?bbox=${w},${s},${e},${n}&ids=${full.id}&collections=spec`);
      expect(get.status, JSON.stringify(get.body)).toBe(200);
      const post = await send('POST', '/search', {
        bbox: [w, s, e, n],
        ids: [full.id],
        collections: ['spec'],
      });
      expect(post.status).toBe(200);
      expect(get.body.features.map((f: StacItem) => f.id)).toEqual([full.id]);
      expect(post.body.features.map((f: StacItem) => f.id)).toEqual([full.id]);
    });
  });
});
