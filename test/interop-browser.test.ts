import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteCatalog } from '../src/catalog/sqlite/store.js';
import { syntheticCollection, syntheticItems } from '../src/catalog/synthetic.js';
import { tempDir } from './helpers/gdal.js';
import { testServer } from './helpers/server.js';

// Real clients against a listening sarbridge (issue 12, findings 1 and 9): Debian's Chromium, driven
// by playwright-core, reading the API from a page of another origin; GDAL 3.6's OGC API drivers.

const run = promisify(execFile);
const BYTES = randomBytes(4096);

/** A port nothing listens on now (the server's public URL must be known before it starts). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((done) => s.listen(0, '127.0.0.1', done));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((done) => s.close(() => done()));
  return port;
}

/**
 * The page another origin serves: its script reads sarbridge with an Authorization header (so the
 * browser sends a CORS preflight first), searches, reads a byte range of an asset and an error.
 */
const PAGE = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>partner app</title></head><body>
<script>
async function attempt(f) {
  try { return await f(); } catch (e) { return { error: e.name, message: String(e.message) }; }
}
window.probe = async (base, key, asset) => ({
  search: await attempt(async () => {
    const r = await fetch(base + '/search', {
      method: 'POST',
      headers: { Authorization: 'Bearer ' + key, 'Content-Type': 'application/json' },
      body: JSON.stringify({ limit: 5 }),
    });
    const body = await r.json();
    return { status: r.status, type: r.headers.get('content-type'), ids: body.features.map((f) => f.id) };
  }),
  range: await attempt(async () => {
    const r = await fetch(base + asset, { headers: { Authorization: 'Bearer ' + key, Range: 'bytes=100-199' } });
    const bytes = Array.from(new Uint8Array(await r.arrayBuffer()));
    return {
      status: r.status,
      contentRange: r.headers.get('content-range'),
      acceptRanges: r.headers.get('accept-ranges'),
      etag: r.headers.get('etag'),
      requestId: r.headers.get('x-request-id'),
      bytes,
    };
  }),
  unauthorized: await attempt(async () => {
    const r = await fetch(base + '/search', { headers: { Authorization: 'Bearer sb_not_a_key' } });
    return { status: r.status, challenge: r.headers.get('www-authenticate'), body: await r.json() };
  }),
});
</script></body></html>`;

describe('real clients against a listening sarbridge', () => {
  const tmp = tempDir('interop-browser-');
  const profile = tempDir('chromium-profile-');
  let store: SqliteCatalog;
  let server: Awaited<ReturnType<typeof testServer>>;
  let base = '';
  let key = '';
  let itemId = '';
  const pages: Server[] = [];
  const origins: { allowed: string; other: string } = { allowed: '', other: '' };
  let browser: BrowserContext;

  const pageServer = async (): Promise<string> => {
    const s = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(PAGE);
    });
    await new Promise<void>((done) => s.listen(0, '127.0.0.1', done));
    pages.push(s);
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  };

  beforeAll(async () => {
    origins.allowed = await pageServer();
    origins.other = await pageServer();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    store = new SqliteCatalog(join(tmp.dir, 'catalog.db'));
    mkdirSync(join(tmp.dir, 'sar'), { recursive: true });
    writeFileSync(join(tmp.dir, 'sar', '0.tif'), BYTES);
    server = await testServer(store, { assetRoot: tmp.dir, publicUrl: base, corsOrigins: [origins.allowed] });
    key = server.admin.authorization.replace(/^Bearer /, '');
    const h = { ...server.admin, 'content-type': 'application/json' };
    const c = await server.app.inject({
      method: 'POST',
      url: '/collections',
      headers: h,
      payload: JSON.stringify(syntheticCollection('sar')),
    });
    expect(c.statusCode, c.body).toBe(201);
    const [item] = [...syntheticItems(1, 3, 'sar')];
    itemId = item.id;
    const i = await server.app.inject({
      method: 'POST',
      url: '/collections/sar/items',
      headers: h,
      payload: JSON.stringify(item),
    });
    expect(i.statusCode, i.body).toBe(201);
    await server.app.listen({ host: '127.0.0.1', port });
    browser = await chromium.launchPersistentContext(profile.dir, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--no-proxy-server',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    for (const s of pages) await new Promise<void>((done) => s.close(() => done()));
    await server?.close();
    await store?.close();
    tmp.cleanup();
    profile.cleanup();
  });

  const probeFrom = async (origin: string) => {
    const page = await browser.newPage();
    try {
      await page.goto(`${origin}/`);
      return await page.evaluate(
        ([b, k, a]) =>
          (globalThis as unknown as { probe: (...s: string[]) => Promise<unknown> }).probe(b, k, a),
        [base, key, `/collections/sar/items/${itemId}/assets/data`],
      );
    } finally {
      await page.close();
    }
  };

  it('Fetch §3.2 CORS protocol, Chromium: a page of an allowed origin searches with an Authorization header (preflighted) and reads Content-Range of a Range request on an asset', async () => {
    const r = (await probeFrom(origins.allowed)) as Record<string, Record<string, unknown>>;
    expect(r.search).toEqual({ status: 200, type: 'application/geo+json; charset=utf-8', ids: [itemId] });
    expect(r.range).toMatchObject({
      status: 206,
      contentRange: `bytes 100-199/${BYTES.length}`,
      acceptRanges: 'bytes',
    });
    expect(r.range.bytes).toEqual(Array.from(BYTES.subarray(100, 200)));
    expect(r.range.etag).toMatch(/^(W\/)?"/);
    expect(r.range.requestId).toMatch(/^[0-9a-f-]{36}$/);
    // An error is readable too: the script sees why it was refused.
    expect(r.unauthorized).toMatchObject({ status: 401, body: { code: expect.any(String) } });
    expect(r.unauthorized.challenge).toMatch(/^Bearer /);
  });

  it('Fetch §3.2.3 CORS check, Chromium: from an origin not on the list every such fetch fails with a TypeError', async () => {
    const r = (await probeFrom(origins.other)) as Record<string, Record<string, unknown>>;
    for (const k of ['search', 'range', 'unauthorized'])
      expect(r[k], k).toMatchObject({ error: 'TypeError' });
  });

  it('STAC API Core §landing page, Chromium: / opens as an HTML page whose style sheet the CSP lets apply, and its service-doc link leads to the API documentation', async () => {
    const page = await browser.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    try {
      const res = await page.goto(`${base}/`);
      expect(res?.headers()['content-type']).toBe('text/html; charset=utf-8');
      expect(await page.title()).toBe('sarbridge');
      // The inline style sheet applied: body max-width 60rem.
      expect(await page.evaluate('getComputedStyle(document.body).maxWidth')).toBe('960px');
      // The JSON landing page (what clients get) names the same page as service-doc.
      const json = (await server.app.inject({ url: '/' })).json() as {
        links: { rel: string; href: string }[];
      };
      expect(json.links.find((l) => l.rel === 'service-doc')?.href).toBe(`${base}/api?f=html`);
      await Promise.all([page.waitForURL(`${base}/api?f=html`), page.click('text=API documentation')]);
      expect(await page.title()).toBe('sarbridge API');
      expect(await page.locator('.path', { hasText: /^\/search$/ }).count()).toBe(2);
      expect(await page.evaluate('getComputedStyle(document.body).maxWidth')).toBe('960px');
      expect(violations).toEqual([]);
    } finally {
      await page.close();
    }
  });

  const gdal = (tool: string, args: string[]) =>
    run(tool, args, {
      encoding: 'utf8',
      env: {
        ...process.env,
        GDAL_HTTP_HEADERS: `Authorization: Bearer ${key}`,
        CPL_CURL_VERBOSE: 'YES',
        GDAL_HTTP_TIMEOUT: '30',
      },
      maxBuffer: 64 * 1024 * 1024,
    });

  it('GDAL 3.6 OGCAPI driver: gdalinfo OGCAPI:<landing page> follows the data link and lists the collection', async () => {
    const { stdout, stderr } = await gdal('gdalinfo', [`OGCAPI:${base}/`]);
    expect(stdout).toContain('Driver: OGCAPI/OGCAPI');
    expect(stdout).toContain(`SUBDATASET_1_NAME=OGCAPI:${base}/collections/sar`);
    expect(stderr).not.toMatch(/ERROR/);
  });

  it('GDAL 3.6 OAPIF driver (what the OGCAPI driver opens for items): fetches the service-desc /api with its Accept and takes the reply (no "Unexpected Content-Type")', async () => {
    // An attribute filter makes GDAL read the API description (which parameters the items take).
    const { stdout, stderr } = await gdal('ogrinfo', [
      '-ro',
      '-al',
      '-where',
      `id = '${itemId}'`,
      `OAPIF:${base}`,
    ]);
    expect(stdout).toContain('Layer name: sar');
    expect(stdout).toMatch(new RegExp(`id \\(String\\) = ${itemId}`));
    // CPL_CURL_VERBOSE: the request GDAL made for the API description and the type it got.
    expect(stderr).toMatch(
      /> GET \/api HTTP\/1\.1[\s\S]*?Accept: application\/vnd\.oai\.openapi\+json;version=3\.0, application\/openapi\+json;version=3\.0, application\/json/,
    );
    expect(stderr).toMatch(
      /< content-type: application\/vnd\.oai\.openapi\+json;version=3\.0; charset=utf-8/i,
    );
    expect(stderr).not.toMatch(/Unexpected Content-Type|ERROR/);
  });
});
