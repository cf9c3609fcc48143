/**
 * Does an event match a subscription? Two steps. `matches` (pure, in memory): the subscription is
 * active, takes the event's type, its area intersects the event's geometry, and the type's options
 * hold (darkOnly: the vessel's `dark` is true; minAreaM2 and minAbsDb on the change area's
 * `area_m2` and `mean_db`). `visibleAndMatching` then asks the catalog: a search for the event's
 * item with the subscription's CQL2 filter under the subscriber's scope returns the item or
 * nothing, so the filter and who may see the item are both decided inside the store's SQL (access
 * is a scope). An item the scope cannot see never matches.
 */
import booleanIntersects from '@turf/boolean-intersects';
import type { Scope } from '../access/scope.js';
import type { Cql2Expr } from '../catalog/cql2/ast.js';
import type { CatalogStore } from '../catalog/store.js';
import { checkFilter, type Subscription } from './subscription.js';
import type { AlertEvent } from './types.js';

/** The in-memory part: state, type, area, options (no filter, no visibility). */
export function matches(sub: Subscription, ev: AlertEvent): boolean {
  if (sub.state !== 'active') return false;
  if (!sub.eventTypes.includes(ev.type)) return false;
  if (!optionsHold(sub, ev)) return false;
  return areaIntersects(sub, ev);
}

export function optionsHold(sub: Subscription, ev: AlertEvent): boolean {
  const o = sub.options;
  const p = ev.properties;
  if (ev.type === 'vessel.detected' && o.darkOnly && p.dark !== true) return false;
  if (ev.type === 'change.detected') {
    if (o.minAreaM2 !== undefined && !(typeof p.area_m2 === 'number' && p.area_m2 >= o.minAreaM2))
      return false;
    if (o.minAbsDb !== undefined && !(typeof p.mean_db === 'number' && Math.abs(p.mean_db) >= o.minAbsDb))
      return false;
  }
  return true;
}

export function areaIntersects(sub: Subscription, ev: AlertEvent): boolean {
  if (ev.geometry === null) return false;
  try {
    return booleanIntersects(sub.area as never, ev.geometry as never);
  } catch {
    return false;
  }
}

const filterCache = new WeakMap<Subscription, Cql2Expr | undefined>();

/** The subscription's filter as the catalog takes it (parsed once per subscription object). */
export function filterOf(sub: Subscription): Cql2Expr | undefined {
  if (!filterCache.has(sub)) filterCache.set(sub, checkFilter(sub.filter, sub.filterLang).expr);
  return filterCache.get(sub);
}

/** The catalog part: the event's item, with the subscription's filter, under `scope`. */
export async function itemVisibleWithFilter(
  store: CatalogStore,
  sub: Subscription,
  ev: AlertEvent,
  scope: Scope,
): Promise<boolean> {
  if (scope.kind === 'none') return false;
  const page = await store.search(
    {
      ids: [ev.itemId],
      collections: [ev.collection],
      filter: filterOf(sub),
      sortby: [],
      limit: 1,
      fields: { include: ['id', 'collection'], exclude: [] },
    },
    scope,
  );
  return page.items.some((it) => it.id === ev.itemId && it.collection === ev.collection);
}

/** Both parts: what delivery and the stream ask before sending an event to a subscriber. */
export async function visibleAndMatching(
  store: CatalogStore,
  sub: Subscription,
  ev: AlertEvent,
  scope: Scope,
): Promise<boolean> {
  return matches(sub, ev) && (await itemVisibleWithFilter(store, sub, ev, scope));
}

/** The active subscriptions an event matches in memory (the catalog check follows per subscriber). */
export function matchingSubscriptions(subs: readonly Subscription[], ev: AlertEvent): Subscription[] {
  return subs.filter((s) => matches(s, ev));
}
