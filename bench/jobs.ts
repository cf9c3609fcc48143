/**
 * Job queue throughput: no-op jobs and 50 ms jobs on the SQLite queue and on BullMQ (a private
 * redis-server this benchmark starts), with 1 and 2 worker processes of concurrency 8. Each run
 * fills a fresh queue first, then starts the workers and times from 'go' until the queue is
 * drained; jobs/s is the median of 5 runs. The fill rate (add() one by one from one process) is
 * printed too.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { type JobQueue, openQueue, type RedisJobQueue } from '../src/jobs/index.js';
import { benchDir, fmt, median } from './util.js';

const RUNS = 5;
const CONCURRENCY = 8;
const REDIS_PORT = 6391;
const JOBS: Record<string, number> = { noop: 3000, sleep50: 640 };
const WORKER = join(import.meta.dirname, 'jobs-worker.js');
const load = () => `load average ${loadavg()[0].toFixed(1)}`;

function startWorker(location: string, queueName: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [WORKER, location, queueName, String(CONCURRENCY)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((ready, fail) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && ready(child));
    child.on('exit', (code) => fail(new Error(`bench worker exited (${code})`)));
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null) return done();
    child.once('exit', () => done());
    child.kill('SIGTERM');
  });
}

interface Target {
  kind: 'sqlite' | 'redis';
  /** A fresh queue for one run: its location, name, a queue to fill it from, and a cleanup. */
  fresh(run: string): Promise<{ location: string; name: string; q: JobQueue; remove(): Promise<void> }>;
}

async function once(
  t: Target,
  job: string,
  workers: number,
  run: string,
): Promise<{ rate: number; addRate: number }> {
  const f = await t.fresh(run);
  const n = JOBS[job]!;
  const a0 = performance.now();
  for (let i = 0; i < n; i++) await f.q.add({ name: job, payload: i });
  const addRate = n / ((performance.now() - a0) / 1000);
  const children = await Promise.all(Array.from({ length: workers }, () => startWorker(f.location, f.name)));
  const t0 = performance.now();
  for (const c of children) c.stdin!.write('go\n');
  await f.q.drained({ timeoutMs: 600_000 });
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(children.map(stop));
  const c = await f.q.counts();
  if (c.completed !== n) throw new Error(`${t.kind} ${job}: ${c.completed} of ${n} jobs completed`);
  await f.remove();
  return { rate: n / seconds, addRate };
}

function sqliteTarget(dir: string): Target {
  return {
    kind: 'sqlite',
    fresh: async (run) => {
      const location = join(dir, `${run}.db`);
      rmSync(location, { force: true });
      // The filling connection skips the fsync per add; the workers keep the default (FULL).
      const q = await openQueue(location, { sqlite: { synchronous: 'NORMAL' } });
      return {
        location,
        name: run,
        q,
        remove: async () => {
          await q.close();
          for (const s of ['', '-wal', '-shm']) rmSync(`${location}${s}`, { force: true });
        },
      };
    },
  };
}

function redisTarget(url: string): Target {
  return {
    kind: 'redis',
    fresh: async (run) => {
      const q = await openQueue(url, { redis: { queueName: run } });
      return {
        location: url,
        name: run,
        q,
        remove: async () => {
          await (q as RedisJobQueue).obliterate();
          await q.close();
        },
      };
    },
  };
}

/** A private redis-server (no persistence), or null when redis-server is not installed. */
async function startRedis(): Promise<{ url: string; stop: () => Promise<void> } | null> {
  if (spawnSync('redis-server', ['--version']).status !== 0) return null;
  const child = spawn(
    'redis-server',
    ['--port', String(REDIS_PORT), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((ready, fail) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('Ready to accept connections') && ready());
    child.on('exit', (code) => fail(new Error(`redis-server exited (${code})`)));
  });
  return { url: `redis://127.0.0.1:${REDIS_PORT}`, stop: () => stop(child) };
}

export async function benchJobs(): Promise<void> {
  const dir = benchDir('jobs');
  const redis = await startRedis();
  const targets = [sqliteTarget(dir), ...(redis ? [redisTarget(redis.url)] : [])];
  if (!redis) console.log('jobs: redis-server is not installed, BullMQ skipped');
  console.log(
    `jobs: throughput, jobs/s (median of ${RUNS}); each worker process runs ${CONCURRENCY} at once; ${JOBS.noop} no-op / ${JOBS.sleep50} 50 ms jobs per run`,
  );
  try {
    for (const t of targets) {
      for (const job of Object.keys(JOBS)) {
        for (const workers of [1, 2]) {
          const rates: number[] = [];
          const adds: number[] = [];
          for (let r = 0; r < RUNS; r++) {
            const res = await once(t, job, workers, `b${Date.now()}-${r}`);
            rates.push(res.rate);
            adds.push(res.addRate);
          }
          console.log(
            `jobs: ${t.kind} ${job === 'noop' ? 'no-op' : '50 ms'} jobs, ${workers} worker process${workers > 1 ? 'es' : ''}: ${fmt(median(rates), 0)} jobs/s (runs ${rates.map((x) => fmt(x, 0)).join(', ')}; add ${fmt(median(adds), 0)} jobs/s; ${load()})`,
          );
        }
      }
    }
  } finally {
    await redis?.stop();
  }
}
