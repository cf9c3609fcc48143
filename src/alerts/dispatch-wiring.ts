/**
 * The webhook dispatcher wired to sarbridge's own components, the one place that says where each
 * dependency comes from: the outbox of the catalog (`readOutbox`, replaceable: the registry work
 * may move it), the fan-out (fanout.ts), the subscriptions (subscription-store.ts; the delivery
 * records live in the same database), matching and the visibility check under the subscriber's
 * scope as it is now (match.ts, access/scope.ts), the egress policy (egress.ts), the signature
 * (sign.ts), the CloudEvent (cloudevents.ts) and the audit log.
 */
import type { AuditInput } from '../access/audit.js';
import type { IdentityStore } from '../access/identity.js';
import type { LabelRules } from '../access/labels.js';
import { scopeOf } from '../access/scope.js';
import type { OutboxEvent } from '../catalog/outbox.js';
import type { CatalogStore } from '../catalog/store.js';
import type { JobQueue } from '../jobs/queue.js';
import type { AssetStore } from '../store/store.js';
import { cloudEvent } from './cloudevents.js';
import { SqliteDeliveryStore } from './delivery-store.js';
import { type DispatchOptions, type Subscriber, WebhookDispatcher } from './dispatch.js';
import { type EgressPolicy, resolveEndpoint } from './egress.js';
import { alertEventsOf } from './fanout.js';
import { matches, visibleAndMatching } from './match.js';
import { signWebhook } from './sign.js';
import type { Subscription } from './subscription.js';
import { liveSecrets, type SqliteSubscriptionStore } from './subscription-store.js';
import type { AlertEvent } from './types.js';

export interface WebhookWiring {
  catalog: CatalogStore;
  assets: AssetStore;
  subscriptions: SqliteSubscriptionStore;
  queue: JobQueue;
  identity: IdentityStore;
  rules: LabelRules;
  audit: (r: AuditInput) => void;
  /** The API root the CloudEvents' links are made absolute against. */
  apiBaseUrl: string;
  egress: EgressPolicy;
  /** Outbox rows after `afterSeq` (default: the catalog's `events`). */
  readOutbox?: (afterSeq: number, limit: number) => Promise<OutboxEvent[]>;
}

const subscriber = (s: Subscription, nowMs: number): Subscriber => ({
  id: s.id,
  orgId: s.orgId,
  principalId: s.principalId,
  url: s.webhookUrl ?? '',
  secrets: liveSecrets(s, nowMs),
  active: s.state === 'active' && s.webhookUrl !== null,
});

/** The dispatcher and its delivery records (in the subscriptions' database). */
export function openWebhookDelivery(
  w: WebhookWiring,
  o: DispatchOptions = {},
): { dispatcher: WebhookDispatcher; deliveries: SqliteDeliveryStore } {
  const deliveries = new SqliteDeliveryStore(w.subscriptions.db);
  const now = o.now ?? Date.now;
  /** Whether the subscription's creator, as it is now, sees the item with the subscription's filter. */
  const sees = async (s: Subscription, ev: AlertEvent): Promise<boolean> => {
    const p = w.identity.resolve(s.principalId, `subscription:${s.id}`);
    if (p === null || p.orgId !== s.orgId) return false;
    return visibleAndMatching(w.catalog, s, ev, scopeOf(p, w.rules, now()));
  };
  const dispatcher = new WebhookDispatcher(
    {
      queue: w.queue,
      deliveries,
      readOutbox: w.readOutbox ?? ((afterSeq, limit) => w.catalog.events({ afterSeq, limit })),
      fanout: (row) => alertEventsOf(row, { catalog: w.catalog, assets: w.assets }),
      matching: async (ev) => {
        const out: string[] = [];
        for (const s of await w.subscriptions.listActive()) {
          if (s.webhookUrl !== null && matches(s, ev) && (await sees(s, ev))) out.push(s.id);
        }
        return out;
      },
      subscription: async (id) => {
        const s = await w.subscriptions.get(id, null);
        return s === null ? null : subscriber(s, now());
      },
      disable: async (id, reason) => {
        await w.subscriptions.setState(id, null, 'disabled', reason);
      },
      visible: async (sub, ev) => {
        const s = await w.subscriptions.get(sub.id, null);
        return s !== null && (await sees(s, ev));
      },
      resolve: async (url) => {
        const ep = await resolveEndpoint(url, w.egress);
        return { url: ep.url.toString(), address: ep.address, family: ep.family };
      },
      sign: signWebhook,
      body: (ev) => JSON.stringify(cloudEvent(ev, w.apiBaseUrl)),
      audit: w.audit,
    },
    o,
  );
  return { dispatcher, deliveries };
}

/** The dispatcher polling the outbox and a worker running the deliveries, until `stop`. */
export function startWebhookDelivery(
  w: WebhookWiring,
  o: DispatchOptions & {
    pollIntervalMs?: number;
    concurrency?: number;
    onError?: (err: unknown) => void;
  } = {},
): {
  dispatcher: WebhookDispatcher;
  deliveries: SqliteDeliveryStore;
  subscriptions: SqliteSubscriptionStore;
  stop(): Promise<void>;
} {
  const { dispatcher, deliveries } = openWebhookDelivery(w, o);
  const worker = w.queue.work(dispatcher.handlers(), { concurrency: o.concurrency ?? 8 });
  dispatcher.start(o.pollIntervalMs ?? 1000, o.onError);
  return {
    dispatcher,
    deliveries,
    subscriptions: w.subscriptions,
    async stop() {
      await dispatcher.stop();
      await worker.close({ abort: true });
      await w.subscriptions.close();
    },
  };
}
