/**
 * Webhook delivery: `npm run bench -- alerts [events] [subscriptions]` (default 10,000 events, 20
 * subscriptions, each event fanned out to every subscription) on the SQLite queue, to the flaky
 * receiver over real HTTP.
 *
 * 1. Flaky: a seeded 30% of requests dropped, 5% hung (attempt timeout 500 ms), 5% 503 with
 *    Retry-After 1, 2% garbage, 3% accepted with the answer lost; the back-off scaled down (20 ms
 *    .. 1 s, then every 2 s). Counts: deliveries, delivered, dead, lost (a (subscription, event)
 *    never accepted by the receiver), duplicates, attempts, and the time until all were delivered.
 * 2. Healthy: the receiver answers 204 at once; events are published at a steady rate and the lag
 *    from publication (the outbox row's time) to the receiver's first acceptance is measured:
 *    p50, p95, max (target p95 <= 1 s).
 * 3. The event stream (bench/alerts-sse.ts, the SSE work's benchSse): 1,000 clients, lag and memory.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { RetrySchedule } from '../src/alerts/retry.js';
import { openQueue } from '../src/jobs/index.js';
import { openRig, type Rig } from './alerts-rig.js';
import { benchSse } from './alerts-sse.js';
import { benchDir } from './util.js';

const FAST: RetrySchedule = {
  delaysMs: [20, 60, 200, 500, 1000],
  repeatMs: 2000,
  totalMs: 600_000,
  jitter: 1,
  maxRetryAfterMs: 1000,
};
const ITEMS_PER_PRODUCT = 10;
const load = () =>
  `load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

async function fresh(name: string, healthy: boolean): Promise<Rig> {
  const dir = join(benchDir('alerts'), name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const queue = await openQueue(join(dir, 'queue.db'), { leaseMs: 10_000, sqlite: { pollIntervalMs: 20 } });
  return openRig({
    dir,
    queue,
    receiver: { seed: 7, retryAfter: '1' },
    dispatch: { schedule: FAST, attemptTimeoutMs: healthy ? 5000 : 500, batch: 200 },
  });
}

async function publish(rig: Rig, events: number, from = 0): Promise<void> {
  for (let k = from; k < from + events; k += ITEMS_PER_PRODUCT) {
    const n = Math.min(ITEMS_PER_PRODUCT, from + events - k);
    await rig.publish(
      `p${k}`,
      Array.from({ length: n }, (_, i) => `it${k + i}`),
    );
  }
}

async function untilDelivered(rig: Rig, total: number, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  let shown = Date.now();
  while (Date.now() < end) {
    const c = await rig.deliveries.counts();
    if (c.delivered + c.dead + c.dropped + c.disabled >= total) return true;
    if (Date.now() - shown > 10_000) {
      shown = Date.now();
      console.log(
        `  ... ${c.delivered} of ${total} delivered, ${c.pending + c.delivering} pending; ${load()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

async function flaky(events: number, subs: number): Promise<void> {
  const rig = await fresh('flaky', false);
  try {
    for (let s = 0; s < subs; s++) {
      rig.subscribe(`s${s}`, s % 2 ? 'fra' : 'gbr', `/s${s}`);
      rig.receiver.setMode(`/s${s}`, 'flaky');
    }
    const t0 = performance.now();
    await publish(rig, events);
    console.log(`flaky: ${events} events published in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const t1 = performance.now();
    rig.work(Math.min(32, subs * 2));
    rig.dispatcher.start(50, (e) => console.error(e));
    const total = events * subs;
    const done = await untilDelivered(rig, total, 30 * 60_000);
    const secs = (performance.now() - t1) / 1000;
    const c = await rig.deliveries.counts();
    let lost = 0;
    let duplicates = 0;
    for (let s = 0; s < subs; s++) {
      const first = new Set(rig.receiver.firstAccepted(`/s${s}`).map((r) => r.webhookId));
      lost += events - first.size;
      duplicates +=
        rig.receiver.requests.filter((r) => r.path === `/s${s}` && r.outcome === 'accepted').length -
        first.size;
    }
    const outcomes = new Map<string, number>();
    for (const r of rig.receiver.requests) outcomes.set(r.outcome, (outcomes.get(r.outcome) ?? 0) + 1);
    console.log(
      `flaky: ${total} deliveries (${events} events x ${subs} subscriptions)${done ? '' : ' NOT FINISHED'} in ${secs.toFixed(1)} s: ` +
        `delivered ${c.delivered}, dead ${c.dead}, pending ${c.pending + c.delivering}, lost ${lost}, duplicates ${duplicates}; ` +
        `requests ${rig.receiver.requests.length} (${[...outcomes].map(([k, v]) => `${k} ${v}`).join(', ')}), ${(c.delivered / secs).toFixed(0)} deliveries/s; ${load()}`,
    );
  } finally {
    await rig.close();
  }
}

async function healthy(events: number, subs: number, ratePerS: number): Promise<void> {
  const rig = await fresh('healthy', true);
  try {
    for (let s = 0; s < subs; s++) rig.subscribe(`s${s}`, 'gbr', `/s${s}`);
    rig.work(Math.min(32, subs * 2));
    rig.dispatcher.start(50, (e) => console.error(e));
    const t0 = performance.now();
    for (let k = 0; k < events; k += ITEMS_PER_PRODUCT) {
      await publish(rig, Math.min(ITEMS_PER_PRODUCT, events - k), k);
      const due = t0 + ((k + ITEMS_PER_PRODUCT) / ratePerS) * 1000;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const done = await untilDelivered(rig, events * subs, 10 * 60_000);
    const lags: number[] = [];
    for (let s = 0; s < subs; s++) {
      for (const r of rig.receiver.firstAccepted(`/s${s}`))
        lags.push(r.atMs - Date.parse(JSON.parse(r.body).time));
    }
    console.log(
      `healthy: ${events} events x ${subs} subscriptions published at ${ratePerS} events/s${done ? '' : ' NOT FINISHED'}: ` +
        `${lags.length} first arrivals, lag p50 ${pct(lags, 50)} ms, p95 ${pct(lags, 95)} ms, max ${Math.max(...lags)} ms ` +
        `(target p95 <= 1000 ms); ${load()}`,
    );
  } finally {
    await rig.close();
  }
}

export async function benchAlerts(): Promise<void> {
  const events = Number(process.argv[3] ?? 10_000);
  const subs = Number(process.argv[4] ?? 20);
  const rate = Number(process.argv[5] ?? 20);
  if (!Number.isInteger(events) || events < 1 || !Number.isInteger(subs) || subs < 1 || !(rate > 0)) {
    throw new Error(
      'usage: npm run bench -- alerts [events >= 1] [subscriptions >= 1] [healthy events/s > 0]',
    );
  }
  console.log(`alerts: ${load()}`);
  await flaky(events, subs);
  await healthy(Math.min(events, Math.round(rate * 30)), subs, rate);
  const r = await benchSse();
  console.log(
    `alerts sse: ${r.clients} clients, ${r.events} events: received ${r.received} of ${r.expected}, ` +
      `lag p50 ${r.lagMs.p50} ms, p95 ${r.lagMs.p95} ms, max ${r.lagMs.max} ms; server RSS ${r.memoryMiB.before.rss} -> ` +
      `${r.memoryMiB.connected.rss} -> ${r.memoryMiB.after.rss} MiB; ${load()}`,
  );
}
