import { join, relative } from 'node:path';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteCatalog } from '../src/catalog/sqlite/store.js';
import { syntheticCollection } from '../src/catalog/synthetic.js';
import { lonLatBounds } from '../src/geo/crs.js';
import { bboxPolygon } from '../src/geo/geojson.js';
import { simulateScene } from '../src/ops/simulate-scene.js';
import { tempDir } from './helpers/gdal.js';
import { testServer } from './helpers/server.js';

/**
 * Issue 12, "Bad input": whatever a client sends to a read route, the answer is never a 5xx, and a
 * 4xx has a JSON body {code, description}. Parameters get values that clients and people really
 * send wrong: empty, blanks, NaN, huge numbers, JSON fragments, wrong separators, Unicode.
 */
const tmp = tempDir('http-fuzz-');
let store: SqliteCatalog;
let app: FastifyInstance;
let server: Awaited<ReturnType<typeof testServer>>;

const ODD = [
  '',
  ' ',
  '0',
  '-1',
  '1',
  '10',
  '1e309',
  'NaN',
  'Infinity',
  '0x10',
  '1,2',
  '1,2,3,4',
  '-180,-90,180,90',
  '200,0,10,10',
  '1,2,3,4,5',
  'a,b',
  ',',
  '..',
  '../..',
  '2026-06-01',
  '2026-06-01T06:00:00Z',
  '2026-06-01T06:00:00Z/..',
  '2026-13-45T99:00:00Z',
  '{',
  '{}',
  '[]',
  'null',
  '{"op":"=","args":[{"property":"platform"},1]}',
  "platform = 'x'",
  "sat:relative_orbit > 'abc'",
  'sar:polarizations = VV',
  '-datetime',
  '+id,-datetime',
  '-',
  '%',
  '\u00e9\u6f22\u{1f6f0}',
  'x'.repeat(600),
  'sim',
  'scene-1',
  'data',
  'WebMercatorQuad',
  'WorldCRS84Quad',
  'html',
  'json',
  'viridis',
  'nearest',
];
const PARAMS = [
  'bbox',
  'datetime',
  'limit',
  'ids',
  'collections',
  'filter',
  'filter-lang',
  'sortby',
  'fields',
  'query',
  'token',
  'intersects',
  'f',
  'rescale',
  'colormap',
  'resampling',
  'bidx',
  'max_size',
  'assets',
  'tileMatrixSetId',
];
const ODD_SEGMENT = fc.constantFrom(
  'missing',
  '..',
  '%2e%2e',
  '0',
  '-1',
  '99999999',
  'x y',
  '',
  '1.5',
  '1e3',
);
/** Path segments by position: mostly ones that exist (so the deep routes are reached), some odd. */
const SEGMENTS = fc.tuple(
  fc.oneof({ arbitrary: fc.constant('sim'), weight: 4 }, ODD_SEGMENT),
  fc.oneof({ arbitrary: fc.constantFrom('scene-1', 'WorldCRS84Quad', '8', '12'), weight: 4 }, ODD_SEGMENT),
  fc.oneof({ arbitrary: fc.constantFrom('data', '2', '3', '7', '130', '-3.2'), weight: 4 }, ODD_SEGMENT),
  fc.oneof({ arbitrary: fc.constantFrom('1', '4', '50', '1000', '44.1'), weight: 4 }, ODD_SEGMENT),
  fc.oneof({ arbitrary: fc.constantFrom('1', '2', '1000', '5000'), weight: 4 }, ODD_SEGMENT),
);
const PATHS: ((s: string[]) => string)[] = [
  () => '/',
  () => '/api',
  () => '/conformance',
  () => '/queryables',
  () => '/collections',
  () => '/search',
  (s) => `/collections/${s[0]}`,
  (s) => `/collections/${s[0]}/items`,
  (s) => `/collections/${s[0]}/items/${s[1]}`,
  (s) => `/collections/${s[0]}/queryables`,
  (s) => `/collections/${s[0]}/items/${s[1]}/tilejson.json`,
  (s) => `/collections/${s[0]}/items/${s[1]}/preview.png`,
  (s) => `/collections/${s[0]}/items/${s[1]}/point/${s[2]},${s[3]}`,
  (s) => `/collections/${s[0]}/items/${s[1]}/assets/${s[2]}`,
  (s) => `/collections/${s[0]}/items/${s[1]}/WMTSCapabilities.xml`,
  (s) => `/collections/${s[0]}/WMTSCapabilities.xml`,
  (s) => `/collections/${s[0]}/map/tiles`,
  (s) => `/collections/${s[0]}/map/tiles/${s[1]}`,
  (s) => `/collections/${s[0]}/map/tiles/WorldCRS84Quad/${s[1]}/${s[2]}/${s[3]}`,
  (s) => `/tiles/${s[0]}/${s[1]}/data/WebMercatorQuad/${s[2]}/${s[3]}/${s[4]}.png`,
  (s) => `/tileMatrixSets/${s[0]}`,
];

beforeAll(async () => {
  const scene = await simulateScene(join(tmp.dir, 'scene'), {
    seed: 3,
    size: 256,
    ships: 2,
    dates: ['2026-06-01T06:00:00Z'],
  });
  const bbox = lonLatBounds(scene.epsg, scene.geoTransform, scene.size, scene.size);
  store = new SqliteCatalog(join(tmp.dir, 'c.db'));
  server = await testServer(store, { assetRoot: tmp.dir, corsOrigins: ['https://app.example.org'] });
  app = server.app;
  const headers = server.admin;
  await app.inject({ method: 'POST', url: '/collections', payload: syntheticCollection('sim'), headers });
  const r = await app.inject({
    method: 'POST',
    url: '/collections/sim/items',
    headers,
    payload: {
      type: 'Feature',
      stac_version: '1.0.0',
      id: 'scene-1',
      geometry: bboxPolygon(bbox as [number, number, number, number]),
      bbox,
      properties: { datetime: '2026-06-01T06:00:00Z', platform: 'sim', 'sar:polarizations': ['VV'] },
      assets: {
        data: {
          href: relative(tmp.dir, scene.scenes[0].path),
          type: 'image/tiff; application=geotiff; profile=cloud-optimized',
          roles: ['data'],
        },
      },
    },
  });
  expect(r.statusCode, r.body).toBe(201);
}, 120_000);
afterAll(async () => {
  await server.close();
  await store.close();
  tmp.cleanup();
});

/** A 4xx must explain itself in JSON (the XML and image routes too: their errors are JSON). */
function expectClientAnswer(status: number, body: string, contentType: string | undefined, what: string) {
  expect(status, `${what} -> ${status} ${body.slice(0, 300)}`).toBeLessThan(500);
  if (status >= 400 && status !== 405) {
    expect(contentType, what).toMatch(/json/);
    const doc = JSON.parse(body) as { code?: unknown; description?: unknown };
    expect(typeof doc.code, `${what}: ${body}`).toBe('string');
    expect(typeof doc.description, `${what}: ${body}`).toBe('string');
  }
}

describe('issue 12 bad input: no 5xx from any client request', () => {
  it('GET of every read route with random parameters answers 2xx-4xx, every 4xx a JSON {code, description}', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: PATHS.length - 1 }),
        SEGMENTS,
        fc.array(fc.tuple(fc.constantFrom(...PARAMS), fc.constantFrom(...ODD)), { maxLength: 4 }),
        fc.constantFrom('application/json', 'text/html', '*/*', 'image/png', 'application/xml', ''),
        async (p, segs, params, accept) => {
          const q = new URLSearchParams(params).toString();
          const url = `${PATHS[p](segs.map(encodeURIComponent))}${q ? `?${q}` : ''}`;
          const r = await app.inject({
            url,
            headers: { ...server.admin, ...(accept ? { accept } : {}) },
          });
          expectClientAnswer(r.statusCode, r.body, r.headers['content-type'] as string, `GET ${url}`);
        },
      ),
      { numRuns: 1500, seed: 12 },
    );
  }, 240_000);

  it('POST /search with random JSON bodies answers 200 or a 400 naming what is wrong', async () => {
    const value = fc.oneof(
      fc.constantFrom(...ODD),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.oneof(fc.constantFrom(...ODD), fc.double()), { maxLength: 6 }),
      fc.dictionary(
        fc.constantFrom('include', 'exclude', 'eq', 'lt', 'in', 'op', 'args', 'type'),
        fc.jsonValue(),
        {
          maxKeys: 3,
        },
      ),
    );
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.constantFrom(...PARAMS), value, { maxKeys: 5 }), async (body) => {
        const r = await app.inject({ method: 'POST', url: '/search', payload: body, headers: server.admin });
        expectClientAnswer(
          r.statusCode,
          r.body,
          r.headers['content-type'] as string,
          `POST /search ${JSON.stringify(body)}`,
        );
        if (r.statusCode >= 400) expect(r.statusCode).toBe(400);
      }),
      { numRuns: 600, seed: 12 },
    );
  }, 240_000);

  it('preflights and other methods on random paths never answer 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: PATHS.length - 1 }),
        SEGMENTS,
        fc.constantFrom('OPTIONS', 'HEAD', 'DELETE', 'PUT', 'PATCH', 'POST'),
        fc.constantFrom('https://app.example.org', 'https://evil.example', 'null', ''),
        async (p, segs, method, origin) => {
          const url = PATHS[p](segs.map(encodeURIComponent));
          const r = await app.inject({
            method: method as 'GET',
            url,
            headers: {
              ...server.admin,
              ...(origin ? { origin, 'access-control-request-method': 'GET' } : {}),
              'content-type': 'application/json',
            },
            payload: method === 'OPTIONS' || method === 'HEAD' || method === 'DELETE' ? undefined : '{"x":',
          });
          expect(r.statusCode, `${method} ${url} -> ${r.body.slice(0, 200)}`).toBeLessThan(500);
        },
      ),
      { numRuns: 300, seed: 12 },
    );
  }, 240_000);
});
