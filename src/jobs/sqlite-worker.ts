/**
 * A worker of the SQLite queue: claims jobs up to its concurrency, renews their leases by heartbeat,
 * and records how each attempt ended. It looks for work every pollIntervalMs, and at once when a job
 * is added or finished in this process.
 */
import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { Job, JobHandler, JobWorker, WorkerOptions } from './queue.js';
import { checkProgress, resolveWorkerOptions, resultJson } from './spec.js';
import type { Outcome, SqliteJobQueue } from './sqlite-queue.js';
import type { JobRow } from './sqlite-schema.js';

interface Running {
  row: JobRow;
  controller: AbortController;
  done: Promise<void>;
}

export class SqliteWorker implements JobWorker {
  readonly id = randomUUID();
  /** Resolves when the worker has stopped and its running jobs have ended. */
  readonly closed: Promise<void>;
  private readonly concurrency: number;
  private readonly names: string[];
  private readonly running = new Map<number, Running>();
  private readonly heartbeat: NodeJS.Timeout;
  private stopping = false;
  private aborting = false;
  private nudge: (() => void) | null = null;
  private woken = false;
  private readonly onWake = () => this.poke();

  constructor(
    private readonly queue: SqliteJobQueue,
    private readonly handlers: Record<string, JobHandler>,
    opts: WorkerOptions,
    private readonly wake: EventEmitter,
  ) {
    const o = resolveWorkerOptions(handlers, opts);
    this.concurrency = o.concurrency;
    this.names = o.names;
    this.wake.on('wake', this.onWake);
    this.heartbeat = setInterval(() => this.renew(), queue.heartbeatMs);
    this.closed = this.loop();
  }

  private poke(): void {
    this.woken = true;
    this.nudge?.();
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const free = this.concurrency - this.running.size;
      let claimed: JobRow[] = [];
      this.woken = false;
      if (free > 0) {
        try {
          claimed = this.queue.claim(this.names, free, this.id);
        } catch (err) {
          this.queue.onError(err as Error);
        }
      }
      for (const row of claimed) this.start(row);
      if (free > 0 && claimed.length === free) continue;
      if (this.woken) continue;
      let sleepMs = this.queue.pollIntervalMs;
      if (free > 0) {
        try {
          const next = this.queue.msUntilNextRun(this.names);
          if (next !== null) sleepMs = Math.max(1, Math.min(sleepMs, next));
        } catch (err) {
          this.queue.onError(err as Error);
        }
      }
      await new Promise<void>((done) => {
        const timer = setTimeout(finish, sleepMs);
        function finish() {
          clearTimeout(timer);
          done();
        }
        this.nudge = finish;
      });
      this.nudge = null;
    }
    await Promise.all([...this.running.values()].map((r) => r.done));
    clearInterval(this.heartbeat);
    this.wake.off('wake', this.onWake);
  }

  private start(row: JobRow): void {
    const controller = new AbortController();
    const token = row.lease_owner!;
    const job: Job = {
      id: String(row.id),
      name: row.name,
      key: row.key,
      payload: JSON.parse(row.payload),
      attempt: row.attempt,
      maxAttempts: row.max_attempts,
      signal: controller.signal,
      progress: async (p) => {
        if (!this.queue.setProgress(row.id, token, checkProgress(p))) {
          controller.abort(new Error(`job ${row.id}: the lease was lost`));
        }
      },
    };
    const handler = this.handlers[row.name]!;
    const done = (async () => {
      let outcome: Outcome;
      try {
        outcome = { ok: true, resultJson: resultJson(await handler(job)) };
      } catch (err) {
        outcome = this.aborting ? { released: true } : { ok: false, err };
      }
      try {
        this.queue.finish(row, outcome);
      } catch (err) {
        this.queue.onError(err as Error);
      }
      this.running.delete(row.id);
      this.poke();
    })();
    this.running.set(row.id, { row, controller, done });
  }

  /** Renew the leases of the running jobs; abort a job whose lease was lost. */
  private renew(): void {
    for (const r of this.running.values()) {
      try {
        if (!this.queue.renew(r.row.id, r.row.lease_owner!)) {
          r.controller.abort(new Error(`job ${r.row.id}: the lease was lost`));
        }
      } catch (err) {
        this.queue.onError(err as Error);
      }
    }
  }

  async close(opts: { abort?: boolean } = {}): Promise<void> {
    this.stopping = true;
    if (opts.abort) {
      this.aborting = true;
      for (const r of this.running.values()) r.controller.abort(new Error('the worker is shutting down'));
    }
    this.poke();
    await this.closed;
  }
}
