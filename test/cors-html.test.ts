import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogStore } from '../src/catalog/store.js';
import { syntheticCollection, syntheticItems } from '../src/catalog/synthetic.js';
import { runCli } from '../src/cli/main.js';
import { parseCorsOrigins } from '../src/server/cors.js';
import { negotiate } from '../src/server/negotiate.js';
import { tempDir } from './helpers/gdal.js';
import { catalogBackends } from './helpers/postgres.js';
import { testServer } from './helpers/server.js';

// Issue 12, findings 1 (CORS) and 9 (service-doc, HTML at /, the Content-Type of /api).

const ALLOWED = 'http://127.0.0.1:8600';
const BASE = 'https://sarbridge.example.org';
const ASSET = join('sar', '0.tif');
const BYTES = randomBytes(5000);
const BROWSER_ACCEPT =
  'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7';
const GDAL_API_ACCEPT =
  'application/vnd.oai.openapi+json;version=3.0, application/openapi+json;version=3.0, application/json';

const corsHeaders = (r: LightMyRequestResponse) =>
  Object.keys(r.headers).filter((h) => h.startsWith('access-control-'));
const list = (v: unknown) =>
  String(v ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');

/**
 * GDAL's CheckContentType (frmts/ogcapi, ogr/ogrsf_frmts/wfs): the reply's Content-Type split on ';'
 * and ' ' must hold every token of the media type asked for, compared case-insensitively.
 */
const gdalAccepts = (got: string, expected: string) => {
  const tokens = (s: string) => s.split(/[; ]+/).filter((t) => t !== '');
  const have = tokens(got).map((t) => t.toLowerCase());
  return tokens(expected).every((t) => have.includes(t.toLowerCase()));
};

describe('CORS allow-list (Fetch standard §3.2.1, origin serialisation RFC 6454 §6.1)', () => {
  it.each([
    ['http://a.example/', 'a trailing slash is a path'],
    ['http://a.example/app', 'a path'],
    ['http://a.example?x=1', 'a query'],
    ['http://a.example#top', 'a fragment'],
    ['ftp://a.example', 'a scheme browsers do not fetch with CORS'],
    ['a.example', 'no scheme'],
    ['http://user@a.example', 'user information'],
    ['*', 'a wildcard (requests carry Authorization)'],
    ['null', 'the opaque origin'],
    ['http://', 'no host'],
    ['', 'an empty entry'],
  ])('refuses %j (%s), naming the option and the value', (value) => {
    expect(() => parseCorsOrigins([value], '--cors-origin')).toThrow(
      new RegExp(
        `^--cors-origin: expected an origin, scheme://host\\[:port\\].*got '${value.replace(/[.*?+[\]()|^$\\]/g, '\\$&')}'$`,
      ),
    );
  });

  it.each([
    ['HTTP://App.Example:80', 'http://app.example'],
    ['https://app.example:443', 'https://app.example'],
    ['https://app.example:8443', 'https://app.example:8443'],
    ['http://127.0.0.1:8600', 'http://127.0.0.1:8600'],
    ['http://[::1]:3000', 'http://[::1]:3000'],
  ])('keeps %j as the serialised origin %j browsers send', (value, origin) => {
    expect(parseCorsOrigins([value, value], 'x')).toEqual([origin]);
  });

  it('the server refuses a bad allow-list at start, naming corsOrigins', async () => {
    const tmp = tempDir('cors-bad-');
    const store = await catalogBackends()[0].open(tmp.dir);
    try {
      await expect(testServer(store, { corsOrigins: ['https://a.example/path'] })).rejects.toThrow(
        /^corsOrigins: expected an origin.*got 'https:\/\/a\.example\/path'$/,
      );
    } finally {
      await store.close();
      tmp.cleanup();
    }
  });
});

describe('content negotiation (RFC 9110 §12.5.1 Accept)', () => {
  const offers = ['application/json', 'text/html'] as const;
  it.each([
    [undefined, 'application/json'],
    ['', 'application/json'],
    ['*/*', 'application/json'],
    ['text/html;q=0, */*', 'application/json'], // q=0: not acceptable, the more specific range decides
    ['text/*', 'text/html'],
    ['application/*;q=0.2, text/html;q=0.1', 'application/json'],
    ['application/json;q=0.9, text/html;q=0.95', 'text/html'],
    ['TEXT/HTML', 'text/html'], // media types are case-insensitive
    ['*/*;q=0', 'application/json'], // nothing acceptable: the default, not 406
    ['garbage, ;;, /', 'application/json'],
    [BROWSER_ACCEPT, 'text/html'],
  ])('Accept %j gives %s', (accept, want) => {
    expect(negotiate(accept, offers)).toBe(want);
  });

  it.each([
    [GDAL_API_ACCEPT, 'application/vnd.oai.openapi+json;version=3.0'],
    ['application/vnd.oai.openapi+json', 'application/vnd.oai.openapi+json;version=3.0'],
    ['application/vnd.oai.openapi+json;version=3.1, application/json;q=0.5', 'application/json'], // not 3.1
    ['application/json; charset=utf-8', 'application/json'],
  ])('OpenAPI: Accept %j gives %s', (accept, want) => {
    expect(
      negotiate(accept, ['application/vnd.oai.openapi+json;version=3.0', 'application/json', 'text/html']),
    ).toBe(want);
  });
});

describe('sarbridge serve --cors-origin', () => {
  it('a malformed origin is a bad-input exit naming --cors-origin, before any catalog is opened', async () => {
    const tmp = tempDir('cors-cli-');
    try {
      for (const bad of ['https://a.example/app', 'http://ok.example,*']) {
        let err = '';
        const db = join(tmp.dir, 'catalog.db');
        const code = await runCli(['serve', '--catalog', db, '--cors-origin', bad], {
          stderr: (s) => (err += s),
        });
        expect(code, bad).toBe(1);
        expect(err, bad).toMatch(/^sarbridge: --cors-origin: expected an origin, scheme:\/\/host\[:port\]/);
        expect(existsSync(db), bad).toBe(false);
      }
    } finally {
      tmp.cleanup();
    }
  });

  it('Fetch §3.2.3: the origins given (space- and comma-separated) are allowed, others refused', async () => {
    const tmp = tempDir('cors-cli-');
    const main = join(import.meta.dirname, '..', 'src', 'cli', 'main.ts');
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        main,
        'serve',
        '--catalog',
        join(tmp.dir, 'catalog.db'),
        '--port',
        '0',
        '--cors-origin',
        'https://a.example',
        'https://b.example:8443,http://127.0.0.1:8600',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], cwd: join(import.meta.dirname, '..') },
    );
    const exited = new Promise((done) => child.on('close', done));
    try {
      let out = '';
      const listening = await new Promise<string>((done, fail) => {
        const timer = setTimeout(() => fail(new Error(`serve did not start: ${out}`)), 60_000);
        child.stdout.on('data', (d) => {
          out += d;
          const m = /"listening":\s*"([^"]+)"/.exec(out);
          if (m) {
            clearTimeout(timer);
            done(m[1]);
          }
        });
      });
      const preflight = (origin: string) =>
        fetch(`${listening}/search`, {
          method: 'OPTIONS',
          headers: {
            origin,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'authorization',
          },
        });
      for (const origin of ['https://a.example', 'https://b.example:8443', 'http://127.0.0.1:8600']) {
        const r = await preflight(origin);
        expect(r.status, origin).toBe(204);
        expect(r.headers.get('access-control-allow-origin'), origin).toBe(origin);
      }
      const r = await preflight('https://c.example');
      expect(r.status).toBe(403);
      expect(r.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      child.kill('SIGTERM');
      await exited;
      tmp.cleanup();
    }
  });
});

describe.each(catalogBackends())('CORS, HTML and the API description on $name', (backend) => {
  const tmp = tempDir('cors-html-');
  let store: CatalogStore;
  let server: Awaited<ReturnType<typeof testServer>>;
  let closed: Awaited<ReturnType<typeof testServer>>;
  let itemId = '';
  const inject = (
    method: string,
    url: string,
    headers: Record<string, string> = {},
    payload?: string,
    s = server,
  ) => s.app.inject({ method: method as 'GET', url, headers, payload });

  beforeAll(async () => {
    store = await backend.open(tmp.dir);
    mkdirSync(join(tmp.dir, 'sar'), { recursive: true });
    writeFileSync(join(tmp.dir, ASSET), BYTES);
    server = await testServer(store, { assetRoot: tmp.dir, publicUrl: BASE, corsOrigins: [ALLOWED] });
    closed = await testServer(store, { assetRoot: tmp.dir, publicUrl: BASE });
    const h = { ...server.admin, 'content-type': 'application/json' };
    expect(
      (await inject('POST', '/collections', h, JSON.stringify(syntheticCollection('sar')))).statusCode,
    ).toBe(201);
    const [item] = [...syntheticItems(1, 12, 'sar')];
    itemId = item.id;
    const r = await inject('POST', '/collections/sar/items', h, JSON.stringify(item));
    expect(r.statusCode, r.body).toBe(201);
  });
  afterAll(async () => {
    await server?.close();
    await closed?.close();
    await store?.close();
    await backend.cleanup?.();
    tmp.cleanup();
  });

  const assetUrl = () => `/collections/sar/items/${itemId}/assets/data`;
  const preflightRows = () => [
    ['/search', 'POST', 'authorization,content-type'],
    ['/search', 'GET', 'authorization'],
    [assetUrl(), 'GET', 'authorization,range,if-none-match'],
    [`/collections/sar/items/${itemId}`, 'PUT', 'authorization,content-type,if-match'],
    ['/collections/sar/items', 'POST', 'authorization,content-type'],
    ['/collections/no-such-collection/items', 'GET', 'authorization'],
    ['/', 'GET', 'authorization'],
  ];

  it('Fetch §3.2.2/§3.2.3 CORS-preflight from an allowed origin: ok status, no credential needed, the origin itself (not *), the asked method and headers allowed, cached', async () => {
    for (const [path, method, headers] of preflightRows()) {
      const r = await inject('OPTIONS', path, {
        origin: ALLOWED,
        'access-control-request-method': method,
        'access-control-request-headers': headers,
      });
      const row = `${method} ${path}`;
      expect(r.statusCode, row).toBe(204);
      expect(r.body, row).toBe('');
      expect(r.headers['access-control-allow-origin'], row).toBe(ALLOWED);
      expect(list(r.headers['access-control-allow-methods']), row).toContain(method.toLowerCase());
      for (const h of headers.split(','))
        expect(list(r.headers['access-control-allow-headers']), `${row} ${h}`).toContain(h);
      expect(Number(r.headers['access-control-max-age']), row).toBeGreaterThan(0);
      expect(r.headers['access-control-allow-credentials'], row).toBeUndefined();
      expect(list(r.headers.vary), row).toContain('origin');
    }
  });

  it('Fetch §3.2.3 CORS-preflight from an origin not on the list: refused, no CORS header (the browser blocks the request)', async () => {
    const others = [
      'http://evil.example',
      'http://127.0.0.1:8601', // another port is another origin
      'https://127.0.0.1:8600', // another scheme too
      'null',
    ];
    for (const origin of others)
      for (const [path, method, headers] of preflightRows()) {
        const r = await inject('OPTIONS', path, {
          origin,
          'access-control-request-method': method,
          'access-control-request-headers': headers,
        });
        const row = `${origin} ${method} ${path}`;
        expect(r.statusCode, row).toBe(403);
        expect(corsHeaders(r), row).toEqual([]);
        expect(r.json(), row).toMatchObject({ code: 'Forbidden' });
        expect(r.json().description, row).toContain('origin');
      }
  });

  it('Fetch §3.2.1 with no allow-list (the default) no response carries an Access-Control-* header and every preflight is refused', async () => {
    const p = await inject(
      'OPTIONS',
      '/search',
      {
        origin: ALLOWED,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization',
      },
      undefined,
      closed,
    );
    expect(p.statusCode).toBe(403);
    expect(corsHeaders(p)).toEqual([]);
    for (const url of ['/', '/search', assetUrl(), '/collections/none'])
      expect(
        corsHeaders(await inject('GET', url, { origin: ALLOWED, ...closed.admin }, undefined, closed)),
        url,
      ).toEqual([]);
  });

  it('RFC 9110 §9.3.7 OPTIONS without the preflight headers answers 204 (OPTIONS /search answered 404 before)', async () => {
    for (const path of ['/search', '/', '/collections/sar/items'])
      expect((await inject('OPTIONS', path)).statusCode, path).toBe(204);
  });

  it('Fetch §3.2.3 CORS check: every response to an allowed origin carries that origin, errors included, with Vary: Origin', async () => {
    const rows: [string, string, Record<string, string>, number][] = [
      ['GET', '/search', server.admin, 200],
      ['POST', '/search', { ...server.admin, 'content-type': 'application/json' }, 200],
      ['GET', '/search', {}, 401],
      ['GET', '/collections/no-such-collection', server.admin, 404],
      ['GET', '/search?bbox=1,2', server.admin, 400],
      ['GET', '/', {}, 200],
    ];
    for (const [method, url, headers, status] of rows) {
      const r = await inject(
        method,
        url,
        { origin: ALLOWED, ...headers },
        method === 'POST' ? '{}' : undefined,
      );
      const row = `${method} ${url}`;
      expect(r.statusCode, row).toBe(status);
      expect(r.headers['access-control-allow-origin'], row).toBe(ALLOWED);
      expect(list(r.headers.vary), row).toContain('origin');
      // The authenticated responses keep varying on the credential too.
      if (headers.authorization) expect(list(r.headers.vary), row).toContain('authorization');
      expect(list(r.headers['access-control-expose-headers']), row).toEqual(
        expect.arrayContaining(['x-request-id', 'www-authenticate', 'retry-after', 'location', 'etag']),
      );
    }
  });

  it('Fetch §3.2.3 a response to an origin not on the list has no CORS header but Vary: Origin (a shared cache must not serve it to the allowed one)', async () => {
    const r = await inject('GET', '/search', { origin: 'http://evil.example', ...server.admin });
    expect(r.statusCode).toBe(200);
    expect(corsHeaders(r)).toEqual([]);
    expect(list(r.headers.vary)).toEqual(expect.arrayContaining(['origin', 'authorization']));
  });

  it('Fetch §3.2.3 Access-Control-Expose-Headers: a Range read of an asset from an allowed origin exposes Accept-Ranges and Content-Range (RFC 9110 §14.4)', async () => {
    const r = await inject('GET', assetUrl(), { origin: ALLOWED, range: 'bytes=100-199', ...server.admin });
    expect(r.statusCode).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes 100-199/${BYTES.length}`);
    expect(r.headers['accept-ranges']).toBe('bytes');
    expect(Buffer.from(r.rawPayload).equals(BYTES.subarray(100, 200))).toBe(true);
    expect(r.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(list(r.headers['access-control-expose-headers'])).toEqual(
      expect.arrayContaining(['accept-ranges', 'content-range', 'content-length', 'etag', 'last-modified']),
    );
  });

  it('STAC API Core §Link relations: the landing page links service-desc (OpenAPI 3.0 JSON) and service-doc (text/html), both answering in their declared types', async () => {
    const land = (await inject('GET', '/')).json();
    const desc = land.links.filter((l: { rel: string }) => l.rel === 'service-desc');
    const doc = land.links.filter((l: { rel: string }) => l.rel === 'service-doc');
    expect(desc).toEqual([expect.objectContaining({ type: 'application/vnd.oai.openapi+json;version=3.0' })]);
    expect(doc).toEqual([expect.objectContaining({ type: 'text/html' })]);
    for (const l of [...desc, ...doc]) {
      expect(l.href.startsWith(`${BASE}/`), l.href).toBe(true);
      expect(typeof l.title, l.rel).toBe('string');
      const r = await inject('GET', l.href.slice(BASE.length));
      expect(r.statusCode, l.href).toBe(200);
      expect(gdalAccepts(String(r.headers['content-type']), l.type), String(r.headers['content-type'])).toBe(
        true,
      );
    }
    const html = await inject('GET', doc[0].href.slice(BASE.length));
    expect(html.body).toMatch(/^<!DOCTYPE html>/);
    for (const path of ['/search', '/collections/{collectionId}/items', '/conformance'])
      expect(html.body, path).toContain(`<span class="path">${path.replace(/</g, '&lt;')}</span>`);
  });

  it('OGC API Common §content negotiation: / is JSON for clients (no Accept, */*, application/json) and HTML for a browser or ?f=html', async () => {
    const rows: [string, Record<string, string>, 'json' | 'html'][] = [
      ['/', {}, 'json'],
      ['/', { accept: '*/*' }, 'json'],
      ['/', { accept: 'application/json' }, 'json'],
      ['/', { accept: 'application/geo+json, application/json' }, 'json'], // GDAL's OGCAPI driver
      ['/', { accept: 'text/html, application/json' }, 'json'], // a tie keeps the default
      ['/', { accept: 'text/html;q=0.5, application/json' }, 'json'],
      ['/', { accept: 'image/png' }, 'json'], // nothing acceptable: Accept disregarded (RFC 9110 §12.5.1)
      ['/', { accept: BROWSER_ACCEPT }, 'html'],
      ['/', { accept: 'text/html' }, 'html'],
      ['/?f=html', {}, 'html'],
      ['/?f=html', { accept: 'application/json' }, 'html'],
      ['/?f=json', { accept: BROWSER_ACCEPT }, 'json'],
    ];
    for (const [url, headers, as] of rows) {
      const r = await inject('GET', url, headers);
      const row = `${url} ${JSON.stringify(headers)}`;
      expect(r.statusCode, row).toBe(200);
      expect(list(r.headers.vary), row).toContain('accept');
      if (as === 'json') {
        expect(r.headers['content-type'], row).toBe('application/json; charset=utf-8');
        expect(r.json().type, row).toBe('Catalog');
      } else {
        expect(r.headers['content-type'], row).toBe('text/html; charset=utf-8');
        expect(r.body, row).toMatch(/^<!DOCTYPE html>/);
      }
    }
  });

  it('OGC API Common §f parameter: an unknown f is a 400 naming the parameter', async () => {
    for (const url of ['/?f=xml', '/api?f=yaml', '/?f=', '/?f=html&f=json']) {
      const r = await inject('GET', url);
      expect(r.statusCode, url).toBe(400);
      expect(r.json().code, url).toBeTypeOf('string');
      expect(r.json().description, url).toMatch(/^f: expected one of json, html/);
    }
  });

  it('STAC API Core §landing page, HTML: links to the collections, the API documentation and the conformance classes; self-contained under its CSP', async () => {
    const r = await inject('GET', '/', { accept: BROWSER_ACCEPT, ...server.admin });
    const hrefs = [...r.body.matchAll(/href="([^"]*)"/g)].map((m) => m[1]);
    expect(hrefs).toEqual(
      expect.arrayContaining([
        `${BASE}/collections`,
        `${BASE}/api?f=html`,
        `${BASE}/conformance`,
        `${BASE}/collections/sar`,
      ]),
    );
    expect(r.body).toMatch(/<title>sarbridge<\/title>/);
    // No script, no resource from elsewhere: nothing the CSP would have to allow.
    expect(r.body).not.toMatch(/<script|<link|<img|<iframe|\ssrc=/i);
    // CSP Level 3 §hash: the policy allows exactly the inline style sheet the page has.
    const css = /<style>([\s\S]*?)<\/style>/.exec(r.body)?.[1] ?? '';
    const hash = createHash('sha256').update(css).digest('base64');
    const csp = String(r.headers['content-security-policy']);
    expect(csp).toContain(`style-src 'sha256-${hash}'`);
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|script-src/);
    // The JSON keeps the strict policy.
    expect((await inject('GET', '/')).headers['content-security-policy']).toBe(
      "default-src 'none'; frame-ancestors 'none'",
    );
  });

  it('OpenAPI 3.0 §media type / GDAL 3.6 OAPIF GetAPIDoc: /api answers in a type GDAL accepts for what it asks, and application/json when asked', async () => {
    const rows: [Record<string, string>, string, string][] = [
      [
        { accept: GDAL_API_ACCEPT },
        'application/vnd.oai.openapi+json;version=3.0',
        'application/vnd.oai.openapi+json',
      ],
      [{}, 'application/vnd.oai.openapi+json;version=3.0', 'application/vnd.oai.openapi+json'],
      [{ accept: '*/*' }, 'application/vnd.oai.openapi+json;version=3.0', 'application/vnd.oai.openapi+json'],
      [
        { accept: 'application/vnd.oai.openapi+json;version=3.0' },
        'application/vnd.oai.openapi+json;version=3.0',
        'application/vnd.oai.openapi+json',
      ],
      [{ accept: 'application/json' }, 'application/json', 'application/json'],
      [
        { accept: 'application/json, application/vnd.oai.openapi+json;version=3.0;q=0.5' },
        'application/json',
        'application/json',
      ],
    ];
    const openapi = (await inject('GET', '/api')).json();
    expect(openapi.openapi).toMatch(/^3\.0\.\d+$/);
    for (const [headers, gdalExpects, mediaType] of rows) {
      const r = await inject('GET', '/api', headers);
      const row = JSON.stringify(headers);
      const ct = String(r.headers['content-type']);
      expect(r.statusCode, row).toBe(200);
      expect(ct.split(';')[0], row).toBe(mediaType);
      expect(gdalAccepts(ct, gdalExpects), `${row} -> ${ct}`).toBe(true);
      expect(r.json(), row).toEqual(openapi);
      expect(list(r.headers.vary), row).toContain('accept');
    }
    // A browser gets the HTML documentation.
    const html = await inject('GET', '/api', { accept: BROWSER_ACCEPT });
    expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(html.body).toMatch(/<title>sarbridge API<\/title>/);
  });
});
