/**
 * The job queue contract, run against both implementations: the embedded SQLite queue and BullMQ on
 * the real Redis server that the global setup starts. Expected values come from the interface's
 * documented rules (src/jobs/queue.ts), not from an earlier run.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError, ValidationError } from '../src/errors.js';
import {
  type Job,
  type JobQueue,
  type JobSpec,
  openQueue,
  PermanentJobError,
  parseRedisUrl,
  RetryJobLater,
} from '../src/jobs/index.js';
import { backoffDelayMs } from '../src/jobs/spec.js';
import {
  gate,
  type QueueBackend,
  type QueueTuning,
  queueName,
  redisBackend,
  sleep,
  sqliteBackend,
  waitFor,
} from './helpers/jobs.js';

/** Scheduling slack allowed beyond a planned delay on this shared 2-core machine. */
const SLACK_MS = 400;

describe.each([
  ['sqlite', sqliteBackend],
  ['redis', redisBackend],
] as const)('job queue contract: %s', (_kind, make) => {
  const backend: QueueBackend = make();
  const opened: JobQueue[] = [];
  const names: string[] = [];

  async function fresh(t?: QueueTuning): Promise<{ q: JobQueue; name: string }> {
    const name = queueName();
    names.push(name);
    const q = await backend.open(name, t);
    opened.push(q);
    return { q, name };
  }
  async function again(name: string, t?: QueueTuning): Promise<JobQueue> {
    const q = await backend.open(name, t);
    opened.push(q);
    return q;
  }

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((q) => q.close()));
    for (const n of names.splice(0)) await backend.remove(n);
  });
  afterAll(() => backend.cleanup());

  it('add: a job with the key of a held job is not added again (also when adds race, and after it completed)', async () => {
    const { q } = await fresh();
    const first = await q.add({ name: 'a', payload: { v: 1 }, key: 'product:S1A_1' });
    expect(first.added).toBe(true);
    const second = await q.add({ name: 'a', payload: { v: 2 }, key: 'product:S1A_1' });
    expect(second).toEqual({ id: first.id, added: false });
    expect((await q.get(first.id))!.payload).toEqual({ v: 1 });
    const other = await q.add({ name: 'a', payload: { v: 3 }, key: 'product:S1A_2' });
    expect(other.added).toBe(true);
    expect(other.id).not.toBe(first.id);

    const racing = await Promise.all(
      Array.from({ length: 10 }, (_, i) => q.add({ name: 'a', payload: { i }, key: 'race' })),
    );
    expect(racing.filter((r) => r.added)).toHaveLength(1);
    expect(new Set(racing.map((r) => r.id)).size).toBe(1);

    const runs: unknown[] = [];
    q.work({ a: async (job) => runs.push(job.payload) });
    await q.drained({ timeoutMs: 20_000 });
    expect(runs).toHaveLength(3);
    expect(await q.add({ name: 'a', payload: {}, key: 'product:S1A_1' })).toEqual({
      id: first.id,
      added: false,
    });
    await sleep(300);
    expect(runs).toHaveLength(3);
    expect((await q.counts()).completed).toBe(3);
  });

  it('handlers: the handler of the job name gets the payload, its answer is the result; a worker runs only its names', async () => {
    const { q } = await fresh();
    const a = await q.add({ name: 'ard', payload: { product: 'p1' } });
    const b = await q.add({ name: 'detect', payload: { item: 'i1' } });
    const seen: Job[] = [];
    const w = q.work(
      {
        ard: async (job) => {
          seen.push(job);
          return { cog: `${(job.payload as { product: string }).product}.tif` };
        },
        detect: async () => 'never',
      },
      { names: ['ard'] },
    );
    await waitFor('ard completed', async () => (await q.get(a.id))!.state === 'completed');
    const ra = (await q.get(a.id))!;
    expect(ra).toMatchObject({
      name: 'ard',
      state: 'completed',
      attempt: 1,
      result: { cog: 'p1.tif' },
      error: null,
    });
    expect(Date.parse(ra.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(ra.startedAt!));
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      id: a.id,
      name: 'ard',
      key: null,
      payload: { product: 'p1' },
      attempt: 1,
      maxAttempts: 5,
    });
    await sleep(300);
    expect(['waiting', 'delayed']).toContain((await q.get(b.id))!.state);
    expect((await q.get(b.id))!.attempt).toBe(0);
    await w.close();
    q.work({ detect: async (job) => ({ detections: (job.payload as { item: string }).item }) });
    await q.drained({ timeoutMs: 20_000 });
    expect((await q.get(b.id))!).toMatchObject({ state: 'completed', result: { detections: 'i1' } });
    expect(await q.get('999999')).toBeNull();
  });

  const jitterRows: [string, () => number, number[]][] = [
    ['the largest jitter draw', () => 1, [200, 400]],
    ['no jitter drawn', () => 0, [400, 800]],
  ];
  it.each(jitterRows)(
    'retries: a failed attempt waits its back-off (delayMs * 2^(n-1), jitter 0.5; %s)',
    async (_what, random, waits) => {
      const { q } = await fresh({ random });
      const starts: number[] = [];
      const { id } = await q.add({
        name: 'flaky',
        payload: null,
        attempts: 3,
        backoff: { delayMs: 400, maxDelayMs: 60_000, jitter: 0.5 },
      });
      q.work({
        flaky: async (job) => {
          starts.push(Date.now());
          if (job.attempt < 3) throw new Error(`transient ${job.attempt}`);
          return 'ok';
        },
      });
      await q.drained({ timeoutMs: 20_000 });
      expect(starts).toHaveLength(3);
      for (let i = 0; i < 2; i++) {
        const gap = starts[i + 1]! - starts[i]!;
        expect(gap, `wait after attempt ${i + 1}`).toBeGreaterThanOrEqual(waits[i]! - 5);
        expect(gap, `wait after attempt ${i + 1}`).toBeLessThan(waits[i]! + SLACK_MS);
      }
      expect((await q.get(id))!).toMatchObject({ state: 'completed', attempt: 3, result: 'ok', error: null });
    },
  );

  it('retries: the back-off is capped at maxDelayMs', async () => {
    const { q } = await fresh({ random: () => 0 });
    const starts: number[] = [];
    await q.add({
      name: 'f',
      payload: null,
      attempts: 4,
      backoff: { delayMs: 150, maxDelayMs: 200, jitter: 0 },
    });
    q.work({
      f: async (job) => {
        starts.push(Date.now());
        if (job.attempt < 4) throw new Error('again');
      },
    });
    await q.drained({ timeoutMs: 20_000 });
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    // 150, then min(200, 300), then min(200, 600)
    [150, 200, 200].forEach((want, i) => {
      expect(gaps[i]).toBeGreaterThanOrEqual(want - 5);
      expect(gaps[i]).toBeLessThan(want + SLACK_MS);
    });
  });

  it('failure: a PermanentJobError fails the job at once, an exhausted job fails after its attempts; both keep their error', async () => {
    const { q } = await fresh();
    const bad = await q.add({ name: 'read', payload: { file: 'corrupt.SAFE' } });
    const tired = await q.add({
      name: 'flaky',
      payload: null,
      attempts: 2,
      backoff: { delayMs: 10, jitter: 0 },
    });
    const calls = { read: 0, flaky: 0 };
    q.work(
      {
        read: async () => {
          calls.read++;
          throw new PermanentJobError('corrupt.SAFE: manifest.safe is truncated at byte 1024');
        },
        flaky: async (job) => {
          calls.flaky++;
          throw new Error(`endpoint answered 500 on attempt ${job.attempt}`);
        },
      },
      { concurrency: 2 },
    );
    await q.drained({ timeoutMs: 20_000 });
    expect(calls).toEqual({ read: 1, flaky: 2 });
    const rb = (await q.get(bad.id))!;
    expect(rb).toMatchObject({ state: 'failed', attempt: 1, result: null });
    expect(rb.error).toContain('manifest.safe is truncated at byte 1024');
    expect(rb.finishedAt).not.toBeNull();
    const rt = (await q.get(tired.id))!;
    expect(rt).toMatchObject({ state: 'failed', attempt: 2, maxAttempts: 2 });
    expect(rt.error).toContain('endpoint answered 500 on attempt 2');
    const failed = await q.list({ state: 'failed' });
    expect(failed.map((r) => r.id).sort()).toEqual([bad.id, tired.id].sort());
    expect((await q.counts()).failed).toBe(2);
  });

  it('RetryJobLater: the next attempt starts no earlier than its delay (not the back-off); on the last attempt the job fails', async () => {
    const { q } = await fresh();
    const starts: number[] = [];
    const { id } = await q.add({ name: 'hook', payload: null, attempts: 3, backoff: { delayMs: 20_000 } });
    const last = await q.add({ name: 'last', payload: null, attempts: 1 });
    q.work(
      {
        hook: async (job) => {
          starts.push(Date.now());
          if (job.attempt === 1) throw new RetryJobLater('429 Too Many Requests, Retry-After: 0.6', 600);
          return 'delivered';
        },
        last: async () => {
          throw new RetryJobLater('503 Service Unavailable', 50);
        },
      },
      { concurrency: 2 },
    );
    await waitFor('hook retried', async () => (await q.get(id))!.attempt === 1 && starts.length === 1);
    const between = (await q.get(id))!;
    expect(between.state).toBe('delayed');
    expect(between.error).toContain('429 Too Many Requests');
    expect(Date.parse(between.runAfter!)).toBeGreaterThanOrEqual(starts[0]! + 600 - 5);
    await q.drained({ timeoutMs: 20_000 });
    expect(starts).toHaveLength(2);
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(600 - 5);
    expect(starts[1]! - starts[0]!).toBeLessThan(600 + SLACK_MS);
    expect((await q.get(id))!).toMatchObject({ state: 'completed', attempt: 2, result: 'delivered' });
    const rl = (await q.get(last.id))!;
    expect(rl.state).toBe('failed');
    expect(rl.error).toContain('503 Service Unavailable');
  });

  it('retry: an operator revives a failed job with a fresh set of attempts; other states and unknown ids are refused', async () => {
    const { q } = await fresh();
    const { id } = await q.add({
      name: 'step',
      payload: null,
      attempts: 2,
      backoff: { delayMs: 10, jitter: 0 },
    });
    let broken = true;
    let calls = 0;
    q.work({
      step: async () => {
        calls++;
        if (broken) throw new Error('disk full');
        return 'published';
      },
    });
    await q.drained({ timeoutMs: 20_000 });
    expect((await q.get(id))!).toMatchObject({ state: 'failed', attempt: 2 });
    broken = false;
    const revived = await q.retry(id);
    expect(revived.id).toBe(id);
    expect(['waiting', 'active', 'completed']).toContain(revived.state);
    await q.drained({ timeoutMs: 20_000 });
    expect(calls).toBe(3);
    expect((await q.get(id))!).toMatchObject({
      state: 'completed',
      attempt: 1,
      result: 'published',
      error: null,
    });
    await expect(q.retry(id)).rejects.toThrow(ConflictError);
    await expect(q.retry(id)).rejects.toThrow(/only a failed job can be retried, this one is completed/);
    await expect(q.retry('424242')).rejects.toThrow(NotFoundError);
  });

  it('order keys: jobs of a key run one at a time in the order added (concurrency 4, two workers, a failure in between)', async () => {
    const { q, name } = await fresh();
    const q2 = await again(name);
    const keys = ['sub-a', 'sub-b', 'sub-c'];
    const perKey = 8;
    const events: { key: string; seq: number; start: number; end: number }[] = [];
    const ids: Record<string, string[]> = {};
    for (let i = 0; i < perKey; i++) {
      for (const key of keys) {
        const { id } = await q.add({
          name: 'deliver',
          payload: { key, seq: i, fail: key === 'sub-b' && i === 3 },
          orderKey: key,
          attempts: 2,
          backoff: { delayMs: 100, jitter: 0 },
        });
        (ids[key] ??= []).push(id);
      }
      await q.add({ name: 'deliver', payload: { key: null, seq: i, fail: false } });
    }
    const handler = async (job: Job) => {
      const p = job.payload as { key: string | null; seq: number; fail: boolean };
      const start = Date.now();
      await sleep(5 + Math.floor(Math.random() * 25));
      if (p.fail) throw new Error('subscriber down');
      if (p.key) events.push({ key: p.key, seq: p.seq, start, end: Date.now() });
    };
    q.work({ deliver: handler }, { concurrency: 4 });
    q2.work({ deliver: handler }, { concurrency: 4 });
    await q.drained({ timeoutMs: 60_000 });
    for (const key of keys) {
      const got = events.filter((e) => e.key === key);
      const want = Array.from({ length: perKey }, (_, i) => i).filter((i) => !(key === 'sub-b' && i === 3));
      expect(
        got.map((e) => e.seq),
        key,
      ).toEqual(want);
      for (let i = 1; i < got.length; i++) {
        expect(
          got[i]!.start,
          `${key} #${got[i]!.seq} started before #${got[i - 1]!.seq} ended`,
        ).toBeGreaterThanOrEqual(got[i - 1]!.end);
      }
    }
    // The job after the failed one waited for both of its attempts.
    const failed = (await q.get(ids['sub-b']![3]!))!;
    expect(failed).toMatchObject({ state: 'failed', attempt: 2 });
    const next = (await q.get(ids['sub-b']![4]!))!;
    expect(Date.parse(next.startedAt!)).toBeGreaterThanOrEqual(Date.parse(failed.finishedAt!));
  });

  it('progress: a running job reports progress that get() shows', async () => {
    const { q } = await fresh();
    const { id } = await q.add({ name: 'ard', payload: null });
    const hold = gate();
    q.work({
      ard: async (job) => {
        await job.progress({ done: 2, total: 5, message: 'geocoding' });
        await hold.wait;
        await job.progress({ done: 5, total: 5 });
      },
    });
    await waitFor('progress', async () => (await q.get(id))!.progress?.done === 2);
    expect((await q.get(id))!).toMatchObject({
      state: 'active',
      progress: { done: 2, total: 5, message: 'geocoding' },
    });
    hold.open();
    await q.drained({ timeoutMs: 20_000 });
    expect((await q.get(id))!.progress).toEqual({ done: 5, total: 5 });
  });

  it('counts and list: every state is counted, list filters by state and name and pages', async () => {
    const { q } = await fresh();
    for (let i = 0; i < 3; i++) await q.add({ name: 'ok', payload: i });
    await q.add({ name: 'bad', payload: null });
    await q.add({ name: 'slow', payload: null });
    await q.add({ name: 'later', payload: null, delayMs: 60_000 });
    expect(await q.counts()).toEqual({ waiting: 5, delayed: 1, active: 0, completed: 0, failed: 0 });
    const hold = gate();
    q.work(
      {
        ok: async () => 'ok',
        bad: async () => {
          throw new PermanentJobError('no');
        },
        slow: () => hold.wait,
      },
      { concurrency: 2 },
    );
    await waitFor('all but slow done', async () => {
      const c = await q.counts();
      return c.completed === 3 && c.failed === 1 && c.active === 1;
    });
    expect(await q.counts()).toEqual({ waiting: 0, delayed: 1, active: 1, completed: 3, failed: 1 });
    expect((await q.list({ state: 'completed' })).map((r) => r.payload).sort()).toEqual([0, 1, 2]);
    expect((await q.list({ name: 'slow' })).map((r) => r.state)).toEqual(['active']);
    expect((await q.list({ state: 'delayed' })).map((r) => r.name)).toEqual(['later']);
    expect(await q.list()).toHaveLength(6);
    const page1 = await q.list({ limit: 4 });
    const page2 = await q.list({ limit: 4, offset: 4 });
    expect(page1).toHaveLength(4);
    expect(page2).toHaveLength(2);
    expect(new Set([...page1, ...page2].map((r) => r.id)).size).toBe(6);
    hold.open();
  });

  it('drained: resolves once nothing waits, is delayed or runs; times out naming what is left', async () => {
    const { q } = await fresh();
    let finished = 0;
    for (let i = 0; i < 5; i++) await q.add({ name: 's', payload: i, delayMs: i === 4 ? 400 : 0 });
    const hold = gate();
    const s = async () => {
      await sleep(100);
      finished++;
    };
    q.work({ s, hold: () => hold.wait }, { concurrency: 2 });
    await q.drained({ timeoutMs: 20_000 });
    expect(finished).toBe(5);
    expect((await q.counts()).completed).toBe(5);
    await q.add({ name: 'hold', payload: null });
    await expect(q.drained({ timeoutMs: 500 })).rejects.toThrow(
      /not drained within 500 ms \(waiting \d, delayed \d, active \d\)/,
    );
    hold.open();
    await q.drained({ timeoutMs: 20_000 });
  });

  it('concurrency: a worker runs at most its concurrency at once, and reaches it', async () => {
    const { q } = await fresh();
    let running = 0;
    let peak = 0;
    for (let i = 0; i < 12; i++) await q.add({ name: 'c', payload: i });
    q.work(
      {
        c: async () => {
          peak = Math.max(peak, ++running);
          await sleep(80);
          running--;
        },
      },
      { concurrency: 3 },
    );
    await q.drained({ timeoutMs: 20_000 });
    expect(peak).toBe(3);
  });

  it('two workers (two queue instances) never run the same job at once, and every job runs once', async () => {
    const { q, name } = await fresh();
    const q2 = await again(name);
    const running = new Set<string>();
    const runs = new Map<string, number>();
    const clashes: string[] = [];
    const n = 60;
    for (let i = 0; i < n; i++) await q.add({ name: 'x', payload: i });
    const handler = async (job: Job) => {
      if (running.has(job.id)) clashes.push(job.id);
      running.add(job.id);
      runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
      await sleep(5 + Math.floor(Math.random() * 20));
      running.delete(job.id);
    };
    q.work({ x: handler }, { concurrency: 4 });
    q2.work({ x: handler }, { concurrency: 4 });
    await q.drained({ timeoutMs: 60_000 });
    expect(clashes).toEqual([]);
    expect(runs.size).toBe(n);
    expect([...runs.values()].every((c) => c === 1)).toBe(true);
    expect((await q2.counts()).completed).toBe(n);
  });

  it('close with abort: the running job is aborted and released untried, and runs again on the next worker', async () => {
    const { q } = await fresh();
    const { id } = await q.add({ name: 'long', payload: null, attempts: 1 });
    let aborted = false;
    const w = q.work({
      long: (job) =>
        new Promise((_, fail) => {
          const stop = () => {
            aborted = true;
            fail(new Error('aborted'));
          };
          if (job.signal.aborted) stop();
          job.signal.addEventListener('abort', stop);
        }),
    });
    await waitFor('running', async () => (await q.get(id))!.attempt === 1);
    await w.close({ abort: true });
    expect(aborted).toBe(true);
    const r = (await q.get(id))!;
    expect(['waiting', 'delayed']).toContain(r.state);
    expect(r.attempt).toBe(0);
    q.work({ long: async () => 'done' });
    await q.drained({ timeoutMs: 20_000 });
    expect((await q.get(id))!).toMatchObject({ state: 'completed', attempt: 1, result: 'done' });
  });

  const badSpecs: [string, unknown, RegExp][] = [
    ['no name', { payload: 1 }, /job name: expected a non-empty string/],
    ['empty name', { name: '', payload: 1 }, /job name: expected a non-empty string/],
    ['key not a string', { name: 'a', payload: 1, key: 7 }, /job key: expected a non-empty string/],
    ['empty order key', { name: 'a', payload: 1, orderKey: '' }, /job orderKey: expected a non-empty string/],
    [
      'zero attempts',
      { name: 'a', payload: 1, attempts: 0 },
      /job attempts: expected an integer from 1 to 1000, got 0/,
    ],
    ['fractional attempts', { name: 'a', payload: 1, attempts: 1.5 }, /job attempts: expected an integer/],
    ['negative delay', { name: 'a', payload: 1, delayMs: -1 }, /job delayMs: expected a number from 0/],
    [
      'jitter above 1',
      { name: 'a', payload: 1, backoff: { jitter: 2 } },
      /job backoff.jitter: expected a number from 0 to 1, got 2/,
    ],
    [
      'NaN back-off',
      { name: 'a', payload: 1, backoff: { delayMs: Number.NaN } },
      /job backoff.delayMs: expected a number/,
    ],
    ['BigInt payload', { name: 'a', payload: { n: 1n } }, /job payload: expected a JSON value/],
    [
      'payload over 1 MiB',
      { name: 'a', payload: 'x'.repeat(1024 * 1024 + 1) },
      /job payload: expected at most 1048576 bytes/,
    ],
  ];
  it.each(badSpecs)(
    'add refuses a bad spec (%s) with a ValidationError naming the field',
    async (_what, spec, message) => {
      const { q } = await fresh();
      const err = await q.add(spec as JobSpec).catch((e) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect(err.message).toMatch(message);
      expect((await q.counts()).waiting).toBe(0);
    },
  );

  it('refuses bad worker options and list queries with a ValidationError', async () => {
    const { q } = await fresh();
    expect(() => q.work({})).toThrow(/job worker: expected at least one handler/);
    expect(() => q.work({ a: async () => 1 }, { concurrency: 0 })).toThrow(
      /worker concurrency: expected an integer from 1/,
    );
    expect(() => q.work({ a: async () => 1 }, { names: ['b'] })).toThrow(/no handler for 'b'/);
    await expect(q.list({ state: 'done' as never })).rejects.toThrow(
      /job list state: expected one of waiting, delayed/,
    );
    await expect(q.list({ limit: 0 })).rejects.toThrow(/job list limit: expected an integer from 1 to 1000/);
  });
});

describe('openQueue and the back-off rule', () => {
  const badLocations: [string, RegExp][] = [
    ['redis://', /queue location 'redis:\/\/': (not a URL|no host)/],
    ['redis://host:99999', /queue location 'redis:\/\/host:99999': not a URL/],
    ['redis://host/abc', /database 'abc' is not a number/],
    ['redis://host/1?tls=1', /query and fragment are not supported/],
    ['redis://u:s3cret@host/x', /queue location 'redis:\/\/u:\*\*\*@host\/x': database 'x'/],
    ['amqp://host/queue', /queue location 'amqp:\/\/host\/queue': unknown scheme/],
    ['', /queue location: expected a redis:\/\/ URL or a SQLite file path/],
  ];
  it.each(badLocations)('refuses %j with a ValidationError naming it', async (location, message) => {
    const err = await openQueue(location).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain('s3cret');
  });

  it('a Redis URL where nothing listens fails naming the server, within the connect timeout', async () => {
    const t0 = Date.now();
    const err = await openQueue('redis://127.0.0.1:1/0', { redis: { connectTimeoutMs: 1500 } }).catch(
      (e) => e,
    );
    expect(err.message).toMatch(/^redis queue redis:\/\/127\.0\.0\.1:1\/0: cannot connect/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('parses a Redis URL into host, port, database, credentials and TLS', () => {
    expect(parseRedisUrl('redis://10.0.0.5')).toEqual({ host: '10.0.0.5', port: 6379, db: 0 });
    expect(parseRedisUrl('rediss://user:p%40ss@cache.example:6380/3')).toEqual({
      host: 'cache.example',
      port: 6380,
      db: 3,
      username: 'user',
      password: 'p@ss',
      tls: { servername: 'cache.example' },
    });
  });

  it('backoffDelayMs: min(maxDelayMs, delayMs * 2^(n-1)), of which the jitter fraction is drawn', () => {
    const b = { delayMs: 1000, maxDelayMs: 5000, jitter: 0.5 };
    const rows: [number, number, number][] = [
      // attempt, random draw, expected wait
      [1, 0, 1000],
      [1, 1, 500],
      [2, 0, 2000],
      [3, 0.5, 3000],
      [4, 0, 5000],
      [10, 1, 2500],
    ];
    for (const [attempt, draw, want] of rows)
      expect(
        backoffDelayMs(b, attempt, () => draw),
        `attempt ${attempt}`,
      ).toBe(want);
  });
});
