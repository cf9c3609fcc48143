import fc from 'fast-check';

/**
 * A plain reference of sarbridge's label rules and random "worlds" (partner organisations, users,
 * collections and items) for the access property test. Nothing here imports the access code: the
 * expectation is computed from the rules as written in the issue, not from the SQL.
 */

/** The NATO scale, lowest first. */
export const CLASSIFICATIONS = ['UNCLASSIFIED', 'RESTRICTED', 'CONFIDENTIAL', 'SECRET', 'TOP SECRET'];
/** Releasability codes of labels; USA is held by organisations only sometimes. */
export const CODES = ['GBR', 'FRA', 'DEU', 'NATO', 'FVEY', 'USA'];
export const CAVEATS = ['ALPHA', 'BRAVO', 'CHARLIE'];
export const PLATFORMS = ['s1a', 's1b', 'iceye'];
/** Times of items are whole hours from T0; query bounds are half hours, so no bound ties. */
export const T0 = Date.parse('2024-01-01T00:00:00Z');
export const HOUR = 3_600_000;
export const SPAN_H = 24 * 60;

/** A label as the model reads it: rank, the union of Releasable To codes, the union of caveats. */
export interface ModelLabel {
  rank: number;
  codes: string[];
  caveats: string[];
  /** The document as written to the API (categories in random order, duplicates, empty ones). */
  doc: { policy: string; classification: string; categories: unknown[] };
}

export interface ModelOrg {
  id: string;
  codes: string[];
  /** NATO clearance rank, or null: no clearance. */
  rank: number | null;
  caveats: string[];
  users: ModelUser[];
}

export interface ModelUser {
  name: string;
  role: 'partner-admin' | 'partner-analyst';
  /** What the user is given: the org's clearance (inherit), none ([]), or a rank at most the org's. */
  clearance: { kind: 'inherit' } | { kind: 'none' } | { kind: 'rank'; rank: number };
  /** Caveats given (a subset of the org's), or null: the org's. */
  caveats: string[] | null;
}

export interface ModelCollection {
  id: string;
  label: ModelLabel | null;
}

export interface ModelItem {
  collection: string;
  id: string;
  label: ModelLabel | null;
  /** Archive hold in ms, or null. */
  holdMs: number | null;
  /** Footprint [w, s, e, n] on whole degrees. */
  box: [number, number, number, number];
  startMs: number;
  endMs: number;
  /** dt instant or a range. */
  range: boolean;
  platform: string | null;
  orbit: number;
}

export interface World {
  orgs: ModelOrg[];
  collections: ModelCollection[];
  items: ModelItem[];
}

/** What a caller is, as the rules see it. */
export type Who =
  | { kind: 'anonymous' }
  | { kind: 'provider' }
  | { kind: 'partner'; orgId: string; codes: Set<string>; rank: number | null; caveats: Set<string> };

/** The partner a user is: its org's codes, the lesser clearance and caveats. */
export function whoOf(org: ModelOrg, u: ModelUser): Who {
  const rank =
    u.clearance.kind === 'inherit' ? org.rank : u.clearance.kind === 'none' ? null : u.clearance.rank;
  const caveats = u.caveats ?? org.caveats;
  return { kind: 'partner', orgId: org.id, codes: new Set(org.codes), rank, caveats: new Set(caveats) };
}

/** Clearance of the policy at least the label's, a code in common, every caveat held. */
export function satisfies(w: Who, l: ModelLabel | null): boolean {
  if (w.kind === 'provider') return true;
  if (w.kind !== 'partner' || l === null || w.rank === null) return false;
  return l.rank <= w.rank && l.codes.some((c) => w.codes.has(c)) && l.caveats.every((c) => w.caveats.has(c));
}

export function seesCollection(w: Who, c: ModelCollection | undefined): boolean {
  if (c === undefined) return false;
  if (w.kind === 'provider') return true;
  return c.label !== null && satisfies(w, c.label);
}

export function seesItem(w: Who, world: World, it: ModelItem, nowMs: number): boolean {
  if (w.kind === 'provider') return true;
  const c = world.collections.find((x) => x.id === it.collection);
  if (!seesCollection(w, c)) return false;
  return satisfies(w, it.label ?? (c as ModelCollection).label) && (it.holdMs === null || it.holdMs <= nowMs);
}

/** The label an item effectively carries (its own, else its collection's). */
export function effectiveLabel(world: World, it: ModelItem): ModelLabel | null {
  return it.label ?? world.collections.find((c) => c.id === it.collection)?.label ?? null;
}

const labelArb: fc.Arbitrary<ModelLabel> = fc
  .record({
    cls: fc.integer({ min: 0, max: 4 }),
    // Several Releasable To / Caveat categories are merged; values may repeat; a category may be empty.
    rel: fc.array(fc.array(fc.constantFrom(...CODES), { maxLength: 3 }), { minLength: 0, maxLength: 2 }),
    cav: fc.array(fc.array(fc.constantFrom(...CAVEATS), { maxLength: 2 }), { maxLength: 2 }),
    admin: fc.option(fc.constantFrom('EXERCISE', 'PROJECT X'), { nil: undefined }),
    order: fc.nat(),
  })
  .map(({ cls, rel, cav, admin, order }) => {
    const cats: unknown[] = [
      ...rel.map((values) => ({ tagName: 'Releasable To', type: 'permissive', values })),
      ...cav.map((values) => ({ tagName: 'Caveat', type: 'restrictive', values })),
      ...(admin ? [{ tagName: 'Administrative', type: 'informative', values: [admin] }] : []),
    ];
    // A deterministic rotation of the categories, so their order varies.
    const k = cats.length ? order % cats.length : 0;
    return {
      rank: cls,
      codes: [...new Set(rel.flat())],
      caveats: [...new Set(cav.flat())],
      doc: {
        policy: 'NATO',
        classification: CLASSIFICATIONS[cls],
        categories: [...cats.slice(k), ...cats.slice(0, k)],
      },
    };
  });

const userArb = fc.record({
  role: fc.constantFrom<'partner-analyst'>('partner-analyst'),
  clearance: fc.oneof(
    { weight: 3, arbitrary: fc.constant({ kind: 'inherit' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 4 }).map((rank) => ({ kind: 'rank' as const, rank })) },
  ),
  caveats: fc.option(fc.subarray(CAVEATS), { nil: null }),
});

const orgArb = fc.record({
  codes: fc.subarray(CODES, { minLength: 0, maxLength: 3 }),
  rank: fc.option(fc.integer({ min: 0, max: 4 }), { nil: null, freq: 8 }),
  caveats: fc.subarray(CAVEATS),
  analysts: fc.array(userArb, { minLength: 1, maxLength: 3 }),
});

const itemArb = fc.record({
  coll: fc.nat(),
  label: fc.option(labelArb, { nil: null }),
  hold: fc.oneof(
    { weight: 4, arbitrary: fc.constant(null) },
    // Days in the past or the future: far from the request time.
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 900 }).map((d) => -d) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 900 }) },
  ),
  w: fc.integer({ min: -20, max: 19 }),
  s: fc.integer({ min: -20, max: 19 }),
  dw: fc.integer({ min: 1, max: 6 }),
  dh: fc.integer({ min: 1, max: 6 }),
  startH: fc.integer({ min: 0, max: SPAN_H }),
  lenH: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 72 })),
  platform: fc.option(fc.constantFrom(...PLATFORMS), { nil: null, freq: 5 }),
  orbit: fc.integer({ min: 1, max: 20 }),
  reuseId: fc.option(fc.nat(), { nil: null, freq: 8 }),
});

/**
 * A random world: 5 partner organisations with codes, clearances and caveats, an admin and 1-3
 * analysts each (some holding less than their organisation), 2-4 collections with labels or none,
 * and `minItems`-`maxItems` items with labels or none, holds past or future, footprints and times.
 */
export function worldArb(minItems: number, maxItems: number, nowMs: number): fc.Arbitrary<World> {
  return fc
    .record({
      orgs: fc.array(orgArb, { minLength: 5, maxLength: 5 }),
      collections: fc.array(fc.option(labelArb, { nil: null, freq: 4 }), { minLength: 2, maxLength: 4 }),
      items: fc.array(itemArb, { minLength: minItems, maxLength: maxItems }),
    })
    .map(({ orgs, collections, items }) => {
      const mOrgs: ModelOrg[] = orgs.map((o, k) => ({
        id: `org${k}`,
        codes: o.codes,
        rank: o.rank,
        caveats: o.caveats,
        users: [
          { name: `admin${k}`, role: 'partner-admin', clearance: { kind: 'inherit' }, caveats: null },
          ...o.analysts.map((u, j) => ({
            name: `analyst${k}-${j}`,
            role: u.role,
            // A user can be given at most its organisation's clearance and caveats.
            clearance:
              u.clearance.kind === 'rank'
                ? o.rank === null
                  ? ({ kind: 'none' } as const)
                  : { kind: 'rank' as const, rank: Math.min(u.clearance.rank, o.rank) }
                : u.clearance,
            caveats: u.caveats === null ? null : u.caveats.filter((c) => o.caveats.includes(c)),
          })),
        ],
      }));
      const mColls: ModelCollection[] = collections.map((label, k) => ({ id: `coll-${k}`, label }));
      const mItems: ModelItem[] = [];
      items.forEach((it, k) => {
        const collection = mColls[it.coll % mColls.length].id;
        let id = `it${String(k).padStart(4, '0')}`;
        // Some ids repeat in another collection (ids are unique per collection only).
        if (it.reuseId !== null && mItems.length > 0) {
          const other = mItems[it.reuseId % mItems.length];
          if (!mItems.some((x) => x.collection === collection && x.id === other.id)) id = other.id;
        }
        const startMs = T0 + it.startH * HOUR;
        mItems.push({
          collection,
          id,
          label: it.label,
          holdMs: it.hold === null ? null : nowMs + it.hold * 86_400_000,
          box: [it.w, it.s, it.w + it.dw, it.s + it.dh],
          startMs,
          endMs: startMs + it.lenH * HOUR,
          range: it.lenH > 0,
          platform: it.platform,
          orbit: it.orbit,
        });
      });
      return { orgs: mOrgs, collections: mColls, items: mItems };
    });
}

/** A query as the test sends it. */
export interface ModelQuery {
  principal: number;
  method: 'GET' | 'POST';
  /** null: /search; otherwise /collections/{collections[k]}/items (k may name a missing one). */
  itemsOf: number | null;
  bbox: [number, number, number, number] | null;
  datetime: { start: number | null; end: number | null } | null;
  collections: number[] | null;
  ids: number[] | null;
  filter:
    | { prop: 'platform'; value: string }
    | { prop: 'sat:relative_orbit'; op: '<' | '>='; value: number }
    | null;
  sortby: { field: 'datetime' | 'id' | 'sat:relative_orbit' | 'platform'; direction: 'asc' | 'desc' } | null;
  limit: number;
}

const half = (lo: number, hi: number) => fc.integer({ min: lo, max: hi }).map((v) => v + 0.5);

export const queryArb: fc.Arbitrary<ModelQuery> = fc.record({
  principal: fc.nat(),
  method: fc.constantFrom<'GET' | 'POST'>('GET', 'POST'),
  itemsOf: fc.option(fc.integer({ min: 0, max: 4 }), { nil: null, freq: 3 }),
  bbox: fc.option(
    fc
      .tuple(half(-25, 24), half(-25, 24), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 30 }))
      .map(([w, s, dw, dh]) => [w, s, w + dw, s + dh] as [number, number, number, number]),
    { nil: null, freq: 2 },
  ),
  datetime: fc.option(
    fc
      .tuple(
        fc.option(fc.integer({ min: -10, max: SPAN_H })),
        fc.integer({ min: 0, max: SPAN_H }),
        fc.boolean(),
      )
      .map(([a, len, open]) => ({
        start: a === null ? null : a + 0.5,
        end: open ? null : (a ?? 0) + len + 0.5,
      })),
    { nil: null, freq: 2 },
  ),
  collections: fc.option(fc.uniqueArray(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 3 }), {
    nil: null,
    freq: 3,
  }),
  ids: fc.option(fc.uniqueArray(fc.nat(), { minLength: 1, maxLength: 8 }), { nil: null, freq: 4 }),
  filter: fc.option(
    fc.oneof(
      fc.constantFrom(...PLATFORMS).map((value) => ({ prop: 'platform' as const, value })),
      fc
        .tuple(fc.constantFrom<'<' | '>='>('<', '>='), fc.integer({ min: 1, max: 21 }))
        .map(([op, value]) => ({ prop: 'sat:relative_orbit' as const, op, value })),
    ),
    { nil: null, freq: 2 },
  ),
  sortby: fc.option(
    fc.record({
      field: fc.constantFrom<'datetime' | 'id' | 'sat:relative_orbit' | 'platform'>(
        'datetime',
        'id',
        'sat:relative_orbit',
        'platform',
      ),
      direction: fc.constantFrom<'asc' | 'desc'>('asc', 'desc'),
    }),
    { nil: null },
  ),
  limit: fc.oneof(fc.integer({ min: 1, max: 6 }), fc.constantFrom(10, 40, 200)),
});

/** Whether a model item matches a query's own conditions (scope aside). */
export function matchesQuery(q: ModelQuery, world: World, it: ModelItem, collectionIds: string[]): boolean {
  if (q.itemsOf !== null && it.collection !== collectionIds[q.itemsOf]) return false;
  if (q.collections && !q.collections.some((k) => collectionIds[k] === it.collection)) return false;
  if (q.ids && !q.ids.some((k) => world.items[k % world.items.length].id === it.id)) return false;
  if (q.bbox) {
    const [w, s, e, n] = q.bbox;
    const [iw, is, ie, inn] = it.box;
    if (!(iw <= e && ie >= w && is <= n && inn >= s)) return false;
  }
  if (q.datetime) {
    const { start, end } = q.datetime;
    if (start !== null && it.endMs < T0 + start * HOUR) return false;
    if (end !== null && it.startMs > T0 + end * HOUR) return false;
  }
  const f = q.filter;
  if (f?.prop === 'platform' && it.platform !== f.value) return false;
  if (f?.prop === 'sat:relative_orbit' && !(f.op === '<' ? it.orbit < f.value : it.orbit >= f.value))
    return false;
  return true;
}
