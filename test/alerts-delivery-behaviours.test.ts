/**
 * How webhook delivery treats each kind of receiver, on the SQLite queue over real HTTP (the
 * BullMQ queue runs the same handler: test/alerts-delivery.test.ts). Expectations come from the
 * delivery contract: 410 disables the subscription; 503 with Retry-After waits that long; a 301 is
 * a failure and its Location is never requested; a huge body is cut after 4 KiB and a hanging or
 * huge receiver does not hold up another subscription; after the last attempt a delivery is dead,
 * listed through the API to its organisation only, and redelivered through it with the same
 * webhook-id; an item relabelled or embargoed after publication is never sent (dropped).
 */
import { mkdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { natoLabel, openRig, type Rig, type RigOptions, testItem } from '../bench/alerts-rig.js';
import { testAccess } from '../src/access/testing.js';
import type { RetrySchedule } from '../src/alerts/retry.js';
import { openQueue } from '../src/jobs/index.js';
import { buildServer } from '../src/server/app.js';
import { tempDir } from './helpers/gdal.js';

const tmp = tempDir('alerts-behaviours-');
let n = 0;
const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.close();
});

const FAST: RetrySchedule = {
  delaysMs: [30, 60],
  repeatMs: 100,
  totalMs: 60_000,
  jitter: 0,
  maxRetryAfterMs: 5000,
};

async function rig(o: Partial<RigOptions> = {}): Promise<Rig> {
  const dir = `${tmp.dir}/${++n}`;
  mkdirSync(dir, { recursive: true });
  const queue = await openQueue(`${dir}/queue.db`, { leaseMs: 5000, sqlite: { pollIntervalMs: 10 } });
  const r = await openRig({ dir, queue, dispatch: { schedule: FAST, attemptTimeoutMs: 1000 }, ...o });
  rigs.push(r);
  return r;
}

const waitUntil = async (what: string, ok: () => Promise<boolean> | boolean, timeoutMs = 20_000) => {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

async function publishAndRun(r: Rig, products: number): Promise<void> {
  for (let k = 0; k < products; k++) await r.publish(`p${k}`, [`item${k}`]);
  r.work(4);
  await r.dispatcher.dispatchOnce();
}

describe('webhook delivery behaviours', () => {
  it('410 disables the subscription: one request, the rest of its deliveries disabled unsent', async () => {
    const r = await rig();
    r.subscribe('s1', 'gbr', '/gone');
    r.receiver.setMode('/gone', 'gone');
    await publishAndRun(r, 3);
    await waitUntil('all settled', async () => (await r.deliveries.counts()).disabled === 3);
    expect(r.subscribers.get('s1')!.active).toBe(false);
    expect(r.receiver.requests.map((q) => q.outcome)).toEqual(['410']);
    const ds = await r.deliveries.list('s1');
    expect(ds.map((d) => [d.state, d.attempts, d.lastStatus])).toEqual([
      ['disabled', 1, 410],
      ['disabled', 0, null],
      ['disabled', 0, null],
    ]);
  });

  it('503 with Retry-After: 2 waits 2 s although the schedule says 30 ms', async () => {
    const r = await rig({ receiver: { retryAfter: '2', retryAfterTimes: 1 } });
    r.subscribe('s1', 'gbr', '/busy');
    r.receiver.setMode('/busy', 'retry-after');
    await publishAndRun(r, 1);
    await waitUntil('delivered', async () => (await r.deliveries.counts()).delivered === 1);
    const [a, b] = r.receiver.requests;
    expect([a!.outcome, b!.outcome]).toEqual(['503', 'accepted']);
    expect(b!.webhookId).toBe(a!.webhookId);
    expect(b!.atMs - a!.atMs).toBeGreaterThanOrEqual(1950);
    expect(b!.atMs - a!.atMs).toBeLessThan(3500);
  });

  it('a 301 is not followed: the Location is never asked for, and the delivery is retried', async () => {
    const r = await rig();
    r.subscribe('s1', 'gbr', '/old');
    r.receiver.setMode('/old', 'redirect');
    await publishAndRun(r, 1);
    await waitUntil('3 attempts', () => r.receiver.requests.length >= 3);
    expect(r.receiver.requests.every((q) => q.path === '/old')).toBe(true);
    const [d] = await r.deliveries.list('s1');
    expect(d!.lastStatus).toBe(301);
    expect(d!.lastError).toMatch(/status 301/);
    const audited = r.audit.query({ action: 'webhook.attempt', limit: 100 });
    expect(String(audited[0]!.detail.error)).toMatch(/redirect to \/old\/moved not followed/);
  });

  it('a huge body is cut after 4 KiB, and huge, hanging and garbage receivers do not hold up another subscription', async () => {
    const r = await rig({ receiver: { hugeBytes: 256 * 1024 * 1024, hangShare: 1, dropShare: 0 } });
    r.subscribe('huge', 'gbr', '/huge');
    r.subscribe('hang', 'gbr', '/hang');
    r.subscribe('junk', 'gbr', '/junk');
    r.subscribe('fine', 'gbr', '/fine');
    r.receiver.setMode('/huge', 'huge');
    r.receiver.setMode('/hang', 'flaky');
    r.receiver.setMode('/junk', 'garbage');
    const t0 = Date.now();
    await publishAndRun(r, 10);
    await waitUntil(
      'the healthy subscription has all 10',
      async () => (await r.deliveries.counts('fine')).delivered === 10,
    );
    expect(Date.now() - t0).toBeLessThan(5000);
    await waitUntil('huge delivered', async () => (await r.deliveries.counts('huge')).delivered === 10);
    const huge = r.audit
      .query({ action: 'webhook.attempt', limit: 1000 })
      .filter((a) => a.resource?.startsWith('/subscriptions/huge/'));
    expect(huge.length).toBe(10);
    for (const a of huge) {
      expect(a.detail.status).toBe(200);
      expect(Number(a.detail.durationMs)).toBeLessThan(1000);
    }
    const junk = await r.deliveries.list('junk');
    expect(junk[0]!.lastStatus).toBeNull();
    expect(junk[0]!.lastError).toMatch(/HPE_|no response/);
    await waitUntil('a timed-out attempt', () =>
      r.audit
        .query({ action: 'webhook.attempt', limit: 1000 })
        .some((a) => a.detail.error === 'timeout after 1000 ms'),
    );
    const hang = await r.deliveries.list('hang');
    expect(['pending', 'delivering']).toContain(hang[0]!.state);
    expect(hang.slice(1).every((d) => d.state === 'pending' && d.attempts === 0)).toBe(true);
    expect(
      r.audit
        .query({ action: 'webhook.attempt', limit: 1000 })
        .some((a) => a.detail.error === 'timeout after 1000 ms'),
    ).toBe(true);
  });

  it('after the last attempt the delivery is dead; its organisation lists it and redelivers it through the API', async () => {
    const access = testAccess();
    const r = await rig({
      access: { identity: access.services.identity, audit: access.services.audit },
      dispatch: { schedule: { ...FAST, totalMs: 300 }, attemptTimeoutMs: 1000 },
    });
    const app = await buildServer({
      store: r.catalog,
      access: access.services,
      deliveries: {
        deliveries: r.deliveries,
        dispatcher: r.dispatcher,
        subscriptionOrg: async (id) => r.subscribers.get(id)?.orgId ?? null,
      },
    });
    try {
      const gbr = { authorization: `Bearer ${access.services.identity.createKey('user:gbr-analyst').key}` };
      const fra = { authorization: `Bearer ${access.services.identity.createKey('user:fra-analyst').key}` };
      r.subscribe('s1', 'gbr', '/down');
      r.receiver.setMode('/down', 'fail');
      await publishAndRun(r, 2);
      await waitUntil('both dead', async () => (await r.deliveries.counts()).dead === 2);
      const first = (await r.deliveries.list('s1'))[0]!;
      // 30 ms, 60 ms, then every 100 ms: the attempt at or after 300 ms is the last.
      expect(first.attempts).toBeGreaterThanOrEqual(4);
      expect(first.lastError).toMatch(/status 500 on attempt \d+, \d+ s after the first/);

      const list = await app.inject({ url: '/subscriptions/s1/deliveries?state=dead', headers: gbr });
      expect(list.statusCode, list.body).toBe(200);
      const dead = list.json().deliveries as { id: string; webhookId: string; state: string }[];
      expect(dead.map((d) => [d.webhookId, d.state])).toEqual([
        ['1-0', 'dead'],
        ['2-0', 'dead'],
      ]);
      // Another organisation: the subscription looks missing, its deliveries too.
      for (const req of [
        { url: '/subscriptions/s1/deliveries?state=dead', method: 'GET' as const },
        { url: `/subscriptions/s1/deliveries/${dead[0]!.id}/redeliver`, method: 'POST' as const },
        { url: '/subscriptions/nope/deliveries', method: 'GET' as const },
      ]) {
        const res = await app.inject({ ...req, headers: fra });
        expect(res.statusCode, req.url).toBe(404);
      }
      for (const [url, message] of [
        ['/subscriptions/s1/deliveries?state=lost', /state: expected one of pending, .*got 'lost'/],
        ['/subscriptions/s1/deliveries?limit=0', /limit: expected a whole number from 1 to 1000, got '0'/],
        ['/subscriptions/s1/deliveries?after=x', /after: expected a delivery id d<n>, got 'x'/],
      ] as const) {
        const res = await app.inject({ url, headers: gbr });
        expect(res.statusCode, url).toBe(400);
        expect(res.body).toMatch(message);
      }

      r.receiver.setMode('/down', 'ok');
      const before = r.receiver.requests.length;
      const re = await app.inject({
        method: 'POST',
        url: `/subscriptions/s1/deliveries/${dead[0]!.id}/redeliver`,
        headers: gbr,
      });
      expect(re.statusCode, re.body).toBe(202);
      await waitUntil(
        'redelivered',
        async () => (await r.deliveries.get(dead[0]!.id))!.state === 'delivered',
      );
      const again = r.receiver.requests.slice(before);
      expect(again.map((q) => [q.webhookId, q.outcome])).toEqual([['1-0', 'accepted']]);
      // Only a dead delivery is redelivered.
      const twice = await app.inject({
        method: 'POST',
        url: `/subscriptions/s1/deliveries/${dead[0]!.id}/redeliver`,
        headers: gbr,
      });
      expect(twice.statusCode).toBe(409);
      expect((await r.deliveries.get(dead[1]!.id))!.state).toBe('dead');
      const audited = access.services.audit.query({ action: 'webhook.redeliver', limit: 10 });
      expect(audited.map((a) => [a.actor, a.result])).toEqual([
        ['user:gbr-analyst', 'ok'],
        ['user:gbr-analyst', 'conflict'],
      ]);
    } finally {
      await app.close();
      await r.close();
      rigs.splice(rigs.indexOf(r), 1);
      access.close();
    }
  });
});

describe('visibility at delivery time', () => {
  it.each<[string, string, Record<string, unknown>]>([
    ['relabelled for GBR only', 'delivered', { 'sarbridge:label': natoLabel('RESTRICTED', ['GBR']) }],
    [
      'embargoed for a day',
      'dropped',
      { 'sarbridge:release_datetime': new Date(Date.now() + 86_400_000).toISOString() },
    ],
  ])(
    'an item %s after publication is not sent to FRA (dropped); to GBR: %s',
    async (_name, gbrState, props) => {
      const r = await rig();
      r.subscribe('fra1', 'fra', '/fra');
      r.subscribe('gbr1', 'gbr', '/gbr');
      r.receiver.setMode('/fra', 'fail');
      r.receiver.setMode('/gbr', 'fail');
      await publishAndRun(r, 1);
      await waitUntil('a failed attempt each', () => r.receiver.requests.length >= 2);
      const it0 = testItem('item0');
      await r.catalog.putItems('sar', [{ ...it0, properties: { ...it0.properties, ...props } }], 'upsert');
      r.receiver.setMode('/fra', 'ok');
      r.receiver.setMode('/gbr', 'ok');
      await waitUntil('settled', async () => {
        const c = await r.deliveries.counts();
        return c.dropped + c.delivered === 2;
      });
      expect((await r.deliveries.list('fra1'))[0]!.state).toBe('dropped');
      expect(r.receiver.firstAccepted('/fra')).toEqual([]);
      expect((await r.deliveries.list('gbr1'))[0]!.state).toBe(gbrState);
      expect(r.receiver.firstAccepted('/gbr').length).toBe(gbrState === 'delivered' ? 1 : 0);
      const drops = r.audit.query({ action: 'webhook.drop', limit: 10 });
      expect(drops.map((d) => d.org)).toContain('fra');
    },
  );
});
