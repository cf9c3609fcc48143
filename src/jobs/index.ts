/**
 * Open the job queue a location names: 'redis://...' or 'rediss://...' is BullMQ on that Redis
 * server, anything else the path of a SQLite database file.
 *
 * @example
 *   const queue = await openQueue('out/jobs.db');                // embedded, nothing to install
 *   const queue = await openQueue('redis://10.0.0.5:6379/2');    // BullMQ, Redis database 2
 */
import { ValidationError } from '../errors.js';
import type { JobQueue } from './queue.js';
import { type RedisConnection, RedisJobQueue, type RedisQueueOptions } from './redis-queue.js';
import { SqliteJobQueue, type SqliteQueueOptions } from './sqlite-queue.js';

export * from './queue.js';
export { type RedisConnection, RedisJobQueue, type RedisQueueOptions } from './redis-queue.js';
export { SqliteJobQueue, type SqliteQueueOptions } from './sqlite-queue.js';

export interface OpenQueueOptions {
  /** A job whose worker stopped renewing its lease (SQLite) or lock (Redis) this long ago runs again (default 30 s). */
  leaseMs?: number;
  sqlite?: Omit<SqliteQueueOptions, 'leaseMs'>;
  redis?: Omit<RedisQueueOptions, 'leaseMs'> & { connectTimeoutMs?: number };
}

const REDIS_FORM = 'redis://[user:password@]host[:port][/db] or rediss://... (TLS)';

/** The location with its password replaced, for messages. */
export function redactLocation(location: string): string {
  return location.replace(/^(rediss?:\/\/[^:@/]*:)[^@/]*@/i, '$1***@');
}

/** Parse a redis:// or rediss:// URL into ioredis options; a ValidationError names the URL. */
export function parseRedisUrl(location: string): RedisConnection {
  const shown = redactLocation(location);
  const bad = (why: string) =>
    new ValidationError(`queue location '${shown}': ${why}; expected ${REDIS_FORM}`);
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw bad('not a URL');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw bad(`unknown scheme '${url.protocol}'`);
  if (url.hostname === '') throw bad('no host');
  if (url.search || url.hash) throw bad('query and fragment are not supported');
  const port = url.port === '' ? 6379 : Number(url.port);
  const path = url.pathname.replace(/^\//, '');
  if (path !== '' && !/^(0|[1-9][0-9]{0,4})$/.test(path)) throw bad(`database '${path}' is not a number`);
  const opts: RedisConnection = {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    db: path === '' ? 0 : Number(path),
  };
  if (url.username) opts.username = decodeURIComponent(url.username);
  if (url.password) opts.password = decodeURIComponent(url.password);
  if (url.protocol === 'rediss:') opts.tls = { servername: opts.host };
  return opts;
}

/** Open the queue at this location (see the module comment); a Redis queue is connected before it is answered. */
export async function openQueue(location: string, opts: OpenQueueOptions = {}): Promise<JobQueue> {
  if (typeof location !== 'string' || location.trim() === '') {
    throw new ValidationError(
      `queue location: expected a redis:// URL or a SQLite file path, got ${JSON.stringify(location)}`,
    );
  }
  if (/^rediss?:/i.test(location)) {
    const { connectTimeoutMs, ...redisOpts } = opts.redis ?? {};
    const q = new RedisJobQueue(
      parseRedisUrl(location),
      { ...redisOpts, leaseMs: opts.leaseMs },
      redactLocation(location),
    );
    return q.connect(connectTimeoutMs);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
    throw new ValidationError(
      `queue location '${redactLocation(location)}': unknown scheme; expected ${REDIS_FORM} or a SQLite file path`,
    );
  }
  return new SqliteJobQueue(location, { ...opts.sqlite, leaseMs: opts.leaseMs });
}
