/**
 * End to end (c): throughput of the whole pipeline, products per hour, on the embedded SQLite queue
 * and on BullMQ (a private redis-server on a free port, stopped by its pid after), with one and two
 * `sarbridge worker` processes (concurrency 1 each). Each configuration gets a fresh data directory;
 * the workers are started and ready first, then the clock runs from ingesting the PRODUCTS simulated
 * GRD SAFEs (one area, consecutive dates: every product after the first also makes a change) until
 * all are published.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { simulateScene } from '../src/ops/simulate-scene.js';
import { ingest } from '../src/pipeline/ingest.js';
import { load, openBenchPipeline, startRedis, startWorker, waitPublished } from './e2e-util.js';
import { fmt } from './util.js';

const PRODUCTS = 8;
const SCENE_SIZE = 1024;

async function once(
  dir: string,
  name: string,
  queue: (dataDir: string) => string,
  workers: number,
  safes: string[],
): Promise<{ perHour: number; seconds: number; load: string }> {
  const dataDir = join(dir, `data-tp-${name}-${workers}`);
  rmSync(dataDir, { recursive: true, force: true });
  const q = queue(dataDir);
  const { ctx, close } = await openBenchPipeline(dataDir, q);
  const ws = Array.from({ length: workers }, () => startWorker(dataDir, q, { concurrency: 1 }));
  try {
    await Promise.all(ws.map((w) => w.ready));
    const t0 = performance.now();
    const arrived = await ingest(ctx, safes);
    const ids = arrived.map((a) => a.id as string);
    await waitPublished(ctx.registry, ids, 1_800_000);
    const seconds = (performance.now() - t0) / 1000;
    const records = await Promise.all(ids.map((id) => ctx.registry.get(id)));
    const failed = records.filter((p) => p?.state !== 'published');
    if (failed.length) throw new Error(`e2e throughput ${name}: ${failed.length} products not published`);
    return { perHour: (PRODUCTS * 3600) / seconds, seconds, load: load() };
  } finally {
    await Promise.all(ws.map((w) => w.stop()));
    await close();
  }
}

export async function benchThroughput(dir: string): Promise<void> {
  const dates = Array.from({ length: PRODUCTS }, (_, i) =>
    new Date(Date.parse('2026-07-01T06:00:00Z') + i * 6 * 86_400_000).toISOString(),
  );
  const scene = await simulateScene(join(dir, 'tp-scene'), {
    seed: 21,
    size: SCENE_SIZE,
    ships: 20,
    dates,
    safe: true,
  });
  const safes = scene.scenes.map((s) => s.safe?.safeDir as string);
  const g = scene.scenes[0].safe?.geometry;
  const mpix = g ? (g.width * g.height) / 1e6 : Number.NaN;
  const redis = await startRedis();
  const rows: string[] = [];
  try {
    const queues: [string, (d: string) => string][] = [
      ['SQLite', (d) => join(d, 'queue.db')],
      ['BullMQ', () => `${redis.url}/${rows.length + 1}`],
    ];
    for (const [name, queue] of queues)
      for (const workers of [1, 2]) {
        const r = await once(dir, name, queue, workers, safes);
        rows.push(`| ${name} | ${workers} | ${fmt(r.seconds, 1)} | ${fmt(r.perHour, 0)} | ${r.load} |`);
        console.log(
          `e2e (c) ${name}, ${workers} worker(s): ${fmt(r.perHour, 0)} products/h (load ${r.load})`,
        );
      }
  } finally {
    await redis.stop();
  }
  console.log(
    `\n### (c) throughput: ${PRODUCTS} GRD SAFEs of ${g?.width} x ${g?.height} (${fmt(mpix, 2)} Mpix) each, arrival to published\n`,
  );
  console.log('| queue | worker processes | seconds | products/hour | load average |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows) console.log(r);
}
