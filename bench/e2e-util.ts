/**
 * What the end-to-end benchmark's parts share: `sarbridge worker` child processes (their peak RSS and
 * CPU time from /proc), a private redis-server, the bench's own pipeline context (to ingest and to
 * read the registry and catalog), simulated products, and waiting for products to be published.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { LabelRules } from '../src/access/labels.js';
import { SqliteCatalog } from '../src/catalog/sqlite/store.js';
import { openQueue } from '../src/jobs/index.js';
import { writeSimulatedSafe } from '../src/ops/simulate-safe.js';
import type { PlantedDate, PlantedShip } from '../src/ops/simulate-scene.js';
import type { PipelineContext } from '../src/pipeline/context.js';
import type { ProductRegistry } from '../src/pipeline/registry.js';
import { SqliteProductRegistry } from '../src/pipeline/registry-sqlite.js';
import { LocalStore } from '../src/store/local-store.js';
import { mulberry32 } from '../src/util/random.js';
import { CLI } from './util.js';

export const load = () => loadavg()[0].toFixed(1);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A `sarbridge worker` process; `ready` resolves once it takes jobs (or it exited). */
export interface WorkerProcess {
  child: ChildProcess;
  ready: Promise<void>;
  /** Peak resident set (VmHWM) so far, MiB; null once it exited. */
  peakRssMiB(): number | null;
  /** User + system CPU seconds so far (threads included); null once it exited. */
  cpuSeconds(): number | null;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
}

const CLK_TCK = 100;

export function startWorker(
  dataDir: string,
  queue: string,
  o: { leaseMs?: number; concurrency?: number; landMask?: string } = {},
): WorkerProcess {
  const args = [CLI, 'worker', '--data-dir', dataDir, '--queue', queue, '--json', '--quiet'];
  args.push('--concurrency', String(o.concurrency ?? 1), '--land-mask', o.landMask ?? 'none');
  if (o.leaseMs) args.push('--lease-ms', String(o.leaseMs));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.on('exit', (code, signal) => {
    if (signal === null && code !== 0) process.stderr.write(`worker exited ${code}: ${err}\n`);
  });
  const ready = new Promise<void>((done) => {
    let out = '';
    child.stdout?.on('data', (d) => {
      out += d;
      if (out.includes('"worker"')) done();
    });
    exited.then(done);
  });
  const proc = (file: string) => {
    try {
      return readFileSync(`/proc/${child.pid}/${file}`, 'utf8');
    } catch {
      return null;
    }
  };
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    child,
    ready,
    peakRssMiB: () => {
      const m = /VmHWM:\s+(\d+) kB/.exec(proc('status') ?? '');
      return m ? Number(m[1]) / 1024 : null;
    },
    cpuSeconds: () => {
      const s = proc('stat');
      if (!s) return null;
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) / CLK_TCK;
    },
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
  };
}

/** A free TCP port on the loopback. */
function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => done(port));
    });
  });
}

/** A private redis-server on a free port (no persistence), stopped by its pid. */
export async function startRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((ready, fail) => {
    child.stdout?.on('data', (d: Buffer) => d.toString().includes('Ready to accept connections') && ready());
    child.once('exit', (code) => fail(new Error(`redis-server exited (${code})`)));
    child.once('error', fail);
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      new Promise((done) => {
        if (child.exitCode !== null) return done();
        child.once('exit', () => done());
        process.kill(child.pid as number, 'SIGTERM');
      }),
  };
}

/** The bench's own view of a data directory as `sarbridge worker` opens it (to ingest and to check). */
export async function openBenchPipeline(
  dataDir: string,
  queue: string,
): Promise<{ ctx: PipelineContext; close: () => Promise<void> }> {
  await mkdir(dataDir, { recursive: true });
  const registry = new SqliteProductRegistry(join(dataDir, 'pipeline.db'));
  const catalog = new SqliteCatalog(join(dataDir, 'catalog.db'));
  const store = LocalStore.open(join(dataDir, 'assets'), { create: true });
  const q = await openQueue(queue);
  const ctx: PipelineContext = {
    dataDir,
    registry,
    catalog,
    store,
    queue: q,
    rules: new LabelRules(),
    landMask: 'none',
  };
  return {
    ctx,
    close: async () => {
      await q.close();
      await store.close();
      await catalog.close();
      await registry.close();
    },
  };
}

/** Wait until none of `ids` is processing; throws after `timeoutMs`. */
export async function waitPublished(
  registry: ProductRegistry,
  ids: string[],
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const records = await Promise.all(ids.map((id) => registry.get(id)));
    const open = records.filter((p) => p?.state === 'processing');
    if (open.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`${open.length} products still processing after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/**
 * One acquisition of a 100 km square of open sea off the Rhone delta (UTM 31N) as planted sigma0 at
 * `sceneSpacingM`: sea of -17 dB with a smooth swell, a coast strip of land, and `ships` bright
 * rectangles (about 80 x 160 m) at seeded places; the same area and geometry for every date.
 */
export function plantedSea(date: string, seed: number, ships: number, sceneSpacingM = 40): PlantedDate {
  const size = Math.round(100_000 / sceneSpacingM);
  const mean = new Float32Array(size * size);
  for (let r = 0; r < size; r++)
    for (let c = 0; c < size; c++)
      mean[r * size + c] = c < size * 0.08 ? 0.25 : 0.02 * (1 + 0.3 * Math.sin(r / 37) * Math.sin(c / 53));
  const rand = mulberry32(seed);
  const gt: [number, number, number, number, number, number] = [
    600_000,
    sceneSpacingM,
    0,
    4_800_000,
    0,
    -sceneSpacingM,
  ];
  const planted: PlantedShip[] = [];
  const w = Math.max(1, Math.round(80 / sceneSpacingM));
  const l = Math.max(1, Math.round(160 / sceneSpacingM));
  for (let i = 0; i < ships; i++) {
    const c0 = Math.floor(size * (0.15 + 0.8 * rand()));
    const r0 = Math.floor(size * (0.05 + 0.9 * rand()));
    for (let r = r0; r < r0 + l && r < size; r++)
      for (let c = c0; c < c0 + w && c < size; c++) mean[r * size + c] = 2;
    const x = gt[0] + (c0 + w / 2) * sceneSpacingM;
    const y = gt[3] - (r0 + l / 2) * sceneSpacingM;
    planted.push({ id: `s${i}`, x, y, lon: 0, lat: 0, lengthM: 160, widthM: 80, headingDeg: 0, scrDb: 20 });
  }
  return { mean, size, geoTransform: gt, epsg: 32631, date, seed, ships: planted };
}

/** A simulated IW GRDH SAFE of `width` x `height` pixels at 10 m over plantedSea's area. */
export async function seaSafe(
  outDir: string,
  date: string,
  seed: number,
  width: number,
  height: number,
): Promise<string> {
  const planted = plantedSea(date, seed, 40);
  const safe = await writeSimulatedSafe(outDir, {
    ...planted,
    looks: 4.4,
    grd: { width, height, spacingM: 10 },
  });
  return safe.safeDir;
}
