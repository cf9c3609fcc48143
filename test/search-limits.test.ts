import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_FILTER_DEPTH,
  MAX_FILTER_LENGTH,
  MAX_FILTER_NODES,
  MAX_GEOMETRY_POSITIONS,
  MAX_IN_VALUES,
  MAX_LOGICAL_ARGS,
} from '../src/catalog/cql2/ast.js';
import {
  BadParameterError,
  MAX_COLLECTIONS,
  MAX_FIELDS,
  MAX_IDS,
  MAX_INTERSECTS_POSITIONS,
  parseSearch,
  SearchLimitError,
} from '../src/catalog/search-params.js';
import type { CatalogStore } from '../src/catalog/store.js';
import { syntheticCollection, syntheticItems } from '../src/catalog/synthetic.js';
import { tempDir } from './helpers/gdal.js';
import { catalogBackends } from './helpers/postgres.js';
import { testServer } from './helpers/server.js';

/**
 * Search inputs past the size limits answer 400 naming the limit (they used to reach the stores and
 * fail there: SQLite's 32,766 variables and expression depth of 1,000, PostgreSQL's 65,535
 * parameters); malformed integers are refused instead of read as hex or exponents. Each row is
 * checked at the parse level (error class and message) and through the real server on both stores.
 */

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const ids = (n: number) => range(n).map((i) => `item-${i}`);
const eq = (i: number) => ({ op: '=', args: [{ property: 'sat:relative_orbit' }, i] });
/** A closed ring of n positions around (10, 10), radius 1 degree. */
const ring = (n: number) => {
  const pts = range(n - 1).map((i) => {
    const a = (2 * Math.PI * i) / (n - 1);
    return [10 + Math.cos(a), 10 + Math.sin(a)];
  });
  return [...pts, pts[0]];
};
/** NOT nested n times around a comparison: n + 1 levels of operations. */
const nots = (n: number) => {
  let e: unknown = eq(1);
  for (let i = 0; i < n; i++) e = { op: 'not', args: [e] };
  return e;
};
/** and(args) whose first argument is again such an and, `levels` deep. */
const nestedAnd = (levels: number, width: number): unknown =>
  levels === 0
    ? eq(1)
    : { op: 'and', args: [nestedAnd(levels - 1, width), ...range(width - 1).map((i) => eq(i))] };

type Via = 'GET' | 'POST';
type Row = [
  name: string,
  via: Via,
  raw: Record<string, unknown>,
  cls: typeof BadParameterError | typeof SearchLimitError,
  msg: RegExp,
];

const overLimit: Row[] = [
  ['ids (POST)', 'POST', { ids: ids(33_000) }, SearchLimitError, /^ids: at most 5000 values, got 33000$/],
  [
    'ids (GET)',
    'GET',
    { ids: ids(MAX_IDS + 1).join(',') },
    SearchLimitError,
    /^ids: at most 5000 values, got 5001$/,
  ],
  [
    'collections',
    'POST',
    { collections: ids(33_000) },
    SearchLimitError,
    /^collections: at most 1000 values, got 33000$/,
  ],
  [
    'in values (JSON)',
    'POST',
    { filter: { op: 'in', args: [{ property: 'platform' }, ids(33_000)] } },
    SearchLimitError,
    /^filter: in: at most 5000 values, got 33000$/,
  ],
  [
    'in values (text)',
    'POST',
    { filter: `sat:relative_orbit IN (${range(6000).join(',')})` },
    SearchLimitError,
    /^filter: in: at most 5000 values, got 6000$/,
  ],
  [
    'and arguments (JSON)',
    'POST',
    { filter: { op: 'and', args: range(1000).map(eq) } },
    SearchLimitError,
    /^filter: and: at most 256 arguments, got 1000$/,
  ],
  [
    'or arguments (text)',
    'GET',
    {
      filter: range(1000)
        .map((i) => `sat:relative_orbit = ${i}`)
        .join(' OR '),
    },
    SearchLimitError,
    /^filter: or: at most 256 arguments, got 1000$/,
  ],
  [
    'nesting depth (JSON)',
    'POST',
    { filter: nots(150) },
    SearchLimitError,
    /^filter: (\/args\/0)+ nests deeper than 100 levels$/,
  ],
  [
    'nesting depth (text parentheses)',
    'GET',
    { filter: `${'('.repeat(5000)}platform = 'x'${')'.repeat(5000)}` },
    SearchLimitError,
    /^filter: the filter nests deeper than 100 levels at position 100$/,
  ],
  [
    'nesting depth (text arithmetic chain)',
    'GET',
    { filter: `sat:relative_orbit = ${range(200).join(' + ')}` },
    SearchLimitError,
    /^filter: the filter nests deeper than 100 levels$/,
  ],
  [
    'nodes',
    'POST',
    {
      filter: {
        op: 'and',
        args: range(200).map(() => ({ op: 'in', args: [{ property: 'platform' }, ids(60)] })),
      },
    },
    SearchLimitError,
    // 1 and + 200 x (in, property, list, 60 values).
    /^filter: at most 10000 nodes, got 12601$/,
  ],
  [
    'filter text length',
    'POST',
    { filter: `platform = '${'x'.repeat(MAX_FILTER_LENGTH)}'` },
    SearchLimitError,
    /^filter: at most 100000 characters, got 100013$/,
  ],
  [
    'filter JSON text length',
    'GET',
    {
      'filter-lang': 'cql2-json',
      filter: JSON.stringify({ op: '=', args: [{ property: 'p' }, 'x'.repeat(MAX_FILTER_LENGTH)] }),
    },
    SearchLimitError,
    /^filter: at most 100000 characters, got 100039$/,
  ],
  [
    'filter geometry positions',
    'POST',
    {
      filter: {
        op: 's_intersects',
        args: [
          { property: 'geometry' },
          { type: 'Polygon', coordinates: [ring(MAX_GEOMETRY_POSITIONS + 1)] },
        ],
      },
    },
    SearchLimitError,
    /^filter: geometry literals: at most 100000 positions in all, got 100001$/,
  ],
  [
    'intersects positions',
    'POST',
    { intersects: { type: 'Polygon', coordinates: [ring(MAX_INTERSECTS_POSITIONS + 1)] } },
    SearchLimitError,
    /^intersects: at most 100000 positions, got 100001 \(simplify the geometry\)$/,
  ],
  [
    'fields (GET)',
    'GET',
    {
      fields: range(150)
        .map((i) => `properties.p${i}`)
        .join(','),
    },
    SearchLimitError,
    /^fields: at most 100 names, got 150$/,
  ],
  [
    'fields include + exclude (POST)',
    'POST',
    { fields: { include: ids(80), exclude: ids(80) } },
    SearchLimitError,
    /^fields: at most 100 names, got 160$/,
  ],
  [
    'query conditions',
    'POST',
    { query: Object.fromEntries(range(300).map((i) => [`p${i}`, { eq: i }])) },
    SearchLimitError,
    /^query: at most 256 conditions, got 300$/,
  ],
];

const malformed: Row[] = [
  ...['0x10', '1e1', '16.0', ' 16', '16 ', '+16', '-1', '0', '', 'Infinity', '١٦', '16abc'].map(
    (v): Row => [
      `limit '${v}'`,
      'GET',
      { limit: v },
      BadParameterError,
      new RegExp(`^limit must be a positive integer in decimal digits, got '${v.replace(/[+.]/g, '\\$&')}'$`),
    ],
  ),
  [
    'limit 16.5 (JSON)',
    'POST',
    { limit: 16.5 },
    BadParameterError,
    /^limit must be a positive integer in decimal digits, got 16\.5$/,
  ],
  [
    'limit true (JSON)',
    'POST',
    { limit: true },
    BadParameterError,
    /^limit must be a positive integer in decimal digits, got true$/,
  ],
  [
    'limit [5] (JSON)',
    'POST',
    { limit: [5] },
    BadParameterError,
    /^limit must be a positive integer in decimal digits, got \[5\]$/,
  ],
  ...['0x10,0,20,20', '0b1,0,20,20', '0o7,0,20,20', ',0,20,20', 'Infinity,0,20,20'].map(
    (v): Row => [
      `bbox '${v}'`,
      'GET',
      { bbox: v },
      BadParameterError,
      /^bbox must be 4 \(or 6\) numbers: west,south,east,north$/,
    ],
  ),
];

/** Inputs exactly at each limit: accepted, and the stores answer them (200). */
const atLimit: [string, Via, Record<string, unknown>, { serverRaw?: Record<string, unknown> }?][] = [
  ['ids', 'POST', { ids: ids(MAX_IDS) }],
  ['collections', 'POST', { collections: ids(MAX_COLLECTIONS) }],
  ['in values', 'POST', { filter: { op: 'in', args: [{ property: 'platform' }, ids(MAX_IN_VALUES)] } }],
  ['and arguments', 'POST', { filter: { op: 'and', args: range(MAX_LOGICAL_ARGS).map(eq) } }],
  [
    'or arguments (text)',
    'GET',
    {
      filter: range(MAX_LOGICAL_ARGS)
        .map((i) => `sat:relative_orbit = ${i}`)
        .join(' OR '),
    },
  ],
  ['nesting depth', 'POST', { filter: nots(MAX_FILTER_DEPTH - 1) }],
  // 13 nested ands of 256 arguments (9,949 nodes): a flat chain of terms would nest 3,315 levels in
  // SQL (SQLite stops at 1,000); the stores answer it because the terms are joined as a balanced tree.
  ['nested and chains within the node limit', 'POST', { filter: nestedAnd(13, MAX_LOGICAL_ARGS) }],
  [
    'ids, collections and an in list together',
    'POST',
    {
      ids: ids(MAX_IDS),
      collections: ['sar', ...ids(MAX_COLLECTIONS - 1)],
      filter: { op: 'in', args: [{ property: 'platform' }, ids(MAX_IN_VALUES)] },
    },
  ],
  ['fields', 'POST', { fields: { include: ids(MAX_FIELDS / 2), exclude: ids(MAX_FIELDS / 2) } }],
  [
    'intersects positions',
    'POST',
    { intersects: { type: 'Polygon', coordinates: [ring(MAX_INTERSECTS_POSITIONS)] } },
  ],
  ['limit 0016', 'GET', { limit: '0016' }],
  // Above the maximum is capped to it (OGC API - Features /req/core/fc-limit-response-1 C).
  ['limit of 30 digits', 'GET', { limit: '9'.repeat(30) }],
];

describe('search limits at the parse level', () => {
  it('the limits are the documented values', () => {
    expect([MAX_IDS, MAX_COLLECTIONS, MAX_FIELDS, MAX_INTERSECTS_POSITIONS]).toEqual([
      5000, 1000, 100, 100_000,
    ]);
    expect([MAX_FILTER_LENGTH, MAX_FILTER_DEPTH, MAX_FILTER_NODES, MAX_LOGICAL_ARGS, MAX_IN_VALUES]).toEqual([
      100_000, 100, 10_000, 256, 5000,
    ]);
  });

  it.each([...overLimit, ...malformed])('%s', (_name, _via, raw, cls, msg) => {
    let err: unknown;
    try {
      parseSearch(raw);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(cls);
    // A malformed value is a plain BadParameterError, not a limit.
    if (cls !== SearchLimitError) expect(err).not.toBeInstanceOf(SearchLimitError);
    expect((err as Error).message).toMatch(msg);
  });

  it.each(atLimit)('at the limit: %s parses', (_name, _via, raw) => {
    expect(() => parseSearch(raw)).not.toThrow();
  });

  it('limit reads decimal digits as the number they write', () => {
    expect(parseSearch({ limit: '16' }).limit).toBe(16);
    expect(parseSearch({ limit: '0016' }).limit).toBe(16);
    expect(parseSearch({ limit: 16 }).limit).toBe(16);
    expect(parseSearch({ limit: '10000' }).limit).toBe(10_000);
    expect(parseSearch({ limit: '9'.repeat(30) }).limit).toBe(10_000);
  });
});

describe.each(catalogBackends())('search limits through the server on $name', (backend) => {
  const tmp = tempDir('limits-');
  let store: CatalogStore;
  let app: FastifyInstance;
  let server: Awaited<ReturnType<typeof testServer>>;
  const send = async (via: Via, raw: Record<string, unknown>) => {
    const url =
      via === 'GET'
        ? `/search?${Object.entries(raw)
            .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
            .join('&')}`
        : '/search';
    const r = await app.inject({
      method: via,
      url,
      payload: via === 'POST' ? (raw as never) : undefined,
      headers: server.admin,
    });
    return { status: r.statusCode, body: r.json() };
  };

  beforeAll(async () => {
    store = await backend.open(tmp.dir);
    server = await testServer(store, { bodyLimit: 16 * 1024 * 1024, assetRoot: tmp.dir });
    app = server.app;
    const auth = { headers: server.admin };
    expect(
      (
        await app.inject({
          method: 'POST',
          url: '/collections',
          payload: syntheticCollection('sar') as never,
          ...auth,
        })
      ).statusCode,
    ).toBe(201);
    const items = [...syntheticItems(50, 3, 'sar')];
    const r = await app.inject({
      method: 'POST',
      url: '/collections/sar/items',
      payload: { type: 'FeatureCollection', features: items } as never,
      ...auth,
    });
    expect(r.statusCode, r.body).toBe(201);
  });
  afterAll(async () => {
    await server.close();
    await store.close();
    await backend.cleanup?.();
    tmp.cleanup();
  });

  it.each([...overLimit, ...malformed])('%s -> 400', async (_name, via, raw, cls, msg) => {
    const r = await send(via, raw);
    expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(400);
    expect(r.body.code).toBe(cls === SearchLimitError ? 'LimitExceeded' : 'InvalidParameterValue');
    expect(r.body.description).toMatch(msg);
  });

  it.each(atLimit)('at the limit: %s -> 200', async (_name, via, raw, o) => {
    const r = await send(via, o?.serverRaw ?? raw);
    expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(200);
    expect(Array.isArray(r.body.features)).toBe(true);
  });
});
