/**
 * End to end (b): 20 small simulated GRD SAFEs (one area, 20 dates: 20 scenes and 19 changes) on the
 * SQLite queue, while a `sarbridge worker` process is killed with SIGKILL KILLS times, each at a random
 * moment 0-MAX_DELAY_MS after it started taking jobs, and restarted; then one worker finishes the run,
 * and the catalog and the outbox are counted: products lost, duplicate items, duplicate events.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ALL } from '../src/access/scope.js';
import { simulateScene } from '../src/ops/simulate-scene.js';
import { ingest } from '../src/pipeline/ingest.js';
import { mulberry32 } from '../src/util/random.js';
import { load, openBenchPipeline, sleep, startWorker, waitPublished } from './e2e-util.js';
import { fmt } from './util.js';

const PRODUCTS = 20;
const KILLS = 100;
const MAX_DELAY_MS = 2000;
const LEASE_MS = 1000;

export async function benchKill(dir: string): Promise<void> {
  const dataDir = join(dir, 'data-kill');
  rmSync(dataDir, { recursive: true, force: true });
  const queue = join(dataDir, 'queue.db');
  const dates = Array.from({ length: PRODUCTS }, (_, i) =>
    new Date(Date.parse('2026-06-01T06:00:00Z') + i * 6 * 86_400_000).toISOString(),
  );
  const scene = await simulateScene(join(dir, 'kill-scene'), {
    seed: 11,
    size: 256,
    ships: 6,
    dates,
    safe: true,
  });
  const { ctx, close } = await openBenchPipeline(dataDir, queue);
  try {
    const arrived = await ingest(
      ctx,
      scene.scenes.map((s) => s.safe?.safeDir as string),
    );
    const ids = arrived.map((a) => a.id as string);
    const rand = mulberry32(14);
    const t0 = performance.now();
    let kills = 0;
    let finishedBeforeKill = 0;
    while (kills < KILLS) {
      const w = startWorker(dataDir, queue, { leaseMs: LEASE_MS, concurrency: 2 });
      await w.ready;
      await sleep(rand() * MAX_DELAY_MS);
      if (w.child.exitCode !== null) throw new Error('e2e kill: a worker exited by itself');
      await w.kill();
      kills++;
      const now = await Promise.all(ids.map((id) => ctx.registry.get(id)));
      if (now.every((p) => p?.state !== 'processing')) finishedBeforeKill++;
    }
    const killSeconds = (performance.now() - t0) / 1000;
    const atLastKill = await Promise.all(ids.map((id) => ctx.registry.get(id)));
    const publishedAtLastKill = atLastKill.filter((p) => p?.state === 'published').length;
    const last = startWorker(dataDir, queue, { leaseMs: LEASE_MS, concurrency: 2 });
    await waitPublished(ctx.registry, ids, 600_000);
    await last.stop();
    const totalSeconds = (performance.now() - t0) / 1000;

    // From the catalog: each product's scene item once, each later pass's change item once.
    const page = await ctx.catalog.search({ collections: ['sar'], sortby: [], limit: 10_000 }, ALL);
    const itemIds = page.items.map((i) => i.id);
    const perProduct = new Map<string, { scene: number; change: number }>();
    for (const it of page.items) {
      const pid = String(it.properties['sarbridge:product_id']);
      const e = perProduct.get(pid) ?? { scene: 0, change: 0 };
      if (it.id.endsWith('-change')) e.change++;
      else e.scene++;
      perProduct.set(pid, e);
    }
    const products = await ctx.registry.list({ limit: 1000 });
    const byId = new Map(products.map((p) => [p.id, p]));
    const lost = ids.filter(
      (id) => byId.get(id)?.state !== 'published' || (perProduct.get(id)?.scene ?? 0) === 0,
    ).length;
    const duplicateItems =
      itemIds.length -
      new Set(itemIds).size +
      [...perProduct.values()].reduce((a, e) => a + Math.max(0, e.scene - 1) + Math.max(0, e.change - 1), 0);
    const changes = [...perProduct.values()].reduce((a, e) => a + Math.min(1, e.change), 0);
    const events = await ctx.catalog.events({ limit: 10_000 });
    const duplicateEvents = events.length - new Set(events.map((e) => e.productId)).size;
    const allSteps = (await Promise.all(products.map((p) => ctx.registry.steps(p.id)))).flat();
    const reruns = allSteps.filter((s) => s.attempts > 1).length;
    console.log(`\n### (b) kill test: ${PRODUCTS} products, ${KILLS} kill -9 of the worker process\n`);
    console.log('| | |\n|---|---:|');
    console.log(`| kills (SIGKILL at 0-${MAX_DELAY_MS} ms after ready, lease ${LEASE_MS} ms) | ${kills} |`);
    console.log(`| kills after every product was already published | ${finishedBeforeKill} |`);
    console.log(`| products published at the last kill | ${publishedAtLastKill} of ${PRODUCTS} |`);
    console.log(`| steps run more than once (a kill cut them short) | ${reruns} |`);
    console.log(
      `| time with kills, then to all published, s | ${fmt(killSeconds, 0)}, ${fmt(totalSeconds, 0)} |`,
    );
    console.log(`| items in the catalog (expected ${PRODUCTS + PRODUCTS - 1}) | ${itemIds.length} |`);
    console.log(`| change items (expected ${PRODUCTS - 1}) | ${changes} |`);
    console.log(`| **lost products** | **${lost}** |`);
    console.log(`| **duplicate items** | **${duplicateItems}** |`);
    console.log(`| **duplicate events** (${events.length} published events) | **${duplicateEvents}** |`);
    console.log(`| load average (1 min) | ${load()} |`);
  } finally {
    await close();
  }
}
