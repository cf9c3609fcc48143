/**
 * The job queue on BullMQ (Redis): workers on any number of machines. What BullMQ gives: a job is
 * held under a lock that its worker renews (lockDuration); a job whose lock expired (its worker was
 * killed) is found by any worker's stalled check and goes back to waiting. What sarbridge adds: an
 * idempotency key is the BullMQ job id (a hash of claimed keys decides which add was first); the
 * attempt counter lives in the job's hash and counts every start, a lost one too, so a job that
 * kills its worker fails after its attempts like one that throws; the back-off is a custom strategy
 * with jitter; RetryJobLater moves the job to delayed for exactly its delay; order keys are in
 * redis-order.ts.
 */
import { Job as BullJob, DelayedError, Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { ConflictError, NotFoundError, SarbridgeError, ValidationError } from '../errors.js';
import {
  type Backoff,
  JOB_STATES,
  type Job,
  type JobHandler,
  type JobListQuery,
  type JobQueue,
  type JobRecord,
  type JobSpec,
  type JobState,
  type JobWorker,
  PermanentJobError,
  RetryJobLater,
  type WorkerOptions,
} from './queue.js';
import { RedisOrder } from './redis-order.js';
import { BULL_TYPES, bullState, isoOrNull, toProgress } from './redis-records.js';
import {
  backoffDelayMs,
  checkProgress,
  errorMessage,
  resolveListQuery,
  resolveSpec,
  resolveWorkerOptions,
  resultJson,
} from './spec.js';

/** Where the Redis server is (what openQueue reads from a redis:// URL). */
export interface RedisConnection {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  /** TLS (rediss://): the server name to verify. */
  tls?: { servername: string };
}

export interface RedisQueueOptions {
  /** BullMQ queue name (default 'sarbridge'). */
  queueName?: string;
  /** Redis key prefix (default 'bull'). */
  prefix?: string;
  /** A job whose worker has not renewed its lock for this long is stalled and runs again (default 30 s). */
  leaseMs?: number;
  /** How often each worker looks for stalled jobs (default leaseMs / 2). */
  stalledIntervalMs?: number;
  /** How long a job held behind its order key sleeps before it looks again, if not promoted (default 5 s). */
  orderWaitMs?: number;
  /** How long a job whose name this worker has no handler for waits before it is offered again (default 1 s). */
  unhandledWaitMs?: number;
  /** Errors of a worker (a lost connection); default: written to stderr. */
  onError?: (err: Error) => void;
  /** Random number source for the back-off jitter (tests). */
  random?: () => number;
}

/** What sarbridge keeps in a BullMQ job's data. */
interface Envelope {
  payload: unknown;
  key: string | null;
  orderKey: string | null;
  maxAttempts: number;
  backoff: Backoff;
}

/** A failed attempt to retry after `delayMs` (read by the back-off strategy). */
class AttemptFailed extends Error {
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
  }
}

const ATTEMPT_FIELD = 'sbAttempt';
/** A key claimed this long ago whose job does not exist was claimed by an add that died: claim it again. */
const KEY_CLAIM_STALE_MS = 30_000;

/**
 * KEYS: claimed keys (hash key -> claim time), the job's hash; ARGV: key, now (ms), stale (ms).
 * 1 if this add claimed the key (first, or after a dead add's stale claim), else 0.
 */
const CLAIM_KEY = `
local at = redis.call('HGET', KEYS[1], ARGV[1])
if at and (redis.call('EXISTS', KEYS[2]) == 1 or tonumber(ARGV[2]) - tonumber(at) < tonumber(ARGV[3])) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

interface KeyCommands {
  sbClaimKey(...args: string[]): Promise<number>;
}
const BACKOFF_TYPE = 'sarbridge';

function positive(value: number | undefined, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ValidationError(`redis queue ${field}: expected a positive number of ms, got ${String(value)}`);
  }
  return value;
}

/** The BullMQ job id of an idempotency key (BullMQ ids may not be integers nor hold ':'). */
export function keyJobId(key: string): string {
  return `k.${encodeURIComponent(key)}`;
}

export class RedisJobQueue implements JobQueue {
  readonly kind = 'redis';
  readonly queueName: string;
  private readonly prefix: string;
  private readonly leaseMs: number;
  private readonly stalledIntervalMs: number;
  private readonly orderWaitMs: number;
  private readonly unhandledWaitMs: number;
  private readonly onError: (err: Error) => void;
  private readonly random: () => number;
  private readonly redis: Redis;
  private readonly queue: Queue;
  private readonly order: RedisOrder;
  private readonly base: string;
  private readonly workers = new Set<RedisWorkerHandle>();
  private closed = false;

  constructor(
    private readonly connection: RedisConnection,
    opts: RedisQueueOptions = {},
    /** The location as given, without its password, for messages. */
    readonly label = `redis://${connection.host}:${connection.port}/${connection.db}`,
  ) {
    this.queueName = opts.queueName ?? 'sarbridge';
    this.prefix = opts.prefix ?? 'bull';
    for (const [field, v] of [
      ['queueName', this.queueName],
      ['prefix', this.prefix],
    ] as const) {
      if (typeof v !== 'string' || !/^[A-Za-z0-9._-]{1,100}$/.test(v)) {
        throw new ValidationError(
          `redis queue ${field}: expected 1-100 letters, digits, '.', '_' or '-', got ${JSON.stringify(v)}`,
        );
      }
    }
    this.leaseMs = positive(opts.leaseMs, 'leaseMs', 30_000);
    this.stalledIntervalMs = positive(opts.stalledIntervalMs, 'stalledIntervalMs', this.leaseMs / 2);
    this.orderWaitMs = positive(opts.orderWaitMs, 'orderWaitMs', 5000);
    this.unhandledWaitMs = positive(opts.unhandledWaitMs, 'unhandledWaitMs', 1000);
    this.onError = opts.onError ?? ((err) => console.error(`sarbridge jobs (${this.label}): ${err.message}`));
    this.random = opts.random ?? Math.random;
    this.redis = new Redis({ ...connection, maxRetriesPerRequest: 3 });
    this.redis.on('error', () => {});
    this.redis.defineCommand('sbClaimKey', { numberOfKeys: 2, lua: CLAIM_KEY });
    this.queue = new Queue(this.queueName, { connection: this.redis, prefix: this.prefix });
    this.queue.on('error', (err) => this.onError(err));
    this.base = `${this.prefix}:${this.queueName}:`;
    this.order = new RedisOrder(this.redis, {
      jobPrefix: this.base,
      completed: `${this.base}completed`,
      failed: `${this.base}failed`,
      own: `${this.base}sb:`,
    });
  }

  /** Connect, or fail with a message naming the server (openQueue calls it). */
  async connect(timeoutMs = 10_000): Promise<this> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.redis.ping(),
        new Promise((_, fail) => {
          timer = setTimeout(() => fail(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (err) {
      await this.queue.close().catch(() => {});
      this.redis.disconnect();
      throw new SarbridgeError(`redis queue ${this.label}: cannot connect: ${(err as Error).message}`, {
        cause: err,
      });
    } finally {
      clearTimeout(timer);
    }
    return this;
  }

  private open(): void {
    if (this.closed) throw new SarbridgeError(`redis queue ${this.label}: the queue is closed`);
  }

  private jobKey(id: string): string {
    return `${this.base}${id}`;
  }

  async add<P>(spec: JobSpec<P>): Promise<{ id: string; added: boolean }> {
    this.open();
    const r = resolveSpec(spec);
    const jobId = r.key === null ? undefined : keyJobId(r.key);
    if (r.key !== null && jobId !== undefined) {
      const claimed = await (this.redis as Redis & KeyCommands).sbClaimKey(
        `${this.base}sb:keys`,
        this.jobKey(jobId),
        r.key,
        String(Date.now()),
        String(KEY_CLAIM_STALE_MS),
      );
      if (claimed === 0) return { id: jobId, added: false };
    }
    const envelope: Envelope = {
      payload: JSON.parse(r.payloadJson),
      key: r.key,
      orderKey: r.orderKey,
      maxAttempts: r.maxAttempts,
      backoff: r.backoff,
    };
    // A job with an order key is added delayed and promoted once it is known to be the head.
    const delay = r.orderKey !== null && r.delayMs === 0 ? this.orderWaitMs : r.delayMs;
    const job = await this.queue.add(r.name, envelope, {
      jobId,
      attempts: r.maxAttempts,
      backoff: { type: BACKOFF_TYPE },
      delay,
      removeOnComplete: false,
      removeOnFail: false,
    });
    const id = job.id!;
    if (r.orderKey !== null) {
      const head = await this.order.join(r.orderKey, id, { park: r.delayMs === 0 });
      if (head && r.delayMs === 0) await this.promote(id);
    }
    return { id, added: true };
  }

  /** Move a delayed job to waiting, if it is still delayed. */
  private async promote(id: string): Promise<void> {
    try {
      const job = await BullJob.fromId(this.queue, id);
      await job?.promote();
    } catch {
      // No longer delayed: it runs already, or it woke by itself.
    }
  }

  work(handlers: Record<string, JobHandler>, opts: WorkerOptions = {}): JobWorker {
    this.open();
    const o = resolveWorkerOptions(handlers, opts);
    const names = new Set(o.names);
    const state = { aborting: false };
    const processor = async (job: BullJob, token?: string, signal?: AbortSignal): Promise<unknown> => {
      const env = job.data as Envelope;
      const id = job.id!;
      if (!names.has(job.name)) {
        await job.moveToDelayed(Date.now() + this.unhandledWaitMs, token);
        throw new DelayedError();
      }
      if (env.orderKey !== null && !(await this.order.join(env.orderKey, id, { park: true }))) {
        await job.moveToDelayed(Date.now() + this.orderWaitMs, token);
        // The head may have finished between the look and the move: then nobody would promote it.
        if (await this.order.join(env.orderKey, id, { park: true })) await this.promote(id);
        throw new DelayedError();
      }
      const before = Number((await this.redis.hget(this.jobKey(id), ATTEMPT_FIELD)) ?? 0);
      if (before >= env.maxAttempts) {
        throw new UnrecoverableError(
          `attempt ${before} of ${env.maxAttempts}: the worker was lost (its lock expired)`,
        );
      }
      const attempt = await this.redis.hincrby(this.jobKey(id), ATTEMPT_FIELD, 1);
      const handle: Job = {
        id,
        name: job.name,
        key: env.key,
        payload: env.payload,
        attempt,
        maxAttempts: env.maxAttempts,
        signal: signal ?? new AbortController().signal,
        progress: (p) => job.updateProgress({ ...checkProgress(p) }),
      };
      try {
        if (state.aborting) throw new Error('the worker is shutting down');
        return JSON.parse(resultJson(await handlers[job.name]!(handle)));
      } catch (err) {
        if (state.aborting) {
          // Released untried: the worker shuts down.
          await this.redis.hincrby(this.jobKey(id), ATTEMPT_FIELD, -1);
          await job.moveToDelayed(Date.now(), token);
          throw new DelayedError();
        }
        let msg = errorMessage(err);
        if (err instanceof PermanentJobError) throw new UnrecoverableError(msg);
        if (attempt >= env.maxAttempts) {
          if (err instanceof RetryJobLater) {
            msg = `${msg} (retry asked after ${err.delayMs} ms, but this was attempt ${attempt} of ${env.maxAttempts})`;
          }
          throw new UnrecoverableError(msg);
        }
        if (err instanceof RetryJobLater) {
          await this.redis.hset(this.jobKey(id), 'failedReason', msg);
          await job.moveToDelayed(Date.now() + Math.max(0, err.delayMs), token);
          throw new DelayedError();
        }
        throw new AttemptFailed(msg, backoffDelayMs(env.backoff, attempt, this.random));
      }
    };
    const worker = new Worker(this.queueName, processor, {
      connection: { ...this.connection, maxRetriesPerRequest: null },
      prefix: this.prefix,
      concurrency: o.concurrency,
      lockDuration: this.leaseMs,
      stalledInterval: this.stalledIntervalMs,
      // The attempt counter bounds the runs of a job that keeps losing its worker.
      maxStalledCount: Number.MAX_SAFE_INTEGER,
      drainDelay: 1,
      settings: {
        backoffStrategy: (_made: number, _type?: string, err?: Error) =>
          err instanceof AttemptFailed ? err.delayMs : 1000,
      },
    });
    worker.on('error', (err) => this.onError(err));
    worker.on('lockRenewalFailed', (ids: string[]) => {
      for (const id of ids) worker.cancelJob(id, 'the lock was lost');
    });
    const advance = (job: BullJob | undefined) => {
      const orderKey = (job?.data as Envelope | undefined)?.orderKey;
      if (!orderKey) return;
      this.order
        .advance(orderKey)
        .then((next) => (next ? this.promote(next) : undefined))
        .catch((err) => this.onError(err));
    };
    worker.on('completed', advance);
    worker.on('failed', advance);
    const handle: RedisWorkerHandle = {
      close: async (c = {}) => {
        if (c.abort) {
          state.aborting = true;
          worker.cancelAllJobs('the worker is shutting down');
        }
        await worker.close();
        this.workers.delete(handle);
      },
    };
    this.workers.add(handle);
    return handle;
  }

  private async record(job: BullJob, state?: JobState): Promise<JobRecord> {
    const id = job.id!;
    const [s, attempt, delayedScore] = await Promise.all([
      state ?? job.getState().then(bullState),
      this.redis.hget(this.jobKey(id), ATTEMPT_FIELD),
      this.redis.zscore(`${this.base}delayed`, id),
    ]);
    const env = job.data as Envelope;
    const runAfter =
      s === 'delayed' && delayedScore !== null
        ? Math.floor(Number(delayedScore) / 0x1000)
        : s === 'waiting'
          ? job.timestamp + (job.delay ?? 0)
          : null;
    return {
      id,
      name: job.name,
      key: env.key,
      orderKey: env.orderKey,
      payload: env.payload,
      state: s,
      attempt: Number(attempt ?? 0),
      maxAttempts: env.maxAttempts,
      progress: toProgress(job.progress),
      result: s === 'completed' ? (job.returnvalue ?? null) : null,
      error: s === 'completed' ? null : job.failedReason || null,
      createdAt: new Date(job.timestamp).toISOString(),
      startedAt: isoOrNull(job.processedOn),
      finishedAt: s === 'completed' || s === 'failed' ? isoOrNull(job.finishedOn) : null,
      runAfter: isoOrNull(runAfter),
    };
  }

  async get(id: string): Promise<JobRecord | null> {
    this.open();
    if (typeof id !== 'string' || id === '' || id.length > 2000) return null;
    const job = await BullJob.fromId(this.queue, id);
    return job ? this.record(job) : null;
  }

  async list(query: JobListQuery = {}): Promise<JobRecord[]> {
    this.open();
    const q = resolveListQuery(query);
    const want = q.offset + q.limit;
    const found: { job: BullJob; state: JobState }[] = [];
    for (const state of q.state ? [q.state] : JOB_STATES) {
      for (const type of BULL_TYPES[state]) {
        let matched = 0;
        for (let start = 0; matched < want; start += 500) {
          const page = await this.queue.getJobs([type], start, start + 499, false);
          for (const job of page as BullJob[]) {
            if (!job || (q.name && job.name !== q.name)) continue;
            found.push({ job, state });
            matched++;
          }
          if (page.length < 500) break;
        }
      }
    }
    found.sort((a, b) => b.job.timestamp - a.job.timestamp);
    return Promise.all(found.slice(q.offset, want).map((f) => this.record(f.job, f.state)));
  }

  async counts(): Promise<Record<JobState, number>> {
    this.open();
    const c = await this.queue.getJobCounts(...Object.values(BULL_TYPES).flat());
    const out = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
    for (const s of JOB_STATES) for (const t of BULL_TYPES[s]) out[s] += c[t] ?? 0;
    return out;
  }

  async retry(id: string): Promise<JobRecord> {
    this.open();
    const job = typeof id === 'string' && id !== '' ? await BullJob.fromId(this.queue, id) : undefined;
    if (!job) throw new NotFoundError(`job ${id}: no such job in ${this.label} queue ${this.queueName}`);
    const state = bullState(await job.getState());
    if (state !== 'failed')
      throw new ConflictError(`job ${id}: only a failed job can be retried, this one is ${state}`);
    await this.redis.hset(this.jobKey(job.id!), ATTEMPT_FIELD, 0);
    const env = job.data as Envelope;
    if (env.orderKey !== null) await this.order.join(env.orderKey, job.id!, { park: false, renew: true });
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    return this.record((await BullJob.fromId(this.queue, job.id!))!);
  }

  async drained(opts: { timeoutMs?: number } = {}): Promise<void> {
    this.open();
    const timeoutMs = positive(opts.timeoutMs, 'drained timeoutMs', 60_000);
    const until = Date.now() + timeoutMs;
    for (;;) {
      const c = await this.counts();
      if (c.waiting + c.delayed + c.active === 0) return;
      if (Date.now() >= until) {
        throw new SarbridgeError(
          `redis queue ${this.label} ${this.queueName}: not drained within ${timeoutMs} ms (waiting ${c.waiting}, delayed ${c.delayed}, active ${c.active})`,
        );
      }
      await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, until - Date.now()))));
    }
  }

  /** Delete every key of this queue (tests, benchmarks). */
  async obliterate(): Promise<void> {
    this.open();
    await this.queue.obliterate({ force: true });
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.base}sb:*`, 'COUNT', 500);
      if (keys.length) await this.redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.workers].map((w) => w.close()));
    this.closed = true;
    await this.queue.close();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

type RedisWorkerHandle = JobWorker;
