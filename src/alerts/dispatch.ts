/**
 * The webhook dispatcher and deliverer.
 *
 * The dispatcher reads the outbox after its durable cursor, fans each row out into alert events,
 * finds the active subscriptions whose filters match, creates one delivery record per
 * (subscription, event) (idempotent), makes sure each such subscription has a job on the queue,
 * then moves the cursor. A subscription's job (`alerts.deliver`, order key `alerts:<id>`, keyed by
 * its next record) delivers its records one at a time in event order: the next is attempted only
 * once the previous is delivered, dead, dropped or disabled; a retry is the same job run again
 * after the wait (RetryJobLater). The queue holds about one job per subscription, not one per
 * delivery.
 *
 * Each record's turn takes the record, not the job, as the truth: a
 * final record is done; a pending one not yet due waits (RetryJobLater); otherwise it checks the
 * subscription is active and the subscriber, as it is now, may still see the item (else `dropped`,
 * nothing sent), makes one attempt, writes the attempt to the audit log and the record, and either
 * ends the job (delivered, dead, disabled) or asks the queue to run it again after the schedule's
 * wait. A kill -9 at any moment leaves a record the next run of the job (or the start-up sweep)
 * continues from: at least once, with the same webhook-id.
 */
import type { AuditInput } from '../access/audit.js';
import type { OutboxEvent } from '../catalog/outbox.js';
import { type JobHandler, type JobQueue, type JobSpec, RetryJobLater } from '../jobs/queue.js';
import { type AttemptResult, attemptDelivery } from './deliver.js';
import type { DeliveryRecord, DeliveryStore } from './delivery-store.js';
import { checkSchedule, DEFAULT_SCHEDULE, nextStep, type RetrySchedule } from './retry.js';
import type { AlertEvent } from './types.js';

export const DELIVER_JOB = 'alerts.deliver';
/** The most attempts a delivery job may take (the schedule decides when a delivery is dead). */
const JOB_ATTEMPTS = 1000;

/** What delivery needs of a subscription. */
export interface Subscriber {
  id: string;
  orgId: string;
  /** The principal that created it, whose scope (as it is now) decides what is sent. */
  principalId: string;
  url: string;
  /** The live signing secrets ('whsec_...'), newest first. */
  secrets: string[];
  active: boolean;
}

/** The endpoint to connect to (from the egress policy). */
export interface ResolvedEndpoint {
  url: string;
  address: string;
  family: 4 | 6;
}

/** Everything the dispatcher and deliverer use, passed in (wired in one place). */
export interface DispatchDeps {
  queue: JobQueue;
  deliveries: DeliveryStore;
  /** Outbox rows after `afterSeq`, in seq order. */
  readOutbox(afterSeq: number, limit: number): Promise<OutboxEvent[]>;
  /** The alert events of one outbox row. */
  fanout(row: OutboxEvent): Promise<AlertEvent[]>;
  /** Ids of the active subscriptions whose type, area and filter match the event. */
  matching(ev: AlertEvent): Promise<string[]>;
  subscription(id: string): Promise<Subscriber | null>;
  /** Disable a subscription (its endpoint answered 410). */
  disable(id: string, reason: string): Promise<void>;
  /** May the subscriber, as it is now, see the event's item (checked by the catalog under its scope)? */
  visible(sub: Subscriber, ev: AlertEvent): Promise<boolean>;
  /** The egress policy: the address to connect to; throws when the URL is not allowed. */
  resolve(url: string): Promise<ResolvedEndpoint>;
  /** The webhook-signature header value. */
  sign(secrets: string[], webhookId: string, timestampS: number, body: string): string;
  /** The request body (the CloudEvent, JSON). */
  body(ev: AlertEvent): string;
  /** Append one audit record (the access audit log). */
  audit(r: AuditInput): void;
}

export interface DispatchOptions {
  schedule?: RetrySchedule;
  /** Per attempt: connect, request and whole response (default 10 s). */
  attemptTimeoutMs?: number;
  maxResponseBytes?: number;
  /** The cursor's name (one per dispatcher of a database). */
  cursorName?: string;
  /** Outbox rows read at once (default 100). */
  batch?: number;
  random?: () => number;
  now?: () => number;
  /** Extra CA certificates for https endpoints (tests). */
  ca?: string | Buffer;
}

/**
 * The job that delivers a subscription's records in order, named by its next record (id,
 * redelivery generation, attempts so far), so adding it again for the same state is a no-op and a
 * changed state gets a fresh job; the order key runs one at a time per subscription.
 */
export function subscriptionJob(
  head: Pick<DeliveryRecord, 'id' | 'subscriptionId' | 'generation' | 'attempts'>,
): JobSpec<{ subscriptionId: string }> {
  return {
    name: DELIVER_JOB,
    payload: { subscriptionId: head.subscriptionId },
    key: `${DELIVER_JOB}:${head.subscriptionId}:${head.id}:${head.generation}:${head.attempts}`,
    orderKey: `alerts:${head.subscriptionId}`,
    attempts: JOB_ATTEMPTS,
  };
}

export class WebhookDispatcher {
  private readonly schedule: RetrySchedule;
  private readonly timeoutMs: number;
  private readonly cursorName: string;
  private readonly batch: number;
  private readonly random: () => number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  private stopped = false;

  constructor(
    private readonly deps: DispatchDeps,
    private readonly o: DispatchOptions = {},
  ) {
    this.schedule = checkSchedule(o.schedule ?? DEFAULT_SCHEDULE);
    this.timeoutMs = o.attemptTimeoutMs ?? 10_000;
    this.cursorName = o.cursorName ?? 'webhooks';
    this.batch = o.batch ?? 100;
    this.random = o.random ?? Math.random;
    this.now = o.now ?? Date.now;
  }

  /** The job handlers to give the queue's worker. */
  handlers(): Record<string, JobHandler> {
    return {
      [DELIVER_JOB]: (job) =>
        this.deliverSubscription((job.payload as { subscriptionId: string }).subscriptionId, job.attempt),
    };
  }

  /** Queue the jobs of records still to deliver (after a crash; idempotent: the jobs' keys). */
  async sweep(): Promise<number> {
    const subs = await this.deps.deliveries.unfinishedSubscriptions();
    for (const s of subs) await this.wake(s);
    return subs.length;
  }

  /** Make sure a job will deliver the subscription's next record (idempotent: the job's key). */
  async wake(subscriptionId: string): Promise<void> {
    const head = await this.deps.deliveries.head(subscriptionId);
    if (head !== null) await this.deps.queue.add(subscriptionJob(head));
  }

  /**
   * The handler of a subscription's job: its records one by one in event order until none is
   * left, one must wait for a retry (the job runs again after the wait), or the job has run for
   * `budgetMs`; a record that needed several runs of this job hands the rest to a fresh job.
   */
  async deliverSubscription(
    subscriptionId: string,
    jobAttempt = 1,
    budgetMs = 10_000,
  ): Promise<{ delivered: number }> {
    const started = this.now();
    let done = 0;
    for (;;) {
      const head = await this.deps.deliveries.head(subscriptionId);
      if (head === null) return { delivered: done };
      await this.deliverJob(head.id);
      done++;
      if (jobAttempt > 1 || this.now() - started > budgetMs) {
        await this.wake(subscriptionId);
        return { delivered: done };
      }
    }
  }

  /** Read the outbox once after the cursor, up to `batch` rows: the number of deliveries created. */
  dispatchOnce(): Promise<number> {
    if (this.running === null) {
      this.running = this.dispatchBatch().finally(() => {
        this.running = null;
      });
    }
    return this.running;
  }

  private async dispatchBatch(): Promise<number> {
    const d = this.deps;
    const after = await d.deliveries.cursor(this.cursorName);
    const rows = await d.readOutbox(after, this.batch);
    let created = 0;
    for (const row of rows) {
      for (const ev of await d.fanout(row)) {
        const subs = await d.matching(ev);
        if (subs.length === 0) continue;
        const recs = await d.deliveries.create(ev, subs, new Date(this.now()).toISOString());
        for (const r of recs) {
          if (r.state === 'pending' || r.state === 'delivering') await this.wake(r.subscriptionId);
        }
        created += recs.length;
      }
      await d.deliveries.setCursor(this.cursorName, row.seq);
    }
    return created;
  }

  /** Poll the outbox every `intervalMs` until stop() (a failed read is retried at the next tick). */
  start(intervalMs = 1000, onError: (err: unknown) => void = () => {}): void {
    this.stopped = false;
    const tick = async () => {
      try {
        while (!this.stopped && (await this.dispatchOnce()) >= 0) {
          const after = await this.deps.deliveries.cursor(this.cursorName);
          const more = await this.deps.readOutbox(after, 1);
          if (more.length === 0) break;
        }
      } catch (err) {
        onError(err);
      }
      if (!this.stopped) this.timer = setTimeout(tick, intervalMs);
    };
    void this.sweep().catch(onError).then(tick);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => {});
  }

  /** Redeliver a dead letter: pending again with a fresh schedule and a new job; false when not dead. */
  async redeliver(deliveryId: string): Promise<boolean> {
    const gen = await this.deps.deliveries.redeliver(deliveryId, new Date(this.now()).toISOString());
    if (gen === null) return false;
    const r = await this.deps.deliveries.get(deliveryId);
    if (r === null) return false;
    await this.wake(r.subscriptionId);
    return true;
  }

  /** One record's turn (see the module comment): settled, attempted, or RetryJobLater until it is due. */
  async deliverJob(deliveryId: string): Promise<{ state: string }> {
    const d = this.deps;
    const rec = await d.deliveries.get(deliveryId);
    if (rec === null) return { state: 'missing' };
    if (rec.state !== 'pending' && rec.state !== 'delivering') return { state: rec.state };
    const now = this.now();
    if (rec.state === 'pending' && rec.nextAttemptAt !== null) {
      const wait = Date.parse(rec.nextAttemptAt) - now;
      if (wait > 0) throw new RetryJobLater(`delivery ${rec.id}: next attempt at ${rec.nextAttemptAt}`, wait);
    }
    const sub = await d.subscription(rec.subscriptionId);
    if (sub === null || !sub.active) {
      await d.deliveries.settle(
        rec.id,
        'disabled',
        sub === null ? 'subscription deleted' : 'subscription disabled',
      );
      return { state: 'disabled' };
    }
    const resource = `/subscriptions/${sub.id}/deliveries/${rec.id}`;
    const actor = `system:webhooks`;
    if (!(await d.visible(sub, rec.event))) {
      await d.deliveries.settle(rec.id, 'dropped', 'the subscriber may no longer see the item');
      d.audit({
        actor,
        org: sub.orgId,
        action: 'webhook.drop',
        resource,
        detail: { webhookId: rec.webhookId, item: `${rec.event.collection}/${rec.event.itemId}` },
        result: 'deny',
        ip: null,
        requestId: null,
      });
      return { state: 'dropped' };
    }
    const started = await d.deliveries.begin(rec.id, new Date(now).toISOString());
    const firstMs = Date.parse(started.firstAttemptAt ?? new Date(now).toISOString());
    const result = await this.attempt(sub, rec);
    const endMs = this.now();
    const step = nextStep(
      this.schedule,
      { status: result.status, retryAfter: result.retryAfter },
      started.roundAttempts,
      firstMs,
      endMs,
      this.random,
    );
    d.audit({
      actor,
      org: sub.orgId,
      action: 'webhook.attempt',
      resource,
      detail: {
        webhookId: rec.webhookId,
        attempt: started.attempts,
        status: result.status,
        durationMs: result.durationMs,
        error: result.error,
        outcome: step.kind,
        type: rec.event.type,
        item: `${rec.event.collection}/${rec.event.itemId}`,
      },
      result: step.kind === 'delivered' ? 'ok' : 'error',
      ip: null,
      requestId: null,
    });
    const base = { status: result.status, error: result.error };
    const endIso = new Date(endMs).toISOString();
    switch (step.kind) {
      case 'delivered':
        await d.deliveries.end(rec.id, { ...base, state: 'delivered', nextAttemptAt: null }, endIso);
        return { state: 'delivered' };
      case 'disable':
        await d.disable(sub.id, step.reason);
        await d.deliveries.end(rec.id, { ...base, state: 'disabled', nextAttemptAt: null }, endIso);
        return { state: 'disabled' };
      case 'dead':
        await d.deliveries.end(
          rec.id,
          { ...base, state: 'dead', error: step.reason, nextAttemptAt: null },
          endIso,
        );
        return { state: 'dead' };
      case 'retry': {
        const next = new Date(endMs + step.delayMs).toISOString();
        await d.deliveries.end(
          rec.id,
          { ...base, state: 'pending', error: step.reason, nextAttemptAt: next },
          endIso,
        );
        throw new RetryJobLater(`delivery ${rec.id}: ${step.reason}`, step.delayMs);
      }
    }
  }

  private async attempt(sub: Subscriber, rec: DeliveryRecord): Promise<AttemptResult> {
    let ep: ResolvedEndpoint;
    try {
      ep = await this.deps.resolve(sub.url);
    } catch (err) {
      return {
        status: null,
        retryAfter: null,
        durationMs: 0,
        error: `egress: ${(err as Error).message}`,
        responseSnippet: '',
      };
    }
    const body = this.deps.body(rec.event);
    const ts = Math.floor(this.now() / 1000);
    return attemptDelivery({
      url: ep.url,
      address: ep.address,
      family: ep.family,
      webhookId: rec.webhookId,
      timestampS: ts,
      signature: this.deps.sign(sub.secrets, rec.webhookId, ts, body),
      body,
      timeoutMs: this.timeoutMs,
      maxResponseBytes: this.o.maxResponseBytes,
      ca: this.o.ca,
    });
  }
}
