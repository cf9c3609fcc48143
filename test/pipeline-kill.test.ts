import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL } from '../src/access/scope.js';
import { simulateScene } from '../src/ops/simulate-scene.js';
import { ingest } from '../src/pipeline/ingest.js';
import { openRegistry } from '../src/pipeline/open-registry.js';
import { STEPS } from '../src/pipeline/registry.js';
import { mulberry32 } from '../src/util/random.js';
import { SICD_CHIP } from './helpers/data.js';
import { tempDir } from './helpers/gdal.js';
import { openTestPipeline, QUEUE_KINDS, type QueueKind, testQueueLocation } from './helpers/pipeline.js';
import { freshDatabase } from './helpers/postgres.js';

const ROOT = join(import.meta.dirname, '..');
const MAIN = join(ROOT, 'test', 'helpers', 'pipeline-cli.ts');
const KILLS = 20;
const LEASE_MS = 1500;

const tmp = tempDir('pipeline-kill-');
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  tmp.cleanup();
});
const products: string[] = [];
let landPath = '';

beforeAll(async () => {
  const r = await simulateScene(join(tmp.dir, 'scene'), {
    seed: 7,
    size: 384,
    ships: 6,
    dates: [
      '2026-06-01T06:00:00Z',
      '2026-06-13T06:00:00Z',
      '2026-06-25T06:00:00Z',
      '2026-07-07T06:00:00Z',
      '2026-07-19T06:00:00Z',
    ],
    safe: true,
    sicdTemplate: SICD_CHIP,
  });
  landPath = r.landPath;
  for (const s of r.scenes) products.push(s.safe?.safeDir as string, s.sicd?.path as string);
}, 120_000);

/**
 * `sarbridge worker` as a child process on the data directory (and the PostgreSQL catalog and
 * registry at `db`, when given); `ready` resolves once it works.
 */
function worker(dataDir: string, queue: string, db?: string): ChildProcess & { ready: Promise<void> } {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      MAIN,
      'worker',
      '--data-dir',
      dataDir,
      '--queue',
      queue,
      '--lease-ms',
      String(LEASE_MS),
      '--concurrency',
      '1',
      '--land-mask',
      landPath,
      '--quiet',
      '--json',
      ...(db ? ['--db', db] : []),
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  ) as ChildProcess & { ready: Promise<void> };
  child.ready = new Promise<void>((done) => {
    let out = '';
    child.stdout?.on('data', (d) => {
      out += d;
      if (out.includes('"worker"')) done();
    });
    child.once('exit', () => done());
  });
  let err = '';
  child.stderr?.on('data', (d) => {
    err += d;
  });
  child.on('exit', (code, signal) => {
    if (signal !== 'SIGKILL' && signal !== 'SIGTERM' && code !== 0)
      console.error(`worker exited ${code}: ${err}`);
  });
  children.add(child);
  return child;
}

/** Workers that ended by themselves with an error (none should). */
const crashes: string[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each<QueueKind>(QUEUE_KINDS)(
  'pipeline on the %s queue (SQLite catalog and registry; PostgreSQL with Redis): kill -9 of worker processes at random moments',
  (kind) => {
    it(`after ${KILLS} kills, every product is published once: no lost product, no duplicate item or event`, async () => {
      const dataDir = join(tmp.dir, `data-${kind}`);
      const queue = await testQueueLocation(kind, dataDir, 2);
      // Scaled out: the Redis queue with the catalog and the registry in PostgreSQL, as workers on
      // several machines share them.
      const pgDb = kind === 'redis' ? await freshDatabase() : null;
      const db = pgDb?.url;
      const { ctx, close } = await openTestPipeline(dataDir, { queue, db });
      const arrived = await ingest(ctx, products);
      await close();
      expect(arrived.every((a) => a.added)).toBe(true);

      const registry = await openRegistry({ dataDir, db: db ?? join(dataDir, 'catalog.db') });
      expect(registry.backend).toBe(db ? 'postgres' : 'sqlite');
      const rand = mulberry32(2026);
      const unfinished = async () =>
        (await registry.list({ limit: 1000 })).filter((p) => p.state === 'processing').length;
      let kills = 0;
      let steps = new Map<string, string>();
      const hit = new Map<string, number>();
      const t0 = Date.now();
      try {
        // Kill the worker after it has finished k more steps (k random, at most what leaves a step for
        // each kill still to come: paced by progress, not time), 0-300 ms into the next step or between
        // two writes; then start another, 20 times.
        const doneSteps = async () => {
          let n = 0;
          for (const p of await registry.list({ limit: 1000 }))
            n += (await registry.steps(p.id)).filter((x) => x.state === 'done').length;
          return n;
        };
        while (kills < KILLS && (await unfinished()) > 0) {
          const w = worker(dataDir, queue, db);
          await w.ready;
          const since = new Date().toISOString();
          const left = products.length * STEPS.length - (await doneSteps());
          const k = Math.floor(rand() * Math.max(1, Math.floor(left / (KILLS - kills))));
          const target = (await doneSteps()) + k;
          const until = Date.now() + 30_000;
          while ((await doneSteps()) < target && Date.now() < until && w.exitCode === null) await sleep(20);
          await sleep(rand() * 300);
          if (w.exitCode !== null) break;
          const running: string[] = [];
          for (const st of STEPS) if (await registry.running(st, since)) running.push(st);
          const exited = new Promise((r) => w.once('exit', r));
          w.kill('SIGKILL');
          await exited;
          kills++;
          for (const st of running) hit.set(st, (hit.get(st) ?? 0) + 1);
          steps = new Map(
            (await registry.list({ limit: 1000 })).map((p) => [p.id, p.step] as [string, string]),
          );
        }
        const killedAt = [...steps.values()];
        console.log(
          `${kills} kills in ${((Date.now() - t0) / 1000).toFixed(0)} s (steps this worker had started and not finished at the kills: ${[...hit].map(([k, n]) => `${k} ${n}`).join(', ')}); at the last kill the products were at ${killedAt.join(', ')}`,
        );
        // Then one worker finishes the run.
        const last = worker(dataDir, queue, db);
        const deadline = Date.now() + 300_000;
        while ((await unfinished()) > 0 && Date.now() < deadline) await sleep(250);
        last.kill('SIGTERM');
        await new Promise((r) => last.once('exit', r));
      } finally {
        await registry.close();
      }
      expect(crashes).toEqual([]);
      expect(kills).toBe(KILLS);

      const { ctx: after, close: closeAfter } = await openTestPipeline(dataDir, { queue, db });
      try {
        const list = await after.registry.list({ limit: 1000 });
        expect(list.map((p) => [p.state, p.error])).toEqual(Array(products.length).fill(['published', null]));
        // Attempts that a kill cut short were run again.
        const rerun = (await Promise.all(list.map((p) => after.registry.steps(p.id))))
          .flat()
          .filter((s) => s.attempts > 1);
        console.log(
          `steps run again after a kill: ${rerun.map((s) => `${s.step} x${s.attempts}`).join(', ')}`,
        );
        expect(rerun.length).toBeGreaterThan(0);
        // Items: a scene per product and a change per later pass (SAFE and SICD each: 4 of 5), nothing else.
        const page = await after.catalog.search({ collections: ['sar'], sortby: [], limit: 1000 }, ALL);
        const ids = page.items.map((i) => i.id);
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids.sort()).toEqual(list.flatMap((p) => p.itemIds).sort());
        expect(ids).toHaveLength(products.length + 8);
        for (const p of list) expect(p.itemIds).toHaveLength(p.acquiredAt?.startsWith('2026-06-01') ? 1 : 2);
        // Each change is against the pass just before it (acquisition order), whatever the kills did.
        const byProduct = new Map(
          page.items.map((i) => [`${i.properties['sarbridge:product_id']}:${i.id.endsWith('-change')}`, i]),
        );
        for (const p of list.filter((q) => q.itemIds.length === 2)) {
          const prev = list
            .filter(
              (q) => q.geometryKey === p.geometryKey && (q.acquiredAt as string) < (p.acquiredAt as string),
            )
            .sort((a, b) => ((a.acquiredAt as string) < (b.acquiredAt as string) ? 1 : -1))[0];
          expect(byProduct.get(`${p.id}:true`)?.properties['sarbridge:derived_from']).toEqual([
            prev.itemIds[0],
            p.itemIds[0],
          ]);
        }
        // One event per product.
        const events = await after.catalog.events();
        expect(events.map((e) => e.productId).sort()).toEqual(list.map((p) => p.id).sort());
        // The store holds exactly the published assets: no orphaned object, none part-written.
        const hrefs = page.items.flatMap((i) => Object.values(i.assets).map((a) => a.href as string)).sort();
        const stored: string[] = [];
        for await (const o of after.store.list('')) stored.push(o.key);
        // Besides the arrival copies under inbox/<id>/ (each with its manifest).
        expect(stored.filter((k) => !k.startsWith('inbox/')).sort()).toEqual(hrefs);
        expect(stored.filter((k) => k.endsWith('/manifest.json') && k.startsWith('inbox/')).sort()).toEqual(
          list.map((p) => `inbox/${p.id}/manifest.json`).sort(),
        );
        const walk = (d: string): string[] =>
          readdirSync(d, { withFileTypes: true }).flatMap((e) =>
            e.isDirectory() ? walk(join(d, e.name)) : [e.name],
          );
        // A put killed midway leaves the local store's temporary file (never listed, never served),
        // which the sweep (workers run it at start for those older than 1 h) removes: with age 0, all.
        const partial = walk(join(dataDir, 'assets')).filter((n) => n.endsWith('.partial'));
        console.log(`temporary files of killed puts left in the local store: ${partial.length}`);
        expect(await after.store.sweepTemporaries(0)).toBe(partial.length);
        expect(walk(join(dataDir, 'assets')).filter((n) => n.endsWith('.partial'))).toEqual([]);
      } finally {
        await closeAfter();
        await pgDb?.drop();
      }
    }, 900_000);
  },
);

describe.each<QueueKind>(QUEUE_KINDS.filter((k) => k === 'redis'))(
  'pipeline scaled out (%s queue, PostgreSQL catalog and registry): two workers, one killed mid-job',
  (kind) => {
    it('the product is published once: one item, one event, the killed step run again by the other worker', async () => {
      const dataDir = join(tmp.dir, `two-workers-${kind}`);
      const queue = await testQueueLocation(kind, dataDir, 3);
      const pgDb = await freshDatabase();
      const db = pgDb.url;
      const { ctx, close } = await openTestPipeline(dataDir, { queue, db });
      const mine: ChildProcess[] = [];
      try {
        // Worker A alone, so the step running when it is killed is A's; B starts after the kill and
        // takes the job over once A's lease has run out.
        const a = worker(dataDir, queue, db);
        mine.push(a);
        await a.ready;
        const [arrived] = await ingest(ctx, [products[0]]);
        const id = arrived.id as string;
        const t0 = Date.now();
        while (!(await ctx.registry.running('ard')) && Date.now() - t0 < 120_000) await sleep(10);
        const exited = new Promise((r) => a.once('exit', r));
        a.kill('SIGKILL');
        await exited;
        expect((await ctx.registry.step(id, 'ard'))?.state).toBe('running');
        const b = worker(dataDir, queue, db);
        mine.push(b);
        await b.ready;
        const deadline = Date.now() + 300_000;
        while ((await ctx.registry.get(id))?.state === 'processing' && Date.now() < deadline)
          await sleep(100);
        const p = await ctx.registry.get(id);
        expect([p?.state, p?.error]).toEqual(['published', null]);
        // B ran the killed attempt again after A's lease ran out.
        expect((await ctx.registry.step(id, 'ard'))?.attempts).toBeGreaterThanOrEqual(2);
        const page = await ctx.catalog.search({ collections: ['sar'], sortby: [], limit: 100 }, ALL);
        expect(page.items.map((i) => [i.id, i.properties['sarbridge:product_id']])).toEqual([
          [p?.itemIds[0], id],
        ]);
        expect(p?.itemIds).toHaveLength(1);
        const events = await ctx.catalog.events();
        expect(events.map((e) => [e.eventKey, e.productId, e.itemIds])).toEqual([
          [`published:${id}`, id, p?.itemIds],
        ]);
        // The state is in PostgreSQL, not in a file of one machine.
        const c = new pg.Client({ connectionString: db });
        await c.connect();
        const rows = await c.query('SELECT state FROM pipeline_products WHERE id = $1', [id]);
        await c.end();
        expect(rows.rows).toEqual([{ state: 'published' }]);
        expect(existsSync(join(dataDir, 'pipeline.db'))).toBe(false);
        b.kill('SIGTERM');
        await new Promise((r) => b.once('exit', r));
      } finally {
        for (const w of mine) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
        await close();
        await pgDb.drop();
      }
      expect(crashes).toEqual([]);
    }, 600_000);
  },
);
