import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogStore } from '../src/catalog/store.js';
import { tempDir } from './helpers/gdal.js';
import { catalogBackends } from './helpers/postgres.js';
import { testServer } from './helpers/server.js';
import { validateCollection as validateCollectionSchema, validateStacItem } from './helpers/stac.js';

// The STAC API Transaction extensions v1.0.0, as their texts say (README sections in the test names):
// items: https://github.com/stac-api-extensions/transaction (conformance
//   https://api.stacspec.org/v1.0.0/ogcapi-features/extensions/transaction);
// collections: https://github.com/stac-api-extensions/collection-transaction (conformance
//   https://api.stacspec.org/v1.0.0/collections/extensions/transaction).

const BASE = 'http://localhost';
const BODY_LIMIT = 64 * 1024;

type Doc = Record<string, unknown>;
interface Res {
  status: number;
  /** The JSON body ({} when there is none). */
  body: Doc;
  text: string;
  headers: Record<string, unknown>;
}

/** A partial Item as the extension's write bodies may be: no links, no assets, no collection. */
function partialItem(id: string | undefined, o: { lon?: number; props?: Doc } = {}): Doc {
  const lon = o.lon ?? 3;
  const doc: Doc = {
    type: 'Feature',
    stac_version: '1.0.0',
    geometry: {
      type: 'Polygon',
      coordinates: [
        [
          [lon, 51],
          [lon + 0.1, 51],
          [lon + 0.1, 51.05],
          [lon, 51.05],
          [lon, 51],
        ],
      ],
    },
    properties: { datetime: '2025-03-01T06:00:00Z', 'sar:instrument_mode': 'IW', ...o.props },
  };
  if (id !== undefined) doc.id = id;
  return doc;
}

/** A partial Collection: no links. */
function partialCollection(id: string | undefined, extra: Doc = {}): Doc {
  const doc: Doc = {
    type: 'Collection',
    stac_version: '1.0.0',
    description: `collection ${id}`,
    license: 'proprietary',
    extent: {
      spatial: { bbox: [[-10, 40, 20, 60]] },
      temporal: { interval: [['2025-01-01T00:00:00Z', null]] },
    },
    ...extra,
  };
  if (id !== undefined) doc.id = id;
  return doc;
}

const rels = (d: Doc) => ((d.links as { rel: string }[]) ?? []).map((l) => l.rel);

describe.each(catalogBackends())('STAC API Transaction extensions on $name', (backend) => {
  const tmp = tempDir('stac-tx-');
  let store: CatalogStore;
  let app: FastifyInstance;
  let server: Awaited<ReturnType<typeof testServer>>;
  let partnerKey = '';

  const send = async (
    method: string,
    url: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Res> => {
    const raw = typeof body === 'string' || body === undefined ? body : JSON.stringify(body);
    const r = await app.inject({
      method: method as 'GET',
      url,
      payload: raw,
      headers: {
        ...server.admin,
        ...(raw !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
    });
    return { status: r.statusCode, body: r.body.length ? r.json() : {}, text: r.body, headers: r.headers };
  };
  const get = (url: string) => send('GET', url);
  /** Mutations audited since `from` (the audit's seq), as `op resource`. */
  const audited = (from: number) =>
    server.access.services.audit
      .query({ action: 'mutation', afterSeq: from, limit: 1000 })
      .map((r) => `${r.detail.op} ${r.resource}`);
  const lastSeq = () => {
    const all = server.access.services.audit.query({ limit: 10_000 });
    return all.length ? all[all.length - 1].seq : 0;
  };

  beforeAll(async () => {
    store = await backend.open(tmp.dir);
    server = await testServer(store, { bodyLimit: BODY_LIMIT, assetRoot: tmp.dir });
    app = server.app;
    expect((await send('POST', '/collections', partialCollection('sar'))).status).toBe(201);
    // A partner organisation's analyst: reads what is released to it, writes nothing.
    const org = await send('POST', '/admin/organisations', {
      id: 'coastguard',
      kind: 'partner',
      codes: ['GBR', 'NATO'],
      clearance: [{ policy: 'NATO', classification: 'SECRET' }],
    });
    expect(org.status, JSON.stringify(org.body)).toBe(201);
    const u = await send('POST', '/admin/organisations/coastguard/users', {
      id: 'cg-analyst',
      roles: ['partner-analyst'],
    });
    expect(u.status, JSON.stringify(u.body)).toBe(201);
    const k = await send('POST', '/admin/principals/user:cg-analyst/keys', { name: 'ops' });
    expect(k.status).toBe(201);
    partnerKey = String(k.body.key);
  });
  afterAll(async () => {
    await server.close();
    await store.close();
    await backend.cleanup?.();
    tmp.cleanup();
  });

  describe('items', () => {
    it.each([
      ['no links, no assets, no collection', 'post-1', partialItem('post-1')],
      ['links: [] and assets: {}', 'post-2', { ...partialItem('post-2'), links: [], assets: {} }],
      [
        'a link of its own (kept) and a stale self link (replaced)',
        'post-3',
        {
          ...partialItem('post-3'),
          links: [
            { rel: 'via', href: 'https://example.org/src' },
            { rel: 'self', href: 'https://old.example/x' },
          ],
        },
      ],
    ])(
      'Transaction §POST (partial Item, %s): 201, Location of the new item, its content, collection from the URI',
      async (_name, id, body) => {
        const seq = lastSeq();
        const r = await send('POST', '/collections/sar/items', body);
        expect(r.status, JSON.stringify(r.body)).toBe(201);
        const self = `${BASE}/collections/sar/items/${id}`;
        expect(r.headers.location).toBe(self);
        expect(r.headers['content-type']).toMatch(/^application\/geo\+json/);
        expect(r.body.collection).toBe('sar');
        expect(r.body.assets).toEqual({});
        expect(validateStacItem(r.body as Doc)).toEqual([]);
        expect(rels(r.body).filter((x) => x === 'self')).toEqual(['self']);
        expect((r.body.links as { rel: string; href: string }[]).find((l) => l.rel === 'self')?.href).toBe(
          self,
        );
        const back = await get(`/collections/sar/items/${id}`);
        expect(back.status).toBe(200);
        expect(back.body).toEqual(r.body);
        expect(audited(seq)).toEqual([`create /collections/sar/items/${id}`]);
      },
    );

    it('Transaction §Methods (Content-Type application/json; GeoJSON is JSON): POST and PUT also take application/geo+json', async () => {
      const geo = { 'content-type': 'application/geo+json' };
      const r = await send('POST', '/collections/sar/items', partialItem('geo-1'), geo);
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      const put = await send('PUT', '/collections/sar/items/geo-1', partialItem(undefined, { lon: 6 }), geo);
      expect(put.status, JSON.stringify(put.body)).toBe(200);
      expect((put.body.bbox as number[])[0]).toBe(6);
      const patch = await send('PATCH', '/collections/sar/items/geo-1', { properties: { x: 1 } }, geo);
      expect(patch.status).toBe(415);
    });

    it.each([
      ['without an id ("Must have an id field")', partialItem(undefined), 400, /^\/id: /],
      ['with an id that exists ("Must return 409")', partialItem('post-1'), 409, /post-1/],
      ['into a collection that does not exist', partialItem('x-1'), 404, /collection 'nowhere'/],
    ])('Transaction §POST (partial Item) %s', async (name, body, status, message) => {
      const url = name.includes('does not exist') ? '/collections/nowhere/items' : '/collections/sar/items';
      const before = await get('/collections/sar/items/post-1');
      const r = await send('POST', url, body);
      expect(r.status, JSON.stringify(r.body)).toBe(status);
      expect(r.body.description).toMatch(message);
      expect(typeof r.body.code).toBe('string');
      expect((await get('/collections/sar/items/post-1')).body).toEqual(before.body);
    });

    it('Transaction §POST (partial ItemCollection): 201 without a Location header; every item gets the collection from the URI', async () => {
      const r = await send('POST', '/collections/sar/items', {
        type: 'FeatureCollection',
        features: [partialItem('bulk-1'), { ...partialItem('bulk-2', { lon: 4 }), collection: 'sar' }],
      });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      expect(r.headers.location).toBeUndefined();
      expect(r.body).toEqual({ status: 'created', added: 2 });
      for (const id of ['bulk-1', 'bulk-2']) {
        const it = await get(`/collections/sar/items/${id}`);
        expect(it.status).toBe(200);
        expect(it.body.collection).toBe('sar');
      }
    });

    it.each([
      [
        'an item that exists ("Must return 409 if an Item exists for any of the ... id values")',
        [partialItem('bulk-3'), partialItem('bulk-1')],
        409,
        /bulk-1/,
      ],
      ['an item without an id', [partialItem('bulk-4'), partialItem(undefined)], 400, /^\/features\/1\/id: /],
      [
        'an invalid geometry',
        [
          partialItem('bulk-5'),
          { ...partialItem('bulk-6'), geometry: { type: 'Point', coordinates: [500, 0] } },
        ],
        400,
        /^\/features\/1\/geometry\/coordinates: \[500, 0\] is outside/,
      ],
    ])(
      'Transaction §POST (partial ItemCollection) with %s: the error status, and none of its items created',
      async (_n, features, status, message) => {
        const r = await send('POST', '/collections/sar/items', { type: 'FeatureCollection', features });
        expect(r.status, JSON.stringify(r.body)).toBe(status);
        expect(r.body.description).toMatch(message);
        const first = (features[0] as Doc).id as string;
        expect((await get(`/collections/sar/items/${first}`)).status).toBe(404);
      },
    );

    it('Transaction §POST /collections/{collectionId}/bulk_items: 201 with the status and the number of items created', async () => {
      const r = await send('POST', '/collections/sar/bulk_items', {
        type: 'FeatureCollection',
        features: [partialItem('bi-1'), partialItem('bi-2'), partialItem('bi-3')],
      });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      expect(r.body).toEqual({ status: 'created', added: 3 });
      expect((await get('/collections/sar/items/bi-3')).body.collection).toBe('sar');
      const again = await send('POST', '/collections/sar/bulk_items', {
        type: 'FeatureCollection',
        features: [partialItem('bi-4'), partialItem('bi-1')],
      });
      expect(again.status).toBe(409);
      expect((await get('/collections/sar/items/bi-4')).status).toBe(404);
      const notBulk = await send('POST', '/collections/sar/bulk_items', partialItem('bi-5'));
      expect(notBulk.status).toBe(400);
      expect(notBulk.body.description).toMatch(/^\/type: must be "FeatureCollection"/);
    });

    it.each([
      ['without id and collection ("populate the id and collection fields ... from the URI")', {}],
      ['with the same id and collection as the URI', { id: 'put-1', collection: 'sar' }],
      ['with links but no assets', { links: [{ rel: 'license', href: 'https://example.org/l' }] }],
    ])(
      'Transaction §PUT %s: 200 with the content of the updated resource; the item is replaced, not merged',
      async (_n, extra) => {
        expect(
          (await send('POST', '/collections/sar/items', partialItem('put-1', { props: { old: 1 } }))).status,
        ).toBe(201);
        const seq = lastSeq();
        const body = {
          ...partialItem(undefined, { lon: 5, props: { 'sar:instrument_mode': 'EW' } }),
          ...extra,
        };
        const r = await send('PUT', '/collections/sar/items/put-1', body);
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        expect(r.body.id).toBe('put-1');
        expect(r.body.collection).toBe('sar');
        expect((r.body.properties as Doc)['sar:instrument_mode']).toBe('EW');
        expect((r.body.properties as Doc).old).toBeUndefined();
        expect(validateStacItem(r.body as Doc)).toEqual([]);
        expect(typeof r.headers.etag).toBe('string');
        expect((await get('/collections/sar/items/put-1')).body).toEqual(r.body);
        expect(audited(seq)).toEqual(['replace /collections/sar/items/put-1']);
        expect((await send('DELETE', '/collections/sar/items/put-1')).status).toBe(204);
      },
    );

    it.each([
      ['an id different from the URI', { id: 'other' }, 400, /^\/id: is "other" but the path says 'put-2'/],
      [
        'a collection different from the URI',
        { collection: 'elsewhere' },
        400,
        /^\/collection: is "elsewhere" but the path says 'sar'/,
      ],
      [
        'an invalid geometry',
        { geometry: { type: 'Polygon', coordinates: [] } },
        400,
        /^\/geometry\/coordinates: /,
      ],
      ['no properties', { properties: undefined }, 400, /^\/properties: must be an object/],
    ])(
      'Transaction §PUT with %s: 400 naming the field, and the item unchanged',
      async (_n, change, status, message) => {
        await send('POST', '/collections/sar/items', partialItem('put-2'));
        const before = await get('/collections/sar/items/put-2');
        expect(before.status).toBe(200);
        const r = await send('PUT', '/collections/sar/items/put-2', { ...partialItem('put-2'), ...change });
        expect(r.status, JSON.stringify(r.body)).toBe(status);
        expect(r.body.description).toMatch(message);
        expect((await get('/collections/sar/items/put-2')).body).toEqual(before.body);
      },
    );

    it.each([
      ['an item that does not exist', '/collections/sar/items/never', /item 'never' does not exist/],
      ['a collection that does not exist', '/collections/nowhere/items/never', /collection 'nowhere'/],
    ])(
      'Transaction §PUT of %s: 404 ("Must return 404 if no Item exists for this resource URI"), nothing created',
      async (_n, url, message) => {
        const r = await send('PUT', url, partialItem(undefined));
        expect(r.status, JSON.stringify(r.body)).toBe(404);
        expect(r.body.description).toMatch(message);
        expect((await get(url)).status).toBe(404);
      },
    );

    it.each([
      ['application/merge-patch+json'],
      ['application/merge-patch+json; charset=utf-8'],
      ['application/json'],
    ])(
      'Transaction §PATCH as %s (RFC 7396): members merged, null removes one, the rest kept; 200 with the updated item',
      async (type) => {
        await send(
          'POST',
          '/collections/sar/items',
          partialItem('patch-1', { props: { keep: 'k', drop: 'd' } }),
        );
        const seq = lastSeq();
        const r = await send(
          'PATCH',
          '/collections/sar/items/patch-1',
          { properties: { 'sar:instrument_mode': 'SM', drop: null } },
          { 'content-type': type },
        );
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        const props = r.body.properties as Doc;
        expect(props['sar:instrument_mode']).toBe('SM');
        expect(props.keep).toBe('k');
        expect('drop' in props).toBe(false);
        expect(props.datetime).toBe('2025-03-01T06:00:00Z');
        expect(r.body.geometry).toEqual(partialItem('x').geometry);
        expect(validateStacItem(r.body as Doc)).toEqual([]);
        expect((await get('/collections/sar/items/patch-1')).body).toEqual(r.body);
        expect(audited(seq)).toEqual(['patch /collections/sar/items/patch-1']);
        expect((await send('DELETE', '/collections/sar/items/patch-1')).status).toBe(204);
      },
    );

    it.each([
      [
        'a JSON Patch (RFC 6902, application/json-patch+json, optional in the extension)',
        [{ op: 'replace', path: '/properties/sar:instrument_mode', value: 'SM' }],
        'application/json-patch+json',
        415,
        /application\/json-patch\+json.*RFC 6902.*application\/merge-patch\+json or application\/json/,
      ],
      ['a text/plain body', 'mode=SM', 'text/plain', 415, /^Content-Type 'text\/plain' is not supported/],
      [
        'an id different from the URI',
        { id: 'other' },
        'application/merge-patch+json',
        400,
        /^\/id: is "other" but the path says 'patch-2'/,
      ],
      [
        'a collection different from the URI',
        { collection: 'elsewhere' },
        'application/merge-patch+json',
        400,
        /^\/collection: is "elsewhere"/,
      ],
      [
        'a JSON array sent as application/json',
        [{ op: 'remove', path: '/properties' }],
        'application/json',
        400,
        /^request body: must be a JSON object \(an RFC 7396 merge patch\), got an array/,
      ],
      [
        'a patch that removes the datetime',
        { properties: { datetime: null } },
        'application/merge-patch+json',
        400,
        /^\/properties\/datetime: /,
      ],
    ])(
      'Transaction §PATCH with %s: %i naming it, the item unchanged',
      async (_n, body, type, status, message) => {
        await send('POST', '/collections/sar/items', partialItem('patch-2'));
        const before = await get('/collections/sar/items/patch-2');
        const r = await send('PATCH', '/collections/sar/items/patch-2', body, { 'content-type': type });
        expect(r.status, JSON.stringify(r.body)).toBe(status);
        expect(r.body.description).toMatch(message);
        expect(r.headers['accept-patch']).toBe('application/merge-patch+json, application/json');
        expect((await get('/collections/sar/items/patch-2')).body).toEqual(before.body);
      },
    );

    it('Transaction §PATCH of an item that does not exist: 404', async () => {
      const r = await send('PATCH', '/collections/sar/items/never', { properties: { x: 1 } });
      expect(r.status).toBe(404);
      expect(r.body.description).toMatch(/item 'never' does not exist/);
    });

    it('Transaction §DELETE: 204, then the item is gone; a second DELETE is 404 ("May return a 404")', async () => {
      await send('POST', '/collections/sar/items', partialItem('del-1'));
      const seq = lastSeq();
      const r = await send('DELETE', '/collections/sar/items/del-1');
      expect(r.status).toBe(204);
      expect(r.text).toBe('');
      expect((await get('/collections/sar/items/del-1')).status).toBe(404);
      expect(audited(seq)).toEqual(['delete /collections/sar/items/del-1']);
      expect((await send('DELETE', '/collections/sar/items/del-1')).status).toBe(404);
    });

    it('Transaction §Overview (optimistic locking with the ETag header): If-Match with the current tag succeeds, a stale one is 412', async () => {
      const created = await send('POST', '/collections/sar/items', partialItem('lock-1'));
      const tag0 = String(created.headers.etag);
      expect(tag0).toMatch(/^"[A-Za-z0-9_-]+"$/);
      // The GET of the item carries the same tag (the extension's OpenAPI: ETag on GET, PUT, PATCH).
      expect((await get('/collections/sar/items/lock-1')).headers.etag).toBe(tag0);
      const patched = await send(
        'PATCH',
        '/collections/sar/items/lock-1',
        { properties: { n: 1 } },
        { 'if-match': tag0 },
      );
      expect(patched.status, JSON.stringify(patched.body)).toBe(200);
      const tag1 = String(patched.headers.etag);
      expect(tag1).not.toBe(tag0);
      expect((await get('/collections/sar/items/lock-1')).headers.etag).toBe(tag1);
      for (const [method, body] of [
        ['PATCH', { properties: { n: 2 } }],
        ['PUT', partialItem(undefined)],
        ['DELETE', undefined],
      ] as const) {
        const stale = await send(method, '/collections/sar/items/lock-1', body, { 'if-match': tag0 });
        expect(stale.status, `${method}: ${JSON.stringify(stale.body)}`).toBe(412);
        expect(stale.body.code).toBe('PreconditionFailed');
        expect(stale.body.description).toMatch(/^If-Match: /);
      }
      expect(((await get('/collections/sar/items/lock-1')).body.properties as Doc).n).toBe(1);
      expect(
        (
          await send('PUT', '/collections/sar/items/lock-1', partialItem(undefined), {
            'if-match': `"x", ${tag1}`,
          })
        ).status,
      ).toBe(200);
      expect(
        (await send('DELETE', '/collections/sar/items/lock-1', undefined, { 'if-match': '*' })).status,
      ).toBe(204);
    });
  });

  describe('collections', () => {
    it("Collection Transaction §POST (partial Collection, no links): 201, Location, the collection with the server's links", async () => {
      const seq = lastSeq();
      const r = await send('POST', '/collections', partialCollection('c-post'));
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      expect(r.headers.location).toBe(`${BASE}/collections/c-post`);
      expect(rels(r.body)).toEqual(expect.arrayContaining(['self', 'root', 'parent', 'items']));
      expect(validateCollectionSchema(r.body as Doc)).toEqual([]);
      expect((await get('/collections/c-post')).body).toEqual(r.body);
      expect(audited(seq)).toEqual(['create /collections/c-post']);
    });

    it.each([
      ['without an id ("Must have an id field")', partialCollection(undefined), 400, /^\/id: /],
      [
        'with an id that exists ("Must return 409")',
        partialCollection('sar'),
        409,
        /collection 'sar' exists/,
      ],
      [
        'with links that are not links',
        partialCollection('c-bad', { links: [{ rel: 'x' }] }),
        400,
        /^\/links\/0\/href: /,
      ],
    ])('Collection Transaction §POST %s', async (_n, body, status, message) => {
      const r = await send('POST', '/collections', body);
      expect(r.status, JSON.stringify(r.body)).toBe(status);
      expect(r.body.description).toMatch(message);
      expect((await get('/collections/c-bad')).status).toBe(404);
    });

    it('Collection Transaction §POST (partial list of Collections): 201 without a Location header; 409 when any exists, none created', async () => {
      const r = await send('POST', '/collections', {
        collections: [partialCollection('c-list-1'), partialCollection('c-list-2')],
      });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      expect(r.headers.location).toBeUndefined();
      expect(r.body).toEqual({ status: 'created', added: 2 });
      expect((await get('/collections/c-list-2')).status).toBe(200);
      const again = await send('POST', '/collections', {
        collections: [partialCollection('c-list-3'), partialCollection('c-list-1')],
      });
      expect(again.status).toBe(409);
      expect((await get('/collections/c-list-3')).status).toBe(404);
      const bad = await send('POST', '/collections', { collections: [partialCollection('c-list-4'), {}] });
      expect(bad.status).toBe(400);
      expect(bad.body.description).toMatch(/^\/collections\/1\/type: /);
    });

    it.each([
      ['without an id ("Must populate the id field in the Collection from the URI")', {}],
      ["with the URI's id", { id: 'c-put' }],
    ])(
      'Collection Transaction §PUT %s: 200 with the content of the updated resource, replaced not merged',
      async (_n, extra) => {
        await send('POST', '/collections', partialCollection('c-put', { title: 'old title' }));
        const seq = lastSeq();
        const r = await send('PUT', '/collections/c-put', {
          ...partialCollection(undefined, { description: 'replaced' }),
          ...extra,
        });
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        expect(r.body.id).toBe('c-put');
        expect(r.body.description).toBe('replaced');
        expect(r.body.title).toBeUndefined();
        expect(validateCollectionSchema(r.body as Doc)).toEqual([]);
        expect(typeof r.headers.etag).toBe('string');
        expect((await get('/collections/c-put')).body).toEqual(r.body);
        expect(audited(seq)).toEqual(['replace /collections/c-put']);
        expect((await send('DELETE', '/collections/c-put')).status).toBe(204);
      },
    );

    it.each([
      [
        'an id different from the URI',
        '/collections/sar',
        { id: 'other' },
        400,
        /^\/id: is "other" but the path says 'sar'/,
      ],
      [
        'a collection that does not exist ("Must return 404 if no Collection exists")',
        '/collections/c-never',
        {},
        404,
        /collection 'c-never' does not exist/,
      ],
      ['no extent', '/collections/sar', { extent: undefined }, 400, /^\/extent: /],
    ])('Collection Transaction §PUT with %s', async (_n, url, change, status, message) => {
      const before = await get('/collections/sar');
      const r = await send('PUT', url, { ...partialCollection(undefined), ...change });
      expect(r.status, JSON.stringify(r.body)).toBe(status);
      expect(r.body.description).toMatch(message);
      expect((await get('/collections/sar')).body).toEqual(before.body);
      expect((await get('/collections/c-never')).status).toBe(404);
    });

    it('Transaction §POST/§PUT/§PATCH and Collection Transaction §PUT/§PATCH: the content returned is the resource as its GET shows it (titles, summaries)', async () => {
      await send('POST', '/collections', partialCollection('c-same', { title: 'Titled collection' }));
      const posted = await send('POST', '/collections/c-same/items', partialItem('same-1'));
      expect(posted.status, JSON.stringify(posted.body)).toBe(201);
      const titles = (d: Doc) =>
        (d.links as { rel: string; title?: string }[]).map((l) => `${l.rel}:${l.title}`);
      expect(titles(posted.body)).toContain('collection:Titled collection');
      expect(posted.body).toEqual((await get('/collections/c-same/items/same-1')).body);
      const put = await send('PUT', '/collections/c-same/items/same-1', partialItem(undefined, { lon: 7 }));
      expect(put.body).toEqual((await get('/collections/c-same/items/same-1')).body);
      const patched = await send('PATCH', '/collections/c-same/items/same-1', { properties: { n: 1 } });
      expect(patched.body).toEqual((await get('/collections/c-same/items/same-1')).body);
      const cpatch = await send('PATCH', '/collections/c-same', { description: 'now' });
      expect(cpatch.status).toBe(200);
      const cget = (await get('/collections/c-same')).body;
      expect(cget.summaries, 'the collection has summaries of its item').toBeDefined();
      expect(cpatch.body).toEqual(cget);
      const cput = await send('PUT', '/collections/c-same', partialCollection(undefined, { title: 'T2' }));
      expect(cput.body).toEqual((await get('/collections/c-same')).body);
      expect((await send('DELETE', '/collections/c-same')).status).toBe(204);
    });

    it.each([
      ['application/merge-patch+json', 200],
      ['application/json', 200],
      ['application/json-patch+json', 415],
    ])('Collection Transaction §PATCH as %s', async (type, status) => {
      await send('POST', '/collections', partialCollection('c-patch', { title: 'T', keywords: ['a'] }));
      const r = await send(
        'PATCH',
        '/collections/c-patch',
        { description: 'patched', keywords: null },
        {
          'content-type': type,
        },
      );
      expect(r.status, JSON.stringify(r.body)).toBe(status);
      const now = (await get('/collections/c-patch')).body as Doc;
      if (status === 200) {
        expect(r.body).toEqual(now);
        expect(now.description).toBe('patched');
        expect(now.title).toBe('T');
        expect('keywords' in now).toBe(false);
      } else {
        expect(r.body.description).toMatch(/application\/merge-patch\+json or application\/json/);
        expect(now.description).toBe('collection c-patch');
      }
      expect((await send('DELETE', '/collections/c-patch')).status).toBe(204);
    });

    it.each([
      ['an id different from the URI', { id: 'other' }, 400, /^\/id: is "other" but the path says 'sar'/],
      ['a license that is not a string', { license: 3 }, 400, /^\/license: /],
    ])('Collection Transaction §PATCH with %s', async (_n, body, status, message) => {
      const before = await get('/collections/sar');
      const r = await send('PATCH', '/collections/sar', body, {
        'content-type': 'application/merge-patch+json',
      });
      expect(r.status, JSON.stringify(r.body)).toBe(status);
      expect(r.body.description).toMatch(message);
      expect((await get('/collections/sar')).body).toEqual(before.body);
    });

    it('Collection Transaction §PATCH and §DELETE of a collection that does not exist: 404', async () => {
      expect((await send('PATCH', '/collections/c-never', { title: 'x' })).status).toBe(404);
      expect((await send('DELETE', '/collections/c-never')).status).toBe(404);
    });

    it('Collection Transaction §DELETE: 204, and the collection and its items are gone', async () => {
      await send('POST', '/collections', partialCollection('c-del'));
      await send('POST', '/collections/c-del/items', partialItem('in-del'));
      const seq = lastSeq();
      const r = await send('DELETE', '/collections/c-del');
      expect(r.status).toBe(204);
      expect((await get('/collections/c-del')).status).toBe(404);
      expect((await get('/collections/c-del/items/in-del')).status).toBe(404);
      expect(audited(seq)).toEqual(['delete /collections/c-del']);
    });
  });

  describe('bad input and authority', () => {
    const big = {
      ...partialItem('big-1'),
      properties: { datetime: '2025-03-01T06:00:00Z', pad: 'x'.repeat(BODY_LIMIT) },
    };
    it.each([
      [
        'malformed JSON',
        'POST',
        '/collections/sar/items',
        '{"type": "Feature",',
        {},
        400,
        /^request body: not valid JSON/,
      ],
      ['an empty JSON body', 'POST', '/collections/sar/items', '', {}, 400, /^request body: is empty/],
      [
        'a JSON string',
        'PUT',
        '/collections/sar/items/post-1',
        '"Feature"',
        {},
        400,
        /^\/: an item must be a JSON object/,
      ],
      [
        'malformed merge patch',
        'PATCH',
        '/collections/sar/items/post-1',
        '{"properties": ',
        { 'content-type': 'application/merge-patch+json' },
        400,
        /^request body: not valid JSON/,
      ],
      [
        'a __proto__ member',
        'POST',
        '/collections/sar/items',
        '{"type": "Feature", "__proto__": {"polluted": 1}}',
        {},
        400,
        /^request body: a member named "__proto__"/,
      ],
      [
        'Content-Type text/plain',
        'POST',
        '/collections/sar/items',
        JSON.stringify(partialItem('ct-1')),
        { 'content-type': 'text/plain' },
        415,
        /^Content-Type 'text\/plain' is not supported: POST takes application\/json or application\/geo\+json/,
      ],
      [
        'Content-Type application/merge-patch+json on POST',
        'POST',
        '/collections',
        JSON.stringify(partialCollection('ct-2')),
        { 'content-type': 'application/merge-patch+json' },
        415,
        /^Content-Type 'application\/merge-patch\+json' is not supported: POST takes/,
      ],
      [
        'Content-Type application/xml on PUT',
        'PUT',
        '/collections/sar',
        '<Collection/>',
        { 'content-type': 'application/xml' },
        415,
        /^Content-Type 'application\/xml' is not supported: PUT takes/,
      ],
      [
        'a body above the limit',
        'POST',
        '/collections/sar/items',
        JSON.stringify(big),
        {},
        413,
        /too large/i,
      ],
      [
        'an item without a geometry',
        'POST',
        '/collections/sar/items',
        JSON.stringify({ ...partialItem('g-1'), geometry: undefined }),
        {},
        400,
        /^\/geometry: must be a GeoJSON geometry object/,
      ],
      [
        'an unclosed ring',
        'POST',
        '/collections/sar/items',
        JSON.stringify({
          ...partialItem('g-2'),
          geometry: {
            type: 'Polygon',
            coordinates: [
              [
                [0, 0],
                [1, 0],
                [1, 1],
                [0, 1],
              ],
            ],
          },
        }),
        {},
        400,
        /^\/geometry\/coordinates\/0: is not a closed ring/,
      ],
      [
        'a bad datetime',
        'POST',
        '/collections/sar/items',
        JSON.stringify(partialItem('g-3', { props: { datetime: 'yesterday' } })),
        {},
        400,
        /^\/properties\/datetime: must be an RFC 3339 timestamp/,
      ],
      [
        'an asset whose href leaves the asset storage',
        'POST',
        '/collections/sar/items',
        JSON.stringify({ ...partialItem('g-4'), assets: { data: { href: '../../etc/passwd' } } }),
        {},
        400,
        /^\/assets\/data\/href: /,
      ],
      [
        'links that are not an array',
        'POST',
        '/collections/sar/items',
        JSON.stringify({ ...partialItem('g-5'), links: {} }),
        {},
        400,
        /^\/links: must be an array of links/,
      ],
    ])(
      '%s: %s %s is %i with a JSON body naming it',
      async (_n, method, url, body, headers, status, message) => {
        const r = await send(method, url, body, headers as Record<string, string>);
        expect(r.status, JSON.stringify(r.body)).toBe(status);
        expect(r.headers['content-type']).toMatch(/^application\/json/);
        expect(typeof r.body.code).toBe('string');
        expect(r.body.description).toMatch(message);
        expect(({} as Doc).polluted).toBeUndefined();
        for (const id of ['ct-1', 'big-1', 'g-1', 'g-2', 'g-3', 'g-4', 'g-5'])
          expect((await get(`/collections/sar/items/${id}`)).status).toBe(404);
      },
    );

    it('a body without a Content-Type: 415 naming the header and the types POST takes', async () => {
      const r = await app.inject({
        method: 'POST',
        url: '/collections/sar/items',
        payload: Buffer.from(JSON.stringify(partialItem('ct-3'))),
        headers: { ...server.admin },
      });
      expect(r.statusCode, r.body).toBe(415);
      expect(r.json().description).toMatch(
        /^Content-Type is missing: POST takes application\/json or application\/geo\+json/,
      );
      expect((await get('/collections/sar/items/ct-3')).status).toBe(404);
    });

    it.each([
      ['POST', '/collections', partialCollection('p-c')],
      ['PUT', '/collections/sar', partialCollection(undefined)],
      ['PATCH', '/collections/sar', { description: 'x' }],
      ['DELETE', '/collections/sar', undefined],
      ['POST', '/collections/sar/items', partialItem('p-1')],
      ['POST', '/collections/sar/bulk_items', { type: 'FeatureCollection', features: [partialItem('p-2')] }],
      ['PUT', '/collections/sar/items/post-1', partialItem(undefined)],
      ['PATCH', '/collections/sar/items/post-1', { properties: { x: 1 } }],
      ['DELETE', '/collections/sar/items/post-1', undefined],
    ])(
      "a partner's %s %s is 403 and changes nothing (the writes are the provider's)",
      async (method, url, body) => {
        const now = async () => [
          (await get('/collections/sar')).body,
          (await get('/collections/sar/items/post-1')).body,
        ];
        const before = await now();
        const seq = lastSeq();
        const r = await send(method, url, body, { authorization: `Bearer ${partnerKey}` });
        expect(r.status, JSON.stringify(r.body)).toBe(403);
        expect(r.body.code).toBe('Forbidden');
        expect(await now()).toEqual(before);
        expect((await get('/collections/p-c')).status).toBe(404);
        expect(audited(seq)).toEqual([]);
      },
    );
  });
});
