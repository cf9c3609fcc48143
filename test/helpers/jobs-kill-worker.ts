/**
 * A worker process for test/jobs-kill.test.ts (run with `node --import tsx`). Its one handler is
 * idempotent: it notes each start in a side database, writes the job's result row (unique per job
 * key: a second write of the same job is ignored and counted), and answers. The test kills these
 * processes with SIGKILL at chosen or random moments.
 *
 * argv: <queue location> <queue name> <side db> <leaseMs> <concurrency>
 */
import Database from 'better-sqlite3';
import { openQueue } from '../../src/jobs/index.js';

const [location, queueName, sideDb, leaseMs, concurrency] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const side = new Database(sideDb);
side.pragma('busy_timeout = 10000');
const start = side.prepare('INSERT INTO starts (job_key, attempt, pid, at_ms) VALUES (?, ?, ?, ?)');
const write = side.prepare(
  'INSERT INTO results (job_key, pid, at_ms) VALUES (?, ?, ?) ON CONFLICT (job_key) DO NOTHING',
);
const rewrite = side.prepare('INSERT INTO rewrites (job_key, pid) VALUES (?, ?)');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const queue = await openQueue(location, {
  leaseMs: Number(leaseMs),
  sqlite: { pollIntervalMs: 50 },
  redis: { queueName, stalledIntervalMs: Number(leaseMs) / 2, orderWaitMs: 500 },
});
queue.work(
  {
    'kill.step': async (job) => {
      const p = job.payload as { key: string; beforeMs: number; afterMs: number };
      start.run(p.key, job.attempt, process.pid, Date.now());
      await sleep(p.beforeMs);
      if (write.run(p.key, process.pid, Date.now()).changes === 0) rewrite.run(p.key, process.pid);
      await sleep(p.afterMs);
      return { key: p.key, pid: process.pid };
    },
  },
  { concurrency: Number(concurrency) },
);
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  queue.close().then(() => process.exit(0));
});
