import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { basename, dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABEL_FIELD } from '../src/access/labels.js';
import { ALL } from '../src/access/scope.js';
import { testAccess } from '../src/access/testing.js';
import { simulateScene } from '../src/ops/simulate-scene.js';
import type { PipelineContext } from '../src/pipeline/context.js';
import { productId } from '../src/pipeline/ingest.js';
import { startWorkers } from '../src/pipeline/worker.js';
import { buildServer } from '../src/server/app.js';
import { tempDir } from './helpers/gdal.js';
import { openTestPipeline } from './helpers/pipeline.js';

const tmp = tempDir('uploads-');
const MAX_BYTES = 64 * 1024 * 1024;
const LABEL = { policy: 'NATO', classification: 'SECRET', categories: [] };
let pipeline: { ctx: PipelineContext; close: () => Promise<void> };
let access: ReturnType<typeof testAccess>;
let app: FastifyInstance;
let base: string;
let zipPath: string;
let zipBytes: Buffer;
let landPath: string;
const uploadsDir = () => join(tmp.dir, 'data', 'uploads');
const H: Record<string, Record<string, string>> = {};
const TUS = { 'tus-resumable': '1.0.0' };
const b64 = (s: string) => Buffer.from(s).toString('base64');
const sha256Hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const metadata = (m: Record<string, string>) =>
  Object.entries(m)
    .map(([k, v]) => `${k} ${b64(v)}`)
    .join(',');

async function create(who: string, sizeBytes: number, meta: string, extra: Record<string, string> = {}) {
  return fetch(`${base}/uploads`, {
    method: 'POST',
    headers: { ...H[who], ...TUS, 'upload-length': String(sizeBytes), 'upload-metadata': meta, ...extra },
  });
}

const patch = (url: string, who: string, offset: number, body: Buffer) =>
  fetch(url, {
    method: 'PATCH',
    headers: {
      ...H[who],
      ...TUS,
      'content-type': 'application/offset+octet-stream',
      'upload-offset': String(offset),
    },
    body,
  });

const head = (url: string, who: string) => fetch(url, { method: 'HEAD', headers: { ...H[who], ...TUS } });

/** A PATCH whose connection drops after `sent` of the `body`'s bytes (the client was interrupted). */
function interruptedPatch(url: string, who: string, offset: number, body: Buffer, sent: number) {
  return new Promise<void>((resolve) => {
    const req = request(url, {
      method: 'PATCH',
      headers: {
        ...H[who],
        ...TUS,
        'content-type': 'application/offset+octet-stream',
        'upload-offset': String(offset),
        'content-length': String(body.length),
      },
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.write(body.subarray(0, sent), () => setTimeout(() => req.destroy(), 200));
  });
}

async function until(done: () => Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!(await done())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  const r = await simulateScene(join(tmp.dir, 'scene'), { seed: 5, size: 256, ships: 3, safe: true });
  landPath = r.landPath;
  const safeDir = r.scenes[0].safe?.safeDir as string;
  zipPath = join(tmp.dir, `${basename(safeDir)}.zip`);
  // The SAFE zipped by Info-ZIP (measurements stored, as the zip reader takes them).
  execFileSync('zip', ['-q', '-r', '-n', '.tiff', zipPath, basename(safeDir)], { cwd: dirname(safeDir) });
  zipBytes = readFileSync(zipPath);
  pipeline = await openTestPipeline(join(tmp.dir, 'data'), { landMask: landPath });
  access = testAccess({ auth: { ratePerS: 1e6, burst: 1e6 } });
  const id = access.services.identity;
  id.createPrincipal('provider', 'user', { id: 'op', roles: ['provider-operator'] });
  id.createOrganisation({
    id: 'gbr',
    kind: 'partner',
    codes: ['GBR'],
    clearance: [{ policy: 'NATO', classification: 'TOP SECRET' }],
    caveats: [],
  });
  id.createPrincipal('gbr', 'user', { id: 'gbr-admin', roles: ['partner-admin'] });
  H['provider-admin'] = { authorization: `Bearer ${access.adminKey}` };
  H['provider-operator'] = { authorization: `Bearer ${id.createKey('user:op').key}` };
  H['partner-admin'] = { authorization: `Bearer ${id.createKey('user:gbr-admin').key}` };
  app = await buildServer({
    store: pipeline.ctx.catalog,
    access: access.services,
    pipeline: pipeline.ctx,
    uploads: { maxSizeBytes: MAX_BYTES },
    publicUrl: 'http://127.0.0.1',
  });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
}, 120_000);

afterAll(async () => {
  await app?.close();
  access?.close();
  await pipeline?.close();
  tmp.cleanup();
});

/** The upload's URL on this server (the Location names the public URL, not the port). */
const local = (location: string | null) => `${base}${new URL(location as string).pathname}`;

describe('uploads: a product in several PATCHes, interrupted and resumed', () => {
  it('is checked, ingested and published with its label; the answer names the product id', async () => {
    const sha = sha256Hex(zipBytes);
    const c = await create(
      'provider-operator',
      zipBytes.length,
      metadata({ sha256: sha, label: JSON.stringify(LABEL) }),
    );
    expect(c.status).toBe(201);
    const url = local(c.headers.get('location'));
    const third = Math.floor(zipBytes.length / 3);
    let r = await patch(url, 'provider-operator', 0, zipBytes.subarray(0, third));
    expect(r.status).toBe(204);
    expect(r.headers.get('upload-offset')).toBe(String(third));
    await interruptedPatch(url, 'provider-operator', third, zipBytes.subarray(third), third);
    const h = await head(url, 'provider-operator');
    expect(h.status).toBe(200);
    expect(h.headers.get('upload-length')).toBe(String(zipBytes.length));
    const offset = Number(h.headers.get('upload-offset'));
    expect(offset).toBeGreaterThanOrEqual(third);
    expect(offset).toBeLessThan(zipBytes.length);
    r = await patch(url, 'provider-operator', offset, zipBytes.subarray(offset));
    expect(r.status).toBe(204);
    const id = productId(sha);
    expect(r.headers.get('upload-product-id')).toBe(id);
    const g = await fetch(url, { headers: H['provider-operator'] });
    expect(await g.json()).toMatchObject({
      sizeBytes: zipBytes.length,
      offsetBytes: zipBytes.length,
      complete: true,
      state: 'ingested',
      productId: id,
    });

    const w = await startWorkers(pipeline.ctx.queue, pipeline.ctx);
    try {
      await until(
        async () => (await pipeline.ctx.registry.get(id))?.state !== 'processing',
        'the product to be published',
      );
    } finally {
      await w.close();
    }
    const p = await pipeline.ctx.registry.get(id);
    expect(p?.error ?? null).toBeNull();
    expect(p?.state).toBe('published');
    expect(p?.checksum).toBe(sha);
    const page = await pipeline.ctx.catalog.search({ ids: p?.itemIds, sortby: [], limit: 10 }, ALL);
    expect(page.items.length).toBeGreaterThan(0);
    for (const it of page.items) expect(it.properties[LABEL_FIELD]).toEqual(LABEL);
  }, 180_000);
});

describe('uploads: refused', () => {
  it('a wrong checksum: 460, the file kept, nothing ingested', async () => {
    const bytes = Buffer.concat([zipBytes, Buffer.from('tampered')]);
    const c = await create('provider-admin', bytes.length, metadata({ sha256: sha256Hex(zipBytes) }));
    expect(c.status).toBe(201);
    const url = local(c.headers.get('location'));
    const r = await patch(url, 'provider-admin', 0, bytes);
    expect(r.status).toBe(460);
    expect(await r.json()).toMatchObject({ code: 'ChecksumMismatch' });
    const uploadId = new URL(url).pathname.split('/').pop() as string;
    expect(readFileSync(join(uploadsDir(), uploadId)).equals(bytes)).toBe(true);
    expect(await pipeline.ctx.registry.get(productId(sha256Hex(bytes)))).toBeNull();
    expect(existsSync(join(tmp.dir, 'data', 'inbox', productId(sha256Hex(bytes))))).toBe(false);
    const g: unknown = await (await fetch(url, { headers: H['provider-admin'] })).json();
    expect(g).toMatchObject({ state: 'checksum-mismatch', productId: null, complete: true });
  });

  it('larger than the configured maximum: 413 before any byte is stored', async () => {
    const before = readdirSync(uploadsDir()).sort();
    const r = await create('provider-admin', MAX_BYTES + 1, metadata({ sha256: 'a'.repeat(64) }));
    expect(r.status).toBe(413);
    expect(readdirSync(uploadsDir()).sort()).toEqual(before);
  });

  it('a PATCH at an offset that is not the upload offset: 409, nothing written', async () => {
    const c = await create('provider-admin', 100, metadata({ sha256: 'b'.repeat(64) }));
    const url = local(c.headers.get('location'));
    expect((await patch(url, 'provider-admin', 0, Buffer.alloc(10, 1))).status).toBe(204);
    const r = await patch(url, 'provider-admin', 5, Buffer.alloc(10, 2));
    expect(r.status).toBe(409);
    expect((await head(url, 'provider-admin')).headers.get('upload-offset')).toBe('10');
  });

  it('a partner gets exactly what a route that does not exist answers', async () => {
    const c = await create('provider-admin', 100, metadata({ sha256: 'c'.repeat(64) }));
    const url = local(c.headers.get('location'));
    const path = new URL(url).pathname;
    const missing = await fetch(`${base}/no-such-route`, { method: 'POST', headers: H['partner-admin'] });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ code: 'NotFound', description: 'no route POST /no-such-route' });
    const tries: [string, () => Promise<Response>][] = [
      ['POST', () => create('partner-admin', 100, metadata({ sha256: 'c'.repeat(64) }))],
      ['GET', () => fetch(url, { headers: H['partner-admin'] })],
      ['PATCH', () => patch(url, 'partner-admin', 0, Buffer.alloc(10))],
    ];
    for (const [method, go] of tries) {
      const r = await go();
      expect(r.status, method).toBe(404);
      const p = method === 'POST' ? '/uploads' : path;
      expect(await r.json()).toEqual({ code: 'NotFound', description: `no route ${method} ${p}` });
    }
    expect((await head(url, 'partner-admin')).status).toBe(404);
    expect((await head(url, 'provider-admin')).headers.get('upload-offset')).toBe('0');
    const anon = await fetch(`${base}/uploads`, { method: 'POST', headers: TUS });
    const anonMissing = await fetch(`${base}/no-such-route`, { method: 'POST' });
    expect(anon.status).toBe(anonMissing.status);
  });

  const hex = 'd'.repeat(64);
  it.each([
    ['no sha256', metadata({ label: JSON.stringify(LABEL) }), {}, 400, /sha256: required/],
    ['a short sha256', metadata({ sha256: 'abc' }), {}, 400, /sha256: expected 64 hex digits/],
    [
      'a label that is no JSON',
      metadata({ sha256: hex, label: '{nope' }),
      {},
      400,
      /label: expected a JSON label/,
    ],
    [
      'a label of an unknown policy',
      metadata({ sha256: hex, label: JSON.stringify({ policy: 'XX', classification: 'SECRET' }) }),
      {},
      400,
      /label\/policy: unknown policy 'XX'/,
    ],
    [
      'a label of an unknown classification',
      metadata({ sha256: hex, label: JSON.stringify({ policy: 'NATO', classification: 'HUSH' }) }),
      {},
      400,
      /label\/classification: unknown classification 'HUSH'/,
    ],
    [
      'an unknown metadata key',
      metadata({ sha256: hex, path: '../../etc/passwd' }),
      {},
      400,
      /path: unknown key/,
    ],
    ['no Tus-Resumable', metadata({ sha256: hex }), { 'tus-resumable': '' }, 412, /./],
  ] as const)('%s', async (_name, meta, extra, status, message) => {
    const before = readdirSync(uploadsDir()).length;
    const r = await create('provider-admin', 100, meta, extra as Record<string, string>);
    expect(r.status).toBe(status);
    expect(await r.text()).toMatch(message);
    expect(readdirSync(uploadsDir()).length).toBe(before);
  });

  it('an upload id that is not one the server gives: 404', async () => {
    for (const id of ['x'.repeat(32), '0'.repeat(31), 'A'.repeat(32), '..%2fpipeline.db'])
      expect((await head(`${base}/uploads/${id}`, 'provider-admin')).status, id).toBe(404);
    expect(statSync(join(tmp.dir, 'data', 'pipeline.db')).isFile()).toBe(true);
  });
});
