import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityStore } from '../src/access/identity.js';
import { SqliteCatalog } from '../src/catalog/sqlite/store.js';
import { syntheticCollection } from '../src/catalog/synthetic.js';
import type { StacItem } from '../src/catalog/types.js';
import { transformPoint } from '../src/geo/crs.js';
import { webMercatorTileAt } from '../src/geo/tms.js';
import {
  craftJwt,
  foreignKey,
  gdalCog,
  gdalReadback,
  serverSigningKey,
  unsignedJwt,
} from './helpers/access-fixtures.js';
import { tempDir } from './helpers/gdal.js';
import { freshDatabase } from './helpers/postgres.js';
import { testServer } from './helpers/server.js';
import { startBuiltCli } from './helpers/spawn-cli.js';

const tmp = tempDir('access-http-');
const root = join(tmp.dir, 'assets');
const outside = join(tmp.dir, 'outside');
const COG = join(root, 'scenes', 'a.tif');
const OUTSIDE_COG = join(outside, 'secret.tif');
const SIZE = 512;

let server: Awaited<ReturnType<typeof testServer>>;
let store: SqliteCatalog;
/** Bearer headers: gbr's analyst (sees the collection), fra's analyst (does not), a provider-operator. */
const H: Record<'admin' | 'gbr' | 'fra' | 'op', Record<string, string>> = {
  admin: {},
  gbr: {},
  fra: {},
  op: {},
};
let gbrKey: string;
let clientSecret: string;
let lonLat: [number, number];
/** A WebMercatorQuad zoom-14 tile over the scene, '{z}/{x}/{y}'. */
let TILE = '';

/** Every deliberately failing request comes from its own address, so the lock-out stays out of the way. */
let ipSeq = 0;
const freshIp = () => `10.9.${Math.floor(++ipSeq / 250)}.${(ipSeq % 250) + 1}`;

const inject = (o: InjectOptions) => server.app.inject(o);
const get = (url: string, headers: Record<string, string> = {}, remoteAddress?: string) =>
  inject({ url, headers, remoteAddress });

const NATO = (classification: string, rel: string[], extra: Record<string, unknown>[] = []) => ({
  policy: 'NATO',
  classification,
  categories: [{ tagName: 'Releasable To', type: 'permissive', values: rel }, ...extra],
});

function item(
  id: string,
  o: { label?: unknown; href?: string; assets?: Record<string, unknown> } = {},
): StacItem {
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
    properties: {
      datetime: '2026-06-01T06:00:00Z',
      ...(o.label === undefined ? {} : { 'sarbridge:label': o.label }),
    },
    links: [],
    assets: o.assets ?? {
      data: {
        href: o.href ?? 'scenes/a.tif',
        type: 'image/tiff; application=geotiff; profile=cloud-optimized',
        roles: ['data'],
      },
    },
  } as StacItem;
}

const post = (url: string, payload: unknown, headers: Record<string, string>) =>
  inject({ method: 'POST', url, payload: payload as object, headers });

/** A refusal's body: the error JSON, and no byte of the asset files in it. */
function noBytes(r: LightMyRequestResponse): void {
  const cog = readFileSync(COG);
  const secret = readFileSync(OUTSIDE_COG);
  expect(r.headers['content-type']).toMatch(/json/);
  expect(r.rawPayload.length).toBeLessThan(1024);
  expect(r.rawPayload.includes(cog.subarray(0, 64))).toBe(false);
  expect(r.rawPayload.includes(secret.subarray(0, 64))).toBe(false);
}

beforeAll(async () => {
  gdalCog(COG, SIZE, 1);
  gdalCog(OUTSIDE_COG, SIZE, 2);
  // Inside the root, a link that ends outside it.
  symlinkSync(OUTSIDE_COG, join(root, 'scenes', 'link.tif'));
  writeFileSync(join(outside, 'passwd'), 'root:x:0:0:outside the asset root\n');
  lonLat = transformPoint(32631, 4326, 500000 + 100 * 10 + 5, 5650000 - 100 * 10 - 5) as [number, number];
  const [tx, ty] = webMercatorTileAt(lonLat[0], lonLat[1], 14);
  TILE = `14/${tx}/${ty}`;

  store = new SqliteCatalog(join(tmp.dir, 'catalog.db'));
  server = await testServer(store, { assetRoot: root, bodyLimit: 256 * 1024 });
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
  id.createPrincipal('provider', 'user', {
    id: 'op',
    roles: ['provider-operator'],
    clearance: [{ policy: 'NATO', classification: 'RESTRICTED' }],
  });
  clientSecret = id.createPrincipal('gbr', 'client', { id: 'sys1', roles: ['partner-analyst'] })
    .clientSecret as string;
  gbrKey = id.createKey('user:analyst').key;
  H.gbr = { authorization: `Bearer ${gbrKey}` };
  H.fra = { authorization: `Bearer ${id.createKey('user:fra-analyst').key}` };
  H.op = { authorization: `Bearer ${id.createKey('user:op').key}` };

  const coll = { ...syntheticCollection('sar'), 'sarbridge:label': NATO('UNCLASSIFIED', ['NATO']) };
  let r = await post('/collections', coll, H.admin);
  expect(r.statusCode, r.body).toBe(201);
  r = await post(
    '/collections/sar/items',
    item('scene-a', { label: NATO('RESTRICTED', ['GBR', 'NATO']) }),
    H.admin,
  );
  expect(r.statusCode, r.body).toBe(201);
  r = await post('/collections/sar/items', item('secret-1', { label: NATO('SECRET', ['GBR']) }), H.admin);
  expect(r.statusCode, r.body).toBe(201);
  // Posting a link that leaves the root is allowed (the href is a plain relative path), but it is never read.
  r = await post('/collections/sar/items', item('linked', { href: 'scenes/link.tif' }), H.admin);
  expect(r.statusCode, r.body).toBe(201);
  // Items of an older catalog, written straight into the store, with absolute paths outside the root.
  await store.putItems(
    'sar',
    [
      item('legacy-abs', { href: OUTSIDE_COG }),
      item('legacy-file-url', { href: `file://${OUTSIDE_COG}` }),
      item('legacy-dotdot', { href: `${root}/../outside/secret.tif` }),
      item('legacy-shadow', { href: '/etc/shadow' }),
    ],
    'create',
  );
});
afterAll(async () => {
  await server?.close();
  await store?.close();
  tmp.cleanup();
});

describe('authentication', () => {
  it('no credential: 401 with WWW-Authenticate on data routes; public routes answer 200', async () => {
    for (const url of [
      '/collections/sar',
      '/collections/sar/items',
      '/collections/sar/items/scene-a',
      '/collections/sar/items/scene-a/assets/data',
      '/search',
      '/queryables',
      '/admin/organisations',
      `/collections/sar/items/scene-a/point/${lonLat.join(',')}`,
      `/tiles/sar/scene-a/data/WebMercatorQuad/${TILE}.png`,
    ]) {
      const r = await get(url);
      expect(r.statusCode, url).toBe(401);
      expect(r.headers['www-authenticate'], url).toMatch(/^Bearer realm="sarbridge"/);
      noBytes(r);
    }
    for (const url of ['/', '/conformance', '/api', '/.well-known/jwks.json'])
      expect((await get(url)).statusCode, url).toBe(200);
    // The landing page of an anonymous caller lists no collection.
    const land = (await get('/')).json();
    expect(land.links.filter((l: { rel: string }) => l.rel === 'child')).toEqual([]);
  });

  it('refuses an expired, a revoked, a malformed, a forged and a random key with 401', async () => {
    const id = server.access.services.identity;
    // A key made on the same identity database by a store whose clock is two days behind: a
    // one-day key that expired yesterday.
    const past = new IdentityStore(id.db, server.access.services.rules, () => Date.now() - 2 * 86_400_000);
    const expired = past.createKey('user:analyst', { expiresInDays: 1 });
    expect(Date.parse(expired.info.expiresAt)).toBeLessThan(Date.now());
    // On the store's own (past) clock the key is good: expiry is the only thing wrong with it.
    expect(past.authenticateKey(expired.key)?.id).toBe('user:analyst');
    const revoked = id.createKey('user:analyst');
    expect((await get('/collections/sar', { authorization: `Bearer ${revoked.key}` })).statusCode).toBe(200);
    id.revokeKey(revoked.info.prefix);
    const [, prefix] = /^sb_([a-z2-7]{10})_/.exec(gbrKey) as RegExpExecArray;
    const rows: [string, string][] = [
      ['expired', `Bearer ${expired.key}`],
      ['revoked', `Bearer ${revoked.key}`],
      ['forged (right prefix, wrong secret)', `Bearer sb_${prefix}_${'A'.repeat(43)}`],
      [
        'key shape with random bytes',
        `Bearer sb_${'abcdefghij'}_${Buffer.alloc(32, 7).toString('base64url')}`,
      ],
      ['truncated key', `Bearer ${gbrKey.slice(0, -1)}`],
      ['not Bearer', `Basic ${Buffer.from(`analyst:${gbrKey}`).toString('base64')}`],
      ['empty bearer', 'Bearer '],
      ['neither key nor JWT', 'Bearer hello'],
    ];
    for (const [what, authorization] of rows) {
      const r = await get('/collections/sar/items/scene-a', { authorization }, freshIp());
      expect(r.statusCode, what).toBe(401);
      expect(r.headers['www-authenticate'], what).toMatch(/^Bearer realm="sarbridge"/);
      expect(r.body, what).not.toContain('scene-a"');
    }
    // The key itself still works.
    expect((await get('/collections/sar/items/scene-a', H.gbr)).statusCode).toBe(200);
  });

  it('OAuth2 client credentials, by HTTP Basic and by form body, give a token that works as Bearer', async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const basic = await inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { ...form, authorization: `Basic ${Buffer.from(`sys1:${clientSecret}`).toString('base64')}` },
      payload: 'grant_type=client_credentials',
    });
    expect(basic.statusCode, basic.body).toBe(200);
    expect(basic.headers['cache-control']).toBe('no-store');
    const body = await inject({
      method: 'POST',
      url: '/oauth/token',
      headers: form,
      payload: `grant_type=client_credentials&client_id=sys1&client_secret=${encodeURIComponent(clientSecret)}`,
    });
    expect(body.statusCode, body.body).toBe(200);
    for (const t of [basic.json(), body.json()]) {
      expect(t.token_type).toBe('Bearer');
      expect(t.expires_in).toBeGreaterThan(0);
      const r = await get('/collections/sar/items/scene-a', { authorization: `Bearer ${t.access_token}` });
      expect(r.statusCode, r.body).toBe(200);
    }
    // A wrong secret: 401 invalid_client with a Basic challenge.
    const bad = await inject({
      method: 'POST',
      url: '/oauth/token',
      headers: form,
      payload: `grant_type=client_credentials&client_id=sys1&client_secret=cs_${'x'.repeat(43)}`,
      remoteAddress: freshIp(),
    });
    expect(bad.statusCode).toBe(401);
    expect(bad.json().error).toBe('invalid_client');
  });

  it('refuses JWTs with alg none, a foreign key, a wrong aud or iss, or expired: 401', async () => {
    // A token from the endpoint makes sure the server has a signing key; a crafted twin shows the
    // crafting is right, so each refusal below is for the one claim that differs.
    await server.access.services.tokens.issue({ sub: 'client:sys1', org: 'gbr', roles: ['partner-analyst'] });
    const { kid, key } = await serverSigningKey(server.access.services.identity.db);
    const now = Math.floor(Date.now() / 1000);
    const good = {
      iss: 'http://localhost',
      aud: 'http://localhost',
      sub: 'client:sys1',
      org: 'gbr',
      roles: ['partner-analyst'],
      iat: now,
      exp: now + 300,
    };
    const twin = await craftJwt(key, kid, good);
    expect((await get('/collections/sar', { authorization: `Bearer ${twin}` })).statusCode).toBe(200);
    const rows: [string, string][] = [
      ['alg none', unsignedJwt({ alg: 'none', typ: 'at+jwt', kid }, { ...good, jti: 'x', nbf: now })],
      ['another ES256 key, our kid', await craftJwt(await foreignKey(), kid, good)],
      ['wrong aud', await craftJwt(key, kid, { ...good, aud: 'https://other.example' })],
      ['wrong iss', await craftJwt(key, kid, { ...good, iss: 'https://evil.example' })],
      ['expired', await craftJwt(key, kid, { ...good, iat: now - 2000, exp: now - 1000 })],
      ['another org than the client', await craftJwt(key, kid, { ...good, org: 'fra' })],
    ];
    for (const [what, jwt] of rows) {
      const r = await get('/collections/sar/items/scene-a', { authorization: `Bearer ${jwt}` }, freshIp());
      expect(r.statusCode, what).toBe(401);
      expect(r.headers['www-authenticate'], what).toContain('Bearer');
    }
  });

  it('writes auth.failure records to the audit log', async () => {
    const recs = server.access.services.audit.query({ action: 'auth.failure', limit: 1000 }) as unknown as {
      ip: string;
      result: string;
      detail: { method: string; reason: string };
    }[];
    expect(recs.length).toBeGreaterThanOrEqual(14);
    expect(new Set(recs.map((r) => r.result))).toEqual(new Set(['deny']));
    const reasons = new Set(recs.map((r) => `${r.detail.method}:${r.detail.reason}`));
    for (const r of [
      'key:unknown_key',
      'key:malformed',
      'jwt:signature',
      'jwt:audience',
      'jwt:issuer',
      'jwt:expired',
    ])
      expect(reasons, [...reasons].join(' ')).toContain(r);
    // No record holds a secret.
    expect(JSON.stringify(recs)).not.toContain(gbrKey.slice(14));
  });
});

describe('rate limit and lock-out', () => {
  it('answers 429 with Retry-After once a credential has used its burst', async () => {
    const s = await testServer(new SqliteCatalog(':memory:'), { rateLimit: { ratePerS: 5, burst: 5 } });
    try {
      const codes: number[] = [];
      let last: LightMyRequestResponse | null = null;
      for (let i = 0; i < 8; i++) {
        last = await s.app.inject({ url: '/collections', headers: s.admin });
        codes.push(last.statusCode);
      }
      expect(codes.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
      expect(codes[5]).toBe(429);
      expect(Number(last?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(last?.json().code).toBe('TooManyRequests');
    } finally {
      await s.close();
    }
  });

  it('locks an address out after 10 failed authentications, even for a valid key from it', async () => {
    const s = await testServer(new SqliteCatalog(':memory:'));
    try {
      const ip = '192.0.2.10';
      for (let i = 0; i < 10; i++) {
        const bad = `Bearer sb_${'abcdefghij'.slice(0, 9)}${'klmnopqrst'[i]}_${'B'.repeat(43)}`;
        expect(
          (await s.app.inject({ url: '/collections', headers: { authorization: bad }, remoteAddress: ip }))
            .statusCode,
        ).toBe(401);
      }
      const locked = await s.app.inject({ url: '/collections', headers: s.admin, remoteAddress: ip });
      expect(locked.statusCode).toBe(429);
      expect(Number(locked.headers['retry-after'])).toBeGreaterThan(60);
      expect(locked.json().description).toMatch(/locked out/);
      expect(locked.headers['x-content-type-options']).toBe('nosniff');
      expect(locked.headers['x-request-id']).toBeDefined();
      // The token endpoint is locked for that address too.
      const tok = await s.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'grant_type=client_credentials&client_id=x&client_secret=y',
        remoteAddress: ip,
      });
      expect(tok.statusCode).toBe(429);
      // Another address with the same valid key is not locked.
      expect(
        (await s.app.inject({ url: '/collections', headers: s.admin, remoteAddress: '192.0.2.11' }))
          .statusCode,
      ).toBe(200);
      const fails = s.access.services.audit.query({ action: 'auth.failure', limit: 100 });
      expect(fails).toHaveLength(10);
    } finally {
      await s.close();
    }
  });

  it("failed JWTs from many addresses do not lock out another client's valid token", async () => {
    const s = await testServer(new SqliteCatalog(':memory:'));
    try {
      const id = s.access.services.identity;
      id.createOrganisation({
        id: 'gbr',
        codes: ['GBR'],
        clearance: [{ policy: 'NATO', classification: 'SECRET' }],
      });
      id.createPrincipal('gbr', 'client', { id: 'sys1', roles: ['partner-analyst'] });
      const valid = await s.access.services.tokens.issue({
        sub: 'client:sys1',
        org: 'gbr',
        roles: ['partner-analyst'],
      });
      const { kid } = await serverSigningKey(id.db);
      const now = Math.floor(Date.now() / 1000);
      const claims = {
        iss: 'http://localhost',
        aud: 'http://localhost',
        sub: 'client:sys1',
        org: 'gbr',
        roles: [],
        iat: now,
        exp: now + 60,
      };
      // An attacker with a key of its own and our public kid (from the JWKS), from 10 addresses.
      for (let i = 0; i < 10; i++) {
        const forged = await craftJwt(await foreignKey(), kid, claims);
        const r = await s.app.inject({
          url: '/collections',
          headers: { authorization: `Bearer ${forged}` },
          remoteAddress: `198.51.100.${i + 1}`,
        });
        expect(r.statusCode).toBe(401);
      }
      const r = await s.app.inject({
        url: '/collections',
        headers: { authorization: `Bearer ${valid.access_token}` },
        remoteAddress: '203.0.113.5',
      });
      expect(r.statusCode, r.body).toBe(200);
    } finally {
      await s.close();
    }
  });
});

describe('headers, limits and errors', () => {
  const SECURITY = {
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  };
  const secure = (r: LightMyRequestResponse, what: string) => {
    for (const [k, v] of Object.entries(SECURITY)) expect(r.headers[k], `${what}: ${k}`).toBe(v);
    expect(String(r.headers['x-request-id']), what).toMatch(/^[0-9a-f-]{36}$/);
  };

  it('every response carries the security headers and a request id', async () => {
    const tile = `/tiles/sar/scene-a/data/WebMercatorQuad/${TILE}.png`;
    const cases: [string, () => Promise<LightMyRequestResponse>, number][] = [
      ['landing', () => get('/'), 200],
      ['401', () => get('/collections/sar'), 401],
      ['404 route', () => get('/nope', H.gbr), 404],
      ['404 hidden', () => get('/collections/sar', H.fra), 404],
      ['400', () => get('/search?limit=abc', H.gbr), 400],
      ['403', () => inject({ method: 'DELETE', url: '/collections/sar', headers: H.gbr }), 403],
      ['asset', () => get('/collections/sar/items/scene-a/assets/data', H.gbr), 200],
      ['206', () => get('/collections/sar/items/scene-a/assets/data', { ...H.gbr, range: 'bytes=0-9' }), 206],
      ['tile', () => get(tile, H.gbr), 200],
      ['jwks', () => get('/.well-known/jwks.json'), 200],
      ['oauth 400', () => inject({ method: 'POST', url: '/oauth/token', payload: {} }), 400],
    ];
    for (const [what, send, status] of cases) {
      const r = await send();
      expect(r.statusCode, `${what}: ${r.body.slice(0, 200)}`).toBe(status);
      secure(r, what);
    }
    const a = await get('/', {});
    const b = await get('/', {});
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
    // A request id sent by the caller is not echoed (the server makes its own).
    const own = await get('/', { 'x-request-id': 'mine' });
    expect(own.headers['x-request-id']).not.toBe('mine');
  });

  it('protected responses are Cache-Control private with Vary: Authorization (tiles too)', async () => {
    for (const url of [
      '/collections/sar',
      '/collections/sar/items/scene-a',
      '/search',
      '/collections/sar/items/scene-a/assets/data',
      `/tiles/sar/scene-a/data/WebMercatorQuad/${TILE}.png`,
      `/collections/sar/items/scene-a/point/${lonLat.join(',')}`,
      '/collections/sar/items/scene-a/label.xml',
    ]) {
      const r = await get(url, H.gbr);
      expect(r.statusCode, `${url}: ${r.body.slice(0, 200)}`).toBe(200);
      expect(r.headers['cache-control'], url).toMatch(/^private(,|$)/);
      expect(String(r.headers.vary), url).toMatch(/\bAuthorization\b/i);
    }
    const tile = await get(`/tiles/sar/scene-a/data/WebMercatorQuad/${TILE}.png`, H.gbr);
    expect(tile.headers['content-type']).toBe('image/png');
  });

  it('a body over the limit is 413', async () => {
    const big = {
      ...item('big'),
      properties: { datetime: '2026-06-01T06:00:00Z', pad: 'x'.repeat(300 * 1024) },
    };
    const r = await post('/collections/sar/items', big, H.admin);
    expect(r.statusCode).toBe(413);
    expect(r.json().code).toBe('PayloadTooLarge');
    secure(r, '413');
    expect((await get('/collections/sar/items/big', H.admin)).statusCode).toBe(404);
  });

  it('a 5xx body carries the request id and nothing of the error', async () => {
    // The catalog database goes away under a running server.
    const broken = new SqliteCatalog(join(tmp.dir, 'broken.db'));
    const s = await testServer(broken);
    const errWrite = process.stderr.write;
    let logged = '';
    process.stderr.write = ((c: string) => {
      logged += c;
      return true;
    }) as typeof process.stderr.write;
    try {
      await broken.close();
      const r = await s.app.inject({ url: '/collections', headers: s.admin });
      expect(r.statusCode).toBe(500);
      const b = r.json();
      expect(b).toEqual({
        code: 'InternalError',
        description: 'internal error',
        requestId: r.headers['x-request-id'],
      });
      secure(r, '500');
      // The details go to the operator's log under the same id.
      expect(logged).toContain(String(r.headers['x-request-id']));
    } finally {
      process.stderr.write = errWrite;
      await s.close();
    }
  });
});

describe('writes', () => {
  it("a partner-analyst's POST, PUT, PATCH and DELETE are 403", async () => {
    const coll = syntheticCollection('other');
    const cases: InjectOptions[] = [
      { method: 'POST', url: '/collections', payload: coll },
      { method: 'PUT', url: '/collections/sar', payload: syntheticCollection('sar') },
      { method: 'PATCH', url: '/collections/sar', payload: { description: 'x' } },
      { method: 'DELETE', url: '/collections/sar' },
      { method: 'POST', url: '/collections/sar/items', payload: item('p-1') },
      { method: 'PUT', url: '/collections/sar/items/scene-a', payload: item('scene-a') },
      { method: 'PATCH', url: '/collections/sar/items/scene-a', payload: { properties: { x: 1 } } },
      { method: 'DELETE', url: '/collections/sar/items/scene-a' },
      { method: 'POST', url: '/admin/organisations', payload: { id: 'mine' } },
    ];
    for (const c of cases) {
      const r = await inject({ ...c, headers: H.gbr } as InjectOptions);
      expect(r.statusCode, `${c.method} ${c.url}: ${r.body}`).toBe(403);
    }
    expect((await get('/collections/sar/items/scene-a', H.admin)).json().properties.x).toBeUndefined();
    expect((await get('/collections/other', H.admin)).statusCode).toBe(404);
  });

  it('a provider-operator cleared to RESTRICTED may not assign SECRET, nor replace or delete a SECRET item', async () => {
    const r = await post(
      '/collections/sar/items',
      item('op-secret', { label: NATO('SECRET', ['GBR']) }),
      H.op,
    );
    expect(r.statusCode).toBe(400);
    expect(r.json().description).toMatch(/^\/properties\/sarbridge:label: /);
    const ok = await post(
      '/collections/sar/items',
      item('op-restricted', { label: NATO('RESTRICTED', ['GBR']) }),
      H.op,
    );
    expect(ok.statusCode, ok.body).toBe(201);
    const before = (await get('/collections/sar/items/secret-1', H.admin)).json();
    const put = await inject({
      method: 'PUT',
      url: '/collections/sar/items/secret-1',
      headers: H.op,
      payload: item('secret-1', { label: NATO('RESTRICTED', ['GBR']) }) as object,
    });
    expect(put.statusCode, put.body).toBe(403);
    const patch = await inject({
      method: 'PATCH',
      url: '/collections/sar/items/secret-1',
      headers: H.op,
      payload: { properties: { 'sarbridge:label': NATO('RESTRICTED', ['GBR']) } },
    });
    expect(patch.statusCode, patch.body).toBe(403);
    const del = await inject({ method: 'DELETE', url: '/collections/sar/items/secret-1', headers: H.op });
    expect(del.statusCode, del.body).toBe(403);
    expect((await get('/collections/sar/items/secret-1', H.admin)).json()).toEqual(before);
  });

  it.each([
    ['a string', 'SECRET', /^\/properties\/sarbridge:label: must be an object/],
    [
      'unknown classification',
      NATO('ULTRA', ['GBR']),
      /^\/properties\/sarbridge:label\/classification: unknown classification 'ULTRA'/,
    ],
    [
      'unknown policy',
      { policy: 'XX', classification: 'SECRET', categories: [] },
      /^\/properties\/sarbridge:label\/policy: unknown policy 'XX'/,
    ],
    [
      'unknown category',
      NATO('RESTRICTED', ['GBR'], [{ tagName: 'Eyes Only', type: 'permissive', values: ['GBR'] }]),
      /^\/properties\/sarbridge:label\/categories\/1\/tagName: unknown category 'Eyes Only'/,
    ],
    [
      'wrong category type',
      {
        policy: 'NATO',
        classification: 'RESTRICTED',
        categories: [{ tagName: 'Releasable To', type: 'restrictive', values: ['GBR'] }],
      },
      /^\/properties\/sarbridge:label\/categories\/0\/type: /,
    ],
    [
      'bad releasability code',
      NATO('RESTRICTED', ['gb']),
      /^\/properties\/sarbridge:label\/categories\/0\/values\/0: /,
    ],
    [
      'an unknown member',
      { ...NATO('RESTRICTED', ['GBR']), owner: 'me' },
      /^\/properties\/sarbridge:label\/owner: unknown member/,
    ],
  ])('a label that is %s: 400 naming the field, nothing written', async (_what, label, message) => {
    const r = await post('/collections/sar/items', item('bad-label', { label }), H.admin);
    expect(r.statusCode, r.body).toBe(400);
    expect(r.json().description).toMatch(message);
    expect((await get('/collections/sar/items/bad-label', H.admin)).statusCode).toBe(404);
  });

  it('a FeatureCollection with one bad item adds none', async () => {
    const fc = (bad: StacItem) => ({
      type: 'FeatureCollection',
      features: [item('fc-1'), bad, item('fc-3')],
    });
    const r = await post(
      '/collections/sar/items',
      fc(item('fc-2', { label: NATO('ULTRA', ['GBR']) })),
      H.admin,
    );
    expect(r.statusCode, r.body).toBe(400);
    expect(r.json().description).toMatch(/^\/features\/1\/properties\/sarbridge:label\/classification: /);
    const h = await post('/collections/sar/items', fc(item('fc-2', { href: '../x' })), H.admin);
    expect(h.statusCode, h.body).toBe(400);
    expect(h.json().description).toMatch(/^\/features\/1\/assets\/data\/href: /);
    // The store's own refusal (an id that exists) happens after fc-1 was checked: still none added.
    const dup = await post('/collections/sar/items', fc(item('scene-a')), H.admin);
    expect(dup.statusCode, dup.body).toBe(409);
    for (const id of ['fc-1', 'fc-2', 'fc-3'])
      expect((await get(`/collections/sar/items/${id}`, H.admin)).statusCode, id).toBe(404);
  });
});

describe('asset confinement', () => {
  it.each([
    '/etc/shadow',
    '../x',
    'file:///etc/shadow',
    'http://127.0.0.1/x',
    'scenes/%2e%2e/%2e%2e/outside/passwd',
    'C:/x',
  ])('an item with asset href %j is 400 naming /assets/data/href (POST, PUT and PATCH)', async (href) => {
    const r = await post('/collections/sar/items', item('conf-1', { href }), H.admin);
    expect(r.statusCode, r.body).toBe(400);
    expect(r.json().description).toMatch(/^\/assets\/data\/href: /);
    const put = await inject({
      method: 'PUT',
      url: '/collections/sar/items/scene-a',
      headers: H.admin,
      payload: item('scene-a', { href, label: NATO('RESTRICTED', ['GBR', 'NATO']) }) as object,
    });
    expect(put.statusCode, put.body).toBe(400);
    expect(put.json().description).toMatch(/^\/assets\/data\/href: /);
    const patch = await inject({
      method: 'PATCH',
      url: '/collections/sar/items/scene-a',
      headers: H.admin,
      payload: { assets: { data: { href } } },
    });
    expect(patch.statusCode, patch.body).toBe(400);
    expect(patch.json().description).toMatch(/^\/assets\/data\/href: /);
    expect((await get('/collections/sar/items/conf-1', H.admin)).statusCode).toBe(404);
  });

  it('a symlink inside the root that ends outside: 404 for the asset, its signed URL, point, tile and preview', async () => {
    const linked = (await get('/collections/sar/items/linked', H.admin)).json();
    expect(linked.assets.data['file:size']).toBeUndefined();
    expect(linked.assets.data['file:checksum']).toBeUndefined();
    for (const id of ['linked', 'legacy-abs', 'legacy-file-url', 'legacy-dotdot', 'legacy-shadow']) {
      for (const url of [
        `/collections/sar/items/${id}/assets/data`,
        `/collections/sar/items/${id}/point/${lonLat.join(',')}?assets=data`,
        `/tiles/sar/${id}/data/WebMercatorQuad/${TILE}.png`,
        `/collections/sar/items/${id}/preview.png`,
        `/collections/sar/items/${id}/tilejson.json`,
      ]) {
        const r = await get(url, H.admin);
        expect(r.statusCode, `${url}: ${r.body.slice(0, 200)}`).toBe(404);
        noBytes(r);
        expect(r.body).not.toContain(outside);
      }
      const s = await get(`/collections/sar/items/${id}/assets/data/signed?expires=60`, H.admin);
      if (s.statusCode === 200) {
        const u = new URL(s.json().href);
        const r = await get(u.pathname + u.search);
        expect(r.statusCode, id).toBe(404);
        noBytes(r);
      } else expect(s.statusCode, id).toBe(404);
    }
    // The item JSON never shows where the files are.
    const legacy = (await get('/collections/sar/items/legacy-abs', H.admin)).body;
    expect(legacy).not.toContain(outside);
    expect(legacy).not.toContain('file://');
  });
});

describe('assets over HTTP', () => {
  it('item hrefs are the server’s asset URLs, with file:size and a file:checksum that sha256sum agrees with', async () => {
    const it0 = (await get('/collections/sar/items/scene-a', H.gbr)).json();
    const a = it0.assets.data;
    expect(a.href).toBe('http://localhost/collections/sar/items/scene-a/assets/data');
    expect(JSON.stringify(it0)).not.toContain(root);
    expect(a['file:size']).toBe(statSync(COG).size);
    const sum = execFileSync('sha256sum', [COG], { encoding: 'utf8' }).split(' ')[0];
    expect(a['file:checksum']).toBe(`1220${sum}`);
    expect(it0.stac_extensions).toContain('https://stac-extensions.github.io/file/v2.1.0/schema.json');
  });

  it('serves the bytes, Range requests (206), If-None-Match (304) and refuses a bad range (416)', async () => {
    const file = readFileSync(COG);
    const whole = await get('/collections/sar/items/scene-a/assets/data', H.gbr);
    expect(whole.statusCode).toBe(200);
    expect(Buffer.compare(whole.rawPayload, file)).toBe(0);
    expect(whole.headers['accept-ranges']).toBe('bytes');
    const etag = String(whole.headers.etag);
    const part = await get('/collections/sar/items/scene-a/assets/data', {
      ...H.gbr,
      range: 'bytes=100-1123',
    });
    expect(part.statusCode).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 100-1123/${file.length}`);
    expect(Buffer.compare(part.rawPayload, file.subarray(100, 1124))).toBe(0);
    const tail = await get('/collections/sar/items/scene-a/assets/data', { ...H.gbr, range: 'bytes=-16' });
    expect(tail.statusCode).toBe(206);
    expect(Buffer.compare(tail.rawPayload, file.subarray(file.length - 16))).toBe(0);
    const cached = await get('/collections/sar/items/scene-a/assets/data', {
      ...H.gbr,
      'if-none-match': etag,
    });
    expect(cached.statusCode).toBe(304);
    expect(cached.rawPayload.length).toBe(0);
    const bad = await get('/collections/sar/items/scene-a/assets/data', {
      ...H.gbr,
      range: `bytes=${file.length + 10}-`,
    });
    expect(bad.statusCode).toBe(416);
    expect(bad.headers['content-range']).toBe(`bytes */${file.length}`);
    noBytes(bad);
  });

  it('a partner without visibility gets 404 and no bytes, for the asset and its signed URL', async () => {
    for (const url of [
      '/collections/sar/items/scene-a/assets/data',
      '/collections/sar/items/scene-a/assets/data/signed',
      '/collections/sar/items/scene-a',
      '/collections/sar/items/scene-a/label.xml',
    ]) {
      const r = await get(url, { ...H.fra, range: 'bytes=0-99' });
      expect(r.statusCode, url).toBe(404);
      noBytes(r);
    }
    // gbr, cleared to SECRET and releasable GBR, does see the SECRET item.
    expect((await get('/collections/sar/items/secret-1/assets/data', H.gbr)).statusCode).toBe(200);
  });
});

describe('signed URLs', () => {
  const signed = async (headers: Record<string, string>, expires = 60, itemId = 'scene-a') => {
    const r = await get(`/collections/sar/items/${itemId}/assets/data/signed?expires=${expires}`, headers);
    expect(r.statusCode, r.body).toBe(200);
    const href = r.json().href as string;
    expect(href).toMatch(
      new RegExp(`^http://localhost/collections/sar/items/${itemId}/assets/data\\?token=`),
    );
    const u = new URL(href);
    return { path: u.pathname, token: u.searchParams.get('token') as string, url: u.pathname + u.search };
  };

  it('a signed URL works without Authorization', async () => {
    const s = await signed(H.gbr);
    const r = await get(s.url);
    expect(r.statusCode, r.body).toBe(200);
    expect(Buffer.compare(r.rawPayload, readFileSync(COG))).toBe(0);
    const range = await get(s.url, { range: 'bytes=0-15' });
    expect(range.statusCode).toBe(206);
  });

  it('a tampered token, a token on another path, an expired token, and one under a revoked key: 401, no bytes', async () => {
    const s = await signed(H.gbr);
    const [body, mac] = s.token.split('.');
    const flip = (t: string, i: number) => t.slice(0, i) + (t[i] === 'A' ? 'B' : 'A') + t.slice(i + 1);
    // The grant rewritten for another item, with the old MAC.
    const other = Buffer.from(
      JSON.stringify(
        JSON.parse(Buffer.from(body, 'base64url').toString()).map((v: unknown) =>
          typeof v === 'string' ? v.replace('scene-a', 'secret-1') : v,
        ),
      ),
    ).toString('base64url');
    const rows: [string, string][] = [
      ['MAC changed', `${s.path}?token=${encodeURIComponent(`${body}.${flip(mac, 5)}`)}`],
      ['grant changed', `${s.path}?token=${encodeURIComponent(`${flip(body, 3)}.${mac}`)}`],
      [
        'grant for another path, old MAC',
        `/collections/sar/items/secret-1/assets/data?token=${encodeURIComponent(`${other}.${mac}`)}`,
      ],
      [
        'used on another asset path',
        `/collections/sar/items/secret-1/assets/data?token=${encodeURIComponent(s.token)}`,
      ],
      ['used on the item JSON', `/collections/sar/items/scene-a?token=${encodeURIComponent(s.token)}`],
      ['used on the search', `/search?token=${encodeURIComponent(s.token)}`],
      ['no MAC', `${s.path}?token=${body}`],
    ];
    for (const [what, url] of rows) {
      const r = await get(url, {}, freshIp());
      expect(r.statusCode, `${what}: ${r.body}`).toBe(401);
      noBytes(r);
    }

    const short = await signed(H.gbr, 1);
    await new Promise((done) => setTimeout(done, 1200));
    const late = await get(short.url, {}, freshIp());
    expect(late.statusCode).toBe(401);
    noBytes(late);

    const id = server.access.services.identity;
    const k = id.createKey('user:analyst', { name: 'to revoke' });
    const underK = await signed({ authorization: `Bearer ${k.key}` });
    expect((await get(underK.url)).statusCode).toBe(200);
    id.revokeKey(k.info.prefix);
    const revoked = await get(underK.url, {}, freshIp());
    expect(revoked.statusCode).toBe(401);
    noBytes(revoked);
    // A disabled principal's URLs stop too.
    const dis = await signed(H.op);
    id.setDisabled('user:op', true);
    const disabled = await get(dis.url, {}, freshIp());
    id.setDisabled('user:op', false);
    expect(disabled.statusCode).toBe(401);
    noBytes(disabled);
  });

  it('a signed URL never outlives the API key or the access token it was made under', async () => {
    const id = server.access.services.identity;
    // A one-day key made by a store whose clock is a day less 30 s behind: 30 s left.
    const past = new IdentityStore(
      id.db,
      server.access.services.rules,
      () => Date.now() - 86_400_000 + 30_000,
    );
    const k = past.createKey('user:analyst', { expiresInDays: 1 });
    const r = await get('/collections/sar/items/scene-a/assets/data/signed?expires=3600', {
      authorization: `Bearer ${k.key}`,
    });
    expect(r.statusCode, r.body).toBe(200);
    expect(Date.parse(r.json().expires)).toBeLessThanOrEqual(Date.parse(k.info.expiresAt));
    // An access token with 20 s left.
    const { kid, key } = await serverSigningKey(id.db);
    const now = Math.floor(Date.now() / 1000);
    const jwt = await craftJwt(key, kid, {
      iss: 'http://localhost',
      aud: 'http://localhost',
      sub: 'client:sys1',
      org: 'gbr',
      roles: ['partner-analyst'],
      iat: now,
      exp: now + 20,
    });
    const t = await get('/collections/sar/items/scene-a/assets/data/signed?expires=3600', {
      authorization: `Bearer ${jwt}`,
    });
    expect(t.statusCode, t.body).toBe(200);
    expect(Date.parse(t.json().expires)).toBeLessThanOrEqual((now + 20) * 1000);
    // Disabling the client stops the URL made under its token.
    const u = new URL(t.json().href);
    expect((await get(u.pathname + u.search)).statusCode).toBe(200);
    id.setDisabled('client:sys1', true);
    try {
      const off = await get(u.pathname + u.search, {}, freshIp());
      expect(off.statusCode).toBe(401);
      noBytes(off);
      expect((await get('/collections/sar', { authorization: `Bearer ${jwt}` }, freshIp())).statusCode).toBe(
        401,
      );
    } finally {
      id.setDisabled('client:sys1', false);
    }
  });

  it('a signed URL runs under the principal’s scope now, not when it was signed', async () => {
    const id = server.access.services.identity;
    id.createOrganisation({
      id: 'nld',
      codes: ['NLD', 'NATO'],
      clearance: [{ policy: 'NATO', classification: 'SECRET' }],
    });
    id.createPrincipal('nld', 'user', { id: 'nld-analyst', roles: ['partner-analyst'] });
    const h = { authorization: `Bearer ${id.createKey('user:nld-analyst').key}` };
    // scene-a is releasable to GBR and NATO, its collection to NATO: nld sees both.
    const s = await get('/collections/sar/items/scene-a/assets/data/signed?expires=600', h);
    expect(s.statusCode, s.body).toBe(200);
    const u = new URL(s.json().href);
    expect((await get(u.pathname + u.search)).statusCode).toBe(200);
    // The organisation leaves NATO: the collection is no longer releasable to it.
    id.updateOrganisation('nld', { codes: ['NLD'] });
    const gone = await get(u.pathname + u.search);
    expect(gone.statusCode).toBe(404);
    noBytes(gone);
  });

  it('If-Range with another entity tag sends the whole file (200), not the range', async () => {
    const file = readFileSync(COG);
    const r = await get('/collections/sar/items/scene-a/assets/data', {
      ...H.gbr,
      range: 'bytes=0-99',
      'if-range': '"not-the-tag"',
    });
    expect(r.statusCode).toBe(200);
    expect(r.rawPayload.length).toBe(file.length);
  });

  it('expires is checked: 0, negative, over a day, not a number are 400 naming expires', async () => {
    for (const e of ['0', '-5', '86401', 'abc', '1e3']) {
      const r = await get(`/collections/sar/items/scene-a/assets/data/signed?expires=${e}`, H.gbr);
      expect(r.statusCode, e).toBe(400);
      expect(r.json().description).toMatch(/^expires: /);
    }
  });
});

describe('a real client', () => {
  it('GDAL reads the COG through a signed URL with /vsicurl/ and gets what it reads from the file', async () => {
    const url = await server.app.listen({ host: '127.0.0.1', port: 0 });
    const r = await get('/collections/sar/items/scene-a/assets/data/signed?expires=600', H.gbr);
    const u = new URL(r.json().href);
    const remote = `/vsicurl/${url}${u.pathname}${u.search}`;
    const win = { colOff: 37, rowOff: 300, width: 150, height: 97 };
    const [local, viaHttp] = [await gdalReadback(COG, win), await gdalReadback(remote, win)];
    expect(local.width).toBe(SIZE);
    expect(local.overviews).toBeGreaterThan(0);
    expect(viaHttp).toEqual(local);
    // GDAL read with Range requests, each audited as a download of part of the file.
    const downloads = server.access.services.audit.query({
      action: 'download',
      limit: 10_000,
    }) as unknown as {
      detail: { range: number[] | null };
    }[];
    expect(downloads.some((d) => d.detail.range !== null)).toBe(true);
  });
});

describe('label XML', () => {
  it('GET .../label.xml is ADatP-4774 XML with the policy, classification and categories', async () => {
    const r = await get('/collections/sar/items/scene-a/label.xml', H.gbr);
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/xml/);
    const doc = new XMLParser({
      ignoreAttributes: false,
      removeNSPrefix: false,
      isArray: (n) => n === 'slab:Category' || n === 'slab:GenericValue',
    }).parse(r.body);
    const label = doc['slab:ConfidentialityLabel'];
    expect(label['@_xmlns:slab']).toBe('urn:nato:stanag:4774:confidentialitymetadatalabel:1:0');
    const info = label['slab:ConfidentialityInformation'];
    expect(info['slab:PolicyIdentifier']).toBe('NATO');
    expect(info['slab:Classification']).toBe('RESTRICTED');
    expect(info['slab:Category']).toEqual([
      { '@_TagName': 'Releasable To', '@_Type': 'PERMISSIVE', 'slab:GenericValue': ['GBR', 'NATO'] },
    ]);
    expect(Number.isNaN(Date.parse(label['slab:CreationDateTime']))).toBe(false);
    // An item without a label of its own has its collection's.
    const coll = new XMLParser().parse((await get('/collections/sar/items/linked/label.xml', H.admin)).body);
    expect(coll['slab:ConfidentialityLabel']['slab:ConfidentialityInformation']['slab:Classification']).toBe(
      'UNCLASSIFIED',
    );
  });
});

describe('sarbridge serve --db postgres://', () => {
  it('opens the PostgreSQL store, prints where it listens, answers with the bootstrap key, stops on SIGTERM', async () => {
    const db = await freshDatabase();
    const access = join(tmp.dir, 'pg-access');
    const srv = await startBuiltCli([
      'serve',
      '--db',
      db.url,
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--access-dir',
      access,
    ]);
    try {
      const listening = String(srv.first.listening);
      expect(listening).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(String(srv.first.catalog)).not.toContain('sarbridge-test');
      const key = /sb_[a-z2-7]{10}_[A-Za-z0-9_-]{43}/.exec(srv.stderr())?.[0];
      expect(key, srv.stderr()).toBeDefined();
      const auth = { authorization: `Bearer ${key}` };
      const land = await fetch(`${listening}/`, { headers: auth });
      expect(land.status).toBe(200);
      const coll = await fetch(`${listening}/collections`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(syntheticCollection('pg-proof')),
      });
      expect(coll.status, await coll.text()).toBe(201);
      // The collection is in PostgreSQL, read with pg, not through sarbridge.
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        const rows = await c.query("SELECT doc->>'id' AS id FROM collections");
        expect(rows.rows.map((x) => x.id)).toEqual(['pg-proof']);
      } finally {
        await c.end();
      }
      expect((await fetch(`${listening}/collections`)).status).toBe(401);
    } finally {
      const code = await srv.stop();
      expect(code).toBe(0);
      await db.drop();
    }
  });
});
