/**
 * Property: an event reaches a subscriber exactly when the plain rules say so. Random worlds of
 * partner organisations, labels, holds and items (test/helpers/access-model.ts, which knows nothing
 * of the access code) are written through the real server into the catalog (SQLite and PostgreSQL);
 * random subscriptions (area, event types, CQL2 filter) of random partner users (and some of the
 * provider, who sees all) are then asked
 * about every item's `item.published` event with `visibleAndMatching`. The expectation comes from
 * the model: the user sees the item (label, collection label, hold), the boxes overlap (areas sit on
 * half degrees, footprints on whole ones: no touching ties), the type is subscribed and the filter
 * holds. In particular nothing the scope cannot see is ever admitted.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ALL, type Principal, scopeOf } from '../src/access/scope.js';
import { visibleAndMatching } from '../src/alerts/match.js';
import { type Subscription, validateSubscriptionInput } from '../src/alerts/subscription.js';
import type { AlertEvent } from '../src/alerts/types.js';
import type { CatalogStore } from '../src/catalog/store.js';
import { syntheticCollection } from '../src/catalog/synthetic.js';
import {
  CLASSIFICATIONS,
  type ModelItem,
  seesItem,
  type Who,
  type World,
  whoOf,
  worldArb,
} from './helpers/access-model.js';
import { tempDir } from './helpers/gdal.js';
import { catalogBackends } from './helpers/postgres.js';
import { testServer } from './helpers/server.js';

const FILTERS: [string | null, (it: ModelItem) => boolean][] = [
  [null, () => true],
  ["platform = 's1a'", (it) => it.platform === 's1a'],
  ['sat:relative_orbit > 10', (it) => it.orbit > 10],
  ["sat:relative_orbit <= 5 OR platform = 'iceye'", (it) => it.orbit <= 5 || it.platform === 'iceye'],
];

const subArb = fc.record({
  w: fc.integer({ min: -25, max: 20 }),
  s: fc.integer({ min: -25, max: 20 }),
  dw: fc.integer({ min: 1, max: 20 }),
  dh: fc.integer({ min: 1, max: 20 }),
  provider: fc.boolean(),
  /** An area over the whole world of items (larger than a partner may ask for: set after the input check). */
  whole: fc.boolean(),
  filter: fc.integer({ min: 0, max: FILTERS.length - 1 }),
  types: fc.subarray(['item.published', 'vessel.detected', 'change.detected'] as const, { minLength: 1 }),
  state: fc.constantFrom('active', 'active', 'active', 'paused'),
  org: fc.nat(),
  user: fc.nat(),
});

type SubValue = typeof subArb extends fc.Arbitrary<infer T> ? T : never;
const iso = (ms: number) => new Date(ms).toISOString();
const box = (w: number, s: number, d: number) => [
  [
    [w, s],
    [w + d, s],
    [w + d, s + d],
    [w, s + d],
    [w, s],
  ],
];

function itemDoc(it: ModelItem): Record<string, unknown> {
  const [w, s, e, n] = it.box;
  return {
    type: 'Feature',
    stac_version: '1.0.0',
    id: it.id,
    bbox: [w, s, e, n],
    geometry: {
      type: 'Polygon',
      coordinates: [
        [
          [w, s],
          [e, s],
          [e, n],
          [w, n],
          [w, s],
        ],
      ],
    },
    properties: {
      datetime: iso(it.startMs),
      ...(it.platform === null ? {} : { platform: it.platform }),
      'sat:relative_orbit': it.orbit,
      ...(it.label ? { 'sarbridge:label': it.label.doc } : {}),
      ...(it.holdMs === null ? {} : { 'sarbridge:release_datetime': iso(it.holdMs) }),
    },
    links: [],
    assets: {},
  };
}

describe.each(catalogBackends())('visibleAndMatching on $name', (backend) => {
  const tmp = tempDir('alerts-match-');
  let checked = 0;
  let admitted = 0;
  let visible = 0;
  let partnerVisible = 0;
  let partnerAdmitted = 0;
  let worlds = 0;
  afterAll(() => {
    tmp.cleanup();
    console.log(
      `alerts match property on ${backend.name}: ${worlds} worlds, ${checked} (subscription, event) pairs, ${visible} visible to the subscriber, ${admitted} admitted (partners: ${partnerVisible} visible, ${partnerAdmitted} admitted)`,
    );
  });

  it('admits an event exactly when the model does, never one the scope cannot see', async () => {
    const nowMs = Date.now();
    await fc.assert(
      fc.asyncProperty(
        worldArb(20, 50, nowMs),
        fc.array(subArb, { minLength: 40, maxLength: 40 }),
        async (world, subs) => {
          const dir = join(tmp.dir, `w${worlds++}`);
          mkdirSync(dir);
          const store = await backend.open(dir);
          const server = await testServer(store, { renderWorkers: 0 });
          try {
            await check(world, subs, server, store);
          } finally {
            await server.close();
            await store.close();
            await backend.cleanup?.();
          }
        },
      ),
      { numRuns: 4, endOnFailure: true },
    );
    expect(checked).toBeGreaterThan(0);
    // the property must have been tested on both sides
    expect(admitted).toBeGreaterThan(0);
    expect(visible - admitted).toBeGreaterThan(0);
  }, 300_000);

  async function check(
    world: World,
    subs: SubValue[],
    server: Awaited<ReturnType<typeof testServer>>,
    store: CatalogStore,
  ): Promise<void> {
    const { rules } = server.access.services;
    for (const c of world.collections) {
      const r = await server.app.inject({
        method: 'POST',
        url: '/collections',
        headers: server.admin,
        payload: { ...syntheticCollection(c.id), ...(c.label ? { 'sarbridge:label': c.label.doc } : {}) },
      });
      expect(r.statusCode, r.body).toBe(201);
      const features = world.items.filter((it) => it.collection === c.id).map(itemDoc);
      if (features.length === 0) continue;
      const w = await server.app.inject({
        method: 'POST',
        url: `/collections/${c.id}/items`,
        headers: server.admin,
        payload: { type: 'FeatureCollection', features },
      });
      expect(w.statusCode, w.body).toBe(201);
    }
    for (const [k, sv] of subs.entries()) {
      const org = world.orgs[sv.org % world.orgs.length];
      if (!org) continue;
      const user = org.users[sv.user % org.users.length];
      if (!user) continue;
      const partner = whoOf(org, user);
      if (partner.kind !== 'partner') continue;
      const who: Who = sv.provider ? { kind: 'provider' } : partner;
      const principal: Principal = {
        id: `user:${user.name}`,
        kind: 'user',
        orgId: org.id,
        orgKind: 'partner',
        roles: [user.role],
        codes: [...partner.codes],
        clearance:
          partner.rank === null
            ? []
            : [{ policy: 'NATO', classification: CLASSIFICATIONS[partner.rank] as string }],
        caveats: [...partner.caveats],
        credential: 'test',
      };
      const scope = sv.provider ? ALL : scopeOf(principal, rules);
      const [filterText, filterModel] = FILTERS[sv.filter] as (typeof FILTERS)[number];
      const [aw, as, ae, an] = sv.whole
        ? [-30.5, -30.5, 30.5, 30.5]
        : [sv.w + 0.5, sv.s + 0.5, sv.w + sv.dw + 0.5, sv.s + sv.dh + 0.5];
      const ring = [
        [aw, as],
        [ae, as],
        [ae, an],
        [aw, an],
        [aw, as],
      ];
      const input = validateSubscriptionInput({
        area: { type: 'Polygon', coordinates: sv.whole ? box(0, 0, 1) : [ring] },
        eventTypes: sv.types,
        filter: filterText,
      });
      const sub = {
        ...input,
        area: { type: 'Polygon', coordinates: [ring] },
        id: `s${k}`,
        orgId: org.id,
        principalId: principal.id,
        disabledReason: null,
        name: null,
        webhookUrl: null,
        secrets: [],
        state: sv.state,
        createdAt: iso(0),
        updatedAt: iso(0),
      } as Subscription;
      for (const [n, it] of world.items.entries()) {
        const [w, s, e, nn] = it.box;
        const doc = itemDoc(it);
        const ev: AlertEvent = {
          id: `1-${n}`,
          outboxSeq: 1,
          index: n,
          type: 'item.published',
          time: iso(Date.now()),
          collection: it.collection,
          itemId: it.id,
          geometry: doc.geometry as AlertEvent['geometry'],
          properties: doc.properties as Record<string, unknown>,
          data: {},
        };
        const got = await visibleAndMatching(store, sub, ev, scope);
        const sees = seesItem(who, world, it, Date.now());
        const overlaps = w < ae && aw < e && s < an && as < nn;
        const want =
          sv.state === 'active' && sv.types.includes('item.published') && overlaps && filterModel(it) && sees;
        expect(
          got,
          `${it.collection}/${it.id} for ${principal.id} of ${org.id}, sub ${JSON.stringify(sv)}`,
        ).toBe(want);
        if (got && !sees) throw new Error('admitted an item the scope cannot see');
        checked++;
        if (got) admitted++;
        if (sees) visible++;
        if (sees && !sv.provider) partnerVisible++;
        if (got && !sv.provider) partnerAdmitted++;
      }
    }
  }
});
