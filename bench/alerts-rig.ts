/**
 * A webhook delivery rig on real components, shared by the delivery tests and `npm run bench --
 * alerts`: a SQLite catalog with a labelled collection (publications write items and outbox rows
 * in one transaction), an identity store with partner organisations, the access audit log, the
 * delivery records, a job queue (SQLite or BullMQ), the flaky receiver, and the dispatcher wired
 * to them. Subscriptions are plain records here (what delivery needs of them); requests are signed
 * by alerts/sign.ts and verified by the receiver with the `standardwebhooks` package.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AuditLog } from '../src/access/audit.js';
import { IdentityStore } from '../src/access/identity.js';
import { LabelRules } from '../src/access/labels.js';
import { subscriberSees } from '../src/alerts/deliver-visibility.js';
import { SqliteDeliveryStore } from '../src/alerts/delivery-store.js';
import { type DispatchOptions, type Subscriber, WebhookDispatcher } from '../src/alerts/dispatch.js';
import { resolveEndpoint } from '../src/alerts/egress.js';
import { newWebhookSecret, signWebhook } from '../src/alerts/sign.js';
import type { AlertEvent } from '../src/alerts/types.js';
import type { OutboxEvent } from '../src/catalog/outbox.js';
import { SqliteCatalog } from '../src/catalog/sqlite/store.js';
import { syntheticCollection } from '../src/catalog/synthetic.js';
import type { StacItem } from '../src/catalog/types.js';
import type { JobQueue, JobWorker } from '../src/jobs/queue.js';
import { type FlakyOptions, type FlakyReceiver, startFlakyReceiver } from '../test/helpers/flaky-receiver.js';

export const natoLabel = (classification: string, releasableTo: string[]) => ({
  policy: 'NATO',
  classification,
  categories: [{ tagName: 'Releasable To', type: 'permissive', values: releasableTo }],
});

export function testItem(id: string, label?: unknown): StacItem {
  return {
    type: 'Feature',
    stac_version: '1.0.0',
    id,
    geometry: {
      type: 'Polygon',
      coordinates: [
        [
          [3, 51],
          [3.1, 51],
          [3.1, 51.05],
          [3, 51.05],
          [3, 51],
        ],
      ],
    },
    bbox: [3, 51, 3.1, 51.05],
    properties: {
      datetime: '2026-06-01T06:00:00Z',
      ...(label === undefined ? {} : { 'sarbridge:label': label }),
    },
    links: [],
    assets: {},
  } as StacItem;
}

/** One item.published event per item of an outbox row (the simplest fan-out). */
export async function itemEvents(row: OutboxEvent): Promise<AlertEvent[]> {
  return row.itemIds.map((itemId, index) => ({
    id: `${row.seq}-${index}`,
    outboxSeq: row.seq,
    index,
    type: 'item.published' as const,
    time: row.createdAt,
    collection: row.collection,
    itemId,
    geometry: null,
    properties: {},
    data: { productId: row.productId, itemId },
  }));
}

export interface Rig {
  dir: string;
  catalog: SqliteCatalog;
  identity: IdentityStore;
  audit: AuditLog;
  deliveries: SqliteDeliveryStore;
  queue: JobQueue;
  receiver: FlakyReceiver;
  dispatcher: WebhookDispatcher;
  subscribers: Map<string, Subscriber>;
  secret: string;
  /** Publish one product with these item ids (one outbox row). */
  publish(productId: string, itemIds: string[], label?: unknown): Promise<void>;
  /** A subscription of `orgId` (principal `user:<orgId>-analyst`) to the receiver's `path`. */
  subscribe(id: string, orgId: string, path: string): Subscriber;
  /** Start the queue's worker with the delivery handler. */
  work(concurrency: number): JobWorker;
  close(): Promise<void>;
}

export interface RigOptions {
  dir: string;
  queue: JobQueue;
  receiver?: Omit<FlakyOptions, 'secret'>;
  dispatch?: DispatchOptions;
  /** An identity store and audit log to use (a server's), instead of fresh ones in `dir`. */
  access?: { identity: IdentityStore; audit: AuditLog };
}

export async function openRig(o: RigOptions): Promise<Rig> {
  const secret = newWebhookSecret();
  const rules = new LabelRules();
  const catalog = new SqliteCatalog(join(o.dir, 'catalog.db'), { rules });
  await catalog.putCollection(
    { ...syntheticCollection('sar'), 'sarbridge:label': natoLabel('UNCLASSIFIED', ['NATO']) },
    'create',
  );
  const identity = o.access?.identity ?? new IdentityStore(join(o.dir, 'identity.db'), rules);
  identity.createOrganisation({
    id: 'gbr',
    kind: 'partner',
    codes: ['GBR', 'NATO'],
    clearance: [{ policy: 'NATO', classification: 'SECRET' }],
  });
  identity.createOrganisation({
    id: 'fra',
    kind: 'partner',
    codes: ['FRA', 'NATO'],
    clearance: [{ policy: 'NATO', classification: 'SECRET' }],
  });
  identity.createPrincipal('gbr', 'user', { id: 'gbr-analyst', roles: ['partner-analyst'] });
  identity.createPrincipal('fra', 'user', { id: 'fra-analyst', roles: ['partner-analyst'] });
  const audit = o.access?.audit ?? new AuditLog(join(o.dir, 'audit.db'));
  const deliveries = new SqliteDeliveryStore(new Database(join(o.dir, 'subscriptions.db')));
  deliveries.db.pragma('journal_mode = WAL');
  const receiver = await startFlakyReceiver({ ...o.receiver, secret });
  const subscribers = new Map<string, Subscriber>();
  const dispatcher = new WebhookDispatcher(
    {
      queue: o.queue,
      deliveries,
      readOutbox: (afterSeq, limit) => catalog.events({ afterSeq, limit }),
      fanout: itemEvents,
      matching: async () => [...subscribers.values()].filter((s) => s.active).map((s) => s.id),
      subscription: async (id) => subscribers.get(id) ?? null,
      disable: async (id) => {
        const s = subscribers.get(id);
        if (s) s.active = false;
      },
      visible: subscriberSees(identity, rules, catalog),
      resolve: async (url) => {
        const ep = await resolveEndpoint(url, { allowHosts: [], allowPrivate: true, allowHttp: true });
        return { url: ep.url.toString(), address: ep.address, family: ep.family };
      },
      sign: signWebhook,
      body: (ev) =>
        JSON.stringify({
          specversion: '1.0',
          id: ev.id,
          source: 'https://sarbridge.test',
          type: ev.type,
          time: ev.time,
          datacontenttype: 'application/json',
          data: ev.data,
        }),
      audit: (r) => audit.append(r),
    },
    o.dispatch,
  );
  const workers: JobWorker[] = [];
  return {
    dir: o.dir,
    catalog,
    identity,
    audit,
    deliveries,
    queue: o.queue,
    receiver,
    dispatcher,
    subscribers,
    secret,
    async publish(productId, itemIds, label) {
      await catalog.publishItems(
        'sar',
        itemIds.map((id) => testItem(id, label)),
        {
          eventKey: `published:${productId}`,
          type: 'published',
          productId,
          collection: 'sar',
          itemIds,
          payload: {},
        },
      );
    },
    subscribe(id, orgId, path) {
      const s: Subscriber = {
        id,
        orgId,
        principalId: `user:${orgId}-analyst`,
        url: receiver.url(path),
        secrets: [secret],
        active: true,
      };
      subscribers.set(id, s);
      return s;
    },
    work(concurrency) {
      const w = o.queue.work(dispatcher.handlers(), { concurrency });
      workers.push(w);
      return w;
    },
    async close() {
      await dispatcher.stop();
      for (const w of workers) await w.close({ abort: true });
      await o.queue.close();
      await receiver.close();
      if (!o.access) {
        audit.close();
        identity.close();
      }
      deliveries.db.close();
      await catalog.close();
    },
  };
}
