/**
 * End to end: a simulated Sentinel-1 product ingested through the pipeline (every step run as the
 * queue runs it) is published with a label releasable to GBR only; the dispatcher wired by
 * openWebhookDelivery (catalog outbox, fan-out, subscription store, match.ts under the current
 * scope, egress, signing, CloudEvents) delivers its events through the job queue to the GBR
 * partner's receiver, signed (verified there by the standardwebhooks package), and nothing to the
 * FRA partner, whose organisation may not see the label.
 */
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { natoLabel } from '../bench/alerts-rig.js';
import { IdentityStore } from '../src/access/identity.js';
import { openWebhookDelivery } from '../src/alerts/dispatch-wiring.js';
import { newWebhookSecret } from '../src/alerts/sign.js';
import { SqliteSubscriptionStore } from '../src/alerts/subscription-store.js';
import { syntheticCollection } from '../src/catalog/synthetic.js';
import type { Job } from '../src/jobs/queue.js';
import { simulateScene } from '../src/ops/simulate-scene.js';
import { ingest } from '../src/pipeline/ingest.js';
import { STEPS } from '../src/pipeline/registry.js';
import { runStep, type StepPayload } from '../src/pipeline/worker.js';
import { startFlakyReceiver } from './helpers/flaky-receiver.js';
import { tempDir } from './helpers/gdal.js';
import { openTestPipeline } from './helpers/pipeline.js';

const tmp = tempDir('alerts-e2e-');
afterAll(() => tmp.cleanup());

const attempt = (productId: string, step: string): Job<StepPayload> => ({
  id: `job-${productId}-${step}`,
  name: `pipeline.${step}`,
  key: `pipeline:${productId}:${step}`,
  payload: { productId },
  attempt: 1,
  maxAttempts: 1000,
  signal: new AbortController().signal,
  progress: async () => {},
});

it('a product ingested through the pipeline reaches the subscribed GBR partner signed, and not FRA', async () => {
  const r = await simulateScene(join(tmp.dir, 'scene'), { seed: 5, size: 256, ships: 3, safe: true });
  const { ctx, close } = await openTestPipeline(join(tmp.dir, 'data'), { landMask: r.landPath });
  const identity = new IdentityStore(join(tmp.dir, 'identity.db'), ctx.rules);
  const subscriptions = new SqliteSubscriptionStore(join(tmp.dir, 'subscriptions.db'));
  const gbrSecret = newWebhookSecret();
  const fraSecret = newWebhookSecret();
  const gbrRx = await startFlakyReceiver({ secret: gbrSecret });
  const fraRx = await startFlakyReceiver({ secret: fraSecret });
  const audit: { action: string; org: string | null; result: string }[] = [];
  try {
    for (const [id, codes] of [
      ['gbr', ['GBR']],
      ['fra', ['FRA']],
    ] as const) {
      identity.createOrganisation({
        id,
        kind: 'partner',
        codes,
        clearance: [{ policy: 'NATO', classification: 'SECRET' }],
      });
      identity.createPrincipal(id, 'user', { id: `${id}-analyst`, roles: ['partner-analyst'] });
    }
    const world = {
      type: 'Polygon' as const,
      coordinates: [
        [
          [-180, -85],
          [180, -85],
          [180, 85],
          [-180, 85],
          [-180, -85],
        ],
      ],
    };
    for (const [org, rx, secret] of [
      ['gbr', gbrRx, gbrSecret],
      ['fra', fraRx, fraSecret],
    ] as const) {
      await subscriptions.create({
        orgId: org,
        principalId: `user:${org}-analyst`,
        secret,
        area: world,
        eventTypes: ['item.published', 'vessel.detected'],
        options: {},
        filter: null,
        filterLang: null,
        webhookUrl: rx.url('/hook'),
      });
    }
    const { dispatcher, deliveries } = openWebhookDelivery(
      {
        catalog: ctx.catalog,
        assets: ctx.store,
        subscriptions,
        queue: ctx.queue,
        identity,
        rules: ctx.rules,
        audit: (a) => audit.push({ action: a.action, org: a.org, result: a.result }),
        apiBaseUrl: 'https://sar.example.org/api',
        egress: { allowHosts: [], allowPrivate: true, allowHttp: true },
      },
      { attemptTimeoutMs: 5000 },
    );
    // The collection is visible to both partners; the product's own label only to GBR.
    await ctx.catalog.putCollection(
      { ...syntheticCollection('sar'), 'sarbridge:label': natoLabel('UNCLASSIFIED', ['GBR', 'FRA']) },
      'create',
    );
    const [product] = await ingest(ctx, [r.scenes[0]!.safe?.safeDir as string], {
      label: natoLabel('UNCLASSIFIED', ['GBR']),
    });
    for (const s of STEPS) await runStep(ctx, s, attempt(product!.id as string, s));
    const published = await ctx.registry.get(product!.id as string);
    expect(published?.state).toBe('published');

    const worker = ctx.queue.work(dispatcher.handlers(), { concurrency: 2, names: ['alerts.deliver'] });
    try {
      const created = await dispatcher.dispatchOnce();
      expect(created).toBeGreaterThan(0);
      const end = Date.now() + 30_000;
      while ((await deliveries.counts()).delivered < created && Date.now() < end) {
        await new Promise((res) => setTimeout(res, 50));
      }
    } finally {
      await worker.close();
    }
    // Every event of the publication went to GBR, signed, as CloudEvents about the published items.
    const got = gbrRx.requests;
    expect(got.length).toBeGreaterThan(0);
    expect(got.every((q) => q.verified && q.outcome === 'accepted')).toBe(true);
    const events = got.map((q) => JSON.parse(q.body) as { id: string; type: string; subject: string });
    expect(events.map((e) => e.id)).toEqual(got.map((q) => q.webhookId));
    const itemIds = published?.itemIds ?? [];
    expect(events.filter((e) => e.type === 'item.published').length).toBe(itemIds.length);
    for (const e of events) expect(itemIds.some((id) => e.subject.endsWith(`/${id}`))).toBe(true);
    // Nothing to FRA: its organisation may not see a label releasable to GBR only.
    expect(fraRx.requests).toEqual([]);
    const counts = await deliveries.counts();
    expect(counts.delivered).toBe(got.length);
    expect(audit.filter((a) => a.action === 'webhook.attempt').map((a) => a.org)).toEqual(
      got.map(() => 'gbr'),
    );
  } finally {
    await gbrRx.close();
    await fraRx.close();
    await subscriptions.close();
    identity.close();
    await close();
  }
}, 300_000);
