/**
 * The embedded job queue: one SQLite database file (WAL, busy_timeout), shared by every process
 * that opens it. A worker claims jobs in one IMMEDIATE transaction and holds each under a lease
 * (a random token and an expiry) that it renews by heartbeat; a job whose lease expired (its worker
 * was killed) goes back to waiting and runs again, and every write of a finished attempt is fenced
 * by the token, so a worker that lost its lease cannot overwrite the attempt that replaced it.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { ConflictError, NotFoundError, SarbridgeError, ValidationError } from '../errors.js';
import {
  type Backoff,
  JOB_STATES,
  type JobHandler,
  type JobListQuery,
  type JobProgress,
  type JobQueue,
  type JobRecord,
  type JobSpec,
  type JobState,
  type JobWorker,
  PermanentJobError,
  RetryJobLater,
  type WorkerOptions,
} from './queue.js';
import { backoffDelayMs, errorMessage, resolveListQuery, resolveSpec } from './spec.js';
import { type JobRow, rowToRecord, SCHEMA, stateCondition } from './sqlite-schema.js';
import { SqliteWorker } from './sqlite-worker.js';

export interface SqliteQueueOptions {
  /** A job whose worker has not renewed its lease for this long runs again (default 30 s). */
  leaseMs?: number;
  /** How often a worker renews the leases of its running jobs (default leaseMs / 3). */
  heartbeatMs?: number;
  /** How often an idle worker looks for jobs added by other processes (default 250 ms). */
  pollIntervalMs?: number;
  /** How long a statement waits for another process's write lock (default 10 s). */
  busyTimeoutMs?: number;
  /**
   * FULL (default): an acknowledged add or retry is synced to disk, so it survives a power cut;
   * NORMAL: it survives a killed process only. A worker's claims, leases and results are always
   * written with NORMAL: a power cut may undo the last of them, and the job then runs again, which
   * at-least-once delivery allows (a killed process loses none of them).
   */
  synchronous?: 'FULL' | 'NORMAL';
  /** Errors of a worker's loop (a full disk, a closed database); default: written to stderr. */
  onError?: (err: Error) => void;
  /** Random number source for the back-off jitter (tests). */
  random?: () => number;
}

/** Wakes this process's workers of a database file when a job is added or finished. */
const wakers = new Map<string, EventEmitter>();
function waker(path: string): EventEmitter {
  let w = wakers.get(path);
  if (!w) {
    w = new EventEmitter();
    w.setMaxListeners(0);
    wakers.set(path, w);
  }
  return w;
}

function positive(value: number | undefined, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ValidationError(
      `sqlite queue ${field}: expected a positive number of ms, got ${String(value)}`,
    );
  }
  return value;
}

/** How a finished attempt ends, as the worker reports it. */
export type Outcome = { ok: true; resultJson: string } | { ok: false; err: unknown } | { released: true };

export class SqliteJobQueue implements JobQueue {
  readonly kind = 'sqlite';
  readonly leaseMs: number;
  readonly heartbeatMs: number;
  readonly pollIntervalMs: number;
  readonly onError: (err: Error) => void;
  private readonly db: Database.Database;
  private readonly wake: EventEmitter;
  private readonly random: () => number;
  private readonly workers = new Set<SqliteWorker>();
  private readonly statements = new Map<string, Database.Statement>();
  private closed = false;
  private readonly syncAdds: boolean;

  /** Open (and create) the queue in this SQLite file; ':memory:' gives a queue for one process. */
  constructor(
    readonly file: string,
    opts: SqliteQueueOptions = {},
  ) {
    if (typeof file !== 'string' || file === '') {
      throw new ValidationError(`sqlite queue file: expected a path, got ${JSON.stringify(file)}`);
    }
    this.leaseMs = positive(opts.leaseMs, 'leaseMs', 30_000);
    this.heartbeatMs = positive(opts.heartbeatMs, 'heartbeatMs', this.leaseMs / 3);
    if (this.heartbeatMs >= this.leaseMs) {
      throw new ValidationError(
        `sqlite queue heartbeatMs: expected less than leaseMs (${this.leaseMs}), got ${this.heartbeatMs}`,
      );
    }
    this.pollIntervalMs = positive(opts.pollIntervalMs, 'pollIntervalMs', 250);
    this.onError = opts.onError ?? ((err) => console.error(`sarbridge jobs (${file}): ${err.message}`));
    this.random = opts.random ?? Math.random;
    try {
      this.db = new Database(file);
    } catch (err) {
      throw new SarbridgeError(`sqlite queue ${file}: cannot open the database: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.db.pragma(`busy_timeout = ${Math.round(positive(opts.busyTimeoutMs, 'busyTimeoutMs', 10_000))}`);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.syncAdds = opts.synchronous !== 'NORMAL';
    this.db.exec(SCHEMA);
    this.wake = waker(file === ':memory:' ? `:memory:${randomUUID()}` : resolve(file));
  }

  /** Run an IMMEDIATE transaction that an operator or producer waits on: synced when syncAdds. */
  private synced<T>(fn: () => T): T {
    if (!this.syncAdds) return this.db.transaction(fn).immediate();
    this.db.pragma('synchronous = FULL');
    try {
      return this.db.transaction(fn).immediate();
    } finally {
      this.db.pragma('synchronous = NORMAL');
    }
  }

  /** A prepared statement, kept for the next call. */
  private sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }

  private open(): void {
    if (this.closed) throw new SarbridgeError(`sqlite queue ${this.file}: the queue is closed`);
  }

  async add<P>(spec: JobSpec<P>): Promise<{ id: string; added: boolean }> {
    this.open();
    const r = resolveSpec(spec);
    const now = Date.now();
    const out = this.synced(() => {
      if (r.key !== null) {
        const existing = this.sql('SELECT id FROM queue_jobs WHERE key = ?').get(r.key) as
          | { id: number }
          | undefined;
        if (existing) return { id: String(existing.id), added: false };
      }
      const seq = r.orderKey === null ? 0 : this.nextOrderSeq();
      const info = this.sql(
        `INSERT INTO queue_jobs (name, key, order_key, order_seq, payload, state, max_attempts, backoff,
               run_after, created_at)
             VALUES (?, ?, ?, ?, ?, 'waiting', ?, ?, ?, ?)`,
      ).run(
        r.name,
        r.key,
        r.orderKey,
        seq,
        r.payloadJson,
        r.maxAttempts,
        JSON.stringify(r.backoff),
        now + r.delayMs,
        now,
      );
      return { id: String(info.lastInsertRowid), added: true };
    });
    if (out.added) this.wake.emit('wake');
    return out;
  }

  private nextOrderSeq(): number {
    return (
      this.sql('UPDATE queue_order_seq SET value = value + 1 WHERE id = 1 RETURNING value').get() as {
        value: number;
      }
    ).value;
  }

  work(handlers: Record<string, JobHandler>, opts: WorkerOptions = {}): JobWorker {
    this.open();
    const w = new SqliteWorker(this, handlers, opts, this.wake);
    this.workers.add(w);
    w.closed.then(() => this.workers.delete(w));
    return w;
  }

  /**
   * Claim up to `n` runnable jobs of these names for this worker, in one IMMEDIATE transaction:
   * first the jobs whose lease expired go back to waiting (or fail, on their last attempt), then the
   * earliest runnable jobs whose order key has no earlier job waiting or active become active
   * under a fresh lease token.
   */
  claim(names: string[], n: number, workerId: string): JobRow[] {
    const now = Date.now();
    return this.db
      .transaction(() => {
        this.sql(
          `UPDATE queue_jobs SET
               state = CASE WHEN attempt >= max_attempts THEN 'failed' ELSE 'waiting' END,
               error = 'attempt ' || attempt || ' of ' || max_attempts || ': the worker was lost (its lease expired)',
               finished_at = CASE WHEN attempt >= max_attempts THEN @now ELSE NULL END,
               run_after = @now, lease_owner = NULL, lease_expires_at = NULL
             WHERE state = 'active' AND lease_expires_at <= @now`,
        ).run({ now });
        const ids = this.sql(
          `SELECT id FROM queue_jobs j
             WHERE j.state = 'waiting' AND j.run_after <= @now
               AND j.name IN (SELECT value FROM json_each(@names))
               AND (j.order_key IS NULL OR NOT EXISTS (
                 SELECT 1 FROM queue_jobs e
                 WHERE e.order_key = j.order_key AND e.state IN ('waiting', 'active') AND e.order_seq < j.order_seq))
             ORDER BY j.run_after, j.id LIMIT @n`,
        ).all({ now, names: JSON.stringify(names), n }) as { id: number }[];
        const take = this.sql(
          `UPDATE queue_jobs SET state = 'active', attempt = attempt + 1, lease_owner = @token,
             lease_expires_at = @expires, started_at = @now, finished_at = NULL
           WHERE id = @id RETURNING *`,
        );
        return ids.map(
          ({ id }) =>
            take.get({
              id,
              token: `${workerId}:${randomUUID()}`,
              expires: now + this.leaseMs,
              now,
            }) as JobRow,
        );
      })
      .immediate();
  }

  /** Renew a lease; false when the job is no longer held under this token (the lease was lost). */
  renew(id: number, token: string): boolean {
    const info = this.sql(
      `UPDATE queue_jobs SET lease_expires_at = ? WHERE id = ? AND lease_owner = ? AND state = 'active'`,
    ).run(Date.now() + this.leaseMs, id, token);
    return info.changes === 1;
  }

  setProgress(id: number, token: string, p: JobProgress): boolean {
    const info = this.sql(
      `UPDATE queue_jobs SET progress = ? WHERE id = ? AND lease_owner = ? AND state = 'active'`,
    ).run(JSON.stringify(p), id, token);
    return info.changes === 1;
  }

  /**
   * Record how an attempt ended, if its lease is still held: completed; failed for good (a
   * PermanentJobError or the last attempt); waiting again after RetryJobLater's delay or the
   * back-off; or released untried (the worker shut down with abort). False if the lease was lost.
   */
  finish(row: JobRow, outcome: Outcome): boolean {
    const now = Date.now();
    const fence = { id: row.id, token: row.lease_owner, now };
    const where = "WHERE id = @id AND lease_owner = @token AND state = 'active'";
    const clear = 'lease_owner = NULL, lease_expires_at = NULL';
    let info: Database.RunResult;
    if ('released' in outcome) {
      info = this.sql(
        `UPDATE queue_jobs SET state = 'waiting', attempt = attempt - 1, run_after = @now, ${clear} ${where}`,
      ).run(fence);
    } else if (outcome.ok) {
      info = this.sql(
        `UPDATE queue_jobs SET state = 'completed', result = @result, error = NULL, finished_at = @now, ${clear} ${where}`,
      ).run({ ...fence, result: outcome.resultJson });
    } else {
      const err = outcome.err;
      const last = row.attempt >= row.max_attempts || err instanceof PermanentJobError;
      let error = errorMessage(err);
      let delayMs = 0;
      if (!last) {
        delayMs =
          err instanceof RetryJobLater
            ? Math.max(0, err.delayMs)
            : backoffDelayMs(JSON.parse(row.backoff) as Backoff, row.attempt, this.random);
      } else if (err instanceof RetryJobLater) {
        error = `${error} (retry asked after ${err.delayMs} ms, but this was attempt ${row.attempt} of ${row.max_attempts})`;
      }
      info = this.sql(
        `UPDATE queue_jobs SET state = @state, error = @error, run_after = @runAfter,
             finished_at = @finishedAt, ${clear} ${where}`,
      ).run({
        ...fence,
        state: last ? 'failed' : 'waiting',
        error,
        runAfter: now + delayMs,
        finishedAt: last ? now : null,
      });
    }
    if (info.changes === 1) this.wake.emit('wake');
    return info.changes === 1;
  }

  async get(id: string): Promise<JobRecord | null> {
    this.open();
    if (!/^[1-9][0-9]{0,15}$/.test(String(id))) return null;
    const row = this.sql('SELECT * FROM queue_jobs WHERE id = ?').get(Number(id)) as JobRow | undefined;
    return row ? rowToRecord(row, Date.now()) : null;
  }

  async list(query: JobListQuery = {}): Promise<JobRecord[]> {
    this.open();
    const q = resolveListQuery(query);
    const where: string[] = [];
    if (q.state) where.push(stateCondition(q.state));
    if (q.name) where.push('name = @name');
    const now = Date.now();
    const rows = this.sql(
      `SELECT * FROM queue_jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY id DESC LIMIT @limit OFFSET @offset`,
    ).all({ now, name: q.name, limit: q.limit, offset: q.offset }) as JobRow[];
    return rows.map((r) => rowToRecord(r, now));
  }

  async counts(): Promise<Record<JobState, number>> {
    this.open();
    const rows = this.sql(
      `SELECT CASE WHEN state = 'waiting' AND run_after > ? THEN 'delayed' ELSE state END AS s, count(*) AS n
         FROM queue_jobs GROUP BY s`,
    ).all(Date.now()) as { s: JobState; n: number }[];
    const out = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
    for (const r of rows) out[r.s] = r.n;
    return out;
  }

  async retry(id: string): Promise<JobRecord> {
    this.open();
    const now = Date.now();
    const row = this.synced(() => {
      const cur = /^[1-9][0-9]{0,15}$/.test(String(id))
        ? (this.sql('SELECT * FROM queue_jobs WHERE id = ?').get(Number(id)) as JobRow | undefined)
        : undefined;
      if (!cur) throw new NotFoundError(`job ${id}: no such job in ${this.file}`);
      if (cur.state !== 'failed') {
        throw new ConflictError(`job ${id}: only a failed job can be retried, this one is ${cur.state}`);
      }
      const seq = cur.order_key === null ? 0 : this.nextOrderSeq();
      return this.sql(
        `UPDATE queue_jobs SET state = 'waiting', attempt = 0, run_after = @now, order_seq = @seq,
               finished_at = NULL, progress = NULL WHERE id = @id RETURNING *`,
      ).get({ id: cur.id, now, seq }) as JobRow;
    });
    this.wake.emit('wake');
    return rowToRecord(row, now);
  }

  /** Milliseconds until the next delayed job of these names may run (null: none is delayed). */
  msUntilNextRun(names: string[]): number | null {
    const now = Date.now();
    const r = this.sql(
      `SELECT min(run_after) AS t FROM queue_jobs
       WHERE state = 'waiting' AND run_after > ? AND name IN (SELECT value FROM json_each(?))`,
    ).get(now, JSON.stringify(names)) as { t: number | null };
    return r.t === null ? null : r.t - now;
  }

  /** Jobs waiting or active (delayed ones included), for drained(). */
  pending(): number {
    return (
      this.sql("SELECT count(*) AS n FROM queue_jobs WHERE state IN ('waiting', 'active')").get() as {
        n: number;
      }
    ).n;
  }

  async drained(opts: { timeoutMs?: number } = {}): Promise<void> {
    this.open();
    const timeoutMs = positive(opts.timeoutMs, 'drained timeoutMs', 60_000);
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (this.pending() === 0) return;
      if (Date.now() >= until) {
        const c = await this.counts();
        throw new SarbridgeError(
          `sqlite queue ${this.file}: not drained within ${timeoutMs} ms (waiting ${c.waiting}, delayed ${c.delayed}, active ${c.active})`,
        );
      }
      await new Promise<void>((done) => {
        const finish = () => {
          clearTimeout(timer);
          this.wake.off('wake', finish);
          done();
        };
        const timer = setTimeout(finish, Math.min(50, Math.max(1, until - Date.now())));
        this.wake.on('wake', finish);
      });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.workers].map((w) => w.close()));
    this.closed = true;
    this.db.close();
  }
}
