import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type JobQueue, openQueue, type RedisJobQueue } from '../../src/jobs/index.js';

/** The Redis server started by test/global-setup.ts. */
export function redisUrl(): string {
  const url = process.env.SARBRIDGE_TEST_REDIS;
  if (!url) throw new Error('SARBRIDGE_TEST_REDIS is not set: the vitest global setup starts redis-server');
  return url;
}

export interface QueueTuning {
  leaseMs?: number;
  random?: () => number;
}

/** One queue implementation under test: `open` opens a queue (again, for a second instance) by name. */
export interface QueueBackend {
  kind: 'sqlite' | 'redis';
  /** The location openQueue takes for the queue of this name (a file, or the Redis URL). */
  location(name: string): string;
  open(name: string, t?: QueueTuning): Promise<JobQueue>;
  /** Remove what the queue of this name left (files, Redis keys). */
  remove(name: string): Promise<void>;
  cleanup(): void;
}

export function sqliteBackend(): QueueBackend {
  const dir = mkdtempSync(join(tmpdir(), 'sarbridge-jobs-'));
  const location = (name: string) => join(dir, `${name}.db`);
  return {
    kind: 'sqlite',
    location,
    open: (name, t = {}) =>
      openQueue(location(name), { leaseMs: t.leaseMs, sqlite: { pollIntervalMs: 50, random: t.random } }),
    remove: async () => {},
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function redisBackend(): QueueBackend {
  return {
    kind: 'redis',
    location: () => redisUrl(),
    open: (name, t = {}) =>
      openQueue(redisUrl(), {
        leaseMs: t.leaseMs,
        redis: { queueName: name, orderWaitMs: 500, random: t.random },
      }),
    remove: async (name) => {
      const q = (await openQueue(redisUrl(), { redis: { queueName: name } })) as RedisJobQueue;
      await q.obliterate();
      await q.close();
    },
    cleanup: () => {},
  };
}

export function queueName(): string {
  return `t-${randomUUID().slice(0, 8)}`;
}

/** Poll `check` until it answers true; fail after timeoutMs with `what`. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000) {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A promise and its resolver, to hold a handler until the test lets it go. */
export function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}
