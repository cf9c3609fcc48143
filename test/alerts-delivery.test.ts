/**
 * Webhook delivery through the job queue, on both queues (SQLite and BullMQ on the tests' Redis),
 * to the flaky receiver over real HTTP: a seeded 30% of requests dropped, some hung, some 503 with
 * Retry-After, some garbage, some accepted with the answer lost, and the receiver down for 60 s.
 * What must hold comes from the delivery contract, checked on the receiver's own record of what
 * arrived (signatures verified by the standardwebhooks package): every (subscription, event)
 * arrives, none is lost, a duplicate carries the same webhook-id and body, first arrivals per
 * subscription are in event order, and the audit log has one record per attempt.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { openRig, type Rig } from '../bench/alerts-rig.js';
import type { RetrySchedule } from '../src/alerts/retry.js';
import { openQueue } from '../src/jobs/index.js';
import { tempDir } from './helpers/gdal.js';
import { QUEUE_KINDS, testQueueLocation } from './helpers/pipeline.js';

const tmp = tempDir('alerts-delivery-');
afterAll(() => tmp.cleanup());

/** The default schedule's shape, short: 20 ms .. 1 s, then every 2 s, dead after 5 min. */
const FAST: RetrySchedule = {
  delaysMs: [20, 60, 200, 500, 1000],
  repeatMs: 2000,
  totalMs: 300_000,
  jitter: 1,
  maxRetryAfterMs: 1500,
};

const waitUntil = async (what: string, ok: () => Promise<boolean>, timeoutMs: number) => {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe.each(QUEUE_KINDS)('webhook delivery on the %s queue', (kind) => {
  const SUBS = 4;
  const PRODUCTS = 15;
  let rig: Rig;
  afterAll(async () => rig?.close());

  it('delivers every event to every subscription at least once, in order, through a 60 s outage', async () => {
    const dir = `${tmp.dir}/${kind}`;
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir, { recursive: true });
    const queue = await openQueue(await testQueueLocation(kind, dir, 11), {
      leaseMs: 5000,
      sqlite: { pollIntervalMs: 20 },
      redis: { queueName: 'alerts-delivery', orderWaitMs: 200 },
    });
    rig = await openRig({
      dir,
      queue,
      receiver: { seed: 42, retryAfter: '1', modes: {} },
      dispatch: { schedule: FAST, attemptTimeoutMs: 400, random: () => 0.5 },
    });
    const paths = Array.from({ length: SUBS }, (_, s) => `/hooks/s${s}`);
    for (const [s, p] of paths.entries()) {
      rig.subscribe(`sub${s}`, s % 2 === 0 ? 'gbr' : 'fra', p);
      rig.receiver.setMode(p, 'flaky');
    }
    // Events: products of 1 to 3 items (one outbox row each), published before and during delivery.
    const expected: string[] = [];
    let seq = 0;
    const publish = async (k: number) => {
      const n = 1 + (k % 3);
      await rig.publish(
        `p${k}`,
        Array.from({ length: n }, (_, i) => `p${k}-item${i}`),
      );
      seq++;
      for (let i = 0; i < n; i++) expected.push(`${seq}-${i}`);
    };
    for (let k = 0; k < 5; k++) await publish(k);
    rig.work(8);
    rig.dispatcher.start(100);
    await new Promise((r) => setTimeout(r, 1500));
    // The receiver goes down for 60 s while more is published.
    const outage = rig.receiver.down(60_000);
    await outage;
    const downAt = Date.now();
    for (let k = 5; k < PRODUCTS; k++) await publish(k);
    await waitUntil(
      'every delivery to be delivered',
      async () => (await rig.deliveries.counts()).delivered === expected.length * SUBS,
      150_000,
    );
    expect(Date.now() - downAt).toBeGreaterThanOrEqual(60_000);
    const counts = await rig.deliveries.counts();
    expect(counts).toEqual({
      pending: 0,
      delivering: 0,
      delivered: expected.length * SUBS,
      dead: 0,
      dropped: 0,
      disabled: 0,
    });

    const reqs = rig.receiver.requests;
    expect(reqs.every((r) => r.verified)).toBe(true);
    const during = reqs.filter((r) => r.atMs > downAt + 100 && r.atMs < downAt + 59_900);
    expect(during).toEqual([]);
    for (const p of paths) {
      // Every event arrived, first arrivals in event order.
      expect(rig.receiver.firstAccepted(p).map((r) => r.webhookId)).toEqual(expected);
    }
    // Duplicates (answers lost, so the sender tried again) carry the same webhook-id and body.
    const bodies = new Map<string, string>();
    let duplicates = 0;
    const acceptedPer = new Map<string, number>();
    for (const r of reqs) {
      const k = `${r.path} ${r.webhookId}`;
      const b = bodies.get(k);
      if (b === undefined) bodies.set(k, r.body);
      else expect(r.body).toBe(b);
      if (r.outcome === 'accepted') {
        acceptedPer.set(k, (acceptedPer.get(k) ?? 0) + 1);
        if (acceptedPer.get(k)! > 1) duplicates++;
      }
      expect(JSON.parse(r.body).id).toBe(r.webhookId);
    }
    expect(duplicates).toBeGreaterThan(0);
    // The misbehaviours happened.
    const outcomes = new Set(reqs.map((r) => r.outcome));
    for (const o of ['drop', 'hang', '503', 'garbage', 'accepted']) expect(outcomes).toContain(o);

    // One audit record per attempt: the records' attempts, and at least one per request received.
    const attempts = rig.audit.query({ action: 'webhook.attempt', limit: 10_000 });
    let recorded = 0;
    for (let s = 0; s < SUBS; s++) {
      for (const d of await rig.deliveries.list(`sub${s}`, { limit: 1000 })) recorded += d.attempts;
    }
    expect(attempts.length).toBe(recorded);
    expect(attempts.length).toBeGreaterThan(reqs.length);
    const refused = attempts.filter((a) => a.detail.error === 'ECONNREFUSED').length;
    expect(refused).toBeGreaterThan(0);
  }, 240_000);
});
