/**
 * The one job queue interface of sarbridge. Pipeline steps and webhook deliveries are jobs; two
 * implementations hold them: the embedded queue in a SQLite database (the default, nothing to
 * install) and BullMQ on Redis (`--queue redis://...`, workers on any number of machines).
 *
 * Delivery is at least once: a job whose worker dies (kill -9, a lost machine) is run again after
 * its lease expires, so every handler must be idempotent (a step checks what it already did; a
 * webhook carries the same id on every attempt).
 */

/** Retry policy: attempt n (1-based) that fails waits min(maxDelayMs, delayMs * 2^(n-1)), jittered. */
export interface Backoff {
  delayMs: number;
  maxDelayMs: number;
  /** Fraction of the delay drawn at random (0: none, 1: full jitter). */
  jitter: number;
}

export interface JobSpec<P = unknown> {
  /** The handler that runs it (a pipeline step, 'webhook.deliver', ...). */
  name: string;
  payload: P;
  /**
   * Idempotency key: a job with the key of a job the queue already holds (in any state, until it
   * is removed) is not added again; `add` answers the existing job's id with `added: false`.
   */
  key?: string;
  /**
   * Jobs with the same order key run one at a time, in the order they were added: a job starts only
   * after every earlier job of its key has completed or failed for good (webhooks per subscription).
   */
  orderKey?: string;
  /** Attempts in all before the job fails for good (default 5). */
  attempts?: number;
  backoff?: Partial<Backoff>;
  /** Run no earlier than this many ms from now. */
  delayMs?: number;
}

export type JobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed';
export const JOB_STATES: readonly JobState[] = ['waiting', 'delayed', 'active', 'completed', 'failed'];

export interface JobProgress {
  done: number;
  total: number;
  message?: string;
}

/** What the queue knows of a job (the operator's view: `sarbridge jobs`, /admin/jobs). */
export interface JobRecord<P = unknown> {
  id: string;
  name: string;
  key: string | null;
  orderKey: string | null;
  payload: P;
  state: JobState;
  /** Attempts started so far. */
  attempt: number;
  maxAttempts: number;
  progress: JobProgress | null;
  /** The handler's answer (JSON), once completed. */
  result: unknown;
  /** The last attempt's error message, if any. */
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** When a waiting or delayed job may next run. */
  runAfter: string | null;
}

/** The running attempt, as a handler sees it. */
export interface Job<P = unknown> {
  id: string;
  name: string;
  key: string | null;
  payload: P;
  /** 1 on the first attempt. */
  attempt: number;
  maxAttempts: number;
  /** Aborted when the worker shuts down or the job's lease is lost. */
  signal: AbortSignal;
  progress(p: JobProgress): Promise<void>;
}

export type JobHandler<P = unknown> = (job: Job<P>) => Promise<unknown>;

/** Thrown by a handler: fail the job for good, no retry (a corrupt product, a 410 endpoint). */
export class PermanentJobError extends Error {
  override name = 'PermanentJobError';
}

/** Thrown by a handler: retry no earlier than `delayMs` from now (a 429 or 503 with Retry-After). */
export class RetryJobLater extends Error {
  override name = 'RetryJobLater';
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
  }
}

export interface WorkerOptions {
  /** Jobs run at once by this worker (default 1). */
  concurrency?: number;
  /** Only these job names (default: every name with a handler). */
  names?: string[];
}

export interface JobWorker {
  /** Stop taking jobs; wait for the running ones to finish (or, with `abort`, abort them). */
  close(opts?: { abort?: boolean }): Promise<void>;
}

export interface JobListQuery {
  state?: JobState;
  name?: string;
  limit?: number;
  offset?: number;
}

export interface JobQueue {
  /** 'sqlite' or 'redis', for reports. */
  readonly kind: string;
  add<P>(spec: JobSpec<P>): Promise<{ id: string; added: boolean }>;
  /** Start a worker in this process that runs jobs with these handlers. */
  work(handlers: Record<string, JobHandler>, opts?: WorkerOptions): JobWorker;
  get(id: string): Promise<JobRecord | null>;
  list(query?: JobListQuery): Promise<JobRecord[]>;
  counts(): Promise<Record<JobState, number>>;
  /** Put a failed job back to waiting with a fresh set of attempts (operator action). */
  retry(id: string): Promise<JobRecord>;
  /** Resolves when no job is waiting, delayed or active (tests, `npm start` seeding). */
  drained(opts?: { timeoutMs?: number }): Promise<void>;
  close(): Promise<void>;
}
