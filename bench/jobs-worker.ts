/**
 * A worker process of the jobs benchmark (bench/jobs.ts): opens the queue, answers 'ready', and
 * starts working when it reads 'go' on stdin. Jobs: 'noop' answers at once, 'sleep50' waits 50 ms.
 *
 * argv: <queue location> <queue name> <concurrency>
 */
import { openQueue } from '../src/jobs/index.js';

const [location, queueName, concurrency] = process.argv.slice(2) as [string, string, string];
const queue = await openQueue(location, { redis: { queueName } });
process.stdout.write('ready\n');
process.stdin.once('data', () => {
  queue.work(
    {
      noop: async () => null,
      sleep50: () => new Promise((r) => setTimeout(() => r(null), 50)),
    },
    { concurrency: Number(concurrency) },
  );
});
process.on('SIGTERM', () => {
  queue.close().then(() => process.exit(0));
});
