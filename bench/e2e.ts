/**
 * End to end: products through the real pipeline run by `sarbridge worker` child processes.
 * (a) A 100 Mpix simulated IW GRDH SAFE (10,000 x 10,000) arriving -> item, detections and change
 *     published, with a previous acquisition of the same area and geometry published first: wall time
 *     from ingest() to 'published' (p50 of RUNS runs, a fresh worker process each), each step's time
 *     from the registry, the worker's CPU seconds and peak RSS (VmHWM from /proc).
 * (b) Kill test (e2e-kill.ts) and (c) throughput (e2e-throughput.ts).
 * SARBRIDGE_BENCH_E2E_SIZE=<pixels> runs (a) on another square, SARBRIDGE_BENCH_E2E_RUNS=<n> measures n
 * runs, SARBRIDGE_BENCH_E2E_PARTS=a,b,c chooses the parts (default all).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ingest } from '../src/pipeline/ingest.js';
import { STEPS } from '../src/pipeline/registry.js';
import { benchKill } from './e2e-kill.js';
import { benchThroughput } from './e2e-throughput.js';
import { load, openBenchPipeline, seaSafe, startWorker, waitPublished } from './e2e-util.js';
import { benchDir, fmt, median } from './util.js';

/** Measured runs (SARBRIDGE_BENCH_E2E_RUNS for fewer, in a smoke run). */
const RUNS = Number(process.env.SARBRIDGE_BENCH_E2E_RUNS ?? 3);
const TARGET_S = 30;

interface Run {
  seconds: number;
  steps: Record<string, number>;
  cpuSeconds: number | null;
  peakRssMiB: number | null;
  load: string;
  vessels: number;
  changeAreas: number;
  sizes: {
    productBytes: number;
    cogBytes: number;
    pngBytes: number;
    detectionsBytes: number;
    changeBytes: number;
    itemBytes: number;
  };
}

interface GrdSize {
  width: number;
  height: number;
}

async function benchLarge(dir: string, size: GrdSize): Promise<Run[]> {
  const dataDir = join(dir, 'data-large');
  rmSync(dataDir, { recursive: true, force: true });
  const queue = join(dataDir, 'queue.db');
  const products = join(dir, `products-${size.width}x${size.height}`);
  const safes: string[] = [];
  const g0 = performance.now();
  // The same area and geometry 12 days apart: the first is the previous acquisition of the second ...
  for (let k = 0; k <= RUNS; k++) {
    const date = new Date(Date.parse('2026-06-01T17:30:00Z') + k * 12 * 86_400_000).toISOString();
    safes.push(await seaSafe(join(products, `d${k}`), date, 100 + k, size.width, size.height));
  }
  console.log(
    `e2e (a): ${RUNS + 1} simulated GRD SAFEs of ${size.width} x ${size.height} written in ${fmt((performance.now() - g0) / 1000, 0)} s (load ${load()})`,
  );
  const { ctx, close } = await openBenchPipeline(dataDir, queue);
  const runs: Run[] = [];
  try {
    for (let k = 0; k <= RUNS; k++) {
      const w = startWorker(dataDir, queue, { concurrency: 1 });
      await w.ready;
      const cpu0 = w.cpuSeconds() ?? 0;
      const t0 = performance.now();
      const [r] = await ingest(ctx, [safes[k]]);
      if (!r.id) throw new Error(`e2e: ${safes[k]} was not taken: ${r.error}`);
      await waitPublished(ctx.registry, [r.id], 1_800_000);
      const seconds = (performance.now() - t0) / 1000;
      const cpu = w.cpuSeconds();
      const peak = w.peakRssMiB();
      await w.stop();
      const p = await ctx.registry.get(r.id);
      if (p?.state !== 'published') throw new Error(`e2e: ${r.id} ${p?.state}: ${p?.error}`);
      const steps: Record<string, number> = {};
      const res: Record<string, Record<string, unknown>> = {};
      for (const s of await ctx.registry.steps(r.id)) {
        steps[s.step] = (s.durationMs ?? Number.NaN) / 1000;
        res[s.step] = (s.result ?? {}) as Record<string, unknown>;
      }
      const ard = res.ard as { cog: { sizeBytes: number }; png: { sizeBytes: number }; item: unknown };
      const det = res.detect as { vessels: number; file: { sizeBytes: number } };
      const ch = res.change as {
        areas?: number;
        tif?: { sizeBytes: number };
        geojson?: { sizeBytes: number };
      };
      const run: Run = {
        seconds,
        steps,
        cpuSeconds: cpu === null ? null : cpu - cpu0,
        peakRssMiB: peak,
        load: load(),
        vessels: det.vessels,
        changeAreas: ch.areas ?? 0,
        sizes: {
          productBytes: p.sizeBytes,
          cogBytes: ard.cog.sizeBytes,
          pngBytes: ard.png.sizeBytes,
          detectionsBytes: det.file.sizeBytes,
          changeBytes: (ch.tif?.sizeBytes ?? 0) + (ch.geojson?.sizeBytes ?? 0),
          itemBytes: JSON.stringify(ard.item).length,
        },
      };
      console.log(
        `e2e (a) ${k === 0 ? 'previous acquisition' : `run ${k}`}: ${fmt(seconds, 1)} s, ${STEPS.map((s) => `${s} ${fmt(steps[s] ?? Number.NaN, 1)}`).join(', ')}; worker CPU ${fmt(run.cpuSeconds ?? Number.NaN, 1)} s, peak RSS ${fmt(peak ?? Number.NaN, 0)} MiB; ${run.vessels} vessels, ${run.changeAreas} change areas (load ${run.load})`,
      );
      if (k > 0) runs.push(run);
    }
  } finally {
    await close();
  }
  return runs;
}

const mib = (b: number) => fmt(b / 2 ** 20, 1);

function printLarge(runs: Run[], size: GrdSize): void {
  const mpix = (size.width * size.height) / 1e6;
  const p50 = median(runs.map((r) => r.seconds));
  console.log(
    `\n### (a) ${fmt(mpix, 0)} Mpix GRD SAFE (${size.width} x ${size.height}), arrival to published, ${runs.length} runs\n`,
  );
  console.log(`| | ${runs.map((_, i) => `run ${i + 1}`).join(' | ')} | p50 |`);
  console.log(`|---|${runs.map(() => '---:').join('|')}|---:|`);
  const row = (name: string, f: (r: Run) => number, d = 1) =>
    console.log(
      `| ${name} | ${runs.map((r) => fmt(f(r), d)).join(' | ')} | ${fmt(median(runs.map(f)), d)} |`,
    );
  row('arrival -> published, s', (r) => r.seconds);
  for (const s of STEPS) row(`  ${s}, s`, (r) => r.steps[s] ?? Number.NaN);
  row('worker CPU, s', (r) => r.cpuSeconds ?? Number.NaN);
  row('worker peak RSS, MiB', (r) => r.peakRssMiB ?? Number.NaN, 0);
  row('vessels detected', (r) => r.vessels, 0);
  row('load average (1 min) at the end', (r) => Number(r.load));
  console.log(
    `\ntarget <= ${TARGET_S} s: p50 ${fmt(p50, 1)} s, ${p50 <= TARGET_S ? 'met' : 'NOT met'} (2 cores, shared)`,
  );
  const s = runs[0].sizes;
  console.log(
    `sizes per product: SAFE ${mib(s.productBytes)} MiB, ARD COG ${mib(s.cogBytes)} MiB, quick-look ${mib(s.pngBytes)} MiB, detections ${fmt(s.detectionsBytes / 1024, 1)} KiB, change ${mib(s.changeBytes)} MiB, item JSON ${fmt(s.itemBytes / 1024, 1)} KiB`,
  );
}

export async function benchE2e(): Promise<void> {
  const dir = benchDir('e2e');
  // A side ('10000') or width x height ('25931x16854': a full-size IW GRDH).
  const sizeArg = process.env.SARBRIDGE_BENCH_E2E_SIZE ?? '10000';
  const m = /^(\d+)(?:x(\d+))?$/.exec(sizeArg);
  if (!m) throw new Error(`SARBRIDGE_BENCH_E2E_SIZE: expected <side> or <width>x<height>, got '${sizeArg}'`);
  const size: GrdSize = { width: Number(m[1]), height: Number(m[2] ?? m[1]) };
  const parts = (process.env.SARBRIDGE_BENCH_E2E_PARTS ?? 'a,b,c').split(',');
  const t0 = performance.now();
  console.log(`e2e: start, load average ${load()}`);
  if (parts.includes('a')) printLarge(await benchLarge(dir, size), size);
  if (parts.includes('b')) await benchKill(dir);
  if (parts.includes('c')) await benchThroughput(dir);
  console.log(`\ne2e: ${fmt((performance.now() - t0) / 60_000, 1)} min in all, load average ${load()}`);
}
