import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../src/access/audit-record.js';
import { testAccess } from '../src/access/testing.js';
import type { JobRecord } from '../src/jobs/queue.js';
import type { PipelineContext } from '../src/pipeline/context.js';
import { ingest } from '../src/pipeline/ingest.js';
import { startWorkers } from '../src/pipeline/worker.js';
import { buildServer } from '../src/server/app.js';
import { tempDir } from './helpers/gdal.js';
import { openTestPipeline } from './helpers/pipeline.js';

const tmp = tempDir('jobs-api-');
let pipeline: { ctx: PipelineContext; close: () => Promise<void> };
let access: ReturnType<typeof testAccess>;
let app: FastifyInstance;
let base: string;
/** Authorization headers per role. */
const H: Record<string, Record<string, string>> = {};
/** The junk products: not SAFE, SICD or GeoTIFF, so their read step fails for good. */
const junk: { id: string; path: string }[] = [];
let webhookJob: string;
let otherFailedJob: string;

const get = (path: string, who: string | null) => fetch(`${base}${path}`, { headers: who ? H[who] : {} });
const post = (path: string, who: string) => fetch(`${base}${path}`, { method: 'POST', headers: H[who] });

/** Poll until `done` holds (the workers run in this process). */
async function until(done: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!(await done())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Run the pipeline's workers until every junk product has failed again. */
async function runUntilFailed(): Promise<void> {
  const w = await startWorkers(pipeline.ctx.queue, pipeline.ctx);
  try {
    await until(
      async () =>
        (await Promise.all(junk.map((j) => pipeline.ctx.registry.get(j.id)))).every(
          (p) => p?.state === 'failed',
        ),
      'the junk products to fail',
    );
  } finally {
    await w.close();
  }
}

const auditOf = (resource: string) =>
  (access.services.audit.query({ action: 'admin', limit: 10_000 }) as AuditRecord[]).filter(
    (r) => r.resource === resource,
  );

beforeAll(async () => {
  pipeline = await openTestPipeline(join(tmp.dir, 'data'), { landMask: 'none' });
  access = testAccess({ auth: { ratePerS: 1e6, burst: 1e6 } });
  const id = access.services.identity;
  id.createPrincipal('provider', 'user', { id: 'op', roles: ['provider-operator'] });
  id.createOrganisation({
    id: 'gbr',
    kind: 'partner',
    codes: ['GBR'],
    clearance: [{ policy: 'NATO', classification: 'SECRET' }],
    caveats: [],
  });
  id.createPrincipal('gbr', 'user', { id: 'gbr-admin', roles: ['partner-admin'] });
  id.createPrincipal('gbr', 'user', { id: 'gbr-analyst', roles: ['partner-analyst'] });
  const bearer = (p: string) => ({ authorization: `Bearer ${id.createKey(p).key}` });
  H['provider-admin'] = { authorization: `Bearer ${access.adminKey}` };
  H['provider-operator'] = bearer('user:op');
  H['partner-admin'] = bearer('user:gbr-admin');
  H['partner-analyst'] = bearer('user:gbr-analyst');

  for (const [k, name] of ['junk-a.tif', 'junk-b.nitf'].entries()) {
    const path = join(tmp.dir, name);
    writeFileSync(path, Buffer.alloc(4096, 17 + k));
    const [r] = await ingest(pipeline.ctx, [path]);
    junk.push({ id: r.id as string, path });
  }
  await runUntilFailed();
  // A job of another kind that no worker here takes (it stays waiting), and one that fails for good.
  webhookJob = (await pipeline.ctx.queue.add({ name: 'webhook.deliver', payload: { to: 'x' } })).id;
  otherFailedJob = (await pipeline.ctx.queue.add({ name: 'other.fail', payload: {}, attempts: 1 })).id;
  const w = pipeline.ctx.queue.work({
    'other.fail': async () => {
      throw new Error('planted failure');
    },
  });
  for (let i = 0; i < 200 && (await pipeline.ctx.queue.get(otherFailedJob))?.state !== 'failed'; i++)
    await new Promise((r) => setTimeout(r, 50));
  await w.close();

  app = await buildServer({
    store: pipeline.ctx.catalog,
    access: access.services,
    pipeline: pipeline.ctx,
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

/** The read step's job of a junk product (the step that fails: the bytes are no product). */
const readJob = async (productId: string) =>
  (await pipeline.ctx.registry.step(productId, 'read'))?.jobId as string;

describe('operator API: who may see it', () => {
  const paths = async () => [
    '/admin/jobs',
    `/admin/jobs/${await readJob(junk[0].id)}`,
    '/admin/products',
    `/admin/products/${junk[0].id}`,
  ];

  it.each(['provider-admin', 'provider-operator'])('%s reads every route', async (who) => {
    for (const p of await paths()) expect((await get(p, who)).status, p).toBe(200);
  });

  it.each(['partner-admin', 'partner-analyst'])(
    '%s gets exactly what a route that does not exist answers',
    async (who) => {
      const missing = await get('/admin/no-such-route', who);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toEqual({
        code: 'NotFound',
        description: 'no route GET /admin/no-such-route',
      });
      for (const p of [
        ...(await paths()),
        '/admin/jobs/999999',
        '/admin/products/p000000000000000000000000',
      ]) {
        const r = await get(p, who);
        expect(r.status, p).toBe(404);
        expect(await r.json()).toEqual({ code: 'NotFound', description: `no route GET ${p}` });
      }
      const before = auditOf(`/admin/jobs/${await readJob(junk[0].id)}`).length;
      const r = await post(`/admin/jobs/${await readJob(junk[0].id)}/retry`, who);
      expect(r.status).toBe(404);
      expect((await pipeline.ctx.queue.get(await readJob(junk[0].id)))?.state).toBe('failed');
      expect((await pipeline.ctx.registry.get(junk[0].id))?.state).toBe('failed');
      expect(auditOf(`/admin/jobs/${await readJob(junk[0].id)}`).length).toBe(before);
    },
  );

  it('without a credential: 401', async () => {
    for (const p of await paths()) expect((await get(p, null)).status, p).toBe(401);
  });
});

describe('GET /admin/jobs', () => {
  it('state=failed lists the failed read steps of the junk products and the failed job of another kind', async () => {
    const r = await get('/admin/jobs?state=failed', 'provider-operator');
    const body = (await r.json()) as { jobs: JobRecord[]; counts: Record<string, number> };
    expect(new Set(body.jobs.map((j) => j.id))).toEqual(
      new Set([...(await Promise.all(junk.map((j) => readJob(j.id)))), otherFailedJob]),
    );
    for (const j of body.jobs) expect(j.state).toBe('failed');
    expect(body.counts.failed).toBe(3);
    const reads = body.jobs.filter((j) => j.name === 'pipeline.read');
    for (const j of reads) expect(j.error).toMatch(/junk-[ab]\.(tif|nitf)/);
  });

  it('name= filters by job name; state and name together', async () => {
    const verify = (await (await get('/admin/jobs?name=pipeline.verify', 'provider-admin')).json()) as {
      jobs: JobRecord[];
    };
    expect(verify.jobs.map((j) => j.name)).toEqual(['pipeline.verify', 'pipeline.verify']);
    expect(verify.jobs.every((j) => j.state === 'completed')).toBe(true);
    const hook = (await (
      await get('/admin/jobs?name=webhook.deliver&state=waiting', 'provider-admin')
    ).json()) as { jobs: JobRecord[] };
    expect(hook.jobs.map((j) => j.id)).toEqual([webhookJob]);
    const none = (await (
      await get('/admin/jobs?name=webhook.deliver&state=failed', 'provider-admin')
    ).json()) as {
      jobs: JobRecord[];
    };
    expect(none.jobs).toEqual([]);
  });

  it('pages: limit and offset walk the whole list once, with a next link while a page is full', async () => {
    const all = (await (await get('/admin/jobs?limit=1000', 'provider-admin')).json()) as {
      jobs: JobRecord[];
    };
    // verify and read of two products, the webhook and the failed other job
    expect(all.jobs.length).toBe(6);
    const seen: string[] = [];
    let next: string | undefined = '/admin/jobs?limit=4';
    while (next) {
      const page = (await (await get(next, 'provider-admin')).json()) as {
        jobs: JobRecord[];
        links: { rel: string; href: string }[];
      };
      seen.push(...page.jobs.map((j) => j.id));
      next = page.links.find((l) => l.rel === 'next')?.href.replace(/^http:\/\/127\.0\.0\.1/, '');
      expect(page.links.find((l) => l.rel === 'self')?.href).toMatch(
        /^http:\/\/127\.0\.0\.1\/admin\/jobs\?limit=4&offset=\d+$/,
      );
      if (seen.length > 20) throw new Error('paging does not end');
    }
    expect(seen.sort()).toEqual(all.jobs.map((j) => j.id).sort());
  });

  it.each([
    [
      '/admin/jobs?state=done',
      /^state: expected one of waiting, delayed, active, completed, failed, got 'done'$/,
    ],
    ['/admin/jobs?state=failed&state=waiting', /^state: give it once, got 2 values$/],
    ['/admin/jobs?limit=0', /^limit: expected a whole number from 1 to 1000, got '0'$/],
    ['/admin/jobs?limit=1001', /^limit: expected a whole number from 1 to 1000, got '1001'$/],
    ['/admin/jobs?limit=ten', /^limit: expected a whole number from 1 to 1000, got 'ten'$/],
    ['/admin/jobs?offset=-1', /^offset: expected a whole number from 0 to 1000000000000, got '-1'$/],
    ['/admin/jobs?name=a%20b', /^name: expected a job name such as pipeline.ard, got 'a b'$/],
    ['/admin/products?state=done', /^state: expected one of processing, published, failed, got 'done'$/],
    ['/admin/products?limit=x', /^limit: expected a whole number from 1 to 1000, got 'x'$/],
  ])('%s is a 400 naming the parameter', async (path, msg) => {
    const r = await get(path, 'provider-admin');
    expect(r.status).toBe(400);
    expect(((await r.json()) as { description: string }).description).toMatch(msg);
  });

  it.each([
    '/admin/jobs/999999',
    '/admin/jobs/abc$',
    '/admin/products/p000000000000000000000000',
    '/admin/products/P123',
  ])('%s is a 404 for the provider too', async (path) => {
    const r = await get(path, 'provider-admin');
    expect(r.status).toBe(404);
  });
});

describe('GET /admin/products', () => {
  it("shows each product's steps: verify done with its time, read failed with the reason", async () => {
    const list = (await (await get('/admin/products?state=failed', 'provider-operator')).json()) as {
      products: { id: string; state: string; step: string; error: string }[];
      counts: { products: Record<string, number> };
    };
    expect(new Set(list.products.map((p) => p.id))).toEqual(new Set(junk.map((j) => j.id)));
    expect(list.counts.products.failed).toBe(2);
    const one = (await (await get(`/admin/products/${junk[0].id}`, 'provider-operator')).json()) as {
      state: string;
      step: string;
      error: string;
      sourcePath: string;
      steps: {
        step: string;
        state: string;
        attempts: number;
        durationMs: number | null;
        error: string | null;
      }[];
      jobs: JobRecord[];
    };
    expect(one.state).toBe('failed');
    expect(one.step).toBe('read');
    expect(one.sourcePath).toBe(junk[0].path);
    expect(one.steps.map((s) => [s.step, s.state])).toEqual([
      ['verify', 'done'],
      ['read', 'failed'],
    ]);
    expect(one.steps[0].durationMs).toBeGreaterThanOrEqual(0);
    expect(one.steps[1].error).toMatch(/junk-a\.tif/);
    expect(one.error).toMatch(/^read: /);
    expect(one.jobs.map((j) => j.name)).toEqual(['pipeline.verify', 'pipeline.read']);
  });
});

describe('POST /admin/jobs/:id/retry', () => {
  it("a failed step's job: the product is processing again, the retry is audited, and the step runs again", async () => {
    const job = await readJob(junk[0].id);
    const r = await post(`/admin/jobs/${job}/retry`, 'provider-operator');
    expect(r.status, await r.clone().text()).toBe(200);
    expect(((await r.json()) as JobRecord).state).toBe('waiting');
    const p = await pipeline.ctx.registry.get(junk[0].id);
    expect(p?.state).toBe('processing');
    expect(p?.error).toBeNull();
    expect((await pipeline.ctx.registry.step(junk[0].id, 'read'))?.failures).toBe(0);
    const rec = auditOf(`/admin/jobs/${job}`);
    expect(rec.map((x) => [x.actor, x.result, x.detail.op, x.detail.product])).toEqual([
      ['user:op', 'ok', 'retry', junk[0].id],
    ]);
    // Retrying a job that is not failed is refused (409), and that is audited too.
    const again = await post(`/admin/jobs/${job}/retry`, 'provider-admin');
    expect(again.status).toBe(409);
    expect(((await again.json()) as { description: string }).description).toMatch(/is waiting, not failed/);
    expect(auditOf(`/admin/jobs/${job}`).map((x) => [x.actor, x.result])).toEqual([
      ['user:op', 'ok'],
      ['user:admin', 'refused'],
    ]);
    // The bytes are still no product: the read step runs again and fails again, visibly.
    await runUntilFailed();
    const after = await pipeline.ctx.queue.get(job);
    expect(after?.state).toBe('failed');
    expect(after?.attempt).toBe(1);
    expect((await pipeline.ctx.registry.get(junk[0].id))?.error).toMatch(/^read: .*junk-a\.tif/);
  });

  it('a failed job of another kind is put back to waiting', async () => {
    const r = await post(`/admin/jobs/${otherFailedJob}/retry`, 'provider-admin');
    expect(r.status).toBe(200);
    expect((await pipeline.ctx.queue.get(otherFailedJob))?.state).toBe('waiting');
    expect(auditOf(`/admin/jobs/${otherFailedJob}`).map((x) => [x.actor, x.result, x.detail.name])).toEqual([
      ['user:admin', 'ok', 'other.fail'],
    ]);
  });

  it('an unknown job: 404, audited as not-found', async () => {
    const r = await post('/admin/jobs/424242/retry', 'provider-admin');
    expect(r.status).toBe(404);
    expect(auditOf('/admin/jobs/424242').map((x) => x.result)).toEqual(['not-found']);
  });
});
